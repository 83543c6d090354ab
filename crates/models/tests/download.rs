//! The downloader against a real HTTP server on loopback (axum), which behaves like the Hugging
//! Face hub (a `resolve` URL redirecting to a CDN, `X-Linked-Etag` = the file's SHA-256) and can
//! drop a transfer half-way, stall, refuse, or serve the wrong bytes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use lexdesk_core::generate::CancelToken;
use lexdesk_models::download::{ChecksumSource, part_path, sha256_file};
use lexdesk_models::{DownloadEvent, DownloadOptions, DownloadSpec, Downloader, ErrorCode, ModelsError};
use sha2::{Digest, Sha256};

const SIZE: usize = 3 << 20;

struct Server {
    content: Vec<u8>,
    sha: String,
    /// `Range` headers of the CDN GETs, in order (`-` when none).
    ranges: Mutex<Vec<String>>,
    gets: AtomicUsize,
    busy_left: AtomicUsize,
}

fn content() -> Vec<u8> {
    // Deterministic, incompressible-looking bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn start() -> (SocketAddr, Arc<Server>) {
    let content = content();
    let sha = format!("{:x}", Sha256::digest(&content));
    let state = Arc::new(Server {
        content,
        sha,
        ranges: Mutex::new(Vec::new()),
        gets: AtomicUsize::new(0),
        busy_left: AtomicUsize::new(2),
    });
    let app = Router::new()
        .route("/{repo}/resolve/main/{file}", any(resolve))
        .route("/cdn/{mode}/{file}", any(cdn))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

/// Like the hub: a redirect carrying the LFS checksum and size; `repo` picks the CDN behaviour.
async fn resolve(State(s): State<Arc<Server>>, Path((repo, file)): Path<(String, String)>) -> Response {
    match repo.as_str() {
        "missing" => return StatusCode::NOT_FOUND.into_response(),
        "gated" => return StatusCode::UNAUTHORIZED.into_response(),
        _ => {}
    }
    let mut r = Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, format!("/cdn/{repo}/{file}"))
        .header(header::ETAG, "\"0123456789abcdef0123456789abcdef01234567\"");
    if repo != "no-etag" {
        r = r.header("x-linked-etag", format!("\"{}\"", s.sha)).header("x-linked-size", s.content.len());
    }
    r.body(Body::empty()).unwrap()
}

/// The CDN: honours `Range`; `flaky` drops the first transfer after 1 MiB, `stall` stops
/// sending after 64 KiB, `busy` answers 503 twice with `Retry-After`, `corrupt` flips a byte,
/// `norange` ignores `Range`.
async fn cdn(
    State(s): State<Arc<Server>>,
    Path((mode, _file)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if method == Method::HEAD {
        return (StatusCode::OK, [(header::CONTENT_LENGTH, s.content.len().to_string())]).into_response();
    }
    let n = s.gets.fetch_add(1, Ordering::SeqCst);
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    s.ranges.lock().unwrap().push(range.clone().unwrap_or_else(|| "-".into()));
    if mode == "busy" && s.busy_left.load(Ordering::SeqCst) > 0 {
        s.busy_left.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")]).into_response();
    }
    let mut body = s.content.clone();
    if mode == "corrupt" {
        body[1000] ^= 0xff;
    }
    let start = match (&range, mode.as_str()) {
        (_, "norange") | (None, _) => 0,
        (Some(r), _) => r.trim_start_matches("bytes=").trim_end_matches('-').parse::<usize>().unwrap(),
    };
    let total = body.len();
    let tail = Bytes::from(body[start..].to_vec());
    let mut resp =
        Response::builder().header(header::CONTENT_LENGTH, tail.len()).header(header::ACCEPT_RANGES, "bytes");
    resp = if start > 0 {
        resp.status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{}/{total}", total - 1))
    } else {
        resp.status(StatusCode::OK)
    };
    let cut = match mode.as_str() {
        "flaky" if n == 0 => Some(1 << 20),
        "stall" if n == 0 => Some(64 << 10),
        _ => None,
    };
    let body = match cut {
        None => Body::from(tail),
        Some(cut) => {
            let stall = mode == "stall";
            let first = tail.slice(..cut);
            let stream = futures::stream::unfold(0u8, move |step| {
                let first = first.clone();
                async move {
                    match step {
                        0 => Some((Ok::<Bytes, std::io::Error>(first), 1)),
                        1 if stall => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            None
                        }
                        1 => Some((Err(std::io::Error::other("connection reset by test")), 2)),
                        _ => None,
                    }
                }
            });
            Body::from_stream(stream)
        }
    };
    resp.body(body).unwrap()
}

fn fast() -> DownloadOptions {
    DownloadOptions {
        read_timeout: Duration::from_millis(700),
        retries: 3,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        progress_interval: Duration::from_millis(1),
        ..DownloadOptions::default()
    }
}

fn spec(addr: SocketAddr, repo: &str, dest: &std::path::Path) -> DownloadSpec {
    DownloadSpec {
        url: format!("http://{addr}/{repo}/resolve/main/model.gguf"),
        dest: dest.to_path_buf(),
        ..DownloadSpec::default()
    }
}

fn collect() -> (Arc<Mutex<Vec<DownloadEvent>>>, impl Fn(DownloadEvent) + Sync) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e| sink.lock().unwrap().push(e))
}

#[tokio::test]
async fn verifies_against_the_hubs_checksum_and_reports_progress() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let (events, on_event) = collect();
    let d = Downloader::new(fast()).unwrap();
    let out = d.download(&spec(addr, "ok", &dest), &CancelToken::new(), &on_event).await.unwrap();
    assert_eq!(out.sha256, server.sha);
    assert_eq!(out.checksum_source, ChecksumSource::Server);
    assert_eq!(out.size, SIZE as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), server.content);
    assert!(!part_path(&dest).exists(), "the partial file is renamed into place");
    {
        let events = events.lock().unwrap();
        let progress: Vec<_> =
            events.iter().filter_map(|e| if let DownloadEvent::Progress(p) = e { Some(*p) } else { None }).collect();
        assert!(!progress.is_empty());
        assert!(progress.windows(2).all(|w| w[0].downloaded <= w[1].downloaded));
        let last = progress.last().unwrap();
        assert_eq!((last.downloaded, last.total), (SIZE as u64, Some(SIZE as u64)));
        assert!(matches!(events.last(), Some(DownloadEvent::Verifying)));
    }

    // Again: nothing is fetched, the file is recognised by its checksum.
    let gets = server.gets.load(Ordering::SeqCst);
    let again = d.download(&spec(addr, "ok", &dest), &CancelToken::new(), &|_| {}).await.unwrap();
    assert!(again.already_present);
    assert_eq!(server.gets.load(Ordering::SeqCst), gets);
}

#[tokio::test]
async fn an_interrupted_transfer_resumes_with_a_range_request() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let (events, on_event) = collect();
    let out = Downloader::new(fast())
        .unwrap()
        .download(&spec(addr, "flaky", &dest), &CancelToken::new(), &on_event)
        .await
        .unwrap();
    assert_eq!(sha256_file(&dest).unwrap(), server.sha);
    assert_eq!(out.attempts, 3, "probe, the dropped transfer, the resumed one");
    assert_eq!(out.resumed_from, 0);
    // The second GET resumes where the first broke off: at most the 1 MiB sent (bytes in flight
    // when the connection was reset are lost), never from zero.
    let ranges = server.ranges.lock().unwrap().clone();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], "-");
    let resumed: u64 = ranges[1].trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
    assert!(resumed > 0 && resumed <= 1 << 20, "{ranges:?}");
    let events = events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(e, DownloadEvent::Retrying { .. })));
    assert!(
        events.iter().any(|e| matches!(e, DownloadEvent::Started { resumed_from, .. } if *resumed_from == resumed))
    );
}

#[tokio::test]
async fn a_partial_file_left_by_an_earlier_run_is_continued_and_hashed_whole() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    // A stalled first run gives up (read timeout, no retries) and leaves 64 KiB behind.
    let once = DownloadOptions { retries: 0, ..fast() };
    let err = Downloader::new(once)
        .unwrap()
        .download(&spec(addr, "stall", &dest), &CancelToken::new(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "DOWNLOAD_TIMEOUT", "{err}");
    assert!(err.to_string().contains("resume"), "{err}");
    assert_eq!(std::fs::metadata(part_path(&dest)).unwrap().len(), 64 << 10);
    // A new downloader (a new process, as far as state goes) resumes from the file on disk.
    let out = Downloader::new(fast())
        .unwrap()
        .download(&spec(addr, "stall", &dest), &CancelToken::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(out.resumed_from, 64 << 10);
    assert_eq!(out.sha256, server.sha);
    assert_eq!(std::fs::read(&dest).unwrap(), server.content);
    assert_eq!(server.ranges.lock().unwrap().last().unwrap(), &format!("bytes={}-", 64 << 10));
}

#[tokio::test]
async fn a_wrong_checksum_deletes_the_file_and_says_so() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let err = Downloader::new(fast())
        .unwrap()
        .download(&spec(addr, "corrupt", &dest), &CancelToken::new(), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(&err, ModelsError::ChecksumMismatch { expected, .. } if *expected == server.sha), "{err}");
    assert_eq!(err.code(), "CHECKSUM_MISMATCH");
    assert!(err.to_string().contains("deleted"));
    assert!(!dest.exists() && !part_path(&dest).exists(), "nothing unverified is left behind");

    // A pinned checksum the server's disagrees with: refused before a byte is fetched.
    let gets = server.gets.load(Ordering::SeqCst);
    let mut s = spec(addr, "ok", &dest);
    s.sha256 = Some("0".repeat(64));
    let err = Downloader::new(fast()).unwrap().download(&s, &CancelToken::new(), &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "CHECKSUM_NOT_AS_PINNED");
    assert!(err.to_string().contains(&server.sha) && err.to_string().contains("nothing was downloaded"), "{err}");
    assert_eq!(server.gets.load(Ordering::SeqCst), gets, "no transfer started");
    assert!(!dest.exists() && !part_path(&dest).exists());
    // A pinned checksum with a server that gives none is checked on the bytes.
    let mut s = spec(addr, "no-etag", &dest);
    s.sha256 = Some("0".repeat(64));
    let err = Downloader::new(fast()).unwrap().download(&s, &CancelToken::new(), &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "CHECKSUM_MISMATCH");
    assert!(!dest.exists() && !part_path(&dest).exists(), "nothing unverified is left behind");
    // The pin that agrees with the server's is the one checked.
    let mut s = spec(addr, "ok", &dest);
    s.sha256 = Some(server.sha.clone());
    let ok = Downloader::new(fast()).unwrap().download(&s, &CancelToken::new(), &|_| {}).await.unwrap();
    assert_eq!(ok.checksum_source, ChecksumSource::Given);
}

#[tokio::test]
async fn errors_are_specific() {
    let (addr, _server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let d = Downloader::new(fast()).unwrap();
    let cancel = CancelToken::new();
    let err = d.download(&spec(addr, "missing", &dest), &cancel, &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "DOWNLOAD_NOT_FOUND", "{err}");
    let err = d.download(&spec(addr, "gated", &dest), &cancel, &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "DOWNLOAD_UNAUTHORIZED", "{err}");
    assert!(err.to_string().contains("huggingface-token"), "{err}");
    // No checksum anywhere: refused before any byte is fetched.
    let err = d.download(&spec(addr, "no-etag", &dest), &cancel, &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "NO_CHECKSUM", "{err}");
    // Nothing listens there: a network error after the retries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err = d.download(&spec(closed, "ok", &dest), &cancel, &|_| {}).await.unwrap_err();
    assert!(matches!(err, ModelsError::Network { attempts: 4, .. }), "{err}");
    // A bad checksum text is an argument error.
    let mut s = spec(addr, "ok", &dest);
    s.sha256 = Some("xyz".into());
    assert_eq!(d.download(&s, &cancel, &|_| {}).await.unwrap_err().code(), "INVALID_ARGUMENT");
    // More than the disk holds.
    let mut s = spec(addr, "ok", &dest);
    s.size = Some(u64::MAX / 4);
    let err = d.download(&s, &cancel, &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "INSUFFICIENT_DISK", "{err}");
}

#[tokio::test]
async fn busy_servers_are_retried_after_their_retry_after() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let started = std::time::Instant::now();
    let out = Downloader::new(fast())
        .unwrap()
        .download(&spec(addr, "busy", &dest), &CancelToken::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(out.sha256, server.sha);
    assert!(started.elapsed() >= Duration::from_secs(2), "two Retry-After: 1 waits were honoured");
}

#[tokio::test]
async fn a_server_that_ignores_ranges_restarts_cleanly() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    // Leave a partial file bound to this URL and checksum, as a cancelled run would.
    let cancel = CancelToken::new();
    cancel.cancel();
    let err =
        Downloader::new(fast()).unwrap().download(&spec(addr, "norange", &dest), &cancel, &|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "CANCELLED");
    std::fs::write(part_path(&dest), &server.content[..5000]).unwrap();
    let out = Downloader::new(fast())
        .unwrap()
        .download(&spec(addr, "norange", &dest), &CancelToken::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(out.sha256, server.sha, "the 200 answer replaced the prefix instead of being appended to it");
}

#[tokio::test]
async fn cancelling_keeps_the_partial_file_for_later() {
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let cancel = CancelToken::new();
    let c = cancel.clone();
    // Cancel once the stalled transfer has delivered its first bytes.
    let on_event = move |e: DownloadEvent| {
        if matches!(e, DownloadEvent::Progress(p) if p.downloaded > 0) {
            c.cancel();
        }
    };
    let err = Downloader::new(DownloadOptions { read_timeout: Duration::from_secs(30), ..fast() })
        .unwrap()
        .download(&spec(addr, "stall", &dest), &cancel, &on_event)
        .await
        .unwrap_err();
    // The cancel can land before the whole 64 KiB burst has arrived (it comes in several
    // reads): what matters is that every byte received is kept and resumed from.
    let kept = match &err {
        ModelsError::Cancelled { downloaded, .. } => *downloaded,
        other => panic!("expected a cancellation, got {other}"),
    };
    assert!(kept > 0 && kept <= 64 << 10, "{err}");
    assert_eq!(std::fs::metadata(part_path(&dest)).unwrap().len(), kept, "the partial file holds what was reported");
    let out = Downloader::new(fast())
        .unwrap()
        .download(&spec(addr, "stall", &dest), &CancelToken::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(out.resumed_from, kept);
    assert_eq!(out.sha256, server.sha);
}
