//! LexDesk's domain vocabulary: the types, small service traits, configuration and error enums
//! shared by every adapter (engine, store, CLI, desktop shell, server).
//!
//! This crate has no heavy dependencies and knows nothing of llama.cpp, LanceDB, Tauri, HTTP or
//! JSON wire formats. It compiles in seconds and is what the orchestration code is written against.

pub mod config;
pub mod embed;
pub mod error;
pub mod generate;
pub mod model;
pub mod store;

pub use error::{EngineError, ErrorCode, ErrorKind};

/// Milliseconds since the Unix epoch (0 if the clock is before it): the one clock of every
/// timestamp LexDesk stores.
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
