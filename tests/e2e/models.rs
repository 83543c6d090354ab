//! `lexdesk models …` and `lexdesk secrets …` through the real binary, against a real HTTP
//! server on loopback standing in for the Hugging Face hub (`[hub] endpoint` in config.toml):
//! a catalog model (the real SmolLM2-135M GGUF) downloaded over a connection that drops half-way,
//! resumed, verified against the catalog's SHA-256, inspected by the engine and made the chat
//! model; a corrupt file rejected and deleted; a 404; a gated file that needs the token kept in
//! the secret store; import in place, remove, use, list, search, recommend.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use assert_cmd::prelude::*;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use lexdesk_e2e::{base_model, chat_model, embed_model, lexdesk_defaults_in, stdout_json};
use predicates::prelude::*;

const SMOL_SHA: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const TOKEN: &str = "hf_e2eTestToken123";

struct Hub {
    smol: Bytes,
    /// GETs of the real file, to drop the first one half-way.
    smol_gets: AtomicUsize,
    ranges: Mutex<Vec<String>>,
    authorizations: Mutex<Vec<String>>,
}

/// The hub on a thread of its own; its address.
fn start_hub() -> (String, Arc<Hub>) {
    let hub = Arc::new(Hub {
        smol: Bytes::from(std::fs::read(chat_model()).unwrap()),
        smol_gets: AtomicUsize::new(0),
        ranges: Mutex::new(Vec::new()),
        authorizations: Mutex::new(Vec::new()),
    });
    let app = Router::new().route("/{owner}/{repo}/resolve/main/{file}", any(serve)).with_state(hub.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}", rx.recv().unwrap()), hub)
}

async fn serve(
    State(hub): State<Arc<Hub>>,
    UrlPath((owner, repo, file)): UrlPath<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    hub.authorizations.lock().unwrap().push(auth.clone());
    let body = match (owner.as_str(), repo.as_str(), file.as_str()) {
        ("QuantFactory", "SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct.Q4_1.gguf") => hub.smol.clone(),
        // The catalog pins this file's checksum; serving other bytes must be caught.
        ("QuantFactory", "SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct.Q8_0.gguf") => hub.smol.slice(..1 << 20),
        ("private", "gated-GGUF", _) if auth == format!("Bearer {TOKEN}") => hub.smol.clone(),
        ("private", "gated-GGUF", _) => return StatusCode::UNAUTHORIZED.into_response(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if method == Method::HEAD {
        return (StatusCode::OK, [(header::CONTENT_LENGTH, body.len().to_string())]).into_response();
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let real = file == "SmolLM2-135M-Instruct.Q4_1.gguf";
    if real {
        hub.ranges.lock().unwrap().push(range.clone().unwrap_or_else(|| "-".into()));
    }
    let start: usize = range.map_or(0, |r| r.trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap());
    let total = body.len();
    let tail = body.slice(start..);
    let mut resp = Response::builder().header(header::CONTENT_LENGTH, tail.len());
    resp = if start > 0 {
        resp.status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{}/{total}", total - 1))
    } else {
        resp.status(StatusCode::OK)
    };
    if real && hub.smol_gets.fetch_add(1, Ordering::SeqCst) == 0 {
        // The first transfer of the real model breaks off after 40 MB.
        let first = tail.slice(..40_000_000);
        let stream =
            futures::stream::iter(vec![Ok(first), Err(std::io::Error::other("connection reset by the test hub"))]);
        return resp.body(Body::from_stream(stream)).unwrap();
    }
    resp.body(Body::from(tail)).unwrap()
}

/// Model management names models itself (through `config.toml`): no plumbing pins.
fn lexdesk(home: &Path) -> Command {
    let mut c = lexdesk_defaults_in(home);
    c.env_remove("HF_TOKEN").env_remove("HF_ENDPOINT").env_remove("LEXDESK_SECRETS_PASSPHRASE");
    c
}

fn write_config(home: &Path, endpoint: &str) {
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!("[hub]\nendpoint = \"{endpoint}\"\nread_timeout_secs = 10\nretries = 3\n"),
    )
    .unwrap();
}

#[test]
fn a_catalog_model_downloads_resumes_verifies_and_becomes_the_chat_model() {
    let (endpoint, hub) = start_hub();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    write_config(home, &endpoint);

    let out = stdout_json(lexdesk(home).args(["models", "download", "smollm2-135m-instruct:Q4_1", "--use", "--json"]));
    let d = &out["downloads"][0];
    assert_eq!(d["sha256"], SMOL_SHA, "{out:#}");
    assert_eq!(d["checksum_source"], "given", "verified against the catalog's pinned checksum");
    assert_eq!(d["already_present"], false);
    assert!(d["attempts"].as_u64().unwrap() >= 3, "probe, the broken transfer, the resumed one: {out:#}");
    assert_eq!(out["used_as"], "chat");
    let path = PathBuf::from(d["path"].as_str().unwrap());
    assert_eq!(path, home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert_eq!(std::fs::read(&path).unwrap(), hub.smol.to_vec());
    // The second request resumed where the first broke off: at most the 40 MB sent (bytes still in
    // flight when the connection was reset are lost), never from zero.
    let ranges = hub.ranges.lock().unwrap().clone();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], "-");
    let resumed: u64 = ranges[1].trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
    assert!(resumed > 0 && resumed <= 40_000_000, "{ranges:?}");
    assert!(
        std::fs::read_to_string(home.join("config.toml"))
            .unwrap()
            .contains("chat = \"SmolLM2-135M-Instruct.Q4_1.gguf\"")
    );
    assert!(hub.authorizations.lock().unwrap().iter().all(|a| a == "-"), "no token was stored, none was sent");

    // Listed as installed and recognised as the catalog's file; a second download is a no-op.
    let installed = stdout_json(lexdesk(home).args(["models", "list", "--installed", "--json"]));
    let smol = installed.as_array().unwrap().iter().find(|m| m["path"] == d["path"]).expect("listed");
    assert_eq!(smol["catalog_id"], "smollm2-135m-instruct");
    assert_eq!(smol["origin"], "folder");
    let again = stdout_json(lexdesk(home).args(["models", "download", "smollm2-135m-instruct:Q4_1", "--json"]));
    assert_eq!(again["downloads"][0]["already_present"], true);

    // The downloaded model answers.
    lexdesk(home)
        .args(["generate", "-n", "4", "--temperature", "0", "Say hello."])
        .assert()
        .success()
        .stdout(predicate::str::is_empty().not());

    // Bytes that do not match the catalog's checksum are rejected and deleted.
    lexdesk(home)
        .args(["models", "download", "smollm2-135m-instruct:Q8_0"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("error[CHECKSUM_MISMATCH]").and(predicate::str::contains("deleted")));
    assert!(!home.join("models/SmolLM2-135M-Instruct.Q8_0.gguf").exists());
    assert!(!home.join("models/SmolLM2-135M-Instruct.Q8_0.gguf.part").exists());

    // Not on the server.
    lexdesk(home)
        .args(["models", "download", "qwen2.5-1.5b-instruct"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("error[DOWNLOAD_NOT_FOUND]"));
    // Not in the catalog.
    lexdesk(home)
        .args(["models", "download", "qwen2.5-1.5b"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean qwen2.5-1.5b-instruct"));
    lexdesk(home)
        .args(["models", "download", "smollm2-135m-instruct:Q2_K"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("available: Q4_1, Q8_0"));

    // Removing the chat model deletes the file and says the config still names it.
    lexdesk(home)
        .args(["models", "remove", "SmolLM2-135M-Instruct.Q4_1.gguf"])
        .assert()
        .success()
        .stdout(predicate::str::contains("deleted"))
        .stderr(predicate::str::contains("was the chat model"));
    assert!(!path.exists());
}

#[test]
fn a_gated_file_needs_the_token_from_the_secret_store() {
    let (endpoint, hub) = start_hub();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    write_config(home, &endpoint);
    let url = format!("{endpoint}/private/gated-GGUF/resolve/main/tiny.gguf");

    // No token: the hub refuses, and the error says how to store one.
    lexdesk(home).args(["models", "download", &url, "--sha256", SMOL_SHA]).assert().code(7).stderr(
        predicate::str::contains("error[DOWNLOAD_UNAUTHORIZED]")
            .and(predicate::str::contains("secrets set huggingface-token")),
    );

    // No keychain in this process's environment and no passphrase: refused, not kept in memory.
    let secrets = |c: &mut Command| {
        c.env("LEXDESK_SECRETS", "file").env("LEXDESK_SECRETS_PASSPHRASE", "e2e passphrase");
    };
    let mut refused = lexdesk(home);
    refused.args(["secrets", "set", "huggingface-token"]).env("LEXDESK_SECRETS", "file");
    assert_cmd::Command::from_std(refused)
        .write_stdin(format!("{TOKEN}\n"))
        .assert()
        .code(7)
        .stderr(predicate::str::contains("error[NO_SECRET_STORE]"));
    let mut set = lexdesk(home);
    secrets(&mut set);
    set.args(["secrets", "set", "huggingface-token"]);
    assert_cmd::Command::from_std(set)
        .write_stdin(format!("{TOKEN}\n"))
        .assert()
        .success()
        .stdout(predicate::str::contains("encrypted file"));
    let stored = std::fs::read_to_string(home.join("secrets.json.enc")).unwrap();
    assert!(!stored.contains(TOKEN), "the token is encrypted at rest");
    let mut check = lexdesk(home);
    secrets(&mut check);
    check.args(["secrets", "check", "huggingface-token"]).assert().success().stdout(predicate::str::contains("stored"));

    // With the token: downloaded, and the token went to the hub.
    let mut dl = lexdesk(home);
    secrets(&mut dl);
    let out = stdout_json(dl.args(["models", "download", &url, "--sha256", SMOL_SHA, "--json"]));
    assert_eq!(out["downloads"][0]["sha256"], SMOL_SHA);
    assert!(hub.authorizations.lock().unwrap().contains(&format!("Bearer {TOKEN}")));
    assert!(home.join("models/tiny.gguf").is_file());

    let mut del = lexdesk(home);
    secrets(&mut del);
    del.args(["secrets", "delete", "huggingface-token"]).assert().success().stdout(predicate::str::contains("deleted"));
}

#[test]
fn import_use_list_search_and_recommend() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    // Import in place: validated by the engine, listed, usable, forgotten without deleting it.
    let base = base_model();
    let imported =
        stdout_json(lexdesk(home).args(["models", "import", base.to_str().unwrap(), "--name", "gemma-base", "--json"]));
    assert_eq!(imported[0]["name"], "gemma-base");
    assert_eq!(imported[0]["architecture"], "gemma3");
    assert_eq!(imported[0]["kind"], "chat");
    lexdesk(home)
        .args(["models", "use", "gemma-base"])
        .assert()
        .success()
        .stdout(predicate::str::contains("chat model"));
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains(&format!("chat = \"{}\"", std::fs::canonicalize(&base).unwrap().display())), "{config}");
    let installed = stdout_json(lexdesk(home).args(["models", "list", "--installed", "--json"]));
    assert!(installed.as_array().unwrap().iter().any(|m| m["name"] == "gemma-base" && m["origin"] == "imported"));
    lexdesk(home)
        .args(["models", "remove", "gemma-base"])
        .assert()
        .success()
        .stdout(predicate::str::contains("was kept"));
    assert!(base.exists());

    // A file that is not a GGUF is refused by the engine's header check.
    let text = home.join("notes.gguf");
    std::fs::write(&text, "not a model").unwrap();
    lexdesk(home)
        .args(["models", "import", text.to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("error[NOT_GGUF]"));

    // The embedding model is recognised as such; a chat model cannot be the embedder.
    let embed_name = embed_model().file_name().unwrap().to_string_lossy().into_owned();
    lexdesk(home)
        .args(["models", "use", &embed_name])
        .assert()
        .success()
        .stdout(predicate::str::contains("embedding model"));
    let chat_name = chat_model().file_name().unwrap().to_string_lossy().into_owned();
    lexdesk(home)
        .args(["models", "use", &chat_name, "--kind", "embedding"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an embedding model"));
    lexdesk(home)
        .args(["models", "use", "qwen2.5-7b-instruct"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not downloaded"));

    // The catalog, with every entry's fit on this machine.
    let list = stdout_json(lexdesk(home).args(["models", "list", "--json"]));
    let list = list.as_array().unwrap();
    for kind in ["chat", "embedding", "reranker", "vision"] {
        assert!(list.iter().any(|m| m["kind"] == kind), "{kind}");
    }
    assert!(list.iter().all(|m| m["fits"].as_array().unwrap().len() == m["files"].as_array().unwrap().len()));
    let search =
        stdout_json(lexdesk(home).args(["models", "search", "qwen", "--kind", "chat", "--lang", "zh", "--json"]));
    let search = search.as_array().unwrap();
    assert!(
        !search.is_empty() && search.iter().all(|m| m["kind"] == "chat" && m["id"].as_str().unwrap().contains("qwen"))
    );

    // A recommendation for this machine, with the hardware it was made for.
    let rec = stdout_json(lexdesk(home).args(["models", "recommend", "--lang", "zh", "--json"]));
    assert!(rec["hardware"]["ram_total"].as_u64().unwrap() > 0, "{rec:#}");
    assert!(rec["hardware"]["physical_cores"].as_u64().unwrap() >= 1);
    let chat = &rec["chat"];
    assert_eq!(chat["kind"], "chat", "{rec:#}");
    assert_ne!(chat["fit"]["verdict"], "does_not_fit");
    assert_eq!(chat["fit"]["threads"], rec["hardware"]["physical_cores"]);
    let id = chat["fit"]["id"].as_str().unwrap();
    assert!(search.iter().any(|m| m["id"] == id), "the recommended chat model speaks Chinese: {id}");
    assert_eq!(rec["embedding"]["kind"], "embedding");
}

/// The settings screen's "Models on this machine" (through the desk): another app's GGUF found
/// in its folder layout, validated and used in place (never copied), then offered in the model
/// pickers and usable as the model; an impostor `.gguf` refused with its reason.
#[test]
fn desk_finds_other_apps_models_and_uses_them_in_place() {
    use lexdesk_core::ErrorCode;
    use lexdesk_desk::{Desk, DeskOptions, SettingsUpdate};
    use lexdesk_models::discover::Roots;

    let home = tempfile::tempdir().unwrap();
    let apps = tempfile::tempdir().unwrap();
    // LM Studio's layout: models/<publisher>/<repository>/<file>.gguf
    let lm = apps.path().join("lmstudio/models");
    let repo = lm.join("lexdesk-test/MiniLM-GGUF");
    std::fs::create_dir_all(&repo).unwrap();
    let file = repo.join("all-MiniLM-L6-v2-q8_0.gguf");
    std::fs::copy(embed_model(), &file).unwrap();
    let impostor = apps.path().join("weights.gguf");
    std::fs::write(&impostor, "<!doctype html><title>Sign in</title>").unwrap();
    let roots = Roots { lm_studio: vec![lm], ..Roots::default() };

    let desk =
        Desk::open(DeskOptions { home: Some(home.path().into()), worker_program: lexdesk_e2e::lexdesk_bin() }).unwrap();
    let found = desk.models().discover_in(&roots).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].source, "LM Studio");
    assert!(found[0].name.contains("MiniLM-GGUF"), "{found:?}");
    assert!(!found[0].imported && !found[0].projector);

    let choice = desk.models().import(Path::new(&found[0].path), None).unwrap();
    assert_eq!(choice.kind.as_deref(), Some("embedding"));
    assert_eq!(Path::new(&choice.path), std::fs::canonicalize(&file).unwrap());
    assert!(desk.models().discover_in(&roots).unwrap()[0].imported);
    // Importing it again is harmless; nothing was copied into LexDesk's models folder.
    assert_eq!(desk.models().import(&file, None).unwrap().path, choice.path);
    assert!(!home.path().join("models/all-MiniLM-L6-v2-q8_0.gguf").exists());
    // The pickers offer it, and it can be chosen.
    let offered = desk.settings().get().available_models;
    assert!(offered.iter().any(|m| m.path == choice.path && m.kind.as_deref() == Some("embedding")), "{offered:?}");
    let settings = desk
        .settings()
        .update(SettingsUpdate { embed_model: Some(choice.path.clone()), ..SettingsUpdate::default() })
        .unwrap();
    assert_eq!(settings.embed_model, choice.path);

    let e = desk.models().import(&impostor, None).unwrap_err();
    assert_eq!(e.code(), "NOT_GGUF", "{e}");
    assert!(e.to_string().contains("HTML"), "the impostor is named: {e}");
    let e = desk.models().import(&apps.path().join("missing.gguf"), None).unwrap_err();
    assert_eq!(e.code(), "FILE_NOT_FOUND", "{e}");
}
