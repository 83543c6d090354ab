//! The server mode with the real models, store and PDF worker, through a real HTTP client
//! (reqwest) on loopback: OpenAI-compatible chat (streaming or not), embeddings and models;
//! keys and scopes; errors in OpenAI's shape; uploads as ingestion jobs; search; grounded
//! answers; metrics; the bounded queue; client disconnects; per-key rate limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use lexdesk_desk::{Desk, DeskOptions};
use lexdesk_e2e::{block_on, lexdesk_bin, shared_dir};
use lexdesk_server::{AppState, Bound, KeyStore, Scope, ServerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(home: &std::path::Path, config: ServerConfig) -> Self {
        let desk = lexdesk_e2e::plumbing_desk(home);
        let bound = Bound::bind(AppState::new(Arc::new(desk), config)).await.unwrap();
        let addr: SocketAddr = bound.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bound
                .serve(async move {
                    rx.await.ok();
                })
                .await
                .unwrap();
        });
        Self { base: format!("http://{addr}"), stop: Some(tx), task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST `body` as JSON to `path` with `key`.
    async fn post(&self, http: &reqwest::Client, path: &str, key: &str, body: &Value) -> reqwest::Response {
        http.post(self.url(path)).bearer_auth(key).json(body).send().await.expect("the server answers")
    }

    async fn shutdown(mut self) {
        self.stop.take().unwrap().send(()).ok();
        tokio::time::timeout(Duration::from_secs(40), self.task).await.expect("graceful shutdown").unwrap();
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".into(),
        parallel: 1,
        queue: 0,
        max_json_kib: 64,
        rate_limit_per_minute: 0,
        ..ServerConfig::default()
    }
}

async fn error_of(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let body: Value = r.json().await.expect("errors are JSON");
    assert!(body["error"]["message"].is_string() && body["error"]["type"].is_string(), "{body}");
    (status, body)
}

/// `data:` payloads of a server-sent event stream, with their event names.
fn sse_events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                }
            }
            (!data.is_empty()).then(|| (name, data.join("\n")))
        })
        .collect()
}

/// A real HTTP client (reqwest is built without a default TLS provider: ring is installed first).
fn http_client() -> reqwest::Client {
    drop(rustls::crypto::ring::default_provider().install_default());
    reqwest::Client::new()
}

async fn metric(client: &reqwest::Client, server: &Server, key: &str, name: &str) -> f64 {
    let text = client.get(server.url("/metrics")).bearer_auth(key).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn server_speaks_openai_and_lexdesk_behind_scoped_keys() {
    let home = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(home.path());
    let (_, admin) = keys.create("admin", &[Scope::Admin]).unwrap();
    let (_, client_key) = keys.create("litigation", &[Scope::Ask, Scope::Read]).unwrap();
    let (_, reader) = keys.create("viewer", &[Scope::Read]).unwrap();
    let (_, prometheus) = keys.create("prometheus", &[Scope::Metrics]).unwrap();
    // The chat model's context; the embedding model (trained on 512) keeps its own.
    std::fs::write(home.path().join("config.toml"), "[engine]\ncontext_length = 1024\n").unwrap();

    block_on(async {
        let server = Server::start(home.path(), config()).await;
        let http = http_client();

        // Liveness needs no key; everything else does.
        let health: Value = http.get(server.url("/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "ok");
        let (status, body) = error_of(http.get(server.url("/v1/models")).send().await.unwrap()).await;
        assert_eq!((status, body["error"]["type"].as_str()), (StatusCode::UNAUTHORIZED, Some("authentication_error")));
        let r = http.get(server.url("/v1/models")).bearer_auth("lxd_0123456789ab_wrong").send().await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(error_of(r).await.1["error"]["code"], "INVALID_API_KEY");
        let r = http.get(server.url("/ready")).bearer_auth(&reader).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "models load on first use here");

        let models: Value =
            http.get(server.url("/v1/models")).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
        assert_eq!(models["object"], "list");
        let chat_id = models["data"][0]["id"].as_str().unwrap().to_string();
        let embed_id = models["data"][1]["id"].as_str().unwrap().to_string();
        assert_eq!(
            (models["data"][0]["kind"].as_str(), models["data"][1]["kind"].as_str()),
            (Some("chat"), Some("embedding"))
        );

        // A read key cannot generate.
        let chat_body = json!({
            "model": chat_id,
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}],
            "max_tokens": 12,
            "temperature": 0
        });
        let r = server.post(&http, "/v1/chat/completions", &reader, &chat_body).await;
        let (status, body) = error_of(r).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("INSUFFICIENT_SCOPE")));

        // Chat, not streamed.
        let r = server.post(&http, "/v1/chat/completions", &client_key, &chat_body).await;
        assert_eq!(r.status(), StatusCode::OK);
        let done: Value = r.json().await.unwrap();
        assert_eq!(done["object"], "chat.completion");
        assert_eq!(done["model"], chat_id.as_str());
        let text = done["choices"][0]["message"]["content"].as_str().unwrap().to_string();
        assert!(!text.trim().is_empty(), "{done}");
        let usage = &done["usage"];
        let (p, c) = (usage["prompt_tokens"].as_u64().unwrap(), usage["completion_tokens"].as_u64().unwrap());
        assert!(p > 5 && (1..=12).contains(&c) && usage["total_tokens"].as_u64() == Some(p + c), "{usage}");
        assert!(["stop", "length"].contains(&done["choices"][0]["finish_reason"].as_str().unwrap()));

        // Streamed: the same greedy text, in chunks, ending with usage and [DONE].
        let mut stream_body = chat_body.clone();
        stream_body["stream"] = json!(true);
        stream_body["stream_options"] = json!({"include_usage": true});
        let r = server.post(&http, "/v1/chat/completions", &client_key, &stream_body).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let events = sse_events(&r.text().await.unwrap());
        assert_eq!(events.last().unwrap().1, "[DONE]");
        let chunks: Vec<Value> =
            events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let streamed: String =
            chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect::<String>();
        assert_eq!(streamed, text, "streaming and not streaming agree at temperature 0");
        assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"] && c["object"] == "chat.completion.chunk"));
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"].as_array().unwrap().len(), 0);
        assert_eq!(last["usage"]["completion_tokens"].as_u64(), Some(c));

        // Embeddings: floats and base64 of the same vectors.
        let r = server
            .post(
                &http,
                "/v1/embeddings",
                &client_key,
                &json!({"model": embed_id, "input": ["non-compete clause", "governing law"]}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let emb: Value = r.json().await.unwrap();
        let v0: Vec<f32> = serde_json::from_value(emb["data"][0]["embedding"].clone()).unwrap();
        assert_eq!((emb["data"].as_array().unwrap().len(), v0.len()), (2, 384));
        let norm: f32 = v0.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
        assert!(emb["usage"]["prompt_tokens"].as_u64().unwrap() >= 4);
        let r = server
            .post(
                &http,
                "/v1/embeddings",
                &client_key,
                &json!({"model": embed_id, "input": "non-compete clause", "encoding_format": "base64"}),
            )
            .await;
        let b64: Value = r.json().await.unwrap();
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(b64["data"][0]["embedding"].as_str().unwrap()).unwrap();
        let floats: Vec<f32> = bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert!(floats.iter().zip(&v0).all(|(a, b)| (a - b).abs() < 1e-5));

        // Bad requests get the right 4xx in OpenAI's shape.
        let r = http
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(&client_key)
            .header("content-type", "application/json")
            .body("{\"model\": ")
            .send()
            .await
            .unwrap();
        let (status, body) = error_of(r).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_JSON")));
        let huge = json!({"model": chat_id, "messages": [{"role": "user", "content": "x".repeat(100 * 1024)}]});
        let r = server.post(&http, "/v1/chat/completions", &client_key, &huge).await;
        assert_eq!(error_of(r).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        let r = server
            .post(
                &http,
                "/v1/chat/completions",
                &client_key,
                &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        let (status, body) = error_of(r).await;
        assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::NOT_FOUND, Some("model")));
        let r =
            server.post(&http, "/v1/chat/completions", &client_key, &json!({"model": chat_id, "messages": []})).await;
        assert_eq!(error_of(r).await.1["error"]["param"], "messages");
        let r = http.get(server.url("/v1/nope")).bearer_auth(&client_key).send().await.unwrap();
        assert_eq!(error_of(r).await.0, StatusCode::NOT_FOUND);
        let r = http.delete(server.url("/v1/models")).bearer_auth(&client_key).send().await.unwrap();
        assert_eq!(error_of(r).await.0, StatusCode::METHOD_NOT_ALLOWED);

        // One slot, no queue: concurrent generations beyond it get 503 with Retry-After.
        let long = json!({"model": chat_id, "messages": [{"role": "user", "content": "Write a long story about a court."}], "max_tokens": 48});
        let send = || http.post(server.url("/v1/chat/completions")).bearer_auth(&client_key).json(&long).send();
        let (a, b, c3) = tokio::join!(send(), send(), send());
        let rs = [a.unwrap(), b.unwrap(), c3.unwrap()];
        let statuses: Vec<StatusCode> = rs.iter().map(reqwest::Response::status).collect();
        assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
        let busy = rs.iter().find(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE).expect("a 503");
        assert!(busy.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);

        // A client that goes away frees its slot at once (its generation is cancelled).
        let mut endless = long.clone();
        endless["max_tokens"] = json!(4000);
        endless["stream"] = json!(true);
        let mut r = server.post(&http, "/v1/chat/completions", &client_key, &endless).await;
        assert!(r.chunk().await.unwrap().is_some());
        drop(r);
        let t = Instant::now();
        while metric(&http, &server, &admin, "lexdesk_active_sequences").await > 0.0 {
            assert!(t.elapsed() < Duration::from_secs(5), "the slot of a disconnected client was not freed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = server.post(&http, "/v1/chat/completions", &client_key, &chat_body).await;
        assert_eq!(r.status(), StatusCode::OK);
        // The same without streaming: the client gives up while the answer is still being written.
        let count = json!({"model": chat_id, "messages": [{"role": "user", "content": "Count from 1 to 3000, separated by commas."}], "max_tokens": 3000, "temperature": 0, "ignore_eos": true});
        let gave_up = http
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(&client_key)
            .json(&count)
            .timeout(Duration::from_millis(1500))
            .send()
            .await
            .expect_err("3,000 tokens take longer than 1.5 s here");
        assert!(gave_up.is_timeout(), "{gave_up}");
        let t = Instant::now();
        while metric(&http, &server, &admin, "lexdesk_active_sequences").await > 0.0 {
            assert!(t.elapsed() < Duration::from_secs(5), "the generation of a client that left kept running");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // LexDesk: a matter, an upload as a job (one good file, one broken), search, answers.
        let r = server.post(&http, "/v1/matters", &client_key, &json!({"name": "NDA"})).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "creating needs the ingest scope");
        let r = server.post(&http, "/v1/matters", &admin, &json!({"name": "NDA"})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let matter: Value = r.json().await.unwrap();
        let matter_id = matter["id"].as_str().unwrap().to_string();
        let nda = std::fs::read(shared_dir().join("data/corpus/en-nda/nda-0003.txt")).unwrap();
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(nda).file_name("nda-0003.txt"))
            .part("file", reqwest::multipart::Part::bytes(b"not a pdf".to_vec()).file_name("../broken.pdf"));
        let r = http
            .post(server.url(&format!("/v1/matters/{matter_id}/documents")))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let job: Value = r.json().await.unwrap();
        assert_eq!(job["files"], json!(["nda-0003.txt", "broken.pdf"]));
        let job_url = server.url(&format!("/v1/jobs/{}", job["id"].as_str().unwrap()));
        let t = Instant::now();
        let job = loop {
            let j: Value = http.get(&job_url).bearer_auth(&reader).send().await.unwrap().json().await.unwrap();
            if j["status"] == "done" || j["status"] == "failed" {
                break j;
            }
            assert!(t.elapsed() < Duration::from_secs(180), "{j}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!((job["status"].as_str(), job["indexed"].as_u64()), (Some("done"), Some(1)), "{job}");
        assert_eq!(job["failed"][0]["code"], "NOT_A_PDF");
        let docs: Value = http
            .get(server.url(&format!("/v1/matters/{matter_id}/documents")))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(docs["data"].as_array().unwrap().len(), 2);

        let hits: Value = server
            .post(
                &http,
                &format!("/v1/matters/{matter_id}/search"),
                &reader,
                &json!({"query": "reverse engineer", "limit": 3}),
            )
            .await
            .json()
            .await
            .unwrap();
        let top = &hits["data"][0];
        assert_eq!(top["doc"], "nda-0003.txt");
        assert!(top["text"].as_str().unwrap().to_lowercase().contains("reverse"), "{top}");

        let question = "May the receiving party reverse engineer the disclosed software?";
        let answer: Value = server
            .post(
                &http,
                &format!("/v1/matters/{matter_id}/ask"),
                &client_key,
                &json!({"question": question, "mode": "extractive"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["abstained"], false, "{answer}");
        let cites = answer["citations"].as_array().unwrap();
        assert!(
            !cites.is_empty() && cites.iter().all(|c| c["verified"] == true && c["doc"] == "nda-0003.txt"),
            "{answer}"
        );
        // `top_k` bounds the evidence: one passage retrieved, at most one cited.
        let one: Value = server
            .post(
                &http,
                &format!("/v1/matters/{matter_id}/ask"),
                &client_key,
                &json!({"question": question, "mode": "extractive", "top_k": 1}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (one["abstained"].as_bool(), one["citations"].as_array().map(Vec::len)),
            (Some(false), Some(1)),
            "{one}"
        );
        let r = server
            .post(
                &http,
                &format!("/v1/matters/{matter_id}/ask"),
                &client_key,
                &json!({"question": question, "stream": true, "session_id": answer["session_id"]}),
            )
            .await;
        let events = sse_events(&r.text().await.unwrap());
        assert_eq!(events[0].0, "retrieved", "{events:?}");
        let (name, data) = events.last().unwrap();
        assert_eq!(name, "answer", "{events:?}");
        let streamed: Value = serde_json::from_str(data).unwrap();
        assert_eq!(streamed["session_id"], answer["session_id"]);
        assert!(streamed["citations"].as_array().unwrap().iter().all(|c| c["verified"] == true), "{streamed}");
        let r = server.post(&http, "/v1/matters/nope/ask", &client_key, &json!({"question": question})).await;
        assert_eq!(error_of(r).await.1["error"]["code"], "MATTER_NOT_FOUND");
        // A user error is never a 5xx: an unknown template is 404 (it answered 500 before the
        // error taxonomy), with the template's code.
        let r = server
            .post(
                &http,
                &format!("/v1/matters/{matter_id}/ask"),
                &client_key,
                &json!({"question": question, "template": "no-such-template"}),
            )
            .await;
        let (status, body) = error_of(r).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("TEMPLATE_NOT_FOUND")),
            "{body}"
        );
        assert_eq!(body["error"]["type"], "not_found_error");

        // Metrics: admin or a metrics key only; requests, tokens, ingestion, models.
        let r = http.get(server.url("/metrics")).bearer_auth(&client_key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let text =
            http.get(server.url("/metrics")).bearer_auth(&prometheus).send().await.unwrap().text().await.unwrap();
        for needle in [
            "lexdesk_http_requests_total{method=\"POST\",route=\"/v1/chat/completions\",status=\"200\"}",
            "lexdesk_http_requests_total{method=\"POST\",route=\"/v1/chat/completions\",status=\"503\"}",
            "lexdesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/jobs/{job_id}\",status=\"200\"",
            "lexdesk_models_loaded{kind=\"chat\"",
            "lexdesk_rejected_requests_total{reason=\"queue_full\"}",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        assert!(metric(&http, &server, &admin, "lexdesk_generated_tokens_total").await > 10.0);
        assert!(metric(&http, &server, &admin, "lexdesk_ingest_pages_total").await >= 1.0);
        assert!(metric(&http, &server, &admin, "lexdesk_ingest_failures_total").await >= 1.0);
        let ready = http.get(server.url("/ready")).bearer_auth(&reader).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);

        // Revocation takes effect on the next request.
        keys.revoke("litigation").unwrap();
        let r = http.get(server.url("/v1/models")).bearer_auth(&client_key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        server.shutdown().await;
    });
}

#[test]
fn per_key_rate_limits_answer_429_with_retry_after() {
    let home = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(home.path());
    let (_, a) = keys.create("a", &[Scope::Read]).unwrap();
    let (_, b) = keys.create("b", &[Scope::Read]).unwrap();
    block_on(async {
        let config = ServerConfig { rate_limit_per_minute: 6, rate_limit_burst: 3, ..config() };
        let server = Server::start(home.path(), config).await;
        let http = http_client();
        for _ in 0..3 {
            assert_eq!(
                http.get(server.url("/v1/matters")).bearer_auth(&a).send().await.unwrap().status(),
                StatusCode::OK
            );
        }
        let r = http.get(server.url("/v1/matters")).bearer_auth(&a).send().await.unwrap();
        let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry), "{retry}");
        let (status, body) = error_of(r).await;
        assert_eq!((status, body["error"]["type"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limit_error")));
        // Another key has its own budget.
        assert_eq!(http.get(server.url("/v1/matters")).bearer_auth(&b).send().await.unwrap().status(), StatusCode::OK);
        // Unauthenticated requests never reach the limiter (or the models).
        assert_eq!(http.get(server.url("/v1/matters")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        server.shutdown().await;
    });
}

/// Remote engines: a desk whose chat and embedding models are another LexDesk server's (any
/// OpenAI-compatible endpoint would do), reached over HTTP with the key from a secret file.
#[test]
fn a_remote_engine_is_any_openai_compatible_endpoint() {
    use lexdesk_core::ErrorCode;
    use lexdesk_core::embed::{EmbedRole, Embedder};
    use lexdesk_core::generate::{ChatMessage, GenerateRequest, Generator, Prompt, Role, Sampling};
    use lexdesk_desk::{AskParams, ChatEngine, EmbedEngine};
    use lexdesk_service::answer::AnswerMode;

    let engine_home = tempfile::tempdir().unwrap();
    let (_, key) = KeyStore::new(engine_home.path()).create("desk-b", &[Scope::Ask, Scope::Read]).unwrap();
    let client_home = tempfile::tempdir().unwrap();
    let key_file = client_home.path().join("engine.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    block_on(async {
        let engine = Server::start(engine_home.path(), ServerConfig { parallel: 2, queue: 8, ..config() }).await;
        let http = http_client();
        let models: Value =
            http.get(engine.url("/v1/models")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        let (chat_id, embed_id) =
            (models["data"][0]["id"].as_str().unwrap(), models["data"][1]["id"].as_str().unwrap());
        let write_config = |key_file: &std::path::Path, retries: u32, url: &str| {
            let toml = format!(
                "[remote.chat]\nurl = \"{url}\"\nmodel = \"{chat_id}\"\nkey_file = \"{}\"\nretries = {retries}\ncontext_length = 2048\n\n\
                 [remote.embed]\nurl = \"{url}\"\nmodel = \"{embed_id}\"\nkey_file = \"{}\"\nretries = {retries}\n",
                key_file.display(),
                key_file.display()
            );
            std::fs::write(client_home.path().join("config.toml"), toml).unwrap();
        };
        write_config(&key_file, 1, &engine.url("/v1"));
        let desk =
            Desk::open(DeskOptions { home: Some(client_home.path().into()), worker_program: lexdesk_bin() }).unwrap();

        // Generation: the same greedy text as asking the engine directly.
        let chat = desk.models().chat().await.unwrap();
        assert!(matches!(chat, ChatEngine::Remote(_)) && chat.id() == chat_id);
        let messages = vec![ChatMessage::new(Role::User, "Name a colour.")];
        let request = GenerateRequest {
            prompt: Prompt::Chat(messages),
            max_tokens: 12,
            stop: Vec::new(),
            sampling: Sampling { temperature: 0.0, ..desk.settings().configuration().generation.sampling },
        };
        let remote = chat.generate(request).unwrap().collect().await.unwrap();
        let direct: Value = engine.post(&http, "/v1/chat/completions", &key, &json!({"model": chat_id, "messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 12, "temperature": 0})).await
            .json()
            .await
            .unwrap();
        assert_eq!(remote.text, direct["choices"][0]["message"]["content"].as_str().unwrap());
        assert_eq!(remote.usage.completion_tokens as u64, direct["usage"]["completion_tokens"].as_u64().unwrap());
        assert!(remote.usage.prompt_tokens > 5);

        // Embeddings, then a whole matter on remote engines: ingestion, search, a grounded answer.
        let embedder = desk.models().embedding().await.unwrap();
        assert!(matches!(embedder, EmbedEngine::Remote(_)) && embedder.dimensions() == 384);
        let v = embedder.embed(vec!["governing law".into()], EmbedRole::Query).await.unwrap();
        assert!((v[0].vector.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-3);
        let matter = desk.matters().create("Remote").unwrap();
        let nda = shared_dir().join("data/corpus/en-nda/nda-0003.txt");
        let summary = desk
            .documents(&matter.id)
            .ingest(
                &lexdesk_desk::IngestParams::Paths(vec![nda]),
                &lexdesk_core::generate::CancelToken::new(),
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!(summary.indexed, 1, "{summary:?}");
        let params = AskParams {
            question: "May the receiving party reverse engineer the disclosed software?".into(),
            session_id: None,
            doc: None,
            mode: Some(AnswerMode::Generate),
            ..AskParams::default()
        };
        let result = desk
            .answers(&matter.id)
            .ask(&params, &lexdesk_core::generate::CancelToken::new(), &mut |_| {})
            .await
            .unwrap();
        let answer = &result.turn.answer;
        assert!(result.turn.model.as_deref().is_some_and(|m| m.contains(chat_id)), "{:?}", result.turn.model);
        assert!(answer.usage.is_some() && !answer.searched.passages.is_empty(), "{answer:?}");
        assert!(answer.citations.iter().all(|c| !c.verified || c.start.is_some()), "verified citations carry spans");

        // A wrong key is refused by the engine: a clear error, no retries needed.
        let wrong = client_home.path().join("wrong.key");
        std::fs::write(&wrong, "lxd_000000000000_wrong").unwrap();
        write_config(&wrong, 0, &engine.url("/v1"));
        let open = || {
            Desk::open(DeskOptions { home: Some(client_home.path().into()), worker_program: lexdesk_bin() }).unwrap()
        };
        let desk = open();
        let e = desk
            .models()
            .chat()
            .await
            .unwrap()
            .generate(GenerateRequest::chat(vec![ChatMessage::new(Role::User, "Hi")]));
        let e = match e {
            Ok(stream) => stream.collect().await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(e.code(), "REMOTE_ENGINE_FAILED");
        assert!(e.to_string().contains("401"), "{e}");
        // An engine that cannot be reached: the same code, after the configured retries.
        write_config(&key_file, 1, "http://127.0.0.1:9/v1");
        let e = open().models().embedding().await.unwrap_err();
        assert_eq!(e.code(), "REMOTE_ENGINE_FAILED", "{e}");
        engine.shutdown().await;
    });
}

/// Evaluation over the API: the demo NDA set started as a background run with an `eval` key,
/// read while and after it runs; a second run while one runs is refused; other scopes are
/// refused; and the quality probe exports `lexdesk_eval_*` gauges from its own runs.
#[test]
fn evaluation_runs_through_the_api_and_the_quality_probe_exports_gauges() {
    let home = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(home.path());
    let (_, evaluator) = keys.create("evaluator", &[Scope::Eval]).unwrap();
    let (_, reader) = keys.create("reader", &[Scope::Read, Scope::Ask]).unwrap();
    let (_, prometheus) = keys.create("prometheus", &[Scope::Metrics]).unwrap();
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    block_on(async {
        {
            let desk = lexdesk_e2e::plumbing_desk(home.path());
            let demo = desk.matters().create("Demo").unwrap();
            let params = lexdesk_desk::IngestParams::Paths(vec![repo.join("assets/demo")]);
            desk.documents(&demo.id)
                .ingest(&params, &lexdesk_core::generate::CancelToken::new(), &mut |_| {})
                .await
                .unwrap();
            desk.evals().import(&repo.join("assets/evals/demo-nda-en.jsonl"), None, false).unwrap();
        }
        let config = ServerConfig {
            probe_set: "demo-nda-en".into(),
            probe_matter: "Demo".into(),
            probe_interval_secs: 3600,
            probe_limit: 3,
            ..config()
        };
        let server = Server::start(home.path(), config).await;
        let http = http_client();
        // The probe starts with the server: its gauges appear once its first run finishes.
        let deadline = Instant::now() + Duration::from_secs(300);
        while metric(&http, &server, &prometheus, "lexdesk_eval_items").await < 3.0 {
            assert!(Instant::now() < deadline, "the probe never finished");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let text =
            http.get(server.url("/metrics")).bearer_auth(&prometheus).send().await.unwrap().text().await.unwrap();
        assert!(
            text.contains(
                "lexdesk_eval_keyword_accuracy{model=\"SmolLM2-135M-Instruct.Q4_1.gguf\",set=\"demo-nda-en\"}"
            ),
            "{text}"
        );
        assert_eq!(metric(&http, &server, &prometheus, "lexdesk_eval_honesty").await.max(1.0), 1.0);
        for name in
            ["lexdesk_eval_grounded_rate", "lexdesk_eval_latency_seconds", "lexdesk_eval_last_run_timestamp_seconds"]
        {
            assert!(text.contains(name), "{name} missing");
        }

        let sets: Value =
            http.get(server.url("/v1/evals/sets")).bearer_auth(&evaluator).send().await.unwrap().json().await.unwrap();
        assert_eq!(sets["data"][0]["name"], "demo-nda-en");
        assert_eq!(sets["data"][0]["items"], 10);
        let (status, _) =
            error_of(server.post(&http, "/v1/evals", &reader, &json!({"set": "demo-nda-en"})).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "an eval key is needed");
        let (status, body) =
            error_of(server.post(&http, "/v1/evals", &evaluator, &json!({"set": "demo-nda-en", "modee": "x"})).await)
                .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_JSON")),
            "{body}"
        );
        let (status, body) = error_of(server.post(&http, "/v1/evals", &evaluator, &json!({"set": "nope"})).await).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("EVAL_SET_NOT_FOUND")));

        let r = server
            .post(
                &http,
                "/v1/evals",
                &evaluator,
                &json!({"set": "demo-nda-en", "matter": "Demo", "mode": "extractive", "label": "api", "judge": true}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let run: Value = r.json().await.unwrap();
        let id = run["id"].as_str().unwrap().to_owned();
        assert_eq!((run["status"].as_str(), run["items"].as_u64()), (Some("running"), Some(10)));
        let report = loop {
            let report: Value = http
                .get(server.url(&format!("/v1/evals/{id}")))
                .bearer_auth(&evaluator)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if report["run"]["status"] == "finished" {
                break report;
            }
            assert_eq!(report["run"]["status"], "running", "{report}");
            assert!(Instant::now() < deadline + Duration::from_secs(300), "the run never finished");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(report["run"]["done"], 10);
        assert_eq!(report["honest"], true);
        assert!(report["verified_quotes"].as_u64().unwrap() >= 5);
        assert_eq!(report["items"].as_array().unwrap().len(), 10);
        let honesty = report["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "honesty").unwrap();
        assert_eq!(honesty["value"], 1.0);
        // Started with `judge`: the chat model graded the answers before the run finished.
        let grades: Vec<u64> =
            report["items"].as_array().unwrap().iter().filter_map(|i| i["judge_score"].as_u64()).collect();
        assert!(grades.iter().all(|g| (1..=5).contains(g)), "{grades:?}");
        let judge = report["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "judge_score").unwrap();
        assert_eq!(judge["unit"], "score");
        assert_eq!(judge["n"].as_u64().unwrap(), grades.len() as u64, "the mean is over the readable grades");
        let list: Value =
            http.get(server.url("/v1/evals")).bearer_auth(&evaluator).send().await.unwrap().json().await.unwrap();
        assert!(list["data"].as_array().unwrap().iter().any(|r| r["id"] == id.as_str() && r["done"] == 10));
        let (status, body) =
            error_of(server.post(&http, &format!("/v1/evals/{id}/cancel"), &evaluator, &json!({})).await).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("EVAL_NOT_RUNNING")));
        server.shutdown().await;
    });
}
