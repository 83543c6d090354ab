//! Generative models. Each loaded model lives on its own named OS thread, which owns the
//! `LlamaModel` and its `LlamaContext` (not `Send`); callers reach it through a channel of jobs
//! and receive tokens on a bounded channel per request.

use std::num::NonZeroU32;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use lexdesk_core::EngineError;
use lexdesk_core::generate::{
    CancelToken, FinishReason, GenerateRequest, GenerationEvent, GenerationStream, Generator, Prompt, PromptFormat,
    RenderedPrompt, Role, Sampling, StopMatcher, StopOutcome, Usage,
};
use lexdesk_core::model::{FitVerdict, GpuLayers, LoadOptions, MemoryEstimate, ModelKind, ModelMetadata};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::backend::{backend, default_threads, devices};
use crate::{gguf, preflight, worker};

/// llama.cpp's default micro-batch.
const DEFAULT_UBATCH: u32 = 512;
/// llama.cpp's default logical batch.
const DEFAULT_BATCH: u32 = 2048;
/// Most sequences one context decodes together.
const MAX_PARALLEL: u32 = 64;

/// What the engine decided when it loaded a model.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    /// The file's metadata.
    pub metadata: ModelMetadata,
    /// Context length in tokens (of each sequence).
    pub context_length: u32,
    /// Sequences decoded together (continuous batching); the context holds this many times
    /// `context_length` tokens.
    pub parallel: u32,
    /// Logical batch size for prompt processing.
    pub batch_size: u32,
    /// CPU threads.
    pub threads: u32,
    /// Layers offloaded to a GPU (0 on CPU).
    pub gpu_layers: u32,
    /// The preflight's estimate.
    pub memory: MemoryEstimate,
    /// The preflight's verdict.
    pub fit: FitVerdict,
}

/// One throughput measurement (see `lexdesk bench`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchSample {
    /// Prompt tokens evaluated.
    pub prompt_tokens: u32,
    /// Seconds to evaluate them.
    pub prompt_seconds: f64,
    /// Tokens generated.
    pub generated_tokens: u32,
    /// Seconds to generate them (sampling, detokenising and streaming included).
    pub generation_seconds: f64,
}

enum Job {
    Generate {
        request: GenerateRequest,
        events: mpsc::Sender<Result<GenerationEvent, EngineError>>,
        cancel: CancelToken,
    },
    Render {
        prompt: Prompt,
        reply: oneshot::Sender<Result<RenderedPrompt, EngineError>>,
    },
    Bench {
        prompt_tokens: u32,
        generated_tokens: u32,
        reply: oneshot::Sender<Result<BenchSample, EngineError>>,
    },
    Rerank {
        request: RerankRequest,
        reply: oneshot::Sender<Result<Vec<f32>, EngineError>>,
    },
    ClearCache,
}

/// A pointwise relevance judgement by a chat model: for each document, the probability the model
/// gives to "yes" against "no" when asked whether the document meets the instruction for the
/// query, in Qwen3-Reranker's prompt format (so a Qwen3-Reranker GGUF works as it was trained;
/// an instruct model of the same chat format follows it too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerankRequest {
    /// What a relevant document does ("Given a legal question, retrieve passages that answer it").
    pub instruction: String,
    /// The query.
    pub query: String,
    /// The documents; each is cut to what fits the context after the prompt.
    pub documents: Vec<String>,
}

const RERANK_SYSTEM: &str = "Judge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".";

/// A loaded chat model: a cheap, cloneable handle to its worker thread. The thread ends when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct ChatModel {
    jobs: mpsc::UnboundedSender<Job>,
    info: Arc<LoadedModel>,
}

impl ChatModel {
    /// Validate, preflight and load `path` on a new worker thread.
    ///
    /// # Errors
    /// Bad files, embedding models, contexts that do not fit, llama.cpp load failures.
    pub async fn load(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self, EngineError> {
        let (jobs, info) =
            worker::spawn("llm", path.as_ref(), move |path, ready, jobs| worker_main(&path, &options, ready, jobs))
                .await?;
        Ok(Self { jobs, info: Arc::new(info) })
    }

    /// What was loaded and how.
    #[must_use]
    pub fn info(&self) -> &LoadedModel {
        &self.info
    }

    /// Forget the cached prompt prefix (the next request evaluates its whole prompt).
    ///
    /// # Errors
    /// [`EngineError::WorkerGone`].
    pub fn clear_cache(&self) -> Result<(), EngineError> {
        self.jobs.send(Job::ClearCache).map_err(|_| EngineError::WorkerGone)
    }

    /// Measure prompt processing of `prompt_tokens` random tokens and generation of
    /// `generated_tokens` tokens through the normal generation loop (greedy, end-of-text ignored),
    /// from an empty cache, as llama.cpp's `llama-bench` does.
    ///
    /// # Errors
    /// Inference failures; sizes that do not fit the context.
    pub async fn bench(&self, prompt_tokens: u32, generated_tokens: u32) -> Result<BenchSample, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job::Bench { prompt_tokens, generated_tokens, reply }).map_err(|_| EngineError::WorkerGone)?;
        rx.await.map_err(|_| EngineError::WorkerGone)?
    }
}

impl ChatModel {
    /// Score each document of `request` in [0, 1] (see [`RerankRequest`]); runs when no
    /// generation does, one document after another on a shared prompt prefix.
    ///
    /// # Errors
    /// A vocabulary without single `yes`/`no` tokens, inference failures, a stopped worker.
    pub async fn rerank(&self, request: RerankRequest) -> Result<Vec<f32>, EngineError> {
        if request.documents.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job::Rerank { request, reply }).map_err(|_| EngineError::WorkerGone)?;
        rx.await.map_err(|_| EngineError::WorkerGone)?
    }
}

impl Generator for ChatModel {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError> {
        request.sampling.validate()?;
        if request.max_tokens == 0 {
            return Err(EngineError::InvalidRequest { message: "max_tokens must be at least 1".into() });
        }
        let (events, rx) = mpsc::channel(event_capacity(request.max_tokens, self.info.context_length as usize));
        let cancel = CancelToken::new();
        self.jobs
            .send(Job::Generate { request, events, cancel: cancel.clone() })
            .map_err(|_| EngineError::WorkerGone)?;
        Ok(GenerationStream::new(rx, cancel))
    }

    async fn render(&self, prompt: &Prompt) -> Result<RenderedPrompt, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job::Render { prompt: prompt.clone(), reply }).map_err(|_| EngineError::WorkerGone)?;
        rx.await.map_err(|_| EngineError::WorkerGone)?
    }

    fn context_length(&self) -> u32 {
        self.info.context_length
    }
}

fn load_failed(path: &Path, reason: impl Into<String>) -> EngineError {
    EngineError::LoadFailed { path: path.to_path_buf(), reason: reason.into() }
}

/// The worker thread: load, report readiness, then serve jobs until every handle is dropped.
fn worker_main(
    path: &Path,
    options: &LoadOptions,
    ready: oneshot::Sender<Result<LoadedModel, EngineError>>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let loaded = (|| {
        let backend = backend()?;
        let meta = gguf::read_metadata(path)?;
        if meta.kind == ModelKind::Embedding {
            return Err(EngineError::NotAChatModel { path: path.to_path_buf(), architecture: meta.architecture });
        }
        let plan = plan(meta, options)?;
        let model_params = model_params(path, &plan, options)?;
        let model = LlamaModel::load_from_file(backend, path, &model_params.0)
            .map_err(|e| load_failed(path, format!("{e} (see the log above for llama.cpp's reason)")))?;
        Ok((backend, model, plan, model_params.1))
    })();
    let (backend, model, mut info, gpu_layers) = match loaded {
        Ok(v) => v,
        Err(e) => {
            ready.send(Err(e)).ok();
            return;
        }
    };
    info.gpu_layers = gpu_layers;
    let mut worker = match Worker::new(backend, &model, &info) {
        Ok(w) => w,
        Err(e) => {
            ready.send(Err(e)).ok();
            return;
        }
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }
    worker.serve(&mut jobs);
}

/// Context length, batch, threads and the memory preflight.
fn plan(meta: ModelMetadata, options: &LoadOptions) -> Result<LoadedModel, EngineError> {
    let n_ctx = preflight::context_length(&meta, options.context_length)?;
    let context_length = u32::try_from(n_ctx)
        .map_err(|_| EngineError::ContextTooLarge { requested: n_ctx, max: u64::from(u32::MAX) })?;
    let batch_size = options.batch_size.unwrap_or(DEFAULT_BATCH).clamp(1, context_length);
    let ubatch = batch_size.min(DEFAULT_UBATCH);
    let parallel = options.parallel.clamp(1, MAX_PARALLEL);
    // Every sequence has a context of its own: the KV cache holds all of them.
    let total = n_ctx * u64::from(parallel);
    let (memory, fit) = preflight::check_memory(&meta, total, u64::from(ubatch), options, preflight::free_memory()?)?;
    Ok(LoadedModel {
        metadata: meta,
        context_length,
        parallel,
        batch_size,
        threads: options.threads.unwrap_or_else(default_threads).max(1),
        gpu_layers: 0,
        memory,
        fit,
    })
}

/// Model parameters, with GPU layers resolved: a count as given, or `auto` fitted by llama.cpp's
/// own `llama_params_fit` when a GPU is present (0 without one).
fn model_params(
    path: &Path,
    plan: &LoadedModel,
    options: &LoadOptions,
) -> Result<(Pin<Box<LlamaModelParams>>, u32), EngineError> {
    let layers = u32::try_from(plan.metadata.block_count).unwrap_or(u32::MAX - 1) + 1;
    let fixed = |n: u32| Box::pin(LlamaModelParams::default().with_n_gpu_layers(n));
    match options.gpu_layers {
        GpuLayers::Count(n) => {
            let n = n.min(layers);
            Ok((fixed(n), n))
        }
        GpuLayers::Auto if !devices()?.iter().any(|d| d.is_gpu) => Ok((fixed(0), 0)),
        GpuLayers::Auto => {
            let mut params = Box::pin(LlamaModelParams::default());
            let mut cparams = context_params(plan);
            let c_path = std::ffi::CString::new(path.to_string_lossy().as_bytes())
                .map_err(|_| load_failed(path, "path contains a NUL byte"))?;
            // Leave 1 GiB per device for the desktop and other programs.
            let mut margins = vec![1usize << 30; llama_cpp_2::max_devices()];
            params
                .as_mut()
                .fit_params(
                    &c_path,
                    &mut cparams,
                    &mut margins,
                    plan.context_length,
                    llama_cpp_sys_2::GGML_LOG_LEVEL_WARN,
                )
                .map_err(|e| load_failed(path, format!("automatic GPU offload: {e}")))?;
            let n = u32::try_from(params.n_gpu_layers()).unwrap_or(0).min(layers);
            // The fitted parameters point into buffers the pinned value owns (tensor split,
            // buffer-type overrides), so the pinned box itself is what the model loads with.
            Ok((params, n))
        }
    }
}

fn context_params(plan: &LoadedModel) -> LlamaContextParams {
    let threads = i32::try_from(plan.threads).unwrap_or(i32::MAX);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(plan.context_length.saturating_mul(plan.parallel.max(1))))
        .with_n_batch(plan.batch_size)
        .with_n_ubatch(plan.batch_size.min(DEFAULT_UBATCH))
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_n_seq_max(plan.parallel.max(1))
        // Each sequence owns n_ctx / parallel positions (llama.cpp's server without --kv-unified):
        // one long conversation cannot starve the others.
        .with_kv_unified(false)
}

/// One sequence of the shared context: the tokens whose keys and values it holds (in position
/// order, for prefix reuse) and the generation running on it, if any.
struct Seq {
    id: i32,
    cached: Vec<LlamaToken>,
    run: Option<Run>,
}

/// A generation in progress on a sequence.
struct Run {
    events: mpsc::Sender<Result<GenerationEvent, EngineError>>,
    cancel: CancelToken,
    max_tokens: u32,
    ignore_eos: bool,
    format: PromptFormat,
    /// The whole prompt.
    prompt: Vec<LlamaToken>,
    /// Next prompt token to evaluate (starts after the reused prefix).
    next_prompt: usize,
    reused: usize,
    /// The token sampled last, to be evaluated in the next batch.
    pending: Option<LlamaToken>,
    /// Index in the current batch of the logits this run samples from.
    logits_index: Option<i32>,
    sampler: LlamaSampler,
    stop: StopMatcher,
    utf8: Utf8Stream,
    generated: u32,
    started: Instant,
    prompt_done: Option<Instant>,
    first_token: Option<Instant>,
}

/// Why a run ended, with text still to flush.
enum Ended {
    Finished(FinishReason),
    /// The consumer dropped the stream: nothing more to send.
    Gone,
}

/// Per-thread state: the context, its sequences (llama.cpp's server calls them slots), and
/// what the prompt renderer needs. Every step decodes one batch holding the next token of each
/// generating sequence and as many prompt tokens of newly started ones as fit (continuous
/// batching); each sequence has its own part of the context (`n_ctx / parallel`).
struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: Option<LlamaChatTemplate>,
    /// Texts of control tokens; message text containing them is neutralised so a document can
    /// never inject `<|im_start|>system` or similar.
    control_texts: Vec<String>,
    bos_text: Option<String>,
    seqs: Vec<Seq>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    /// Context length of one sequence.
    n_ctx_seq: usize,
}

impl<'m> Worker<'m> {
    fn new(backend: &LlamaBackend, model: &'m LlamaModel, info: &LoadedModel) -> Result<Self, EngineError> {
        let ctx = model.new_context(backend, context_params(info)).map_err(|e| {
            load_failed(
                &info.metadata.path,
                format!("cannot create a context of {} × {} tokens: {e}", info.parallel, info.context_length),
            )
        })?;
        let vocab = model.vocab();
        let control_texts: Vec<String> = vocab
            .tokens()
            .filter(|&t| vocab.is_control(t))
            .filter_map(|t| vocab.text(t).map(|c| c.to_string_lossy().into_owned()))
            .filter(|s| s.chars().count() >= 2)
            .collect();
        let bos_text = vocab.text(vocab.bos()).map(|c| c.to_string_lossy().into_owned()).filter(|s| !s.is_empty());
        let parallel = i32::try_from(info.parallel.max(1)).unwrap_or(1);
        Ok(Self {
            model,
            ctx,
            template: model.chat_template(None).ok(),
            control_texts,
            bos_text,
            seqs: (0..parallel).map(|id| Seq { id, cached: Vec::new(), run: None }).collect(),
            batch: LlamaBatch::new(info.batch_size as usize, 1),
            n_batch: info.batch_size as usize,
            n_ctx_seq: info.context_length as usize,
        })
    }

    fn idle(&self) -> bool {
        self.seqs.iter().all(|s| s.run.is_none())
    }

    /// Serve jobs until every handle is dropped and the last generation has ended.
    fn serve(&mut self, jobs: &mut mpsc::UnboundedReceiver<Job>) {
        let mut waiting: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
        let mut open = true;
        loop {
            if open && self.idle() && waiting.is_empty() {
                match jobs.blocking_recv() {
                    Some(job) => waiting.push_back(job),
                    None => open = false,
                }
            }
            while open {
                match jobs.try_recv() {
                    Ok(job) => waiting.push_back(job),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                }
            }
            self.dispatch(&mut waiting);
            if self.idle() {
                if !open && waiting.is_empty() {
                    return;
                }
                continue;
            }
            self.step();
        }
    }

    /// Start what can start, in arrival order: renders at once; generations on free sequences;
    /// benchmarks and cache clears only when nothing runs.
    fn dispatch(&mut self, waiting: &mut std::collections::VecDeque<Job>) {
        while let Some(job) = waiting.pop_front() {
            match job {
                Job::Render { prompt, reply } => {
                    let result = self.render(&prompt).map(|(text, format)| {
                        let tokens = self.tokenize(&text, format).len();
                        RenderedPrompt { text, format, tokens: u32::try_from(tokens).unwrap_or(u32::MAX) }
                    });
                    reply.send(result).ok();
                }
                Job::Generate { request, events, cancel } => {
                    if self.seqs.iter().all(|s| s.run.is_some()) {
                        waiting.push_front(Job::Generate { request, events, cancel });
                        return;
                    }
                    if let Err(e) = self.start(&request, events.clone(), cancel, false) {
                        // A receiver that is gone needs no error.
                        events.try_send(Err(e)).ok();
                    }
                }
                Job::Bench { prompt_tokens, generated_tokens, reply } if self.idle() => {
                    reply.send(self.bench(prompt_tokens, generated_tokens)).ok();
                }
                Job::Rerank { request, reply } if self.idle() => {
                    let scores = self.rerank(&request);
                    self.clear();
                    reply.send(scores).ok();
                }
                Job::ClearCache if self.idle() => self.clear(),
                job @ (Job::Bench { .. } | Job::Rerank { .. } | Job::ClearCache) => {
                    waiting.push_front(job);
                    return;
                }
            }
        }
    }

    /// Evaluate `tokens` on sequence 0 from position `start`, in batches; the index of the last
    /// token's logits when `logits` is set.
    fn feed(&mut self, tokens: &[LlamaToken], start: usize, logits: bool) -> Result<i32, EngineError> {
        let fail = |e: String| EngineError::Inference { message: e };
        let mut last = 0;
        for (c, chunk) in tokens.chunks(self.n_batch).enumerate() {
            self.batch.clear();
            for (k, &token) in chunk.iter().enumerate() {
                let at = c * self.n_batch + k;
                let pos = i32::try_from(start + at).unwrap_or(i32::MAX);
                self.batch.add(token, pos, &[0], logits && at + 1 == tokens.len()).map_err(|e| fail(e.to_string()))?;
            }
            self.ctx.decode(&mut self.batch).map_err(|e| fail(e.to_string()))?;
            last = self.batch.n_tokens() - 1;
        }
        Ok(last)
    }

    fn rerank(&mut self, r: &RerankRequest) -> Result<Vec<f32>, EngineError> {
        let vocab = self.model.vocab();
        let single = |word: &str| {
            let t = vocab.tokenize(word.as_bytes(), false, false);
            (t.len() == 1).then(|| t[0])
        };
        let (Some(yes), Some(no)) = (single("yes"), single("no")) else {
            return Err(EngineError::InvalidRequest {
                message: "this model's vocabulary has no single `yes` and `no` tokens: it cannot rerank".into(),
            });
        };
        let prefix = format!(
            "<|im_start|>system\n{RERANK_SYSTEM}<|im_end|>\n<|im_start|>user\n<Instruct>: {}\n<Query>: {}\n<Document>: ",
            r.instruction, r.query
        );
        let prefix = vocab.tokenize(prefix.as_bytes(), true, true);
        let suffix = vocab.tokenize(b"<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", false, true);
        let room = self.n_ctx_seq.saturating_sub(prefix.len() + suffix.len() + 1);
        if room < 16 {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: (prefix.len() + suffix.len()) as u64,
                context: self.n_ctx_seq as u64,
                reserved: 16,
            });
        }
        self.clear();
        self.feed(&prefix, 0, false)?;
        let mut scores = Vec::with_capacity(r.documents.len());
        for doc in &r.documents {
            // Only this document's tokens go; the shared prefix stays in the cache.
            let at = u32::try_from(prefix.len()).unwrap_or(u32::MAX);
            if !self.ctx.clear_kv_cache_seq(Some(0), Some(at), None).unwrap_or(false) {
                self.clear();
                self.feed(&prefix, 0, false)?;
            }
            let mut tokens = vocab.tokenize(doc.as_bytes(), false, false);
            tokens.truncate(room);
            tokens.extend_from_slice(&suffix);
            let index = self.feed(&tokens, prefix.len(), true)?;
            let logits = self.ctx.get_logits_ith(index);
            let (y, n) = (logits[usize::try_from(yes.0).unwrap_or(0)], logits[usize::try_from(no.0).unwrap_or(0)]);
            scores.push(1.0 / (1.0 + (n - y).exp()));
        }
        Ok(scores)
    }

    fn clear(&mut self) {
        self.ctx.clear_kv_cache();
        for s in &mut self.seqs {
            s.cached.clear();
        }
    }

    /// Prompt text and how it was made.
    fn render(&self, prompt: &Prompt) -> Result<(String, PromptFormat), EngineError> {
        let messages = match prompt {
            Prompt::Raw(text) => return Ok((text.clone(), PromptFormat::Raw)),
            Prompt::Chat(messages) => messages,
        };
        if messages.is_empty() {
            return Err(EngineError::InvalidRequest { message: "a chat needs at least one message".into() });
        }
        let cleaned: Vec<(Role, String)> = messages.iter().map(|m| (m.role, self.neutralise(&m.content))).collect();
        if let Some(template) = &self.template {
            let chat = cleaned
                .iter()
                .map(|(role, text)| LlamaChatMessage::new(role.as_str().to_owned(), text.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| EngineError::InvalidRequest { message: "message text contains a NUL character".into() })?;
            match self.model.apply_chat_template(template, &chat, true) {
                Ok(text) => return Ok((text, PromptFormat::ModelTemplate)),
                Err(e) => tracing::warn!(
                    "the model's chat template is not supported by llama.cpp ({e}); using the transcript fallback"
                ),
            }
        }
        Ok((transcript(&cleaned), PromptFormat::TranscriptFallback))
    }

    /// Break up control-token texts inside user-supplied text (zero-width space after the first
    /// character) so they tokenize as plain text.
    fn neutralise(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for control in &self.control_texts {
            if out.contains(control.as_str()) {
                let first = control.chars().next().map_or(0, char::len_utf8);
                let broken = format!("{}\u{200B}{}", &control[..first], &control[first..]);
                out = out.replace(control.as_str(), &broken);
            }
        }
        out
    }

    fn tokenize(&self, text: &str, format: PromptFormat) -> Vec<LlamaToken> {
        let has_bos = self.bos_text.as_deref().is_some_and(|b| text.starts_with(b));
        let parse_special = format == PromptFormat::ModelTemplate;
        self.model.vocab().tokenize(text.as_bytes(), !has_bos, parse_special)
    }

    /// Put a generation on the free sequence whose cache shares the longest prefix with its
    /// prompt, dropping the rest of that sequence's cache.
    fn start(
        &mut self,
        request: &GenerateRequest,
        events: mpsc::Sender<Result<GenerationEvent, EngineError>>,
        cancel: CancelToken,
        ignore_eos: bool,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        let ignore_eos = ignore_eos || request.sampling.ignore_eos;
        let (text, format) = self.render(&request.prompt)?;
        let tokens = self.tokenize(&text, format);
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest { message: "the prompt is empty".into() });
        }
        if tokens.len() >= self.n_ctx_seq {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len() as u64,
                context: self.n_ctx_seq as u64,
                reserved: 1,
            });
        }
        let common = |s: &Seq| s.cached.iter().zip(&tokens).take_while(|(a, b)| a == b).count();
        let index = (0..self.seqs.len())
            .filter(|&i| self.seqs[i].run.is_none())
            .max_by_key(|&i| (common(&self.seqs[i]), usize::MAX - self.seqs[i].cached.len()))
            .expect("a free sequence was checked for");
        let mut reused = common(&self.seqs[index]);
        if reused == tokens.len() {
            reused -= 1; // the last prompt token is evaluated again for its logits
        }
        let seq = &mut self.seqs[index];
        if reused < seq.cached.len() {
            let removed = self
                .ctx
                .clear_kv_cache_seq(
                    Some(u32::try_from(seq.id).unwrap_or(0)),
                    Some(u32::try_from(reused).unwrap_or(u32::MAX)),
                    None,
                )
                .unwrap_or(false);
            if !removed {
                // Some architectures (recurrent) cannot drop a suffix: start the sequence over.
                self.ctx.clear_kv_cache_seq(Some(u32::try_from(seq.id).unwrap_or(0)), None, None).ok();
                reused = 0;
            }
            seq.cached.truncate(reused);
        }
        let mut stops = request.stop.clone();
        if format == PromptFormat::TranscriptFallback {
            stops.extend(["\nUser:".to_owned(), "\nSystem:".to_owned()]);
        }
        seq.run = Some(Run {
            events,
            cancel,
            max_tokens: request.max_tokens,
            ignore_eos,
            format,
            next_prompt: reused,
            reused,
            prompt: tokens,
            pending: None,
            logits_index: None,
            sampler: sampler(&request.sampling, self.model.n_vocab()),
            stop: StopMatcher::new(&stops),
            utf8: Utf8Stream::default(),
            generated: 0,
            started,
            prompt_done: None,
            first_token: None,
        });
        Ok(())
    }

    /// One batch: the pending token of every generating sequence, then prompt tokens of starting
    /// ones while room remains; decode; sample where logits were asked for.
    fn step(&mut self) {
        // Runs whose consumer cancelled end before anything more is computed for them.
        for i in 0..self.seqs.len() {
            if self.seqs[i].run.as_ref().is_some_and(|r| r.cancel.is_cancelled()) {
                self.finish(i, Ended::Finished(FinishReason::Cancelled));
            }
        }
        self.batch.clear();
        let mut added: Vec<(usize, usize)> = Vec::new(); // (sequence, tokens added)
        let mut room = self.n_batch;
        for (i, seq) in self.seqs.iter_mut().enumerate() {
            let Some(run) = seq.run.as_mut() else { continue };
            run.logits_index = None;
            if let Some(token) = run.pending
                && room > 0
            {
                let pos = i32::try_from(seq.cached.len()).unwrap_or(i32::MAX);
                if self.batch.add(token, pos, &[seq.id], true).is_ok() {
                    run.logits_index = Some(self.batch.n_tokens() - 1);
                    added.push((i, 1));
                    room -= 1;
                }
            }
        }
        for (i, seq) in self.seqs.iter_mut().enumerate() {
            let Some(run) = seq.run.as_mut() else { continue };
            if run.pending.is_some() || run.next_prompt >= run.prompt.len() || room == 0 {
                continue;
            }
            let take = room.min(run.prompt.len() - run.next_prompt);
            for k in 0..take {
                let index = run.next_prompt + k;
                let last = index + 1 == run.prompt.len();
                let pos = i32::try_from(index).unwrap_or(i32::MAX);
                if self.batch.add(run.prompt[index], pos, &[seq.id], last).is_err() {
                    break;
                }
                if last {
                    run.logits_index = Some(self.batch.n_tokens() - 1);
                }
            }
            added.push((i, take));
            room -= take;
        }
        if added.is_empty() {
            return;
        }
        if let Err(e) = self.ctx.decode(&mut self.batch) {
            // A failed decode leaves the cache in an unknown state: fail every run, start over.
            let message = e.to_string();
            for i in 0..self.seqs.len() {
                if let Some(run) = self.seqs[i].run.take() {
                    run.events.try_send(Err(EngineError::Inference { message: message.clone() })).ok();
                }
            }
            self.clear();
            return;
        }
        for (i, n) in added {
            let seq = &mut self.seqs[i];
            let run = seq.run.as_mut().expect("a run was batched");
            if let Some(token) = run.pending.take() {
                seq.cached.push(token);
            } else {
                seq.cached.extend_from_slice(&run.prompt[run.next_prompt..run.next_prompt + n]);
                run.next_prompt += n;
            }
        }
        for i in 0..self.seqs.len() {
            if self.seqs[i].run.as_ref().is_some_and(|r| r.logits_index.is_some())
                && let Some(ended) = self.sample(i)
            {
                self.finish(i, ended);
            }
        }
    }

    /// Sample the next token of sequence `i`; `Some` when its run ends.
    fn sample(&mut self, i: usize) -> Option<Ended> {
        let n_ctx_seq = self.n_ctx_seq;
        let vocab = self.model.vocab();
        let seq = &mut self.seqs[i];
        let run = seq.run.as_mut().expect("sampled runs exist");
        let index = run.logits_index.take().expect("logits were asked for");
        if run.prompt_done.is_none() {
            run.prompt_done = Some(Instant::now());
            let started = GenerationEvent::Started {
                format: run.format,
                prompt_tokens: u32::try_from(run.prompt.len()).unwrap_or(u32::MAX),
                cached_prompt_tokens: u32::try_from(run.reused).unwrap_or(u32::MAX),
            };
            if run.events.try_send(Ok(started)).is_err() {
                return Some(Ended::Gone);
            }
        }
        if run.cancel.is_cancelled() {
            return Some(Ended::Finished(FinishReason::Cancelled));
        }
        if run.generated >= run.max_tokens {
            return Some(Ended::Finished(FinishReason::Length));
        }
        let token = run.sampler.sample(&self.ctx, index);
        run.generated += 1;
        run.first_token.get_or_insert_with(Instant::now);
        if !run.ignore_eos && vocab.is_eog(token) {
            return Some(Ended::Finished(FinishReason::Stop));
        }
        let piece = run.utf8.push(&vocab.token_to_piece(token, false, None));
        match run.stop.push(&piece) {
            StopOutcome::Continue(text) => {
                if !text.is_empty() && run.events.try_send(Ok(GenerationEvent::Token { text })).is_err() {
                    return Some(Ended::Gone);
                }
            }
            StopOutcome::Stopped(text) => {
                if !text.is_empty() {
                    run.events.try_send(Ok(GenerationEvent::Token { text })).ok();
                }
                return Some(Ended::Finished(FinishReason::StopSequence));
            }
        }
        if run.generated >= run.max_tokens {
            return Some(Ended::Finished(FinishReason::Length));
        }
        if seq.cached.len() + 1 >= n_ctx_seq {
            return Some(Ended::Finished(FinishReason::ContextFull));
        }
        run.pending = Some(token);
        None
    }

    /// End the run on sequence `i`: flush held-back text, report usage.
    fn finish(&mut self, i: usize, ended: Ended) {
        let Some(mut run) = self.seqs[i].run.take() else { return };
        let Ended::Finished(finish_reason) = ended else { return };
        if finish_reason != FinishReason::StopSequence {
            let rest = run.utf8.finish();
            let tail = match run.stop.push(&rest) {
                StopOutcome::Continue(t) | StopOutcome::Stopped(t) => t,
            };
            let tail = tail + &run.stop.flush();
            if !tail.is_empty() {
                run.events.try_send(Ok(GenerationEvent::Token { text: tail })).ok();
            }
        }
        let finished = Instant::now();
        let prompt_done = run.prompt_done.unwrap_or(finished);
        let secs = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64();
        let prompt_secs = secs(run.started, prompt_done);
        let gen_secs = secs(prompt_done, finished);
        let evaluated = run.prompt.len() - run.reused;
        let usage = Usage {
            prompt_tokens: u32::try_from(run.prompt.len()).unwrap_or(u32::MAX),
            cached_prompt_tokens: u32::try_from(run.reused).unwrap_or(u32::MAX),
            completion_tokens: run.generated,
            time_to_first_token_ms: run.first_token.map_or(0.0, |t| secs(run.started, t) * 1e3),
            prompt_ms: prompt_secs * 1e3,
            generation_ms: gen_secs * 1e3,
            prompt_tokens_per_second: if prompt_secs > 0.0 { evaluated as f64 / prompt_secs } else { 0.0 },
            tokens_per_second: if gen_secs > 0.0 { f64::from(run.generated) / gen_secs } else { 0.0 },
        };
        run.events.try_send(Ok(GenerationEvent::Done { finish_reason, usage })).ok();
    }

    /// Run one generation alone to its end (benchmarks).
    fn run_alone(
        &mut self,
        request: &GenerateRequest,
        ignore_eos: bool,
    ) -> Result<mpsc::Receiver<Result<GenerationEvent, EngineError>>, EngineError> {
        let (events, rx) = mpsc::channel(event_capacity(request.max_tokens, self.n_ctx_seq));
        self.start(request, events, CancelToken::new(), ignore_eos)?;
        while !self.idle() {
            self.step();
        }
        Ok(rx)
    }

    fn bench(&mut self, prompt_tokens: u32, generated_tokens: u32) -> Result<BenchSample, EngineError> {
        let n_ctx = u32::try_from(self.n_ctx_seq).unwrap_or(u32::MAX);
        if prompt_tokens == 0 || prompt_tokens >= n_ctx || generated_tokens + 2 >= n_ctx {
            return Err(EngineError::InvalidRequest {
                message: format!("bench sizes must be between 1 and the context length ({n_ctx})"),
            });
        }
        // Prompt processing: random tokens (a fixed LCG, as llama-bench uses rand()), empty cache,
        // in batches of n_batch on sequence 0.
        let n_vocab = u32::try_from(self.model.n_vocab()).unwrap_or(1).max(1);
        let mut state = 0x2545_F491_u32;
        let tokens: Vec<LlamaToken> = (0..prompt_tokens)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                LlamaToken::new(i32::try_from((state >> 8) % n_vocab).unwrap_or(0))
            })
            .collect();
        self.clear();
        let t = Instant::now();
        for (c, chunk) in tokens.chunks(self.n_batch).enumerate() {
            self.batch.clear();
            for (k, &token) in chunk.iter().enumerate() {
                let pos = i32::try_from(c * self.n_batch + k).unwrap_or(i32::MAX);
                let last = c * self.n_batch + k + 1 == tokens.len();
                self.batch
                    .add(token, pos, &[0], last)
                    .map_err(|e| EngineError::Inference { message: e.to_string() })?;
            }
            let decoded =
                self.ctx.decode(&mut self.batch).map_err(|e| EngineError::Inference { message: e.to_string() });
            if let Err(e) = decoded {
                self.clear();
                return Err(e);
            }
        }
        let prompt_seconds = t.elapsed().as_secs_f64();

        // Generation: the real loop, greedy, from a one-token prompt, end-of-text ignored.
        self.clear();
        let request = GenerateRequest {
            prompt: Prompt::Raw(" ".into()),
            max_tokens: generated_tokens,
            stop: Vec::new(),
            sampling: Sampling::greedy(),
        };
        let mut rx = self.run_alone(&request, true)?;
        let mut result = None;
        while let Ok(event) = rx.try_recv() {
            if let GenerationEvent::Done { usage, .. } = event? {
                result = Some(usage);
            }
        }
        let usage = result.ok_or(EngineError::WorkerGone)?;
        self.clear();
        Ok(BenchSample {
            prompt_tokens,
            prompt_seconds,
            generated_tokens: usage.completion_tokens,
            generation_seconds: usage.generation_ms / 1e3,
        })
    }
}

/// Events one generation can send: Started, a token per generated token, a tail, Done. The
/// channel is sized so the worker never waits for a slow consumer (which would stall every
/// sequence of the batch).
fn event_capacity(max_tokens: u32, n_ctx_seq: usize) -> usize {
    (max_tokens as usize).min(n_ctx_seq) + 8
}

/// The fallback prompt for models without a usable chat template: a plain transcript completed
/// after `Assistant:`. Generation also stops at the next `User:`/`System:` line.
fn transcript(messages: &[(Role, String)]) -> String {
    let mut out = String::new();
    for (role, text) in messages {
        let label = match role {
            Role::System => "System",
            Role::User => "User",
            Role::Assistant => "Assistant",
        };
        out.push_str(label);
        out.push_str(": ");
        out.push_str(text.trim());
        out.push_str("\n\n");
    }
    out.push_str("Assistant:");
    out
}

/// The sampler chain for `s`: repetition penalty, then greedy, or top-k → top-p → min-p →
/// temperature → a seeded draw (llama.cpp's default order).
fn sampler(s: &Sampling, n_vocab: i32) -> LlamaSampler {
    let mut chain = Vec::new();
    if (s.repeat_penalty - 1.0).abs() > f32::EPSILON {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            i32::try_from(s.repeat_last_n).unwrap_or(64),
            s.repeat_penalty,
            0.0,
            0.0,
        ));
    }
    if s.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(i32::try_from(s.top_k).unwrap_or(i32::MAX)));
        }
        if s.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(s.top_p, 1));
        }
        if s.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(s.min_p, 1));
        }
        chain.push(LlamaSampler::temp(s.temperature));
        // u32::MAX is llama.cpp's LLAMA_DEFAULT_SEED: a fresh random seed.
        chain.push(LlamaSampler::dist(s.seed.unwrap_or(u32::MAX)));
    }
    LlamaSampler::chain_simple(chain)
}

/// Turns token bytes into whole UTF-8 characters; a character split across tokens (common for
/// Chinese and emoji) is held until complete.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).expect("validated prefix"));
                    match e.error_len() {
                        // Incomplete character at the end: keep it for the next token.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stream_joins_split_characters() {
        let bytes = "法典".as_bytes();
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(&bytes[..2]), "");
        assert_eq!(s.push(&bytes[2..4]), "法");
        assert_eq!(s.push(&bytes[4..]), "典");
        assert_eq!(s.push(b"\xff!"), "\u{FFFD}!");
        assert_eq!(s.push(&bytes[..1]), "");
        assert_eq!(s.finish(), "\u{FFFD}");
    }

    #[test]
    fn transcript_fallback_ends_with_assistant_cue() {
        let t = transcript(&[(Role::System, "Be brief.".into()), (Role::User, " Hi ".into())]);
        assert_eq!(t, "System: Be brief.\n\nUser: Hi\n\nAssistant:");
    }
}
