//! `lexdesk-desk`: LexDesk's application API. One [`Desk`] per process holds the data
//! directory, the configuration, the loaded models (each on its own engine thread) and the
//! per-matter ingestion queue. Its operations are grouped by domain into small handles over
//! that one state, in the style of LanceDB's `Connection → Table`:
//!
//! | handle | what |
//! | --- | --- |
//! | [`Desk::matters`] | matters, the demo matter |
//! | [`Desk::documents`]`(matter)` | documents, ingestion, removal, page text, search |
//! | [`Desk::answers`]`(matter)` | grounded answers, chat sessions and their exports |
//! | [`Desk::models`] | the chat and embedding models, catalog, downloads, local models, hardware |
//! | [`Desk::templates`] | the prompt-template library, rendering, comparisons and their history |
//! | [`Desk::settings`] | settings saved to `config.toml` |
//!
//! Every long operation has one contract: a request struct, a `&CancelToken`, and one progress
//! callback `&mut (dyn FnMut(Event) + Send)` — [`DocumentsApi::ingest`], [`AnswersApi::ask`],
//! [`ModelsApi::download`], [`TemplatesApi::compare`], [`MattersApi::ensure_demo`].
//!
//! Front ends stay thin: the desktop shell's commands are a line or two each over this crate.
//! No Tauri, HTTP or JSON wire formats here; the types are plain serde data (with
//! `specta::Type` behind the `specta` feature so the shell can generate TypeScript bindings).

mod answers;
mod documents;
mod engines;
mod error;
mod evals;
mod extract;
mod local_models;
mod matters;
mod model_files;
mod models;
mod secrets;
mod settings;
mod templates;
mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use lexdesk_core::config::{Config, Home};
use lexdesk_ingest::pdf::WorkerConfig;
use lexdesk_service::Matters as MatterFolders;

pub use answers::AnswersApi;
pub use documents::{DocumentsApi, IngestParams};
pub use engines::{ChatEngine, EmbedEngine, file_id};
pub use error::{DeskError, error_codes};
pub use evals::{EvalChart, EvalParams, EvalsApi, SetCheck, SetSummary};
pub use extract::{ExtractEvent, ExtractParams, ExtractSummary};
pub use lexdesk_eval::export::{ExportFormat as EvalExportFormat, show as eval_show};
pub use lexdesk_eval::gold::{GoldFormat, GoldItem, GoldSet, Problem as GoldProblem};
pub use lexdesk_eval::judge::{JudgeProgress, Judgement};
pub use lexdesk_eval::report::{
    Comparison as EvalComparison, ItemChange, ItemResult, JudgeSummary, Metric, RunReport, TagMetrics,
    Unit as MetricUnit,
};
pub use lexdesk_eval::run::{RunEvent, RunManifest, RunStatus};
pub use lexdesk_templates::TemplateError;
// The template library's vocabulary, and its pure text helpers (a time stamp, a unified diff).
pub use lexdesk_templates::{
    EvidencePassage, HistoryListing, Inputs, Preview, RenderedTemplate, RunResult, Source, StoredTemplate,
    VariableKind, Warning, format_utc, unified_diff,
};
// The lower crates' types that front ends see, so that no front end depends on those crates.
pub use lexdesk_engine::{BenchSample, DeviceInfo, Inspection, LoadedModel};
pub use lexdesk_ingest::Chunk;
pub use lexdesk_ingest::extract::{ExtractedDocument, ExtractedPage};
pub use lexdesk_ingest::ocr::Provenance;
pub use lexdesk_ingest::pdf::run_worker as run_pdf_worker;
pub use lexdesk_models::{DownloadEvent, DownloadOutcome};
pub use lexdesk_service::Matter;
pub use lexdesk_service::answer::{Answer, AnswerMode, Citation, Searched};
pub use lexdesk_service::ingest::reembed::{ReembedEvent, ReembedSummary};
pub use lexdesk_service::ingest::{FileOutcome, IngestEvent, IngestSummary};
pub use lexdesk_service::matters::EmbedderRecord;
pub use lexdesk_service::search::SearchHit;
pub use lexdesk_service::search::SearchRequest;
pub use lexdesk_service::sessions::ChatSession;
pub use lexdesk_service::sessions::SessionTurn;
pub use lexdesk_templates::{Comparison, ComparisonSummary, DiffLine, Listing};
pub use local_models::{DiscoveredModel, HubTokenStatus};
pub use matters::{MatterEmbedder, MattersApi};
pub use model_files::{Chosen, DownloadParams, Downloaded, FileProgress, Imported, Recommendations};
pub use models::{ChatReranker, ModelsApi};
pub use models::{LEGACY_EMBED_DIMENSIONS, LEGACY_EMBED_MODEL};
pub use secrets::SecretsApi;
// The model catalog's vocabulary, as `lexdesk models` shows it.
pub use lexdesk_models::discover::Discovered;
pub use lexdesk_models::fit::{Hardware as MachineFit, Recommendation};
pub use lexdesk_models::local::{Installed, Origin, Removed};
pub use lexdesk_models::secrets::Backend as SecretBackend;
pub use lexdesk_models::{CatalogEntry, CatalogKind, CatalogModel, download::ChecksumSource};
pub use settings::SettingsApi;
pub use templates::{
    CompareParams, CompareProgress, ComparisonFormat, EvidenceSource, Notice, RenderParams, RenderView, TemplateView,
    TemplatesApi, evidence_passages,
};
pub use types::{
    AskParams, AskResult, ExportFormat, Hardware, ModelCatalog, ModelChoice, PageView, SessionSummary, Settings,
    SettingsUpdate,
};

/// The name of the matter the first run fills with the sample documents.
pub const DEMO_MATTER: &str = "Demo";

/// The most passages a question may retrieve as evidence ([`AskParams::top_k`]).
pub use lexdesk_service::answer::MAX_TOP_K;

/// How to start a [`Desk`].
#[derive(Debug, Clone)]
pub struct DeskOptions {
    /// The data directory; `None` = `LEXDESK_HOME`, else the OS application-data directory.
    pub home: Option<PathBuf>,
    /// The program that runs PDF extraction workers (`PROGRAM worker extract-pdf FILE`): the
    /// front end's own executable.
    pub worker_program: PathBuf,
}

/// What an answer reports while it is produced: the service's own events (retrieval done, then
/// generated text), not a copy of them.
pub use lexdesk_service::answer::AskEvent as AnswerProgress;

/// A loaded model and what it was loaded from (a file with options, or a remote endpoint).
#[derive(Debug, Clone)]
struct Loaded<M> {
    source: String,
    model: M,
}

/// A configured model as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    /// The id clients name it by (file name without `.gguf`, or the remote model name).
    pub id: String,
    /// The local file, if it is one.
    pub path: Option<PathBuf>,
    /// The remote endpoint's URL, if it is one.
    pub url: Option<String>,
}

/// How ingestions run. The defaults are the desktop's and the server's; the CLI sets them from
/// its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestSettings {
    /// OCR pages without a text layer (when Tesseract is installed).
    pub ocr: bool,
    /// Time allowed to extract one PDF in its worker process.
    pub pdf_timeout: std::time::Duration,
    /// Commit to the store after this many documents (`None`: the pipeline's default).
    pub write_documents: Option<usize>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self { ocr: true, pdf_timeout: WorkerConfig::lexdesk(PathBuf::new()).timeout, write_documents: None }
    }
}

/// The application handle. Cheap to share (`Arc<Desk>`); every method takes `&self`, and the
/// domain handles it gives out borrow it.
#[derive(Debug)]
pub struct Desk {
    home: Home,
    config: RwLock<Config>,
    matters: MatterFolders,
    worker_program: PathBuf,
    ingest_settings: IngestSettings,
    chat: tokio::sync::Mutex<Option<Loaded<ChatEngine>>>,
    embedder: tokio::sync::Mutex<Option<Loaded<EmbedEngine>>>,
    /// A separate reranking model (`[retrieval] reranker`), loaded on first use.
    reranker: tokio::sync::Mutex<Option<Loaded<lexdesk_engine::ChatModel>>>,
    /// One ingestion at a time per matter (the store allows one writer); later ones wait.
    ingest_queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Concurrent first-run calls prepare the demo once.
    demo: tokio::sync::Mutex<()>,
}

impl Desk {
    /// Open the data directory (created if needed) and read `config.toml`.
    ///
    /// # Errors
    /// No data directory can be determined or created, or the configuration is invalid.
    pub fn open(options: DeskOptions) -> Result<Self, DeskError> {
        let home = Home::resolve(options.home.as_deref())?;
        std::fs::create_dir_all(home.matters_dir()).map_err(|e| DeskError::io(home.matters_dir(), &e))?;
        let config = Config::load(&home)?;
        Ok(Self {
            matters: MatterFolders::new(home.matters_dir()),
            home,
            config: RwLock::new(config),
            worker_program: options.worker_program,
            ingest_settings: IngestSettings::default(),
            chat: tokio::sync::Mutex::new(None),
            embedder: tokio::sync::Mutex::new(None),
            reranker: tokio::sync::Mutex::new(None),
            ingest_queues: Mutex::new(HashMap::new()),
            demo: tokio::sync::Mutex::new(()),
        })
    }

    /// Use `config` instead of the file's (a front end's flags applied over it); not saved.
    #[must_use]
    pub fn with_config(self, config: Config) -> Self {
        *self.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        self
    }

    /// Run ingestions with these settings.
    #[must_use]
    pub fn with_ingest_settings(mut self, settings: IngestSettings) -> Self {
        self.ingest_settings = settings;
        self
    }

    /// The data directory.
    #[must_use]
    pub fn home(&self) -> &Path {
        self.home.root()
    }

    fn config(&self) -> Config {
        self.config.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Matters, and the demo matter.
    #[must_use]
    pub fn matters(&self) -> MattersApi<'_> {
        MattersApi { desk: self }
    }

    /// The documents of matter `matter_id` (an id or a name): ingestion, removal, page text and
    /// search.
    #[must_use]
    pub fn documents<'d>(&'d self, matter_id: &'d str) -> DocumentsApi<'d> {
        DocumentsApi { desk: self, matter_id }
    }

    /// Grounded answers and chat sessions of matter `matter_id` (an id or a name).
    #[must_use]
    pub fn answers<'d>(&'d self, matter_id: &'d str) -> AnswersApi<'d> {
        AnswersApi { desk: self, matter_id }
    }

    /// The chat and embedding models, the catalog, downloads, local models and the hardware.
    #[must_use]
    pub fn models(&self) -> ModelsApi<'_> {
        ModelsApi { desk: self }
    }

    /// The prompt-template library and the comparison history.
    #[must_use]
    pub fn templates(&self) -> TemplatesApi<'_> {
        TemplatesApi { desk: self }
    }

    /// Gold sets and evaluation runs: import, run (resumable), reports, comparisons, exports.
    #[must_use]
    pub fn evals(&self) -> EvalsApi<'_> {
        EvalsApi { desk: self }
    }

    /// The secret store (OS keychain, or the encrypted-file fallback): hub and remote-engine
    /// keys.
    #[must_use]
    pub fn secrets(&self) -> SecretsApi<'_> {
        SecretsApi { desk: self }
    }

    /// Settings saved to `config.toml`.
    #[must_use]
    pub fn settings(&self) -> SettingsApi<'_> {
        SettingsApi { desk: self }
    }

    fn matter(&self, matter_id: &str) -> Result<Matter, DeskError> {
        Ok(self.matters.find(matter_id)?)
    }

    fn ingest_queue(&self, matter_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self.ingest_queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.entry(matter_id.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lexdesk_core::generate::CancelToken;

    fn desk(home: &Path) -> Desk {
        Desk::open(DeskOptions { home: Some(home.into()), worker_program: "lexdesk".into() }).unwrap()
    }

    #[tokio::test]
    async fn matters_and_sessions_without_models() {
        let home = tempfile::tempdir().unwrap();
        let desk = desk(home.path());
        let m = desk.matters().create("Acme v. Roe").unwrap();
        assert_eq!(desk.matters().list().unwrap().len(), 1);
        assert!(desk.documents(&m.id).list().await.unwrap().is_empty());
        assert!(desk.answers(&m.id).sessions().unwrap().is_empty());
        let e = desk.documents(&m.id).page("nope", 1).await.unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "DOCUMENT_NOT_FOUND");
        let renamed = desk.matters().rename(&m.id, "Acme v. Roe (2026)").unwrap();
        assert_eq!(renamed.name, "Acme v. Roe (2026)");
        let e = desk.matters().create("acme v. roe (2026)").unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "MATTER_EXISTS");
        // A handle looks its matter up on each call: once deleted, it says so.
        let documents = desk.documents(&m.id);
        desk.matters().delete(&m.id).unwrap();
        assert!(desk.matters().list().unwrap().is_empty());
        let e = documents.list().await.unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "MATTER_NOT_FOUND");
    }

    #[tokio::test]
    async fn the_demo_matter_is_known_by_id_even_renamed_and_stays_deleted() {
        let home = tempfile::tempdir().unwrap();
        let desk = desk(home.path());
        let none = CancelToken::new();
        // No sample documents: no demo, and nothing recorded.
        assert!(desk.matters().ensure_demo(None, &none, &mut |_| {}).await.unwrap().is_none());
        assert_eq!(desk.matters().demo_id(), None);
        // A marker from a first run (the ingestion itself needs models: see tests/e2e/desk.rs).
        let demo = desk.matters().create(DEMO_MATTER).unwrap();
        std::fs::write(desk.home.demo_marker(), &demo.id).unwrap();
        let other = desk.matters().create("Demo case of a client").unwrap();
        desk.matters().rename(&demo.id, "Sample documents").unwrap();
        assert_eq!(desk.matters().demo_id().as_deref(), Some(demo.id.as_str()));
        let found = desk.matters().ensure_demo(None, &none, &mut |_| {}).await.unwrap().unwrap();
        assert_eq!((found.id.as_str(), found.name.as_str()), (demo.id.as_str(), "Sample documents"));
        desk.matters().delete(&demo.id).unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(desk.matters().ensure_demo(Some(dir.path()), &none, &mut |_| {}).await.unwrap().is_none());
        assert_eq!(desk.matters().demo_id(), None);
        assert_eq!(desk.matters().list().unwrap(), vec![other]);
    }

    #[test]
    fn settings_are_saved_and_validated() {
        let home = tempfile::tempdir().unwrap();
        let desk = desk(home.path());
        let e = desk
            .settings()
            .update(SettingsUpdate { chat_model: Some("no-such-model.gguf".into()), ..SettingsUpdate::default() })
            .unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "MODEL_MISSING");
        assert!(!home.path().join("config.toml").exists(), "nothing saved on error");
    }
}
