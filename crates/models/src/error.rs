//! Errors of the models crate, each with a stable code.

use std::path::PathBuf;

/// Everything that can go wrong with the catalog, downloads, discovery and secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelsError {
    /// The catalog file is invalid.
    #[error("invalid model catalog: {0}")]
    CatalogInvalid(String),
    /// No catalog entry or quantisation by that name.
    #[error("{0}")]
    UnknownModel(String),
    /// The server has no such file (HTTP 404).
    #[error("{url} was not found on the server (HTTP 404): check the repository and file name")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// The server wants credentials (HTTP 401/403), e.g. a gated Hugging Face model.
    #[error(
        "{url} needs authorisation (HTTP {status}): accept the model's terms on its Hugging Face page, then store a token with `lexdesk secrets set huggingface-token`"
    )]
    Unauthorized {
        /// The URL.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// Any other HTTP error status.
    #[error("{url} answered HTTP {status}")]
    Http {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The connection failed or the server stopped sending data, after every retry.
    #[error("download of {url} failed after {attempts} attempts: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// The server stopped sending data for longer than the read timeout, after every retry.
    #[error(
        "download of {url} timed out (no data for {secs} s) after {attempts} attempts; run the same command again to resume"
    )]
    Timeout {
        /// The URL.
        url: String,
        /// The read timeout.
        secs: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The finished file does not have the expected SHA-256; it was deleted.
    #[error(
        "{file}: checksum mismatch (expected sha256 {expected}, got {actual}); the file was deleted — download it again"
    )]
    ChecksumMismatch {
        /// The file name.
        file: String,
        /// Expected digest.
        expected: String,
        /// Actual digest.
        actual: String,
    },
    /// The server says its file has another SHA-256 than the one pinned (catalog or
    /// `--sha256`): the repository changed since. Nothing was downloaded.
    #[error(
        "{file}: the server's file has sha256 {server}, not the pinned {pinned} — the repository changed since it \
         was pinned; nothing was downloaded (update LexDesk's catalog, or pass --sha256 {server} if you trust this \
         source)"
    )]
    NotAsPinned {
        /// The file name.
        file: String,
        /// The pinned digest.
        pinned: String,
        /// The server's digest (`X-Linked-Etag`).
        server: String,
    },
    /// The finished file does not have the expected size; it was deleted.
    #[error(
        "{file}: size mismatch (expected {expected} bytes, got {actual}); the file was deleted — download it again"
    )]
    SizeMismatch {
        /// The file name.
        file: String,
        /// Expected bytes.
        expected: u64,
        /// Actual bytes.
        actual: u64,
    },
    /// Neither the catalog, the caller nor the server gives a checksum to verify against.
    #[error("no SHA-256 is known for {url}: pass the expected one with --sha256")]
    NoChecksum {
        /// The URL.
        url: String,
    },
    /// Not enough free disk space for the download.
    #[error("not enough disk space in {dir}: {needed} bytes needed, {available} available")]
    InsufficientDisk {
        /// Where the file goes.
        dir: PathBuf,
        /// Bytes still to download plus the safety margin.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The download was cancelled; the partial file is kept for resuming.
    #[error("download cancelled; {downloaded} bytes kept in {partial} — run the same command again to resume")]
    Cancelled {
        /// The partial file.
        partial: PathBuf,
        /// Bytes in it.
        downloaded: u64,
    },
    /// A local file problem.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a GGUF file.
    #[error("{path} is not a GGUF model file")]
    NotGguf {
        /// The file.
        path: PathBuf,
    },
    /// No secret store is usable.
    #[error("{0}")]
    NoSecretStore(String),
    /// The OS keychain failed.
    #[error("keychain: {0}")]
    Keychain(String),
    /// The encrypted secrets file could not be decrypted (wrong passphrase or damaged file).
    #[error("cannot decrypt {path}: wrong passphrase (LEXDESK_SECRETS_PASSPHRASE) or a damaged file")]
    SecretsDecrypt {
        /// The file.
        path: PathBuf,
    },
    /// The encrypted secrets file is not in the expected format.
    #[error("{path} is not a LexDesk secrets file: {reason}")]
    SecretsInvalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An invalid argument (bad URL, bad checksum text, bad secret name).
    #[error("{0}")]
    Invalid(String),
}

lexdesk_core::error_codes!(ModelsError {
    Self::CatalogInvalid(_) => "CATALOG_INVALID", InvalidData;
    Self::UnknownModel(_) => "UNKNOWN_MODEL", InvalidInput;
    Self::NotFound { .. } => "DOWNLOAD_NOT_FOUND", External;
    Self::Unauthorized { .. } => "DOWNLOAD_UNAUTHORIZED", External;
    Self::Http { .. } => "DOWNLOAD_HTTP_ERROR", External;
    Self::Network { .. } => "DOWNLOAD_NETWORK", External;
    Self::Timeout { .. } => "DOWNLOAD_TIMEOUT", External;
    Self::ChecksumMismatch { .. } => "CHECKSUM_MISMATCH", External;
    Self::NotAsPinned { .. } => "CHECKSUM_NOT_AS_PINNED", External;
    Self::SizeMismatch { .. } => "SIZE_MISMATCH", External;
    Self::NoChecksum { .. } => "NO_CHECKSUM", External;
    Self::InsufficientDisk { .. } => "INSUFFICIENT_DISK", Resources;
    Self::Cancelled { .. } => "CANCELLED", Cancelled;
    Self::Io { .. } => "IO", Io;
    Self::NotGguf { .. } => "NOT_GGUF", ModelFile;
    Self::NoSecretStore(_) => "NO_SECRET_STORE", External;
    Self::Keychain(_) => "KEYCHAIN", External;
    Self::SecretsDecrypt { .. } => "SECRETS_DECRYPT", External;
    Self::SecretsInvalid { .. } => "SECRETS_INVALID", External;
    Self::Invalid(_) => "INVALID_ARGUMENT", InvalidInput;
});

/// Attach a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelsError {
    let path = path.into();
    move |source| ModelsError::Io { path, source }
}
