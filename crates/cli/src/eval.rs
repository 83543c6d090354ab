//! `eval`: gold sets (`sets list|show|check|import|export|remove`), runs (`run`, `resume`,
//! `list`, `show`, `delete`), the LLM judge (`judge`), comparisons (`compare`) and exports
//! (`export`). A thin adapter
//! over `desk.evals()`. A run or report whose citation honesty is below 100 % exits with
//! [`exit::DISHONEST`].

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::SearchMode;
use lexdesk_desk::{
    AnswerMode, EvalExportFormat, EvalParams, JudgeProgress, Metric, MetricUnit, RunEvent, RunReport, RunStatus,
};
use serde::Serialize;

use crate::output::{Out, json};
use crate::{Ctx, exit};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Gold sets: list, show, check a file, import, export, remove
    Sets {
        #[command(subcommand)]
        command: Option<SetsCommand>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a gold set against the configured models (and a matter); resumable
    Run(RunArgs),
    /// Resume a run stopped by Ctrl-C, an error or a crash (only unfinished items are answered)
    Resume {
        /// The run (id or unique prefix)
        run: String,
        /// Items answered at once (the chat model's parallel sequences)
        #[arg(long)]
        parallel: Option<u32>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the runs, newest first
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a run's metrics (with 95 % intervals), per tag, and optionally every item
    Show {
        /// The run (id or unique prefix)
        run: String,
        /// Also list every item with its verdicts
        #[arg(long)]
        items: bool,
        /// Print the whole report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Compare runs on the same set, the first as the baseline (paired bootstrap, McNemar)
    Compare {
        /// Two or more runs
        #[arg(required = true, num_args = 2..)]
        runs: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Export a run (or, with several, their comparison) as CSV, JSON, XLSX or a self-contained HTML report
    Export {
        /// One run, or several to compare
        #[arg(required = true)]
        runs: Vec<String>,
        /// csv, json, xlsx or html [default: from the file extension]
        #[arg(long)]
        format: Option<Format>,
        /// The file to write
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        file: PathBuf,
    },
    /// Grade a run's answers 1–5 with a local LLM as judge and a written rubric (weaker evidence
    /// than the checked metrics); resumable, items already judged are kept
    Judge {
        /// The run (id or unique prefix)
        run: String,
        /// The judge model (path or file name) [default: the configured chat model]
        #[arg(long, short)]
        model: Option<String>,
        /// Discard earlier judgements and judge every item again
        #[arg(long)]
        again: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete a run
    Delete {
        /// The run (id or unique prefix)
        run: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SetsCommand {
    /// List the gold sets (the default)
    List,
    /// Show a set's items
    Show {
        /// The set
        name: String,
    },
    /// Validate a JSONL, CSV or XLSX file without importing it (every problem with its row and column)
    Check {
        /// The file
        file: PathBuf,
    },
    /// Import JSONL, CSV or XLSX files as gold sets (each validated first; named after the file)
    Import {
        /// The files
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Store a single file under this name [default: the file name]
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Replace a set of the same name
        #[arg(long)]
        replace: bool,
    },
    /// Write a set to a .jsonl, .csv or .xlsx file
    Export {
        /// The set
        name: String,
        /// The file (its extension picks the format)
        file: PathBuf,
    },
    /// Remove a set (runs keep their own copy)
    Remove {
        /// The set
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Xlsx,
    Html,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The gold set
    set: String,
    /// The matter the questions are asked of (none: instruction-only sets, the chat model alone)
    #[arg(long, short = 'M')]
    matter: Option<String>,
    /// A name for the run in reports and comparisons
    #[arg(long)]
    label: Option<String>,
    /// generate or extractive
    #[arg(long, default_value = "generate")]
    mode: AnswerMode,
    /// Retrieval: hybrid, vector or text
    #[arg(long, default_value = "hybrid")]
    search_mode: SearchMode,
    /// Passages retrieved as evidence [default: 6]
    #[arg(long, short = 'k')]
    top_k: Option<u32>,
    /// Shape the answers with a prompt template that has a `question` variable
    #[arg(long, short = 't')]
    template: Option<String>,
    /// Rerank: on or off [default: `[retrieval] rerank`]
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    rerank: Option<bool>,
    /// Tokens reserved for each answer
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Sampling seed (answers are greedy unless a template samples)
    #[arg(long)]
    seed: Option<u32>,
    /// Items answered at once on the chat model's parallel sequences (continuous batching)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    parallel: u32,
    /// Only the first N items
    #[arg(long)]
    limit: Option<u32>,
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// Then grade the answers with the chat model as an LLM judge (see `eval judge`)
    #[arg(long)]
    judge: bool,
    /// Write the HTML report here when the run ends
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub async fn eval_cmd(ctx: &Ctx, out: &mut Out, command: &EvalCommand) -> anyhow::Result<u8> {
    match command {
        EvalCommand::Sets { command, json: as_json } => {
            sets(ctx, out, command.as_ref().unwrap_or(&SetsCommand::List), *as_json)
        }
        EvalCommand::Run(args) => run(ctx, out, args).await,
        EvalCommand::Resume { run, parallel, json: as_json } => {
            let ctx_desk = with_parallel(ctx, None, parallel.unwrap_or(1))?;
            let cancel = ctrl_c_cancels();
            let bar = progress_bar(*as_json);
            let mut on_event = |e: RunEvent<'_>| on_event(&bar, e);
            let report = ctx_desk.evals().resume(run, &cancel, &mut on_event).await;
            bar.finish_and_clear();
            finish(out, &report?, *as_json, None)
        }
        EvalCommand::Judge { run, model, again, json: as_json } => {
            let desk = ctx.desk(model.as_deref(), None)?;
            let cancel = ctrl_c_cancels();
            let bar = progress_bar(*as_json);
            bar.set_prefix("judging");
            let report = desk.evals().judge(run, *again, &cancel, &mut |p| on_judged(&bar, p)).await;
            bar.finish_and_clear();
            finish(out, &report?, *as_json, None)
        }
        EvalCommand::List { json: as_json } => {
            let desk = ctx.desk(None, None)?;
            let runs = desk.evals().list()?;
            if *as_json {
                json(out, &runs)?;
                return Ok(0);
            }
            if runs.is_empty() {
                out.line("no runs yet: lexdesk eval run SET --matter MATTER")?;
            }
            for r in runs {
                out.line(format!(
                    "{}  {:<10} {:<24} {:<14} {}  {}",
                    r.id,
                    status(r.status),
                    r.set,
                    r.config.label,
                    r.config.model.clone().unwrap_or_else(|| r.config.mode.clone()),
                    r.config.matter.clone().unwrap_or_default()
                ))?;
            }
            Ok(0)
        }
        EvalCommand::Show { run, items, json: as_json } => {
            let desk = ctx.desk(None, None)?;
            let report = desk.evals().report(run)?;
            if *as_json {
                json(out, &report)?;
            } else {
                print_report(out, &report, *items)?;
            }
            Ok(if report.honest() { 0 } else { exit::DISHONEST })
        }
        EvalCommand::Compare { runs, json: as_json } => {
            let desk = ctx.desk(None, None)?;
            let c = desk.evals().compare(runs)?;
            if *as_json {
                json(out, &c)?;
                return Ok(0);
            }
            for (i, p) in c.pairs.iter().enumerate() {
                let base = &c.runs[0].manifest;
                out.line(format!(
                    "{} ({}) → {} ({}): {} paired items{}",
                    base.config.label,
                    &base.id[base.id.len() - 8..],
                    p.candidate.config.label,
                    &p.candidate.id[p.candidate.id.len() - 8..],
                    p.paired,
                    if p.unpaired > 0 { format!(", {} unpaired left out", p.unpaired) } else { String::new() }
                ))?;
                for m in &p.metrics {
                    let (Some(a), Some(b)) = (m.baseline, m.candidate) else { continue };
                    let delta = m.delta.map_or(String::new(), |d| {
                        format!(
                            "Δ {} [{}, {}] p={:.3}",
                            signed(m.unit, d.delta),
                            signed(m.unit, d.low),
                            signed(m.unit, d.high),
                            d.p_value
                        )
                    });
                    let mc = m
                        .mcnemar
                        .map_or(String::new(), |x| format!("  McNemar +{}/−{} p={:.3}", x.better, x.worse, x.p_value));
                    out.line(format!(
                        "  {:<48} {:>10} → {:<10} {delta}{mc}",
                        m.label,
                        value(m.unit, a.value),
                        value(m.unit, b.value)
                    ))?;
                }
                out.line(format!("  better: {}", ids(&p.better)))?;
                out.line(format!("  worse:  {}", ids(&p.worse)))?;
                if i + 1 < c.pairs.len() {
                    out.line("")?;
                }
            }
            Ok(0)
        }
        EvalCommand::Export { runs, format, file } => {
            let desk = ctx.desk(None, None)?;
            let format = match format {
                Some(f) => *f,
                None => match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
                    Some("csv") => Format::Csv,
                    Some("json") => Format::Json,
                    Some("xlsx") => Format::Xlsx,
                    Some("html" | "htm") => Format::Html,
                    _ => anyhow::bail!("give --format (csv, json, xlsx, html) or a file ending in one of them"),
                },
            };
            let bytes = desk.evals().export(runs, export_format(format))?;
            std::fs::write(file, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            eprintln!("wrote {}", file.display());
            Ok(0)
        }
        EvalCommand::Delete { run } => {
            let desk = ctx.desk(None, None)?;
            let m = desk.evals().delete(run)?;
            out.line(format!("deleted run {} ({})", m.id, m.set))?;
            Ok(0)
        }
    }
}

fn export_format(f: Format) -> EvalExportFormat {
    match f {
        Format::Csv => EvalExportFormat::Csv,
        Format::Json => EvalExportFormat::Json,
        Format::Xlsx => EvalExportFormat::Xlsx,
        Format::Html => EvalExportFormat::Html,
    }
}

fn ids(changes: &[lexdesk_desk::ItemChange]) -> String {
    if changes.is_empty() {
        return "none".into();
    }
    changes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
}

fn sets(ctx: &Ctx, out: &mut Out, command: &SetsCommand, as_json: bool) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    let evals = desk.evals();
    match command {
        SetsCommand::List => {
            let sets = evals.sets()?;
            if as_json {
                json(out, &sets)?;
            } else if sets.is_empty() {
                out.line("no gold sets yet: lexdesk eval sets import FILE (.jsonl, .csv or .xlsx)")?;
            } else {
                for s in sets {
                    out.line(format!(
                        "{:<28} {:>5} items  {:>4} with sources  {:>4} with keywords  {:>4} with a reference  {:>4} off-corpus",
                        s.name, s.items, s.with_sources, s.with_keywords, s.with_expected, s.should_abstain
                    ))?;
                }
            }
        }
        SetsCommand::Show { name } => {
            let set = evals.set(name)?;
            if as_json {
                json(out, &set)?;
            } else {
                for i in &set.items {
                    let mut gold = Vec::new();
                    if i.should_abstain {
                        gold.push("should abstain".to_owned());
                    }
                    if !i.keywords.is_empty() {
                        gold.push(format!("keywords ({:?}): {}", i.keyword_rule, i.keywords.join(", ")).to_lowercase());
                    }
                    if !i.sources.is_empty() {
                        gold.push(format!(
                            "sources: {}",
                            i.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                        ));
                    }
                    out.line(format!("{}  {}\n    {}", i.id, i.question.replace('\n', " / "), gold.join(" · ")))?;
                }
            }
        }
        SetsCommand::Check { file } => {
            let set = evals.check(file)?;
            out.line(format!("{}: valid, {} items", file.display(), set.items.len()))?;
        }
        SetsCommand::Import { files, name, replace } => {
            if name.is_some() && files.len() > 1 {
                anyhow::bail!("--as names one set: import one file at a time with it");
            }
            for file in files {
                let s = evals.import(file, name.as_deref(), *replace)?;
                out.line(format!("imported {} ({} items) as {}", file.display(), s.items, s.name))?;
            }
        }
        SetsCommand::Export { name, file } => {
            evals.export_set(name, file)?;
            eprintln!("wrote {}", file.display());
        }
        SetsCommand::Remove { name } => {
            evals.remove_set(name)?;
            out.line(format!("removed the gold set {name}"))?;
        }
    }
    Ok(0)
}

/// A desk whose chat model runs `parallel` sequences (continuous batching).
fn with_parallel(ctx: &Ctx, model: Option<&str>, parallel: u32) -> anyhow::Result<lexdesk_desk::Desk> {
    let desk = ctx.desk(model, None)?;
    let mut config = desk.settings().configuration();
    config.server.parallel = config.server.parallel.max(parallel);
    Ok(desk.with_config(config))
}

fn ctrl_c_cancels() -> CancelToken {
    let cancel = CancelToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the items in progress… (resume with `lexdesk eval resume RUN`)");
            on_ctrl_c.cancel();
        }
    });
    cancel
}

fn progress_bar(hidden: bool) -> ProgressBar {
    let target = if hidden { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} items, {elapsed} (eta {eta}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn on_event(bar: &ProgressBar, e: RunEvent<'_>) {
    match e {
        RunEvent::Started { manifest, done } => {
            bar.set_prefix(format!("run {}", &manifest.id[manifest.id.len() - 8..]));
            bar.set_length(u64::from(manifest.items));
            bar.set_position(u64::from(done));
            if done > 0 {
                bar.println(format!("resuming: {done} of {} items already finished", manifest.items));
            }
        }
        RunEvent::Item { done, item, scores, outcome, .. } => {
            bar.set_position(u64::from(done));
            let verdict = if let Some(e) = &outcome.error {
                format!("error {}", e.code)
            } else if scores.abstained {
                if scores.should_abstain { "abstained (right)".into() } else { "abstained".into() }
            } else if scores.should_abstain {
                "answered (should abstain)".into()
            } else {
                let mut v = Vec::new();
                if let Some(k) = scores.keyword_pass {
                    v.push(format!("keywords {}", if k { "✓" } else { "✗" }));
                }
                if let Some(c) = scores.citation_correct {
                    v.push(format!("citation {}", if c { "✓" } else { "✗" }));
                }
                v.join(", ")
            };
            if scores.honest == Some(false) {
                bar.println(format!("DISHONEST CITATION in {}: a quote marked verified is not on its page", item.id));
            }
            bar.set_message(format!("{}: {verdict}", item.id));
        }
        RunEvent::Judged(p) => {
            bar.set_prefix("judging");
            on_judged(bar, p);
        }
    }
}

fn on_judged(bar: &ProgressBar, p: JudgeProgress<'_>) {
    bar.set_length(u64::from(p.total));
    bar.set_position(u64::from(p.done));
    let score = p.judgement.score.map_or("no readable score".to_owned(), |s| format!("{s}/5"));
    bar.set_message(format!("{}: {score}", p.judgement.id));
}

async fn run(ctx: &Ctx, out: &mut Out, args: &RunArgs) -> anyhow::Result<u8> {
    let desk = with_parallel(ctx, args.model.as_deref(), args.parallel)?;
    let params = EvalParams {
        set: args.set.clone(),
        matter: args.matter.clone(),
        label: args.label.clone(),
        mode: Some(args.mode),
        search_mode: Some(args.search_mode),
        top_k: args.top_k,
        template: args.template.clone(),
        rerank: args.rerank,
        max_tokens: args.max_tokens,
        seed: args.seed,
        concurrency: Some(args.parallel),
        limit: args.limit,
        judge: Some(args.judge),
    };
    let cancel = ctrl_c_cancels();
    let bar = progress_bar(args.json);
    let mut on_event = |e: RunEvent<'_>| on_event(&bar, e);
    let report = desk.evals().run(&params, &cancel, &mut on_event).await;
    bar.finish_and_clear();
    let report = report?;
    if let Some(path) = &args.report {
        let bytes = desk.evals().export(std::slice::from_ref(&report.manifest.id), EvalExportFormat::Html)?;
        std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    finish(out, &report, args.json, Some(&cancel))
}

fn finish(out: &mut Out, report: &RunReport, as_json: bool, _cancel: Option<&CancelToken>) -> anyhow::Result<u8> {
    if as_json {
        json(out, &Summary::of(report))?;
    } else {
        print_report(out, report, false)?;
    }
    if !report.honest() {
        return Ok(exit::DISHONEST);
    }
    Ok(if report.manifest.status == RunStatus::Finished { 0 } else { exit::CANCELLED })
}

/// `--json` of run and resume: the report without the items (`eval show --json` has them).
#[derive(Serialize)]
struct Summary<'a> {
    run: &'a lexdesk_desk::RunManifest,
    done: u32,
    honest: bool,
    verified_quotes: u32,
    honest_quotes: u32,
    metrics: &'a [Metric],
    tags: &'a [lexdesk_desk::TagMetrics],
    latency_percentiles: Option<[f64; 3]>,
    judge: Option<&'a lexdesk_desk::JudgeSummary>,
}

impl<'a> Summary<'a> {
    fn of(r: &'a RunReport) -> Self {
        Self {
            run: &r.manifest,
            done: r.done,
            honest: r.honest(),
            verified_quotes: r.verified_quotes,
            honest_quotes: r.honest_quotes,
            metrics: &r.metrics,
            tags: &r.tags,
            latency_percentiles: r.latency_percentiles,
            judge: r.judge.as_ref(),
        }
    }
}

fn status(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Cancelled => "cancelled",
        RunStatus::Failed => "failed",
        RunStatus::Finished => "finished",
    }
}

fn value(unit: MetricUnit, v: f64) -> String {
    lexdesk_desk::eval_show(unit, v)
}

fn signed(unit: MetricUnit, v: f64) -> String {
    let s = value(unit, v.abs());
    if v > 0.0 {
        format!("+{s}")
    } else if v < 0.0 {
        format!("−{s}")
    } else {
        s
    }
}

fn print_report(out: &mut Out, r: &RunReport, items: bool) -> anyhow::Result<()> {
    let m = &r.manifest;
    out.line(format!("run {} — set {} — {} of {} items — {}", m.id, m.set, r.done, m.items, status(m.status)))?;
    let c = &m.config;
    out.line(format!(
        "  {}; matter {}; {} retrieval, top-k {}; template {}{}",
        c.model.clone().unwrap_or_else(|| c.mode.clone()),
        c.matter.clone().unwrap_or_else(|| "none".into()),
        c.search_mode,
        c.top_k.map_or("6".into(), |k| k.to_string()),
        c.template.clone().unwrap_or_else(|| "none".into()),
        if c.concurrency > 1 { format!("; {} at once", c.concurrency) } else { String::new() }
    ))?;
    out.line("")?;
    for metric in &r.metrics {
        let Some(e) = metric.estimate else { continue };
        out.line(format!(
            "  {:<50} {:>10}  [{} – {}]  n={}",
            metric.label,
            value(metric.unit, e.value),
            value(metric.unit, e.low),
            value(metric.unit, e.high),
            e.n
        ))?;
    }
    if let Some([p50, p90, p95]) = r.latency_percentiles {
        out.line(format!(
            "  latency percentiles: p50 {:.1} s, p90 {:.1} s, p95 {:.1} s",
            p50 / 1000.0,
            p90 / 1000.0,
            p95 / 1000.0
        ))?;
    }
    if !r.tags.is_empty() {
        out.line("")?;
        for t in &r.tags {
            let pick = |k: &str| {
                t.metrics
                    .iter()
                    .find(|x| x.key == k)
                    .and_then(|x| x.estimate)
                    .map_or("–".into(), |e| format!("{:.0} %", e.value * 100.0))
            };
            out.line(format!(
                "  tag {:<22} {:>4} items  keywords {:>5}  citation {:>5}  abstained right {:>5}",
                t.tag,
                t.items,
                pick("keyword_accuracy"),
                pick("citation_correct"),
                pick("abstention_correct")
            ))?;
        }
    }
    if let Some(j) = &r.judge {
        out.line(format!(
            "  LLM judge: {} ({} answers graded against the rubric{}) — weaker evidence than the checked metrics",
            j.models.join(", "),
            j.judged,
            if j.unreadable > 0 { format!(", {} without a readable score", j.unreadable) } else { String::new() }
        ))?;
    }
    out.line("")?;
    if r.honest() {
        out.line(format!(
            "citation honesty: 100 % ({} verified quotes, each found again on its page)",
            r.verified_quotes
        ))?;
    } else {
        out.line(format!(
            "CITATION HONESTY BELOW 100 %: {} of {} quotes marked verified are NOT on the cited page",
            r.verified_quotes - r.honest_quotes,
            r.verified_quotes
        ))?;
    }
    if items {
        out.line("")?;
        for i in &r.items {
            let s = &i.scores;
            let verdict = if s.failed {
                "failed".to_owned()
            } else if s.abstained {
                format!("abstained{}", if s.should_abstain { " ✓" } else { " ✗" })
            } else {
                format!(
                    "keywords {} citation {} grounded {}",
                    mark(s.keyword_pass),
                    mark(s.citation_correct),
                    mark(s.grounded)
                )
            };
            out.line(format!("  {:<24} {verdict}  {:.1} s", i.item.id, i.outcome.latency_ms / 1000.0))?;
        }
    }
    if m.status != RunStatus::Finished {
        out.line(format!("resume with: lexdesk eval resume {}", m.id))?;
    }
    Ok(())
}

fn mark(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "–",
    }
}
