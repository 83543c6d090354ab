//! `lexdesk-remote`: remote inference engines. Any OpenAI-compatible endpoint — vLLM, TGI,
//! llama.cpp's server, Ollama, another LexDesk server — as a [`Generator`] (streamed chat or
//! text completions) or an [`Embedder`], for when one machine is not enough.
//!
//! Requests time out (connect and per read, so a stalled stream is noticed), transient failures
//! (connection errors, 408/429/5xx) are retried with exponential backoff before the first byte
//! of an answer, and dropping the generation stream closes the connection, which makes the
//! engine stop generating. The API key is given by the caller (the desk reads it from the OS
//! keychain or a secret file); it is sent as a bearer token and never logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder, Embedding, l2_normalize};
use lexdesk_core::generate::{
    CancelToken, FinishReason, GenerateRequest, GenerationEvent, GenerationStream, Generator, Prompt, PromptFormat,
    RenderedPrompt, Usage,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// How to reach a remote engine.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteOptions {
    /// Base URL of the OpenAI-compatible API, e.g. `http://vllm:8000/v1`.
    pub base_url: String,
    /// The model name the engine serves.
    pub model: String,
    /// Bearer token, if the engine needs one.
    pub api_key: Option<String>,
    /// Seconds without data before a request counts as failed.
    pub timeout_secs: u64,
    /// Retries after a transient failure.
    pub retries: u32,
    /// The model's context length (the engine's limit; used for prompt budgets).
    pub context_length: u32,
    /// Text put before a query to embed (E5: `query: `).
    pub query_prefix: String,
    /// Text put before a document passage to embed (E5: `passage: `).
    pub document_prefix: String,
}

impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout_secs", &self.timeout_secs)
            .field("retries", &self.retries)
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            model: String::new(),
            api_key: None,
            timeout_secs: 120,
            retries: 2,
            context_length: 8192,
            query_prefix: String::new(),
            document_prefix: String::new(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    options: RemoteOptions,
}

impl Inner {
    fn new(options: RemoteOptions) -> Result<Self, EngineError> {
        let base = options.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(EngineError::InvalidRequest {
                message: format!("remote engine URL `{}` must start with http:// or https://", options.base_url),
            });
        }
        // reqwest is built without a default TLS provider: ring it is (an error only says one is
        // installed already).
        drop(rustls::crypto::ring::default_provider().install_default());
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(options.timeout_secs.max(1)))
            .build()
            .map_err(|e| remote(&options.base_url, format!("cannot build an HTTP client: {e}")))?;
        Ok(Self { client, options: RemoteOptions { base_url: base.to_string(), ..options } })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.options.base_url)
    }

    fn fail(&self, message: impl Into<String>) -> EngineError {
        remote(&self.options.base_url, message)
    }

    /// POST `body`, retrying transient failures; the response is a success.
    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, EngineError> {
        let attempt = || async {
            let mut request = self.client.post(self.url(path)).json(body);
            if let Some(key) = &self.options.api_key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await.map_err(|e| Failure::Transient(self.fail(describe(&e))))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let text = response.text().await.unwrap_or_default();
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    v["error"]["message"].as_str().map(str::to_owned).or_else(|| v["error"].as_str().map(str::to_owned))
                })
                .unwrap_or_else(|| text.chars().take(300).collect());
            let message = format!("HTTP {status}: {detail}");
            if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
                Err(Failure::Transient(self.fail(message)))
            } else if status.as_u16() == 400 || status.as_u16() == 413 || status.as_u16() == 422 {
                Err(Failure::Permanent(EngineError::InvalidRequest {
                    message: format!("the remote engine refused: {message}"),
                }))
            } else {
                Err(Failure::Permanent(self.fail(message)))
            }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(8))
            .with_max_times(self.options.retries as usize)
            .with_jitter();
        attempt
            .retry(backoff)
            .when(|f: &Failure| matches!(f, Failure::Transient(_)))
            .notify(|f: &Failure, wait: Duration| tracing::warn!("remote engine: {} (retrying in {wait:?})", f.error()))
            .await
            .map_err(Failure::into_error)
    }
}

enum Failure {
    Transient(EngineError),
    Permanent(EngineError),
}

impl Failure {
    fn error(&self) -> &EngineError {
        match self {
            Self::Transient(e) | Self::Permanent(e) => e,
        }
    }
    fn into_error(self) -> EngineError {
        match self {
            Self::Transient(e) | Self::Permanent(e) => e,
        }
    }
}

fn remote(endpoint: &str, message: impl Into<String>) -> EngineError {
    EngineError::Remote { endpoint: endpoint.to_string(), message: message.into() }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

/// Rough token count where the engine does not say (about 4 characters per token, 1 per Han
/// character): only for budgets before the engine reports real usage.
#[must_use]
pub fn estimate_tokens(text: &str) -> u32 {
    let (mut han, mut other) = (0u32, 0u32);
    for c in text.chars() {
        if ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c) {
            han += 1;
        } else {
            other += 1;
        }
    }
    han + other.div_ceil(4)
}

/// A chat model served by a remote engine.
#[derive(Debug, Clone)]
pub struct RemoteGenerator {
    inner: Arc<Inner>,
}

impl RemoteGenerator {
    /// A generator for `options` (nothing is sent until the first request).
    ///
    /// # Errors
    /// A URL that is not HTTP(S).
    pub fn new(options: RemoteOptions) -> Result<Self, EngineError> {
        Ok(Self { inner: Arc::new(Inner::new(options)?) })
    }

    /// `model @ url`, for people.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{} @ {}", self.inner.options.model, self.inner.options.base_url)
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &RemoteOptions {
        &self.inner.options
    }
}

fn request_body(options: &RemoteOptions, request: &GenerateRequest) -> (&'static str, Value) {
    let s = &request.sampling;
    let mut body = json!({
        "model": options.model,
        "max_tokens": request.max_tokens,
        "temperature": s.temperature.max(0.0),
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    if s.temperature > 0.0 && s.top_p < 1.0 {
        body["top_p"] = json!(s.top_p);
    }
    if let Some(seed) = s.seed {
        body["seed"] = json!(seed);
    }
    if s.ignore_eos {
        body["ignore_eos"] = json!(true);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    match &request.prompt {
        Prompt::Chat(messages) => {
            body["messages"] =
                messages.iter().map(|m| json!({ "role": m.role.as_str(), "content": m.content })).collect();
            ("chat/completions", body)
        }
        Prompt::Raw(text) => {
            body["prompt"] = json!(text);
            ("completions", body)
        }
    }
}

fn prompt_text(prompt: &Prompt) -> String {
    match prompt {
        Prompt::Raw(t) => t.clone(),
        Prompt::Chat(messages) => messages.iter().map(|m| format!("{}: {}\n", m.role.as_str(), m.content)).collect(),
    }
}

impl Generator for RemoteGenerator {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError> {
        request.sampling.validate()?;
        if request.max_tokens == 0 {
            return Err(EngineError::InvalidRequest { message: "max_tokens must be at least 1".into() });
        }
        let (events, rx) = mpsc::channel(256);
        let cancel = CancelToken::new();
        let inner = Arc::clone(&self.inner);
        let watch = cancel.clone();
        tokio::spawn(async move {
            if let Err(e) = stream(&inner, &request, &events, &watch).await {
                events.send(Err(e)).await.ok();
            }
        });
        Ok(GenerationStream::new(rx, cancel))
    }

    async fn render(&self, prompt: &Prompt) -> Result<RenderedPrompt, EngineError> {
        // The engine applies the model's own template; the count is an estimate.
        let text = prompt_text(prompt);
        let format = match prompt {
            Prompt::Chat(_) => PromptFormat::ModelTemplate,
            Prompt::Raw(_) => PromptFormat::Raw,
        };
        Ok(RenderedPrompt { tokens: estimate_tokens(&text), text, format })
    }

    fn context_length(&self) -> u32 {
        self.inner.options.context_length
    }
}

/// One streamed completion: POST, then server-sent events until `[DONE]`.
async fn stream(
    inner: &Inner,
    request: &GenerateRequest,
    events: &mpsc::Sender<Result<GenerationEvent, EngineError>>,
    cancel: &CancelToken,
) -> Result<(), EngineError> {
    let started = Instant::now();
    let (path, body) = request_body(&inner.options, request);
    let estimated = estimate_tokens(&prompt_text(&request.prompt));
    let response = inner.post(path, &body).await?;
    let format = if path == "completions" { PromptFormat::Raw } else { PromptFormat::ModelTemplate };
    if events
        .send(Ok(GenerationEvent::Started { format, prompt_tokens: estimated, cached_prompt_tokens: 0 }))
        .await
        .is_err()
    {
        return Ok(());
    }
    let mut sse = response.bytes_stream().eventsource();
    let (mut finish, mut usage_seen, mut pieces) = (None::<String>, None::<Value>, 0u32);
    let mut first_token = None;
    while let Some(event) = sse.next().await {
        if cancel.is_cancelled() {
            finish = Some("cancelled".into());
            break;
        }
        let event = event.map_err(|e| inner.fail(format!("broken event stream: {e}")))?;
        if event.data.trim() == "[DONE]" {
            break;
        }
        let chunk: Value =
            serde_json::from_str(&event.data).map_err(|e| inner.fail(format!("not a completion chunk: {e}")))?;
        if let Some(message) = chunk["error"]["message"].as_str() {
            return Err(inner.fail(message.to_string()));
        }
        if chunk["usage"].is_object() {
            usage_seen = Some(chunk["usage"].clone());
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let text = choice["delta"]["content"].as_str().or_else(|| choice["text"].as_str()).unwrap_or_default();
            if !text.is_empty() {
                pieces += 1;
                first_token.get_or_insert_with(Instant::now);
                if events.send(Ok(GenerationEvent::Token { text: text.to_string() })).await.is_err() {
                    // The consumer is gone: dropping the response closes the connection.
                    return Ok(());
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                finish = Some(reason.to_string());
            }
        }
    }
    let finish_reason = match finish.as_deref() {
        Some("length") => FinishReason::Length,
        Some("cancelled") => FinishReason::Cancelled,
        Some(_) => FinishReason::Stop,
        None if cancel.is_cancelled() => FinishReason::Cancelled,
        None => return Err(inner.fail("the stream ended without a finish reason")),
    };
    let count = |key: &str| usage_seen.as_ref().and_then(|u| u[key].as_u64()).and_then(|n| u32::try_from(n).ok());
    let elapsed = started.elapsed().as_secs_f64();
    let ttft = first_token.map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    let completion_tokens = count("completion_tokens").unwrap_or(pieces);
    let generation = (elapsed - ttft).max(0.0);
    let usage = Usage {
        prompt_tokens: count("prompt_tokens").unwrap_or(estimated),
        cached_prompt_tokens: usage_seen
            .as_ref()
            .and_then(|u| u["prompt_tokens_details"]["cached_tokens"].as_u64())
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        completion_tokens,
        time_to_first_token_ms: ttft * 1e3,
        prompt_ms: ttft * 1e3,
        generation_ms: generation * 1e3,
        prompt_tokens_per_second: 0.0,
        tokens_per_second: if generation > 0.0 { f64::from(completion_tokens) / generation } else { 0.0 },
    };
    events.send(Ok(GenerationEvent::Done { finish_reason, usage })).await.ok();
    Ok(())
}

/// An embedding model served by a remote engine.
#[derive(Debug, Clone)]
pub struct RemoteEmbedder {
    inner: Arc<Inner>,
    dimensions: usize,
}

/// Texts per request.
const EMBED_BATCH: usize = 64;

impl RemoteEmbedder {
    /// Connect: one request learns the vectors' dimension (and proves the engine answers).
    ///
    /// # Errors
    /// A bad URL, an engine that cannot be reached or answers something else.
    pub async fn connect(options: RemoteOptions) -> Result<Self, EngineError> {
        let inner = Arc::new(Inner::new(options)?);
        let probe = embed_batch(&inner, &["dimension probe".to_string()]).await?;
        let dimensions = probe.first().map_or(0, |(v, _)| v.len());
        if dimensions == 0 {
            return Err(inner.fail("the engine returned an empty vector"));
        }
        Ok(Self { inner, dimensions })
    }

    /// `model @ url`, for people.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{} @ {}", self.inner.options.model, self.inner.options.base_url)
    }

    /// The model name the engine serves.
    #[must_use]
    pub fn id(&self) -> String {
        self.inner.options.model.clone()
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &RemoteOptions {
        &self.inner.options
    }
}

async fn embed_batch(inner: &Inner, texts: &[String]) -> Result<Vec<(Vec<f32>, u32)>, EngineError> {
    let body = json!({ "model": inner.options.model, "input": texts, "encoding_format": "float" });
    let response: Value = inner
        .post("embeddings", &body)
        .await?
        .json()
        .await
        .map_err(|e| inner.fail(format!("not an embeddings response: {e}")))?;
    let data = response["data"].as_array().ok_or_else(|| inner.fail("the response has no `data`"))?;
    if data.len() != texts.len() {
        return Err(inner.fail(format!("{} vectors for {} texts", data.len(), texts.len())));
    }
    let total = response["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
    let chars: usize = texts.iter().map(String::len).sum::<usize>().max(1);
    let mut out = vec![(Vec::new(), 0u32); texts.len()];
    for item in data {
        let index = item["index"].as_u64().and_then(|i| usize::try_from(i).ok()).unwrap_or(usize::MAX);
        let vector: Vec<f32> = item["embedding"]
            .as_array()
            .ok_or_else(|| inner.fail("an embedding is not a list of numbers"))?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<_>>()
            .ok_or_else(|| inner.fail("an embedding is not a list of numbers"))?;
        let slot = out.get_mut(index).ok_or_else(|| inner.fail(format!("embedding index {index} out of range")))?;
        // The engine reports tokens for the whole batch; each text gets its share.
        let share = total * texts[index].len() as u64 / chars as u64;
        *slot = (vector, u32::try_from(share).unwrap_or(u32::MAX));
    }
    Ok(out)
}

impl Embedder for RemoteEmbedder {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Recognised from the served model's name (e.g. `multilingual-e5-large`).
    fn relevance_floor(&self) -> f32 {
        lexdesk_core::model::relevance_floor("", Some(&self.inner.options.model))
    }

    async fn embed(&self, texts: Vec<String>, role: EmbedRole) -> Result<Vec<Embedding>, EngineError> {
        let prefix = match role {
            EmbedRole::Query => &self.inner.options.query_prefix,
            EmbedRole::Document => &self.inner.options.document_prefix,
        };
        let texts: Vec<String> = texts.into_iter().map(|t| format!("{prefix}{t}")).collect();
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(EMBED_BATCH) {
            for (mut vector, tokens) in embed_batch(&self.inner, batch).await? {
                if vector.len() != self.dimensions {
                    return Err(self.inner.fail(format!(
                        "a {}-dimensional vector where {} were expected",
                        vector.len(),
                        self.dimensions
                    )));
                }
                l2_normalize(&mut vector);
                out.push(Embedding { vector, tokens, truncated: false });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lexdesk_core::generate::{ChatMessage, Role, Sampling};

    #[test]
    fn requests_follow_the_openai_shape() {
        let options = RemoteOptions { base_url: "http://e/v1".into(), model: "m".into(), ..RemoteOptions::default() };
        let mut request = GenerateRequest::chat(vec![ChatMessage::new(Role::User, "Hi")]);
        request.max_tokens = 5;
        request.sampling = Sampling::greedy();
        request.stop = vec!["END".into()];
        let (path, body) = request_body(&options, &request);
        assert_eq!(path, "chat/completions");
        assert_eq!(body["messages"][0], json!({"role": "user", "content": "Hi"}));
        assert_eq!((body["max_tokens"].as_u64(), body["temperature"].as_f64()), (Some(5), Some(0.0)));
        assert_eq!(body["stop"], json!(["END"]));
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("ignore_eos").is_none(), "only sent when asked for");
        request.sampling.ignore_eos = true;
        assert_eq!(request_body(&options, &request).1["ignore_eos"], true);
        let (path, body) = request_body(&options, &GenerateRequest::raw("Once"));
        assert_eq!((path, body["prompt"].as_str()), ("completions", Some("Once")));
        assert!(RemoteGenerator::new(RemoteOptions { base_url: "ftp://x".into(), ..options.clone() }).is_err());
        assert!(!format!("{:?}", RemoteOptions { api_key: Some("secret".into()), ..options }).contains("secret"));
        assert_eq!(estimate_tokens("合同法 abcd"), 3 + 2);
    }
}
