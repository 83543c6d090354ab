//! Error enums that cross crate boundaries, each variant with a stable machine code.

use std::path::PathBuf;

/// A stable, machine-readable error code and the kind of failure it is. Front ends branch on
/// them (retry, pick a smaller model, fix the input) instead of parsing English.
///
/// Implement it with [`error_codes!`](crate::error_codes), which puts each variant's code and
/// kind on one line and lists every code the enum can give (`CODES`).
pub trait ErrorCode {
    /// The code, in `SCREAMING_SNAKE_CASE`; never changes once released.
    fn code(&self) -> &'static str;
    /// What kind of failure it is. Every front end derives its own answer from this alone: the
    /// server's HTTP status, the CLI's exit code, the desktop's typed error kind.
    fn kind(&self) -> ErrorKind;
}

/// The kinds of failure. Each error code has exactly one; the HTTP status
/// ([`ErrorKind::http_status`]), the CLI's exit code ([`ErrorKind::exit_code`]) and the desktop
/// app's error kind (this enum, as a TypeScript union) are derived from it and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// What was asked for does not exist (a matter, document, page, session, template, file).
    NotFound,
    /// The request contradicts the current state (the name exists, a writer holds the matter,
    /// the document is not indexed yet, the matter was built with another embedder).
    Conflict,
    /// A value the user gave is not acceptable (an empty question, a bad name, a template
    /// variable of the wrong type): fix the input.
    InvalidInput,
    /// A generation request the engine refuses (sampling parameters out of range).
    InvalidRequest,
    /// The input is too large for the model (the prompt does not fit the context).
    TooLarge,
    /// A file LexDesk reads is damaged or invalid (configuration, a template file, a matter's
    /// manifest, a session, a document that cannot be extracted).
    InvalidData,
    /// The model file is missing, not a GGUF, damaged, or the wrong kind of model.
    ModelFile,
    /// This machine lacks the memory or disk the operation needs.
    Resources,
    /// A component is not running (the model worker stopped, the key store cannot be read).
    Unavailable,
    /// llama.cpp failed while evaluating.
    Inference,
    /// A remote inference engine failed or could not be reached.
    Remote,
    /// A service outside LexDesk failed or refused: the model hub or the network during a
    /// download (checksum and size checks included), the OS keychain.
    External,
    /// The user cancelled.
    Cancelled,
    /// A file could not be read or written.
    Io,
    /// A bug: something that should not fail did.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 15] = [
        Self::NotFound,
        Self::Conflict,
        Self::InvalidInput,
        Self::InvalidRequest,
        Self::TooLarge,
        Self::InvalidData,
        Self::ModelFile,
        Self::Resources,
        Self::Unavailable,
        Self::Inference,
        Self::Remote,
        Self::External,
        Self::Cancelled,
        Self::Io,
        Self::Internal,
    ];

    /// The HTTP status of the server's answer.
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::InvalidInput | Self::InvalidRequest | Self::TooLarge => 400,
            Self::ModelFile | Self::Resources | Self::Unavailable => 503,
            Self::Remote | Self::External => 502,
            // nginx's "client closed request": only the server's own log ever sees it
            Self::Cancelled => 499,
            Self::InvalidData | Self::Inference | Self::Io | Self::Internal => 500,
        }
    }

    /// The CLI's exit code (README.md, "Exit codes").
    #[must_use]
    pub const fn exit_code(self) -> u8 {
        match self {
            Self::NotFound | Self::Conflict | Self::InvalidData | Self::Io | Self::Internal => 1,
            Self::InvalidInput => 2,
            Self::ModelFile => 3,
            Self::Resources | Self::TooLarge => 4,
            Self::InvalidRequest | Self::Unavailable | Self::Inference | Self::Remote => 5,
            Self::External => 7,
            Self::Cancelled => 130,
        }
    }

    /// Whether the request was at fault (4xx): the user can fix it, the server cannot.
    #[must_use]
    pub const fn is_user_error(self) -> bool {
        matches!(self, Self::NotFound | Self::Conflict | Self::InvalidInput | Self::InvalidRequest | Self::TooLarge)
    }
}

/// Implements [`ErrorCode`] for an error enum from one table: each variant (a pattern) with its
/// code and kind, and variants that wrap another error and give its code and kind. Also defines
/// `CODES`, every code the enum gives itself with its kind (wrapped errors list their own), which
/// is what the taxonomy's tests walk.
///
/// ```
/// # use lexdesk_core::{error_codes, ErrorCode, ErrorKind, EngineError};
/// #[derive(Debug)]
/// enum MyError { Missing(String), Engine(EngineError) }
/// error_codes!(MyError {
///     Self::Missing(_) => "THING_NOT_FOUND", NotFound;
/// } wraps { Self::Engine(e) => e });
/// assert_eq!(MyError::Missing("x".into()).kind(), ErrorKind::NotFound);
/// assert_eq!(MyError::CODES, [("THING_NOT_FOUND", ErrorKind::NotFound)]);
/// ```
#[macro_export]
macro_rules! error_codes {
    ($ty:ty { $($pat:pat => $code:literal, $kind:ident;)* } $(wraps { $($wpat:pat => $inner:ident),+ $(,)? })?) => {
        impl $crate::error::ErrorCode for $ty {
            fn code(&self) -> &'static str {
                #[allow(unused_imports)]
                use $crate::error::ErrorCode as _;
                match self {
                    $($pat => $code,)*
                    $($($wpat => $inner.code(),)+)?
                }
            }
            fn kind(&self) -> $crate::error::ErrorKind {
                #[allow(unused_imports)]
                use $crate::error::ErrorCode as _;
                match self {
                    $($pat => $crate::error::ErrorKind::$kind,)*
                    $($($wpat => $inner.kind(),)+)?
                }
            }
        }
        impl $ty {
            /// Every code this error gives itself, with its kind (wrapped errors list their own).
            pub const CODES: &'static [(&'static str, $crate::error::ErrorKind)] =
                &[$(($code, $crate::error::ErrorKind::$kind)),*];
        }
    };
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

crate::error_codes!(EngineError {
    Self::ModelNotFound { .. } => "MODEL_NOT_FOUND", ModelFile;
    Self::Io { .. } => "MODEL_IO", ModelFile;
    Self::NotGguf { .. } => "NOT_GGUF", ModelFile;
    Self::UnsupportedGgufVersion { .. } => "UNSUPPORTED_GGUF_VERSION", ModelFile;
    Self::Truncated { .. } => "MODEL_TRUNCATED", ModelFile;
    Self::CorruptModel { .. } => "MODEL_CORRUPT", ModelFile;
    Self::LoadFailed { .. } => "MODEL_LOAD_FAILED", ModelFile;
    Self::NotAChatModel { .. } => "NOT_A_CHAT_MODEL", ModelFile;
    Self::NotAnEmbeddingModel { .. } => "NOT_AN_EMBEDDING_MODEL", ModelFile;
    Self::ContextTooLarge { .. } => "CONTEXT_TOO_LARGE", Resources;
    Self::InsufficientMemory { .. } => "INSUFFICIENT_MEMORY", Resources;
    Self::PromptTooLong { .. } => "PROMPT_TOO_LONG", TooLarge;
    Self::InvalidRequest { .. } => "INVALID_REQUEST", InvalidRequest;
    Self::Remote { .. } => "REMOTE_ENGINE_FAILED", Remote;
    Self::Inference { .. } => "INFERENCE_FAILED", Inference;
    Self::WorkerGone => "WORKER_GONE", Unavailable;
});

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
        let kinds: Vec<_> = errors.iter().map(ErrorCode::kind).collect();
        assert_eq!(kinds, [ErrorKind::ModelFile, ErrorKind::ModelFile, ErrorKind::ModelFile, ErrorKind::Unavailable]);
        assert_eq!(EngineError::CODES.len(), 16, "one line per variant");
    }

    #[test]
    fn every_kind_has_a_status_and_an_exit_code_and_user_errors_are_4xx() {
        for kind in ErrorKind::ALL {
            let status = kind.http_status();
            assert!((400..600).contains(&status), "{kind:?}");
            assert_eq!(kind.is_user_error(), (400..500).contains(&status) && status != 499, "{kind:?}");
            assert_ne!(kind.exit_code(), 0, "{kind:?}");
        }
        // the documented exit codes
        assert_eq!(ErrorKind::ModelFile.exit_code(), 3);
        assert_eq!(ErrorKind::Resources.exit_code(), 4);
        assert_eq!(ErrorKind::TooLarge.exit_code(), 4);
        assert_eq!(ErrorKind::InvalidRequest.exit_code(), 5);
        assert_eq!(ErrorKind::External.exit_code(), 7);
        assert_eq!(ErrorKind::Cancelled.exit_code(), 130);
        let json = serde_json::to_string(&ErrorKind::InvalidInput).unwrap();
        assert_eq!(json, "\"invalid_input\"");
    }
}
