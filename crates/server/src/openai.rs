//! OpenAI-compatible endpoints over the desk's chat and embedding models.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::Stream;
use lexdesk_core::embed::{EmbedRole, Embedder};
use lexdesk_core::generate::{
    ChatMessage, FinishReason, GenerateRequest, GenerationEvent, GenerationStream, Generator, Prompt, Role, Usage,
};

use lexdesk_desk::ModelRef;

use crate::AppState;
use crate::auth::{Ask, Key, Read};
use crate::error::ApiError;
use crate::slots::Slot;
use crate::wire::*;

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn check_model(requested: &str, model: &ModelRef, kind: &str) -> Result<String, ApiError> {
    let id = model.id.clone();
    let requested = requested.trim();
    if requested == id || requested.strip_suffix(".gguf") == Some(id.as_str()) {
        return Ok(id);
    }
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        "MODEL_NOT_FOUND",
        format!("the {kind} model `{requested}` is not served here; use `{id}` (GET /v1/models)"),
    );
    e.param = Some("model".into());
    Err(e)
}

pub(crate) async fn list_models(State(state): State<AppState>, _key: Key<Read>) -> Result<Json<ModelList>, ApiError> {
    let (chat, embed) = state.desk.models().configured()?;
    let (loaded_chat, loaded_embed) = state.desk.models().loaded();
    let object = |m: &ModelRef, kind: &str, loaded: bool| ModelObject {
        id: m.id.clone(),
        object: "model".into(),
        created: m
            .path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
        owned_by: "lexdesk".into(),
        kind: kind.into(),
        loaded,
    };
    Ok(Json(ModelList {
        object: "list".into(),
        data: vec![
            object(&chat, "chat", loaded_chat.as_deref() == Some(chat.id.as_str())),
            object(&embed, "embedding", loaded_embed.as_deref() == Some(embed.id.as_str())),
        ],
    }))
}

/// Validate and translate an OpenAI request into the engine's.
pub(crate) fn generate_request(
    body: &ChatCompletionRequest,
    default_max_tokens: u32,
    defaults: &lexdesk_core::generate::Sampling,
) -> Result<GenerateRequest, ApiError> {
    if body.messages.is_empty() {
        return Err(ApiError::invalid("messages", "`messages` must hold at least one message"));
    }
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only n = 1 is supported"));
    }
    let mut messages = Vec::with_capacity(body.messages.len());
    for (i, m) in body.messages.iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::invalid(
                    &format!("messages[{i}].role"),
                    format!("role `{other}` is not supported (system, developer, user, assistant)"),
                ));
            }
        };
        let content = match &m.content {
            None => String::new(),
            Some(MessageContent::Text(t)) => t.clone(),
            Some(MessageContent::Parts(parts)) => {
                let mut text = String::new();
                for (j, p) in parts.iter().enumerate() {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                &format!("messages[{i}].content[{j}]"),
                                format!("content part `{kind}` is not supported; send text parts"),
                            ));
                        }
                    }
                }
                text
            }
        };
        messages.push(ChatMessage::new(role, content));
    }
    let max_tokens = body.max_completion_tokens.or(body.max_tokens).unwrap_or(default_max_tokens);
    if max_tokens == 0 {
        return Err(ApiError::invalid("max_tokens", "`max_tokens` must be at least 1"));
    }
    let stop = match &body.stop {
        None => Vec::new(),
        Some(StopSequences::One(s)) => vec![s.clone()],
        Some(StopSequences::Many(v)) => v.clone(),
    };
    if stop.len() > 4 || stop.iter().any(String::is_empty) {
        return Err(ApiError::invalid("stop", "up to 4 non-empty stop sequences"));
    }
    let mut sampling = defaults.clone();
    if let Some(t) = body.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::invalid("temperature", "`temperature` must be between 0 and 2"));
        }
        sampling.temperature = t;
    }
    if let Some(p) = body.top_p {
        if !(0.0..=1.0).contains(&p) || p == 0.0 {
            return Err(ApiError::invalid("top_p", "`top_p` must be in (0, 1]"));
        }
        sampling.top_p = p;
    }
    // OpenAI's default is no penalty; only a client's `frequency_penalty` adds one.
    sampling.repeat_penalty = 1.0;
    if let Some(f) = body.frequency_penalty {
        if !(-2.0..=2.0).contains(&f) {
            return Err(ApiError::invalid("frequency_penalty", "`frequency_penalty` must be between -2 and 2"));
        }
        sampling.repeat_penalty = 1.0 + f.max(0.0) / 2.0;
    }
    sampling.seed = body.seed.or(sampling.seed);
    sampling.ignore_eos = body.ignore_eos;
    sampling.validate().map_err(|e| ApiError::invalid("temperature", e.to_string()))?;
    Ok(GenerateRequest { prompt: Prompt::Chat(messages), max_tokens, stop, sampling })
}

fn finish_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Length | FinishReason::ContextFull => "length",
        _ => "stop",
    }
}

fn usage_out(u: &Usage) -> CompletionUsage {
    CompletionUsage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.prompt_tokens + u.completion_tokens,
        prompt_tokens_details: PromptTokensDetails { cached_tokens: u.cached_prompt_tokens },
    }
}

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    _key: Key<Ask>,
    body: Result<Json<ChatCompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let config = state.desk.settings().configuration();
    let (chat, _) = state.desk.models().configured()?;
    let model = check_model(&body.model, &chat, "chat")?;
    let request = generate_request(&body, config.generation.max_tokens, &config.generation.sampling)?;
    let slot = state.slots.admit().await?;
    let generator = state.desk.models().chat().await?;
    let mut stream = generator.generate(request)?;
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = unix_now();
    // The first event tells whether the prompt was accepted (too long, bad template) before any
    // byte of a 200 response is sent.
    let first = match stream.next().await {
        Some(Ok(event)) => event,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(lexdesk_core::EngineError::WorkerGone.into()),
    };
    if body.stream {
        let include_usage = body.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let events =
            sse_chunks(Chunks { id, created, model, include_usage, state: state.clone() }, first, stream, slot);
        return Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response());
    }
    let mut text = String::new();
    let mut pending = Some(first);
    loop {
        let event = match pending.take() {
            Some(e) => e,
            None => match stream.next().await {
                Some(e) => e?,
                None => return Err(lexdesk_core::EngineError::WorkerGone.into()),
            },
        };
        match event {
            GenerationEvent::Started { .. } => {}
            GenerationEvent::Token { text: t } => text.push_str(&t),
            GenerationEvent::Done { finish_reason: reason, usage } => {
                drop(slot);
                state.metrics.generation(&usage);
                return Ok(Json(ChatCompletion {
                    id,
                    object: "chat.completion".into(),
                    created,
                    model,
                    choices: vec![ChatChoice {
                        index: 0,
                        message: ChatMessageOut { role: "assistant".into(), content: text },
                        finish_reason: finish_reason(reason).into(),
                        logprobs: None,
                    }],
                    usage: usage_out(&usage),
                    system_fingerprint: None,
                })
                .into_response());
            }
        }
    }
}

struct Chunks {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    state: AppState,
}

impl Chunks {
    fn chunk(&self, delta: ChunkDelta, finish: Option<&str>) -> Event {
        self.event(&ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice { index: 0, delta, finish_reason: finish.map(str::to_owned) }],
            usage: None,
        })
    }

    fn event(&self, value: &impl serde::Serialize) -> Event {
        Event::default().data(serde_json::to_string(value).expect("chunks serialise"))
    }
}

/// The event stream: a role chunk, text chunks, a finishing chunk, optionally usage, `[DONE]`.
/// Dropping it (the client went away) drops the generation stream, which cancels generation,
/// and frees the slot.
fn sse_chunks(
    c: Chunks,
    first: GenerationEvent,
    stream: GenerationStream,
    slot: Slot,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    enum Phase {
        Role,
        Body,
        Done,
    }
    let state = (c, Some(first), stream, Some(slot), Phase::Role, Vec::<Event>::new());
    futures::stream::unfold(state, |(c, mut pending, mut stream, mut slot, mut phase, mut queue)| async move {
        loop {
            if !queue.is_empty() {
                let event = queue.remove(0);
                return Some((Ok(event), (c, pending, stream, slot, phase, queue)));
            }
            match phase {
                Phase::Done => return None,
                Phase::Role => {
                    phase = Phase::Body;
                    let e = c.chunk(ChunkDelta { role: Some("assistant".into()), content: Some(String::new()) }, None);
                    queue.push(e);
                }
                Phase::Body => {
                    let next = match pending.take() {
                        Some(e) => Some(Ok(e)),
                        None => stream.next().await,
                    };
                    match next {
                        Some(Ok(GenerationEvent::Started { .. })) => {}
                        Some(Ok(GenerationEvent::Token { text })) => {
                            if !text.is_empty() {
                                queue.push(c.chunk(ChunkDelta { role: None, content: Some(text) }, None));
                            }
                        }
                        Some(Ok(GenerationEvent::Done { finish_reason: reason, usage })) => {
                            slot.take();
                            c.state.metrics.generation(&usage);
                            queue.push(c.chunk(ChunkDelta::default(), Some(finish_reason(reason))));
                            if c.include_usage {
                                queue.push(c.event(&ChatCompletionChunk {
                                    id: c.id.clone(),
                                    object: "chat.completion.chunk".into(),
                                    created: c.created,
                                    model: c.model.clone(),
                                    choices: Vec::new(),
                                    usage: Some(usage_out(&usage)),
                                }));
                            }
                            queue.push(Event::default().data("[DONE]"));
                            phase = Phase::Done;
                        }
                        Some(Err(e)) => {
                            slot.take();
                            queue.push(c.event(&ApiError::from(e).body()));
                            queue.push(Event::default().data("[DONE]"));
                            phase = Phase::Done;
                        }
                        None => {
                            slot.take();
                            let gone = ApiError::from(lexdesk_core::EngineError::WorkerGone);
                            queue.push(c.event(&gone.body()));
                            phase = Phase::Done;
                        }
                    }
                }
            }
        }
    })
}

pub(crate) async fn embeddings(
    State(state): State<AppState>,
    _key: Key<Ask>,
    body: Result<Json<EmbeddingRequest>, JsonRejection>,
) -> Result<Json<EmbeddingList>, ApiError> {
    let Json(body) = body?;
    let (_, embed) = state.desk.models().configured()?;
    let model = check_model(&body.model, &embed, "embedding")?;
    let texts = match body.input {
        EmbeddingInput::One(t) => vec![t],
        EmbeddingInput::Many(v) => v,
    };
    if texts.is_empty() || texts.len() > 2048 {
        return Err(ApiError::invalid("input", "`input` must hold 1 to 2048 texts"));
    }
    if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid("input", format!("input[{i}] is empty")));
    }
    let role = match body.input_type.as_deref() {
        None | Some("document" | "passage") => EmbedRole::Document,
        Some("query") => EmbedRole::Query,
        Some(other) => {
            return Err(ApiError::invalid("input_type", format!("`{other}`: expected `document` or `query`")));
        }
    };
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(ApiError::invalid("encoding_format", format!("`{other}`: float or base64"))),
    };
    let embedder = state.desk.models().embedding().await?;
    if let Some(d) = body.dimensions
        && d != embedder.dimensions()
    {
        return Err(ApiError::invalid(
            "dimensions",
            format!("this model makes {}-dimensional vectors", embedder.dimensions()),
        ));
    }
    let vectors = embedder.embed(texts, role).await?;
    if let Some(i) = vectors.iter().position(|v| v.truncated) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INPUT_TOO_LONG",
            format!("input[{i}] is longer than the embedding model's context; split it"),
        ));
    }
    let tokens: u32 = vectors.iter().map(|v| v.tokens).sum();
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| EmbeddingData {
            object: "embedding".into(),
            index,
            embedding: if base64 {
                let bytes: Vec<u8> = v.vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                EmbeddingVector::Float(v.vector)
            },
        })
        .collect();
    Ok(Json(EmbeddingList {
        object: "list".into(),
        data,
        model,
        usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
    }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn request(json: &str) -> ChatCompletionRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn openai_requests_are_translated_and_validated() {
        let defaults = lexdesk_core::generate::Sampling::default();
        let r = request(
            r#"{"model":"m","messages":[{"role":"developer","content":"Be brief."},
                {"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]}],
                "max_tokens":7,"temperature":0,"stop":"END","seed":3,"ignore_eos":true}"#,
        );
        let g = generate_request(&r, 100, &defaults).unwrap();
        assert_eq!(g.max_tokens, 7);
        assert!(g.sampling.ignore_eos);
        assert_eq!(g.stop, vec!["END".to_string()]);
        assert_eq!(g.sampling.seed, Some(3));
        assert!((g.sampling.repeat_penalty - 1.0).abs() < f32::EPSILON, "OpenAI's default: no penalty");
        let Prompt::Chat(m) = g.prompt else { panic!() };
        assert_eq!((m[0].role, m[1].content.as_str()), (Role::System, "Hi there"));
        for (json, param) in [
            (r#"{"model":"m","messages":[]}"#, "messages"),
            (r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].role"),
            (r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}"#, "n"),
            (r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#, "temperature"),
            (r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, "max_tokens"),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}"#,
                "messages[0].content[0]",
            ),
        ] {
            let e = generate_request(&request(json), 100, &defaults).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (StatusCode::BAD_REQUEST, Some(param)), "{json}");
        }
        let g =
            generate_request(&request(r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#), 100, &defaults)
                .unwrap();
        assert_eq!(g.max_tokens, 100);
    }

    #[test]
    fn model_ids_are_file_stems() {
        let p = Path::new("/m/qwen2.5-0.5b-instruct-q4_k_m.gguf");
        let m = ModelRef { id: lexdesk_desk::file_id(p), path: Some(p.into()), url: None };
        assert_eq!(m.id, "qwen2.5-0.5b-instruct-q4_k_m");
        assert!(check_model("qwen2.5-0.5b-instruct-q4_k_m.gguf", &m, "chat").is_ok());
        let e = check_model("gpt-4o", &m, "chat").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (StatusCode::NOT_FOUND, "MODEL_NOT_FOUND"));
    }
}
