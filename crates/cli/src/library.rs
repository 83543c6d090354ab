//! `matter`, `ingest`, `docs` and `search`: thin adapters over `lexdesk-service` with the real
//! embedding model and LanceDB store.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use lexdesk_core::ErrorCode;
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::{DocumentStatus, SearchMode};
use lexdesk_desk::{FileOutcome, IngestEvent, ReembedEvent, SearchRequest};
use serde::{Deserialize, Serialize};

use crate::output::{Out, json};
use crate::{Ctx, exit};

#[derive(Debug, Subcommand)]
pub enum MatterCommand {
    /// Create a matter
    Create {
        /// Its name (unique)
        name: String,
    },
    /// List matters with their document counts
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Rename a matter
    Rename {
        /// Current name (or id)
        name: String,
        /// New name
        new_name: String,
    },
    /// Delete a matter and everything in it
    Delete {
        /// Name (or id)
        name: String,
    },
    /// Re-embed a matter with the configured embedding model (or --embed-model): its stored
    /// pages are chunked and embedded again into a new index that replaces the old one when
    /// complete; nothing is extracted again and no document is lost. Ctrl-C stops it; running
    /// it again resumes.
    Reembed {
        /// Name (or id)
        name: String,
        /// Embedding model (path or file name) [default: config / LEXDESK_EMBED_MODEL]
        #[arg(long)]
        embed_model: Option<String>,
        /// Print JSON lines (progress events, then the summary)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The matter (name or id); created if it does not exist
    #[arg(long, short = 'M')]
    matter: String,
    /// Embedding model (path or file name) [default: config / LEXDESK_EMBED_MODEL]
    #[arg(long)]
    embed_model: Option<String>,
    /// Do not OCR pages without a text layer
    #[arg(long)]
    no_ocr: bool,
    /// Seconds allowed per PDF
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print progress events and the summary as JSON lines
    #[arg(long)]
    json: bool,
    /// Commit to the store after this many documents (default 200)
    #[arg(long, hide = true)]
    batch_documents: Option<usize>,
    /// Files and folders (searched recursively)
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The matter (name or id)
    #[arg(long, short = 'M')]
    matter: String,
    /// Remove this document (file name, path or id) with its pages and chunks
    #[arg(long, value_name = "DOC")]
    remove: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The matter (name or id)
    #[arg(long, short = 'M')]
    matter: String,
    /// Only this document (file name, path or id)
    #[arg(long)]
    doc: Option<String>,
    /// Results
    #[arg(long, short = 'k', default_value_t = 10)]
    top_k: usize,
    /// hybrid, vector or text
    #[arg(long, default_value = "hybrid")]
    mode: SearchMode,
    /// Weight of vector scores in hybrid search, 0–1 (text gets the rest) [default: 0.5]
    #[arg(long, value_name = "W")]
    vector_weight: Option<f32>,
    /// Rerank the candidates with the language model: on or off [default: `[retrieval] rerank`]
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    rerank: Option<bool>,
    /// Embedding model for a matter without passages yet (a matter searches with the model it was built with)
    #[arg(long)]
    embed_model: Option<String>,
    /// Run the questions of a JSON-lines file (`id`, `question`, optional `doc`); one JSON line out per question
    #[arg(long, value_name = "FILE", conflicts_with = "query")]
    batch: Option<PathBuf>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// The query
    #[arg(required_unless_present = "batch")]
    query: Option<String>,
}

pub async fn matter(ctx: &Ctx, out: &mut Out, command: &MatterCommand) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    match command {
        MatterCommand::Create { name } => {
            let created = desk.matters().create(name)?;
            out.line(format!("created matter `{}` ({})", created.name, created.id))?;
        }
        MatterCommand::List { json: as_json } => {
            #[derive(Serialize)]
            struct Row {
                id: String,
                name: String,
                created_at_ms: i64,
                path: PathBuf,
                embedder: lexdesk_desk::MatterEmbedder,
            }
            let mut rows = Vec::new();
            for x in desk.matters().list()? {
                let embedder = desk.matters().embedder(&x.id).await?;
                rows.push(Row {
                    path: x.dir.clone(),
                    id: x.id,
                    name: x.name,
                    created_at_ms: x.created_at_ms,
                    embedder,
                });
            }
            if *as_json {
                json(out, &rows)?;
            } else if rows.is_empty() {
                eprintln!("no matters yet: `lexdesk matter create NAME` or `lexdesk ingest --matter NAME FILES…`");
            } else {
                for r in rows {
                    let model = match &r.embedder.built_with {
                        Some(m) if r.embedder.current => m.display_name(),
                        Some(m) => format!(
                            "{} (configured: {}; `lexdesk matter reembed \"{}\"`)",
                            m.display_name(),
                            r.embedder.configured,
                            r.name
                        ),
                        None => "no passages yet".into(),
                    };
                    out.line(format!("{}\t{}\t{model}", r.name, r.id))?;
                }
            }
        }
        MatterCommand::Rename { name, new_name } => {
            let renamed = desk.matters().rename(name, new_name)?;
            out.line(format!("renamed to `{}`", renamed.name))?;
        }
        MatterCommand::Delete { name } => {
            let deleted = desk.matters().find(name)?;
            desk.matters().delete(&deleted.id)?;
            out.line(format!("deleted matter `{}`", deleted.name))?;
        }
        MatterCommand::Reembed { name, embed_model, json: as_json } => {
            return reembed(ctx, out, name, embed_model.as_deref(), *as_json).await;
        }
    }
    Ok(0)
}

async fn reembed(ctx: &Ctx, out: &mut Out, name: &str, embed_model: Option<&str>, as_json: bool) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, embed_model)?;
    let matter = desk.matters().find(name)?;
    let before = desk.matters().embedder(&matter.id).await?;
    let cancel = CancelToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the current document (run it again to resume)…");
            on_ctrl_c.cancel();
        }
    });
    let target = ProgressDrawTarget::stderr();
    let bar = ProgressBar::with_draw_target(Some(0), if as_json { ProgressDrawTarget::hidden() } else { target })
        .with_style(bar_style())
        .with_prefix("documents");
    let summary = desk
        .documents(&matter.id)
        .reembed(&cancel, &mut |event| {
            if as_json {
                if let Ok(s) = serde_json::to_string(&event) {
                    let mut stdout = std::io::stdout().lock();
                    let _ignored = writeln!(stdout, "{s}").and_then(|()| stdout.flush());
                }
                return;
            }
            match event {
                ReembedEvent::Started { documents, resumed } => {
                    bar.set_length(documents as u64);
                    bar.set_position(resumed as u64);
                }
                ReembedEvent::Document { index, file_name, chunks, .. } => {
                    bar.inc(1);
                    bar.set_message(format!("{file_name}: {chunks} chunks ({index})"));
                }
            }
        })
        .await;
    bar.finish_and_clear();
    let summary = summary?;
    let after = desk.matters().embedder(&matter.id).await?;
    if as_json {
        let line = serde_json::json!({ "event": "summary", "summary": summary, "embedder": after });
        out.line(serde_json::to_string(&line)?)?;
    } else if summary.documents == 0 && !summary.cancelled {
        let model = after.built_with.as_ref().map_or_else(|| after.configured.clone(), |m| m.display_name());
        let was = before.built_with.as_ref().map(lexdesk_desk::EmbedderRecord::display_name);
        match was {
            Some(w) if before.current => eprintln!("matter `{}` is already embedded with {w}", matter.name),
            _ => eprintln!("matter `{}` has no passages yet; it will be embedded with {model}", matter.name),
        }
    } else {
        let model = after.built_with.as_ref().map_or_else(String::new, lexdesk_desk::EmbedderRecord::display_name);
        eprintln!(
            "{} documents: {} re-embedded ({} chunks), {} from an earlier run, {} failed ones carried over, in {:.1} s{}",
            summary.documents,
            summary.reembedded,
            summary.chunks,
            summary.resumed,
            summary.failed,
            summary.seconds,
            if summary.cancelled {
                format!("; stopped: matter `{}` still uses its old model until it is run again", matter.name)
            } else {
                format!("; matter `{}` now uses {model}", matter.name)
            }
        );
    }
    Ok(if summary.cancelled { 130 } else { 0 })
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>9.bold} [{bar:30}] {pos}/{len} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

pub async fn ingest_cmd(ctx: &Ctx, out: &mut Out, args: &IngestArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, args.embed_model.as_deref())?.with_ingest_settings(lexdesk_desk::IngestSettings {
        ocr: !args.no_ocr,
        pdf_timeout: std::time::Duration::from_secs(args.timeout),
        write_documents: args.batch_documents,
    });
    let matter = match desk.matters().find(&args.matter) {
        Ok(x) => x,
        Err(e) if e.code() == "MATTER_NOT_FOUND" => {
            let created = desk.matters().create(&args.matter)?;
            eprintln!("created matter `{}`", created.name);
            created
        }
        Err(e) => return Err(e.into()),
    };
    // The desk takes absolute paths (what the desktop drops); relative ones are the working
    // directory's.
    let paths = args.paths.iter().map(std::path::absolute).collect::<Result<Vec<_>, _>>()?;
    let cancel = CancelToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the current file…");
            on_ctrl_c.cancel();
        }
    });

    let multi = MultiProgress::with_draw_target(if args.json {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let interactive = !multi.is_hidden();
    let files = multi.add(ProgressBar::new(0).with_style(bar_style()).with_prefix("files"));
    let pages = multi.add(ProgressBar::new(0).with_style(bar_style()).with_prefix("embedding"));
    let params = lexdesk_desk::IngestParams::Paths(paths);
    let summary = desk
        .documents(&matter.id)
        .ingest(&params, &cancel, &mut |event| {
            if args.json {
                // One line per event, flushed at once: other programs follow the progress live.
                if let Ok(s) = serde_json::to_string(&event) {
                    let mut stdout = std::io::stdout().lock();
                    let _ignored = writeln!(stdout, "{s}").and_then(|()| stdout.flush());
                }
                return;
            }
            let report = |line: String| {
                if interactive {
                    multi.suspend(|| eprintln!("{line}"));
                } else {
                    eprintln!("{line}");
                }
            };
            match event {
                IngestEvent::Started { files: n } => files.set_length(n as u64),
                IngestEvent::Extracted { path, pages: p, .. } => {
                    pages.set_length(u64::from(p));
                    pages.set_position(0);
                    pages.set_message(path.display().to_string());
                }
                IngestEvent::Embedding { pages_done, .. } => pages.set_position(u64::from(pages_done)),
                IngestEvent::File { index, path, outcome } => {
                    files.set_position(index as u64);
                    let what = match outcome {
                        FileOutcome::Indexed { pages: p, ocr_pages, chunks, .. } => {
                            format!("{p} pages ({ocr_pages} OCR), {chunks} chunks")
                        }
                        FileOutcome::AlreadyIndexed { existing, .. } => {
                            format!("already in the matter (as {existing})")
                        }
                        FileOutcome::Failed { code, message } => format!("error[{code}]: {message}"),
                        FileOutcome::Skipped { reason } => format!("skipped ({reason})"),
                    };
                    report(format!("[{index}/{}] {}: {what}", files.length().unwrap_or(0), path.display()));
                }
                IngestEvent::Committed { .. } => {}
                IngestEvent::Optimizing => pages.set_message("updating the search indexes…"),
            }
        })
        .await;
    files.finish_and_clear();
    pages.finish_and_clear();
    let summary = summary?;
    if args.json {
        out.line(serde_json::to_string(&serde_json::json!({ "event": "summary", "summary": summary }))?)?;
    } else {
        for f in &summary.failed {
            eprintln!("failed: {}: error[{}]: {}", f.path.display(), f.code, f.message);
        }
        eprintln!(
            "{} files: {} indexed, {} already in the matter, {} failed, {} skipped; {} pages ({} OCR), {} chunks, {} tokens embedded in {:.1} s ({:.1} pages/s, {:.0} tokens/s embedding)",
            summary.files,
            summary.indexed,
            summary.already_indexed,
            summary.failed.len(),
            summary.skipped,
            summary.pages,
            summary.ocr_pages,
            summary.chunks,
            summary.tokens,
            summary.seconds,
            summary.pages_per_second,
            if summary.embed_seconds > 0.0 { summary.tokens as f64 / summary.embed_seconds } else { 0.0 },
        );
        if let Some(v) = &summary.vector_index {
            eprintln!(
                "matter `{}`: {} chunks, vector search {}{}",
                matter.name,
                v.chunks,
                v.method,
                v.recall_at_10.map(|r| format!(" (recall@10 {r:.3})")).unwrap_or_default()
            );
        }
    }
    Ok(if summary.cancelled {
        exit::CANCELLED
    } else if summary.failed.is_empty() {
        0
    } else {
        exit::DOCUMENT
    })
}

pub async fn docs(ctx: &Ctx, out: &mut Out, args: &DocsArgs) -> anyhow::Result<u8> {
    // Through the desk: removal waits for the matter's ingestion queue, as in the desktop app.
    let desk = ctx.desk(None, None)?;
    let matter = desk.matters().find(&args.matter)?;
    if let Some(doc) = &args.remove {
        for d in desk.documents(&matter.id).find(doc).await? {
            desk.documents(&matter.id).remove(&d.id).await?;
            out.line(format!("removed {} ({} pages, {} chunks)", d.source_path, d.page_count, d.chunk_count))?;
        }
        return Ok(0);
    }
    let docs = desk.documents(&matter.id).list().await?;
    if args.json {
        json(out, &docs)?;
    } else if docs.is_empty() {
        eprintln!("matter `{}` has no documents yet: `lexdesk ingest --matter {:?} FILES…`", matter.name, matter.name);
    } else {
        for d in &docs {
            let status = match d.status {
                DocumentStatus::Indexed => {
                    format!("{} pages, {} OCR, {} chunks", d.page_count, d.ocr_pages, d.chunk_count)
                }
                DocumentStatus::Failed => format!(
                    "FAILED [{}] {}",
                    d.error_code.as_deref().unwrap_or("?"),
                    d.error_message.as_deref().unwrap_or("")
                ),
                DocumentStatus::Ingesting => "being ingested".into(),
            };
            out.line(format!("{}\t{}\t{}\t{}", &d.id[..12.min(d.id.len())], d.file_name, status, d.title))?;
        }
    }
    Ok(0)
}

#[derive(Debug, Deserialize)]
struct BatchQuestion {
    id: serde_json::Value,
    question: String,
    #[serde(default)]
    doc: Option<String>,
}

#[derive(Debug, Serialize)]
struct BatchHit<'a> {
    doc: &'a str,
    source: &'a str,
    page: Option<u32>,
    heading: &'a str,
    text: &'a str,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector_score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rerank_score: Option<f32>,
}

pub async fn search(ctx: &Ctx, out: &mut Out, args: &SearchArgs) -> anyhow::Result<u8> {
    // Through the desk, embedding with the desk's embedding model (or `--embed-model`).
    let desk = ctx.desk(None, args.embed_model.as_deref())?;
    let matter = desk.matters().find(&args.matter)?;
    let paged: std::collections::HashSet<String> = desk
        .documents(&matter.id)
        .list()
        .await?
        .into_iter()
        .filter(lexdesk_core::store::DocumentRecord::has_pages)
        .map(|d| d.id)
        .collect();
    let request = |query: String, doc: Option<String>| SearchRequest {
        query,
        mode: args.mode,
        top_k: args.top_k,
        doc,
        vector_weight: args.vector_weight,
        rerank: args.rerank,
    };
    if let Some(batch) = &args.batch {
        let file = std::fs::File::open(batch).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", batch.display()))?;
        let mut questions = Vec::new();
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let q: BatchQuestion = serde_json::from_str(&line)
                .map_err(|e| anyhow::anyhow!("{}:{}: not a question line: {e}", batch.display(), n + 1))?;
            questions.push((n + 1, q));
        }
        let requests: Vec<_> = questions.iter().map(|(_, q)| request(q.question.clone(), q.doc.clone())).collect();
        let results = desk.documents(&matter.id).search_batch(&requests).await?;
        for ((line, q), result) in questions.iter().zip(results) {
            let hits = match result {
                Ok(h) => h,
                // a line naming no document of the matter gets no hits; the others go on
                Err(e) if e.code() == "DOCUMENT_NOT_FOUND" => {
                    eprintln!("{}:{line}: {e}", batch.display());
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            };
            let hits: Vec<BatchHit<'_>> = hits
                .iter()
                .map(|h| BatchHit {
                    doc: &h.doc,
                    source: &h.source,
                    page: paged.contains(&h.doc_id).then_some(h.page),
                    heading: &h.heading,
                    text: &h.text,
                    score: h.score,
                    vector_score: h.vector_score,
                    rerank_score: h.rerank_score,
                })
                .collect();
            out.line(serde_json::to_string(&serde_json::json!({ "id": q.id, "hits": hits }))?)?;
        }
        return Ok(0);
    }
    let hits =
        desk.documents(&matter.id).search(&request(args.query.clone().unwrap_or_default(), args.doc.clone())).await?;
    if args.json {
        json(out, &hits)?;
    } else if hits.is_empty() {
        eprintln!("no results");
    } else {
        for (i, h) in hits.iter().enumerate() {
            let page = if paged.contains(&h.doc_id) {
                if h.page_end > h.page {
                    format!(" pp. {}–{}", h.page, h.page_end)
                } else {
                    format!(" p. {}", h.page)
                }
            } else {
                String::new()
            };
            out.line(format!("[{}] {}{page} — {} (score {:.3})", i + 1, h.doc, h.heading, h.score))?;
            out.line(format!("    {}", h.text.replace('\n', "\n    ")))?;
        }
    }
    Ok(0)
}
