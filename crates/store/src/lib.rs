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

mod arrow_io;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::RecordBatch;
use lancedb::index::Index;
use lancedb::index::scalar::{FtsIndexBuilder, FullTextSearchQuery};
use lancedb::index::vector::IvfHnswSqIndexBuilder;
use lancedb::query::{ExecutableQuery, Query, QueryBase, Select, VectorQuery};
use lancedb::table::{OptimizeAction, OptimizeOptions};
use lancedb::{Connection, DistanceType, Table};
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, HybridHits, HybridQuery, PageRecord,
    ScoredChunk, SearchFilter, StoreError, VectorIndexState, convex_fusion, fuse_scores,
};
use serde::{Deserialize, Serialize};

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

/// Which vector search a store uses, persisted beside the tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct AnnState {
    /// The ANN index is accepted and used.
    use_ann: bool,
    /// Rows indexed when it was measured.
    rows: usize,
    /// Measured recall@10.
    recall_at_10: Option<f32>,
    /// IVF partitions of the index.
    #[serde(default)]
    partitions: usize,
    /// Partitions probed per query.
    nprobes: usize,
    /// HNSW search breadth.
    ef: usize,
}

/// Columns a search reads for ranking; the rest are read only for the hits kept.
const CANDIDATE_COLUMNS: &[&str] = &["id", "doc_id"];

/// A search hit before its chunk is read.
#[derive(Debug, Clone)]
struct Candidate {
    row_id: u64,
    id: String,
    doc_id: String,
    score: f32,
}

impl Candidate {
    fn read(b: &RecordBatch, scores: impl IntoIterator<Item = f32>) -> Result<Vec<Self>, StoreError> {
        let rows = arrow_io::u64_column(b, "_rowid")?;
        let ids = arrow_io::string_column(b, "id")?;
        let docs = arrow_io::string_column(b, "doc_id")?;
        Ok(rows
            .into_iter()
            .zip(ids)
            .zip(docs)
            .zip(scores)
            .map(|(((row_id, id), doc_id), score)| Self { row_id, id, doc_id, score })
            .collect())
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

    /// Ids of the documents that are indexed (searchable), read again only when the documents
    /// table has changed.
    async fn indexed_ids(&self) -> Result<Arc<HashSet<String>>, StoreError> {
        let version = self.documents.version().await.map_err(backend)?;
        if let Some((v, ids)) = self.indexed.lock().map_err(backend)?.as_ref()
            && *v == version
        {
            return Ok(Arc::clone(ids));
        }
        let batches = collect(
            &self
                .documents
                .query()
                .only_if(format!("status = {}", quote(DocumentStatus::Indexed.as_str())))
                .select(Select::columns(&["id"])),
        )
        .await?;
        let mut ids = HashSet::new();
        for b in &batches {
            ids.extend(arrow_io::string_column(b, "id")?);
        }
        let ids = Arc::new(ids);
        *self.indexed.lock().map_err(backend)? = Some((version, Arc::clone(&ids)));
        Ok(ids)
    }

    fn filter_sql(filter: &SearchFilter) -> Option<String> {
        filter
            .doc_ids
            .as_ref()
            .map(|ids| if ids.is_empty() { "false".to_string() } else { format!("doc_id IN ({})", in_list(ids)) })
    }

    async fn has_fts_index(&self) -> Result<bool, StoreError> {
        let version = self.chunks.version().await.map_err(backend)?;
        if let Some((v, has)) = *self.fts.lock().map_err(backend)?
            && v == version
        {
            return Ok(has);
        }
        let indices = self.chunks.list_indices().await.map_err(backend)?;
        let has = indices.iter().any(|i| i.columns.iter().any(|c| c == FTS_COLUMN));
        *self.fts.lock().map_err(backend)? = Some((version, has));
        Ok(has)
    }

    async fn has_vector_index(&self) -> Result<bool, StoreError> {
        let indices = self.chunks.list_indices().await.map_err(backend)?;
        Ok(indices.iter().any(|i| i.columns.iter().any(|c| c == VECTOR_COLUMN)))
    }

    fn fts_params() -> FtsIndexBuilder {
        FtsIndexBuilder::default()
            .base_tokenizer("simple".into())
            .lower_case(true)
            .stem(true)
            .remove_stop_words(true)
            .ascii_folding(true)
            .max_token_length(Some(40))
    }

    /// Exact nearest neighbours (bypassing any ANN index).
    async fn exact_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: Option<String>,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        self.run_vector_query(vector, k, filter, None).await
    }

    fn vector_query(
        &self,
        vector: &[f32],
        k: usize,
        filter: Option<String>,
        ann: Option<&AnnState>,
        columns: &[&str],
    ) -> Result<VectorQuery, StoreError> {
        let mut query = self
            .chunks
            .query()
            .nearest_to(vector)
            .map_err(backend)?
            .column(VECTOR_COLUMN)
            .distance_type(DistanceType::Cosine)
            .select(Select::columns(&with_score(columns, "_distance")))
            .limit(k);
        match ann {
            Some(state) => {
                // HNSW rejects a search breadth below the number of results asked for.
                query = query.nprobes(state.nprobes).map_err(backend)?.ef(state.ef.max(k));
            }
            None => query = query.bypass_vector_index(),
        }
        if let Some(f) = filter {
            query = query.only_if(f);
        }
        Ok(query)
    }

    async fn run_vector_query(
        &self,
        vector: &[f32],
        k: usize,
        filter: Option<String>,
        ann: Option<&AnnState>,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let batches = collect(&self.vector_query(vector, k, filter, ann, arrow_io::CHUNK_READ_COLUMNS)?).await?;
        let mut out = Vec::new();
        for b in &batches {
            let chunks = arrow_io::read_chunks(b)?;
            let distances = arrow_io::f32_column(b, "_distance")?;
            out.extend(chunks.into_iter().zip(distances).map(|(chunk, d)| ScoredChunk { chunk, score: 1.0 - d }));
        }
        Ok(out)
    }

    fn text_query(
        &self,
        analysed: String,
        limit: usize,
        filter: &SearchFilter,
        columns: &[&str],
    ) -> Result<Query, StoreError> {
        let fts = FullTextSearchQuery::new(analysed).with_column(FTS_COLUMN.into()).map_err(backend)?;
        let mut q = self
            .chunks
            .query()
            .full_text_search(fts)
            .select(Select::columns(&with_score(columns, "_score")))
            .limit(limit);
        if let Some(f) = Self::filter_sql(filter) {
            q = q.only_if(f);
        }
        Ok(q)
    }

    /// LanceDB's executed plans, with the time spent in each operator, of the vector and the
    /// full-text candidate searches for `k` results, as [`ChunkStore::hybrid_search`] runs them
    /// (diagnostics for `examples/search_latency.rs --analyze`).
    ///
    /// # Errors
    /// Backend failures.
    pub async fn analyze_searches(&self, vector: &[f32], text: &str, k: usize) -> Result<(String, String), StoreError> {
        let ann = self.ann_for(&SearchFilter::default());
        let vector_plan = self
            .vector_query(vector, k + 8, None, ann.as_ref(), CANDIDATE_COLUMNS)?
            .with_row_id()
            .analyze_plan()
            .await
            .map_err(backend)?;
        let text_plan = self
            .text_query(search_text(text), k + 8, &SearchFilter::default(), CANDIDATE_COLUMNS)?
            .with_row_id()
            .analyze_plan()
            .await
            .map_err(backend)?;
        Ok((vector_plan, text_plan))
    }

    /// The ANN index's setting when a search over `filter` uses it. A document filter narrows
    /// the candidates a lot: exact search over them is both cheaper and better than probing an
    /// index built for the whole matter.
    fn ann_for(&self, filter: &SearchFilter) -> Option<AnnState> {
        let ann = self.ann.lock().map(|a| a.clone()).unwrap_or_default();
        (ann.use_ann && filter.doc_ids.is_none()).then_some(ann)
    }

    /// Candidates of a vector search: row ids, chunk and document ids and similarities, nearest
    /// first, before any chunk is read.
    async fn vector_candidates(
        &self,
        vector: &[f32],
        limit: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Candidate>, StoreError> {
        let ann = self.ann_for(filter);
        let query =
            self.vector_query(vector, limit, Self::filter_sql(filter), ann.as_ref(), CANDIDATE_COLUMNS)?.with_row_id();
        let mut out = Vec::new();
        for b in &collect(&query).await? {
            let distances = arrow_io::f32_column(b, "_distance")?;
            out.extend(Candidate::read(b, distances.into_iter().map(|d| 1.0 - d))?);
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.keep_indexed_candidates(out).await
    }

    /// Candidates of a full-text search, best BM25 score first.
    async fn text_candidates(
        &self,
        analysed: String,
        limit: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Candidate>, StoreError> {
        let query = self.text_query(analysed, limit, filter, CANDIDATE_COLUMNS)?.with_row_id();
        let mut out = Vec::new();
        for b in &collect(&query).await? {
            out.extend(Candidate::read(b, arrow_io::f32_column(b, "_score")?)?);
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.keep_indexed_candidates(out).await
    }

    async fn keep_indexed_candidates(&self, candidates: Vec<Candidate>) -> Result<Vec<Candidate>, StoreError> {
        let ids = self.indexed_ids().await?;
        Ok(candidates.into_iter().filter(|c| ids.contains(&c.doc_id)).collect())
    }

    /// Read the chunks of `hits` (candidate, score to report), in that order. `None` when a row
    /// is no longer where the search found it (a compaction committed in between): the caller
    /// searches again the slow way.
    async fn read_hits(&self, hits: &[(&Candidate, f32)]) -> Result<Option<Vec<ScoredChunk>>, StoreError> {
        if hits.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let rows = hits.iter().map(|(c, _)| c.row_id).collect();
        // One read for all hits: each extra read costs more than it saves (measured: 2, 5 or
        // 10 concurrent reads of the 10 hits made hybrid search 1.4×, 2× and 2.8× slower).
        let query = self.chunks.take_row_ids(rows).select(Select::columns(arrow_io::CHUNK_READ_COLUMNS));
        let Ok(batches) = collect(&query).await else {
            return Ok(None);
        };
        let mut chunks = std::collections::HashMap::new();
        for b in &batches {
            chunks.extend(arrow_io::read_chunks(b)?.into_iter().map(|c| (c.id.clone(), c)));
        }
        Ok(hits
            .iter()
            .map(|(c, score)| chunks.get(&c.id).map(|chunk| ScoredChunk { chunk: chunk.clone(), score: *score }))
            .collect())
    }

    /// Vector search reading every column of its candidates in the same pass (one round of reads:
    /// cheaper for one list than finding candidates first and then reading the hits).
    async fn vector_search_full(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        // Over-fetch a little: chunks of a document being written are dropped below.
        let hits =
            self.run_vector_query(vector, k + 8, Self::filter_sql(filter), self.ann_for(filter).as_ref()).await?;
        let mut hits = self.keep_indexed(hits).await?;
        hits.truncate(k);
        Ok(hits)
    }

    /// Full-text search reading every column of its candidates in the same pass.
    async fn text_search_full(
        &self,
        analysed: String,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let batches = collect(&self.text_query(analysed, k + 8, filter, arrow_io::CHUNK_READ_COLUMNS)?).await?;
        let mut out = Vec::new();
        for b in &batches {
            let chunks = arrow_io::read_chunks(b)?;
            let scores = arrow_io::f32_column(b, "_score")?;
            out.extend(chunks.into_iter().zip(scores).map(|(chunk, score)| ScoredChunk { chunk, score }));
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut hits = self.keep_indexed(out).await?;
        hits.truncate(k);
        Ok(hits)
    }

    async fn keep_indexed(&self, hits: Vec<ScoredChunk>) -> Result<Vec<ScoredChunk>, StoreError> {
        let ids = self.indexed_ids().await?;
        Ok(hits.into_iter().filter(|h| ids.contains(&h.chunk.doc_id)).collect())
    }

    /// Build the vector index and measure it against exact search; keep it only when its recall
    /// is good enough, probing more partitions (and searching each graph wider) step by step and
    /// keeping the cheapest setting that reaches it.
    async fn build_ann(&self, rows: usize) -> Result<AnnState, StoreError> {
        let partitions =
            u32::try_from(rows / self.options.ann_rows_per_partition.max(1)).unwrap_or(u32::MAX).clamp(16, 4096);
        tracing::info!(rows, partitions, "building the ANN vector index");
        self.chunks
            .create_index(
                &[VECTOR_COLUMN],
                Index::IvfHnswSq(
                    IvfHnswSqIndexBuilder::default().distance_type(DistanceType::Cosine).num_partitions(partitions),
                ),
            )
            .replace(true)
            .execute()
            .await
            .map_err(backend)?;
        self.measure_ann(rows, partitions as usize).await
    }

    /// Measure the existing index against exact search along the probe ladder.
    async fn measure_ann(&self, rows: usize, partitions: usize) -> Result<AnnState, StoreError> {
        let queries = self.sample_queries().await?;
        // Exact answers once; each setting is compared against them.
        let mut exact = Vec::with_capacity(queries.len());
        for q in &queries {
            exact.push(self.exact_search(q, 10, None).await?.into_iter().map(|h| h.chunk.id).collect::<HashSet<_>>());
        }
        let mut state = AnnState { use_ann: false, rows, partitions, ..AnnState::default() };
        for (nprobes, ef) in Self::probe_ladder(partitions) {
            let candidate = AnnState { use_ann: true, rows, partitions, recall_at_10: None, nprobes, ef };
            let recall = self.measure_recall(&queries, &exact, &candidate).await?;
            tracing::info!(partitions, nprobes, ef, recall, "ANN recall@10 against exact search");
            state = AnnState { recall_at_10: Some(recall), ..candidate };
            if recall >= self.options.min_recall {
                return Ok(state);
            }
        }
        state.use_ann = false;
        Ok(state)
    }

    /// (partitions probed, HNSW breadth) from cheap to thorough, each step at least as deep as
    /// the one before in both; the last probes every partition.
    fn probe_ladder(partitions: usize) -> Vec<(usize, usize)> {
        let mut steps =
            vec![(1, 64), (2, 64), (2, 128), (3, 128), (4, 128), (4, 256), (6, 256), (8, 256), (12, 300), (16, 300)];
        // Beyond 16 partitions, half as many again per step (a jump straight to a quarter of
        // 1,000 partitions would pay four times the search cost the recall needs).
        let mut n = 16;
        while n < partitions {
            n = n * 3 / 2;
            steps.push((
                n,
                if n < 64 {
                    300
                } else if n < 256 {
                    400
                } else {
                    500
                },
            ));
        }
        steps.extend([(partitions, 400), (partitions, 500), (partitions, 600)]);
        let mut ladder: Vec<(usize, usize)> = Vec::new();
        for (n, ef) in steps {
            let n = n.clamp(1, partitions.max(1)).max(ladder.last().map_or(1, |s| s.0));
            if ladder.last().is_none_or(|&(pn, pef)| ef >= pef && (n, ef) != (pn, pef)) {
                ladder.push((n, ef));
            }
        }
        ladder
    }

    /// Build the ANN index again now (when the matter is large enough) and measure it.
    ///
    /// # Errors
    /// Not the writer, or LanceDB failed.
    pub async fn rebuild_vector_index(&self) -> Result<VectorIndexState, StoreError> {
        self.require_writer()?;
        let rows = self.chunks.count_rows(None).await.map_err(backend)?;
        let state = if rows >= self.options.ann_threshold { self.build_ann(rows).await? } else { AnnState::default() };
        self.save_ann(&state)?;
        *self.ann.lock().map_err(backend)? = state;
        Ok(self.vector_index_state(rows))
    }

    /// Measure the existing ANN index again (e.g. with a newer search setting ladder) without
    /// rebuilding it; builds it when the matter is large enough and has none.
    ///
    /// # Errors
    /// Not the writer, or LanceDB failed.
    pub async fn remeasure_vector_index(&self) -> Result<VectorIndexState, StoreError> {
        self.require_writer()?;
        let partitions = self.ann.lock().map_err(backend)?.partitions;
        if partitions == 0 || !self.has_vector_index().await? {
            return self.rebuild_vector_index().await;
        }
        let rows = self.chunks.count_rows(None).await.map_err(backend)?;
        let state = self.measure_ann(rows, partitions).await?;
        self.save_ann(&state)?;
        *self.ann.lock().map_err(backend)? = state;
        Ok(self.vector_index_state(rows))
    }

    /// Query vectors for recall checks: stored chunk vectors mixed pairwise, so that the query is
    /// not itself a stored row.
    async fn sample_queries(&self) -> Result<Vec<Vec<f32>>, StoreError> {
        let vectors = self.stored_vectors(self.options.recall_sample * 2).await?;
        let half = vectors.len() / 2;
        Ok((0..half)
            .map(|i| {
                let mut v: Vec<f32> =
                    vectors[i].iter().zip(&vectors[half + i]).map(|(a, b)| 0.7 * a + 0.3 * b).collect();
                lexdesk_core::embed::l2_normalize(&mut v);
                v
            })
            .collect())
    }

    async fn measure_recall(
        &self,
        queries: &[Vec<f32>],
        exact: &[HashSet<String>],
        ann: &AnnState,
    ) -> Result<f32, StoreError> {
        let mut found = 0usize;
        let mut total = 0usize;
        for (q, exact) in queries.iter().zip(exact) {
            let approx: HashSet<String> =
                self.run_vector_query(q, 10, None, Some(ann)).await?.into_iter().map(|h| h.chunk.id).collect();
            found += exact.intersection(&approx).count();
            total += exact.len();
        }
        Ok(if total == 0 { 1.0 } else { found as f32 / total as f32 })
    }

    /// Up to `limit` stored chunk vectors, in table order (benchmarks and diagnostics, e.g.
    /// comparing a synthetic store's geometry with a real matter's).
    ///
    /// # Errors
    /// Reading the table failed.
    pub async fn stored_vectors(&self, limit: usize) -> Result<Vec<Vec<f32>>, StoreError> {
        let batches = collect(&self.chunks.query().select(Select::columns(&[VECTOR_COLUMN])).limit(limit)).await?;
        let mut vectors = Vec::new();
        for b in &batches {
            vectors.extend(arrow_io::vector_column(b)?);
        }
        Ok(vectors)
    }

    fn save_ann(&self, state: &AnnState) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(state).map_err(backend)?;
        std::fs::write(self.dir.join(STATE_FILE), json).map_err(backend)
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

    /// The ANN index's layout and the search setting chosen for it: (partitions, partitions
    /// probed, HNSW breadth); `None` while search is exact.
    #[must_use]
    pub fn ann_setting(&self) -> Option<(usize, usize, usize)> {
        let ann = self.ann.lock().map(|a| a.clone()).unwrap_or_default();
        ann.use_ann.then_some((ann.partitions, ann.nprobes, ann.ef))
    }

    /// Whether searches use the ANN index, and its measured recall.
    #[must_use]
    pub fn vector_index_state(&self, chunks: usize) -> VectorIndexState {
        let ann = self.ann.lock().map(|a| a.clone()).unwrap_or_default();
        VectorIndexState {
            chunks,
            method: if ann.use_ann { "ivf_hnsw_sq".into() } else { "exact".into() },
            recall_at_10: ann.recall_at_10,
        }
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
