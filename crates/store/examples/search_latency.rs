//! Search latency of a matter store at a given size: p50/p95 of full-text, vector (exact or the
//! verified ANN index) and hybrid search, with the ANN index's recall@10 against exact search.
//!
//! Synthetic store: 384-dimensional unit vectors around 256 cluster centres (noise comparable to
//! real embeddings' spread), 40-word texts drawn from a Zipf-distributed 20,000-word vocabulary,
//! 10,000 chunks per document; queries are perturbed chunk vectors and 3-word texts.
//!
//! ```sh
//! cargo run --release --example search_latency -- --chunks 100000
//! cargo run --release --example search_latency -- --chunks 1000000 --queries 200
//! # keep the store; later runs reuse its rows and only rebuild the index (e.g. another layout):
//! cargo run --release --example search_latency -- --chunks 1000000 --dir /tmp/s1m --rows-per-partition 4096
//! # or measure the kept store and index again (e.g. on an idle machine):
//! cargo run --release --example search_latency -- --chunks 1000000 --dir /tmp/s1m --keep-index
//! # or measure the kept index again along the search-setting ladder, without rebuilding it:
//! cargo run --release --example search_latency -- --chunks 1000000 --dir /tmp/s1m --remeasure
//! ```
//! Prints a table and one JSON line.

#![allow(clippy::print_stdout)] // a benchmark program reports on standard output

use std::time::Instant;

use lexdesk_core::embed::l2_normalize;
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, ScoredChunk, SearchFilter, convex_fusion,
};
use lexdesk_store::{LanceStore, StoreOptions};

const DIMS: usize = 384;
const PER_DOC: usize = 10_000;
const VOCAB: usize = 20_000;

/// xorshift64*: reproducible and dependency-free (the benchmark must not vary between runs).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    #[allow(clippy::cast_precision_loss)]
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Zipf-like rank in 0..n (inverse-CDF of a 1/x density).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    fn zipf(&mut self, n: usize) -> usize {
        let u = f64::from(self.unit());
        (((n as f64).powf(u) - 1.0) as usize).min(n - 1)
    }
}

struct Args {
    chunks: usize,
    queries: usize,
    dir: Option<std::path::PathBuf>,
    rows_per_partition: Option<usize>,
    keep_index: bool,
    remeasure: bool,
}

fn args() -> Args {
    let mut a = Args {
        chunks: 100_000,
        queries: 200,
        dir: None,
        rows_per_partition: None,
        keep_index: false,
        remeasure: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--keep-index" {
            a.keep_index = true;
            continue;
        }
        if flag == "--remeasure" {
            a.remeasure = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--chunks" => a.chunks = value.parse().expect("--chunks N"),
            "--queries" => a.queries = value.parse().expect("--queries N"),
            "--dir" => a.dir = Some(value.into()),
            "--rows-per-partition" => a.rows_per_partition = Some(value.parse().expect("--rows-per-partition N")),
            other => panic!(
                "unknown flag {other} (--chunks N, --queries N, --dir DIR, --rows-per-partition N, --keep-index, --remeasure)"
            ),
        }
    }
    a
}

fn centres(rng: &mut Rng) -> Vec<Vec<f32>> {
    (0..256).map(|_| (0..DIMS).map(|_| rng.unit() - 0.5).collect()).collect()
}

fn vector_near(rng: &mut Rng, centre: &[f32], spread: f32) -> Vec<f32> {
    let mut v: Vec<f32> = centre.iter().map(|x| x + spread * (rng.unit() - 0.5)).collect();
    l2_normalize(&mut v);
    v
}

fn text(rng: &mut Rng, words: usize) -> String {
    (0..words).map(|_| format!("w{}", rng.zipf(VOCAB))).collect::<Vec<_>>().join(" ")
}

fn document(id: &str) -> DocumentRecord {
    DocumentRecord {
        id: id.into(),
        file_name: format!("{id}.txt"),
        source_path: format!("/synthetic/{id}.txt"),
        title: id.into(),
        format: "text".into(),
        size_bytes: 0,
        page_count: 1,
        chunk_count: u32::try_from(PER_DOC).unwrap_or(u32::MAX),
        ocr_pages: 0,
        status: DocumentStatus::Ingesting,
        error_code: None,
        error_message: None,
        extractor: "synthetic".into(),
        added_at_ms: 0,
    }
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[i]
}

struct Timing {
    p50: f64,
    p95: f64,
}

async fn time<F, Fut>(n: usize, mut f: F) -> Timing
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Vec<ScoredChunk>>,
{
    for i in 0..n.min(20) {
        f(i).await;
    }
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let hits = f(i).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!hits.is_empty(), "query {i} found nothing");
    }
    ms.sort_by(f64::total_cmp);
    Timing { p50: percentile(&ms, 0.5), p95: percentile(&ms, 0.95) }
}

#[tokio::main]
async fn main() {
    let a = args();
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let centres = centres(&mut rng);
    let mut options = StoreOptions::default();
    if let Some(r) = a.rows_per_partition {
        options.ann_rows_per_partition = r;
    }
    let store = LanceStore::open_writer(&dir, DIMS, options).await.expect("store");
    // A kept store with these rows already (same seed, so the same data): only re-index.
    let reuse = store.chunk_count().await.expect("count") == a.chunks;

    let started = Instant::now();
    let mut queries: Vec<(Vec<f32>, String)> = Vec::new();
    let docs = a.chunks.div_ceil(PER_DOC);
    let per_doc = a.queries.div_ceil(docs).max(1);
    for d in 0..docs {
        let doc_id = format!("syn-{d:04}");
        let n = PER_DOC.min(a.chunks - d * PER_DOC);
        let chunks: Vec<ChunkRecord> = (0..n)
            .map(|i| {
                let centre = &centres[rng.zipf(centres.len())];
                let t = text(&mut rng, 40);
                ChunkRecord {
                    id: format!("{doc_id}:{i}"),
                    doc_id: doc_id.clone(),
                    ordinal: u32::try_from(i).unwrap_or(u32::MAX),
                    page_start: 1,
                    page_end: 1,
                    char_start: 0,
                    char_end: u32::try_from(t.chars().count()).unwrap_or(u32::MAX),
                    heading_path: vec![doc_id.clone()],
                    text: t,
                    tokens: 60,
                    language: "en".into(),
                    vector: vector_near(&mut rng, centre, 0.6),
                }
            })
            .collect();
        for c in chunks.iter().step_by((n / per_doc).max(1)).take(per_doc) {
            let words: Vec<&str> = c.text.split(' ').skip(5).take(3).collect();
            queries.push((vector_near(&mut rng, &c.vector, 0.3), words.join(" ")));
        }
        if !reuse {
            store
                .write(vec![DocumentWrite { document: document(&doc_id), pages: Vec::new(), chunks }])
                .await
                .expect("write");
        }
    }
    let write_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let state = if reuse && a.remeasure {
        store.remeasure_vector_index().await.expect("measure")
    } else if reuse && a.keep_index {
        store.vector_index_state(a.chunks)
    } else if reuse {
        store.rebuild_vector_index().await.expect("index")
    } else {
        store.optimize().await.expect("optimize")
    };
    let index_s = started.elapsed().as_secs_f64();
    queries.truncate(a.queries);
    let n = queries.len();
    let all = SearchFilter::default();

    let text = time(n, |i| {
        let (store, q) = (&store, &queries[i].1);
        let all = &all;
        async move { store.text_search(q, 10, all).await.expect("text search") }
    })
    .await;
    let vector = time(n, |i| {
        let (store, q) = (&store, &queries[i].0);
        let all = &all;
        async move { store.vector_search(q, 10, all).await.expect("vector search") }
    })
    .await;
    let hybrid = time(n, |i| {
        let (store, q) = (&store, &queries[i]);
        let all = &all;
        async move {
            let (t, v) = tokio::join!(store.text_search(&q.1, 40, all), store.vector_search(&q.0, 40, all));
            convex_fusion(&[(&t.expect("text"), 0.5), (&v.expect("vector"), 0.5)], 10)
        }
    })
    .await;

    println!("chunks {}  (written in {write_s:.0} s, indexes in {index_s:.0} s)", a.chunks);
    let setting = store.ann_setting();
    println!(
        "vector search: {} (recall@10 vs exact: {:?}; partitions, nprobes, ef: {setting:?})",
        state.method, state.recall_at_10
    );
    println!("{:<8} {:>9} {:>9}", "search", "p50 ms", "p95 ms");
    for (name, t) in [("text", &text), ("vector", &vector), ("hybrid", &hybrid)] {
        println!("{name:<8} {:>9.2} {:>9.2}", t.p50, t.p95);
    }
    println!(
        "{}",
        serde_json::json!({
            "chunks": a.chunks, "queries": n, "vector_method": state.method, "recall_at_10": state.recall_at_10,
            "ann_partitions_nprobes_ef": setting,
            "write_seconds": write_s, "index_seconds": index_s,
            "text_ms": {"p50": text.p50, "p95": text.p95},
            "vector_ms": {"p50": vector.p50, "p95": vector.p95},
            "hybrid_ms": {"p50": hybrid.p50, "p95": hybrid.p95},
        })
    );
}
