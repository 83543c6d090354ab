//! Searching: full-text and vector queries (exact or through the ANN index), candidates (row id,
//! chunk and document id, score) read before the hits' columns, and dropping chunks of documents
//! that are not indexed.

use std::collections::HashSet;
use std::sync::Arc;

use lancedb::DistanceType;
use lancedb::arrow::arrow_array::RecordBatch;
use lancedb::index::scalar::{FtsIndexBuilder, FullTextSearchQuery};
use lancedb::query::{ExecutableQuery, Query, QueryBase, Select, VectorQuery};
use lexdesk_core::store::{DocumentStatus, ScoredChunk, SearchFilter, StoreError};

use super::*;

/// Columns a search reads for ranking; the rest are read only for the hits kept.
pub(crate) const CANDIDATE_COLUMNS: &[&str] = &["id", "doc_id"];

/// A search hit before its chunk is read.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) row_id: u64,
    pub(crate) id: String,
    pub(crate) doc_id: String,
    pub(crate) score: f32,
}

impl Candidate {
    pub(crate) fn read(b: &RecordBatch, scores: impl IntoIterator<Item = f32>) -> Result<Vec<Self>, StoreError> {
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

impl LanceStore {
    /// Ids of the documents that are indexed (searchable), read again only when the documents
    /// table has changed.
    pub(crate) async fn indexed_ids(&self) -> Result<Arc<HashSet<String>>, StoreError> {
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

    pub(crate) fn filter_sql(filter: &SearchFilter) -> Option<String> {
        filter
            .doc_ids
            .as_ref()
            .map(|ids| if ids.is_empty() { "false".to_string() } else { format!("doc_id IN ({})", in_list(ids)) })
    }

    pub(crate) async fn has_fts_index(&self) -> Result<bool, StoreError> {
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

    pub(crate) async fn has_vector_index(&self) -> Result<bool, StoreError> {
        let indices = self.chunks.list_indices().await.map_err(backend)?;
        Ok(indices.iter().any(|i| i.columns.iter().any(|c| c == VECTOR_COLUMN)))
    }

    pub(crate) fn fts_params() -> FtsIndexBuilder {
        FtsIndexBuilder::default()
            .base_tokenizer("simple".into())
            .lower_case(true)
            .stem(true)
            .remove_stop_words(true)
            .ascii_folding(true)
            .max_token_length(Some(40))
    }

    /// Exact nearest neighbours (bypassing any ANN index).
    pub(crate) async fn exact_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: Option<String>,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        self.run_vector_query(vector, k, filter, None).await
    }

    pub(crate) fn vector_query(
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

    pub(crate) async fn run_vector_query(
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

    pub(crate) fn text_query(
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
    pub(crate) fn ann_for(&self, filter: &SearchFilter) -> Option<AnnState> {
        let ann = self.ann.lock().map(|a| a.clone()).unwrap_or_default();
        (ann.use_ann && filter.doc_ids.is_none()).then_some(ann)
    }

    /// Candidates of a vector search: row ids, chunk and document ids and similarities, nearest
    /// first, before any chunk is read.
    pub(crate) async fn vector_candidates(
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
    pub(crate) async fn text_candidates(
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

    pub(crate) async fn keep_indexed_candidates(
        &self,
        candidates: Vec<Candidate>,
    ) -> Result<Vec<Candidate>, StoreError> {
        let ids = self.indexed_ids().await?;
        Ok(candidates.into_iter().filter(|c| ids.contains(&c.doc_id)).collect())
    }

    /// Read the chunks of `hits` (candidate, score to report), in that order. `None` when a row
    /// is no longer where the search found it (a compaction committed in between): the caller
    /// searches again the slow way.
    pub(crate) async fn read_hits(&self, hits: &[(&Candidate, f32)]) -> Result<Option<Vec<ScoredChunk>>, StoreError> {
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
    pub(crate) async fn vector_search_full(
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
    pub(crate) async fn text_search_full(
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

    pub(crate) async fn keep_indexed(&self, hits: Vec<ScoredChunk>) -> Result<Vec<ScoredChunk>, StoreError> {
        let ids = self.indexed_ids().await?;
        Ok(hits.into_iter().filter(|h| ids.contains(&h.chunk.doc_id)).collect())
    }
}
