//! The one error type of the application handle: every variant keeps its source's stable code.

use std::path::PathBuf;

use lexdesk_core::EngineError;
use lexdesk_core::config::ConfigError;
use lexdesk_core::store::StoreError;
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
    /// A file could not be extracted.
    #[error(transparent)]
    Extract(#[from] lexdesk_ingest::extract::ExtractError),
    /// Model catalog, downloads, secrets.
    #[error(transparent)]
    Models(#[from] lexdesk_models::ModelsError),
    /// Gold sets and evaluation runs.
    #[error(transparent)]
    Eval(#[from] lexdesk_eval::EvalError),
    /// A matter was built with an embedding model that is no longer available.
    #[error(
        "matter `{matter}` was built with the embedding model {model}, which is not available; re-embed it with the current model (`lexdesk matter reembed`, or Re-embed in the app)"
    )]
    EmbedderUnavailable {
        /// The matter.
        matter: String,
        /// Its model.
        model: String,
    },
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

lexdesk_core::error_codes!(DeskError {
    Self::Tokenizer { .. } => "TOKENIZER_INVALID", ModelFile;
    Self::EmbedderUnavailable { .. } => "EMBEDDER_UNAVAILABLE", ModelFile;
    Self::InvalidPath { .. } => "INVALID_PATH", InvalidInput;
    Self::Io { kind: std::io::ErrorKind::NotFound, .. } => "FILE_NOT_FOUND", NotFound;
    Self::Io { kind: std::io::ErrorKind::PermissionDenied, .. } => "PERMISSION_DENIED", Io;
    Self::Io { .. } => "IO", Io;
    Self::DocumentNotFound(_) => "DOCUMENT_NOT_FOUND", NotFound;
    Self::DocumentNotIndexed(_) => "DOCUMENT_NOT_INDEXED", Conflict;
    Self::PageNotFound { .. } => "PAGE_NOT_FOUND", NotFound;
    Self::EmptyQuestion => "EMPTY_QUERY", InvalidInput;
    Self::InvalidSetting { .. } => "INVALID_SETTING", InvalidInput;
    Self::InvalidArgument(_) => "INVALID_ARGUMENT", InvalidInput;
    Self::Internal(_) => "INTERNAL", Internal;
} wraps {
    Self::Config(e) => e,
    Self::Matter(e) => e,
    Self::Session(e) => e,
    Self::Store(e) => e,
    Self::Engine(e) => e,
    Self::Ingest(e) => e,
    Self::Extract(e) => e,
    Self::Search(e) => e,
    Self::Ask(e) => e,
    Self::Models(e) => e,
    Self::Template(e) => e,
    Self::Eval(e) => e,
});

/// Every error code the desk can give, with its kind and the error type that gives it: the
/// codes of every error enum below the front ends. A code has one kind wherever it appears.
#[must_use]
pub fn error_codes() -> Vec<(&'static str, lexdesk_core::ErrorKind, &'static str)> {
    let tables: [(&'static str, &[(&'static str, lexdesk_core::ErrorKind)]); 13] = [
        ("EngineError", EngineError::CODES),
        ("ConfigError", ConfigError::CODES),
        ("StoreError", StoreError::CODES),
        ("MatterError", MatterError::CODES),
        ("SessionError", SessionError::CODES),
        ("SearchError", SearchError::CODES),
        ("AskError", AskError::CODES),
        ("ModelsError", lexdesk_models::ModelsError::CODES),
        ("TemplateError", lexdesk_templates::TemplateError::CODES),
        ("PdfError", lexdesk_ingest::pdf::PdfError::CODES),
        ("ExtractError", lexdesk_ingest::extract::ExtractError::CODES),
        ("EvalError", lexdesk_eval::EvalError::CODES),
        ("DeskError", DeskError::CODES),
    ];
    tables.into_iter().flat_map(|(ty, codes)| codes.iter().map(move |&(code, kind)| (code, kind, ty))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lexdesk_core::{ErrorCode, ErrorKind};
    use std::collections::BTreeMap;

    #[test]
    fn every_code_of_every_error_enum_has_one_kind() {
        let codes = error_codes();
        assert!(codes.len() > 100, "{} codes", codes.len());
        let mut kinds: BTreeMap<&str, (ErrorKind, &str)> = BTreeMap::new();
        for (code, kind, ty) in codes {
            assert!(
                !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{ty}: `{code}` is not SCREAMING_SNAKE_CASE"
            );
            if let Some((other, other_ty)) = kinds.insert(code, (kind, ty)) {
                assert_eq!(other, kind, "{code} is {other:?} in {other_ty} but {kind:?} in {ty}");
            }
        }
        // The codes whose answers drifted before the taxonomy: user errors, never a 5xx.
        for code in ["TEMPLATE_NOT_FOUND", "EMBEDDING_DIMENSION_MISMATCH", "TEMPLATE_NOT_FOR_QUESTIONS", "EMPTY_QUERY"]
        {
            let (kind, _) = kinds[code];
            assert!(kind.is_user_error() && (400..500).contains(&kind.http_status()), "{code}: {kind:?}");
        }
        // Wrapped errors keep their code and kind.
        let e =
            DeskError::from(AskError::Engine(EngineError::PromptTooLong { prompt_tokens: 9, context: 8, reserved: 1 }));
        assert_eq!((e.code(), e.kind(), e.kind().exit_code()), ("PROMPT_TOO_LONG", ErrorKind::TooLarge, 4));
        let e = DeskError::Io { path: "x".into(), kind: std::io::ErrorKind::NotFound, message: String::new() };
        assert_eq!((e.code(), e.kind()), ("FILE_NOT_FOUND", ErrorKind::NotFound));
    }
}
