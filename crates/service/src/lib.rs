//! LexDesk's core service: matters, the ingestion pipeline, search and grounded answers.
//!
//! Written against the small traits of `lexdesk-core` ([`Embedder`](lexdesk_core::embed::Embedder),
//! [`ChunkStore`](lexdesk_core::store::ChunkStore)) so that it compiles without llama.cpp or
//! LanceDB and is unit-tested with fakes; the CLI, desktop shell and server plug in the real
//! engine and store.

pub mod answer;
pub mod cite;
pub mod ingest;
pub use lexdesk_text::legal_ref;
pub mod matters;
pub mod search;
pub mod sessions;

pub use matters::{Matter, MatterError, Matters};
