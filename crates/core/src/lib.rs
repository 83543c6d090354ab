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

pub use error::{EngineError, ErrorCode};
