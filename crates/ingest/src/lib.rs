//! LexDesk ingestion: turning extracted page text into clean, citable, embeddable chunks.
//!
//! - [`normalize`]: per-page clean-up and running header/footer removal.
//! - [`structure`]: recognising headings and citable units in Chinese and English legal text.
//! - [`chunk`]: structure-aware, token-aware chunking with page spans and character offsets.
//!
//! Pure, synchronous functions: callers run them on a blocking thread. Extraction from PDF,
//! DOCX and HTML (in a child process for PDFs) and the LanceDB store are added by the ingestion
//! issue's later steps.

pub mod chunk;
pub mod normalize;
pub mod structure;

pub use chunk::{Chunk, ChunkConfig, HfTokenCounter, Language, PageText, TokenCounter, chunk_document};
