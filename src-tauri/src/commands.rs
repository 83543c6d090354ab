//! The commands: each a thin adapter over one `Desk` method. Those that change data announce it
//! ([`crate::events`]) so that the UI refetches what it shows.

use std::path::PathBuf;

use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::DocumentRecord;
use lexdesk_desk::{
    AskParams, AskResult, CompareParams, CompareProgress, ComparisonFormat, DiscoveredModel, ExportFormat, Hardware,
    HubTokenStatus, ModelCatalog, ModelChoice, Notice, PageView, RenderParams, RenderView, SessionSummary, Settings,
    SettingsUpdate, TemplateView,
};
use lexdesk_desk::{
    ChatSession, Comparison, ComparisonSummary, DiffLine, DownloadEvent, DownloadOutcome, DownloadParams, FileProgress,
    IngestEvent, IngestParams, IngestSummary, Listing, Matter, MatterEmbedder, ReembedEvent, ReembedSummary, Searched,
};
use lexdesk_desk::{
    EvalChart, EvalComparison, EvalExportFormat, EvalParams, GoldSet, ItemResult, Judgement, RunEvent, RunManifest,
    RunReport, SetCheck, SetSummary,
};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::events::{DocumentsChanged, EvalsChanged, MattersChanged, SessionsChanged, SettingsChanged, announce};
use crate::stream::{CompareForwarder, IngestForwarder, TextBatcher};
use crate::{IpcError, Shell};

type Result<T> = std::result::Result<T, IpcError>;

/// What an answer streams before the final result.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerStreamEvent {
    /// Retrieval is done: what was searched, and which passages are evidence.
    Retrieved {
        /// The passages.
        searched: Searched,
    },
    /// More generated text (batched).
    Text {
        /// The text to append.
        text: String,
    },
}

/// What an evaluation run reports while it executes.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvalRunEvent {
    /// Execution starts (or resumes: `done` items were finished before).
    Started {
        /// The run.
        run: RunManifest,
        /// Items already finished.
        done: u32,
    },
    /// An item finished.
    Item {
        /// Items finished so far.
        done: u32,
        /// Items in the run.
        total: u32,
        /// The item, what it produced and its scores.
        result: ItemResult,
    },
    /// The LLM judge graded an answer.
    Judged {
        /// Answers graded so far.
        done: u32,
        /// Answers to grade.
        total: u32,
        /// The grade.
        judgement: Judgement,
    },
}

/// About this installation.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppInfo {
    /// LexDesk's version.
    pub version: String,
    /// The data directory.
    pub home: String,
}

/// The UI calls this once its first screen is mounted: that moment is the start-up time
/// (`LEXDESK_STARTUP_REPORT=FILE` writes it there, for tests/bench/desktop_startup.py).
#[tauri::command]
#[specta::specta]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    crate::report_startup();
    AppInfo { version: env!("CARGO_PKG_VERSION").to_string(), home: shell.desk.home().display().to_string() }
}

/// First run: create the demo matter from the sample documents (once; a deleted demo stays deleted).
#[tauri::command]
#[specta::specta]
pub async fn prepare_demo(
    app: AppHandle,
    shell: State<'_, Shell>,
    on_event: Channel<IngestEvent>,
) -> Result<Option<Matter>> {
    let mut forward = IngestForwarder::new(on_event);
    let demo_dir = shell.demo_dir.as_deref();
    // The demo's id is known once its matter exists; its documents then arrive file by file.
    let known = shell.desk.matters().demo_id();
    let mut created: Option<String> = None;
    let desk = &shell.desk;
    let demo = desk
        .matters()
        .ensure_demo(demo_dir, &CancelToken::new(), &mut |e| {
            if e.changes_documents() {
                let id = created.get_or_insert_with(|| {
                    announce(&app, &MattersChanged {});
                    desk.matters().demo_id().unwrap_or_default()
                });
                announce(&app, &DocumentsChanged { matter_id: id.clone() });
            }
            forward.send(e);
        })
        .await?;
    if let Some(id) = created {
        // The run's end writes what is left: failed files' records, the last batch.
        announce(&app, &DocumentsChanged { matter_id: id });
    }
    // A demo built by an earlier version with another embedding model moves to this one.
    let migrated = desk.matters().migrate_demo(&CancelToken::new(), &mut |_| {}).await?;
    if let (Some(_), Some(m)) = (&migrated, &demo) {
        announce(&app, &DocumentsChanged { matter_id: m.id.clone() });
    }
    if demo.as_ref().map(|m| &m.id) != known.as_ref() || migrated.is_some() {
        announce(&app, &MattersChanged {});
    }
    Ok(desk.matters().demo_id().and_then(|id| desk.matters().find(&id).ok()))
}

/// The demo matter's id, if it exists (it may have been renamed).
#[tauri::command(async)]
#[specta::specta]
pub fn demo_matter_id(shell: State<'_, Shell>) -> Option<String> {
    shell.desk.matters().demo_id()
}

#[tauri::command(async)]
#[specta::specta]
pub fn list_matters(shell: State<'_, Shell>) -> Result<Vec<Matter>> {
    Ok(shell.desk.matters().list()?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn create_matter(app: AppHandle, shell: State<'_, Shell>, name: String) -> Result<Matter> {
    let matter = shell.desk.matters().create(&name)?;
    announce(&app, &MattersChanged {});
    Ok(matter)
}

#[tauri::command(async)]
#[specta::specta]
pub fn rename_matter(app: AppHandle, shell: State<'_, Shell>, matter_id: String, name: String) -> Result<Matter> {
    let matter = shell.desk.matters().rename(&matter_id, &name)?;
    announce(&app, &MattersChanged {});
    Ok(matter)
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_matter(app: AppHandle, shell: State<'_, Shell>, matter_id: String) -> Result<()> {
    shell.desk.matters().delete(&matter_id)?;
    announce(&app, &MattersChanged {});
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn list_documents(shell: State<'_, Shell>, matter_id: String) -> Result<Vec<DocumentRecord>> {
    Ok(shell.desk.documents(&matter_id).list().await?)
}

/// Add files and folders (absolute paths from drag and drop or the picker); progress per file
/// and page on `on_event`; `cancel_job(job_id)` stops after the current file.
#[tauri::command]
#[specta::specta]
pub async fn add_documents(
    app: AppHandle,
    shell: State<'_, Shell>,
    matter_id: String,
    paths: Vec<String>,
    job_id: String,
    on_event: Channel<IngestEvent>,
) -> Result<IngestSummary> {
    let params = IngestParams::Paths(paths.into_iter().map(PathBuf::from).collect());
    ingestion_job(&app, &shell, matter_id, &params, &job_id, on_event).await
}

#[tauri::command]
#[specta::specta]
pub async fn retry_document(
    app: AppHandle,
    shell: State<'_, Shell>,
    matter_id: String,
    doc_id: String,
    job_id: String,
    on_event: Channel<IngestEvent>,
) -> Result<IngestSummary> {
    ingestion_job(&app, &shell, matter_id, &IngestParams::Retry { doc_id }, &job_id, on_event).await
}

/// An ingestion as a cancellable job: progress on `on_event`; the documents list announced
/// after each finished file and committed batch, and at the end (which writes what is left:
/// failed files' records, the last batch).
async fn ingestion_job(
    app: &AppHandle,
    shell: &Shell,
    matter_id: String,
    params: &IngestParams,
    job_id: &str,
    on_event: Channel<IngestEvent>,
) -> Result<IngestSummary> {
    let job = shell.job(job_id);
    let mut forward = IngestForwarder::new(on_event);
    let mut progress = |e: IngestEvent| {
        if e.changes_documents() {
            announce(app, &DocumentsChanged { matter_id: matter_id.clone() });
        }
        forward.send(e);
    };
    let result = shell.desk.documents(&matter_id).ingest(params, &job.token, &mut progress).await;
    announce(app, &DocumentsChanged { matter_id });
    Ok(result?)
}

/// Which embedding model a matter was built with, against the configured one.
#[tauri::command]
#[specta::specta]
pub async fn matter_embedder(shell: State<'_, Shell>, matter_id: String) -> Result<MatterEmbedder> {
    Ok(shell.desk.matters().embedder(&matter_id).await?)
}

/// Re-embed a matter with the configured embedding model, as a cancellable job (progress on
/// `on_event`; cancelled runs resume next time). The matter keeps answering with its old model
/// until the new index is complete.
#[tauri::command]
#[specta::specta]
pub async fn reembed_matter(
    app: AppHandle,
    shell: State<'_, Shell>,
    matter_id: String,
    job_id: String,
    on_event: Channel<ReembedEvent>,
) -> Result<ReembedSummary> {
    let job = shell.job(&job_id);
    let result = shell
        .desk
        .documents(&matter_id)
        .reembed(&job.token, &mut |e| {
            on_event.send(e).ok();
        })
        .await;
    announce(&app, &DocumentsChanged { matter_id });
    announce(&app, &MattersChanged {});
    Ok(result?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_document(app: AppHandle, shell: State<'_, Shell>, matter_id: String, doc_id: String) -> Result<()> {
    shell.desk.documents(&matter_id).remove(&doc_id).await?;
    announce(&app, &DocumentsChanged { matter_id });
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn get_page(shell: State<'_, Shell>, matter_id: String, doc_id: String, page: u32) -> Result<PageView> {
    Ok(shell.desk.documents(&matter_id).page(&doc_id, page).await?)
}

/// Answer a question with verified citations; retrieval and text stream on `on_event`;
/// `cancel_job(job_id)` stops generation (the partial answer is checked and saved).
#[tauri::command]
#[specta::specta]
pub async fn ask(
    app: AppHandle,
    shell: State<'_, Shell>,
    matter_id: String,
    params: AskParams,
    job_id: String,
    on_event: Channel<AnswerStreamEvent>,
) -> Result<AskResult> {
    let job = shell.job(&job_id);
    let mut text = TextBatcher::new(on_event.clone());
    let result = shell
        .desk
        .answers(&matter_id)
        .ask(&params, &job.token, &mut |p| match p {
            lexdesk_desk::AnswerProgress::Retrieved(s) => {
                text.flush();
                // A closed channel (the window went away) is not an error of the answer.
                let _closed = on_event.send(AnswerStreamEvent::Retrieved { searched: s.clone() });
            }
            lexdesk_desk::AnswerProgress::Token(t) => text.push(t),
        })
        .await;
    text.flush();
    let result = result?;
    announce(&app, &SessionsChanged { matter_id });
    Ok(result)
}

/// Stop a running ingestion or answer; `false` if it already finished.
#[tauri::command(async)]
#[specta::specta]
pub fn cancel_job(shell: State<'_, Shell>, job_id: String) -> bool {
    shell.cancel(&job_id)
}

#[tauri::command(async)]
#[specta::specta]
pub fn list_sessions(shell: State<'_, Shell>, matter_id: String) -> Result<Vec<SessionSummary>> {
    Ok(shell.desk.answers(&matter_id).sessions()?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn get_session(shell: State<'_, Shell>, matter_id: String, session_id: String) -> Result<ChatSession> {
    Ok(shell.desk.answers(&matter_id).session(&session_id)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn rename_session(
    app: AppHandle,
    shell: State<'_, Shell>,
    matter_id: String,
    session_id: String,
    title: String,
) -> Result<SessionSummary> {
    let summary = shell.desk.answers(&matter_id).rename_session(&session_id, &title)?;
    announce(&app, &SessionsChanged { matter_id });
    Ok(summary)
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_session(app: AppHandle, shell: State<'_, Shell>, matter_id: String, session_id: String) -> Result<()> {
    shell.desk.answers(&matter_id).delete_session(&session_id)?;
    announce(&app, &SessionsChanged { matter_id });
    Ok(())
}

/// Write a session to the file the user picked in the save dialog.
#[tauri::command(async)]
#[specta::specta]
pub fn export_session(
    shell: State<'_, Shell>,
    matter_id: String,
    session_id: String,
    format: ExportFormat,
    path: String,
) -> Result<()> {
    Ok(shell.desk.answers(&matter_id).export_session_to(&session_id, format, std::path::Path::new(&path))?)
}

/// A session as Markdown or JSON text (for copying).
#[tauri::command(async)]
#[specta::specta]
pub fn session_text(
    shell: State<'_, Shell>,
    matter_id: String,
    session_id: String,
    format: ExportFormat,
) -> Result<String> {
    Ok(shell.desk.answers(&matter_id).export_session(&session_id, format)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn get_settings(shell: State<'_, Shell>) -> Result<Settings> {
    Ok(shell.desk.settings().get())
}

#[tauri::command(async)]
#[specta::specta]
pub fn update_settings(app: AppHandle, shell: State<'_, Shell>, update: SettingsUpdate) -> Result<Settings> {
    let settings = shell.desk.settings().update(update)?;
    announce(&app, &SettingsChanged {});
    Ok(settings)
}

#[tauri::command(async)]
#[specta::specta]
pub fn hardware(shell: State<'_, Shell>) -> Result<Hardware> {
    Ok(shell.desk.models().hardware())
}

/// The model catalog with each file's fit on this machine and the recommendations.
#[tauri::command(async)]
#[specta::specta]
pub fn model_catalog(shell: State<'_, Shell>) -> Result<ModelCatalog> {
    Ok(shell.desk.models().catalog()?)
}

/// Download a catalog model (resumable, checksum-verified); progress (bytes, speed, ETA) on
/// `on_event`, at most five events a second; `cancel_job(job_id)` stops and keeps the partial file.
#[tauri::command]
#[specta::specta]
pub async fn download_model(
    app: AppHandle,
    shell: State<'_, Shell>,
    id: String,
    quant: Option<String>,
    job_id: String,
    on_event: Channel<DownloadEvent>,
) -> Result<Vec<DownloadOutcome>> {
    let job = shell.job(&job_id);
    // A closed channel (the window went away) does not stop the download.
    let mut send = |p: FileProgress| {
        let _closed = on_event.send(p.event);
    };
    let params = DownloadParams { id, quant, ..DownloadParams::default() };
    let downloaded = shell.desk.models().download(&params, &job.token, &mut send).await?;
    // A new file to choose in the settings' model lists.
    announce(&app, &SettingsChanged {});
    Ok(downloaded.into_iter().map(|d| d.outcome).collect())
}

// --- templates (issue #6) ------------------------------------------------------------------------

/// Built-in and user templates, and user files that are not valid templates.
#[tauri::command(async)]
#[specta::specta]
pub fn list_templates(shell: State<'_, Shell>) -> Result<Listing> {
    Ok(shell.desk.templates().list()?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn get_template(shell: State<'_, Shell>, name: String) -> Result<TemplateView> {
    Ok(shell.desk.templates().get(&name)?)
}

/// Check TOML text as a template (the editor, as the user types): warnings, or the error.
#[tauri::command(async)]
#[specta::specta]
pub fn check_template(shell: State<'_, Shell>, text: String) -> Result<Vec<Notice>> {
    Ok(shell.desk.templates().check(&text)?)
}

/// Save TOML text: a new user template (`name` null) or a new version of user template `name`.
#[tauri::command(async)]
#[specta::specta]
pub fn save_template(shell: State<'_, Shell>, name: Option<String>, text: String) -> Result<TemplateView> {
    Ok(shell.desk.templates().save(name.as_deref(), &text)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn duplicate_template(shell: State<'_, Shell>, from: String, new_name: String) -> Result<TemplateView> {
    Ok(shell.desk.templates().duplicate(&from, &new_name)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_template(shell: State<'_, Shell>, name: String) -> Result<()> {
    Ok(shell.desk.templates().delete(&name)?)
}

/// Import a template file the user picked in the open dialog.
#[tauri::command(async)]
#[specta::specta]
pub fn import_template(shell: State<'_, Shell>, path: String, new_name: Option<String>) -> Result<TemplateView> {
    Ok(shell.desk.templates().import(std::path::Path::new(&path), new_name.as_deref())?)
}

/// Write a template's TOML to the file the user picked in the save dialog.
#[tauri::command(async)]
#[specta::specta]
pub fn export_template(shell: State<'_, Shell>, name: String, path: String) -> Result<()> {
    Ok(shell.desk.templates().export_to(&name, std::path::Path::new(&path))?)
}

/// Render a template (evidence from a matter for evidence templates), with the token count on
/// the chat model when `preview` is set.
#[tauri::command]
#[specta::specta]
pub async fn render_template(shell: State<'_, Shell>, params: RenderParams) -> Result<RenderView> {
    Ok(shell.desk.templates().render(&params).await?)
}

/// Run a comparison on the chat model; each run's text streams on `on_event`;
/// `cancel_job(job_id)` stops it. The comparison is saved to the history.
#[tauri::command]
#[specta::specta]
pub async fn compare_templates(
    shell: State<'_, Shell>,
    params: CompareParams,
    job_id: String,
    on_event: Channel<CompareProgress>,
) -> Result<Comparison> {
    let job = shell.job(&job_id);
    let mut forward = CompareForwarder::new(on_event);
    let result = shell.desk.templates().compare(&params, &job.token, &mut |e| forward.send(e)).await;
    forward.flush();
    Ok(result?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn list_comparisons(shell: State<'_, Shell>) -> Result<Vec<ComparisonSummary>> {
    Ok(shell.desk.templates().comparisons()?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn get_comparison(shell: State<'_, Shell>, id: String) -> Result<Comparison> {
    Ok(shell.desk.templates().comparison(&id)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_comparison(shell: State<'_, Shell>, id: String) -> Result<()> {
    Ok(shell.desk.templates().delete_comparison(&id)?)
}

/// Write a comparison as CSV, JSON or Markdown to the file the user picked.
#[tauri::command(async)]
#[specta::specta]
pub fn export_comparison(shell: State<'_, Shell>, id: String, format: ComparisonFormat, path: String) -> Result<()> {
    Ok(shell.desk.templates().export_comparison_to(&id, format, std::path::Path::new(&path))?)
}

/// A comparison as CSV, JSON or Markdown text (for copying).
#[tauri::command(async)]
#[specta::specta]
pub fn comparison_text(shell: State<'_, Shell>, id: String, format: ComparisonFormat) -> Result<String> {
    Ok(shell.desk.templates().export_comparison(&id, format)?)
}

/// The diff of two runs' outputs (0-based positions), lines with their changed words.
#[tauri::command(async)]
#[specta::specta]
pub fn diff_runs(shell: State<'_, Shell>, id: String, a: u32, b: u32) -> Result<Vec<DiffLine>> {
    Ok(shell.desk.templates().diff_runs(&id, a, b)?)
}

// --- models on this machine (issue #8) -----------------------------------------------------------

/// GGUFs of Ollama, LM Studio, Jan and the Hugging Face cache, marked when already imported.
#[tauri::command(async)]
#[specta::specta]
pub fn discover_models(shell: State<'_, Shell>) -> Result<Vec<DiscoveredModel>> {
    Ok(shell.desk.models().discover()?)
}

/// Use a GGUF where it is (found by discovery, or picked in the open dialog); its header is
/// validated first.
#[tauri::command(async)]
#[specta::specta]
pub fn import_model(
    app: AppHandle,
    shell: State<'_, Shell>,
    path: String,
    name: Option<String>,
) -> Result<ModelChoice> {
    let choice = shell.desk.models().import(std::path::Path::new(&path), name.as_deref())?;
    announce(&app, &SettingsChanged {});
    Ok(choice)
}

/// Whether a Hugging Face token is stored (never the token).
#[tauri::command(async)]
#[specta::specta]
pub fn hub_token_status(shell: State<'_, Shell>) -> Result<HubTokenStatus> {
    Ok(shell.desk.models().hub_token())
}

/// Store the Hugging Face token in the OS keychain; null or empty removes it.
#[tauri::command(async)]
#[specta::specta]
pub fn set_hub_token(app: AppHandle, shell: State<'_, Shell>, token: Option<String>) -> Result<HubTokenStatus> {
    let status = shell.desk.models().set_hub_token(token.as_deref())?;
    announce(&app, &SettingsChanged {});
    Ok(status)
}

// --- evaluation (issue #22) ----------------------------------------------------------------------

/// The gold sets in the library.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_sets(shell: State<'_, Shell>) -> Result<Vec<SetSummary>> {
    Ok(shell.desk.evals().sets()?)
}

/// A gold set with its items.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_set(shell: State<'_, Shell>, name: String) -> Result<GoldSet> {
    Ok(shell.desk.evals().set(&name)?)
}

/// Check a gold set file (JSONL, CSV or XLSX) before importing it: its items, or every problem
/// with its row and column.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_check_set(shell: State<'_, Shell>, path: String) -> Result<SetCheck> {
    Ok(shell.desk.evals().inspect(std::path::Path::new(&path))?)
}

/// Import a gold set file (refused whole when it has any problem).
#[tauri::command(async)]
#[specta::specta]
pub fn eval_import_set(
    app: AppHandle,
    shell: State<'_, Shell>,
    path: String,
    name: Option<String>,
    replace: bool,
) -> Result<SetSummary> {
    let name = name.filter(|n| !n.trim().is_empty());
    let summary = shell.desk.evals().import(std::path::Path::new(&path), name.as_deref(), replace)?;
    announce(&app, &EvalsChanged { run_id: None });
    Ok(summary)
}

/// Write a gold set to the file the user picked (JSONL, CSV or XLSX by its extension).
#[tauri::command(async)]
#[specta::specta]
pub fn eval_export_set(shell: State<'_, Shell>, name: String, path: String) -> Result<()> {
    Ok(shell.desk.evals().export_set(&name, std::path::Path::new(&path))?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn eval_remove_set(app: AppHandle, shell: State<'_, Shell>, name: String) -> Result<()> {
    shell.desk.evals().remove_set(&name)?;
    announce(&app, &EvalsChanged { run_id: None });
    Ok(())
}

/// Start an evaluation run and execute it; each finished item on `on_event`;
/// `cancel_job(job_id)` stops it (resumable with `eval_resume`).
#[tauri::command]
#[specta::specta]
pub async fn eval_run(
    app: AppHandle,
    shell: State<'_, Shell>,
    params: EvalParams,
    job_id: String,
    on_event: Channel<EvalRunEvent>,
) -> Result<RunReport> {
    let job = shell.job(&job_id);
    let run = shell.desk.evals().create(&params).await?;
    announce(&app, &EvalsChanged { run_id: None });
    eval_job(&app, &shell, &run.id, &job.token, on_event).await
}

/// Resume a run stopped by Cancel, an error or a crash: only unfinished items are answered.
#[tauri::command]
#[specta::specta]
pub async fn eval_resume(
    app: AppHandle,
    shell: State<'_, Shell>,
    run_id: String,
    job_id: String,
    on_event: Channel<EvalRunEvent>,
) -> Result<RunReport> {
    let job = shell.job(&job_id);
    eval_job(&app, &shell, &run_id, &job.token, on_event).await
}

/// Execute a run: progress on `on_event`; the run's results announced as items finish (at most
/// a few times a second) and at the end.
async fn eval_job(
    app: &AppHandle,
    shell: &Shell,
    run_id: &str,
    cancel: &CancelToken,
    on_event: Channel<EvalRunEvent>,
) -> Result<RunReport> {
    let mut throttle = crate::stream::Throttle::new(crate::stream::PROGRESS_INTERVAL * 5);
    let mut progress = |e: RunEvent<'_>| {
        let event = match e {
            RunEvent::Started { manifest, done } => {
                announce(app, &EvalsChanged { run_id: Some(manifest.id.clone()) });
                EvalRunEvent::Started { run: manifest.clone(), done }
            }
            RunEvent::Item { done, total, item, outcome, scores } => {
                if throttle.due(std::time::Instant::now()) {
                    announce(app, &EvalsChanged { run_id: Some(run_id.to_owned()) });
                }
                let result = ItemResult {
                    item: item.clone(),
                    outcome: outcome.clone(),
                    scores: scores.clone(),
                    judgement: None,
                };
                EvalRunEvent::Item { done, total, result }
            }
            RunEvent::Judged(p) => {
                if throttle.due(std::time::Instant::now()) {
                    announce(app, &EvalsChanged { run_id: Some(run_id.to_owned()) });
                }
                EvalRunEvent::Judged { done: p.done, total: p.total, judgement: p.judgement.clone() }
            }
        };
        // A closed channel (the window went away) does not stop the run.
        let _closed = on_event.send(event);
    };
    let result = shell.desk.evals().resume(run_id, cancel, &mut progress).await;
    announce(app, &EvalsChanged { run_id: Some(run_id.to_owned()) });
    Ok(result?)
}

/// Grade a run's answers with the chat model as an LLM judge (weaker evidence); progress on
/// `on_event`; `cancel_job(job_id)` stops it (answers already graded are kept). `again` grades
/// every answer anew.
#[tauri::command]
#[specta::specta]
pub async fn eval_judge(
    app: AppHandle,
    shell: State<'_, Shell>,
    run_id: String,
    again: bool,
    job_id: String,
    on_event: Channel<EvalRunEvent>,
) -> Result<RunReport> {
    let job = shell.job(&job_id);
    let mut throttle = crate::stream::Throttle::new(crate::stream::PROGRESS_INTERVAL * 5);
    let result = shell
        .desk
        .evals()
        .judge(&run_id, again, &job.token, &mut |p| {
            if throttle.due(std::time::Instant::now()) {
                announce(&app, &EvalsChanged { run_id: Some(run_id.clone()) });
            }
            let event = EvalRunEvent::Judged { done: p.done, total: p.total, judgement: p.judgement.clone() };
            // A closed channel (the window went away) does not stop the judge.
            let _closed = on_event.send(event);
        })
        .await;
    announce(&app, &EvalsChanged { run_id: Some(run_id.clone()) });
    Ok(result?)
}

/// Every run, newest first.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_runs(shell: State<'_, Shell>) -> Result<Vec<RunManifest>> {
    Ok(shell.desk.evals().list()?)
}

/// A run's results (so far, for an unfinished run).
#[tauri::command(async)]
#[specta::specta]
pub fn eval_report(shell: State<'_, Shell>, run_id: String) -> Result<RunReport> {
    Ok(shell.desk.evals().report(&run_id)?)
}

/// Runs on the same set compared, the first as the baseline.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_compare(shell: State<'_, Shell>, run_ids: Vec<String>) -> Result<EvalComparison> {
    Ok(shell.desk.evals().compare(&run_ids)?)
}

/// The charts of one run, or of several side by side.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_charts(shell: State<'_, Shell>, run_ids: Vec<String>) -> Result<Vec<EvalChart>> {
    Ok(shell.desk.evals().charts(&run_ids)?)
}

/// Write one run (or several runs' comparison) as CSV, JSON, XLSX or a self-contained HTML
/// report to the file the user picked.
#[tauri::command(async)]
#[specta::specta]
pub fn eval_export(
    shell: State<'_, Shell>,
    run_ids: Vec<String>,
    format: EvalExportFormat,
    path: String,
) -> Result<()> {
    Ok(shell.desk.evals().export_to(&run_ids, format, std::path::Path::new(&path))?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn eval_delete(app: AppHandle, shell: State<'_, Shell>, run_id: String) -> Result<()> {
    shell.desk.evals().delete(&run_id)?;
    announce(&app, &EvalsChanged { run_id: None });
    Ok(())
}
