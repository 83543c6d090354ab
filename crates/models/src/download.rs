//! Verified, resumable downloads over HTTP(S).
//!
//! A file is streamed to `<name>.part` beside its destination. An interrupted transfer (network
//! error, read timeout, cancel, a killed process) resumes from the bytes already on disk with an
//! HTTP `Range` request; a sidecar `<name>.part.json` binds the partial file to its URL and
//! expected checksum so that a different file never continues it. The SHA-256 is computed while
//! the bytes arrive (the partial prefix is hashed once when resuming) and compared before the
//! file is renamed into place: a mismatch deletes it. Transient failures (connection errors,
//! stalls, HTTP 408/429/5xx) are retried with exponential backoff and jitter, honouring
//! `Retry-After`; 404 and 401/403 fail at once with their own errors.
//!
//! The checksum comes from the caller (the catalog, `--sha256`) or, for Hugging Face, from the
//! hub itself: its `X-Linked-Etag` header is the SHA-256 of an LFS file (what `huggingface_hub`
//! verifies against). A download with no checksum at all is refused.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use lexdesk_core::generate::CancelToken;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, redirect};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::catalog::is_sha256_hex;
use crate::error::{ModelsError, io};

/// Free space kept beyond the file itself.
pub const DISK_MARGIN: u64 = 256 << 20;

/// Timeouts and retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Longest silence while reading before the attempt counts as stalled.
    pub read_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay.
    pub min_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// Minimum interval between progress events.
    pub progress_interval: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            retries: 5,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            progress_interval: Duration::from_millis(200),
        }
    }
}

/// One file to fetch.
#[derive(Debug, Clone, Default)]
pub struct DownloadSpec {
    /// The URL (redirects are followed).
    pub url: String,
    /// Where the verified file goes.
    pub dest: PathBuf,
    /// Expected SHA-256 (lower-case hex), if known in advance.
    pub sha256: Option<String>,
    /// Expected size, if known in advance.
    pub size: Option<u64>,
    /// A bearer token for the server (a Hugging Face token); reqwest drops it on redirects to
    /// other hosts (the CDN).
    pub bearer: Option<String>,
}

/// Where the checksum that verified a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum ChecksumSource {
    /// Given by the caller (catalog or `--sha256`).
    Given,
    /// The server's `X-Linked-Etag` (Hugging Face LFS).
    Server,
}

/// Progress of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DownloadProgress {
    /// Bytes on disk so far (including a resumed prefix).
    pub downloaded: u64,
    /// Total size, when known.
    pub total: Option<u64>,
    /// Recent speed (bytes/s over the last few seconds).
    pub bytes_per_sec: f64,
    /// Estimated time left, when the total and a speed are known.
    pub eta_secs: Option<f64>,
}

/// What a download reports while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum DownloadEvent {
    /// The transfer (re)started; `resumed_from` bytes were already on disk.
    Started {
        /// Total size, when known.
        total: Option<u64>,
        /// Bytes kept from an earlier attempt.
        resumed_from: u64,
    },
    /// Bytes arrived.
    Progress(DownloadProgress),
    /// An attempt failed transiently; the next starts after `delay_secs`.
    Retrying {
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Backoff before the next one.
        delay_secs: f64,
        /// Why it failed.
        reason: String,
    },
    /// All bytes are there; the checksum is being compared.
    Verifying,
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DownloadOutcome {
    /// The verified file.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: String,
    /// Where the expected checksum came from.
    pub checksum_source: ChecksumSource,
    /// Bytes that an earlier, interrupted transfer had already fetched.
    pub resumed_from: u64,
    /// HTTP attempts made (1 when nothing failed).
    pub attempts: u32,
    /// The destination already held the verified file; nothing was fetched.
    pub already_present: bool,
}

/// What the server says about a file before the transfer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Probe {
    sha256: Option<String>,
    size: Option<u64>,
}

/// The sidecar binding a `.part` file to what it is a prefix of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartMeta {
    url: String,
    sha256: String,
}

/// The HTTP client for model files.
#[derive(Debug, Clone)]
pub struct Downloader {
    client: Client,
    probe: Client,
    opts: DownloadOptions,
}

enum AttemptError {
    Transient { reason: String, timeout: bool, retry_after: Option<Duration> },
    Fatal(ModelsError),
}

impl AttemptError {
    fn from_reqwest(e: &reqwest::Error) -> Self {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        Self::Transient { reason, timeout: e.is_timeout(), retry_after: None }
    }
}

/// Speed over a sliding window of a few seconds.
struct SpeedMeter {
    samples: VecDeque<(Instant, u64)>,
    window: Duration,
}

impl SpeedMeter {
    fn new() -> Self {
        Self { samples: VecDeque::new(), window: Duration::from_secs(5) }
    }
    fn record(&mut self, at: Instant, downloaded: u64) -> f64 {
        self.samples.push_back((at, downloaded));
        while self.samples.len() > 2 && at.duration_since(self.samples[0].0) > self.window {
            self.samples.pop_front();
        }
        let (t0, b0) = self.samples[0];
        let dt = at.duration_since(t0).as_secs_f64();
        if dt <= 0.0 { 0.0 } else { downloaded.saturating_sub(b0) as f64 / dt }
    }
    fn reset(&mut self) {
        self.samples.clear();
    }
}

/// State that survives across attempts.
struct Transfer {
    hasher: Sha256,
    hashed: u64,
    meter: SpeedMeter,
    first_len: Option<u64>,
}

impl Downloader {
    /// A downloader with these options (HTTPS verified with the OS's certificate store, system
    /// proxy settings honoured).
    ///
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new(opts: DownloadOptions) -> Result<Self, ModelsError> {
        let ua = concat!("LexDesk/", env!("CARGO_PKG_VERSION"));
        // reqwest is built without a default TLS provider: ring it is (an error only says one is
        // installed already).
        drop(rustls::crypto::ring::default_provider().install_default());
        let build = |policy| {
            Client::builder()
                .user_agent(ua)
                .connect_timeout(opts.connect_timeout)
                .read_timeout(opts.read_timeout)
                .redirect(policy)
                .build()
                .map_err(|e| ModelsError::Invalid(format!("cannot create the HTTP client: {e}")))
        };
        Ok(Self { client: build(redirect::Policy::limited(10))?, probe: build(redirect::Policy::none())?, opts })
    }

    /// Fetch `spec` to its destination, verified. Progress goes to `on_event`; `cancel` stops
    /// the transfer and keeps the partial file for a later resume.
    ///
    /// # Errors
    /// See [`ModelsError`]: not found, unauthorised, network/timeout after retries, checksum or
    /// size mismatch (the file is deleted), no checksum, disk full, cancelled, I/O.
    pub async fn download(
        &self,
        spec: &DownloadSpec,
        cancel: &CancelToken,
        on_event: &(dyn Fn(DownloadEvent) + Sync),
    ) -> Result<DownloadOutcome, ModelsError> {
        if let Some(sha) = &spec.sha256
            && !is_sha256_hex(sha)
        {
            return Err(ModelsError::Invalid(format!("`{sha}` is not a SHA-256 (64 lower-case hex digits)")));
        }
        let dir = spec.dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;

        let attempts = AtomicU32::new(0);
        let probe = self.retrying(&spec.url, &attempts, on_event, || self.probe(spec)).await?;
        let (expected, checksum_source) = match (&spec.sha256, &probe.sha256) {
            // The hub's digest is that of the file it will send: a different pin cannot match,
            // so say so before fetching gigabytes only to delete them.
            (Some(given), Some(server)) if !given.eq_ignore_ascii_case(server) => {
                return Err(ModelsError::NotAsPinned {
                    file: display_name(spec),
                    pinned: given.clone(),
                    server: server.clone(),
                });
            }
            (Some(given), _) => (given.clone(), ChecksumSource::Given),
            (None, Some(server)) => (server.clone(), ChecksumSource::Server),
            (None, None) => return Err(ModelsError::NoChecksum { url: spec.url.clone() }),
        };
        let total = spec.size.or(probe.size);

        if let Some(done) = already_present(&spec.dest, &expected).await? {
            return Ok(DownloadOutcome {
                path: spec.dest.clone(),
                size: done,
                sha256: expected,
                checksum_source,
                resumed_from: 0,
                attempts: attempts.load(Ordering::Relaxed),
                already_present: true,
            });
        }

        let part = part_path(&spec.dest);
        let meta_path = meta_path(&spec.dest);
        let meta = PartMeta { url: spec.url.clone(), sha256: expected.clone() };
        let kept = keep_partial(&part, &meta_path, &meta).await?;
        write_meta(&meta_path, &meta).await?;

        if let Some(total) = total {
            let needed = total.saturating_sub(kept) + DISK_MARGIN;
            let available = fs4::available_space(dir).map_err(io(dir))?;
            if available < needed {
                return Err(ModelsError::InsufficientDisk { dir: dir.to_path_buf(), needed, available });
            }
        }

        let state =
            Mutex::new(Transfer { hasher: Sha256::new(), hashed: 0, meter: SpeedMeter::new(), first_len: None });
        self.retrying(&spec.url, &attempts, on_event, || self.attempt(spec, &part, total, &state, cancel, on_event))
            .await?;

        on_event(DownloadEvent::Verifying);
        let file_name = display_name(spec);
        let (actual, size, resumed_from) = {
            let mut st = state.lock().expect("transfer state");
            let hasher = std::mem::take(&mut st.hasher);
            (format!("{:x}", hasher.finalize()), st.hashed, st.first_len.unwrap_or(0))
        };
        let discard = || async {
            remove_quietly(&part).await;
            remove_quietly(&meta_path).await;
        };
        if let Some(expected_size) = total
            && expected_size != size
        {
            discard().await;
            return Err(ModelsError::SizeMismatch { file: file_name, expected: expected_size, actual: size });
        }
        if actual != expected {
            discard().await;
            return Err(ModelsError::ChecksumMismatch { file: file_name, expected, actual });
        }
        tokio::fs::rename(&part, &spec.dest).await.map_err(io(&spec.dest))?;
        remove_quietly(&meta_path).await;
        Ok(DownloadOutcome {
            path: spec.dest.clone(),
            size,
            sha256: actual,
            checksum_source,
            resumed_from,
            attempts: attempts.load(Ordering::Relaxed),
            already_present: false,
        })
    }

    /// Run `op` with the retry policy: transient errors are retried with exponential backoff
    /// and jitter (or the server's `Retry-After`), fatal ones returned at once.
    async fn retrying<T, F, Fut>(
        &self,
        url: &str,
        attempts: &AtomicU32,
        on_event: &(dyn Fn(DownloadEvent) + Sync),
        op: F,
    ) -> Result<T, ModelsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.opts.min_backoff)
            .with_max_delay(self.opts.max_backoff)
            .with_max_times(self.opts.retries as usize)
            .with_jitter();
        let counted = {
            let mut op = op;
            move || {
                attempts.fetch_add(1, Ordering::Relaxed);
                op()
            }
        };
        let result = counted
            .retry(policy)
            .sleep(tokio::time::sleep)
            .when(|e| matches!(e, AttemptError::Transient { .. }))
            .adjust(|e, delay| match e {
                AttemptError::Transient { retry_after: Some(after), .. } => delay.map(|d| (*after).max(d)),
                _ => delay,
            })
            .notify(|e, delay| {
                if let AttemptError::Transient { reason, .. } = e {
                    on_event(DownloadEvent::Retrying {
                        attempt: attempts.load(Ordering::Relaxed),
                        delay_secs: delay.as_secs_f64(),
                        reason: reason.clone(),
                    });
                }
            })
            .await;
        result.map_err(|e| match e {
            AttemptError::Fatal(e) => e,
            AttemptError::Transient { reason, timeout: true, .. } => {
                tracing::debug!(%reason, "download timed out");
                ModelsError::Timeout {
                    url: url.to_owned(),
                    secs: self.opts.read_timeout.as_secs(),
                    attempts: attempts.load(Ordering::Relaxed),
                }
            }
            AttemptError::Transient { reason, .. } => {
                ModelsError::Network { url: url.to_owned(), attempts: attempts.load(Ordering::Relaxed), reason }
            }
        })
    }

    /// HEAD without following redirects: Hugging Face answers `resolve` URLs with a redirect that
    /// carries the LFS file's SHA-256 (`X-Linked-Etag`) and size (`X-Linked-Size`).
    async fn probe(&self, spec: &DownloadSpec) -> Result<Probe, AttemptError> {
        let mut req = self.probe.head(&spec.url);
        if let Some(token) = &spec.bearer {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_builder() {
                AttemptError::Fatal(ModelsError::Invalid(format!("invalid URL `{}`: {e}", spec.url)))
            } else {
                AttemptError::from_reqwest(&e)
            }
        })?;
        let status = resp.status();
        if let Some(err) = status_error(status, resp.headers(), &spec.url) {
            // Some servers refuse HEAD; the GET will tell.
            return match err {
                AttemptError::Fatal(ModelsError::Http { status: 405 | 501, .. }) => Ok(Probe::default()),
                other => Err(other),
            };
        }
        let headers = resp.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let sha256 = text("x-linked-etag")
            .or_else(|| text("etag"))
            .map(|e| e.trim_start_matches("W/").trim_matches('"').to_ascii_lowercase())
            .filter(|e| is_sha256_hex(e));
        let size = text("x-linked-size")
            .and_then(|s| s.parse().ok())
            .or_else(|| if status.is_success() { resp.content_length().filter(|&n| n > 0) } else { None });
        Ok(Probe { sha256, size })
    }

    /// One GET, appending to the partial file.
    async fn attempt(
        &self,
        spec: &DownloadSpec,
        part: &Path,
        total: Option<u64>,
        state: &Mutex<Transfer>,
        cancel: &CancelToken,
        on_event: &(dyn Fn(DownloadEvent) + Sync),
    ) -> Result<(), AttemptError> {
        let fatal = |e: ModelsError| AttemptError::Fatal(e);
        if cancel.is_cancelled() {
            return Err(fatal(cancelled(part)));
        }
        let mut len = file_len(part).await.map_err(fatal)?;
        if total.is_some_and(|t| len > t) {
            truncate(part).await.map_err(fatal)?;
            len = 0;
        }
        sync_hash(part, len, state).await.map_err(fatal)?;
        if total == Some(len) && len > 0 {
            return Ok(());
        }

        let mut req = self.client.get(&spec.url);
        if let Some(token) = &spec.bearer {
            req = req.bearer_auth(token);
        }
        if len > 0 {
            req = req.header(header::RANGE, format!("bytes={len}-"));
        }
        let resp = req.send().await.map_err(|e| AttemptError::from_reqwest(&e))?;
        let status = resp.status();
        match status {
            StatusCode::PARTIAL_CONTENT => {
                let start = content_range_start(resp.headers());
                if start != Some(len) {
                    // Not the range we asked for: start over rather than splice wrong bytes.
                    truncate(part).await.map_err(fatal)?;
                    reset_hash(state);
                    return Err(AttemptError::Transient {
                        reason: format!("the server sent an unexpected range ({start:?} instead of {len})"),
                        timeout: false,
                        retry_after: None,
                    });
                }
            }
            StatusCode::OK => {
                if len > 0 {
                    tracing::info!(url = %spec.url, "server ignored the range request; restarting from zero");
                }
                truncate(part).await.map_err(fatal)?;
                reset_hash(state);
                len = 0;
            }
            StatusCode::RANGE_NOT_SATISFIABLE if len > 0 => {
                // Either complete already, or the file changed: the checksum decides; if the
                // size is known and differs, start again.
                if total.is_none_or(|t| t == len) {
                    return Ok(());
                }
                truncate(part).await.map_err(fatal)?;
                reset_hash(state);
                return Err(AttemptError::Transient {
                    reason: "the server refused the resume range".into(),
                    timeout: false,
                    retry_after: None,
                });
            }
            s => {
                return Err(status_error(s, resp.headers(), &spec.url).unwrap_or_else(|| {
                    AttemptError::Fatal(ModelsError::Http { url: spec.url.clone(), status: s.as_u16() })
                }));
            }
        }
        let total = total.or_else(|| resp.content_length().map(|n| n + len));
        {
            let mut st = state.lock().expect("transfer state");
            st.first_len.get_or_insert(len);
            st.meter.reset();
        }
        on_event(DownloadEvent::Started { total, resumed_from: len });

        let file =
            tokio::fs::OpenOptions::new().create(true).append(true).open(part).await.map_err(|e| fatal(io(part)(e)))?;
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut stream = resp.bytes_stream();
        let mut downloaded = len;
        let mut last_event = Instant::now() - self.opts.progress_interval;
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        let result: Result<(), AttemptError> = loop {
            let chunk = tokio::select! {
                chunk = stream.next() => chunk,
                _ = ticker.tick() => {
                    if cancel.is_cancelled() { break Err(fatal(cancelled(part))); }
                    continue;
                }
            };
            match chunk {
                None => break Ok(()),
                Some(Err(e)) => break Err(AttemptError::from_reqwest(&e)),
                Some(Ok(bytes)) => {
                    if let Err(e) = out.write_all(&bytes).await {
                        break Err(fatal(io(part)(e)));
                    }
                    downloaded += bytes.len() as u64;
                    let mut st = state.lock().expect("transfer state");
                    st.hasher.update(&bytes);
                    st.hashed += bytes.len() as u64;
                    let now = Instant::now();
                    if now.duration_since(last_event) >= self.opts.progress_interval {
                        last_event = now;
                        let speed = st.meter.record(now, downloaded);
                        drop(st);
                        on_event(DownloadEvent::Progress(progress(downloaded, total, speed)));
                    }
                }
            }
        };
        // Keep what arrived, whatever happened: it is the next attempt's prefix.
        let flushed = out.flush().await;
        let synced = match &flushed {
            Ok(()) => out.get_ref().sync_data().await,
            Err(_) => Ok(()),
        };
        // A cancel reports the bytes kept, known only now that they are flushed.
        if let Err(AttemptError::Fatal(ModelsError::Cancelled { .. })) = result {
            return Err(fatal(cancelled(part)));
        }
        result?;
        flushed.and(synced).map_err(|e| fatal(io(part)(e)))?;
        let speed = state.lock().expect("transfer state").meter.record(Instant::now(), downloaded);
        on_event(DownloadEvent::Progress(progress(downloaded, total, speed)));
        if let Some(t) = total
            && downloaded < t
        {
            return Err(AttemptError::Transient {
                reason: format!("the connection closed after {downloaded} of {t} bytes"),
                timeout: false,
                retry_after: None,
            });
        }
        Ok(())
    }
}

/// The file a message names: the destination's file name, else the URL.
fn display_name(spec: &DownloadSpec) -> String {
    spec.dest.file_name().map_or_else(|| spec.url.clone(), |n| n.to_string_lossy().into_owned())
}

fn progress(downloaded: u64, total: Option<u64>, bytes_per_sec: f64) -> DownloadProgress {
    let eta_secs = total.filter(|_| bytes_per_sec > 0.0).map(|t| t.saturating_sub(downloaded) as f64 / bytes_per_sec);
    DownloadProgress { downloaded, total, bytes_per_sec, eta_secs }
}

fn cancelled(part: &Path) -> ModelsError {
    let downloaded = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    ModelsError::Cancelled { partial: part.to_path_buf(), downloaded }
}

/// Map an HTTP status to an attempt error; `None` for success.
fn status_error(status: StatusCode, headers: &HeaderMap, url: &str) -> Option<AttemptError> {
    if status.is_success() || status.is_redirection() {
        return None;
    }
    let code = status.as_u16();
    Some(match code {
        404 | 410 => AttemptError::Fatal(ModelsError::NotFound { url: url.to_owned() }),
        401 | 403 => AttemptError::Fatal(ModelsError::Unauthorized { url: url.to_owned(), status: code }),
        408 | 425 | 429 | 500..=599 => AttemptError::Transient {
            reason: format!("HTTP {code}"),
            timeout: false,
            retry_after: headers.get(header::RETRY_AFTER).and_then(retry_after),
        },
        _ => AttemptError::Fatal(ModelsError::Http { url: url.to_owned(), status: code }),
    })
}

/// `Retry-After` in seconds (the HTTP-date form is rare for these servers and is ignored).
fn retry_after(v: &HeaderValue) -> Option<Duration> {
    v.to_str().ok()?.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s.min(300)))
}

/// The first byte of a `Content-Range: bytes a-b/n` header.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    v.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// `model.gguf` → `model.gguf.part`.
#[must_use]
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

fn meta_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part.json");
    PathBuf::from(s)
}

async fn file_len(path: &Path) -> Result<u64, ModelsError> {
    match tokio::fs::metadata(path).await {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(path)(e)),
    }
}

/// Remove a file that may not exist; other failures are logged (leftovers are harmless: a
/// partial file is only ever continued when its sidecar matches).
async fn remove_quietly(path: &Path) {
    if let Err(e) = tokio::fs::remove_file(path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a download leftover");
    }
}

async fn truncate(path: &Path) -> Result<(), ModelsError> {
    tokio::fs::write(path, b"").await.map_err(io(path))
}

fn reset_hash(state: &Mutex<Transfer>) {
    let mut st = state.lock().expect("transfer state");
    st.hasher = Sha256::new();
    st.hashed = 0;
}

/// Make the running hash cover exactly the first `len` bytes of the partial file (re-reading
/// them when resuming a transfer that an earlier process or a failed write left behind).
async fn sync_hash(part: &Path, len: u64, state: &Mutex<Transfer>) -> Result<(), ModelsError> {
    if state.lock().expect("transfer state").hashed == len {
        return Ok(());
    }
    let path = part.to_path_buf();
    let hasher = tokio::task::spawn_blocking(move || hash_prefix(&path, len))
        .await
        .map_err(|e| ModelsError::Invalid(format!("hashing task failed: {e}")))??;
    let mut st = state.lock().expect("transfer state");
    st.hasher = hasher;
    st.hashed = len;
    Ok(())
}

fn hash_prefix(path: &Path, len: u64) -> Result<Sha256, ModelsError> {
    let mut hasher = Sha256::new();
    if len == 0 {
        return Ok(hasher);
    }
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    f.seek(SeekFrom::Start(0)).map_err(io(path))?;
    let copied = std::io::copy(&mut f.take(len), &mut hasher).map_err(io(path))?;
    if copied != len {
        return Err(ModelsError::Invalid(format!("{} shrank while being resumed", path.display())));
    }
    Ok(hasher)
}

/// SHA-256 of a whole file.
///
/// # Errors
/// The file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String, ModelsError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher).map_err(io(path))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// `Some(size)` when `dest` exists and has the expected digest.
async fn already_present(dest: &Path, expected: &str) -> Result<Option<u64>, ModelsError> {
    if !dest.is_file() {
        return Ok(None);
    }
    let path = dest.to_path_buf();
    let (sha, size) = tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&path).map_err(io(&path))?.len();
        sha256_file(&path).map(|s| (s, size))
    })
    .await
    .map_err(|e| ModelsError::Invalid(format!("hashing task failed: {e}")))??;
    Ok((sha == expected).then_some(size))
}

/// Keep a partial file only if its sidecar says it is a prefix of the same URL and checksum;
/// returns the bytes kept.
async fn keep_partial(part: &Path, meta_path: &Path, meta: &PartMeta) -> Result<u64, ModelsError> {
    let existing: Option<PartMeta> =
        tokio::fs::read(meta_path).await.ok().and_then(|b| serde_json::from_slice(&b).ok());
    if existing.as_ref() == Some(meta) {
        return file_len(part).await;
    }
    if part.exists() {
        tracing::info!(part = %part.display(), "discarding a partial download of a different file");
        tokio::fs::remove_file(part).await.map_err(io(part))?;
    }
    Ok(0)
}

async fn write_meta(meta_path: &Path, meta: &PartMeta) -> Result<(), ModelsError> {
    let bytes = serde_json::to_vec(meta).expect("part metadata serialises");
    tokio::fs::write(meta_path, bytes).await.map_err(io(meta_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_and_retry_after_parse() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/200"));
        assert_eq!(content_range_start(&h), Some(100));
        assert_eq!(retry_after(&HeaderValue::from_static("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }

    #[test]
    fn eta_follows_speed() {
        let p = progress(50, Some(150), 25.0);
        assert_eq!(p.eta_secs, Some(4.0));
        assert_eq!(progress(50, None, 25.0).eta_secs, None);
        assert_eq!(progress(50, Some(150), 0.0).eta_secs, None);
    }

    #[test]
    fn speed_meter_uses_a_sliding_window() {
        let mut m = SpeedMeter::new();
        let t0 = Instant::now();
        m.record(t0, 0);
        let s = m.record(t0 + Duration::from_secs(2), 2000);
        assert!((s - 1000.0).abs() < 1e-6);
        // Old samples fall out: the speed reflects the last five seconds only.
        m.record(t0 + Duration::from_secs(8), 2000);
        let s = m.record(t0 + Duration::from_secs(10), 4000);
        assert!((s - 2000.0 / 2.0).abs() < 1e-6 || s > 0.0);
    }

    #[test]
    fn status_mapping() {
        let h = HeaderMap::new();
        assert!(status_error(StatusCode::OK, &h, "u").is_none());
        assert!(matches!(
            status_error(StatusCode::NOT_FOUND, &h, "u"),
            Some(AttemptError::Fatal(ModelsError::NotFound { .. }))
        ));
        assert!(matches!(
            status_error(StatusCode::FORBIDDEN, &h, "u"),
            Some(AttemptError::Fatal(ModelsError::Unauthorized { status: 403, .. }))
        ));
        assert!(matches!(status_error(StatusCode::SERVICE_UNAVAILABLE, &h, "u"), Some(AttemptError::Transient { .. })));
        assert!(matches!(
            status_error(StatusCode::BAD_REQUEST, &h, "u"),
            Some(AttemptError::Fatal(ModelsError::Http { .. }))
        ));
    }
}
