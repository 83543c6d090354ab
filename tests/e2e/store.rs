//! The LanceDB store directly: one writer per matter, the ANN index accepted only with measured
//! recall, dimension checks.

use lexdesk_core::embed::l2_normalize;
use lexdesk_core::store::{ChunkRecord, ChunkStore, SearchFilter, StoreError};
use lexdesk_e2e::block_on;
use lexdesk_store::{LanceStore, StoreOptions};

/// Deterministic pseudo-random numbers (xorshift), so the test needs no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// Clustered unit vectors, as real embeddings are.
fn synthetic(n: usize, dims: usize, seed: u64) -> Vec<ChunkRecord> {
    let mut rng = Rng(seed);
    let centers: Vec<Vec<f32>> = (0..64).map(|_| (0..dims).map(|_| rng.next()).collect()).collect();
    (0..n)
        .map(|i| {
            let c = &centers[i % centers.len()];
            let mut v: Vec<f32> = c.iter().map(|x| x + 0.35 * rng.next()).collect();
            l2_normalize(&mut v);
            ChunkRecord {
                id: format!("synthetic:{i}"),
                doc_id: "synthetic".into(),
                ordinal: u32::try_from(i).unwrap(),
                page_start: 1,
                page_end: 1,
                char_start: 0,
                char_end: 4,
                heading_path: vec!["Synthetic".into()],
                text: format!("chunk {i}"),
                tokens: 4,
                language: "en".into(),
                vector: v,
            }
        })
        .collect()
}

#[test]
fn one_writer_per_matter_and_dimension_checks() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let writer = LanceStore::open_writer(dir.path(), 8, StoreOptions::default()).await.unwrap();
        let second = LanceStore::open_writer(dir.path(), 8, StoreOptions::default()).await;
        assert!(matches!(second, Err(StoreError::Locked { .. })), "{second:?}");
        // Readers are never blocked.
        let reader = LanceStore::open(dir.path(), 8, StoreOptions::default()).await.unwrap();
        assert!(reader.documents().await.unwrap().is_empty());
        let bad = writer.vector_search(&[0.0; 4], 5, &SearchFilter::default()).await;
        assert!(matches!(bad, Err(StoreError::DimensionMismatch { expected: 8, got: 4 })));
        drop(writer);
        let wrong = LanceStore::open(dir.path(), 384, StoreOptions::default()).await;
        assert!(matches!(wrong, Err(StoreError::DimensionMismatch { expected: 8, got: 384 })), "{wrong:?}");
        LanceStore::open_writer(dir.path(), 8, StoreOptions::default()).await.expect("the lock is released on drop");
    });
}

#[test]
fn the_ann_index_is_used_only_after_its_recall_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let options =
            StoreOptions { ann_threshold: 3_000, min_recall: 0.95, recall_sample: 50, ..StoreOptions::default() };
        let store = LanceStore::open_writer(dir.path(), 64, options).await.unwrap();
        let rows = synthetic(4_000, 64, 42);
        store.append_chunks_raw(&rows).await.unwrap();
        let state = store.optimize().await.unwrap();
        assert_eq!(state.chunks, 4_000);
        let recall = state.recall_at_10.expect("recall was measured");
        assert_eq!(state.method, "ivf_hnsw_sq", "{state:?}");
        assert!(recall >= 0.95, "{state:?}");
        // More results than the HNSW breadth the recall check chose: the breadth follows k (lance
        // refused such a query before). The rows belong to no indexed document, so none is kept.
        let many = store.vector_search(&rows[7].vector, 200, &SearchFilter::default()).await;
        assert!(many.is_ok_and(|hits| hits.is_empty()));
        // Measured again without a rebuild: the same kind of index, recall still verified.
        let again = store.remeasure_vector_index().await.unwrap();
        assert_eq!(again.method, "ivf_hnsw_sq", "{again:?}");
        assert!(again.recall_at_10.expect("measured") >= 0.95, "{again:?}");
        // Below the threshold search stays exact.
        let small = tempfile::tempdir().unwrap();
        let store = LanceStore::open_writer(small.path(), 64, options).await.unwrap();
        store.append_chunks_raw(&rows[..500]).await.unwrap();
        let state = store.optimize().await.unwrap();
        assert_eq!((state.method.as_str(), state.recall_at_10), ("exact", None));
    });
}
