//! The `lexdesk` binary, run as a user would, with the real models.

use std::process::Command;

use assert_cmd::prelude::*;
use lexdesk_e2e::{chat_model, embed_model, lexdesk_bin, models_dir};
use predicates::prelude::*;

/// A `lexdesk` command with its own empty home directory.
fn lexdesk(home: &tempfile::TempDir) -> Command {
    let mut c = Command::new(lexdesk_bin());
    c.env("LEXDESK_HOME", home.path())
        .env("LEXDESK_MODELS_DIR", models_dir())
        .env("LEXDESK_CHAT_MODEL", chat_model())
        .env("LEXDESK_EMBED_MODEL", embed_model());
    c
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn models_inspect_reports_metadata_and_fit() {
    let home = tempfile::tempdir().unwrap();
    let out = lexdesk(&home).args(["models", "inspect", "--json"]).arg(chat_model()).assert().success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["architecture"], "llama");
    assert_eq!(v["quantization"], "Q4_1");
    assert_eq!(v["kind"], "chat");
    assert_eq!(v["has_chat_template"], true);
    assert_eq!(v["context_length"], 8192);
    assert_eq!(v["fit"], "fits_cpu");
    assert!(v["parameter_count"].as_u64().unwrap() > 100_000_000);
    assert!(v["memory_total"].as_u64().unwrap() > v["file_size"].as_u64().unwrap());

    lexdesk(&home)
        .args(["models", "inspect"])
        .arg(embed_model())
        .assert()
        .success()
        .stdout(predicate::str::contains("bert").and(predicate::str::contains("mean")));
}

#[test]
fn generate_streams_with_the_default_model_and_honours_flags_and_config() {
    let home = tempfile::tempdir().unwrap();
    // No --model: the built-in default is found in the test-model cache.
    let out = lexdesk(&home)
        .args(["generate", "--temperature", "0", "-n", "6", "--json", "Define tort in one sentence."])
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 6);
    assert_eq!(v["format"], "model_template");
    assert!(!v["text"].as_str().unwrap().is_empty());

    // config.toml in the home sets the default length; a flag overrides the file.
    std::fs::write(
        home.path().join("config.toml"),
        "[generation]\nmax_tokens = 3\n[generation.sampling]\ntemperature = 0.0\n",
    )
    .unwrap();
    let v = json(
        &lexdesk(&home)
            .args(["generate", "--json", "Write a long essay on contract law."])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(v["usage"]["completion_tokens"], 3);
    let v = json(
        &lexdesk(&home)
            .args(["generate", "--json", "-n", "4", "Write a long essay on contract law."])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(v["usage"]["completion_tokens"], 4);

    // Streaming to the terminal: text on stdout, usage on stderr.
    lexdesk(&home)
        .args(["generate", "-n", "5", "--show-prompt", "Hi"])
        .assert()
        .success()
        .stderr(predicate::str::contains("<|im_start|>user").and(predicate::str::contains("5 generated")));
}

#[test]
fn embed_prints_a_cosine_matrix() {
    let home = tempfile::tempdir().unwrap();
    let out = lexdesk(&home)
        .args([
            "embed",
            "--cosine",
            "--json",
            "The rent is due monthly.",
            "Monthly rent payments are required.",
            "Fish swim.",
        ])
        .assert()
        .success();
    let m: Vec<Vec<f64>> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(m.len(), 3);
    assert!((m[0][0] - 1.0).abs() < 1e-4 && (m[2][2] - 1.0).abs() < 1e-4);
    assert!(m[0][1] > m[0][2] + 0.3, "{m:?}");
    assert!((m[0][1] - m[1][0]).abs() < 1e-6);
}

#[test]
fn errors_have_codes_and_exit_statuses() {
    let home = tempfile::tempdir().unwrap();
    let pdf = home.path().join("contract.gguf");
    std::fs::write(&pdf, b"%PDF-1.4\n").unwrap();
    lexdesk(&home)
        .args(["models", "inspect"])
        .arg(&pdf)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("error[NOT_GGUF]").and(predicate::str::contains("PDF")));
    lexdesk(&home)
        .args(["generate", "--model"])
        .arg(embed_model())
        .arg("hi")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("NOT_A_CHAT_MODEL"));
    lexdesk(&home)
        .args(["generate", "--ctx-size", "100000", "hi"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("CONTEXT_TOO_LARGE"));
    lexdesk(&home)
        .args(["generate", "--model", "no-such-model.gguf", "hi"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no-such-model.gguf"));
    lexdesk(&home)
        .args(["generate", "--temperature=-2", "hi"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("temperature"));
    std::fs::write(home.path().join("config.toml"), "[engine]\nthreds = 2\n").unwrap();
    lexdesk(&home).args(["devices"]).assert().code(1).stderr(predicate::str::contains("threds"));
}

#[test]
fn the_demo_chat_answers_and_keeps_the_conversation() {
    let home = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::from_std(lexdesk(&home))
        .args(["chat", "--temperature", "0", "-n", "16"])
        .write_stdin("What is a contract?\nAnd a tort?\n/quit\n")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stdout.contains("› What is a contract?") && stdout.contains("› And a tort?"), "{stdout}");
    // Two answers, the second reusing the first turn from the KV cache.
    let usage: Vec<&str> = stderr.lines().filter(|l| l.contains("generated")).collect();
    assert_eq!(usage.len(), 2, "{stderr}");
    assert!(!usage[1].contains("(0 cached)"), "{stderr}");
}

#[test]
fn extract_walks_folders_reports_each_file_and_fails_only_bad_ones() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shared = lexdesk_e2e::shared_dir();
    std::fs::copy(shared.join("data/pdfs/generated/zh_contract_law.pdf"), dir.path().join("contract law.pdf")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/broken.pdf"), b"%PDF-1.4\n").unwrap();
    std::fs::write(dir.path().join("sub/photo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\0").unwrap();
    std::fs::write(dir.path().join(".DS_Store"), b"\0\0").unwrap();
    let out = lexdesk(&home).args(["extract", "--no-ocr", "--chunks", "--json"]).arg(dir.path()).assert().code(6);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("3 files: 1 ok, 1 failed, 1 skipped"), "{stderr}");
    assert!(
        stderr.contains("broken.pdf: error[TRUNCATED]") || stderr.contains("broken.pdf: error[DAMAGED]"),
        "{stderr}"
    );
    let chunks = json(&out.get_output().stdout);
    let first_article =
        chunks.as_array().unwrap().iter().find(|c| c["text"].as_str().unwrap().starts_with("第四百六十三条")).unwrap();
    assert!(first_article["heading_path"].to_string().contains("一般规定"), "{first_article}");
    assert_eq!(first_article["heading_path"][0], "中华人民共和国民法典", "the document title heads the path");
    assert!(first_article["tokens"].as_u64().unwrap() <= 256);
}
