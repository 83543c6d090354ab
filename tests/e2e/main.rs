//! End-to-end tests with real GGUF models through the real engine and the real CLI binary.

mod answer;
mod chat;
mod chunking;
mod cli;
mod defaults;
mod desk;
mod embed;
mod errors;
mod eval;
mod extract;
mod library;
mod models;
mod reembed;
mod server;
mod store;
mod templates;
mod tidy;
