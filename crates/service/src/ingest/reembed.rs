//! Re-embedding a matter with another embedding model: every indexed document's stored pages
//! are chunked again with the new model's vocabulary and embedded into a second store, document
//! by document. Nothing is extracted again (scans are not OCR'd twice) and the old store is only
//! read, so the matter keeps answering with its old model until the caller swaps the stores.
//! A run that stops (cancelled, crashed, killed) resumes: documents already in the new store are
//! skipped.

use std::time::Instant;

use lexdesk_core::embed::{EmbedRole, Embedder};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::{ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, VectorIndexState};
use lexdesk_ingest::{ChunkConfig, PageText, TokenCounter, chunk_document};
use serde::Serialize;

use super::IngestError;
use super::prepare::chunk_records;

/// What a re-embedding reports as it goes.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReembedEvent {
    /// The documents to re-embed are known.
    Started {
        /// Documents of the matter.
        documents: usize,
        /// Of those, already in the new store from an earlier, interrupted run.
        resumed: usize,
    },
    /// One document is in the new store.
    Document {
        /// 1-based position among the documents.
        index: usize,
        /// Documents in all.
        total: usize,
        /// The document's file name.
        file_name: String,
        /// Its chunks with the new model.
        chunks: usize,
    },
}

/// What a re-embedding did.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReembedSummary {
    /// Documents of the matter.
    pub documents: usize,
    /// Documents found already re-embedded by an earlier run.
    pub resumed: usize,
    /// Documents re-embedded by this run.
    pub reembedded: usize,
    /// Chunks written by this run.
    pub chunks: usize,
    /// Failed documents carried over with their reasons (they have nothing to embed).
    pub failed: usize,
    /// Stopped by the caller before the end (what was written stays and is resumed).
    pub cancelled: bool,
    /// Wall time.
    pub seconds: f64,
    /// The new store's vector index after the run (absent when cancelled).
    #[cfg_attr(feature = "specta", specta(skip))]
    #[serde(skip)]
    pub index: Option<VectorIndexState>,
}

/// Where a re-embedding writes: the new store, the model, how chunks are sized and batched.
#[derive(Debug)]
pub struct ReembedTarget<'a, T, E, C> {
    /// The new store.
    pub store: &'a T,
    /// The new embedding model.
    pub embedder: &'a E,
    /// Its vocabulary, for chunk sizes.
    pub counter: &'a C,
    /// Chunk budgets.
    pub chunk: ChunkConfig,
    /// Texts per call to the embedder.
    pub embed_batch: usize,
}

/// Re-embed every document of `from` into `target`. Documents already in the target store are
/// skipped; it is optimised at the end.
///
/// # Errors
/// A store or the embedder failed; documents written before stay written (and are skipped by
/// the next run).
pub async fn reembed<S, T, E, C>(
    from: &S,
    target: &ReembedTarget<'_, T, E, C>,
    cancel: &CancelToken,
    progress: &mut (dyn FnMut(ReembedEvent) + Send),
) -> Result<ReembedSummary, IngestError>
where
    S: ChunkStore,
    T: ChunkStore,
    E: Embedder,
    C: TokenCounter + Sync,
{
    let started = Instant::now();
    let to = target.store;
    let mut documents = from.documents().await?;
    // Oldest first, as they were added.
    documents.sort_by_key(|d| d.added_at_ms);
    let done: std::collections::HashSet<String> =
        to.documents().await?.into_iter().filter(|d| d.status != DocumentStatus::Ingesting).map(|d| d.id).collect();
    let total = documents.len();
    let mut summary = ReembedSummary {
        documents: total,
        resumed: documents.iter().filter(|d| done.contains(&d.id)).count(),
        ..ReembedSummary::default()
    };
    progress(ReembedEvent::Started { documents: total, resumed: summary.resumed });
    for (i, document) in documents.into_iter().enumerate() {
        if done.contains(&document.id) {
            continue;
        }
        if cancel.is_cancelled() {
            summary.cancelled = true;
            break;
        }
        let file_name = document.file_name.clone();
        let chunks = match document.status {
            DocumentStatus::Indexed => {
                let n = copy_document(from, target, document).await?;
                summary.reembedded += 1;
                summary.chunks += n;
                n
            }
            // Failed documents keep their reason; one caught mid-ingestion is not a document yet.
            DocumentStatus::Failed => {
                to.record_failed(vec![document]).await?;
                summary.failed += 1;
                0
            }
            DocumentStatus::Ingesting => continue,
        };
        progress(ReembedEvent::Document { index: i + 1, total, file_name, chunks });
    }
    if !summary.cancelled {
        summary.index = Some(to.optimize().await?);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// One document: its stored pages chunked again and embedded; returns its chunk count.
async fn copy_document<S, T, E, C>(
    from: &S,
    target: &ReembedTarget<'_, T, E, C>,
    mut document: DocumentRecord,
) -> Result<usize, IngestError>
where
    S: ChunkStore,
    T: ChunkStore,
    E: Embedder,
    C: TokenCounter + Sync,
{
    let pages = from.pages(&document.id, &[]).await?;
    let texts: Vec<PageText<'_>> = pages.iter().map(|p| PageText { number: p.number, text: &p.text }).collect();
    let pieces = chunk_document(Some(&document.title), &texts, target.counter, &target.chunk);
    let (mut chunks, embed_texts) = chunk_records(&document.id, pieces);
    let mut vectors = Vec::with_capacity(chunks.len());
    for batch in embed_texts.chunks(target.embed_batch.max(1)) {
        vectors.extend(target.embedder.embed(batch.to_vec(), EmbedRole::Document).await?);
    }
    for (c, e) in chunks.iter_mut().zip(vectors) {
        c.vector = e.vector;
    }
    document.chunk_count = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
    document.status = DocumentStatus::Ingesting;
    let n = chunks.len();
    target.store.write(vec![DocumentWrite { document, pages, chunks }]).await?;
    Ok(n)
}
