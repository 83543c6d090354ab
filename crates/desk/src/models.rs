//! `desk.models()`: the configured chat and embedding models (each local one loaded once, on its
//! own engine thread, or a remote endpoint), the catalog and downloads, and this machine's
//! hardware. Models already on the machine (discovery, import, the hub token) are in
//! `local_models.rs`.

use std::path::PathBuf;

use lexdesk_core::config::{self, Config};
use lexdesk_core::model::LoadOptions;
use lexdesk_engine::{ChatModel, EmbeddingModel};

use crate::{
    ChatEngine, Desk, DeskError, DeviceInfo, EmbedEngine, Hardware, Inspection, Loaded, ModelCatalog, ModelRef, file_id,
};

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
        let (source, path) = match &config.remote.embed {
            Some(e) => (format!("{e:?}"), None),
            None => {
                let path = self.path(config::ModelRole::Embedding, &config.models.embed)?;
                (format!("{path:?} {:?}", self.embed_options()), Some(path))
            }
        };
        let mut slot = self.desk.embedder.lock().await;
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

    /// The tokenizer chunks are sized with: the configured embedder's.
    pub(crate) fn token_counter(self) -> Result<lexdesk_ingest::HfTokenCounter, DeskError> {
        let config: Config = self.desk.config();
        let tokenizer = self.path(config::ModelRole::Tokenizer, &config.models.embed_tokenizer)?;
        lexdesk_ingest::HfTokenCounter::from_file(&tokenizer)
            .map_err(|e| DeskError::Tokenizer { path: tokenizer.clone(), message: e.to_string() })
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
