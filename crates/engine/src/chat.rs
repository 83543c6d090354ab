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

/// Events buffered per request before the worker waits for the consumer.
const EVENT_BUFFER: usize = 256;
/// llama.cpp's default micro-batch.
const DEFAULT_UBATCH: u32 = 512;
/// llama.cpp's default logical batch.
const DEFAULT_BATCH: u32 = 2048;

/// What the engine decided when it loaded a model.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    /// The file's metadata.
    pub metadata: ModelMetadata,
    /// Context length in tokens.
    pub context_length: u32,
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
    ClearCache,
}

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

impl Generator for ChatModel {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError> {
        request.sampling.validate()?;
        if request.max_tokens == 0 {
            return Err(EngineError::InvalidRequest { message: "max_tokens must be at least 1".into() });
        }
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
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
    while let Some(job) = jobs.blocking_recv() {
        worker.handle(job);
    }
}

/// Context length, batch, threads and the memory preflight.
fn plan(meta: ModelMetadata, options: &LoadOptions) -> Result<LoadedModel, EngineError> {
    let n_ctx = preflight::context_length(&meta, options.context_length)?;
    let context_length = u32::try_from(n_ctx)
        .map_err(|_| EngineError::ContextTooLarge { requested: n_ctx, max: u64::from(u32::MAX) })?;
    let batch_size = options.batch_size.unwrap_or(DEFAULT_BATCH).clamp(1, context_length);
    let ubatch = batch_size.min(DEFAULT_UBATCH);
    let (memory, fit) = preflight::check_memory(&meta, n_ctx, u64::from(ubatch), options, preflight::free_memory()?)?;
    Ok(LoadedModel {
        metadata: meta,
        context_length,
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
        .with_n_ctx(NonZeroU32::new(plan.context_length))
        .with_n_batch(plan.batch_size)
        .with_n_ubatch(plan.batch_size.min(DEFAULT_UBATCH))
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_n_seq_max(1)
}

/// Per-thread state: the context, the tokens whose keys and values it holds (sequence 0), and
/// what the prompt renderer needs.
struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: Option<LlamaChatTemplate>,
    /// Texts of control tokens; message text containing them is neutralised so a document can
    /// never inject `<|im_start|>system` or similar.
    control_texts: Vec<String>,
    bos_text: Option<String>,
    /// Tokens in the KV cache, in position order.
    cached: Vec<LlamaToken>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    /// Index in the last batch of the logits to sample from.
    logits_index: i32,
}

impl<'m> Worker<'m> {
    fn new(backend: &LlamaBackend, model: &'m LlamaModel, info: &LoadedModel) -> Result<Self, EngineError> {
        let ctx = model.new_context(backend, context_params(info)).map_err(|e| {
            load_failed(&info.metadata.path, format!("cannot create a context of {} tokens: {e}", info.context_length))
        })?;
        let vocab = model.vocab();
        let control_texts: Vec<String> = vocab
            .tokens()
            .filter(|&t| vocab.is_control(t))
            .filter_map(|t| vocab.text(t).map(|c| c.to_string_lossy().into_owned()))
            .filter(|s| s.chars().count() >= 2)
            .collect();
        let bos_text = vocab.text(vocab.bos()).map(|c| c.to_string_lossy().into_owned()).filter(|s| !s.is_empty());
        Ok(Self {
            model,
            ctx,
            template: model.chat_template(None).ok(),
            control_texts,
            bos_text,
            cached: Vec::new(),
            batch: LlamaBatch::new(info.batch_size as usize, 1),
            n_batch: info.batch_size as usize,
            logits_index: 0,
        })
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Generate { request, events, cancel } => {
                if let Err(e) = self.generate(&request, &events, &cancel, false) {
                    // A receiver that is gone needs no error.
                    events.blocking_send(Err(e)).ok();
                }
            }
            Job::Render { prompt, reply } => {
                let result = self.render(&prompt).map(|(text, format)| {
                    let tokens = self.tokenize(&text, format).len();
                    RenderedPrompt { text, format, tokens: u32::try_from(tokens).unwrap_or(u32::MAX) }
                });
                reply.send(result).ok();
            }
            Job::Bench { prompt_tokens, generated_tokens, reply } => {
                reply.send(self.bench(prompt_tokens, generated_tokens)).ok();
            }
            Job::ClearCache => self.clear(),
        }
    }

    fn clear(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
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

    /// Evaluate `tokens`, reusing the longest prefix already in the KV cache. Leaves the logits
    /// of the last token ready for sampling. Returns how many tokens were reused.
    fn eval_prompt(&mut self, tokens: &[LlamaToken]) -> Result<usize, EngineError> {
        let mut reused = self.cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        if reused == tokens.len() {
            reused -= 1; // the last token must be evaluated again to get its logits
        }
        if reused < self.cached.len() {
            let removed = self
                .ctx
                .clear_kv_cache_seq(Some(0), Some(u32::try_from(reused).unwrap_or(u32::MAX)), None)
                .unwrap_or(false);
            if !removed {
                // Some architectures (recurrent) cannot drop a suffix: start over.
                self.ctx.clear_kv_cache();
                reused = 0;
            }
            self.cached.truncate(reused);
        }
        let result = self.decode_tokens(&tokens[reused..]);
        if result.is_err() {
            self.clear();
        }
        result.map(|()| reused)
    }

    fn decode_tokens(&mut self, tokens: &[LlamaToken]) -> Result<(), EngineError> {
        let total = tokens.len();
        for (chunk_index, chunk) in tokens.chunks(self.n_batch).enumerate() {
            self.batch.clear();
            for (i, &token) in chunk.iter().enumerate() {
                let is_last = chunk_index * self.n_batch + i + 1 == total;
                let pos = i32::try_from(self.cached.len() + i).unwrap_or(i32::MAX);
                self.batch
                    .add(token, pos, &[0], is_last)
                    .map_err(|e| EngineError::Inference { message: e.to_string() })?;
            }
            self.ctx.decode(&mut self.batch).map_err(|e| EngineError::Inference { message: e.to_string() })?;
            self.cached.extend_from_slice(chunk);
        }
        self.logits_index = self.batch.n_tokens() - 1;
        Ok(())
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        events: &mpsc::Sender<Result<GenerationEvent, EngineError>>,
        cancel: &CancelToken,
        ignore_eos: bool,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        let (text, format) = self.render(&request.prompt)?;
        let tokens = self.tokenize(&text, format);
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest { message: "the prompt is empty".into() });
        }
        if tokens.len() >= n_ctx {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len() as u64,
                context: n_ctx as u64,
                reserved: 1,
            });
        }
        let reused = self.eval_prompt(&tokens)?;
        let prompt_done = Instant::now();
        let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        let cached_prompt_tokens = u32::try_from(reused).unwrap_or(u32::MAX);
        if events.blocking_send(Ok(GenerationEvent::Started { format, prompt_tokens, cached_prompt_tokens })).is_err() {
            return Ok(());
        }

        let mut stops = request.stop.clone();
        if format == PromptFormat::TranscriptFallback {
            stops.extend(["\nUser:".to_owned(), "\nSystem:".to_owned()]);
        }
        let mut stop = StopMatcher::new(&stops);
        let mut sampler = sampler(&request.sampling, self.model.n_vocab());
        let mut utf8 = Utf8Stream::default();
        let mut generated = 0u32;
        let mut first_token: Option<Instant> = None;
        let vocab = self.model.vocab();
        let emit = |text: String| text.is_empty() || events.blocking_send(Ok(GenerationEvent::Token { text })).is_ok();

        let finish_reason = loop {
            if cancel.is_cancelled() {
                break FinishReason::Cancelled;
            }
            if generated >= request.max_tokens {
                break FinishReason::Length;
            }
            if self.cached.len() >= n_ctx {
                break FinishReason::ContextFull;
            }
            let token = sampler.sample(&self.ctx, self.logits_index);
            generated += 1;
            first_token.get_or_insert_with(Instant::now);
            if !ignore_eos && vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            let piece = utf8.push(&vocab.token_to_piece(token, false, None));
            match stop.push(&piece) {
                StopOutcome::Continue(text) => {
                    if !emit(text) {
                        break FinishReason::Cancelled;
                    }
                }
                StopOutcome::Stopped(text) => {
                    emit(text);
                    break FinishReason::StopSequence;
                }
            }
            self.decode_tokens(&[token]).inspect_err(|_| self.clear())?;
        };
        if finish_reason != FinishReason::StopSequence {
            let rest = utf8.finish();
            let tail = match stop.push(&rest) {
                StopOutcome::Continue(t) | StopOutcome::Stopped(t) => t,
            };
            emit(tail + &stop.flush());
        }

        let finished = Instant::now();
        let secs = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64();
        let prompt_secs = secs(started, prompt_done);
        let gen_secs = secs(prompt_done, finished);
        let evaluated = tokens.len() - reused;
        let usage = Usage {
            prompt_tokens,
            cached_prompt_tokens,
            completion_tokens: generated,
            time_to_first_token_ms: first_token.map_or(0.0, |t| secs(started, t) * 1e3),
            prompt_ms: prompt_secs * 1e3,
            generation_ms: gen_secs * 1e3,
            prompt_tokens_per_second: if prompt_secs > 0.0 { evaluated as f64 / prompt_secs } else { 0.0 },
            tokens_per_second: if gen_secs > 0.0 { f64::from(generated) / gen_secs } else { 0.0 },
        };
        events.blocking_send(Ok(GenerationEvent::Done { finish_reason, usage })).ok();
        Ok(())
    }

    fn bench(&mut self, prompt_tokens: u32, generated_tokens: u32) -> Result<BenchSample, EngineError> {
        let n_ctx = self.ctx.n_ctx();
        if prompt_tokens == 0 || prompt_tokens >= n_ctx || generated_tokens + 2 >= n_ctx {
            return Err(EngineError::InvalidRequest {
                message: format!("bench sizes must be between 1 and the context length ({n_ctx})"),
            });
        }
        // Prompt processing: random tokens (a fixed LCG, as llama-bench uses rand()), empty cache.
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
        self.eval_prompt(&tokens)?;
        let prompt_seconds = t.elapsed().as_secs_f64();

        // Generation: the real loop, greedy, from a one-token prompt, end-of-text ignored.
        self.clear();
        let request = GenerateRequest {
            prompt: Prompt::Raw(" ".into()),
            max_tokens: generated_tokens,
            stop: Vec::new(),
            sampling: Sampling::greedy(),
        };
        let (events, mut rx) = mpsc::channel(generated_tokens as usize + 8);
        self.generate(&request, &events, &CancelToken::new(), true)?;
        drop(events);
        let mut result = None;
        while let Some(event) = rx.blocking_recv() {
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
