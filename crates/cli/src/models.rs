//! `lexdesk models …` (catalog, downloads, import and discovery, hardware fit, choice of model)
//! and `lexdesk secrets …` (the keychain): printing over `desk.models()` and `desk.secrets()`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lexdesk_core::ErrorCode;
use lexdesk_core::config::ModelRole;
use lexdesk_core::generate::CancelToken;
use lexdesk_core::model::FitVerdict;
use lexdesk_desk::{
    CatalogKind, ChecksumSource, DownloadEvent, DownloadOutcome, DownloadParams, Downloaded, FileProgress, Origin,
    Removed, SecretBackend,
};
use serde::Serialize;

use crate::output::{Out, json};
use crate::templates::UsageError;
use crate::{Ctx, inspect};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Show a GGUF file's metadata and whether it fits this machine's memory
    Inspect {
        /// The GGUF file
        file: PathBuf,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The catalog with each model's fit on this machine; `--installed`: models on disk;
    /// `--discover`: GGUFs from Ollama, LM Studio, Jan and the Hugging Face cache
    List(ListArgs),
    /// Search the catalog (every word must match; filter by kind and language)
    Search(SearchArgs),
    /// Download a catalog model (`ID` or `ID:QUANT`) or a URL, resumable and checksum-verified
    Download(DownloadArgs),
    /// Use GGUF files where they are (validated, not copied); `--discovered` imports every
    /// model found in other apps' folders
    Import(ImportArgs),
    /// Delete a downloaded model, or forget an imported one (its file is left alone)
    Remove {
        /// The model's name (`lexdesk models list --installed`)
        name: String,
    },
    /// Recommend chat and embedding models for this machine, with GPU layers and threads
    Recommend(RecommendArgs),
    /// Make a model the chat or embedding model (saved to config.toml)
    Use(UseArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the models on disk instead of the catalog
    #[arg(long, conflicts_with = "discover")]
    installed: bool,
    /// List GGUFs found in other apps' folders
    #[arg(long)]
    discover: bool,
    /// Only this kind: chat, embedding, reranker, vision
    #[arg(long)]
    kind: Option<CatalogKind>,
    /// Context length the fit assumes [default: min(model's, 8192)]
    #[arg(long = "fit-ctx", value_name = "TOKENS")]
    fit_ctx: Option<u64>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for (id, name, publisher, architecture, languages, description)
    query: Vec<String>,
    /// Only this kind
    #[arg(long)]
    kind: Option<CatalogKind>,
    /// Only models good at this language (zh, en)
    #[arg(long)]
    lang: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// A catalog id (`qwen2.5-1.5b-instruct`, `qwen2.5-7b-instruct:Q5_K_M`) or an http(s) URL
    model: String,
    /// Quantisation (instead of `ID:QUANT`)
    #[arg(long)]
    quant: Option<String>,
    /// Expected SHA-256 (required for a URL unless the server publishes one, as Hugging Face does)
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Folder to save into [default: the home's models folder]
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Then make it the chat or embedding model (by its kind)
    #[arg(long = "use")]
    use_it: bool,
    /// Print one JSON object at the end (progress as JSON lines on stderr)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// GGUF files to use in place
    #[arg(required_unless_present = "discovered")]
    files: Vec<PathBuf>,
    /// Import every model found by `lexdesk models list --discover` (projectors excepted)
    #[arg(long, conflicts_with = "files")]
    discovered: bool,
    /// The name to use it by [default: the file name]
    #[arg(long)]
    name: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// The documents' language the models must handle
    #[arg(long, default_value = "zh")]
    lang: String,
    /// Context length the fit assumes [default: min(model's, 8192)]
    #[arg(long = "fit-ctx", value_name = "TOKENS")]
    fit_ctx: Option<u64>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UseArgs {
    /// An installed model's name, a catalog id (downloaded), or a path
    model: String,
    /// As chat or embedding model [default: from the catalog or the file's metadata]
    #[arg(long, value_parser = ["chat", "embedding"])]
    kind: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret (read from the terminal without echo, or from standard input)
    Set {
        /// Its name, e.g. `huggingface-token` or `remote:vllm`
        name: String,
    },
    /// Whether a secret is stored (the value is never printed)
    Check {
        /// Its name
        name: String,
    },
    /// Delete a secret
    Delete {
        /// Its name
        name: String,
    },
    /// Which store is in use
    Status,
}

pub async fn models_cmd(ctx: &Ctx, out: &mut Out, cmd: &ModelsCommand) -> anyhow::Result<u8> {
    match cmd {
        ModelsCommand::Inspect { file, json } => inspect(ctx, out, file, *json),
        ModelsCommand::List(a) => list(ctx, out, a),
        ModelsCommand::Search(a) => search(ctx, out, a),
        ModelsCommand::Download(a) => download(ctx, out, a).await,
        ModelsCommand::Import(a) => import(ctx, out, a),
        ModelsCommand::Remove { name } => remove(ctx, out, name),
        ModelsCommand::Recommend(a) => recommend(ctx, out, a),
        ModelsCommand::Use(a) => use_model(ctx, out, a),
    }
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

fn verdict_label(v: FitVerdict) -> &'static str {
    match v {
        FitVerdict::FitsGpu => "fits GPU",
        FitVerdict::FitsPartialOffload => "partial offload",
        FitVerdict::FitsCpu => "fits CPU",
        FitVerdict::DoesNotFit => "does not fit",
    }
}

fn list(ctx: &Ctx, out: &mut Out, a: &ListArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    if a.discover {
        let found = desk.models().discover_files();
        if a.json {
            return json(out, &found).map(|()| 0);
        }
        if found.is_empty() {
            out.line("no GGUF files found in Ollama, LM Studio, Jan or the Hugging Face cache")?;
        }
        for d in &found {
            out.line(format!(
                "{:<20} {:<60} {:>10}{}\n{:>20} {}",
                d.source.label(),
                d.name,
                gb(d.size),
                if d.projector { "  (projector)" } else { "" },
                "",
                d.path.display()
            ))?;
        }
        return Ok(0);
    }
    if a.installed {
        let installed = desk.models().installed()?;
        if a.json {
            return json(out, &installed).map(|()| 0);
        }
        for m in &installed {
            let origin = match &m.origin {
                Origin::Folder { dir } => dir.display().to_string(),
                Origin::Imported { source } => {
                    format!("imported{}", source.map(|s| format!(" from {}", s.label())).unwrap_or_default())
                }
            };
            let used = if m.name == ctx.config.models.chat || m.path == Path::new(&ctx.config.models.chat) {
                "  [chat]"
            } else if m.name == ctx.config.models.embed || m.path == Path::new(&ctx.config.models.embed) {
                "  [embedding]"
            } else {
                ""
            };
            out.line(format!("{:<48} {:>10}  {origin}{used}", m.name, gb(m.size)))?;
        }
        return Ok(0);
    }
    let rows = desk.models().catalog_entries(a.kind, a.fit_ctx)?;
    if a.json {
        return json(out, &rows).map(|()| 0);
    }
    out.line(format!(
        "{:<26} {:<9} {:<14} {:<8} {:>10} {:>10}  {}",
        "ID", "KIND", "LANGUAGES", "QUANT", "SIZE", "NEEDS", "FIT"
    ))?;
    for r in &rows {
        for (i, f) in r.fits.iter().enumerate() {
            let installed = if r.installed.contains(&f.quant) { "  installed" } else { "" };
            let speed = if f.interactive || f.verdict == FitVerdict::DoesNotFit { "" } else { ", slow" };
            let size = if f.weights_exact { gb(f.weights) } else { format!("~{}", gb(f.weights)) };
            out.line(format!(
                "{:<26} {:<9} {:<14} {:<8} {:>10} {:>10}  {}{speed}{installed}",
                if i == 0 { r.model.id.as_str() } else { "" },
                if i == 0 { r.model.kind.as_str() } else { "" },
                if i == 0 { languages(&r.model.languages) } else { String::new() },
                f.quant,
                size,
                gb(f.need),
                verdict_label(f.verdict),
            ))?;
        }
    }
    Ok(0)
}

/// Languages for a table cell: the first three named ones, `…` when there are more.
fn languages(langs: &[String]) -> String {
    let named: Vec<&str> = langs.iter().map(String::as_str).filter(|l| *l != "multilingual").collect();
    let mut cell = named.iter().take(3).copied().collect::<Vec<_>>().join(",");
    if named.len() > 3 || named.len() < langs.len() {
        cell.push_str(",…");
    }
    cell
}

fn search(ctx: &Ctx, out: &mut Out, a: &SearchArgs) -> anyhow::Result<u8> {
    let found = ctx.desk(None, None)?.models().search_catalog(&a.query.join(" "), a.kind, a.lang.as_deref())?;
    if a.json {
        return json(out, &found).map(|()| 0);
    }
    if found.is_empty() {
        out.line("no catalog model matches")?;
        return Ok(1);
    }
    for m in found {
        let quants: Vec<&str> = m.files.iter().filter_map(|f| f.quant.as_deref()).collect();
        out.line(format!(
            "{:<26} {:<9} {} — {}\n{:<26} {} · {} · {} · {}{}",
            m.id,
            m.kind.as_str(),
            m.name,
            m.description,
            "",
            m.languages.join(","),
            m.license,
            quants.join(" "),
            format_args!("{:.1}B params", m.parameters as f64 / 1e9),
            if m.gated { " · gated (needs a token)" } else { "" },
        ))?;
    }
    Ok(0)
}

#[derive(Serialize)]
struct DownloadJson {
    downloads: Vec<DownloadOutcome>,
    used_as: Option<String>,
}

async fn download(ctx: &Ctx, out: &mut Out, a: &DownloadArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    let params =
        DownloadParams { id: a.model.clone(), quant: a.quant.clone(), sha256: a.sha256.clone(), to: a.to.clone() };
    let cancel = CancelToken::new();
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    // One progress bar per file (a vision model's projector is a second file).
    let mut bar: Option<(String, ProgressBar)> = None;
    let as_json = a.json;
    let result = desk
        .models()
        .download(&params, &cancel, &mut |FileProgress { label, event }| {
            if as_json {
                if let Ok(line) = serde_json::to_string(&event) {
                    eprintln!("{line}");
                }
                return;
            }
            if bar.as_ref().is_none_or(|(l, _)| *l != label) {
                if let Some((_, done)) = bar.take() {
                    done.finish_and_clear();
                }
                bar = Some((label.clone(), progress_bar(&label)));
            }
            let Some((_, bar)) = &bar else { return };
            match event {
                DownloadEvent::Started { total, resumed_from } => {
                    if let Some(t) = total {
                        bar.set_length(t);
                    }
                    bar.set_position(resumed_from);
                    if resumed_from > 0 {
                        bar.println(format!("resuming {label} at {}", gb(resumed_from)));
                    }
                }
                DownloadEvent::Progress(p) => {
                    bar.set_position(p.downloaded);
                    let eta = p.eta_secs.map(|s| format!(", {}", human_secs(s))).unwrap_or_default();
                    bar.set_message(format!("{}/s{eta}", gb(p.bytes_per_sec as u64)));
                }
                DownloadEvent::Retrying { attempt, delay_secs, reason } => {
                    bar.println(format!("attempt {attempt} failed ({reason}); retrying in {delay_secs:.1} s"));
                }
                DownloadEvent::Verifying => bar.set_message("verifying sha256"),
            }
        })
        .await;
    if let Some((_, done)) = bar.take() {
        done.finish_and_clear();
    }
    ctrl_c.abort();
    let downloaded = result?;
    if !a.json {
        for Downloaded { outcome, inspection, .. } in &downloaded {
            out.line(format!(
                "{} {} ({}, sha256 {} verified{}{}) — {}, {:?}",
                if outcome.already_present { "already present:" } else { "downloaded" },
                outcome.path.display(),
                gb(outcome.size),
                &outcome.sha256[..12],
                match outcome.checksum_source {
                    ChecksumSource::Given => " against the catalog",
                    ChecksumSource::Server => " against the hub's",
                },
                if outcome.resumed_from > 0 {
                    format!(", resumed at {}", gb(outcome.resumed_from))
                } else {
                    String::new()
                },
                inspection.metadata.architecture,
                inspection.fit,
            ))?;
        }
    }
    let mut used_as = None;
    if a.use_it
        && let Some(first) = downloaded.first()
    {
        let role = if first.kind == CatalogKind::Embedding { ModelRole::Embedding } else { ModelRole::Chat };
        let path = &first.outcome.path;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let value = if a.to.is_some() { path.display().to_string() } else { name };
        desk.models().choose(&value, Some(role))?;
        used_as = Some(role.to_string());
        if !a.json {
            out.line(format!("now the {role} model (config.toml)"))?;
        }
    }
    if a.json {
        json(out, &DownloadJson { downloads: downloaded.into_iter().map(|d| d.outcome).collect(), used_as })?;
    }
    Ok(0)
}

fn human_secs(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s} s left"),
        60..3600 => format!("{} min {} s left", s / 60, s % 60),
        _ => format!("{} h {} min left", s / 3600, (s % 3600) / 60),
    }
}

fn progress_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}

#[derive(Serialize)]
struct ImportedJson {
    name: String,
    path: PathBuf,
    architecture: String,
    kind: String,
    parameters: u64,
    quantization: String,
    fit: FitVerdict,
}

fn import(ctx: &Ctx, out: &mut Out, a: &ImportArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    let candidates: Vec<(PathBuf, Option<String>)> = if a.discovered {
        desk.models()
            .discover_files()
            .into_iter()
            .filter(|d| !d.projector)
            .map(|d| (d.path, Some(d.name.replace(['/', ':', '\\'], "_"))))
            .collect()
    } else {
        if a.name.is_some() && a.files.len() > 1 {
            return Err(UsageError("--name needs exactly one file".into()).into());
        }
        a.files.iter().map(|f| (f.clone(), a.name.clone())).collect()
    };
    let mut done = Vec::new();
    let mut failed = 0;
    for (path, name) in candidates {
        // The header (magic, version, metadata, tensor bounds) is validated first.
        let imported = match desk.models().import_file(&path, name.as_deref()) {
            Ok(i) => i,
            Err(e) if a.discovered => {
                eprintln!("skipped {}: error[{}]: {e}", path.display(), e.code());
                failed += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let m = &imported.inspection.metadata;
        let row = ImportedJson {
            name: imported.entry.name,
            path: imported.entry.path,
            architecture: m.architecture.clone(),
            kind: format!("{:?}", m.kind).to_lowercase(),
            parameters: m.parameter_count,
            quantization: m.quantization.clone(),
            fit: imported.inspection.fit,
        };
        if !a.json {
            out.line(format!(
                "imported {} → {} ({}, {} {:.1}B {}, {:?}); use it with `lexdesk models use {}`",
                row.path.display(),
                row.name,
                row.kind,
                row.architecture,
                row.parameters as f64 / 1e9,
                row.quantization,
                row.fit,
                row.name
            ))?;
        }
        done.push(row);
    }
    if a.json {
        json(out, &done)?;
    } else if a.discovered && done.is_empty() && failed == 0 {
        out.line("no models found in Ollama, LM Studio, Jan or the Hugging Face cache")?;
    }
    Ok(0)
}

fn remove(ctx: &Ctx, out: &mut Out, name: &str) -> anyhow::Result<u8> {
    match ctx.desk(None, None)?.models().remove(name)? {
        Removed::Deleted { path, bytes } => out.line(format!("deleted {} ({} freed)", path.display(), gb(bytes)))?,
        Removed::Unregistered { path } => {
            out.line(format!("forgot {name}; its file {} belongs to another app and was kept", path.display()))?;
        }
    }
    for (role, current) in [("chat", &ctx.config.models.chat), ("embedding", &ctx.config.models.embed)] {
        if current == name {
            eprintln!("note: {name} was the {role} model in config.toml; choose another with `lexdesk models use`");
        }
    }
    Ok(0)
}

fn recommend(ctx: &Ctx, out: &mut Out, a: &RecommendArgs) -> anyhow::Result<u8> {
    let rec = ctx.desk(None, None)?.models().recommend(&a.lang, a.fit_ctx)?;
    if a.json {
        return json(out, &rec).map(|()| 0);
    }
    let hw = &rec.hardware;
    out.line(format!(
        "machine: {} ({} cores / {} threads; {}), RAM {} of {} available",
        if hw.cpu_brand.is_empty() { "CPU" } else { &hw.cpu_brand },
        hw.physical_cores,
        hw.logical_cpus,
        if hw.cpu_features.is_empty() { "no SIMD extensions detected".to_owned() } else { hw.cpu_features.join(" ") },
        gb(hw.ram_available),
        gb(hw.ram_total)
    ))?;
    if hw.gpus.is_empty() {
        out.line("GPUs: none that llama.cpp can use (CPU inference)")?;
    }
    for g in &hw.gpus {
        out.line(format!("GPU: {} ({} free of {})", g.name, gb(g.free), gb(g.total)))?;
    }
    for r in [&rec.chat, &rec.embedding] {
        let Some(r) = r else { continue };
        out.line(format!(
            "{:<9}  {}:{}  ({} needed, {}; threads {}, GPU layers {})\n           {}\n           download: lexdesk models download {}:{} --use",
            r.kind.as_str(),
            r.fit.id,
            r.fit.quant,
            gb(r.fit.need),
            verdict_label(r.fit.verdict),
            r.fit.threads,
            r.fit.gpu_layers,
            r.reason,
            r.fit.id,
            r.fit.quant
        ))?;
    }
    if rec.chat.is_none() {
        out.line(format!("no catalog chat model for `{}` fits this machine's free memory", a.lang))?;
        return Ok(crate::exit::RESOURCES);
    }
    Ok(0)
}

fn use_model(ctx: &Ctx, out: &mut Out, a: &UseArgs) -> anyhow::Result<u8> {
    let role = match a.kind.as_deref() {
        Some("embedding") => Some(ModelRole::Embedding),
        Some(_) => Some(ModelRole::Chat),
        None => None,
    };
    let chosen = ctx.desk(None, None)?.models().choose(&a.model, role)?;
    out.line(format!("{} is now the {} model ({:?} here)", chosen.value, chosen.role, chosen.inspection.fit))?;
    if chosen.role == ModelRole::Embedding {
        eprintln!(
            "note: matters indexed with another embedding model keep their vectors; re-ingest them to search with this one"
        );
    }
    Ok(0)
}

pub fn secrets_cmd(ctx: &Ctx, out: &mut Out, cmd: &SecretsCommand) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    let secrets = desk.secrets();
    let (backend, warning) = secrets.store()?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    match cmd {
        SecretsCommand::Set { name } => {
            let value = read_secret(name)?;
            secrets.set(name, value.trim())?;
            out.line(format!("stored {name} in {}", backend_label(&backend)))?;
        }
        SecretsCommand::Check { name } => {
            let present = secrets.get(name)?.is_some();
            out.line(format!(
                "{name}: {} ({})",
                if present { "stored" } else { "not stored" },
                backend_label(&backend)
            ))?;
            return Ok(if present { 0 } else { 1 });
        }
        SecretsCommand::Delete { name } => {
            let existed = secrets.delete(name)?;
            out.line(format!("{name}: {}", if existed { "deleted" } else { "was not stored" }))?;
        }
        SecretsCommand::Status => out.line(backend_label(&backend))?,
    }
    Ok(0)
}

fn backend_label(backend: &SecretBackend) -> String {
    match backend {
        SecretBackend::Keychain => "the OS keychain".to_owned(),
        SecretBackend::EncryptedFile(p) => format!("the encrypted file {}", p.display()),
    }
}

fn read_secret(name: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        Ok(zeroize::Zeroizing::new(rpassword::prompt_password(format!("{name}: "))?))
    } else {
        let mut s = zeroize::Zeroizing::new(String::new());
        std::io::stdin().read_line(&mut s)?;
        Ok(s)
    }
}
