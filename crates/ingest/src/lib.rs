//! LexDesk ingestion: turning extracted page text into clean, citable, embeddable chunks.
//!
//! - [`normalize`]: per-page clean-up and running header/footer removal.
//! - [`structure`]: recognising headings and citable units in Chinese and English legal text.
//! - [`chunk`]: structure-aware, token-aware chunking with page spans and character offsets.
//!
//! - [`inputs`]: files and folders (recursively) to the list of files to read.
//! - [`detect`]: file kinds by content.
//! - [`pdf`]: PDF text extraction in a worker process (timeout, memory cap, per-page panics).
//! - [`ocr`]: pdftoppm + Tesseract for pages without a text layer.
//! - [`office`]: DOCX and HTML to text.
//! - [`extract`]: a file to normalised pages with provenance.
//!
//! Synchronous functions: callers run them on a blocking thread. The LanceDB store, matters and
//! the `ingest`/`search` commands are the ingestion issue's next steps.

pub mod chunk;
pub mod detect;
pub mod extract;
pub mod inputs;
pub mod normalize;
pub mod ocr;
pub mod office;
pub mod pdf;
pub mod structure;

pub use chunk::{
    Chunk, ChunkConfig, EstimatedTokenCounter, HfTokenCounter, Language, PageText, TokenCounter, chunk_document,
};
