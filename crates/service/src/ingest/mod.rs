//! The ingestion pipeline: files → extraction → chunks → embeddings → the matter's store.
//!
//! Two stages run concurrently: a blocking thread reads, hashes, extracts (PDFs in the worker
//! process) and chunks files one after another, and hands prepared documents over a small
//! bounded channel to the async side, which embeds their chunks in batches (the embedder runs on
//! its own thread) and writes completed documents to the store in batches. Extraction of the next
//! file therefore overlaps embedding of the previous one.
//!
//! Idempotent: a file whose content (SHA-256) is already indexed in the matter is skipped, the
//! same content met twice in one run is ingested once, and a failed file is retried on the next
//! run. Each store batch is crash-safe (see [`ChunkStore`]); an interrupted run is completed by
//! running it again.

mod commit;
mod prepare;
pub mod reembed;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::{ChunkRecord, ChunkStore, DocumentStatus, DocumentWrite, StoreError, VectorIndexState};
use lexdesk_ingest::extract::ExtractConfig;
use lexdesk_ingest::{ChunkConfig, TokenCounter};
use serde::Serialize;
use tokio::sync::mpsc;

use commit::{Pending, flush};
use prepare::{Item, Prepared, prepare};

/// Tunables of an ingestion run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Extraction (worker process, timeout, OCR).
    pub extract: ExtractConfig,
    /// Chunk budgets.
    pub chunk: ChunkConfig,
    /// Texts per call to the embedder.
    pub embed_batch: usize,
    /// Write to the store once this many chunks are waiting …
    pub write_chunks: usize,
    /// … or this many documents.
    pub write_documents: usize,
}

impl IngestOptions {
    /// Default budgets with this extraction configuration.
    #[must_use]
    pub fn new(extract: ExtractConfig) -> Self {
        Self { extract, chunk: ChunkConfig::default(), embed_batch: 64, write_chunks: 4096, write_documents: 200 }
    }
}

/// What happened to one file.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Extracted, chunked, embedded and written.
    Indexed {
        /// Content SHA-256.
        doc_id: String,
        /// Pages.
        pages: u32,
        /// Pages read by OCR.
        ocr_pages: u32,
        /// Chunks.
        chunks: u32,
        /// Tokens embedded.
        tokens: u64,
    },
    /// The same content is already in the matter.
    AlreadyIndexed {
        /// Content SHA-256.
        doc_id: String,
        /// The path it was ingested from.
        existing: String,
    },
    /// It could not be read; recorded in the matter with the reason (and retried next run).
    Failed {
        /// Stable code.
        code: String,
        /// Reason.
        message: String,
    },
    /// Found in a folder but not a document format.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Progress of a run, in order.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IngestEvent {
    /// The inputs were expanded to this many files.
    Started {
        /// Files to look at.
        files: usize,
    },
    /// A file was extracted and chunked.
    Extracted {
        /// 1-based position among the files.
        index: usize,
        /// The file.
        path: PathBuf,
        /// Pages.
        pages: u32,
        /// Pages read by OCR.
        ocr_pages: u32,
        /// Chunks.
        chunks: u32,
        /// Seconds spent extracting and chunking.
        seconds: f64,
    },
    /// Embedding progress within a file: chunks covering pages up to `pages_done` are embedded.
    Embedding {
        /// 1-based position among the files.
        index: usize,
        /// The file.
        path: PathBuf,
        /// Pages fully embedded.
        pages_done: u32,
        /// Pages.
        pages: u32,
        /// Chunks embedded.
        chunks_done: u32,
        /// Chunks.
        chunks: u32,
    },
    /// A file is finished (its write may still be pending in the current batch).
    File {
        /// 1-based position among the files.
        index: usize,
        /// The file.
        path: PathBuf,
        /// What happened.
        #[serde(flatten)]
        outcome: FileOutcome,
    },
    /// A batch was committed to the store.
    Committed {
        /// Documents written.
        documents: usize,
        /// Chunks written.
        chunks: usize,
    },
    /// Indexes are being brought up to date.
    Optimizing,
}

impl IngestEvent {
    /// After this event a listing of the matter's documents may read differently: a file is
    /// finished (recorded as ingesting, failed or skipped) or a batch was committed.
    #[must_use]
    pub fn changes_documents(&self) -> bool {
        matches!(self, Self::File { .. } | Self::Committed { .. })
    }
}

/// The result of a run.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IngestSummary {
    /// Files looked at.
    pub files: usize,
    /// Newly indexed.
    pub indexed: usize,
    /// Already in the matter.
    pub already_indexed: usize,
    /// Failed, with reasons.
    pub failed: Vec<FailedFile>,
    /// Skipped (not documents).
    pub skipped: usize,
    /// Pages indexed.
    pub pages: u64,
    /// Of which OCR.
    pub ocr_pages: u64,
    /// Chunks indexed.
    pub chunks: u64,
    /// Tokens embedded.
    pub tokens: u64,
    /// Bytes of the indexed files.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Seconds the embedder was busy.
    pub embed_seconds: f64,
    /// Pages per second over the whole run.
    pub pages_per_second: f64,
    /// Stopped early by the caller.
    pub cancelled: bool,
    /// Vector search method after the run.
    pub vector_index: Option<VectorIndexState>,
}

/// A file that failed.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedFile {
    /// The file.
    pub path: PathBuf,
    /// Stable code.
    pub code: String,
    /// Reason.
    pub message: String,
}

/// Failures that stop a run (a single bad file never does).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The embedder failed.
    #[error("embedding failed: {0}")]
    Embed(#[from] EngineError),
}

lexdesk_core::error_codes!(IngestError {} wraps {
    Self::Store(e) => e,
    Self::Embed(e) => e,
});

/// Ingest `paths` (files and folders) into `store`.
///
/// # Errors
/// The store or the embedder failed; what was committed before stays committed.
pub async fn ingest<S, E, C>(
    store: &S,
    embedder: &E,
    counter: Arc<C>,
    paths: &[PathBuf],
    options: &IngestOptions,
    cancel: &CancelToken,
    mut on_event: impl FnMut(IngestEvent),
) -> Result<IngestSummary, IngestError>
where
    S: ChunkStore,
    E: Embedder,
    C: TokenCounter + Send + Sync + 'static,
{
    let started = Instant::now();
    let inputs = lexdesk_ingest::inputs::collect(paths);
    on_event(IngestEvent::Started { files: inputs.len() });
    let known: HashMap<String, String> = store
        .documents()
        .await?
        .into_iter()
        .filter(|d| d.status == DocumentStatus::Indexed)
        .map(|d| (d.id, d.source_path))
        .collect();
    let (mut rx, producer) = spawn_preparation(inputs, known, counter, options, cancel);
    let mut run = Run::default();
    let result: Result<(), IngestError> = async {
        while let Some(item) = rx.recv().await {
            run.summary.files += 1;
            let finished = match item {
                Item::Done { index, path, outcome, failed } => {
                    run.done(index, path, outcome, failed.map(|f| *f), &mut on_event);
                    true
                }
                Item::Prepared(prepared) => run.index(*prepared, embedder, options, cancel, &mut on_event).await?,
            };
            if !finished {
                break;
            }
            if run.pending.chunks >= options.write_chunks
                || run.pending.writes.len() + run.pending.failed.len() >= options.write_documents
            {
                flush(store, &mut run.pending, &mut on_event).await?;
            }
            if cancel.is_cancelled() {
                break;
            }
        }
        Ok(())
    }
    .await;
    // Stop the producer (it sees the channel closed) before anything else.
    drop(rx);
    if let Err(e) = producer.await {
        tracing::error!("the extraction thread failed: {e}");
    }
    result?;
    run.summary.cancelled = cancel.is_cancelled();
    run.finish(store, started, &mut on_event).await
}

/// Stage 1 on a blocking thread: read, hash, extract and chunk the files one after another; at
/// most two prepared documents wait for embedding.
fn spawn_preparation<C: TokenCounter + Send + Sync + 'static>(
    inputs: Vec<lexdesk_ingest::inputs::Input>,
    mut known: HashMap<String, String>,
    counter: Arc<C>,
    options: &IngestOptions,
    cancel: &CancelToken,
) -> (mpsc::Receiver<Item>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<Item>(2);
    let (cancel, options) = (cancel.clone(), options.clone());
    let producer = tokio::task::spawn_blocking(move || {
        for (i, input) in inputs.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            let item = prepare(i + 1, &input.path, input.explicit, &mut known, counter.as_ref(), &options);
            if tx.blocking_send(item).is_err() {
                break;
            }
        }
    });
    (rx, producer)
}

/// A run's progress on the async side: the summary so far, the writes waiting for the next
/// batch, the time spent embedding.
#[derive(Default)]
struct Run {
    summary: IngestSummary,
    pending: Pending,
    embed_time: Duration,
}

impl Run {
    /// A file that needs no embedding: already indexed, skipped, or failed (its record waits for
    /// the next batch).
    fn done(
        &mut self,
        index: usize,
        path: PathBuf,
        outcome: FileOutcome,
        failed: Option<lexdesk_core::store::DocumentRecord>,
        on_event: &mut impl FnMut(IngestEvent),
    ) {
        match &outcome {
            FileOutcome::AlreadyIndexed { .. } => self.summary.already_indexed += 1,
            FileOutcome::Skipped { .. } => self.summary.skipped += 1,
            FileOutcome::Failed { code, message } => {
                self.summary.failed.push(FailedFile {
                    path: path.clone(),
                    code: code.clone(),
                    message: message.clone(),
                });
            }
            FileOutcome::Indexed { .. } => {}
        }
        if let Some(record) = failed {
            self.pending.failed.push(record);
        }
        on_event(IngestEvent::File { index, path, outcome });
    }

    /// Stage 2 for one prepared document: embed its chunks and queue it for the next batch.
    /// `false` when cancelled before it was complete (it is not written).
    async fn index<E: Embedder>(
        &mut self,
        prepared: Prepared,
        embedder: &E,
        options: &IngestOptions,
        cancel: &CancelToken,
        on_event: &mut impl FnMut(IngestEvent),
    ) -> Result<bool, IngestError> {
        let Prepared { index, path, document, pages, mut chunks, embed_texts, seconds } = prepared;
        let (n_pages, n_chunks) = (document.page_count, document.chunk_count);
        on_event(IngestEvent::Extracted {
            index,
            path: path.clone(),
            pages: n_pages,
            ocr_pages: document.ocr_pages,
            chunks: n_chunks,
            seconds,
        });
        let (tokens, spent) =
            embed_chunks(embedder, &mut chunks, &embed_texts, n_pages, options, cancel, |pages_done, done| {
                on_event(IngestEvent::Embedding {
                    index,
                    path: path.clone(),
                    pages_done,
                    pages: n_pages,
                    chunks_done: done,
                    chunks: n_chunks,
                });
            })
            .await?;
        self.embed_time += spent;
        if cancel.is_cancelled() {
            return Ok(false);
        }
        let summary = &mut self.summary;
        summary.indexed += 1;
        summary.pages += u64::from(n_pages);
        summary.ocr_pages += u64::from(document.ocr_pages);
        summary.chunks += u64::from(n_chunks);
        summary.tokens += tokens;
        summary.bytes += document.size_bytes;
        let outcome = FileOutcome::Indexed {
            doc_id: document.id.clone(),
            pages: n_pages,
            ocr_pages: document.ocr_pages,
            chunks: n_chunks,
            tokens,
        };
        self.pending.chunks += chunks.len();
        self.pending.writes.push(DocumentWrite { document, pages, chunks });
        on_event(IngestEvent::File { index, path, outcome });
        Ok(true)
    }

    /// Stage 3's last batch, the indexes brought up to date, and the run's totals.
    async fn finish<S: ChunkStore>(
        mut self,
        store: &S,
        started: Instant,
        on_event: &mut impl FnMut(IngestEvent),
    ) -> Result<IngestSummary, IngestError> {
        flush(store, &mut self.pending, on_event).await?;
        on_event(IngestEvent::Optimizing);
        let summary = &mut self.summary;
        summary.vector_index = Some(store.optimize().await?);
        summary.seconds = started.elapsed().as_secs_f64();
        summary.embed_seconds = self.embed_time.as_secs_f64();
        summary.pages_per_second = if summary.seconds > 0.0 { summary.pages as f64 / summary.seconds } else { 0.0 };
        Ok(self.summary)
    }
}

/// Stage 2: embed a document's chunks in batches of `embed_batch`, storing each vector on its
/// chunk, and report progress after each batch: pages complete (those before the next chunk's
/// first page) and chunks embedded. Returns the tokens embedded and the time spent in the
/// embedder; stops between batches when cancelled.
async fn embed_chunks<E: Embedder>(
    embedder: &E,
    chunks: &mut [ChunkRecord],
    texts: &[String],
    pages: u32,
    options: &IngestOptions,
    cancel: &CancelToken,
    mut on_progress: impl FnMut(u32, u32),
) -> Result<(u64, Duration), IngestError> {
    let mut tokens = 0u64;
    let mut spent = Duration::ZERO;
    let mut done = 0usize;
    for batch in texts.chunks(options.embed_batch.max(1)) {
        if cancel.is_cancelled() {
            break;
        }
        let t = Instant::now();
        let vectors = embedder.embed(batch.to_vec(), EmbedRole::Document).await?;
        spent += t.elapsed();
        for (chunk, e) in chunks[done..done + batch.len()].iter_mut().zip(vectors) {
            tokens += u64::from(e.tokens);
            chunk.vector = e.vector;
        }
        done += batch.len();
        // Pages before the last embedded chunk's end page are complete.
        let pages_done = if done == chunks.len() { pages } else { chunks[done].page_start.saturating_sub(1) };
        on_progress(pages_done, u32::try_from(done).unwrap_or(u32::MAX));
    }
    Ok((tokens, spent))
}
