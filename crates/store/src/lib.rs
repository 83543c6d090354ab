//! A matter's store in LanceDB: three tables in one folder.
//!
//! - `documents`: one row per file (content SHA-256 as id), with status and error.
//! - `pages`: the normalised text of every page and its provenance — the ground truth against
//!   which citations are checked.
//! - `chunks`: searchable passages with their vector, page span, character offsets, heading path
//!   and a jieba-segmented `search_text` column carrying the full-text (BM25) index.
//!
//! Crash safety: a batch is written as (1) document rows with status `ingesting`, (2) pages,
//! (3) chunks, (4) status `indexed` — each step one atomic LanceDB commit. A writer opening the
//! store removes every trace of documents left `ingesting` (see [`LanceStore::open_writer`]), and
//! searches drop chunks of documents that are not indexed, so a `kill -9` at any point leaves a
//! store that opens, shows no partial documents and completes on the next run.
//!
//! One writer per matter: [`LanceStore::open_writer`] holds an exclusive OS file lock on
//! `writer.lock`, released when the store is dropped or the process dies.
//!
//! Vector search is exact (brute force) below [`StoreOptions::ann_threshold`] chunks. Above it an
//! IVF-HNSW-SQ index is built and only used once its recall@10 against exact search on a sample
//! of queries is at least [`StoreOptions::min_recall`]; otherwise search stays exact.

mod ann;
mod arrow_io;
mod search;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::RecordBatch;
use lancedb::index::Index;
use lancedb::query::{ExecutableQuery, QueryBase};
use lancedb::table::{OptimizeAction, OptimizeOptions};
use lancedb::{Connection, Table};
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, HybridHits, HybridQuery, PageRecord,
    ScoredChunk, SearchFilter, StoreError, VectorIndexState, convex_fusion, fuse_scores,
};

use ann::AnnState;
use search::Candidate;

pub use lancedb;
pub use lexdesk_text::analyze::search_text;

const DOCUMENTS: &str = "documents";
const PAGES: &str = "pages";
const CHUNKS: &str = "chunks";
const FTS_COLUMN: &str = "search_text";
const VECTOR_COLUMN: &str = "vector";
const STATE_FILE: &str = "vector-index.json";

/// Tunables of a store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoreOptions {
    /// Build an ANN index once the chunks table has this many rows.
    pub ann_threshold: usize,
    /// The recall@10 an ANN index must reach against exact search to be used.
    pub min_recall: f32,
    /// Queries sampled to measure recall.
    pub recall_sample: usize,
    /// Rows per IVF partition of the ANN index (at least 4 partitions). Each partition holds an
    /// HNSW graph, whose search cost grows with the logarithm of its size, so a few large
    /// partitions probed shallowly beat many small ones probed deeply (lance's own default for
    /// IVF-HNSW is 2^20 rows per partition).
    pub ann_rows_per_partition: usize,
}

impl Default for StoreOptions {
    /// ANN from 20,000 chunks: exact search measured p95 39 ms at 20k and 74 ms at 40k chunks
    /// (2 cores, `examples/search_latency.rs`); the verified ANN index 10.6 ms at 100k and 35 ms
    /// at 1M chunks (recall@10 0.954 and 0.955, synthetic vectors as intrinsically
    /// low-dimensional as real embeddings).
    fn default() -> Self {
        Self { ann_threshold: 20_000, min_recall: 0.95, recall_sample: 100, ann_rows_per_partition: 65_536 }
    }
}

/// A matter's LanceDB store.
pub struct LanceStore {
    dir: PathBuf,
    db: Connection,
    documents: Table,
    pages: Table,
    chunks: Table,
    dimensions: usize,
    options: StoreOptions,
    ann: Mutex<AnnState>,
    /// Ids of indexed documents at a version of the documents table (every search filters by
    /// them; the table changes only when documents are written).
    indexed: Mutex<Option<(u64, Arc<HashSet<String>>)>>,
    /// Whether the chunks table has its full-text index, at a version of that table.
    fts: Mutex<Option<(u64, bool)>>,
    /// Held exclusively by a writer.
    lock: Option<File>,
}

impl std::fmt::Debug for LanceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanceStore")
            .field("dir", &self.dir)
            .field("dimensions", &self.dimensions)
            .field("writer", &self.lock.is_some())
            .finish_non_exhaustive()
    }
}

/// Run a query and collect its batches.
async fn collect(query: &impl ExecutableQuery) -> Result<Vec<RecordBatch>, StoreError> {
    query.execute().await.map_err(backend)?.try_collect().await.map_err(backend)
}

/// Columns plus the score column a search adds (selected explicitly: LanceDB will stop adding it
/// by itself).
fn with_score(columns: &[&str], score: &str) -> Vec<String> {
    columns.iter().map(|c| (*c).to_string()).chain(std::iter::once(score.to_string())).collect()
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn in_list(ids: &[String]) -> String {
    ids.iter().map(String::as_str).map(quote).collect::<Vec<_>>().join(", ")
}

impl LanceStore {
    /// Open (or create) the store in `dir` for reading, with vectors of `dimensions`.
    ///
    /// # Errors
    /// The folder cannot be created or read, or the store was built with another vector size.
    pub async fn open(dir: &Path, dimensions: usize, options: StoreOptions) -> Result<Self, StoreError> {
        Self::open_inner(dir, dimensions, options, None).await
    }

    /// Open (or create) the store in `dir` as its only writer, and remove every trace of an
    /// interrupted ingestion.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process writes to this store; otherwise as [`Self::open`].
    pub async fn open_writer(dir: &Path, dimensions: usize, options: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Open { path: dir.display().to_string(), message: e.to_string() })?;
        let lock_path = dir.join("writer.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Open { path: lock_path.display().to_string(), message: e.to_string() })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { path: lock_path.display().to_string() });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Open { path: lock_path.display().to_string(), message: e.to_string() });
            }
        }
        let store = Self::open_inner(dir, dimensions, options, Some(lock)).await?;
        store.repair().await?;
        Ok(store)
    }

    async fn open_inner(
        dir: &Path,
        dimensions: usize,
        options: StoreOptions,
        lock: Option<File>,
    ) -> Result<Self, StoreError> {
        let open_err =
            |e: &dyn std::fmt::Display| StoreError::Open { path: dir.display().to_string(), message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        let uri = dir.to_str().ok_or_else(|| open_err(&"the path is not valid UTF-8"))?;
        let db = lancedb::connect(uri).execute().await.map_err(|e| open_err(&e))?;
        let names = db.table_names().execute().await.map_err(|e| open_err(&e))?;
        let table = async |name: &str, schema| -> Result<Table, StoreError> {
            if names.iter().any(|n| n == name) {
                db.open_table(name).execute().await.map_err(|e| open_err(&e))
            } else {
                db.create_empty_table(name, schema).execute().await.map_err(|e| open_err(&e))
            }
        };
        let documents = table(DOCUMENTS, arrow_io::documents_schema()).await?;
        let pages = table(PAGES, arrow_io::pages_schema()).await?;
        let chunks = table(CHUNKS, arrow_io::chunks_schema(dimensions)).await?;
        let stored = arrow_io::vector_dimensions(chunks.schema().await.map_err(backend)?.as_ref());
        if stored != Some(dimensions) {
            return Err(StoreError::DimensionMismatch { expected: stored.unwrap_or(0), got: dimensions });
        }
        let ann = std::fs::read(dir.join(STATE_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<AnnState>(&b).ok())
            .unwrap_or_default();
        Ok(Self {
            dir: dir.to_path_buf(),
            db,
            documents,
            pages,
            chunks,
            dimensions,
            options,
            ann: Mutex::new(ann),
            indexed: Mutex::new(None),
            fts: Mutex::new(None),
            lock,
        })
    }

    /// The vector size an existing store was built with (`None` when it has no chunks table yet).
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn stored_dimensions(dir: &Path) -> Result<Option<usize>, StoreError> {
        if !dir.exists() {
            return Ok(None);
        }
        let open_err =
            |e: &dyn std::fmt::Display| StoreError::Open { path: dir.display().to_string(), message: e.to_string() };
        let uri = dir.to_str().ok_or_else(|| open_err(&"the path is not valid UTF-8"))?;
        let db = lancedb::connect(uri).execute().await.map_err(|e| open_err(&e))?;
        let names = db.table_names().execute().await.map_err(|e| open_err(&e))?;
        if !names.iter().any(|n| n == CHUNKS) {
            return Ok(None);
        }
        let table = db.open_table(CHUNKS).execute().await.map_err(|e| open_err(&e))?;
        Ok(arrow_io::vector_dimensions(table.schema().await.map_err(backend)?.as_ref()))
    }

    /// The store's folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Vector size.
    #[must_use]
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The LanceDB connection (benchmarks and diagnostics).
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.db
    }

    fn require_writer(&self) -> Result<(), StoreError> {
        if self.lock.is_some() { Ok(()) } else { Err(StoreError::Backend("the store was opened read-only".into())) }
    }

    /// Remove documents left `ingesting` by an interrupted run, with their pages and chunks.
    async fn repair(&self) -> Result<(), StoreError> {
        let stale: Vec<String> = self
            .read_documents(Some(format!("status = {}", quote(DocumentStatus::Ingesting.as_str()))))
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        if !stale.is_empty() {
            tracing::warn!(count = stale.len(), "removing documents of an interrupted ingestion");
            self.delete_rows(&stale).await?;
        }
        Ok(())
    }

    async fn delete_rows(&self, ids: &[String]) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let list = in_list(chunk);
            self.chunks.delete(format!("doc_id IN ({list})").as_str()).await.map_err(backend)?;
            self.pages.delete(format!("doc_id IN ({list})").as_str()).await.map_err(backend)?;
            self.documents.delete(format!("id IN ({list})").as_str()).await.map_err(backend)?;
        }
        Ok(())
    }

    async fn read_documents(&self, filter: Option<String>) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut query = self.documents.query();
        if let Some(f) = filter {
            query = query.only_if(f);
        }
        let batches = collect(&query).await?;
        let mut docs = Vec::new();
        for b in &batches {
            docs.extend(arrow_io::read_documents(b)?);
        }
        Ok(docs)
    }

    /// Number of chunks.
    ///
    /// # Errors
    /// Reading the table failed.
    pub async fn chunk_count(&self) -> Result<usize, StoreError> {
        self.chunks.count_rows(None).await.map_err(backend)
    }

    /// Append chunks without the document bookkeeping (synthetic benchmark stores only).
    ///
    /// # Errors
    /// Writing failed.
    pub async fn append_chunks_raw(&self, chunks: &[ChunkRecord]) -> Result<(), StoreError> {
        self.require_writer()?;
        let batch = arrow_io::chunks_batch(chunks, self.dimensions)?;
        self.chunks.add(batch).execute().await.map_err(backend)?;
        Ok(())
    }
}

impl ChunkStore for LanceStore {
    async fn documents(&self) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut docs = self.read_documents(None).await?;
        docs.sort_by(|a, b| b.added_at_ms.cmp(&a.added_at_ms).then_with(|| a.file_name.cmp(&b.file_name)));
        Ok(docs)
    }

    async fn write(&self, batch: Vec<DocumentWrite>) -> Result<(), StoreError> {
        self.require_writer()?;
        if batch.is_empty() {
            return Ok(());
        }
        for w in &batch {
            if let Some(c) = w.chunks.iter().find(|c| c.vector.len() != self.dimensions) {
                return Err(StoreError::DimensionMismatch { expected: self.dimensions, got: c.vector.len() });
            }
        }
        let ids: Vec<String> = batch.iter().map(|w| w.document.id.clone()).collect();
        // A replaced document (or a failed one being retried) goes first.
        self.delete_rows(&ids).await?;
        let docs: Vec<DocumentRecord> =
            batch.iter().map(|w| DocumentRecord { status: DocumentStatus::Ingesting, ..w.document.clone() }).collect();
        self.documents.add(arrow_io::documents_batch(&docs)?).execute().await.map_err(backend)?;
        let pages: Vec<PageRecord> = batch.iter().flat_map(|w| w.pages.iter().cloned()).collect();
        if !pages.is_empty() {
            self.pages.add(arrow_io::pages_batch(&pages)?).execute().await.map_err(backend)?;
        }
        let chunks: Vec<ChunkRecord> = batch.into_iter().flat_map(|w| w.chunks).collect();
        if !chunks.is_empty() {
            self.chunks.add(arrow_io::chunks_batch(&chunks, self.dimensions)?).execute().await.map_err(backend)?;
        }
        for part in ids.chunks(500) {
            self.documents
                .update()
                .only_if(format!("id IN ({})", in_list(part)))
                .column("status", quote(DocumentStatus::Indexed.as_str()))
                .execute()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn record_failed(&self, docs: Vec<DocumentRecord>) -> Result<(), StoreError> {
        self.require_writer()?;
        if docs.is_empty() {
            return Ok(());
        }
        // The same content failing twice in one batch is one document.
        let mut seen = HashSet::new();
        let docs: Vec<DocumentRecord> = docs.into_iter().rev().filter(|d| seen.insert(d.id.clone())).collect();
        let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
        self.delete_rows(&ids).await?;
        let docs: Vec<DocumentRecord> =
            docs.into_iter().map(|d| DocumentRecord { status: DocumentStatus::Failed, chunk_count: 0, ..d }).collect();
        self.documents.add(arrow_io::documents_batch(&docs)?).execute().await.map_err(backend)?;
        Ok(())
    }

    async fn delete_document(&self, id: &str) -> Result<bool, StoreError> {
        self.require_writer()?;
        let present = self.documents.count_rows(Some(format!("id = {}", quote(id)))).await.map_err(backend)? > 0;
        if present {
            self.delete_rows(&[id.to_string()]).await?;
        }
        Ok(present)
    }

    async fn pages(&self, doc_id: &str, numbers: &[u32]) -> Result<Vec<PageRecord>, StoreError> {
        let mut filter = format!("doc_id = {}", quote(doc_id));
        if !numbers.is_empty() {
            let list = numbers.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            filter.push_str(&format!(" AND number IN ({list})"));
        }
        let batches = collect(&self.pages.query().only_if(filter)).await?;
        let mut pages = Vec::new();
        for b in &batches {
            pages.extend(arrow_io::read_pages(b)?);
        }
        pages.sort_by_key(|p| p.number);
        Ok(pages)
    }

    async fn vector_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        if vector.len() != self.dimensions {
            return Err(StoreError::DimensionMismatch { expected: self.dimensions, got: vector.len() });
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        self.vector_search_full(vector, k, filter).await
    }

    async fn text_search(&self, query: &str, k: usize, filter: &SearchFilter) -> Result<Vec<ScoredChunk>, StoreError> {
        let analysed = search_text(query);
        if analysed.trim().is_empty() || k == 0 || !self.has_fts_index().await? {
            return Ok(Vec::new());
        }
        self.text_search_full(analysed, k, filter).await
    }

    /// Both lists are ranked and fused on candidates (row id, chunk and document id, score); only
    /// the `k` fused hits' chunks are read. Reading a chunk's columns costs more than finding it
    /// (at 1M chunks: the ANN search 6 ms, reading 11 columns of 18 hits 15–25 ms), and the two
    /// lists would read up to `2 × depth` hits.
    async fn hybrid_search(&self, request: HybridQuery<'_>, filter: &SearchFilter) -> Result<HybridHits, StoreError> {
        if request.vector.len() != self.dimensions {
            return Err(StoreError::DimensionMismatch { expected: self.dimensions, got: request.vector.len() });
        }
        let analysed = search_text(request.text);
        let searches_text = !analysed.trim().is_empty() && request.depth > 0 && self.has_fts_index().await?;
        // Both lists at once: much of a search is waiting for reads.
        let (text, vector) = futures::join!(
            async {
                if searches_text {
                    self.text_candidates(analysed, request.depth + 8, filter).await
                } else {
                    Ok(Vec::new())
                }
            },
            async {
                if request.depth > 0 {
                    self.vector_candidates(request.vector, request.depth + 8, filter).await
                } else {
                    Ok(Vec::new())
                }
            }
        );
        let (mut text, mut vector) = (text?, vector?);
        text.truncate(request.depth);
        vector.truncate(request.depth);
        let w = request.vector_weight.clamp(0.0, 1.0);
        let text_list: Vec<(&str, f32)> = text.iter().map(|c| (c.id.as_str(), c.score)).collect();
        let vector_list: Vec<(&str, f32)> = vector.iter().map(|c| (c.id.as_str(), c.score)).collect();
        let fused = fuse_scores(&[(&text_list, 1.0 - w), (&vector_list, w)], request.k);
        let by_id: std::collections::HashMap<&str, &Candidate> =
            vector.iter().chain(&text).map(|c| (c.id.as_str(), c)).collect();
        let hits: Vec<(&Candidate, f32)> =
            fused.iter().filter_map(|(id, score)| by_id.get(id).map(|c| (*c, *score))).collect();
        let Some(fused) = self.read_hits(&hits).await? else {
            // The rows moved under the search: the trait's way, reading every candidate.
            let text = self.text_search(request.text, request.depth, filter).await?;
            let vector = self.vector_search(request.vector, request.depth, filter).await?;
            return Ok(HybridHits {
                text_scores: text.iter().map(|h| (h.chunk.id.clone(), h.score)).collect(),
                vector_scores: vector.iter().map(|h| (h.chunk.id.clone(), h.score)).collect(),
                fused: convex_fusion(&[(&text, 1.0 - w), (&vector, w)], request.k),
            });
        };
        Ok(HybridHits {
            text_scores: text.iter().map(|c| (c.id.clone(), c.score)).collect(),
            vector_scores: vector.iter().map(|c| (c.id.clone(), c.score)).collect(),
            fused,
        })
    }

    async fn optimize(&self) -> Result<VectorIndexState, StoreError> {
        self.require_writer()?;
        let rows = self.chunks.count_rows(None).await.map_err(backend)?;
        if rows > 0 && !self.has_fts_index().await? {
            self.chunks.create_index(&[FTS_COLUMN], Index::FTS(Self::fts_params())).execute().await.map_err(backend)?;
        }
        // Compaction of small files, then new rows into the indexes, then old versions pruned.
        for table in [&self.documents, &self.pages, &self.chunks] {
            table.optimize(OptimizeAction::All).await.map_err(backend)?;
        }
        let previous = self.ann.lock().map(|a| a.clone()).unwrap_or_default();
        let needs_ann = rows >= self.options.ann_threshold;
        // Rebuild (and re-measure) when the matter has grown by half since the last measurement.
        let stale = previous.rows == 0 || rows > previous.rows + previous.rows / 2;
        if needs_ann && (stale || !self.has_vector_index().await?) {
            let state = self.build_ann(rows).await?;
            self.save_ann(&state)?;
            *self.ann.lock().map_err(backend)? = state;
        } else if !needs_ann && previous.use_ann {
            let state = AnnState::default();
            self.save_ann(&state)?;
            *self.ann.lock().map_err(backend)? = state;
        } else if needs_ann && previous.use_ann {
            self.chunks.optimize(OptimizeAction::Index(OptimizeOptions::default())).await.map_err(backend)?;
        }
        Ok(self.vector_index_state(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::LanceStore;

    #[test]
    fn the_probe_ladder_deepens_monotonically_up_to_every_partition() {
        for partitions in [1, 4, 15, 16, 122, 4096] {
            let ladder = LanceStore::probe_ladder(partitions);
            assert_eq!(ladder.first().map(|s| s.0), Some(1));
            assert_eq!(ladder.last().map(|s| s.0), Some(partitions), "{ladder:?}");
            assert!(ladder.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1 && w[1] != w[0]), "{ladder:?}");
            assert!(ladder.iter().all(|&(n, _)| n <= partitions));
        }
        let ladder = LanceStore::probe_ladder(1000);
        let probes: Vec<usize> = ladder.iter().map(|s| s.0).skip_while(|&n| n < 16).collect();
        assert_eq!(probes, [16, 24, 36, 54, 81, 121, 181, 271, 406, 609, 913, 1000, 1000], "{ladder:?}");
        assert_eq!(
            LanceStore::probe_ladder(4),
            [(1, 64), (2, 64), (2, 128), (3, 128), (4, 128), (4, 256), (4, 300), (4, 400), (4, 500), (4, 600)]
        );
    }
}
