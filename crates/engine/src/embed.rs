//! Embedding models: one worker thread per model; inputs packed several sequences to a llama
//! batch, pooled the way the model declares, L2-normalised, over-long inputs truncated and
//! reported.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder, Embedding, TokenCounter, l2_normalize};
use lexdesk_core::model::{
    EmbedLanguages, EmbedPrefixes, LoadOptions, ModelKind, ModelMetadata, Pooling, embed_languages, embed_prefixes,
    relevance_floor,
};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::backend::{backend, default_threads};
use crate::{gguf, preflight, worker};

/// Sequences packed into one llama batch at most.
const MAX_SEQUENCES: u32 = 16;
/// Tokens per batch at least (the model's context, when larger, decides).
const MIN_BATCH: u32 = 512;
/// Short inputs are packed into one decode up to this many tokens; longer ones run alone.
/// Sequences in one batch attend over the whole batch's KV cells (masked), so packing costs
/// attention quadratic in the batch: measured with MiniLM on 230-token inputs (2 cores), one per
/// decode gave 2,880 tok/s, two per 512-token batch 2,660, up to 16 in 2,048 tokens 2,220.
const PACK_TOKENS: usize = 256;

/// What the engine decided when it loaded an embedding model.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedEmbedder {
    /// The file's metadata.
    pub metadata: ModelMetadata,
    /// Longest input in tokens; longer inputs are truncated.
    pub max_tokens: u32,
    /// Vector size.
    pub dimensions: usize,
    /// Pooling in use.
    pub pooling: Pooling,
    /// Prefixes for queries and documents.
    pub prefixes: EmbedPrefixes,
    /// CPU threads.
    pub threads: u32,
}

struct Job {
    texts: Vec<String>,
    role: EmbedRole,
    reply: oneshot::Sender<Result<Vec<Embedding>, EngineError>>,
}

/// A loaded embedding model: a cheap, cloneable handle to its worker thread.
#[derive(Debug, Clone)]
pub struct EmbeddingModel {
    jobs: mpsc::UnboundedSender<Job>,
    info: Arc<LoadedEmbedder>,
    /// The model the worker runs, shared for tokenizing (read-only, thread-safe in llama.cpp).
    model: Arc<LlamaModel>,
}

/// Counts tokens with an embedding model's own vocabulary, through llama.cpp's tokenizer
/// (WordPiece, unigram, BPE: whatever the GGUF declares), so chunks are sized exactly as the
/// model will see them.
#[derive(Clone)]
pub struct EmbedTokenCounter {
    model: Arc<LlamaModel>,
    overhead: usize,
}

impl std::fmt::Debug for EmbedTokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedTokenCounter").field("overhead", &self.overhead).finish_non_exhaustive()
    }
}

impl TokenCounter for EmbedTokenCounter {
    fn count(&self, text: &str) -> usize {
        self.model.vocab().tokenize(text.as_bytes(), false, false).len()
    }
    fn overhead(&self) -> usize {
        self.overhead
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("texts", &self.texts.len()).field("role", &self.role).finish()
    }
}

impl EmbeddingModel {
    /// Validate and load `path` on a new worker thread. `options.context_length` caps the
    /// tokens per input (default: the model's context, at most 8192).
    ///
    /// # Errors
    /// Bad files, generative models without pooling, memory, llama.cpp failures.
    pub async fn load(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self, EngineError> {
        let (jobs, info) =
            worker::spawn("embed", path.as_ref(), move |path, ready, jobs| worker_main(&path, &options, ready, jobs))
                .await?;
        let (info, model) = info;
        Ok(Self { jobs, info: Arc::new(info), model })
    }

    /// What was loaded and how.
    #[must_use]
    pub fn info(&self) -> &LoadedEmbedder {
        &self.info
    }

    /// A token counter with this model's vocabulary; its overhead is the special tokens and the
    /// document prefix every passage is embedded with.
    #[must_use]
    pub fn token_counter(&self) -> EmbedTokenCounter {
        let vocab = self.model.vocab();
        let bare = vocab.tokenize(b"a", false, false).len();
        let input = format!("{}a", self.info.prefixes.document);
        let full = vocab.tokenize(input.as_bytes(), true, false).len();
        EmbedTokenCounter { model: Arc::clone(&self.model), overhead: full.saturating_sub(bare) }
    }
}

impl Embedder for EmbeddingModel {
    fn dimensions(&self) -> usize {
        self.info.dimensions
    }

    fn languages(&self) -> EmbedLanguages {
        embed_languages(&self.info.metadata.architecture, self.info.metadata.name.as_deref())
    }

    fn relevance_floor(&self) -> f32 {
        relevance_floor(&self.info.metadata.architecture, self.info.metadata.name.as_deref())
    }

    async fn embed(&self, texts: Vec<String>, role: EmbedRole) -> Result<Vec<Embedding>, EngineError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job { texts, role, reply }).map_err(|_| EngineError::WorkerGone)?;
        rx.await.map_err(|_| EngineError::WorkerGone)?
    }
}

fn worker_main(
    path: &Path,
    options: &LoadOptions,
    ready: oneshot::Sender<Result<(LoadedEmbedder, Arc<LlamaModel>), EngineError>>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let setup = (|| {
        let backend = backend()?;
        let meta = gguf::read_metadata(path)?;
        let pooling = match (meta.kind, meta.pooling) {
            (_, Some(Pooling::None | Pooling::Rank)) | (ModelKind::Chat, None) => {
                return Err(EngineError::NotAnEmbeddingModel {
                    path: path.to_path_buf(),
                    architecture: meta.architecture.clone(),
                });
            }
            (_, Some(p)) => p,
            (ModelKind::Embedding, None) => Pooling::Mean,
        };
        let max_tokens = preflight::context_length(&meta, options.context_length)?;
        let max_tokens = u32::try_from(max_tokens).unwrap_or(u32::MAX);
        let batch = max_tokens.max(MIN_BATCH);
        preflight::check_memory(&meta, u64::from(batch), u64::from(batch), options, preflight::free_memory()?)?;
        let threads = options.threads.unwrap_or_else(default_threads).max(1);
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| EngineError::LoadFailed { path: path.to_path_buf(), reason: e.to_string() })?;
        let model = Arc::new(model);
        let info = LoadedEmbedder {
            dimensions: usize::try_from(model.n_embd_out()).unwrap_or(0),
            prefixes: embed_prefixes(&meta.architecture, meta.name.as_deref()),
            metadata: meta,
            max_tokens,
            pooling,
            threads,
        };
        Ok((backend, model, info, batch))
    })();
    let (backend, model, info, batch) = match setup {
        Ok(v) => v,
        Err(e) => {
            ready.send(Err(e)).ok();
            return;
        }
    };
    let threads = i32::try_from(info.threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_embeddings(true)
        .with_pooling_type(match info.pooling {
            Pooling::Cls => LlamaPoolingType::Cls,
            Pooling::Last => LlamaPoolingType::Last,
            _ => LlamaPoolingType::Mean,
        })
        .with_n_ctx(NonZeroU32::new(batch))
        .with_n_batch(batch)
        .with_n_ubatch(batch)
        .with_n_seq_max(MAX_SEQUENCES)
        .with_kv_unified(true)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("cannot create an embedding context: {e}");
            ready.send(Err(EngineError::LoadFailed { path: path.to_path_buf(), reason })).ok();
            return;
        }
    };
    let mut worker =
        Worker { model: &model, ctx, batch: LlamaBatch::new(batch as usize, MAX_SEQUENCES as i32), info: info.clone() };
    if ready.send(Ok((info, Arc::clone(&model)))).is_err() {
        return;
    }
    while let Some(job) = jobs.blocking_recv() {
        job.reply.send(worker.embed(&job.texts, job.role)).ok();
    }
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    info: LoadedEmbedder,
}

impl Worker<'_> {
    fn embed(&mut self, texts: &[String], role: EmbedRole) -> Result<Vec<Embedding>, EngineError> {
        let prefix = match role {
            EmbedRole::Query => &self.info.prefixes.query,
            EmbedRole::Document => &self.info.prefixes.document,
        };
        let vocab = self.model.vocab();
        let max = self.info.max_tokens as usize;
        let inputs: Vec<(Vec<LlamaToken>, bool)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut tokens = vocab.tokenize(format!("{prefix}{t}").as_bytes(), true, false);
                if tokens.is_empty() {
                    return Err(EngineError::InvalidRequest { message: format!("input {i} is empty") });
                }
                let truncated = tokens.len() > max;
                if truncated {
                    // Keep the end-of-sequence marker ([SEP]/EOS) the tokenizer appended.
                    let last = *tokens.last().expect("non-empty");
                    tokens.truncate(max - 1);
                    if vocab.should_add_eos() || vocab.should_add_sep() {
                        tokens.push(last);
                    } else {
                        tokens.truncate(max);
                    }
                }
                Ok((tokens, truncated))
            })
            .collect::<Result<_, _>>()?;

        let mut out = Vec::with_capacity(texts.len());
        let mut start = 0;
        while start < inputs.len() {
            // Pack short inputs together; a long one (up to the context) runs alone.
            let capacity = PACK_TOKENS.max(inputs[start].0.len());
            let mut end = start;
            let mut used = 0;
            while end < inputs.len()
                && end - start < MAX_SEQUENCES as usize
                && used + inputs[end].0.len().max(1) <= capacity
            {
                used += inputs[end].0.len().max(1);
                end += 1;
            }
            self.run_batch(&inputs[start..end], &mut out)?;
            start = end;
        }
        Ok(out)
    }

    fn run_batch(&mut self, inputs: &[(Vec<LlamaToken>, bool)], out: &mut Vec<Embedding>) -> Result<(), EngineError> {
        let fail = |message: String| EngineError::Inference { message };
        self.batch.clear();
        for (seq, (tokens, _)) in inputs.iter().enumerate() {
            let seq = i32::try_from(seq).unwrap_or(0);
            self.batch.add_sequence(tokens, seq, true).map_err(|e| fail(e.to_string()))?;
        }
        self.ctx.clear_kv_cache();
        self.ctx.decode(&mut self.batch).map_err(|e| fail(e.to_string()))?;
        for (seq, (tokens, truncated)) in inputs.iter().enumerate() {
            let seq = i32::try_from(seq).unwrap_or(0);
            let mut vector = self
                .ctx
                .embeddings_seq_ith(seq)
                .map_err(|e| fail(format!("no pooled embedding for input {seq}: {e}")))?
                .to_vec();
            l2_normalize(&mut vector);
            out.push(Embedding {
                vector,
                tokens: u32::try_from(tokens.len()).unwrap_or(u32::MAX),
                truncated: *truncated,
            });
        }
        Ok(())
    }
}
