//! Shared helpers for LexDesk's end-to-end tests: where the real test models are.
//!
//! The models are installed by `models/install_test_models.py` (the README's test command runs
//! it). A missing model fails the test with instructions; it is never silently skipped.

use std::path::PathBuf;

/// The test-model cache: `LEXDESK_MODELS_DIR`, else `~/.cache/lexdesk/models`.
#[must_use]
pub fn models_dir() -> PathBuf {
    std::env::var_os("LEXDESK_MODELS_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/lexdesk/models"),
        PathBuf::from,
    )
}

fn model(name: &str) -> PathBuf {
    let path = models_dir().join(name);
    assert!(
        path.is_file(),
        "test model {} is missing: run `python3 models/install_test_models.py` (the README's test command does)",
        path.display()
    );
    path
}

/// SmolLM2-135M-Instruct Q4_1: a real chat model with a ChatML template.
#[must_use]
pub fn chat_model() -> PathBuf {
    model("SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// all-MiniLM-L6-v2 q8_0: a real BERT embedding model (384 dimensions, mean pooling).
#[must_use]
pub fn embed_model() -> PathBuf {
    model("all-MiniLM-L6-v2-q8_0.gguf")
}

/// Qwen2.5-Coder-1.5B-Instruct Q4_K_M: a real Chinese + English instruct model (issue #21).
#[must_use]
pub fn zh_chat_model() -> PathBuf {
    model("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
}

/// multilingual-e5-small Q4_0: a real multilingual embedding model (384 dimensions, mean
/// pooling, the XLM-R unigram vocabulary inside the GGUF).
#[must_use]
pub fn multilingual_embed_model() -> PathBuf {
    model("multilingual-e5-small-q4_0.gguf")
}

/// Run a future on a fresh multi-threaded runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime").block_on(f)
}

/// The `lexdesk` binary built beside this test (`target/<profile>/lexdesk`), or `LEXDESK_BIN`.
///
/// # Panics
/// When the binary is missing: build the workspace first (the README's test command does).
#[must_use]
pub fn lexdesk_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LEXDESK_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/lexdesk
    let dir = exe.parent().and_then(std::path::Path::parent).expect("target directory");
    let bin = dir.join(format!("lexdesk{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is missing: run `cargo build --workspace` first", bin.display());
    bin
}

/// A `lexdesk` command on a home of its own, on the fast plumbing models (SmolLM2 and MiniLM,
/// through `LEXDESK_CHAT_MODEL` / `LEXDESK_EMBED_MODEL`): tests of orchestration need real
/// models, not good ones. [`lexdesk_defaults_in`] runs on the built-in defaults.
#[must_use]
pub fn lexdesk_in(home: &std::path::Path) -> std::process::Command {
    let mut c = lexdesk_defaults_in(home);
    c.env("LEXDESK_CHAT_MODEL", chat_model()).env("LEXDESK_EMBED_MODEL", embed_model());
    c
}

/// A `lexdesk` command on a home of its own with the test models' folder, no model overrides
/// from the environment: the built-in defaults (Qwen2.5-1.5B and multilingual-e5-small) unless
/// the home's `config.toml` says otherwise.
#[must_use]
pub fn lexdesk_defaults_in(home: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(lexdesk_bin());
    c.env("LEXDESK_HOME", home)
        .env("LEXDESK_MODELS_DIR", models_dir())
        .env_remove("LEXDESK_CHAT_MODEL")
        .env_remove("LEXDESK_EMBED_MODEL");
    c
}

/// Run a command that must succeed and print JSON; its parsed standard output.
///
/// # Panics
/// When it fails or prints something else (with its output in the message).
pub fn stdout_json(c: &mut std::process::Command) -> serde_json::Value {
    let out = c.output().expect("the command starts");
    assert!(out.status.success(), "{c:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Gemma 3 270M base Q4_K_M: a real model with no chat template and a multilingual vocabulary.
#[must_use]
pub fn base_model() -> PathBuf {
    model("gemma-3-270m-q4_k_m.gguf")
}

/// The embedding model's Hugging Face tokenizer (for token-aware chunking).
#[must_use]
pub fn embed_tokenizer() -> PathBuf {
    model("all-MiniLM-L6-v2.tokenizer.json")
}

/// The shared data folder: `LEXDESK_SHARED`, else `../shared` beside the checkout.
///
/// # Panics
/// When it does not exist (CI and development machines have it; see README.md).
#[must_use]
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("LEXDESK_SHARED")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"), PathBuf::from);
    assert!(dir.is_dir(), "shared data folder {} is missing: set LEXDESK_SHARED", dir.display());
    dir
}

/// A desk on `home` whose configuration (as loaded from the home and the environment) is
/// pinned to the fast plumbing models, SmolLM2 and MiniLM: tests of orchestration need real
/// models, not good ones.
///
/// # Panics
/// When the home or its configuration cannot be read.
#[must_use]
pub fn plumbing_desk(home: &std::path::Path) -> lexdesk_desk::Desk {
    let options = lexdesk_desk::DeskOptions { home: Some(home.to_path_buf()), worker_program: lexdesk_bin() };
    let desk = lexdesk_desk::Desk::open(options).expect("the desk opens");
    let mut config = desk.settings().configuration();
    config.models.chat = chat_model().display().to_string();
    config.models.embed = embed_model().display().to_string();
    desk.with_config(config)
}
