//! The server's wire types: OpenAI's chat completion, embedding and model objects, and the
//! LexDesk API's own. They are the public contract (and the OpenAPI document's schemas); the
//! core's types never appear on the wire directly.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// --- OpenAI: chat completions -----------------------------------------------------------------

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ChatCompletionRequest {
    /// A model id from `GET /v1/models` (the configured chat model).
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessageIn>,
    /// Stream tokens as server-sent events.
    pub stream: bool,
    /// `{"include_usage": true}` adds a last chunk with token usage.
    pub stream_options: Option<StreamOptions>,
    /// Largest number of tokens to generate.
    pub max_tokens: Option<u32>,
    /// The newer name of `max_tokens`.
    pub max_completion_tokens: Option<u32>,
    /// 0 to 2; 0 is greedy.
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    pub top_p: Option<f32>,
    /// Up to 4 stop sequences.
    pub stop: Option<StopSequences>,
    /// Seed of the random draw.
    pub seed: Option<u32>,
    /// Choices to generate; only 1 is supported.
    pub n: Option<u32>,
    /// Penalty on repeated tokens (mapped to llama.cpp's repetition penalty 1 + p/2).
    pub frequency_penalty: Option<f32>,
    /// Accepted and ignored.
    pub presence_penalty: Option<f32>,
    /// Accepted and ignored (end-user id).
    pub user: Option<String>,
    /// Extension (as vLLM and llama-server): generate up to `max_tokens` even past the model's
    /// end-of-generation token — for load tests and benchmarks.
    pub ignore_eos: bool,
}

/// Stream options.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct StreamOptions {
    /// Send a final chunk with `usage`.
    pub include_usage: bool,
}

/// A stop sequence or several.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StopSequences {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// A message of the conversation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ChatMessageIn {
    /// `system`, `developer` (as system), `user` or `assistant`.
    pub role: String,
    /// Text, or text parts.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// Message content: a string or an array of parts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Parts; only `{"type": "text"}` parts are supported.
    Parts(Vec<ContentPart>),
}

/// One part of a message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ContentPart {
    /// `text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    #[serde(default)]
    pub text: Option<String>,
}

/// The answer (non-streaming).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// One choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: CompletionUsage,
    /// Always null (no system fingerprint).
    pub system_fingerprint: Option<String>,
}

/// A choice.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatChoice {
    /// 0.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessageOut,
    /// `stop`, `length`, …
    pub finish_reason: String,
    /// Always null.
    pub logprobs: Option<()>,
}

/// An assistant message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessageOut {
    /// `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct CompletionUsage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
    /// Prompt tokens reused from the cache.
    pub prompt_tokens_details: PromptTokensDetails,
}

/// Prompt token details.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct PromptTokensDetails {
    /// Prompt tokens whose keys and values were already cached.
    pub cached_tokens: u32,
}

/// A streamed chunk (`data: {...}` of the event stream, ended by `data: [DONE]`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatCompletionChunk {
    /// The same id on every chunk.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model.
    pub model: String,
    /// One choice (none in the usage chunk).
    pub choices: Vec<ChunkChoice>,
    /// Only in the last chunk, when `stream_options.include_usage` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
}

/// A streamed choice.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChunkChoice {
    /// 0.
    pub index: u32,
    /// New text.
    pub delta: ChunkDelta,
    /// Set in the choice's last chunk.
    pub finish_reason: Option<String>,
}

/// New text of a streamed choice.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ChunkDelta {
    /// `assistant`, in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

// --- OpenAI: embeddings and models -----------------------------------------------------------

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct EmbeddingRequest {
    /// A model id from `GET /v1/models` (the configured embedding model).
    #[serde(default)]
    pub model: String,
    /// A text or a list of texts.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64` (little-endian f32).
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// LexDesk extension: `document` (default) or `query`, for models that prefix each
    /// (E5: `passage: ` / `query: `).
    #[serde(default)]
    pub input_type: Option<String>,
    /// Must equal the model's dimension if given.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// Accepted and ignored.
    #[serde(default)]
    pub user: Option<String>,
}

/// Embedding input.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// The embeddings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingList {
    /// `list`.
    pub object: String,
    /// One per input, in order.
    pub data: Vec<EmbeddingData>,
    /// The model.
    pub model: String,
    /// Token counts.
    pub usage: EmbeddingUsage,
}

/// One embedding.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingData {
    /// `embedding`.
    pub object: String,
    /// Position of the input.
    pub index: usize,
    /// The vector (floats), or base64 of little-endian f32 values.
    pub embedding: EmbeddingVector,
}

/// A vector as floats or base64.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// Floats.
    Float(Vec<f32>),
    /// Base64.
    Base64(String),
}

/// Embedding token counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingUsage {
    /// Tokens embedded.
    pub prompt_tokens: u32,
    /// The same.
    pub total_tokens: u32,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The models.
    pub data: Vec<ModelObject>,
}

/// A model.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelObject {
    /// The id to send as `model`: the GGUF file name without `.gguf`.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds (the file's modification time).
    pub created: u64,
    /// `lexdesk`.
    pub owned_by: String,
    /// LexDesk extension: `chat` or `embedding`.
    pub kind: String,
    /// LexDesk extension: loaded in memory now.
    pub loaded: bool,
}

// --- health ----------------------------------------------------------------------------------

/// `GET /health` and `GET /ready`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HealthStatus {
    /// `ok`, `ready` or `loading`.
    pub status: String,
    /// The server's version.
    pub version: String,
    /// Chat model loaded.
    pub chat_model_loaded: bool,
    /// Embedding model loaded.
    pub embedding_model_loaded: bool,
}

// --- LexDesk API -----------------------------------------------------------------------------

/// A matter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MatterOut {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// The matters.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MatterList {
    /// By name.
    pub data: Vec<MatterOut>,
}

/// `POST /v1/matters`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct CreateMatter {
    /// Unique name.
    pub name: String,
}

/// A document of a matter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DocumentOut {
    /// Content SHA-256.
    pub id: String,
    /// File name.
    pub file_name: String,
    /// Title.
    pub title: String,
    /// `pdf`, `docx`, …
    pub format: String,
    /// Pages.
    pub page_count: u32,
    /// Chunks.
    pub chunk_count: u32,
    /// Pages read by OCR.
    pub ocr_pages: u32,
    /// `indexed`, `ingesting` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error_code: Option<String>,
    /// Why it failed, for people.
    pub error_message: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub added_at_ms: i64,
}

/// The documents of a matter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DocumentList {
    /// Newest first.
    pub data: Vec<DocumentOut>,
}

/// An ingestion job (document upload).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct JobOut {
    /// Job id.
    pub id: String,
    /// The matter.
    pub matter_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Files uploaded.
    pub files: Vec<String>,
    /// Files processed so far.
    pub files_done: usize,
    /// Documents newly indexed.
    pub indexed: usize,
    /// Documents already in the matter.
    pub already_indexed: usize,
    /// Pages indexed.
    pub pages: u64,
    /// Files that failed, with their reasons.
    pub failed: Vec<JobFailure>,
    /// Why the whole job failed.
    pub error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When it ended.
    pub finished_at_ms: Option<i64>,
}

/// A file that failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct JobFailure {
    /// File name.
    pub file: String,
    /// Stable code (`PDF_ENCRYPTED`, `PDF_CORRUPT`, …).
    pub code: String,
    /// For people.
    pub message: String,
}

/// `POST /v1/matters/{id}/search`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SearchIn {
    /// The query.
    pub query: String,
    /// Results wanted (1–100, default 8).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `hybrid` (default), `vector` or `text`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Only this document (id, file name or path).
    #[serde(default)]
    pub doc: Option<String>,
}

/// Search results.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchOut {
    /// Best first.
    pub data: Vec<SearchHitOut>,
}

/// A passage found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchHitOut {
    /// Document id.
    pub doc_id: String,
    /// File name.
    pub doc: String,
    /// First page.
    pub page: u32,
    /// Last page.
    pub page_end: u32,
    /// Article or clause path.
    pub heading: String,
    /// The passage.
    pub text: String,
    /// Fused score.
    pub score: f32,
    /// Whether a legal reference in the query names this unit.
    pub structural: bool,
}

/// `POST /v1/matters/{id}/ask`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct AskIn {
    /// The question.
    pub question: String,
    /// Continue this session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Only this document.
    #[serde(default)]
    pub doc: Option<String>,
    /// `generate` (default) or `extractive`.
    #[serde(default)]
    pub mode: Option<String>,
    /// A prompt template that shapes the answer (one with a `question` variable, e.g.
    /// `statute-qa-en`); sources, citation checks and abstention stay LexDesk's.
    #[serde(default)]
    pub template: Option<String>,
    /// Values for the template's other variables.
    #[serde(default)]
    pub template_inputs: Option<std::collections::BTreeMap<String, String>>,
    /// Passages retrieved as evidence (default 6, at most 50).
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Tokens reserved for the answer (default: the template's, else the server's setting).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Stream events: `retrieved`, `token`…, then `answer`.
    #[serde(default)]
    pub stream: bool,
}

/// A grounded answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AskOut {
    /// The session the turn was saved to.
    pub session_id: String,
    /// The answer text with `[S#]` markers, or the abstention.
    pub answer: String,
    /// The documents did not support an answer.
    pub abstained: bool,
    /// Why it abstained (stable code).
    pub abstention_code: Option<String>,
    /// The citations, each checked against the stored page text.
    pub citations: Vec<CitationOut>,
    /// Claims without a verified citation (left out of the answer).
    pub unsupported_claims: Vec<String>,
    /// The generation was stopped.
    pub stopped: bool,
    /// `zh` or `en`.
    pub language: String,
    /// The model that answered (none in extractive mode).
    pub model: Option<String>,
    /// Token counts.
    pub usage: Option<CompletionUsage>,
    /// Total milliseconds.
    pub total_ms: f64,
}

/// A citation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CitationOut {
    /// `S1`, `S2`, …
    pub id: String,
    /// File name.
    pub doc: String,
    /// Page.
    pub page: Option<u32>,
    /// Article or clause.
    pub heading: String,
    /// The quoted passage.
    pub quote: String,
    /// Found on the page.
    pub verified: bool,
}

/// A streamed event of `ask` (`event: token|retrieved|answer|error`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AskEventOut {
    /// Retrieval done.
    Retrieved {
        /// Passages judged relevant (evidence).
        evidence: usize,
        /// Passages searched.
        searched: usize,
    },
    /// Generated text (the draft, before checking).
    Token {
        /// Text.
        text: String,
    },
    /// The checked answer.
    Answer(AskOut),
}

/// Start an evaluation run: a gold set × a configuration (`POST /v1/evals`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalIn {
    /// The gold set's name (`GET /v1/evals/sets`).
    pub set: String,
    /// The matter (id or name) the questions are asked of; absent for instruction-only sets.
    #[serde(default)]
    pub matter: Option<String>,
    /// A name for the run in reports.
    #[serde(default)]
    pub label: Option<String>,
    /// `generate` (default) or `extractive`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `hybrid` (default), `vector` or `text`.
    #[serde(default)]
    pub search_mode: Option<String>,
    /// Passages retrieved per question.
    #[serde(default)]
    pub top_k: Option<u32>,
    /// A prompt template shaping the answers.
    #[serde(default)]
    pub template: Option<String>,
    /// Reranking on or off (absent: as configured).
    #[serde(default)]
    pub rerank: Option<bool>,
    /// Answer length in tokens.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling seed.
    #[serde(default)]
    pub seed: Option<u32>,
    /// Items answered at once (at most the server's parallel sequences).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Only the first N items.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Then grade the answers with the chat model as an LLM judge (1–5 against a written
    /// rubric; the `judge_score` metric, weaker evidence than the checked metrics).
    #[serde(default)]
    pub judge: Option<bool>,
}

/// An evaluation run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalRunOut {
    /// Run id.
    pub id: String,
    /// The gold set.
    pub set: String,
    /// The run's label.
    pub label: String,
    /// `running`, `cancelled`, `failed` or `finished`.
    pub status: String,
    /// Items in the run.
    pub items: u32,
    /// Items finished.
    pub done: u32,
    /// The matter's name, if any.
    pub matter: Option<String>,
    /// The chat model.
    pub model: Option<String>,
    /// `generate` or `extractive`.
    pub mode: String,
    /// Retrieval mode.
    pub search_mode: String,
    /// Why it stopped, when it failed.
    pub error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When it finished.
    pub finished_at_ms: Option<i64>,
}

/// Evaluation runs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalRunList {
    /// The runs.
    pub data: Vec<EvalRunOut>,
}

/// One metric with its 95 % bootstrap interval.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalMetricOut {
    /// Stable key: `keyword_accuracy`, `citation_correct`, `honesty`, `latency_ms`, …
    pub key: String,
    /// For people.
    pub label: String,
    /// `rate` (0–1), `ms` or `tokens_per_second`.
    pub unit: String,
    /// The value (absent when no item defines it).
    pub value: Option<f64>,
    /// Lower bound of the interval.
    pub low: Option<f64>,
    /// Upper bound.
    pub high: Option<f64>,
    /// Items it is computed over.
    pub n: u32,
}

/// Metrics of the items with one tag.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalTagOut {
    /// The tag.
    pub tag: String,
    /// Its items.
    pub items: u32,
    /// Their metrics.
    pub metrics: Vec<EvalMetricOut>,
}

/// One item's result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalItemOut {
    /// The gold item's id.
    pub id: String,
    /// The question.
    pub question: String,
    /// The answer as shown.
    pub answer: String,
    /// LexDesk abstained.
    pub abstained: bool,
    /// The gold says it should.
    pub should_abstain: bool,
    /// It failed with an error (`error` says which).
    pub error: Option<String>,
    /// Keywords found by the item's rule.
    pub keyword_pass: Option<bool>,
    /// A verified citation of an expected source.
    pub citation_correct: Option<bool>,
    /// Answered with a verified citation.
    pub grounded: Option<bool>,
    /// Every verified quote found again on its page.
    pub honest: Option<bool>,
    /// Latency in milliseconds.
    pub latency_ms: f64,
    /// The LLM judge's grade (1–5) for runs started with `judge`; null when not judged or the
    /// judge's reply had no readable score (weaker evidence than the checked fields).
    #[serde(default)]
    pub judge_score: Option<u8>,
}

/// A run's results so far (`GET /v1/evals/{run_id}`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalReportOut {
    /// The run.
    pub run: EvalRunOut,
    /// Every quote marked verified was found again on its cited page.
    pub honest: bool,
    /// Verified quotes.
    pub verified_quotes: u32,
    /// Of those, found again on their page.
    pub honest_quotes: u32,
    /// Metrics over the finished items.
    pub metrics: Vec<EvalMetricOut>,
    /// Per tag.
    pub tags: Vec<EvalTagOut>,
    /// Each finished item.
    pub items: Vec<EvalItemOut>,
}

/// A gold set.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalSetOut {
    /// Its name.
    pub name: String,
    /// Items.
    pub items: u32,
    /// Items with expected sources.
    pub with_sources: u32,
    /// Items with keywords.
    pub with_keywords: u32,
    /// Items with a reference answer.
    pub with_expected: u32,
    /// Items the documents cannot answer.
    pub should_abstain: u32,
}

/// The gold sets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EvalSetList {
    /// The sets.
    pub data: Vec<EvalSetOut>,
}
