//! `lexdesk-desk`: LexDesk's application handle. One [`Desk`] per process holds the data
//! directory, the configuration, the loaded models (each on its own engine thread) and the
//! per-matter ingestion queue, and offers the operations the front ends need — matters,
//! documents, ingestion with progress, page text, grounded answers, chat sessions, settings
//! and the hardware summary — over the real engine (`lexdesk-engine`) and store
//! (`lexdesk-store`).
//!
//! Front ends stay thin: the desktop shell's commands are a line or two each over this crate.
//! No Tauri, HTTP or JSON wire formats here; the types are plain serde data (with
//! `specta::Type` behind the `specta` feature so the shell can generate TypeScript bindings).

mod engines;
mod error;
mod local_models;
mod templates;
mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use lexdesk_core::config::{self, Config, Home};
use lexdesk_core::embed::Embedder;
use lexdesk_core::generate::{CancelToken, Generator};
use lexdesk_core::model::LoadOptions;
use lexdesk_core::store::{ChunkStore, DocumentRecord, DocumentStatus, SearchMode};
use lexdesk_engine::{ChatModel, EmbeddingModel};
use lexdesk_ingest::extract::ExtractConfig;
use lexdesk_ingest::pdf::WorkerConfig;
use lexdesk_service::Matters;
use lexdesk_service::answer::{AnswerPolicy, AskRequest, TemplateShaping, answer_options, ask};
use lexdesk_service::ingest::IngestOptions;
use lexdesk_service::matters::now_ms;
use lexdesk_service::search::{SearchHit, Searcher};
use lexdesk_service::sessions::{SessionTurn, Sessions};
use lexdesk_store::{LanceStore, StoreOptions};

pub use engines::{ChatEngine, EmbedEngine, file_id};
pub use error::{DeskError, error_codes};
pub use lexdesk_templates::TemplateError;
// The lower crates' types that front ends see, so that no front end depends on those crates.
pub use lexdesk_ingest::pdf::run_worker as run_pdf_worker;
pub use lexdesk_models::{DownloadEvent, DownloadOutcome};
pub use lexdesk_service::Matter;
pub use lexdesk_service::answer::{Answer, AnswerMode, Citation, Searched};
pub use lexdesk_service::ingest::{FileOutcome, IngestEvent, IngestSummary};
pub use lexdesk_service::search::SearchRequest;
pub use lexdesk_service::sessions::ChatSession;
pub use lexdesk_templates::{Comparison, ComparisonSummary, DiffLine, Listing};
pub use local_models::{DiscoveredModel, HubTokenStatus};
pub use templates::{
    CompareParams, CompareProgress, ComparisonFormat, EvidenceSource, Notice, RenderParams, RenderView, TemplateView,
    evidence_passages,
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

/// The application handle. Cheap to share (`Arc<Desk>`); every method takes `&self`.
#[derive(Debug)]
pub struct Desk {
    home: Home,
    config: RwLock<Config>,
    matters: Matters,
    worker_program: PathBuf,
    ingest_settings: IngestSettings,
    chat: tokio::sync::Mutex<Option<Loaded<ChatEngine>>>,
    embedder: tokio::sync::Mutex<Option<Loaded<EmbedEngine>>>,
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
            matters: Matters::new(home.matters_dir()),
            home,
            config: RwLock::new(config),
            worker_program: options.worker_program,
            ingest_settings: IngestSettings::default(),
            chat: tokio::sync::Mutex::new(None),
            embedder: tokio::sync::Mutex::new(None),
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

    // --- matters -------------------------------------------------------------------------------

    /// Matters, by name.
    ///
    /// # Errors
    /// The matters folder cannot be read.
    pub fn matters(&self) -> Result<Vec<Matter>, DeskError> {
        Ok(self.matters.list()?)
    }

    /// Create a matter.
    ///
    /// # Errors
    /// Empty or duplicate name, or the folder cannot be written.
    pub fn create_matter(&self, name: &str) -> Result<Matter, DeskError> {
        Ok(self.matters.create(name)?)
    }

    /// Rename a matter (its data does not move).
    ///
    /// # Errors
    /// Unknown matter, empty or duplicate name.
    pub fn rename_matter(&self, matter_id: &str, name: &str) -> Result<Matter, DeskError> {
        Ok(self.matters.rename(matter_id, name)?)
    }

    /// Delete a matter with its documents and chats.
    ///
    /// # Errors
    /// Unknown matter, or documents are being added to it.
    pub fn delete_matter(&self, matter_id: &str) -> Result<(), DeskError> {
        self.matters.delete(matter_id)?;
        Ok(())
    }

    /// A matter by name (case-insensitively) or id.
    ///
    /// # Errors
    /// No such matter, or the matters folder cannot be read.
    pub fn find_matter(&self, name_or_id: &str) -> Result<Matter, DeskError> {
        self.matter(name_or_id)
    }

    fn matter(&self, matter_id: &str) -> Result<Matter, DeskError> {
        Ok(self.matters.find(matter_id)?)
    }

    /// The demo matter: created from `demo_dir` (the sample documents) the first time, found
    /// by name afterwards. Returns `None` when `demo_dir` is missing, or when the demo was
    /// prepared once and has since been deleted (a deleted demo stays deleted).
    ///
    /// # Errors
    /// Creating or ingesting failed.
    pub async fn ensure_demo(
        &self,
        demo_dir: Option<&Path>,
        on_event: impl FnMut(IngestEvent) + Send,
    ) -> Result<Option<Matter>, DeskError> {
        let _once = self.demo.lock().await;
        match self.matters.find(DEMO_MATTER) {
            Ok(m) => return Ok(Some(m)),
            Err(lexdesk_service::MatterError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let marker = self.home.demo_marker();
        let Some(dir) = demo_dir.filter(|d| d.is_dir() && !marker.exists()) else { return Ok(None) };
        let matter = self.create_matter(DEMO_MATTER)?;
        std::fs::write(&marker, b"").map_err(|e| DeskError::io(marker.clone(), &e))?;
        self.ingest(&matter.id, vec![dir.to_path_buf()], &CancelToken::new(), on_event).await?;
        Ok(Some(matter))
    }

    // --- models --------------------------------------------------------------------------------

    fn load_options(&self) -> LoadOptions {
        self.config().load_options()
    }

    /// `[engine] context_length` and `[server] parallel` are the chat model's: an embedding
    /// model always uses its own trained context (at most 8192) and one sequence.
    fn embed_options(&self) -> LoadOptions {
        LoadOptions { context_length: None, parallel: 1, ..self.load_options() }
    }

    fn model_path(&self, kind: config::ModelRole, name: &str) -> Result<PathBuf, DeskError> {
        Ok(config::resolve_model(kind, name, &config::model_search_path(&self.home))?)
    }

    /// The API key of a remote endpoint: from its key file, or the OS keychain.
    fn remote_options(&self, e: &config::RemoteEndpoint) -> Result<lexdesk_remote::RemoteOptions, DeskError> {
        let api_key = if let Some(file) = &e.key_file {
            let text = std::fs::read_to_string(file).map_err(|err| DeskError::io(file.clone(), &err))?;
            Some(text.trim().to_string())
        } else if let Some(name) = &e.key {
            let secrets = lexdesk_models::secrets::Secrets::open(self.home.root())?;
            let value = secrets.get(name)?.ok_or_else(|| DeskError::InvalidSetting {
                name: "remote key",
                reason: format!("no secret `{name}` is stored; run `lexdesk secrets set {name}`"),
            })?;
            Some(value.trim().to_string())
        } else {
            None
        };
        Ok(lexdesk_remote::RemoteOptions {
            base_url: e.url.clone(),
            model: e.model.clone(),
            api_key,
            timeout_secs: e.timeout_secs,
            retries: e.retries,
            context_length: e.context_length,
            query_prefix: e.query_prefix.clone(),
            document_prefix: e.document_prefix.clone(),
        })
    }

    /// The configured embedding model — a local file loaded on first use (its own engine
    /// thread), or a remote endpoint connected on first use — and kept.
    ///
    /// # Errors
    /// The model is missing or cannot be loaded; the endpoint cannot be reached.
    pub async fn embedding_model(&self) -> Result<EmbedEngine, DeskError> {
        let config = self.config();
        let (source, path) = match &config.remote.embed {
            Some(e) => (format!("{e:?}"), None),
            None => {
                let path = self.model_path(config::ModelRole::Embedding, &config.models.embed)?;
                (format!("{path:?} {:?}", self.embed_options()), Some(path))
            }
        };
        let mut slot = self.embedder.lock().await;
        if let Some(l) = slot.as_ref().filter(|l| l.source == source) {
            return Ok(l.model.clone());
        }
        *slot = None;
        let model = match (&config.remote.embed, path) {
            (Some(e), _) => {
                EmbedEngine::Remote(lexdesk_remote::RemoteEmbedder::connect(self.remote_options(e)?).await?)
            }
            (None, Some(path)) => EmbedEngine::Local(EmbeddingModel::load(&path, self.embed_options()).await?),
            (None, None) => unreachable!("a local model has a path"),
        };
        *slot = Some(Loaded { source, model: model.clone() });
        Ok(model)
    }

    /// The configured chat model — a local file loaded on first use (its own engine thread), or
    /// a remote endpoint — and kept.
    ///
    /// # Errors
    /// The model is missing or cannot be loaded; a bad endpoint or key.
    pub async fn chat_model(&self) -> Result<ChatEngine, DeskError> {
        let config = self.config();
        let (source, path) = match &config.remote.chat {
            Some(e) => (format!("{e:?}"), None),
            None => {
                let path = self.model_path(config::ModelRole::Chat, &config.models.chat)?;
                (format!("{path:?} {:?}", self.load_options()), Some(path))
            }
        };
        let mut slot = self.chat.lock().await;
        if let Some(l) = slot.as_ref().filter(|l| l.source == source) {
            return Ok(l.model.clone());
        }
        // Free the old model's memory before loading the next.
        *slot = None;
        let model = match (&config.remote.chat, path) {
            (Some(e), _) => ChatEngine::Remote(lexdesk_remote::RemoteGenerator::new(self.remote_options(e)?)?),
            (None, Some(path)) => ChatEngine::Local(ChatModel::load(&path, self.load_options()).await?),
            (None, None) => unreachable!("a local model has a path"),
        };
        *slot = Some(Loaded { source, model: model.clone() });
        Ok(model)
    }

    // --- documents -----------------------------------------------------------------------------

    async fn reader(&self, matter: &Matter) -> Result<Option<LanceStore>, DeskError> {
        let Some(dims) = LanceStore::stored_dimensions(&matter.store_dir()).await? else { return Ok(None) };
        Ok(Some(LanceStore::open(&matter.store_dir(), dims, StoreOptions::default()).await?))
    }

    /// The ids of the models loaded now (without waiting for one being loaded): chat, then
    /// embedding.
    #[must_use]
    pub fn loaded_models(&self) -> (Option<String>, Option<String>) {
        let chat = self.chat.try_lock().ok().and_then(|s| s.as_ref().map(|l| l.model.id()));
        let embed = self.embedder.try_lock().ok().and_then(|s| s.as_ref().map(|l| l.model.id()));
        (chat, embed)
    }

    /// The configured chat and embedding models (what the server lists).
    ///
    /// # Errors
    /// A configured local model is missing.
    pub fn configured_models(&self) -> Result<(ModelRef, ModelRef), DeskError> {
        let config = self.config();
        let model = |kind: config::ModelRole, name: &str, remote: Option<&config::RemoteEndpoint>| match remote {
            Some(e) => Ok(ModelRef { id: e.model.clone(), path: None, url: Some(e.url.clone()) }),
            None => {
                let path = self.model_path(kind, name)?;
                Ok::<_, DeskError>(ModelRef { id: file_id(&path), path: Some(path), url: None })
            }
        };
        Ok((
            model(config::ModelRole::Chat, &config.models.chat, config.remote.chat.as_ref())?,
            model(config::ModelRole::Embedding, &config.models.embed, config.remote.embed.as_ref())?,
        ))
    }

    /// The configuration as loaded (`config.toml` with the environment's overrides).
    #[must_use]
    pub fn configuration(&self) -> Config {
        self.config()
    }

    /// Search a matter (hybrid, vector or full text) without generating anything.
    ///
    /// # Errors
    /// Unknown matter or document, empty query, the embedding model or the store failed.
    pub async fn search(&self, matter_id: &str, request: &SearchRequest) -> Result<Vec<SearchHit>, DeskError> {
        let matter = self.matter(matter_id)?;
        if request.query.trim().is_empty() {
            return Err(DeskError::EmptyQuestion);
        }
        let Some(store) = self.reader(&matter).await? else { return Ok(Vec::new()) };
        let embedder = match request.mode {
            lexdesk_core::store::SearchMode::Text => None,
            _ => Some(self.embedding_model().await?),
        };
        let searcher = Searcher::new(&store, embedder.as_ref()).await?;
        Ok(searcher.search(request).await?)
    }

    /// Several searches over one matter with one open store and one embedder (evaluation sets,
    /// `search --batch`): each request's hits, or that request's own error (an empty query, a
    /// `doc` naming no document) without stopping the others.
    ///
    /// # Errors
    /// Unknown matter, the embedding model or the store failed.
    pub async fn search_batch(
        &self,
        matter_id: &str,
        requests: &[SearchRequest],
    ) -> Result<Vec<Result<Vec<SearchHit>, DeskError>>, DeskError> {
        let matter = self.matter(matter_id)?;
        let Some(store) = self.reader(&matter).await? else {
            return Ok(requests.iter().map(|_| Ok(Vec::new())).collect());
        };
        let embedder = match requests.iter().any(|r| r.mode != lexdesk_core::store::SearchMode::Text) {
            true => Some(self.embedding_model().await?),
            false => None,
        };
        let searcher = Searcher::new(&store, embedder.as_ref()).await?;
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.push(if request.query.trim().is_empty() {
                Err(DeskError::EmptyQuestion)
            } else {
                searcher.search(request).await.map_err(DeskError::from)
            });
        }
        Ok(results)
    }

    /// A matter's documents (indexed, failed with their reason, or being ingested), newest first.
    ///
    /// # Errors
    /// Unknown matter, or the store cannot be read.
    pub async fn documents(&self, matter_id: &str) -> Result<Vec<DocumentRecord>, DeskError> {
        let matter = self.matter(matter_id)?;
        let Some(store) = self.reader(&matter).await? else { return Ok(Vec::new()) };
        let mut docs = store.documents().await?;
        docs.sort_by(|a, b| b.added_at_ms.cmp(&a.added_at_ms).then_with(|| a.file_name.cmp(&b.file_name)));
        Ok(docs)
    }

    /// The documents of a matter that `name` names: by file name, by path as ingested, by id, or
    /// by a prefix of the id of at least 8 characters (what `--doc` and `docs --remove` accept).
    ///
    /// # Errors
    /// Unknown matter, no document of that name, or the store cannot be read.
    pub async fn find_documents(&self, matter_id: &str, name: &str) -> Result<Vec<DocumentRecord>, DeskError> {
        let found: Vec<_> = self
            .documents(matter_id)
            .await?
            .into_iter()
            .filter(|d| lexdesk_service::search::names_document(d, name))
            .collect();
        if found.is_empty() {
            return Err(DeskError::DocumentNotFound(name.to_owned()));
        }
        Ok(found)
    }

    fn ingest_queue(&self, matter_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self.ingest_queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.entry(matter_id.to_string()).or_default().clone()
    }

    /// Add files and folders (recursively) to a matter: extract (PDFs in worker processes, OCR
    /// for scans), chunk, embed and index them. A file that fails is recorded with its reason
    /// and never stops the others. Runs for the same matter wait for each other.
    ///
    /// # Errors
    /// Unknown matter, a path that does not exist, the embedding model or the store failed.
    pub async fn ingest(
        &self,
        matter_id: &str,
        paths: Vec<PathBuf>,
        cancel: &CancelToken,
        on_event: impl FnMut(IngestEvent) + Send,
    ) -> Result<IngestSummary, DeskError> {
        let matter = self.matter(matter_id)?;
        let paths = validate_inputs(paths)?;
        let queue = self.ingest_queue(&matter.id);
        let _turn = queue.lock().await;
        let config = self.config();
        let tokenizer = self.model_path(config::ModelRole::Tokenizer, &config.models.embed_tokenizer)?;
        let counter = Arc::new(
            lexdesk_ingest::HfTokenCounter::from_file(&tokenizer)
                .map_err(|e| DeskError::Tokenizer { path: tokenizer.clone(), message: e.to_string() })?,
        );
        let embedder = self.embedding_model().await?;
        let store =
            LanceStore::open_writer(&matter.store_dir(), embedder.dimensions(), StoreOptions::default()).await?;
        let settings = self.ingest_settings;
        let mut worker = WorkerConfig::lexdesk(self.worker_program.clone());
        worker.timeout = settings.pdf_timeout;
        let mut options = IngestOptions::new(ExtractConfig {
            worker,
            ocr: if settings.ocr { lexdesk_ingest::ocr::Ocr::detect() } else { None },
        });
        if let Some(n) = settings.write_documents {
            options.write_documents = n.max(1);
        }
        Ok(lexdesk_service::ingest::ingest(&store, &embedder, counter, &paths, &options, cancel, on_event).await?)
    }

    /// Ingest a failed document again from the path it was added from.
    ///
    /// # Errors
    /// Unknown matter or document, the file is gone, or as [`Self::ingest`].
    pub async fn retry_document(
        &self,
        matter_id: &str,
        doc_id: &str,
        cancel: &CancelToken,
        on_event: impl FnMut(IngestEvent) + Send,
    ) -> Result<IngestSummary, DeskError> {
        let doc = self.document(matter_id, doc_id).await?;
        self.ingest(matter_id, vec![PathBuf::from(&doc.source_path)], cancel, on_event).await
    }

    async fn document(&self, matter_id: &str, doc_id: &str) -> Result<DocumentRecord, DeskError> {
        self.documents(matter_id)
            .await?
            .into_iter()
            .find(|d| d.id == doc_id)
            .ok_or_else(|| DeskError::DocumentNotFound(doc_id.to_string()))
    }

    /// Remove a document with its pages and chunks.
    ///
    /// # Errors
    /// Unknown matter or document, or documents are being added to the matter.
    pub async fn remove_document(&self, matter_id: &str, doc_id: &str) -> Result<(), DeskError> {
        let matter = self.matter(matter_id)?;
        let queue = self.ingest_queue(&matter.id);
        let _turn = queue.lock().await;
        let Some(dims) = LanceStore::stored_dimensions(&matter.store_dir()).await? else {
            return Err(DeskError::DocumentNotFound(doc_id.to_string()));
        };
        let store = LanceStore::open_writer(&matter.store_dir(), dims, StoreOptions::default()).await?;
        if !store.delete_document(doc_id).await? {
            return Err(DeskError::DocumentNotFound(doc_id.to_string()));
        }
        store.optimize().await?;
        Ok(())
    }

    /// One page of a document as stored: the text citations are checked against.
    ///
    /// # Errors
    /// Unknown matter, document or page.
    pub async fn page(&self, matter_id: &str, doc_id: &str, number: u32) -> Result<PageView, DeskError> {
        let matter = self.matter(matter_id)?;
        let store = self.reader(&matter).await?.ok_or_else(|| DeskError::DocumentNotFound(doc_id.to_string()))?;
        let doc = store
            .documents()
            .await?
            .into_iter()
            .find(|d| d.id == doc_id)
            .ok_or_else(|| DeskError::DocumentNotFound(doc_id.to_string()))?;
        if doc.status != DocumentStatus::Indexed {
            return Err(DeskError::DocumentNotIndexed(doc.file_name));
        }
        let page = store.pages(doc_id, &[number]).await?.into_iter().next().ok_or(DeskError::PageNotFound {
            doc: doc.file_name.clone(),
            page: number,
            pages: doc.page_count,
        })?;
        Ok(PageView::new(&doc, page))
    }

    // --- answers and sessions ------------------------------------------------------------------

    /// Answer a question from the matter's documents, with verified citations, as a turn of a
    /// chat session (a new one when `session_id` is `None`); the session is saved before this
    /// returns. `cancel` stops generation; the partial answer is checked and saved, marked
    /// stopped.
    ///
    /// # Errors
    /// Unknown matter or session, empty question, models or store failing. Abstaining is a
    /// normal answer.
    pub async fn ask(
        &self,
        matter_id: &str,
        params: AskParams,
        cancel: CancelToken,
        on_progress: &mut (dyn FnMut(AnswerProgress<'_>) + Send),
    ) -> Result<AskResult, DeskError> {
        let matter = self.matter(matter_id)?;
        let sessions = Sessions::new(&matter.dir);
        let mut session = match params.session_id.as_deref() {
            Some(id) => sessions.load(id)?,
            None => sessions.create("")?,
        };
        let turn = self.answer_turn(&matter, &params, session.history(), cancel, on_progress).await?;
        session.push(turn.clone());
        sessions.save(&session)?;
        Ok(AskResult { session: SessionSummary::of(&session), turn })
    }

    /// [`Desk::ask`] without a chat session: a one-off answer (the CLI's `ask`), nothing saved;
    /// `session_id` is ignored.
    ///
    /// # Errors
    /// As [`Desk::ask`].
    pub async fn answer(
        &self,
        matter_id: &str,
        params: &AskParams,
        cancel: CancelToken,
        on_progress: &mut (dyn FnMut(AnswerProgress<'_>) + Send),
    ) -> Result<SessionTurn, DeskError> {
        let matter = self.matter(matter_id)?;
        self.answer_turn(&matter, params, Vec::new(), cancel, on_progress).await
    }

    async fn answer_turn(
        &self,
        matter: &Matter,
        params: &AskParams,
        history: Vec<lexdesk_service::answer::Turn>,
        cancel: CancelToken,
        on_progress: &mut (dyn FnMut(AnswerProgress<'_>) + Send),
    ) -> Result<SessionTurn, DeskError> {
        if params.question.trim().is_empty() {
            return Err(DeskError::EmptyQuestion);
        }
        // A template's errors (unknown, not for questions, a bad input) come before any model loads.
        let shaped = match params.template.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(name) => {
                let template = self.template_library().get(name)?.template;
                let inputs = params.template_inputs.clone().unwrap_or_default();
                Some(template.answer_instructions(params.question.trim(), &inputs)?)
            }
            None => None,
        };
        let search_mode = params.search_mode.unwrap_or_default();
        // Full-text retrieval needs no embedding model; the store keeps its own dimensions.
        let embedder = match search_mode {
            SearchMode::Text => None,
            _ => Some(self.embedding_model().await?),
        };
        let dims = match &embedder {
            Some(e) => e.dimensions(),
            None => LanceStore::stored_dimensions(&matter.store_dir()).await?.unwrap_or(1),
        };
        // A matter without documents yet still answers (it abstains): an empty store opens.
        let store = LanceStore::open(&matter.store_dir(), dims, StoreOptions::default()).await?;
        let searcher = Searcher::new(&store, embedder.as_ref()).await?;
        let mode = params.mode.unwrap_or_default();
        let generator = match mode {
            AnswerMode::Generate => Some(self.chat_model().await?),
            AnswerMode::Extractive => None,
        };
        let model_name = generator.as_ref().map(ChatEngine::name);
        let options = answer_options(&AnswerPolicy {
            mode,
            search_mode,
            top_k: params.top_k,
            max_tokens: params.max_tokens,
            configured_max_tokens: self.config().generation.max_tokens,
            template: shaped.as_ref().map(|s| TemplateShaping {
                max_tokens: s.parameters.max_tokens,
                sampling: s.parameters.sampling(),
                instructions: s.text.clone(),
            }),
            context_length: generator.as_ref().map(Generator::context_length),
        });
        let request =
            AskRequest { question: params.question.trim().to_string(), doc: params.doc.clone(), history, cancel };
        let answer = ask(&searcher, generator.as_ref(), &request, &options, on_progress).await?;
        let prompt = answer.prompt.clone();
        Ok(SessionTurn {
            question: request.question,
            answer,
            model: model_name,
            template: shaped.map(|s| s.template),
            asked_at_ms: now_ms(),
            prompt,
        })
    }

    /// A matter's chat sessions, newest first.
    ///
    /// # Errors
    /// Unknown matter or unreadable sessions folder.
    pub fn sessions(&self, matter_id: &str) -> Result<Vec<SessionSummary>, DeskError> {
        let matter = self.matter(matter_id)?;
        Ok(Sessions::new(&matter.dir).list()?.iter().map(SessionSummary::of).collect())
    }

    /// One chat session with every turn.
    ///
    /// # Errors
    /// Unknown matter or session.
    pub fn session(&self, matter_id: &str, session_id: &str) -> Result<ChatSession, DeskError> {
        let matter = self.matter(matter_id)?;
        Ok(Sessions::new(&matter.dir).load(session_id)?)
    }

    /// Rename a chat session.
    ///
    /// # Errors
    /// Unknown matter or session, empty title.
    pub fn rename_session(&self, matter_id: &str, session_id: &str, title: &str) -> Result<SessionSummary, DeskError> {
        let matter = self.matter(matter_id)?;
        Ok(SessionSummary::of(&Sessions::new(&matter.dir).rename(session_id, title)?))
    }

    /// Delete a chat session.
    ///
    /// # Errors
    /// Unknown matter or session.
    pub fn delete_session(&self, matter_id: &str, session_id: &str) -> Result<SessionSummary, DeskError> {
        let matter = self.matter(matter_id)?;
        Ok(SessionSummary::of(&Sessions::new(&matter.dir).delete(session_id)?))
    }

    /// A session as Markdown or JSON, with its citations and their checks.
    ///
    /// # Errors
    /// Unknown matter or session.
    pub fn export_session(&self, matter_id: &str, session_id: &str, format: ExportFormat) -> Result<String, DeskError> {
        let session = self.session(matter_id, session_id)?;
        Ok(match format {
            ExportFormat::Markdown => session.to_markdown(),
            ExportFormat::Json => serde_json::to_string_pretty(&session)
                .map_err(|e| DeskError::Internal(format!("cannot serialise the session: {e}")))?,
        })
    }

    /// Write a session export to a file the user chose.
    ///
    /// # Errors
    /// As [`Self::export_session`]; the path's folder does not exist or cannot be written.
    pub fn export_session_to(
        &self,
        matter_id: &str,
        session_id: &str,
        format: ExportFormat,
        path: &Path,
    ) -> Result<(), DeskError> {
        let text = self.export_session(matter_id, session_id, format)?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() || path.is_dir() {
            return Err(DeskError::InvalidPath {
                path: path.to_path_buf(),
                reason: "not a file in an existing folder",
            });
        }
        std::fs::write(path, text).map_err(|e| DeskError::io(path.to_path_buf(), &e))
    }

    // --- settings and hardware -----------------------------------------------------------------

    /// The current settings and the models available to choose from.
    #[must_use]
    pub fn settings(&self) -> Settings {
        Settings::of(&self.config(), &self.home)
    }

    /// Change settings and save `config.toml`; the next answer loads the new model.
    ///
    /// # Errors
    /// A chosen model file does not exist, or the configuration cannot be written.
    pub fn update_settings(&self, update: SettingsUpdate) -> Result<Settings, DeskError> {
        let mut config = self.config();
        update.apply(&mut config)?;
        for (kind, name) in
            [(config::ModelRole::Chat, &config.models.chat), (config::ModelRole::Embedding, &config.models.embed)]
        {
            self.model_path(kind, name)?;
        }
        config.save(&self.home)?;
        *self.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(self.settings())
    }

    /// CPU, memory and the compute devices llama.cpp sees.
    #[must_use]
    pub fn hardware(&self) -> Hardware {
        Hardware::detect()
    }

    // --- model catalog -------------------------------------------------------------------------

    /// The curated catalog with each file's fit on this machine, what is installed, and the
    /// recommended chat and embedding models for Chinese and English documents.
    ///
    /// # Errors
    /// The catalog or the list of imported models cannot be read.
    pub fn model_catalog(&self) -> Result<ModelCatalog, DeskError> {
        let catalog = lexdesk_models::Catalog::builtin()?;
        let hw = self.hardware().for_fit();
        let installed = lexdesk_models::local::installed(
            &self.home.models_dir(),
            &config::model_search_path(&self.home),
            &catalog,
        )?;
        let context = self.config().engine.context_length;
        let recommend = |kind| lexdesk_models::fit::recommend(&catalog, &hw, kind, Some("zh"), context);
        Ok(ModelCatalog {
            entries: lexdesk_models::catalog_entries(&catalog, &hw, &installed, None, context),
            chat: recommend(lexdesk_models::CatalogKind::Chat),
            embedding: recommend(lexdesk_models::CatalogKind::Embedding),
            models_dir: self.home.models_dir().display().to_string(),
        })
    }

    /// Download catalog model `id` (and a vision model's projector) into the models folder,
    /// resumable and checksum-verified; progress on `on_event`; `cancel` keeps the partial
    /// file for the next attempt. The downloaded model then appears in the settings' model
    /// lists.
    ///
    /// # Errors
    /// Unknown model or quantisation, network, checksum, disk space, cancelled.
    pub async fn download_model(
        &self,
        id: &str,
        quant: Option<&str>,
        cancel: &CancelToken,
        on_event: &(dyn Fn(lexdesk_models::DownloadEvent) + Sync),
    ) -> Result<Vec<lexdesk_models::DownloadOutcome>, DeskError> {
        let config = self.config();
        let endpoint = lexdesk_models::hub_endpoint(config.hub.endpoint.as_deref());
        let token = lexdesk_models::secrets::hub_token(self.home.root());
        let catalog = lexdesk_models::Catalog::builtin()?;
        let plan =
            lexdesk_models::plan_download(&catalog, id, quant, &endpoint, &self.home.models_dir(), token.as_deref())?;
        let downloader = lexdesk_models::Downloader::new(lexdesk_models::DownloadOptions {
            read_timeout: std::time::Duration::from_secs(config.hub.read_timeout_secs.max(1)),
            retries: config.hub.retries,
            ..lexdesk_models::DownloadOptions::default()
        })?;
        let mut done = Vec::new();
        for p in plan {
            let outcome = downloader.download(&p.spec, cancel, on_event).await?;
            // Verified bytes must also be a model llama.cpp can read.
            lexdesk_engine::inspect(&outcome.path, &self.load_options())?;
            done.push(outcome);
        }
        Ok(done)
    }
}

/// Inputs must exist; they are made absolute (the store records where a document came from).
fn validate_inputs(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, DeskError> {
    if paths.is_empty() {
        return Err(DeskError::InvalidPath { path: PathBuf::new(), reason: "no files or folders given" });
    }
    paths
        .into_iter()
        .map(|p| {
            if !p.is_absolute() {
                return Err(DeskError::InvalidPath { path: p, reason: "not an absolute path" });
            }
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() || m.is_dir() => p.canonicalize().map_err(|e| DeskError::io(p.clone(), &e)),
                Ok(_) => Err(DeskError::InvalidPath { path: p, reason: "neither a file nor a folder" }),
                Err(e) => Err(DeskError::io(p, &e)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_must_exist_and_be_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(validate_inputs(vec![file.clone()]).unwrap(), vec![file.canonicalize().unwrap()]);
        let e = validate_inputs(vec![PathBuf::from("relative.pdf")]).unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "INVALID_PATH");
        let e = validate_inputs(vec![dir.path().join("missing.pdf")]).unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "FILE_NOT_FOUND");
        let e = validate_inputs(vec![]).unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "INVALID_PATH");
    }

    #[tokio::test]
    async fn matters_and_sessions_without_models() {
        let home = tempfile::tempdir().unwrap();
        let desk =
            Desk::open(DeskOptions { home: Some(home.path().into()), worker_program: "lexdesk".into() }).unwrap();
        let m = desk.create_matter("Acme v. Roe").unwrap();
        assert_eq!(desk.matters().unwrap().len(), 1);
        assert!(desk.documents(&m.id).await.unwrap().is_empty());
        assert!(desk.sessions(&m.id).unwrap().is_empty());
        let e = desk.page(&m.id, "nope", 1).await.unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "DOCUMENT_NOT_FOUND");
        let renamed = desk.rename_matter(&m.id, "Acme v. Roe (2026)").unwrap();
        assert_eq!(renamed.name, "Acme v. Roe (2026)");
        let e = desk.create_matter("acme v. roe (2026)").unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "MATTER_EXISTS");
        desk.delete_matter(&m.id).unwrap();
        assert!(desk.matters().unwrap().is_empty());
        let e = desk.documents(&m.id).await.unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "MATTER_NOT_FOUND");
    }

    #[test]
    fn settings_are_saved_and_validated() {
        let home = tempfile::tempdir().unwrap();
        let desk =
            Desk::open(DeskOptions { home: Some(home.path().into()), worker_program: "lexdesk".into() }).unwrap();
        let e = desk
            .update_settings(SettingsUpdate {
                chat_model: Some("no-such-model.gguf".into()),
                ..SettingsUpdate::default()
            })
            .unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "MODEL_MISSING");
        assert!(!home.path().join("config.toml").exists(), "nothing saved on error");
    }
}
