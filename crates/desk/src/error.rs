//! The one error type of the application handle: every variant keeps its source's stable code.

use std::path::PathBuf;

use lexdesk_core::config::ConfigError;
use lexdesk_core::store::StoreError;
use lexdesk_core::{EngineError, ErrorCode};
use lexdesk_service::MatterError;
use lexdesk_service::answer::AskError;
use lexdesk_service::ingest::IngestError;
use lexdesk_service::search::SearchError;
use lexdesk_service::sessions::SessionError;

/// Why an operation failed. [`ErrorCode::code`] is stable; the message is for people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    /// Configuration or model resolution.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Matters.
    #[error(transparent)]
    Matter(#[from] MatterError),
    /// Chat sessions.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The matter's store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A model.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An ingestion run as a whole (single files never fail a run).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// Retrieval.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Answering.
    #[error(transparent)]
    Ask(#[from] AskError),
    /// Model catalog, downloads, secrets.
    #[error(transparent)]
    Models(#[from] lexdesk_models::ModelsError),
    /// The embedding model's tokenizer could not be read.
    #[error("cannot read the embedding tokenizer {path}: {message}")]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A path given by the user is not acceptable.
    #[error("{path}: {reason}")]
    InvalidPath {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: PathBuf,
        /// `NotFound`, `PermissionDenied`, …
        kind: std::io::ErrorKind,
        /// The OS message.
        message: String,
    },
    /// No such document in the matter.
    #[error("no document `{0}` in this matter")]
    DocumentNotFound(String),
    /// The document failed or is still being added: it has no pages to show.
    #[error("`{0}` is not indexed (it failed or is still being added)")]
    DocumentNotIndexed(String),
    /// No such page.
    #[error("`{doc}` has no page {page} (it has {pages})")]
    PageNotFound {
        /// File name.
        doc: String,
        /// Requested page.
        page: u32,
        /// Pages it has.
        pages: u32,
    },
    /// The question is empty.
    #[error("the question is empty")]
    EmptyQuestion,
    /// A setting is out of range.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// Which setting.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A prompt template, its inputs, the library or the comparison history.
    #[error(transparent)]
    Template(#[from] lexdesk_templates::TemplateError),
    /// An argument out of range (e.g. a run number a comparison does not have).
    #[error("{0}")]
    InvalidArgument(String),
    /// A bug: something that should not fail did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DeskError {
    pub(crate) fn io(path: PathBuf, e: &std::io::Error) -> Self {
        Self::Io { path, kind: e.kind(), message: e.to_string() }
    }
}

impl ErrorCode for DeskError {
    fn code(&self) -> &'static str {
        match self {
            Self::Config(e) => e.code(),
            Self::Matter(e) => e.code(),
            Self::Session(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Engine(e) => e.code(),
            Self::Ingest(e) => e.code(),
            Self::Search(e) => e.code(),
            Self::Ask(e) => e.code(),
            Self::Models(e) => e.code(),
            Self::Tokenizer { .. } => "TOKENIZER_INVALID",
            Self::InvalidPath { .. } => "INVALID_PATH",
            Self::Io { kind: std::io::ErrorKind::NotFound, .. } => "FILE_NOT_FOUND",
            Self::Io { kind: std::io::ErrorKind::PermissionDenied, .. } => "PERMISSION_DENIED",
            Self::Io { .. } => "IO",
            Self::DocumentNotFound(_) => "DOCUMENT_NOT_FOUND",
            Self::DocumentNotIndexed(_) => "DOCUMENT_NOT_INDEXED",
            Self::PageNotFound { .. } => "PAGE_NOT_FOUND",
            Self::EmptyQuestion => "EMPTY_QUERY",
            Self::InvalidSetting { .. } => "INVALID_SETTING",
            Self::Template(e) => e.code(),
            Self::InvalidArgument(_) => "INVALID_ARGUMENT",
            Self::Internal(_) => "INTERNAL",
        }
    }
}
