//! LexDesk's inference engine over llama.cpp (`llama-cpp-2`): the only crate that links it.
//!
//! - [`gguf::read_metadata`] validates a GGUF file and reads its metadata without loading weights.
//! - [`ChatModel`] and [`EmbeddingModel`] each own a model on a dedicated OS thread (llama.cpp
//!   contexts are not `Send`) and are reached through channels; their handles are cheap to clone
//!   and usable from tokio.
//! - [`backend`] holds the one llama.cpp backend of the process.
//!
//! GPU support is chosen at build time with the `cuda`, `metal` and `vulkan` features.

pub mod backend;
pub mod chat;
pub mod embed;
pub mod gguf;
pub mod preflight;
mod worker;

pub use backend::{DeviceInfo, default_threads, devices};
pub use chat::{BenchSample, ChatModel, LoadedModel, RerankRequest};
pub use embed::{EmbedTokenCounter, EmbeddingModel, LoadedEmbedder};

use std::path::Path;

use lexdesk_core::EngineError;
use lexdesk_core::model::{FitVerdict, LoadOptions, MemoryEstimate, ModelMetadata};

/// A model file's metadata with the preflight's verdict for this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// What the file is.
    pub metadata: ModelMetadata,
    /// Context length that loading with these options would use.
    pub context_length: u64,
    /// Estimated memory at that context.
    pub memory: MemoryEstimate,
    /// Where it fits.
    pub fit: FitVerdict,
}

/// Read a model's metadata and estimate whether it fits, without loading it.
///
/// # Errors
/// Bad files ([`EngineError::NotGguf`], [`EngineError::Truncated`], …) and invalid context lengths.
pub fn inspect(path: &Path, options: &LoadOptions) -> Result<Inspection, EngineError> {
    let metadata = gguf::read_metadata(path)?;
    let context_length = preflight::context_length(&metadata, options.context_length)?;
    let free = preflight::free_memory()?;
    let unchecked = LoadOptions { skip_memory_check: true, ..options.clone() };
    let (memory, fit) = preflight::check_memory(&metadata, context_length, 512, &unchecked, free)?;
    Ok(Inspection { metadata, context_length, memory, fit })
}
