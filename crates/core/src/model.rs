//! Model metadata, load options and the memory-fit arithmetic used by the preflight check.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a model file can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A decoder that generates text (it may also be usable for embeddings if it has pooling).
    Chat,
    /// An encoder or pooled model that produces sentence embeddings and cannot generate.
    Embedding,
}

/// How token embeddings are pooled into one vector per input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// No pooling (token-level output; generative models).
    None,
    /// Mean over tokens.
    Mean,
    /// The first (CLS) token.
    Cls,
    /// The last token.
    Last,
    /// A rank (cross-encoder) head.
    Rank,
}

impl Pooling {
    /// From llama.cpp's `LLAMA_POOLING_TYPE_*` integer as stored in GGUF `<arch>.pooling_type`.
    #[must_use]
    pub fn from_gguf(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::None,
            1 => Self::Mean,
            2 => Self::Cls,
            3 => Self::Last,
            4 => Self::Rank,
            _ => return None,
        })
    }
}

/// Everything LexDesk knows about a GGUF file without running it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// The file.
    pub path: PathBuf,
    /// Size on disk in bytes.
    pub file_size: u64,
    /// GGUF version (2 or 3).
    pub gguf_version: u32,
    /// `general.architecture`, e.g. `llama`, `bert`, `gemma3`.
    pub architecture: String,
    /// `general.name` when present.
    pub name: Option<String>,
    /// Number of parameters (counted over the tensors).
    pub parameter_count: u64,
    /// Quantisation of the weights, e.g. `Q4_1`, `Q8_0`, `Q4_K_M`.
    pub quantization: String,
    /// Context length the model was trained for.
    pub context_length: u64,
    /// Width of the hidden state, which is also the embedding size.
    pub embedding_length: u64,
    /// Transformer blocks.
    pub block_count: u64,
    /// Attention heads.
    pub head_count: u64,
    /// Key/value heads (grouped-query attention); equals `head_count` without GQA.
    pub head_count_kv: u64,
    /// Width of one attention key head.
    pub key_length: u64,
    /// Width of one attention value head.
    pub value_length: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Pooling declared by the file (embedding models).
    pub pooling: Option<Pooling>,
    /// Whether the file carries a chat template (`tokenizer.chat_template`).
    pub has_chat_template: bool,
    /// Whether attention is causal (false for BERT-style encoders).
    pub causal_attention: bool,
    /// Chat or embedding.
    pub kind: ModelKind,
}

/// Architectures that are encoders: they embed and never generate.
pub const ENCODER_ARCHITECTURES: &[&str] = &[
    "bert",
    "nomic-bert",
    "nomic-bert-moe",
    "jina-bert-v2",
    "jina-bert-v3",
    "modern-bert",
    "neo-bert",
    "gemma-embedding",
    "t5encoder",
    "eurobert",
];

/// Decide chat or embedding from the architecture and attention type.
#[must_use]
pub fn classify(architecture: &str, causal_attention: bool) -> ModelKind {
    if ENCODER_ARCHITECTURES.contains(&architecture) || !causal_attention {
        ModelKind::Embedding
    } else {
        ModelKind::Chat
    }
}

/// Name of a llama.cpp file type (`general.file_type`, `enum llama_ftype`).
#[must_use]
pub fn file_type_name(file_type: u32) -> &'static str {
    match file_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => "unknown",
    }
}

/// How many transformer layers to put on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuLayers {
    /// Let llama.cpp fit as many layers as free GPU memory allows (0 without a GPU).
    #[default]
    Auto,
    /// Exactly this many (0 = CPU only; more than the model has = all).
    Count(u32),
}

impl fmt::Display for GpuLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Count(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for GpuLayers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "all" | "max" => Ok(Self::Count(u32::MAX)),
            n => n
                .parse()
                .map(Self::Count)
                .map_err(|_| format!("expected `auto`, `all` or a number of layers, got `{s}`")),
        }
    }
}

/// Default context length when none is configured: the model's own, capped here.
pub const DEFAULT_CONTEXT_CAP: u64 = 8192;

/// Options for loading a model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadOptions {
    /// Context length; `None` = min(model context, [`DEFAULT_CONTEXT_CAP`]).
    pub context_length: Option<u64>,
    /// CPU threads; `None` = physical cores.
    pub threads: Option<u32>,
    /// GPU layers.
    pub gpu_layers: GpuLayers,
    /// Logical batch size for prompt processing; `None` = 2048 (llama.cpp's default).
    pub batch_size: Option<u32>,
    /// Skip the memory preflight (for experts who know better; never the default).
    pub skip_memory_check: bool,
    /// Sequences a chat model decodes together (continuous batching); each gets a context of
    /// `context_length`. 0 and 1 mean one.
    pub parallel: u32,
}

/// The preflight's estimate of what a model needs, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    /// Weights (the file's tensor data).
    pub weights: u64,
    /// KV cache for the chosen context (f16 keys and values).
    pub kv_cache: u64,
    /// Compute buffers (activations, logits) for one micro-batch.
    pub compute: u64,
}

impl MemoryEstimate {
    /// Sum of the parts.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.compute
    }

    /// Estimate for `meta` at `n_ctx` tokens of context and a micro-batch of `n_ubatch` tokens.
    ///
    /// KV cache: `layers × ctx × (kv_heads × (key_len + value_len)) × 2 bytes` (f16, llama.cpp's
    /// default). Compute: logits for the micro-batch (`ubatch × vocab × 4`) plus activations
    /// (`ubatch × embd × 4 × 8`) and attention scores (`ubatch × ctx × heads × 4`, bounded
    /// because llama.cpp tiles them), plus a fixed 32 MiB for graph overhead. Encoders output
    /// no logits. The figure errs on the high side; it decides refusals, not allocations.
    #[must_use]
    pub fn for_model(meta: &ModelMetadata, n_ctx: u64, n_ubatch: u64) -> Self {
        let kv_width = meta.head_count_kv * (meta.key_length + meta.value_length);
        let kv_cache = meta.block_count.saturating_mul(n_ctx).saturating_mul(kv_width).saturating_mul(2);
        let logits = if meta.kind == ModelKind::Chat { n_ubatch * meta.vocab_size * 4 } else { 0 };
        let activations = n_ubatch * meta.embedding_length * 4 * 8;
        let scores = (n_ubatch * n_ctx.min(8192) * meta.head_count * 4).min(1 << 30);
        let compute = logits + activations + scores + (32 << 20);
        let weights = meta.file_size;
        Self { weights, kv_cache, compute }
    }
}

/// Whether a model fits the memory that is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum FitVerdict {
    /// Fits entirely on the GPU.
    FitsGpu,
    /// Fits with some layers on the GPU and the rest in RAM.
    FitsPartialOffload,
    /// Fits in RAM (CPU inference).
    FitsCpu,
    /// Does not fit.
    DoesNotFit,
}

/// Memory the machine has free, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeMemory {
    /// Available system RAM.
    pub ram: u64,
    /// Free memory on the largest GPU, if any.
    pub gpu: Option<u64>,
}

/// Headroom kept free for the OS and the rest of the app: 10 % of RAM, at least 512 MiB.
#[must_use]
pub fn ram_headroom(available: u64) -> u64 {
    (available / 10).max(512 << 20)
}

/// Fit arithmetic: where would `need` go given `free` memory?
#[must_use]
pub fn fit(need: &MemoryEstimate, free: FreeMemory) -> FitVerdict {
    let total = need.total();
    let ram_budget = free.ram.saturating_sub(ram_headroom(free.ram));
    match free.gpu {
        Some(gpu) if total <= gpu.saturating_mul(95) / 100 => FitVerdict::FitsGpu,
        Some(gpu) if total <= ram_budget + gpu.saturating_mul(95) / 100 && gpu > 0 => FitVerdict::FitsPartialOffload,
        _ if total <= ram_budget => FitVerdict::FitsCpu,
        _ => FitVerdict::DoesNotFit,
    }
}

/// Query and document prefixes that an embedding model family was trained with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EmbedPrefixes {
    /// Put before a search query.
    pub query: String,
    /// Put before a document passage.
    pub document: String,
}

/// The prefixes for a model, recognised from its architecture and name. Families without
/// instructions (MiniLM, bge-m3) get none.
#[must_use]
pub fn embed_prefixes(architecture: &str, name: Option<&str>) -> EmbedPrefixes {
    let name = name.unwrap_or("").to_ascii_lowercase();
    let pair = |q: &str, d: &str| EmbedPrefixes { query: q.to_owned(), document: d.to_owned() };
    if architecture == "gemma-embedding" || name.contains("embeddinggemma") {
        pair("task: search result | query: ", "title: none | text: ")
    } else if architecture.starts_with("nomic-bert") || name.contains("nomic-embed") {
        pair("search_query: ", "search_document: ")
    } else if name.contains("e5") && !name.contains("mistral") {
        pair("query: ", "passage: ")
    } else if name.contains("qwen3-embedding") || name.contains("qwen3 embedding") {
        pair("Instruct: Given a legal question, retrieve passages that answer it\nQuery: ", "")
    } else if name.contains("bge") && name.contains("en") && !name.contains("m3") {
        pair("Represent this sentence for searching relevant passages: ", "")
    } else {
        EmbedPrefixes::default()
    }
}

/// The cosine similarity at which a passage counts as close to a question, for models whose
/// family is not known better: tuned on the development sets with all-MiniLM-L6-v2, whose
/// cosines spread over the whole scale (together with a shared content term; see
/// `lexdesk_service::answer`).
pub const DEFAULT_RELEVANCE_FLOOR: f32 = 0.45;

/// The same for the multilingual-e5 family, whose cosines are compressed (unrelated texts score
/// about 0.75). Chosen with `tests/eval/relevance.py` on the development sets: the first gold
/// passage scores 0.829 / 0.862 / 0.890 (p10 / median / p90, en-nda-evidence) and 0.89–0.93
/// (the Chinese statute sets), the best passage of a matter that cannot answer 0.80–0.84; the
/// floor separating them best over all sets is 0.835 (Youden's J 0.857: 89 % of gold passages
/// above it, 3 % of off-corpus best hits), taken a little lower for recall (the shared-term rule
/// still applies). MiniLM's own figure from the same script is 0.455 ([`DEFAULT_RELEVANCE_FLOOR`]).
pub const E5_RELEVANCE_FLOOR: f32 = 0.83;

/// The relevance floor of a model family, recognised from its architecture and name.
#[must_use]
pub fn relevance_floor(_architecture: &str, name: Option<&str>) -> f32 {
    let name = name.unwrap_or("").to_ascii_lowercase();
    if name.contains("e5") && !name.contains("mistral") { E5_RELEVANCE_FLOOR } else { DEFAULT_RELEVANCE_FLOOR }
}

/// The languages an embedding model family was trained for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedLanguages {
    /// English only (all-MiniLM-L6-v2, bge-*-en, e5-*-v2, nomic-embed-text v1).
    English,
    /// Chinese only (bge-*-zh).
    Chinese,
    /// Many languages, or unknown (then nothing is held against it).
    #[default]
    Multilingual,
}

impl EmbedLanguages {
    /// Whether text in Chinese (`chinese`) or in English is understood.
    #[must_use]
    pub fn understands(self, chinese: bool) -> bool {
        match self {
            Self::English => !chinese,
            Self::Chinese => chinese,
            Self::Multilingual => true,
        }
    }
}

/// The languages of a model, recognised from its architecture and name. With all-MiniLM-L6-v2,
/// Chinese questions find nothing by vector (hit@10 0.03 on zh-statute-recall dev, against 0.98
/// by full text), so hybrid search must know.
#[must_use]
pub fn embed_languages(architecture: &str, name: Option<&str>) -> EmbedLanguages {
    let name = name.unwrap_or("").to_ascii_lowercase();
    let multilingual = name.contains("multilingual") || name.contains("m3") || name.contains("xlm");
    if multilingual
        || architecture == "gemma-embedding"
        || name.contains("embeddinggemma")
        || name.contains("qwen3")
        || (name.contains("nomic-embed") && name.contains("v2"))
    {
        EmbedLanguages::Multilingual
    } else if name.contains("bge") && name.contains("zh") {
        EmbedLanguages::Chinese
    } else if name.contains("minilm")
        || name.contains("mpnet")
        || (name.contains("bge") && name.contains("en"))
        || name.contains("e5")
        || name.contains("nomic-embed")
    {
        EmbedLanguages::English
    } else {
        EmbedLanguages::Multilingual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_languages_by_family() {
        use EmbedLanguages::{Chinese, English, Multilingual};
        for (name, want) in [
            ("all-MiniLM-L6-v2", English),
            ("paraphrase-multilingual-MiniLM-L12-v2", Multilingual),
            ("bge-small-en-v1.5", English),
            ("bge-small-zh-v1.5", Chinese),
            ("bge-m3", Multilingual),
            ("multilingual-e5-small", Multilingual),
            ("e5-base-v2", English),
            ("nomic-embed-text-v1.5", English),
            ("Qwen3-Embedding-0.6B", Multilingual),
            ("some-new-model", Multilingual),
        ] {
            assert_eq!(embed_languages("bert", Some(name)), want, "{name}");
        }
        assert!(English.understands(false) && !English.understands(true));
        assert!(Multilingual.understands(true));
    }

    fn smol() -> ModelMetadata {
        ModelMetadata {
            path: "m.gguf".into(),
            file_size: 98_362_432,
            gguf_version: 3,
            architecture: "llama".into(),
            name: Some("SmolLM2 135M Instruct".into()),
            parameter_count: 134_515_008,
            quantization: "Q4_1".into(),
            context_length: 8192,
            embedding_length: 576,
            block_count: 30,
            head_count: 9,
            head_count_kv: 3,
            key_length: 64,
            value_length: 64,
            vocab_size: 49152,
            pooling: None,
            has_chat_template: true,
            causal_attention: true,
            kind: ModelKind::Chat,
        }
    }

    #[test]
    fn kv_cache_arithmetic() {
        let est = MemoryEstimate::for_model(&smol(), 8192, 512);
        // 30 layers × 8192 × (3 × 128) × 2 bytes = 188,743,680
        assert_eq!(est.kv_cache, 188_743_680);
        assert_eq!(est.weights, 98_362_432);
        assert!(est.compute > 100 << 20 && est.compute < 400 << 20, "{}", est.compute);
    }

    #[test]
    fn fit_verdicts() {
        let est = MemoryEstimate { weights: 4 << 30, kv_cache: 1 << 30, compute: 1 << 28 };
        let gib = |n: u64| n << 30;
        assert_eq!(fit(&est, FreeMemory { ram: gib(16), gpu: None }), FitVerdict::FitsCpu);
        assert_eq!(fit(&est, FreeMemory { ram: gib(16), gpu: Some(gib(24)) }), FitVerdict::FitsGpu);
        assert_eq!(fit(&est, FreeMemory { ram: gib(16), gpu: Some(gib(2)) }), FitVerdict::FitsPartialOffload);
        assert_eq!(fit(&est, FreeMemory { ram: gib(4), gpu: None }), FitVerdict::DoesNotFit);
    }

    #[test]
    fn impossible_context_does_not_fit() {
        let est = MemoryEstimate::for_model(&smol(), 100_000_000, 512);
        assert_eq!(fit(&est, FreeMemory { ram: 24 << 30, gpu: None }), FitVerdict::DoesNotFit);
    }

    #[test]
    fn gpu_layers_parse() {
        assert_eq!("auto".parse::<GpuLayers>(), Ok(GpuLayers::Auto));
        assert_eq!("12".parse::<GpuLayers>(), Ok(GpuLayers::Count(12)));
        assert_eq!("all".parse::<GpuLayers>(), Ok(GpuLayers::Count(u32::MAX)));
        assert!("lots".parse::<GpuLayers>().unwrap_err().contains("lots"));
    }

    #[test]
    fn classification_and_prefixes() {
        assert_eq!(classify("bert", false), ModelKind::Embedding);
        assert_eq!(classify("llama", true), ModelKind::Chat);
        assert_eq!(file_type_name(3), "Q4_1");
        assert_eq!(file_type_name(15), "Q4_K_M");
        let g = embed_prefixes("gemma-embedding", Some("EmbeddingGemma 300m"));
        assert_eq!(g.query, "task: search result | query: ");
        assert_eq!(embed_prefixes("bert", Some("all-MiniLM-L6-v2")), EmbedPrefixes::default());
        assert_eq!(embed_prefixes("bert", Some("multilingual-e5-small")).document, "passage: ");
    }
}
