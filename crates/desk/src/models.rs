//! `desk.models()`: the configured chat and embedding models (each local one loaded once, on its
//! own engine thread, or a remote endpoint), the catalog and downloads, and this machine's
//! hardware. Models already on the machine (discovery, import, the hub token) are in
//! `local_models.rs`.

use std::path::PathBuf;

use lexdesk_core::config::{self, Config};
use lexdesk_core::embed::{Embedder, TokenCounter};
use lexdesk_core::model::LoadOptions;
use lexdesk_engine::{ChatModel, EmbeddingModel};
use lexdesk_service::matters::EmbedderRecord;
use lexdesk_store::LanceStore;

use crate::{
    ChatEngine, Desk, DeskError, DeviceInfo, EmbedEngine, Hardware, Inspection, Loaded, Matter, ModelCatalog, ModelRef,
    file_id,
};

/// The built-in default embedding model before LexDesk recorded each matter's model: a matter
/// without a record whose vectors have [`LEGACY_EMBED_DIMENSIONS`] was built with it.
pub const LEGACY_EMBED_MODEL: &str = "all-MiniLM-L6-v2-q8_0.gguf";
/// Its vector size.
pub const LEGACY_EMBED_DIMENSIONS: usize = 384;

/// A chat model judging relevance ([`lexdesk_engine::RerankRequest`]: Qwen3-Reranker's format).
#[derive(Debug, Clone)]
pub struct ChatReranker(ChatModel);

/// What a relevant passage does, for the reranker.
const RERANK_INSTRUCTION: &str = "Given a legal question, judge whether the passage answers it";

impl lexdesk_core::embed::Reranker for ChatReranker {
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: Vec<String>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<f32>, lexdesk_core::EngineError>> + Send + 'a>> {
        Box::pin(self.0.rerank(lexdesk_engine::RerankRequest {
            instruction: RERANK_INSTRUCTION.into(),
            query: query.into(),
            documents,
        }))
    }
}

/// What chunks are sized with (see [`ModelsApi::token_counter`]).
#[derive(Debug)]
pub(crate) enum ChunkTokens {
    /// A configured `tokenizer.json`.
    File(Box<lexdesk_ingest::HfTokenCounter>),
    /// The local embedding model's own vocabulary.
    Model(lexdesk_engine::EmbedTokenCounter),
    /// A remote embedder without a configured tokenizer.
    Estimated(lexdesk_ingest::EstimatedTokenCounter),
}

impl ChunkTokens {
    /// The embedder's own vocabulary, or the estimate for a remote one.
    pub(crate) fn of(engine: &EmbedEngine) -> Self {
        match engine {
            EmbedEngine::Local(model) => Self::Model(model.token_counter()),
            EmbedEngine::Remote(_) => Self::Estimated(lexdesk_ingest::EstimatedTokenCounter),
        }
    }
}

impl TokenCounter for ChunkTokens {
    fn count(&self, text: &str) -> usize {
        match self {
            Self::File(c) => c.count(text),
            Self::Model(c) => c.count(text),
            Self::Estimated(c) => c.count(text),
        }
    }
    fn overhead(&self) -> usize {
        match self {
            Self::File(c) => c.overhead(),
            Self::Model(c) => c.overhead(),
            Self::Estimated(c) => c.overhead(),
        }
    }
}

/// The models of a desk ([`Desk::models`]).
#[derive(Debug, Clone, Copy)]
pub struct ModelsApi<'d> {
    pub(crate) desk: &'d Desk,
}

impl ModelsApi<'_> {
    pub(crate) fn load_options(self) -> LoadOptions {
        self.desk.config().load_options()
    }

    /// `[engine] context_length` and `[server] parallel` are the chat model's: an embedding
    /// model always uses its own trained context (at most 8192) and one sequence.
    fn embed_options(self) -> LoadOptions {
        LoadOptions { context_length: None, parallel: 1, ..self.load_options() }
    }

    pub(crate) fn path(self, kind: config::ModelRole, name: &str) -> Result<PathBuf, DeskError> {
        Ok(config::resolve_model(kind, name, &config::model_search_path(&self.desk.home))?)
    }

    /// The API key of a remote endpoint: from its key file, or the OS keychain.
    fn remote_options(self, e: &config::RemoteEndpoint) -> Result<lexdesk_remote::RemoteOptions, DeskError> {
        let api_key = if let Some(file) = &e.key_file {
            let text = std::fs::read_to_string(file).map_err(|err| DeskError::io(file.clone(), &err))?;
            Some(text.trim().to_string())
        } else if let Some(name) = &e.key {
            let secrets = lexdesk_models::secrets::Secrets::open(self.desk.home.root())?;
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
    pub async fn embedding(self) -> Result<EmbedEngine, DeskError> {
        let config = self.desk.config();
        match &config.remote.embed {
            Some(e) => self.load_embedding(None, Some(e)).await,
            None => {
                let path = self.path(config::ModelRole::Embedding, &config.models.embed)?;
                self.load_embedding(Some(path), None).await
            }
        }
    }

    /// The model `matter` was built with (see [`Self::matter_embedder`]): the configured one
    /// when it is the same, else the matter's own, loaded in its place.
    ///
    /// # Errors
    /// The matter's model is no longer available (`EMBEDDER_UNAVAILABLE`: re-embed the matter),
    /// or it cannot be loaded.
    pub(crate) async fn embedding_for(self, matter: &Matter) -> Result<EmbedEngine, DeskError> {
        let built_with = self.matter_embedder(matter).await?;
        let Some(record) = built_with.filter(|r| !self.is_configured(r)) else { return self.embedding().await };
        let unavailable =
            || DeskError::EmbedderUnavailable { matter: matter.name.clone(), model: record.display_name() };
        if record.endpoint.is_some() {
            // Only the configured endpoint has a key and settings; another one cannot be called.
            return Err(unavailable());
        }
        let path = record.path.as_deref().map(PathBuf::from).filter(|p| p.is_file());
        let path = match path {
            Some(p) => p,
            None => self.path(config::ModelRole::Embedding, &record.display_name()).map_err(|_| unavailable())?,
        };
        self.load_embedding(Some(path), None).await
    }

    /// The embedding model `matter` was built with: its record, or for a matter built before
    /// LexDesk recorded it, the built-in default of that time ([`LEGACY_EMBED_MODEL`], 384
    /// dimensions) when the store's vectors have that size; `None` for a matter without
    /// passages (any model will do).
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn matter_embedder(self, matter: &Matter) -> Result<Option<EmbedderRecord>, DeskError> {
        if let Some(r) = &matter.embedder {
            return Ok(Some(r.clone()));
        }
        let dims = LanceStore::stored_dimensions(&matter.store_dir()).await?;
        Ok(dims.filter(|d| *d == LEGACY_EMBED_DIMENSIONS).map(|d| EmbedderRecord {
            model: LEGACY_EMBED_MODEL.to_string(),
            path: None,
            endpoint: None,
            dimensions: u32::try_from(d).unwrap_or(u32::MAX),
        }))
    }

    /// Whether `record` names the configured embedding model (without loading it).
    pub(crate) fn is_configured(self, record: &EmbedderRecord) -> bool {
        let config = self.desk.config();
        match (&config.remote.embed, &record.endpoint) {
            (Some(e), Some(endpoint)) => &e.url == endpoint && e.model == record.model,
            (None, None) => {
                let file = |p: &str| std::path::Path::new(p).file_name().map(std::ffi::OsStr::to_owned);
                file(&config.models.embed) == file(record.path.as_deref().unwrap_or(&record.model))
            }
            _ => false,
        }
    }

    /// The record a matter keeps of `engine`.
    #[must_use]
    pub fn record_of(self, engine: &EmbedEngine) -> EmbedderRecord {
        let dimensions = u32::try_from(engine.dimensions()).unwrap_or(u32::MAX);
        match engine {
            EmbedEngine::Local(m) => {
                let path = &m.info().metadata.path;
                EmbedderRecord {
                    model: path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
                    path: Some(path.display().to_string()),
                    endpoint: None,
                    dimensions,
                }
            }
            EmbedEngine::Remote(r) => EmbedderRecord {
                model: r.options().model.clone(),
                path: None,
                endpoint: Some(r.options().base_url.clone()),
                dimensions,
            },
        }
    }

    /// The configured embedding model for people: its file name, or `model @ url`.
    #[must_use]
    pub fn configured_embedder_name(self) -> String {
        let config = self.desk.config();
        match &config.remote.embed {
            Some(e) => format!("{} @ {}", e.model, e.url),
            None => std::path::Path::new(&config.models.embed)
                .file_name()
                .map_or_else(|| config.models.embed.clone(), |f| f.to_string_lossy().into_owned()),
        }
    }

    async fn load_embedding(
        self,
        path: Option<PathBuf>,
        remote: Option<&config::RemoteEndpoint>,
    ) -> Result<EmbedEngine, DeskError> {
        let source = match (remote, &path) {
            (Some(e), _) => format!("{e:?}"),
            (None, path) => format!("{path:?} {:?}", self.embed_options()),
        };
        let mut slot = self.desk.embedder.lock().await;
        if let Some(l) = slot.as_ref().filter(|l| l.source == source) {
            return Ok(l.model.clone());
        }
        *slot = None;
        let model = match (remote, path) {
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
    pub async fn chat(self) -> Result<ChatEngine, DeskError> {
        let config = self.desk.config();
        let (source, path) = match &config.remote.chat {
            Some(e) => (format!("{e:?}"), None),
            None => {
                let path = self.path(config::ModelRole::Chat, &config.models.chat)?;
                (format!("{path:?} {:?}", self.load_options()), Some(path))
            }
        };
        let mut slot = self.desk.chat.lock().await;
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

    /// What chunks for `engine` are sized with: the `tokenizer.json` configured for the
    /// embedder (`models.embed_tokenizer`) when `engine` is the configured one and one is set,
    /// else the local model's own vocabulary (through llama.cpp), else, for a remote embedder,
    /// a conservative estimate.
    pub(crate) fn token_counter(self, engine: &EmbedEngine) -> Result<ChunkTokens, DeskError> {
        let config: Config = self.desk.config();
        let file = config.models.embed_tokenizer.trim();
        if !file.is_empty() && self.is_configured(&self.record_of(engine)) {
            let tokenizer = self.path(config::ModelRole::Tokenizer, file)?;
            let counter = lexdesk_ingest::HfTokenCounter::from_file(&tokenizer)
                .map_err(|e| DeskError::Tokenizer { path: tokenizer.clone(), message: e.to_string() })?;
            return Ok(ChunkTokens::File(Box::new(counter)));
        }
        Ok(ChunkTokens::of(engine))
    }

    /// The reranker `[retrieval]` asks for: `None` when reranking is off, when it is `auto` and
    /// no reranking model is configured or it would run on the CPU (no GPU device, or
    /// `gpu_layers = 0`), or when the chat model is a remote engine (it gives no token
    /// probabilities). The model is the configured
    /// `reranker` GGUF (its own engine thread), else the chat model.
    ///
    /// # Errors
    /// The reranking model is missing or cannot be loaded.
    pub async fn reranker(self, force: Option<bool>) -> Result<Option<(ChatReranker, usize)>, DeskError> {
        let config = self.desk.config();
        let on = match (force, config.retrieval.rerank) {
            (Some(f), _) => f,
            (None, config::RerankMode::Off) => false,
            (None, config::RerankMode::On) => true,
            // A chat model used as a reranker made rankings worse on the development sets
            // (Qwen2.5-Coder-1.5B: zh-statute-semantic hit@1 0.50 → 0.30, en-nda-evidence
            // 0.70 → 0.20, 24 s per question on 2 cores): only a dedicated reranking model, on
            // a GPU, is used without being asked for.
            (None, config::RerankMode::Auto) => {
                !config.retrieval.reranker.trim().is_empty()
                    && config.engine.gpu_layers != lexdesk_core::model::GpuLayers::Count(0)
                    && self.devices().is_ok_and(|d| d.iter().any(|d| d.is_gpu))
            }
        };
        if !on {
            return Ok(None);
        }
        let depth = config.retrieval.rerank_depth.max(1);
        let name = config.retrieval.reranker.trim();
        if name.is_empty() {
            return Ok(match self.chat().await? {
                ChatEngine::Local(m) => Some((ChatReranker(m), depth)),
                ChatEngine::Remote(_) => None,
            });
        }
        let path = self.path(config::ModelRole::Chat, name)?;
        let source = format!("{path:?} {:?}", self.load_options());
        let mut slot = self.desk.reranker.lock().await;
        if let Some(l) = slot.as_ref().filter(|l| l.source == source) {
            return Ok(Some((ChatReranker(l.model.clone()), depth)));
        }
        *slot = None;
        let model = ChatModel::load(&path, self.load_options()).await?;
        *slot = Some(Loaded { source, model: model.clone() });
        Ok(Some((ChatReranker(model), depth)))
    }

    /// The ids of the models loaded now (without waiting for one being loaded): chat, then
    /// embedding.
    #[must_use]
    pub fn loaded(self) -> (Option<String>, Option<String>) {
        let chat = self.desk.chat.try_lock().ok().and_then(|s| s.as_ref().map(|l| l.model.id()));
        let embed = self.desk.embedder.try_lock().ok().and_then(|s| s.as_ref().map(|l| l.model.id()));
        (chat, embed)
    }

    /// The configured chat and embedding models (what the server lists).
    ///
    /// # Errors
    /// A configured local model is missing.
    pub fn configured(self) -> Result<(ModelRef, ModelRef), DeskError> {
        let config = self.desk.config();
        let model = |kind: config::ModelRole, name: &str, remote: Option<&config::RemoteEndpoint>| match remote {
            Some(e) => Ok(ModelRef { id: e.model.clone(), path: None, url: Some(e.url.clone()) }),
            None => {
                let path = self.path(kind, name)?;
                Ok::<_, DeskError>(ModelRef { id: file_id(&path), path: Some(path), url: None })
            }
        };
        Ok((
            model(config::ModelRole::Chat, &config.models.chat, config.remote.chat.as_ref())?,
            model(config::ModelRole::Embedding, &config.models.embed, config.remote.embed.as_ref())?,
        ))
    }

    /// The compute devices llama.cpp sees (CPU, and GPUs of the backends built in).
    ///
    /// # Errors
    /// The backend cannot be initialised.
    pub fn devices(self) -> Result<Vec<DeviceInfo>, DeskError> {
        Ok(lexdesk_engine::devices()?)
    }

    /// A GGUF file's metadata and whether it fits this machine with the configured options.
    ///
    /// # Errors
    /// Not a GGUF file, or one llama.cpp cannot read.
    pub fn inspect(self, path: &std::path::Path) -> Result<Inspection, DeskError> {
        Ok(lexdesk_engine::inspect(path, &self.load_options())?)
    }

    /// CPU, memory and the compute devices llama.cpp sees.
    #[must_use]
    pub fn hardware(self) -> Hardware {
        Hardware::detect()
    }

    /// The curated catalog with each file's fit on this machine, what is installed, and the
    /// recommended chat and embedding models for Chinese and English documents.
    ///
    /// # Errors
    /// The catalog or the list of imported models cannot be read.
    pub fn catalog(self) -> Result<ModelCatalog, DeskError> {
        let home = &self.desk.home;
        let catalog = lexdesk_models::Catalog::builtin()?;
        let hw = self.hardware().for_fit();
        let installed =
            lexdesk_models::local::installed(&home.models_dir(), &config::model_search_path(home), &catalog)?;
        let context = self.desk.config().engine.context_length;
        let recommend = |kind| lexdesk_models::fit::recommend(&catalog, &hw, kind, Some("zh"), context);
        Ok(ModelCatalog {
            entries: lexdesk_models::catalog_entries(&catalog, &hw, &installed, None, context),
            chat: recommend(lexdesk_models::CatalogKind::Chat),
            embedding: recommend(lexdesk_models::CatalogKind::Embedding),
            models_dir: home.models_dir().display().to_string(),
        })
    }
}
