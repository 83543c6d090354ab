//! The handle's own data shapes (everything else is the core and service types as they are).

use std::path::{Path, PathBuf};

use lexdesk_core::config::{Config, Home, model_search_path};
use lexdesk_core::model::{GpuLayers, ModelKind};
use lexdesk_core::store::{DocumentRecord, PageProvenance, PageRecord, SearchMode};
use lexdesk_service::answer::AnswerMode;
use lexdesk_service::sessions::{ChatSession, SessionTurn};
use serde::{Deserialize, Serialize};

use crate::DeskError;

/// A question for [`crate::Desk::ask`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AskParams {
    /// The question.
    pub question: String,
    /// Continue this chat session; `None` starts a new one.
    pub session_id: Option<String>,
    /// Only this document (id, file name or path).
    pub doc: Option<String>,
    /// Generate (default) or extractive.
    pub mode: Option<AnswerMode>,
    /// A prompt template that shapes the answer (one with a `question` variable): its role,
    /// requirements, output format and parameters join LexDesk's grounded prompt, whose sources,
    /// citation rules and abstention stay.
    #[serde(default)]
    pub template: Option<String>,
    /// Values for the template's other variables (its defaults otherwise).
    #[serde(default)]
    pub template_inputs: Option<lexdesk_templates::Inputs>,
    /// Passages retrieved as evidence (default 6, at most 50; fewer reach the prompt when the
    /// context is short).
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Retrieval: hybrid (default), vector or text (text needs no embedding model).
    #[serde(default)]
    pub search_mode: Option<SearchMode>,
    /// Tokens reserved for the answer (default: the template's, else the setting).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Rerank the retrieved passages (`None`: as `[retrieval] rerank` says).
    #[serde(default)]
    pub rerank: Option<bool>,
    /// A sampling seed (for reproducible runs of a template that samples; answers are greedy
    /// otherwise).
    #[serde(default)]
    pub seed: Option<u32>,
}

/// An answered question: the turn as saved, and its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AskResult {
    /// The session the turn was saved to.
    pub session: SessionSummary,
    /// The question, the answer with its checked citations, the model.
    pub turn: SessionTurn,
}

/// A chat session in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SessionSummary {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Questions asked.
    pub turns: u32,
    /// Created, ms since the epoch.
    pub created_at_ms: i64,
    /// Last changed.
    pub updated_at_ms: i64,
}

impl SessionSummary {
    pub(crate) fn of(s: &ChatSession) -> Self {
        Self {
            id: s.id.clone(),
            title: s.title.clone(),
            turns: u32::try_from(s.turns.len()).unwrap_or(u32::MAX),
            created_at_ms: s.created_at_ms,
            updated_at_ms: s.updated_at_ms,
        }
    }
}

/// Session export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Markdown with citations.
    Markdown,
    /// The whole session as JSON.
    Json,
}

/// One stored page: the text citations are checked against, for the page view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PageView {
    /// Document id.
    pub doc_id: String,
    /// File name.
    pub file_name: String,
    /// Title.
    pub title: String,
    /// `pdf`, `docx`, `text`, …
    pub format: String,
    /// Page number (1-based; formats without pages have one page).
    pub number: u32,
    /// Pages in the document.
    pub page_count: u32,
    /// Normalised page text (citation offsets refer to it, in Unicode scalar values).
    pub text: String,
    /// Text layer or OCR (with confidence).
    pub provenance: PageProvenance,
    /// Extractor that produced the text.
    pub extractor: String,
}

impl PageView {
    pub(crate) fn new(doc: &DocumentRecord, page: PageRecord) -> Self {
        Self {
            doc_id: doc.id.clone(),
            file_name: doc.file_name.clone(),
            title: doc.title.clone(),
            format: doc.format.clone(),
            number: page.number,
            page_count: doc.page_count,
            text: page.text,
            provenance: page.provenance,
            extractor: page.extractor,
        }
    }
}

/// A model file the settings can choose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ModelChoice {
    /// File name (what `config.toml` records).
    pub file_name: String,
    /// Where it is.
    pub path: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// `chat` or `embedding`; `None` when the header cannot be read.
    pub kind: Option<String>,
    /// `general.name`, architecture and quantisation, when readable.
    pub description: Option<String>,
}

/// Settings as the Models & settings screen shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Settings {
    /// Chat model (file name or path).
    pub chat_model: String,
    /// Embedding model.
    pub embed_model: String,
    /// CPU threads; `None` = physical cores.
    pub threads: Option<u32>,
    /// `auto`, or a number of layers.
    pub gpu_layers: String,
    /// Context length; `None` = the model's, at most 8192.
    pub context_length: Option<u32>,
    /// Tokens an answer may use.
    pub max_tokens: u32,
    /// When search results are reranked by the language model.
    pub rerank: lexdesk_core::config::RerankMode,
    /// The data directory.
    pub home: String,
    /// GGUF files found in the models folders.
    pub available_models: Vec<ModelChoice>,
}

impl Settings {
    pub(crate) fn of(config: &Config, home: &Home) -> Self {
        Self {
            chat_model: config.models.chat.clone(),
            embed_model: config.models.embed.clone(),
            threads: config.engine.threads,
            gpu_layers: config.engine.gpu_layers.to_string(),
            context_length: config.engine.context_length.and_then(|c| u32::try_from(c).ok()),
            rerank: config.retrieval.rerank,
            max_tokens: config.generation.max_tokens,
            home: home.root().display().to_string(),
            available_models: available_models(home),
        }
    }
}

fn available_models(home: &Home) -> Vec<ModelChoice> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for dir in model_search_path(home) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("gguf")) && p.is_file())
            .collect();
        files.sort();
        for path in files {
            let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            if !seen.insert(file_name.clone()) {
                continue;
            }
            let meta = lexdesk_engine::gguf::read_metadata(&path).ok();
            out.push(ModelChoice {
                size_bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
                kind: meta.as_ref().map(|m| {
                    match m.kind {
                        ModelKind::Chat => "chat",
                        ModelKind::Embedding => "embedding",
                    }
                    .to_string()
                }),
                description: meta.as_ref().map(|m| {
                    format!("{} · {} · {}", m.name.as_deref().unwrap_or(&file_name), m.architecture, m.quantization)
                }),
                path: path.display().to_string(),
                file_name,
            });
        }
    }
    // Models imported in place (from another app's folder, or any path).
    let imported = lexdesk_models::Catalog::builtin()
        .ok()
        .and_then(|catalog| lexdesk_models::local::installed(&home.models_dir(), &[], &catalog).ok())
        .unwrap_or_default();
    for m in imported {
        if out.iter().any(|c| Path::new(&c.path) == m.path) {
            continue;
        }
        let meta = lexdesk_engine::gguf::read_metadata(&m.path).ok();
        out.push(ModelChoice {
            size_bytes: m.size,
            kind: meta.as_ref().map(|meta| {
                match meta.kind {
                    ModelKind::Chat => "chat",
                    ModelKind::Embedding => "embedding",
                }
                .to_string()
            }),
            description: meta.as_ref().map(|meta| {
                format!("{} · {} · {}", meta.name.as_deref().unwrap_or(&m.name), meta.architecture, meta.quantization)
            }),
            path: m.path.display().to_string(),
            file_name: m.name,
        });
    }
    out
}

/// A change to the settings; `None` fields stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SettingsUpdate {
    /// Chat model (file name or path).
    pub chat_model: Option<String>,
    /// Embedding model. Matters built with another embedding model must be re-ingested.
    pub embed_model: Option<String>,
    /// CPU threads; 0 = physical cores.
    pub threads: Option<u32>,
    /// `auto`, `all` or a number.
    pub gpu_layers: Option<String>,
    /// Context length; 0 = the model's.
    pub context_length: Option<u32>,
    /// Tokens an answer may use (64–8192).
    pub max_tokens: Option<u32>,
    /// Reranking: auto, on or off.
    #[serde(default)]
    pub rerank: Option<lexdesk_core::config::RerankMode>,
}

impl SettingsUpdate {
    pub(crate) fn apply(self, config: &mut Config) -> Result<(), DeskError> {
        if let Some(m) = self.chat_model.filter(|m| !m.trim().is_empty()) {
            config.models.chat = m.trim().to_string();
        }
        if let Some(m) = self.embed_model.filter(|m| !m.trim().is_empty()) {
            config.models.embed = m.trim().to_string();
        }
        if let Some(t) = self.threads {
            if t > 1024 {
                return Err(DeskError::InvalidSetting { name: "threads", reason: format!("{t} is more than 1024") });
            }
            config.engine.threads = (t > 0).then_some(t);
        }
        if let Some(g) = self.gpu_layers {
            config.engine.gpu_layers =
                g.parse::<GpuLayers>().map_err(|reason| DeskError::InvalidSetting { name: "gpu_layers", reason })?;
        }
        if let Some(c) = self.context_length {
            if c != 0 && !(256..=1_048_576).contains(&c) {
                return Err(DeskError::InvalidSetting {
                    name: "context_length",
                    reason: format!("{c} is outside 256–1,048,576 tokens"),
                });
            }
            config.engine.context_length = (c > 0).then_some(u64::from(c));
        }
        if let Some(n) = self.max_tokens {
            if !(64..=8192).contains(&n) {
                return Err(DeskError::InvalidSetting {
                    name: "max_tokens",
                    reason: format!("{n} is outside 64–8192"),
                });
            }
            config.generation.max_tokens = n;
        }
        if let Some(r) = self.rerank {
            config.retrieval.rerank = r;
        }
        Ok(())
    }
}

/// A compute device llama.cpp sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Device {
    /// Short name (`CPU`, `CUDA0`).
    pub name: String,
    /// Description (the GPU's name).
    pub description: String,
    /// Backend (`CPU`, `CUDA`, `Metal`, `Vulkan`).
    pub backend: String,
    /// A GPU.
    pub is_gpu: bool,
    /// Total memory, bytes.
    pub memory_total: u64,
    /// Free memory, bytes.
    pub memory_free: u64,
}

/// The machine, for the settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Hardware {
    /// CPU model.
    pub cpu: String,
    /// Physical cores (the default thread count).
    pub physical_cores: u32,
    /// Logical CPUs.
    pub logical_cpus: u32,
    /// RAM, bytes.
    pub memory_total: u64,
    /// RAM available now, bytes.
    pub memory_available: u64,
    /// Devices llama.cpp can use (empty if its backend failed to start).
    pub devices: Vec<Device>,
}

/// The model catalog for the settings screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ModelCatalog {
    /// Every entry with its fit here and what is installed.
    pub entries: Vec<lexdesk_models::CatalogEntry>,
    /// The recommended chat model for this machine (Chinese and English).
    pub chat: Option<lexdesk_models::fit::Recommendation>,
    /// The recommended embedding model.
    pub embedding: Option<lexdesk_models::fit::Recommendation>,
    /// Where downloads go.
    pub models_dir: String,
}

impl Hardware {
    /// The same machine in the terms of the fit arithmetic.
    #[must_use]
    pub fn for_fit(&self) -> lexdesk_models::fit::Hardware {
        lexdesk_models::fit::Hardware {
            ram_total: self.memory_total,
            ram_available: self.memory_available,
            physical_cores: self.physical_cores,
            logical_cpus: self.logical_cpus,
            cpu_brand: self.cpu.clone(),
            cpu_features: lexdesk_models::fit::cpu_features(),
            gpus: self
                .devices
                .iter()
                .filter(|d| d.is_gpu)
                .map(|d| lexdesk_models::fit::GpuInfo {
                    name: d.description.clone(),
                    free: d.memory_free,
                    total: d.memory_total,
                })
                .collect(),
        }
    }

    pub(crate) fn detect() -> Self {
        let sys = sysinfo::System::new().ok().map(|mut sys| {
            sys.refresh_memory();
            sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
            sys
        });
        let cpu = sys.as_ref().and_then(|s| s.cpus().first()).map(|c| c.brand().trim().to_string()).unwrap_or_default();
        let devices = lexdesk_engine::devices()
            .unwrap_or_default()
            .into_iter()
            .map(|d| Device {
                name: d.name,
                description: d.description,
                backend: d.backend,
                is_gpu: d.is_gpu,
                memory_total: d.memory_total,
                memory_free: d.memory_free,
            })
            .collect();
        Self {
            cpu,
            physical_cores: lexdesk_engine::default_threads(),
            logical_cpus: sys.as_ref().map_or(0, |s| u32::try_from(s.cpus().len()).unwrap_or(u32::MAX)),
            memory_total: sys.as_ref().map_or(0, sysinfo::System::total_memory),
            memory_available: sys.as_ref().map_or(0, sysinfo::System::available_memory),
            devices,
        }
    }
}
