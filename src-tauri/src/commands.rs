//! The commands: each a thin adapter over one `Desk` method.

use std::path::PathBuf;

use lexdesk_core::store::DocumentRecord;
use lexdesk_desk::{
    AskParams, AskResult, ExportFormat, Hardware, ModelCatalog, PageView, SessionSummary, Settings, SettingsUpdate,
};
use lexdesk_models::{DownloadEvent, DownloadOutcome};
use lexdesk_service::Matter;
use lexdesk_service::answer::Searched;
use lexdesk_service::ingest::{IngestEvent, IngestSummary};
use lexdesk_service::sessions::ChatSession;
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;

use crate::stream::{IngestForwarder, TextBatcher};
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
pub async fn prepare_demo(shell: State<'_, Shell>, on_event: Channel<IngestEvent>) -> Result<Option<Matter>> {
    let mut forward = IngestForwarder::new(on_event);
    Ok(shell.desk.ensure_demo(shell.demo_dir.as_deref(), |e| forward.send(e)).await?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn list_matters(shell: State<'_, Shell>) -> Result<Vec<Matter>> {
    Ok(shell.desk.matters()?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn create_matter(shell: State<'_, Shell>, name: String) -> Result<Matter> {
    Ok(shell.desk.create_matter(&name)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn rename_matter(shell: State<'_, Shell>, matter_id: String, name: String) -> Result<Matter> {
    Ok(shell.desk.rename_matter(&matter_id, &name)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_matter(shell: State<'_, Shell>, matter_id: String) -> Result<()> {
    Ok(shell.desk.delete_matter(&matter_id)?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_documents(shell: State<'_, Shell>, matter_id: String) -> Result<Vec<DocumentRecord>> {
    Ok(shell.desk.documents(&matter_id).await?)
}

/// Add files and folders (absolute paths from drag and drop or the picker); progress per file
/// and page on `on_event`; `cancel_job(job_id)` stops after the current file.
#[tauri::command]
#[specta::specta]
pub async fn add_documents(
    shell: State<'_, Shell>,
    matter_id: String,
    paths: Vec<String>,
    job_id: String,
    on_event: Channel<IngestEvent>,
) -> Result<IngestSummary> {
    let job = shell.job(&job_id);
    let mut forward = IngestForwarder::new(on_event);
    let paths = paths.into_iter().map(PathBuf::from).collect();
    Ok(shell.desk.ingest(&matter_id, paths, &job.token, |e| forward.send(e)).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn retry_document(
    shell: State<'_, Shell>,
    matter_id: String,
    doc_id: String,
    job_id: String,
    on_event: Channel<IngestEvent>,
) -> Result<IngestSummary> {
    let job = shell.job(&job_id);
    let mut forward = IngestForwarder::new(on_event);
    Ok(shell.desk.retry_document(&matter_id, &doc_id, &job.token, |e| forward.send(e)).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_document(shell: State<'_, Shell>, matter_id: String, doc_id: String) -> Result<()> {
    Ok(shell.desk.remove_document(&matter_id, &doc_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn get_page(shell: State<'_, Shell>, matter_id: String, doc_id: String, page: u32) -> Result<PageView> {
    Ok(shell.desk.page(&matter_id, &doc_id, page).await?)
}

/// Answer a question with verified citations; retrieval and text stream on `on_event`;
/// `cancel_job(job_id)` stops generation (the partial answer is checked and saved).
#[tauri::command]
#[specta::specta]
pub async fn ask(
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
        .ask(&matter_id, params, job.token.clone(), &mut |p| match p {
            lexdesk_desk::AnswerProgress::Retrieved(s) => {
                text.flush();
                // A closed channel (the window went away) is not an error of the answer.
                let _closed = on_event.send(AnswerStreamEvent::Retrieved { searched: s.clone() });
            }
            lexdesk_desk::AnswerProgress::Token(t) => text.push(t),
        })
        .await;
    text.flush();
    Ok(result?)
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
    Ok(shell.desk.sessions(&matter_id)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn get_session(shell: State<'_, Shell>, matter_id: String, session_id: String) -> Result<ChatSession> {
    Ok(shell.desk.session(&matter_id, &session_id)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn rename_session(
    shell: State<'_, Shell>,
    matter_id: String,
    session_id: String,
    title: String,
) -> Result<SessionSummary> {
    Ok(shell.desk.rename_session(&matter_id, &session_id, &title)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_session(shell: State<'_, Shell>, matter_id: String, session_id: String) -> Result<()> {
    Ok(shell.desk.delete_session(&matter_id, &session_id)?)
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
    Ok(shell.desk.export_session_to(&matter_id, &session_id, format, std::path::Path::new(&path))?)
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
    Ok(shell.desk.export_session(&matter_id, &session_id, format)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn get_settings(shell: State<'_, Shell>) -> Result<Settings> {
    Ok(shell.desk.settings())
}

#[tauri::command(async)]
#[specta::specta]
pub fn update_settings(shell: State<'_, Shell>, update: SettingsUpdate) -> Result<Settings> {
    Ok(shell.desk.update_settings(update)?)
}

#[tauri::command(async)]
#[specta::specta]
pub fn hardware(shell: State<'_, Shell>) -> Result<Hardware> {
    Ok(shell.desk.hardware())
}

/// The model catalog with each file's fit on this machine and the recommendations.
#[tauri::command(async)]
#[specta::specta]
pub fn model_catalog(shell: State<'_, Shell>) -> Result<ModelCatalog> {
    Ok(shell.desk.model_catalog()?)
}

/// Download a catalog model (resumable, checksum-verified); progress (bytes, speed, ETA) on
/// `on_event`, at most five events a second; `cancel_job(job_id)` stops and keeps the partial file.
#[tauri::command]
#[specta::specta]
pub async fn download_model(
    shell: State<'_, Shell>,
    id: String,
    quant: Option<String>,
    job_id: String,
    on_event: Channel<DownloadEvent>,
) -> Result<Vec<DownloadOutcome>> {
    let job = shell.job(&job_id);
    // A closed channel (the window went away) does not stop the download.
    let send = |e: DownloadEvent| {
        let _closed = on_event.send(e);
    };
    Ok(shell.desk.download_model(&id, quant.as_deref(), &job.token, &send).await?)
}
