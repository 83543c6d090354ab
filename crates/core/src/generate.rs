//! Text generation: requests, sampling, streamed events, usage and the [`Generator`] trait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::EngineError;

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the assistant.
    System,
    /// The person asking.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name as chat templates spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

/// What to generate from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// A conversation, rendered with the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Raw text completed as is (no template).
    Raw(String),
}

/// How the prompt text was produced.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptFormat {
    /// The chat template stored in the GGUF file.
    ModelTemplate,
    /// The model has no usable template: a plain transcript (`System:`/`User:`/`Assistant:`
    /// lines) completed as raw text. See ARCHITECTURE.md.
    TranscriptFallback,
    /// Raw text, no template.
    Raw,
}

/// Sampling parameters. `temperature <= 0` means greedy decoding (deterministic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Softmax temperature; 0 = greedy.
    pub temperature: f32,
    /// Keep the k most likely tokens (0 = off).
    pub top_k: u32,
    /// Nucleus sampling threshold (1 = off).
    pub top_p: f32,
    /// Minimum probability relative to the best token (0 = off).
    pub min_p: f32,
    /// Penalty for repeating recent tokens (1 = off).
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: u32,
    /// Random seed; `None` = a fresh one each request.
    pub seed: Option<u32>,
    /// Keep generating past end-of-generation tokens until `max_tokens` (load tests and
    /// benchmarks; vLLM's and llama-server's `ignore_eos`). Never written to `config.toml`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: None,
            ignore_eos: false,
        }
    }
}

impl Sampling {
    /// Greedy decoding: always the most likely token; the same input gives the same output.
    #[must_use]
    pub fn greedy() -> Self {
        Self { temperature: 0.0, repeat_penalty: 1.0, ..Self::default() }
    }

    /// Check the ranges.
    ///
    /// # Errors
    /// [`EngineError::InvalidRequest`] naming the parameter that is out of range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |message: String| Err(EngineError::InvalidRequest { message });
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return bad(format!("temperature must be >= 0, got {}", self.temperature));
        }
        if !(0.0..=1.0).contains(&self.top_p) {
            return bad(format!("top_p must be in [0, 1], got {}", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad(format!("min_p must be in [0, 1], got {}", self.min_p));
        }
        if !self.repeat_penalty.is_finite() || self.repeat_penalty <= 0.0 {
            return bad(format!("repeat_penalty must be > 0, got {}", self.repeat_penalty));
        }
        Ok(())
    }
}

/// A generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// Conversation or raw text.
    pub prompt: Prompt,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Generation stops before any of these strings; they are not part of the output.
    pub stop: Vec<String>,
    /// Sampling.
    pub sampling: Sampling,
}

impl GenerateRequest {
    /// A chat request with default sampling and 512 tokens.
    #[must_use]
    pub fn chat(messages: Vec<ChatMessage>) -> Self {
        Self { prompt: Prompt::Chat(messages), max_tokens: 512, stop: Vec::new(), sampling: Sampling::default() }
    }

    /// A raw completion request with default sampling and 512 tokens.
    pub fn raw(text: impl Into<String>) -> Self {
        Self { prompt: Prompt::Raw(text.into()), ..Self::chat(Vec::new()) }
    }
}

/// Why generation ended.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Stop,
    /// A stop sequence was produced.
    StopSequence,
    /// `max_tokens` reached.
    Length,
    /// The context window is full.
    ContextFull,
    /// The caller cancelled.
    Cancelled,
}

/// Token counts and timings of one generation.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Of those, tokens reused from the KV cache (not evaluated again).
    pub cached_prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// From request to first token, milliseconds.
    pub time_to_first_token_ms: f64,
    /// Prompt evaluation time, milliseconds.
    pub prompt_ms: f64,
    /// Generation time after the first token, milliseconds.
    pub generation_ms: f64,
    /// Prompt tokens evaluated per second.
    pub prompt_tokens_per_second: f64,
    /// Tokens generated per second.
    pub tokens_per_second: f64,
}

/// One event of a generation stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GenerationEvent {
    /// The prompt was rendered and evaluated; generation starts.
    Started {
        /// How the prompt was rendered.
        format: PromptFormat,
        /// Tokens in the prompt.
        prompt_tokens: u32,
        /// Tokens reused from the KV cache.
        cached_prompt_tokens: u32,
    },
    /// Newly generated text (one or more tokens; always whole UTF-8 characters).
    Token {
        /// The text.
        text: String,
    },
    /// Generation ended.
    Done {
        /// Why.
        finish_reason: FinishReason,
        /// Counts and timings.
        usage: Usage,
    },
}

/// The result of a whole generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Generated text (stop sequence removed).
    pub text: String,
    /// How the prompt was rendered.
    pub format: PromptFormat,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Counts and timings.
    pub usage: Usage,
}

/// Shared cancellation flag; cheap to clone and safe to set from any thread.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

/// Two tokens are equal when they are the same flag.
impl PartialEq for CancelToken {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl CancelToken {
    /// A fresh, not-cancelled token.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Ask the generation to stop; it stops before its next token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }
    /// Whether cancel was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A stream of generation events. Dropping it cancels the generation.
#[derive(Debug)]
pub struct GenerationStream {
    rx: mpsc::Receiver<Result<GenerationEvent, EngineError>>,
    cancel: CancelToken,
}

impl GenerationStream {
    /// Wrap a receiver fed by a generator, with the token that cancels it.
    #[must_use]
    pub fn new(rx: mpsc::Receiver<Result<GenerationEvent, EngineError>>, cancel: CancelToken) -> Self {
        Self { rx, cancel }
    }

    /// The next event; `None` after `Done` or an error.
    pub async fn next(&mut self) -> Option<Result<GenerationEvent, EngineError>> {
        self.rx.recv().await
    }

    /// Blocking variant of [`Self::next`] for synchronous callers (never inside a runtime).
    pub fn blocking_next(&mut self) -> Option<Result<GenerationEvent, EngineError>> {
        self.rx.blocking_recv()
    }

    /// A token that cancels this generation (clone it into a signal handler or UI button).
    #[must_use]
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Drain the stream into a [`Completion`], calling `on_token` for each piece of text.
    ///
    /// # Errors
    /// The first error the generator reported, or [`EngineError::WorkerGone`] if the stream
    /// ended without `Done`.
    pub async fn collect_with(mut self, mut on_token: impl FnMut(&str)) -> Result<Completion, EngineError> {
        let mut text = String::new();
        let mut format = PromptFormat::Raw;
        while let Some(event) = self.next().await {
            match event? {
                GenerationEvent::Started { format: f, .. } => format = f,
                GenerationEvent::Token { text: t } => {
                    on_token(&t);
                    text.push_str(&t);
                }
                GenerationEvent::Done { finish_reason, usage } => {
                    return Ok(Completion { text, format, finish_reason, usage });
                }
            }
        }
        Err(EngineError::WorkerGone)
    }

    /// Drain the stream into a [`Completion`].
    ///
    /// # Errors
    /// As [`Self::collect_with`].
    pub async fn collect(self) -> Result<Completion, EngineError> {
        self.collect_with(|_| {}).await
    }
}

impl Drop for GenerationStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Something that generates text: a local llama.cpp model, or later a remote engine.
pub trait Generator: Send + Sync {
    /// Start generating; events arrive on the returned stream.
    ///
    /// # Errors
    /// Requests that are invalid before any work starts (bad sampling parameters, worker gone).
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError>;

    /// Render the prompt exactly as the model will see it, and count its tokens.
    ///
    /// # Errors
    /// As [`Self::generate`].
    fn render(&self, prompt: &Prompt) -> impl Future<Output = Result<RenderedPrompt, EngineError>> + Send;

    /// Tokens the model's context holds (prompt and answer together).
    fn context_length(&self) -> u32;
}

/// A prompt rendered for a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedPrompt {
    /// The exact text fed to the tokenizer.
    pub text: String,
    /// How it was rendered.
    pub format: PromptFormat,
    /// Its length in tokens.
    pub tokens: u32,
}

/// Incremental stop-sequence matcher: text goes in, the part that is safe to emit comes out.
///
/// Text that could still become a stop sequence is held back until it cannot.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

/// What [`StopMatcher::push`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// Emit this text (possibly empty) and continue.
    Continue(String),
    /// A stop sequence was found: emit this text (everything before it) and stop.
    Stopped(String),
}

impl StopMatcher {
    /// A matcher for these stop sequences (empty ones are ignored).
    #[must_use]
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), pending: String::new() }
    }

    /// Add generated text.
    pub fn push(&mut self, text: &str) -> StopOutcome {
        self.pending.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|s| self.pending.find(s.as_str())).min() {
            let out = self.pending[..at].to_owned();
            self.pending.clear();
            return StopOutcome::Stopped(out);
        }
        // Hold back the longest suffix that is a proper prefix of some stop sequence.
        let hold = self
            .stops
            .iter()
            .map(|s| {
                (1..s.len().min(self.pending.len() + 1))
                    .rev()
                    .filter(|&n| s.is_char_boundary(n) && self.pending.is_char_boundary(self.pending.len() - n))
                    .find(|&n| self.pending.ends_with(&s[..n]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        let emit_to = self.pending.len() - hold;
        let out = self.pending[..emit_to].to_owned();
        self.pending.drain(..emit_to);
        StopOutcome::Continue(out)
    }

    /// Text still held back when generation ends for another reason.
    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| (*s).to_owned()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                StopOutcome::Continue(t) => out.push_str(&t),
                StopOutcome::Stopped(t) => {
                    out.push_str(&t);
                    return (out, true);
                }
            }
        }
        out.push_str(&m.flush());
        (out, false)
    }

    #[test]
    fn stop_sequence_split_across_tokens() {
        assert_eq!(run(&["###"], &["Hello", " #", "#", "# world"]), ("Hello ".into(), true));
    }

    #[test]
    fn partial_match_released_when_it_diverges() {
        assert_eq!(run(&["###"], &["a #", "#b"]), ("a ##b".into(), false));
    }

    #[test]
    fn earliest_stop_wins_and_multibyte_is_safe() {
        assert_eq!(run(&["第二条", "条"], &["第一", "条规定"]), ("第一".into(), true));
        assert_eq!(run(&["。\n"], &["中文。", "好"]), ("中文。好".into(), false));
    }

    #[test]
    fn no_stops_passes_everything() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    #[test]
    fn sampling_validation_names_the_parameter() {
        let s = Sampling { top_p: 1.5, ..Sampling::default() };
        assert!(s.validate().unwrap_err().to_string().contains("top_p"));
        assert!(Sampling::greedy().validate().is_ok());
    }

    #[tokio::test]
    async fn stream_collects_and_drop_cancels() {
        let (tx, rx) = mpsc::channel(8);
        let cancel = CancelToken::new();
        let stream = GenerationStream::new(rx, cancel.clone());
        tx.send(Ok(GenerationEvent::Token { text: "a".into() })).await.unwrap();
        tx.send(Ok(GenerationEvent::Token { text: "b".into() })).await.unwrap();
        tx.send(Ok(GenerationEvent::Done { finish_reason: FinishReason::Stop, usage: Usage::default() }))
            .await
            .unwrap();
        let mut seen = Vec::new();
        let c = stream.collect_with(|t| seen.push(t.to_owned())).await.unwrap();
        assert_eq!(c.text, "ab");
        assert_eq!(seen, ["a", "b"]);
        assert!(cancel.is_cancelled(), "dropping the stream cancels the generation");
    }
}
