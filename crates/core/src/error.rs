//! Error enums that cross crate boundaries, each variant with a stable machine code.

use std::path::PathBuf;

/// A stable, machine-readable error code. Front ends branch on it (retry, pick a smaller model,
/// fix the input) instead of parsing English.
pub trait ErrorCode {
    /// The code, in `SCREAMING_SNAKE_CASE`; never changes once released.
    fn code(&self) -> &'static str;
}

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The model file does not exist.
    #[error("model file not found: {path}")]
    ModelNotFound {
        /// The path that was asked for.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a GGUF model at all (wrong magic number).
    #[error("{path} is not a GGUF model file ({detected})")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// What the file looks like instead (e.g. "looks like a PDF document").
        detected: String,
    },
    /// A GGUF version this build of llama.cpp does not read.
    #[error("{path} uses GGUF version {version}, which is not supported (supported: 2 and 3)")]
    UnsupportedGgufVersion {
        /// The file.
        path: PathBuf,
        /// The version in the header.
        version: u32,
    },
    /// The file is shorter than its own header says: an interrupted download or copy.
    #[error("{path} is truncated: the header describes {expected} bytes but the file has {actual}; download it again")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header requires.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The GGUF header or metadata is damaged.
    #[error("{path} is a damaged GGUF file: {reason}")]
    CorruptModel {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// llama.cpp refused to load the model (unknown architecture, missing tensors, …).
    #[error("llama.cpp could not load {path}: {reason}")]
    LoadFailed {
        /// The file.
        path: PathBuf,
        /// What llama.cpp or the engine reported.
        reason: String,
    },
    /// A model without a decoder (an embedding model) was asked to chat or generate.
    #[error("{path} is an embedding model ({architecture}); it cannot chat or generate text")]
    NotAChatModel {
        /// The file.
        path: PathBuf,
        /// Its architecture.
        architecture: String,
    },
    /// A generative model without a pooling head was asked for embeddings.
    #[error("{path} is a text-generation model ({architecture}) with no embedding pooling; choose an embedding model")]
    NotAnEmbeddingModel {
        /// The file.
        path: PathBuf,
        /// Its architecture.
        architecture: String,
    },
    /// The requested context is longer than the model was trained for.
    #[error("context length {requested} exceeds the model's trained context of {max} tokens")]
    ContextTooLarge {
        /// Requested context length.
        requested: u64,
        /// The model's trained context.
        max: u64,
    },
    /// The preflight estimate says the model will not fit in memory.
    #[error(
        "not enough memory for this model: it needs about {needed_mib} MiB of {device} memory but {available_mib} MiB are free ({detail}); choose a smaller model, quantisation or context length"
    )]
    InsufficientMemory {
        /// "RAM" or a GPU's name.
        device: String,
        /// Estimated need.
        needed_mib: u64,
        /// Free memory.
        available_mib: u64,
        /// The breakdown of the estimate.
        detail: String,
    },
    /// The prompt does not fit the context window with room for an answer.
    #[error(
        "the prompt has {prompt_tokens} tokens but the context holds {context} (with {reserved} reserved for the answer)"
    )]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: u64,
        /// The context length.
        context: u64,
        /// Tokens reserved for generation.
        reserved: u64,
    },
    /// A remote inference engine (an OpenAI-compatible endpoint) failed or could not be reached.
    #[error("remote engine {endpoint}: {message}")]
    Remote {
        /// The endpoint's base URL.
        endpoint: String,
        /// What went wrong (HTTP status and the engine's message, or the connection error).
        message: String,
    },
    /// A request parameter is out of range.
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// llama.cpp failed while evaluating (decode error, KV cache full, …).
    #[error("inference failed: {message}")]
    Inference {
        /// llama.cpp's message.
        message: String,
    },
    /// The model's worker thread is gone (it panicked or was shut down).
    #[error("the model worker has stopped")]
    WorkerGone,
}

impl ErrorCode for EngineError {
    fn code(&self) -> &'static str {
        match self {
            Self::ModelNotFound { .. } => "MODEL_NOT_FOUND",
            Self::Io { .. } => "MODEL_IO",
            Self::NotGguf { .. } => "NOT_GGUF",
            Self::UnsupportedGgufVersion { .. } => "UNSUPPORTED_GGUF_VERSION",
            Self::Truncated { .. } => "MODEL_TRUNCATED",
            Self::CorruptModel { .. } => "MODEL_CORRUPT",
            Self::LoadFailed { .. } => "MODEL_LOAD_FAILED",
            Self::NotAChatModel { .. } => "NOT_A_CHAT_MODEL",
            Self::NotAnEmbeddingModel { .. } => "NOT_AN_EMBEDDING_MODEL",
            Self::ContextTooLarge { .. } => "CONTEXT_TOO_LARGE",
            Self::InsufficientMemory { .. } => "INSUFFICIENT_MEMORY",
            Self::PromptTooLong { .. } => "PROMPT_TOO_LONG",
            Self::InvalidRequest { .. } => "INVALID_REQUEST",
            Self::Remote { .. } => "REMOTE_ENGINE_FAILED",
            Self::Inference { .. } => "INFERENCE_FAILED",
            Self::WorkerGone => "WORKER_GONE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let errors = [
            EngineError::ModelNotFound { path: "a".into() },
            EngineError::NotGguf { path: "a".into(), detected: "x".into() },
            EngineError::Truncated { path: "a".into(), expected: 2, actual: 1 },
            EngineError::WorkerGone,
        ];
        let codes: Vec<_> = errors.iter().map(ErrorCode::code).collect();
        assert_eq!(codes, ["MODEL_NOT_FOUND", "NOT_GGUF", "MODEL_TRUNCATED", "WORKER_GONE"]);
        assert!(errors[2].to_string().contains("truncated"));
    }
}
