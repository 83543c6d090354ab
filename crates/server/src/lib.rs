//! `lexdesk-server`: LexDesk's server mode for a firm (`lexdesk serve`). An axum application
//! over one [`Desk`]:
//!
//! - OpenAI-compatible: `POST /v1/chat/completions` (SSE streaming or not, with usage),
//!   `POST /v1/embeddings`, `GET /v1/models`; errors in OpenAI's error JSON.
//! - LexDesk: matters, document upload as ingestion jobs, search, grounded answers with
//!   verified citations (streaming optional).
//! - `GET /health` (liveness, no key), `GET /ready` (models loaded), `GET /metrics`
//!   (Prometheus; admin or metrics key).
//! - API keys with scopes ([`keys`]), per-key rate limits, body limits, a bounded generation
//!   queue (503 + `Retry-After` beyond it), loopback by default, no CORS.
//!
//! The wire types ([`wire`]) are the contract; [`openapi::document`] describes every route
//! from the same route table the router is built from.

pub mod error;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod wire;

mod api;
mod auth;
mod evals;
mod jobs;
mod openai;
mod slots;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};

use lexdesk_desk::Desk;

pub use error::ApiError;
pub use keys::{KeyError, KeyRecord, KeyStore, Scope};
pub use lexdesk_core::config::ServerConfig;
pub use metrics::Metrics;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    desk: Arc<Desk>,
    keys: Arc<KeyStore>,
    metrics: Metrics,
    slots: Arc<slots::Slots>,
    limiter: Option<Arc<auth::Limiter>>,
    jobs: Arc<jobs::Jobs>,
    evals: Arc<evals::EvalJobs>,
    config: Arc<ServerConfig>,
}

impl AppState {
    /// State over `desk` with `config`; keys from the desk's data directory.
    #[must_use]
    pub fn new(desk: Arc<Desk>, config: ServerConfig) -> Self {
        let metrics = Metrics::new();
        let keys = Arc::new(KeyStore::new(desk.home()));
        let jobs = Arc::new(jobs::Jobs::new(lexdesk_core::config::Home::at(desk.home()).uploads_dir()));
        Self {
            slots: Arc::new(slots::Slots::new(&config, metrics.clone())),
            limiter: auth::limiter(&config),
            desk,
            keys,
            metrics,
            jobs,
            evals: Arc::default(),
            config: Arc::new(config),
        }
    }

    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// One route of the API: what the router serves and what the OpenAPI document describes.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path, with `{param}` segments.
    pub path: &'static str,
    /// The scope a key needs (`None`: no key).
    pub scope: Option<Scope>,
    /// One line.
    pub summary: &'static str,
    /// Tag.
    pub tag: &'static str,
    /// Request body schema, if any.
    pub request: Option<openapi::Body>,
    /// Response body schema.
    pub response: openapi::Body,
    /// Success status.
    pub status: u16,
}

fn method_router(spec: &RouteSpec) -> MethodRouter<AppState> {
    use api::*;
    use openai::*;
    match (spec.method, spec.path) {
        ("GET", "/health") => get(health),
        ("GET", "/ready") => get(ready),
        ("GET", "/metrics") => get(metrics_text),
        ("GET", "/v1/models") => get(list_models),
        ("POST", "/v1/chat/completions") => post(chat_completions),
        ("POST", "/v1/embeddings") => post(embeddings),
        ("GET", "/v1/matters") => get(list_matters),
        ("POST", "/v1/matters") => post(create_matter),
        ("DELETE", "/v1/matters/{matter_id}") => delete(delete_matter),
        ("GET", "/v1/matters/{matter_id}/documents") => get(list_documents),
        ("POST", "/v1/matters/{matter_id}/documents") => post(upload_documents),
        ("GET", "/v1/jobs/{job_id}") => get(get_job),
        ("POST", "/v1/matters/{matter_id}/search") => post(search),
        ("POST", "/v1/matters/{matter_id}/ask") => post(ask),
        ("GET", "/v1/evals/sets") => get(evals::list_eval_sets),
        ("GET", "/v1/evals") => get(evals::list_evals),
        ("POST", "/v1/evals") => post(evals::start_eval),
        ("GET", "/v1/evals/{run_id}") => get(evals::get_eval),
        ("POST", "/v1/evals/{run_id}/cancel") => post(evals::cancel_eval),
        (m, p) => unreachable!("route {m} {p} has no handler"),
    }
}

/// The application: every route of [`openapi::ROUTES`], body limits, metrics, OpenAI-shaped
/// 404/405.
pub fn router(state: AppState) -> Router {
    let json_limit = usize::try_from(state.config.max_json_kib.saturating_mul(1024)).unwrap_or(usize::MAX);
    let upload_limit = usize::try_from(state.config.max_upload_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let mut app: Router<AppState> = Router::new();
    for spec in openapi::ROUTES {
        let mut route = method_router(spec);
        if matches!(spec.request, Some(openapi::Body::Multipart)) {
            route = route.layer(DefaultBodyLimit::max(upload_limit));
        }
        app = app.route(spec.path, route);
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND", "no such route; see GET /openapi.json in the docs")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "this route does not take that method")
}

/// Count and time every request by route (the pattern, never the raw path), method and status.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [route.as_str(), method.as_str(), status.as_str()];
    state.metrics.requests.with_label_values(&labels).inc();
    state.metrics.latency.with_label_values(&labels).observe(started.elapsed().as_secs_f64());
    response
}

/// Errors of starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not `host:port`.
    #[error("`{0}` is not an address and port (e.g. 127.0.0.1:8080)")]
    BadAddress(String),
    /// The port is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

lexdesk_core::error_codes!(ServeError {
    Self::BadAddress(_) => "BAD_ADDRESS", InvalidInput;
    Self::Bind { .. } => "BIND_FAILED", Io;
    Self::Io(_) => "SERVER_IO", Io;
});

/// A bound server, not yet serving (so a caller knows the port, e.g. for port 0).
#[derive(Debug)]
pub struct Bound {
    listener: tokio::net::TcpListener,
    state: AppState,
}

impl Bound {
    /// Bind `state`'s configured address.
    ///
    /// # Errors
    /// A bad address or a port that cannot be bound.
    pub async fn bind(state: AppState) -> Result<Self, ServeError> {
        let addr: SocketAddr =
            state.config.bind.parse().map_err(|_| ServeError::BadAddress(state.config.bind.clone()))?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self { listener, state })
    }

    /// The address actually bound.
    ///
    /// # Errors
    /// The OS cannot tell.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `shutdown` completes; requests in flight finish (streams up to 30 s).
    ///
    /// # Errors
    /// The listener failed.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let app = router(self.state.clone());
        let probe = evals::spawn_probe(&self.state);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            tx.send(true).ok();
        });
        let mut rx2 = rx.clone();
        tokio::select! {
            result = server => result?,
            () = async move {
                rx2.wait_for(|v| *v).await.ok();
                tokio::time::sleep(Duration::from_secs(30)).await;
            } => tracing::warn!("requests still running 30 s after shutdown began; stopping anyway"),
        }
        drop(rx);
        if let Some(p) = probe {
            p.abort();
        }
        Ok(())
    }
}

/// Health of the process (no key): it answers.
pub(crate) async fn health(State(state): State<AppState>) -> axum::Json<wire::HealthStatus> {
    axum::Json(health_status(&state, "ok"))
}

fn health_status(state: &AppState, status: &str) -> wire::HealthStatus {
    let (chat, embed) = state.desk.models().loaded();
    wire::HealthStatus {
        status: status.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        chat_model_loaded: chat.is_some(),
        embedding_model_loaded: embed.is_some(),
    }
}

/// Ready when both models are loaded (`lexdesk serve` loads them before it listens); 503
/// otherwise.
pub(crate) async fn ready(State(state): State<AppState>, _key: auth::Key<auth::Read>) -> Response {
    let status = health_status(&state, "ready");
    if status.chat_model_loaded && status.embedding_model_loaded {
        axum::Json(status).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(wire::HealthStatus { status: "loading".into(), ..status }))
            .into_response()
    }
}

/// Prometheus metrics (admin or metrics key).
pub(crate) async fn metrics_text(State(state): State<AppState>, _key: auth::Key<auth::MetricsScope>) -> Response {
    let (chat, embed) = state.desk.models().loaded();
    state.metrics.models_loaded.reset();
    for (kind, id) in [("chat", chat), ("embedding", embed)] {
        if let Some(id) = id {
            state.metrics.models_loaded.with_label_values(&[kind, &id]).set(1);
        }
    }
    let (text, content_type) = state.metrics.render();
    ([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response()
}

/// Load the chat and embedding models now, so the first request does not wait and `/ready`
/// tells the truth.
///
/// # Errors
/// A model is missing or cannot be loaded.
pub async fn warm_up(desk: &Desk) -> Result<(), lexdesk_desk::DeskError> {
    desk.models().embedding().await?;
    desk.models().chat().await?;
    Ok(())
}
