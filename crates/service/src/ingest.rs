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

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lexdesk_core::embed::{EmbedRole, Embedder};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, PageProvenance, PageRecord, StoreError,
    VectorIndexState,
};
use lexdesk_core::{EngineError, ErrorCode};
use lexdesk_ingest::extract::{ExtractConfig, ExtractError, ExtractedDocument, extract};
use lexdesk_ingest::ocr::Provenance;
use lexdesk_ingest::{ChunkConfig, Language, PageText, TokenCounter, chunk_document};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::matters::now_ms;

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

/// The result of a run.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl ErrorCode for IngestError {
    fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::Embed(e) => e.code(),
        }
    }
}

/// A document ready to embed.
struct Prepared {
    index: usize,
    path: PathBuf,
    document: DocumentRecord,
    pages: Vec<PageRecord>,
    chunks: Vec<ChunkRecord>,
    embed_texts: Vec<String>,
    seconds: f64,
}

enum Item {
    Prepared(Box<Prepared>),
    Done { index: usize, path: PathBuf, outcome: FileOutcome, failed: Option<Box<DocumentRecord>> },
}

fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), size))
}

fn language_str(l: Language) -> &'static str {
    match l {
        Language::Zh => "zh",
        Language::En => "en",
        Language::Und => "und",
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn failed_record(id: String, path: &Path, size: u64, code: &str, message: String) -> DocumentRecord {
    DocumentRecord {
        id,
        file_name: file_name(path),
        source_path: path.display().to_string(),
        title: file_name(path),
        format: String::new(),
        size_bytes: size,
        page_count: 0,
        chunk_count: 0,
        ocr_pages: 0,
        status: DocumentStatus::Failed,
        error_code: Some(code.to_string()),
        error_message: Some(message),
        extractor: String::new(),
        added_at_ms: now_ms(),
    }
}

fn prepare<C: TokenCounter>(
    index: usize,
    path: &Path,
    explicit: bool,
    known: &mut HashMap<String, String>,
    counter: &C,
    options: &IngestOptions,
) -> Item {
    let started = Instant::now();
    let done = |outcome: FileOutcome, failed: Option<DocumentRecord>| Item::Done {
        index,
        path: path.to_path_buf(),
        outcome,
        failed: failed.map(Box::new),
    };
    let (id, size) = match sha256_file(path) {
        Ok(v) => v,
        Err(e) => {
            return done(
                FileOutcome::Failed { code: "IO".into(), message: format!("cannot read the file: {e}") },
                None,
            );
        }
    };
    if let Some(existing) = known.get(&id) {
        return done(FileOutcome::AlreadyIndexed { doc_id: id, existing: existing.clone() }, None);
    }
    let doc: ExtractedDocument = match extract(path, &options.extract) {
        Ok(doc) => doc,
        Err(ExtractError::Unsupported(why)) if !explicit => return done(FileOutcome::Skipped { reason: why }, None),
        Err(e) => {
            let record = failed_record(id, path, size, e.code(), e.to_string());
            return done(FileOutcome::Failed { code: e.code().into(), message: e.to_string() }, Some(record));
        }
    };
    let texts: Vec<PageText<'_>> = doc.pages.iter().map(|p| PageText { number: p.number, text: &p.text }).collect();
    let chunks = chunk_document(Some(&doc.title), &texts, counter, &options.chunk);
    if chunks.is_empty() {
        let message = if options.extract.ocr.is_some() {
            "no text could be read from the file, even with OCR".to_string()
        } else {
            "no text could be read from the file (OCR is off)".to_string()
        };
        let record = failed_record(id, path, size, "NO_TEXT", message.clone());
        return done(FileOutcome::Failed { code: "NO_TEXT".into(), message }, Some(record));
    }
    known.insert(id.clone(), path.display().to_string());
    let mut extractors: Vec<&str> = Vec::new();
    for p in &doc.pages {
        if !p.extractor.is_empty() && !extractors.contains(&p.extractor.as_str()) {
            extractors.push(&p.extractor);
        }
    }
    let ocr_pages = doc.pages.iter().filter(|p| matches!(p.provenance, Provenance::Ocr { .. })).count();
    let document = DocumentRecord {
        id: id.clone(),
        file_name: file_name(path),
        source_path: path.display().to_string(),
        title: doc.title.clone(),
        format: doc.format.clone(),
        size_bytes: size,
        page_count: u32::try_from(doc.pages.len()).unwrap_or(u32::MAX),
        chunk_count: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        ocr_pages: u32::try_from(ocr_pages).unwrap_or(u32::MAX),
        status: DocumentStatus::Ingesting,
        error_code: None,
        error_message: None,
        extractor: extractors.join("+"),
        added_at_ms: now_ms(),
    };
    let pages = doc
        .pages
        .iter()
        .map(|p| PageRecord {
            doc_id: id.clone(),
            number: p.number,
            text: p.text.clone(),
            provenance: match p.provenance {
                Provenance::TextLayer => PageProvenance::TextLayer,
                Provenance::Ocr { confidence } => PageProvenance::Ocr { confidence },
            },
            extractor: p.extractor.clone(),
            error: p.error.clone(),
        })
        .collect();
    let embed_texts = chunks.iter().map(lexdesk_ingest::Chunk::embed_text).collect();
    let chunks = chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| ChunkRecord {
            id: format!("{id}:{i}"),
            doc_id: id.clone(),
            ordinal: u32::try_from(i).unwrap_or(u32::MAX),
            page_start: c.page_start,
            page_end: c.page_end,
            char_start: u32::try_from(c.char_start).unwrap_or(u32::MAX),
            char_end: u32::try_from(c.char_end).unwrap_or(u32::MAX),
            heading_path: c.heading_path,
            text: c.text,
            tokens: u32::try_from(c.tokens).unwrap_or(u32::MAX),
            language: language_str(c.language).into(),
            vector: Vec::new(),
        })
        .collect();
    Item::Prepared(Box::new(Prepared {
        index,
        path: path.to_path_buf(),
        document,
        pages,
        chunks,
        embed_texts,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

#[derive(Default)]
struct Pending {
    writes: Vec<DocumentWrite>,
    failed: Vec<DocumentRecord>,
    chunks: usize,
}

async fn flush<S: ChunkStore>(
    store: &S,
    pending: &mut Pending,
    on_event: &mut impl FnMut(IngestEvent),
) -> Result<(), StoreError> {
    let failed = std::mem::take(&mut pending.failed);
    if !failed.is_empty() {
        store.record_failed(failed).await?;
    }
    let writes = std::mem::take(&mut pending.writes);
    let chunks = std::mem::take(&mut pending.chunks);
    if !writes.is_empty() {
        let documents = writes.len();
        store.write(writes).await?;
        on_event(IngestEvent::Committed { documents, chunks });
    }
    Ok(())
}

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
    let mut known: HashMap<String, String> = store
        .documents()
        .await?
        .into_iter()
        .filter(|d| d.status == DocumentStatus::Indexed)
        .map(|d| (d.id, d.source_path))
        .collect();

    // Stage 1 on a blocking thread; at most two documents wait for embedding.
    let (tx, mut rx) = mpsc::channel::<Item>(2);
    let producer_cancel = cancel.clone();
    let producer_options = options.clone();
    let producer = tokio::task::spawn_blocking(move || {
        for (i, input) in inputs.iter().enumerate() {
            if producer_cancel.is_cancelled() {
                break;
            }
            let item = prepare(i + 1, &input.path, input.explicit, &mut known, counter.as_ref(), &producer_options);
            if tx.blocking_send(item).is_err() {
                break;
            }
        }
    });

    let mut summary = IngestSummary {
        files: 0,
        indexed: 0,
        already_indexed: 0,
        failed: Vec::new(),
        skipped: 0,
        pages: 0,
        ocr_pages: 0,
        chunks: 0,
        tokens: 0,
        bytes: 0,
        seconds: 0.0,
        embed_seconds: 0.0,
        pages_per_second: 0.0,
        cancelled: false,
        vector_index: None,
    };
    let mut pending = Pending::default();
    let mut embed_time = Duration::ZERO;
    let result: Result<(), IngestError> = async {
        while let Some(item) = rx.recv().await {
            summary.files += 1;
            match item {
                Item::Done { index, path, outcome, failed } => {
                    match &outcome {
                        FileOutcome::AlreadyIndexed { .. } => summary.already_indexed += 1,
                        FileOutcome::Skipped { .. } => summary.skipped += 1,
                        FileOutcome::Failed { code, message } => summary.failed.push(FailedFile {
                            path: path.clone(),
                            code: code.clone(),
                            message: message.clone(),
                        }),
                        FileOutcome::Indexed { .. } => {}
                    }
                    if let Some(record) = failed {
                        pending.failed.push(*record);
                    }
                    on_event(IngestEvent::File { index, path, outcome });
                }
                Item::Prepared(prepared) => {
                    let Prepared { index, path, document, pages, mut chunks, embed_texts, seconds } = *prepared;
                    let (n_pages, n_chunks) = (document.page_count, document.chunk_count);
                    on_event(IngestEvent::Extracted {
                        index,
                        path: path.clone(),
                        pages: n_pages,
                        ocr_pages: document.ocr_pages,
                        chunks: n_chunks,
                        seconds,
                    });
                    let mut tokens = 0u64;
                    let mut done = 0usize;
                    for batch in embed_texts.chunks(options.embed_batch.max(1)) {
                        if cancel.is_cancelled() {
                            break;
                        }
                        let t = Instant::now();
                        let vectors = embedder.embed(batch.to_vec(), EmbedRole::Document).await?;
                        embed_time += t.elapsed();
                        for (chunk, e) in chunks[done..done + batch.len()].iter_mut().zip(vectors) {
                            tokens += u64::from(e.tokens);
                            chunk.vector = e.vector;
                        }
                        done += batch.len();
                        // Pages before the last embedded chunk's end page are complete.
                        let pages_done =
                            if done == chunks.len() { n_pages } else { chunks[done].page_start.saturating_sub(1) };
                        on_event(IngestEvent::Embedding {
                            index,
                            path: path.clone(),
                            pages_done,
                            pages: n_pages,
                            chunks_done: u32::try_from(done).unwrap_or(u32::MAX),
                            chunks: n_chunks,
                        });
                    }
                    if cancel.is_cancelled() {
                        break;
                    }
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
                    pending.chunks += chunks.len();
                    pending.writes.push(DocumentWrite { document, pages, chunks });
                    on_event(IngestEvent::File { index, path, outcome });
                }
            }
            if pending.chunks >= options.write_chunks
                || pending.writes.len() + pending.failed.len() >= options.write_documents
            {
                flush(store, &mut pending, &mut on_event).await?;
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
    summary.cancelled = cancel.is_cancelled();
    flush(store, &mut pending, &mut on_event).await?;
    on_event(IngestEvent::Optimizing);
    summary.vector_index = Some(store.optimize().await?);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.embed_seconds = embed_time.as_secs_f64();
    summary.pages_per_second = if summary.seconds > 0.0 { summary.pages as f64 / summary.seconds } else { 0.0 };
    Ok(summary)
}
