//! LexDesk's home directory and its one TOML configuration file.
//!
//! Precedence, highest first: command-line flags, environment (`LEXDESK_HOME`,
//! `LEXDESK_CHAT_MODEL`, `LEXDESK_EMBED_MODEL`), `config.toml` in the home directory, built-in
//! defaults. Front ends apply flags on top of [`Config::load`]; nothing reads configuration
//! globally.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::generate::Sampling;
use crate::model::{GpuLayers, LoadOptions};

/// Environment variable naming the home directory.
pub const ENV_HOME: &str = "LEXDESK_HOME";
/// Environment variable naming the chat model (a path or a file name in the models folders).
pub const ENV_CHAT_MODEL: &str = "LEXDESK_CHAT_MODEL";
/// Environment variable naming the embedding model.
pub const ENV_EMBED_MODEL: &str = "LEXDESK_EMBED_MODEL";
/// Environment variable naming an extra folder of model files (the test-model cache).
pub const ENV_MODELS_DIR: &str = "LEXDESK_MODELS_DIR";

/// The built-in default chat model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, Chinese and English,
/// 1.1 GB, about 12 tokens/s on two CPU cores (installed by `models/install_test_models.py`).
pub const DEFAULT_CHAT_MODEL: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
/// The built-in default embedding model: multilingual-e5-small Q4_0 (Chinese, English and about
/// a hundred other languages; 384 dimensions).
pub const DEFAULT_EMBED_MODEL: &str = "multilingual-e5-small-q4_0.gguf";

/// Errors reading or writing configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No home directory could be determined.
    #[error("cannot determine an application data directory; set LEXDESK_HOME or pass --home")]
    NoHome,
    /// The config file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for LexDesk.
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A model could not be found.
    #[error("{kind} model `{name}` not found (looked in: {searched})")]
    ModelMissing {
        /// What the file is for.
        kind: ModelRole,
        /// The configured name or path.
        name: String,
        /// Where it was looked for.
        searched: String,
    },
}

crate::error_codes!(ConfigError {
    Self::NoHome => "NO_HOME", Io;
    Self::Io { .. } => "CONFIG_IO", Io;
    Self::Parse { .. } => "CONFIG_INVALID", InvalidData;
    Self::ModelMissing { .. } => "MODEL_MISSING", ModelFile;
});

/// The directory holding LexDesk's configuration, matters and models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `explicit` if given (the CLI passes `--home`/`LEXDESK_HOME` here), else the OS
    /// application-data directory (`~/.local/share/lexdesk` on Linux,
    /// `~/Library/Application Support/app.LexDesk.LexDesk` on macOS, `%APPDATA%\LexDesk\LexDesk\data` on Windows).
    ///
    /// # Errors
    /// [`ConfigError::NoHome`] when neither is available.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(root) = explicit {
            return Ok(Self { root: root.to_path_buf() });
        }
        directories::ProjectDirs::from("app", "LexDesk", "LexDesk")
            .map(|d| Self { root: d.data_dir().to_path_buf() })
            .ok_or(ConfigError::NoHome)
    }

    /// The data directory at `root`.
    #[must_use]
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.toml`.
    #[must_use]
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// Where downloaded and imported models live.
    #[must_use]
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }
    /// Where matters (one LanceDB store each) live.
    #[must_use]
    pub fn matters_dir(&self) -> PathBuf {
        self.root.join("matters")
    }
    /// The user's prompt templates (`*.toml`).
    #[must_use]
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }
    /// Saved template comparisons (`<uuid v7>.json`).
    #[must_use]
    pub fn comparisons_dir(&self) -> PathBuf {
        self.root.join("comparisons")
    }
    /// The server's API keys (hashes only).
    #[must_use]
    pub fn server_keys_file(&self) -> PathBuf {
        self.root.join("server").join("keys.toml")
    }
    /// Files uploaded to the server, one folder per ingestion job.
    #[must_use]
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }
    /// The encrypted-file fallback of the secret store.
    #[must_use]
    pub fn secrets_file(&self) -> PathBuf {
        self.root.join("secrets.json.enc")
    }
    /// The marker that the demo matter was prepared once (a deleted demo stays deleted).
    #[must_use]
    pub fn demo_marker(&self) -> PathBuf {
        self.root.join(".demo-prepared")
    }
}

/// Which models to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Chat model: a path, or a file name looked up in the models folders.
    pub chat: String,
    /// Embedding model, likewise.
    pub embed: String,
    /// A Hugging Face `tokenizer.json` (a path or a file name in the models folders) to size
    /// chunks with. Empty (the default): the embedding model's own vocabulary, read from its
    /// GGUF; set it for a remote embedder, whose vocabulary LexDesk cannot read (without it,
    /// chunks are sized by a conservative estimate). Choosing another embedding model clears it.
    pub embed_tokenizer: String,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self { chat: DEFAULT_CHAT_MODEL.into(), embed: DEFAULT_EMBED_MODEL.into(), embed_tokenizer: String::new() }
    }
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// CPU threads (default: physical cores).
    pub threads: Option<u32>,
    /// GPU layers: `"auto"` or a number.
    #[serde(with = "gpu_layers_serde")]
    pub gpu_layers: GpuLayers,
    /// Context length (default: min(model context, 8192)).
    pub context_length: Option<u64>,
}

mod gpu_layers_serde {
    use super::GpuLayers;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &GpuLayers, s: S) -> Result<S::Ok, S::Error> {
        match v {
            GpuLayers::Auto => s.serialize_str("auto"),
            GpuLayers::Count(n) => s.serialize_u32(*n),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<GpuLayers, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(GpuLayers::Count(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Default generation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Maximum tokens per answer.
    pub max_tokens: u32,
    /// Sampling (`[generation.sampling]`).
    pub sampling: Sampling,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self { max_tokens: 1024, sampling: Sampling::default() }
    }
}

/// When search results are reranked (`[retrieval] rerank`).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RerankMode {
    /// When a reranking model (`reranker`) is configured and runs on a GPU (on two CPU cores a
    /// 1.5B model costs over two seconds per passage).
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

impl std::str::FromStr for RerankMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(format!("unknown rerank mode `{other}` (auto, on or off)")),
        }
    }
}

/// Retrieval (`[retrieval]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Rerank the candidates of a search with a language model: auto, on or off.
    pub rerank: RerankMode,
    /// Candidates reranked per search.
    pub rerank_depth: usize,
    /// The reranking model: a GGUF file name or path (a Qwen3-Reranker, or any chat model of
    /// the same prompt format); empty = the chat model.
    pub reranker: String,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self { rerank: RerankMode::Auto, rerank_depth: 10, reranker: String::new() }
    }
}

/// Where models are downloaded from (`[hub]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// The Hugging Face endpoint (a mirror or proxy); default `HF_ENDPOINT`, else
    /// `https://huggingface.co`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Seconds without data before a transfer counts as stalled and is retried.
    pub read_timeout_secs: u64,
    /// Retries after a transient failure (each resumes where the last stopped).
    pub retries: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self { endpoint: None, read_timeout_secs: 30, retries: 5 }
    }
}

/// The HTTP server (`[server]`, `lexdesk serve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on. Loopback unless told otherwise.
    pub bind: String,
    /// Generation requests decoded together (continuous batching: one context, a sequence of
    /// the full context length each); more wait in the queue.
    pub parallel: u32,
    /// Generation requests that may wait; beyond that the server answers 503 with
    /// `Retry-After`.
    pub queue: u32,
    /// Largest JSON request body, in KiB (413 beyond).
    pub max_json_kib: u64,
    /// Largest document upload (one multipart request), in MiB (413 beyond).
    pub max_upload_mib: u64,
    /// Requests per minute per API key (0 = unlimited); beyond, 429 with `Retry-After`.
    pub rate_limit_per_minute: u32,
    /// Requests a key may make at once above the steady rate.
    pub rate_limit_burst: u32,
    /// Seconds a generation may wait in the queue before 503.
    pub queue_timeout_secs: u64,
    /// Quality monitoring: a gold set (`lexdesk eval sets`) run on a schedule, its metrics
    /// exported as `lexdesk_eval_*` gauges; empty = off.
    pub probe_set: String,
    /// The matter the probe set is asked of (empty: an instruction-only set).
    pub probe_matter: String,
    /// Seconds between probe runs (the first starts when the server does).
    pub probe_interval_secs: u64,
    /// Only the first N items of the probe set (0 = all).
    pub probe_limit: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            parallel: 1,
            queue: 32,
            max_json_kib: 2048,
            max_upload_mib: 200,
            rate_limit_per_minute: 600,
            rate_limit_burst: 60,
            queue_timeout_secs: 120,
            probe_set: String::new(),
            probe_matter: String::new(),
            probe_interval_secs: 3600,
            probe_limit: 0,
        }
    }
}

/// An OpenAI-compatible endpoint (vLLM, TGI, llama.cpp's server, Ollama, another LexDesk)
/// used instead of a local model: `[remote.chat]` or `[remote.embed]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteEndpoint {
    /// Base URL of the API, e.g. `http://vllm:8000/v1`.
    pub url: String,
    /// The model name the engine serves.
    pub model: String,
    /// Name of the API key in the OS keychain (`lexdesk secrets set NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Or a file holding the key (container secrets, e.g. `/run/secrets/vllm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Seconds without data before a request fails.
    #[serde(default = "RemoteEndpoint::default_timeout")]
    pub timeout_secs: u64,
    /// Retries after a transient failure (connection, 408, 429, 5xx).
    #[serde(default = "RemoteEndpoint::default_retries")]
    pub retries: u32,
    /// The model's context length on the engine.
    #[serde(default = "RemoteEndpoint::default_context")]
    pub context_length: u32,
    /// Embedding only: text before a query (E5: `query: `).
    #[serde(default)]
    pub query_prefix: String,
    /// Embedding only: text before a document passage (E5: `passage: `).
    #[serde(default)]
    pub document_prefix: String,
}

impl RemoteEndpoint {
    fn default_timeout() -> u64 {
        120
    }
    fn default_retries() -> u32 {
        2
    }
    fn default_context() -> u32 {
        8192
    }
}

/// Remote engines (`[remote]`); a local model is used for what is not set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// The chat model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<RemoteEndpoint>,
    /// The embedding model (a matter's vectors must all come from one model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed: Option<RemoteEndpoint>,
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Models.
    pub models: ModelsConfig,
    /// Engine.
    pub engine: EngineConfig,
    /// Generation defaults.
    pub generation: GenerationConfig,
    /// Model downloads.
    pub hub: HubConfig,
    /// Server mode.
    pub server: ServerConfig,
    /// Remote inference engines.
    pub remote: RemoteConfig,
    /// Retrieval.
    pub retrieval: RetrievalConfig,
}

impl Config {
    /// Read `config.toml` from `home` (defaults if it does not exist), then apply the
    /// environment's model overrides.
    ///
    /// # Errors
    /// Unreadable or invalid file.
    pub fn load(home: &Home) -> Result<Self, ConfigError> {
        let mut config = Self::load_file(home)?;
        if let Some(v) = env_nonempty(ENV_CHAT_MODEL) {
            config.models.chat = v;
        }
        if let Some(v) = env_nonempty(ENV_EMBED_MODEL) {
            config.models.embed = v;
        }
        Ok(config)
    }

    /// Read `config.toml` as written (defaults if it does not exist), without the environment's
    /// overrides: what a command that changes the file starts from.
    ///
    /// # Errors
    /// Unreadable or invalid file.
    pub fn load_file(home: &Home) -> Result<Self, ConfigError> {
        let path = home.config_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    /// Parse TOML text (`path` only labels errors).
    ///
    /// # Errors
    /// [`ConfigError::Parse`] with the line and column.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), source: Box::new(e) })
    }

    /// Write the configuration to `home`'s `config.toml`, creating the directory.
    ///
    /// # Errors
    /// The directory or file cannot be written.
    pub fn save(&self, home: &Home) -> Result<(), ConfigError> {
        let path = home.config_file();
        let io = |source| ConfigError::Io { path: path.clone(), source };
        std::fs::create_dir_all(home.root()).map_err(io)?;
        let text = toml::to_string_pretty(self).expect("configuration always serialises");
        std::fs::write(&path, text).map_err(io)
    }

    /// Engine load options from this configuration.
    #[must_use]
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            context_length: self.engine.context_length,
            threads: self.engine.threads,
            gpu_layers: self.engine.gpu_layers,
            parallel: self.server.parallel.max(1),
            ..LoadOptions::default()
        }
    }
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// The folders searched for a model given by file name: the home's `models/`, then
/// `LEXDESK_MODELS_DIR`, then the developer test-model cache (`~/.cache/lexdesk/models`).
#[must_use]
pub fn model_search_path(home: &Home) -> Vec<PathBuf> {
    let mut dirs = vec![home.models_dir()];
    if let Some(d) = env_nonempty(ENV_MODELS_DIR) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(base) = directories::BaseDirs::new() {
        dirs.push(base.cache_dir().join("lexdesk").join("models"));
    }
    dirs
}

/// What a model file is for (in messages: "chat model `x` not found").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelRole {
    /// The chat (generation) model.
    Chat,
    /// The embedding model.
    Embedding,
    /// The embedding model's tokenizer (`tokenizer.json`).
    Tokenizer,
}

impl std::fmt::Display for ModelRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Chat => "chat",
            Self::Embedding => "embedding",
            Self::Tokenizer => "tokenizer",
        })
    }
}

/// Find a model: an existing path as given, else the first folder of `search` holding that
/// file name.
///
/// # Errors
/// [`ConfigError::ModelMissing`] listing where it looked.
pub fn resolve_model(kind: ModelRole, name: &str, search: &[PathBuf]) -> Result<PathBuf, ConfigError> {
    let direct = PathBuf::from(name);
    if direct.is_file() {
        return Ok(direct);
    }
    if direct.components().count() == 1
        && let Some(found) = search.iter().map(|d| d.join(name)).find(|p| p.is_file())
    {
        return Ok(found);
    }
    let searched = if direct.components().count() == 1 {
        search.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    } else {
        direct.display().to_string()
    };
    Err(ConfigError::ModelMissing { kind, name: name.to_owned(), searched })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_file_is_missing_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(dir.path())).unwrap();
        let mut c = Config::parse("", &home.config_file()).unwrap();
        assert_eq!(c, Config::default());
        c.engine.gpu_layers = GpuLayers::Count(12);
        c.engine.threads = Some(3);
        c.save(&home).unwrap();
        let text = std::fs::read_to_string(home.config_file()).unwrap();
        assert!(text.contains("gpu_layers = 12"), "{text}");
        assert_eq!(Config::parse(&text, &home.config_file()).unwrap(), c);
    }

    #[test]
    fn parses_user_file_and_reports_errors_with_position() {
        let p = Path::new("config.toml");
        let c = Config::parse(
            "[engine]\ngpu_layers = \"auto\"\ncontext_length = 4096\n[generation]\nmax_tokens = 64\n[generation.sampling]\ntemperature = 0.2\n",
            p,
        )
        .unwrap();
        assert_eq!(c.engine.gpu_layers, GpuLayers::Auto);
        assert_eq!(c.engine.context_length, Some(4096));
        assert_eq!(c.generation.max_tokens, 64);
        assert!((c.generation.sampling.temperature - 0.2).abs() < 1e-6);
        assert_eq!(c.load_options().context_length, Some(4096));

        let err = Config::parse("[engine]\nthreds = 4\n", p).unwrap_err().to_string();
        assert!(err.contains("threds") && err.contains("line 2"), "{err}");
        let err = Config::parse("[generation.sampling]\ntemprature = 1.0\n", p).unwrap_err().to_string();
        assert!(err.contains("temprature"), "{err}");
        let err = Config::parse("[engine]\ngpu_layers = \"many\"\n", p).unwrap_err().to_string();
        assert!(err.contains("many"), "{err}");
    }

    #[test]
    fn model_resolution_searches_folders_in_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("m.gguf"), b"x").unwrap();
        let search = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(resolve_model(ModelRole::Chat, "m.gguf", &search).unwrap(), b.path().join("m.gguf"));
        std::fs::write(a.path().join("m.gguf"), b"x").unwrap();
        assert_eq!(resolve_model(ModelRole::Chat, "m.gguf", &search).unwrap(), a.path().join("m.gguf"));
        let err = resolve_model(ModelRole::Chat, "none.gguf", &search).unwrap_err().to_string();
        assert!(err.contains("none.gguf") && err.contains(&a.path().display().to_string()), "{err}");
    }
}
