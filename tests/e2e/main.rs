//! End-to-end tests with real GGUF models through the real engine and the real CLI binary.

mod chat;
mod cli;
mod embed;
mod errors;
