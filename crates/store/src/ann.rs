//! The vector index: IVF-HNSW-SQ built above the threshold, its recall@10 measured against exact
//! search along a ladder of probes and breadths, the accepted setting kept in
//! `vector-index.json`.

use std::collections::HashSet;

use lancedb::DistanceType;
use lancedb::index::Index;
use lancedb::index::vector::IvfHnswSqIndexBuilder;
use lancedb::query::{QueryBase, Select};
use lexdesk_core::store::{StoreError, VectorIndexState};
use serde::{Deserialize, Serialize};

use super::*;

/// Which vector search a store uses, persisted beside the tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AnnState {
    /// The ANN index is accepted and used.
    pub(crate) use_ann: bool,
    /// Rows indexed when it was measured.
    pub(crate) rows: usize,
    /// Measured recall@10.
    recall_at_10: Option<f32>,
    /// IVF partitions of the index.
    #[serde(default)]
    pub(crate) partitions: usize,
    /// Partitions probed per query.
    pub(crate) nprobes: usize,
    /// HNSW search breadth.
    pub(crate) ef: usize,
}

impl LanceStore {
    /// Build the vector index and measure it against exact search; keep it only when its recall
    /// is good enough, probing more partitions (and searching each graph wider) step by step and
    /// keeping the cheapest setting that reaches it.
    pub(crate) async fn build_ann(&self, rows: usize) -> Result<AnnState, StoreError> {
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
    pub(crate) async fn measure_ann(&self, rows: usize, partitions: usize) -> Result<AnnState, StoreError> {
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
    pub(crate) fn probe_ladder(partitions: usize) -> Vec<(usize, usize)> {
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
    pub(crate) async fn sample_queries(&self) -> Result<Vec<Vec<f32>>, StoreError> {
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

    pub(crate) async fn measure_recall(
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

    pub(crate) fn save_ann(&self, state: &AnnState) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(state).map_err(backend)?;
        std::fs::write(self.dir.join(STATE_FILE), json).map_err(backend)
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
