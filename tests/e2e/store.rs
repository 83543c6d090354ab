//! The LanceDB store directly: one writer per matter, the ANN index accepted only with measured
//! recall, dimension checks, hybrid search on candidates ranking as the two full lists do.

use lexdesk_core::embed::l2_normalize;
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, HybridQuery, SearchFilter, StoreError,
    convex_fusion,
};
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

fn document(id: &str, chunks: usize) -> DocumentRecord {
    DocumentRecord {
        id: id.into(),
        file_name: format!("{id}.txt"),
        source_path: format!("/fixtures/{id}.txt"),
        title: id.into(),
        format: "text".into(),
        size_bytes: 0,
        page_count: 1,
        chunk_count: u32::try_from(chunks).unwrap(),
        ocr_pages: 0,
        status: DocumentStatus::Ingesting,
        error_code: None,
        error_message: None,
        extractor: "fixture".into(),
        added_at_ms: 0,
    }
}

/// The store's hybrid search ranks and fuses candidates and reads only the fused hits; the trait's
/// default reads both full lists and fuses them. Same hits, same order, same scores — with and
/// without a document filter, and never a chunk of a document that is not indexed.
#[test]
fn hybrid_search_on_candidates_ranks_exactly_as_the_two_full_lists() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let store = LanceStore::open_writer(dir.path(), 32, StoreOptions::default()).await.unwrap();
        let words = ["indemnify", "confidential", "terminate", "licence", "warranty", "assign", "notice", "audit"];
        let mut writes = Vec::new();
        for (d, seed) in [("alpha", 1u64), ("beta", 2), ("gamma", 3)] {
            let mut chunks = synthetic(120, 32, seed);
            for (i, c) in chunks.iter_mut().enumerate() {
                c.id = format!("{d}:{i}");
                c.doc_id = d.into();
                c.text = format!("{d} clause {i}: {} {} {}", words[i % 8], words[(i / 8) % 8], words[(i * 3 + 1) % 8]);
            }
            writes.push(DocumentWrite { document: document(d, chunks.len()), pages: Vec::new(), chunks });
        }
        store.write(writes).await.unwrap();
        // Rows of a document that was never marked indexed (as after a crash mid-write): they
        // match the query best and must still never be returned.
        let mut orphans = synthetic(6, 32, 9);
        for (i, c) in orphans.iter_mut().enumerate() {
            c.id = format!("orphan:{i}");
            c.doc_id = "orphan".into();
            c.text = "indemnify confidential terminate indemnify confidential".into();
        }
        store.append_chunks_raw(&orphans).await.unwrap();
        store.optimize().await.unwrap();

        let alpha_beta = SearchFilter { doc_ids: Some(vec!["alpha".into(), "beta".into()]) };
        for (q, filter) in [(0usize, SearchFilter::default()), (3, SearchFilter::default()), (5, alpha_beta)] {
            let vector = orphans[q].vector.clone();
            for weight in [0.0, 0.3, 0.5, 1.0] {
                let request = HybridQuery {
                    text: "indemnify confidential",
                    vector: &vector,
                    k: 10,
                    depth: 40,
                    vector_weight: weight,
                };
                let fast = store.hybrid_search(request, &filter).await.unwrap();
                let text = store.text_search(request.text, request.depth, &filter).await.unwrap();
                let near = store.vector_search(&vector, request.depth, &filter).await.unwrap();
                let full = convex_fusion(&[(&text, 1.0 - weight), (&near, weight)], request.k);
                assert!(
                    text.len() >= 10 && near.len() >= 10,
                    "both lists find something: {} {}",
                    text.len(),
                    near.len()
                );
                assert_eq!(fast.fused.len(), 10);
                let ids = |hits: &[lexdesk_core::store::ScoredChunk]| {
                    hits.iter().map(|h| h.chunk.id.clone()).collect::<Vec<_>>()
                };
                assert_eq!(ids(&fast.fused), ids(&full), "weight {weight}");
                for (a, b) in fast.fused.iter().zip(&full) {
                    assert!((a.score - b.score).abs() < 1e-5, "{} vs {}", a.score, b.score);
                    assert_eq!(a.chunk, b.chunk, "the chunk read by row id is the chunk the full list read");
                }
                let pairs = |hits: &[lexdesk_core::store::ScoredChunk]| {
                    hits.iter().map(|h| (h.chunk.id.clone(), h.score)).collect::<Vec<_>>()
                };
                assert_eq!(fast.text_scores, pairs(&text));
                assert_eq!(fast.vector_scores, pairs(&near));
                assert!(fast.fused.iter().all(|h| !h.chunk.id.starts_with("orphan")));
                if let Some(docs) = &filter.doc_ids {
                    assert!(fast.fused.iter().all(|h| docs.contains(&h.chunk.doc_id)));
                }
            }
        }
    });
}
