//! Search latency of a matter store at a given size: p50/p95 of full-text, vector (exact or the
//! verified ANN index) and hybrid search, with the ANN index's recall@10 against exact search.
//!
//! Synthetic store: 384-dimensional unit vectors around 256 Zipf-weighted cluster centres,
//! 40-word texts drawn from a Zipf-distributed 20,000-word vocabulary, 10,000 chunks per
//! document; queries are perturbed chunk vectors and 3-word texts.
//!
//! Within a cluster, real text embeddings vary along few directions: their local intrinsic
//! dimension (LID, the Levina–Bickel estimate over the 20 nearest neighbours) is far below the
//! 384 coordinates. `--latent L` spreads each cluster along L random directions of its own plus
//! a little noise in every coordinate; `--latent 0` spreads it evenly in all 384 coordinates (a
//! worst case for any ANN index: the nearest neighbours are barely nearer than the rest).
//! `--lid` prints the synthetic vectors' LID, and `--lid-of DIR` a real matter store's, so the
//! synthetic geometry can be checked against real embeddings.
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
//! # the geometry of a real matter's embeddings against the synthetic one's:
//! cargo run --release --example search_latency -- --lid --lid-of ~/.local/share/lexdesk/matters/<id>/store
//! # where a search spends its time: LanceDB's executed plans, with each operator's time:
//! cargo run --release --example search_latency -- --chunks 1000000 --dir /tmp/s1m --keep-index --analyze
//! ```
//! Prints a table and one JSON line.

#![allow(clippy::print_stdout)] // a benchmark program reports on standard output

use std::time::Instant;

use lexdesk_core::embed::l2_normalize;
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, HybridQuery, ScoredChunk, SearchFilter,
    convex_fusion,
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
    latent: usize,
    lid: bool,
    lid_of: Option<std::path::PathBuf>,
    analyze: bool,
}

fn args() -> Args {
    let mut a = Args {
        chunks: 100_000,
        queries: 200,
        dir: None,
        rows_per_partition: None,
        keep_index: false,
        remeasure: false,
        latent: 16,
        lid: false,
        lid_of: None,
        analyze: false,
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
        if flag == "--lid" {
            a.lid = true;
            continue;
        }
        if flag == "--analyze" {
            a.analyze = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--chunks" => a.chunks = value.parse().expect("--chunks N"),
            "--queries" => a.queries = value.parse().expect("--queries N"),
            "--dir" => a.dir = Some(value.into()),
            "--rows-per-partition" => a.rows_per_partition = Some(value.parse().expect("--rows-per-partition N")),
            "--latent" => a.latent = value.parse().expect("--latent L"),
            "--lid-of" => {
                a.lid = true;
                a.lid_of = Some(value.into());
            }
            other => panic!(
                "unknown flag {other} (--chunks N, --queries N, --dir DIR, --rows-per-partition N, --keep-index, \
                 --remeasure, --latent L, --lid, --lid-of DIR, --analyze)"
            ),
        }
    }
    a
}

/// Cluster centres and, per cluster, the unit directions it spreads along.
struct Clusters {
    centres: Vec<Vec<f32>>,
    directions: Vec<Vec<Vec<f32>>>,
}

/// Length of a cluster's spread, the same in both geometries (uniform noise of width 0.6 in
/// each of 384 coordinates, around centres with coordinates in ±0.5).
const SPREAD_NORM: f32 = 3.4;

fn clusters(rng: &mut Rng, latent: usize) -> Clusters {
    let centres: Vec<Vec<f32>> = (0..256).map(|_| (0..DIMS).map(|_| rng.unit() - 0.5).collect()).collect();
    let directions = (0..centres.len())
        .map(|_| {
            (0..latent)
                .map(|_| {
                    let mut d: Vec<f32> = (0..DIMS).map(|_| rng.unit() - 0.5).collect();
                    l2_normalize(&mut d);
                    d
                })
                .collect()
        })
        .collect();
    Clusters { centres, directions }
}

/// A chunk vector of cluster `c`: along the cluster's own directions when it has some (plus a
/// little noise in every coordinate), otherwise evenly in every coordinate.
#[allow(clippy::cast_precision_loss)]
fn chunk_vector(rng: &mut Rng, clusters: &Clusters, c: usize) -> Vec<f32> {
    let directions = &clusters.directions[c];
    if directions.is_empty() {
        return vector_near(rng, &clusters.centres[c], 0.6);
    }
    // Uniform ±0.5 weights have standard deviation 1/√12.
    let scale = SPREAD_NORM / (0.2887 * (directions.len() as f32).sqrt());
    let mut v = clusters.centres[c].clone();
    for d in directions {
        let w = scale * (rng.unit() - 0.5);
        v.iter_mut().zip(d).for_each(|(x, y)| *x += w * y);
    }
    v.iter_mut().for_each(|x| *x += 0.15 * (rng.unit() - 0.5));
    l2_normalize(&mut v);
    v
}

fn vector_near(rng: &mut Rng, centre: &[f32], spread: f32) -> Vec<f32> {
    let mut v: Vec<f32> = centre.iter().map(|x| x + spread * (rng.unit() - 0.5)).collect();
    l2_normalize(&mut v);
    v
}

/// Local intrinsic dimension: the Levina–Bickel maximum-likelihood estimate over each vector's
/// `k` nearest neighbours among `vectors` (Euclidean), averaged as MacKay and Ghahramani suggest
/// (the mean of the inverse estimates, inverted).
#[allow(clippy::cast_precision_loss)]
fn lid(vectors: &[Vec<f32>], k: usize) -> f64 {
    let mut inverse_sum = 0.0f64;
    let mut counted = 0usize;
    for (i, x) in vectors.iter().enumerate() {
        let mut d: Vec<f64> = vectors
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, y)| f64::from(x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()).sqrt())
            .filter(|&d| d > 1e-9)
            .collect();
        if d.len() < k {
            continue;
        }
        d.select_nth_unstable_by(k - 1, f64::total_cmp);
        let mut near = d[..k].to_vec();
        near.sort_by(f64::total_cmp);
        let tk = near[k - 1];
        inverse_sum += near[..k - 1].iter().map(|t| (tk / t).ln()).sum::<f64>() / (k - 1) as f64;
        counted += 1;
    }
    if counted == 0 || inverse_sum == 0.0 { f64::NAN } else { counted as f64 / inverse_sum }
}

/// Print the LID of the synthetic geometry (and of a real store's vectors), same sample size.
async fn report_lid(a: &Args) {
    const K: usize = 20;
    let mut n = 3000;
    let mut real_lid = None;
    if let Some(dir) = &a.lid_of {
        let dims = LanceStore::stored_dimensions(dir).await.expect("read the store").expect("the store has chunks");
        let store = LanceStore::open(dir, dims, StoreOptions::default()).await.expect("open the store");
        let real = store.stored_vectors(n).await.expect("vectors");
        n = real.len();
        real_lid = Some(lid(&real, K));
        println!("real store {}: {n} vectors of {dims} dimensions, LID {:.1}", dir.display(), real_lid.unwrap_or(0.0));
    }
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let clusters = clusters(&mut rng, a.latent);
    let synthetic: Vec<Vec<f32>> = (0..n)
        .map(|_| {
            let c = rng.zipf(clusters.centres.len());
            chunk_vector(&mut rng, &clusters, c)
        })
        .collect();
    let synthetic_lid = lid(&synthetic, K);
    // At a real matter's size the synthetic sample holds a few vectors of each of 256 clusters,
    // and its nearest neighbours are other clusters; one cluster's vectors show the geometry an
    // index meets within a topic (a real matter is often one topic: 61 NDAs, one statute book).
    let one_cluster: Vec<Vec<f32>> = (0..n).map(|_| chunk_vector(&mut rng, &clusters, 0)).collect();
    let cluster_lid = lid(&one_cluster, K);
    println!(
        "synthetic (--latent {}): {n} vectors, LID {synthetic_lid:.1} across clusters, {cluster_lid:.1} within one",
        a.latent
    );
    println!(
        "{}",
        serde_json::json!({"lid_k": K, "vectors": n, "latent": a.latent, "synthetic_lid": synthetic_lid,
            "synthetic_one_cluster_lid": cluster_lid, "real_lid": real_lid})
    );
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

/// The searches measured: full text, vector, hybrid as the store runs it (ranking and fusing
/// candidates, reading only the fused hits' chunks), and hybrid the way the trait composes it
/// by default (both lists of 40 read in full, then fused) for comparison.
const SEARCHES: [&str; 4] = ["text", "vector", "hybrid", "hybrid, both lists read"];

async fn search_once(store: &LanceStore, which: usize, q: &(Vec<f32>, String), all: &SearchFilter) -> Vec<ScoredChunk> {
    match which {
        0 => store.text_search(&q.1, 10, all).await.expect("text search"),
        1 => store.vector_search(&q.0, 10, all).await.expect("vector search"),
        2 => {
            let query = HybridQuery { text: &q.1, vector: &q.0, k: 10, depth: 40, vector_weight: 0.5 };
            store.hybrid_search(query, all).await.expect("hybrid search").fused
        }
        _ => {
            let text = store.text_search(&q.1, 40, all).await.expect("text search");
            let vector = store.vector_search(&q.0, 40, all).await.expect("vector search");
            convex_fusion(&[(&text, 0.5), (&vector, 0.5)], 10)
        }
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    if a.lid {
        report_lid(&a).await;
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let clusters = clusters(&mut rng, a.latent);
    let mut options = StoreOptions::default();
    if let Some(r) = a.rows_per_partition {
        options.ann_rows_per_partition = r;
    }
    let store = LanceStore::open_writer(&dir, DIMS, options).await.expect("store");
    // A kept store with these rows already (same seed and geometry, so the same data): only
    // re-index.
    let geometry = serde_json::json!({"chunks": a.chunks, "latent": a.latent}).to_string();
    let geometry_file = dir.join("synthetic.json");
    let rows = store.chunk_count().await.expect("count");
    let reuse = rows == a.chunks && std::fs::read_to_string(&geometry_file).is_ok_and(|g| g == geometry);
    assert!(reuse || rows == 0, "{} holds another synthetic store: choose an empty folder", dir.display());

    let started = Instant::now();
    let mut queries: Vec<(Vec<f32>, String)> = Vec::new();
    let docs = a.chunks.div_ceil(PER_DOC);
    let per_doc = a.queries.div_ceil(docs).max(1);
    for d in 0..docs {
        let doc_id = format!("syn-{d:04}");
        let n = PER_DOC.min(a.chunks - d * PER_DOC);
        let mut cluster_of = Vec::with_capacity(n);
        let chunks: Vec<ChunkRecord> = (0..n)
            .map(|i| {
                let c = rng.zipf(clusters.centres.len());
                cluster_of.push(c);
                let vector = chunk_vector(&mut rng, &clusters, c);
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
                    vector,
                }
            })
            .collect();
        for (c, &cluster) in chunks.iter().zip(&cluster_of).step_by((n / per_doc).max(1)).take(per_doc) {
            let words: Vec<&str> = c.text.split(' ').skip(5).take(3).collect();
            let vector = if a.latent == 0 {
                vector_near(&mut rng, &c.vector, 0.3)
            } else {
                // A question near a chunk of the same topic: between it and another of its cluster.
                let other = chunk_vector(&mut rng, &clusters, cluster);
                let mut v: Vec<f32> = c.vector.iter().zip(&other).map(|(x, y)| 0.6 * x + 0.4 * y).collect();
                l2_normalize(&mut v);
                v
            };
            queries.push((vector, words.join(" ")));
        }
        if !reuse {
            store
                .write(vec![DocumentWrite { document: document(&doc_id), pages: Vec::new(), chunks }])
                .await
                .expect("write");
        }
    }
    std::fs::write(&geometry_file, &geometry).expect("write the geometry");
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

    if a.analyze {
        // Warm, then print the executed plans of one query of each kind.
        for q in queries.iter().take(20) {
            store.text_search(&q.1, 10, &all).await.expect("text search");
            store.vector_search(&q.0, 10, &all).await.expect("vector search");
        }
        let (vector_plan, text_plan) = store.analyze_searches(&queries[0].0, &queries[0].1, 10).await.expect("analyze");
        println!("vector search plan:\n{vector_plan}\n\nfull-text search plan:\n{text_plan}");
    }
    // The searches take turns query by query (each first in turn), so that a change in the
    // machine's load or page cache between them does not decide the comparison.
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); SEARCHES.len()];
    let warm = n.min(20);
    let mut same_ranking = 0;
    for i in 0..warm + n {
        let q = &queries[i % n];
        let mut ranked: Vec<Vec<String>> = vec![Vec::new(); SEARCHES.len()];
        for turn in 0..SEARCHES.len() {
            let which = (i + turn) % SEARCHES.len();
            let started = Instant::now();
            let hits = search_once(&store, which, q, &all).await;
            if i >= warm {
                ms[which].push(started.elapsed().as_secs_f64() * 1000.0);
                assert!(!hits.is_empty(), "query {i} found nothing ({})", SEARCHES[which]);
            }
            ranked[which] = hits.into_iter().map(|h| h.chunk.id).collect();
        }
        if i >= warm && ranked[2] == ranked[3] {
            same_ranking += 1;
        }
    }
    let timing: Vec<Timing> = ms
        .iter_mut()
        .map(|m| {
            m.sort_by(f64::total_cmp);
            Timing { p50: percentile(m, 0.5), p95: percentile(m, 0.95) }
        })
        .collect();
    let (text, vector, hybrid, two_lists) = (&timing[0], &timing[1], &timing[2], &timing[3]);

    println!("chunks {}, --latent {}  (written in {write_s:.0} s, indexes in {index_s:.0} s)", a.chunks, a.latent);
    let setting = store.ann_setting();
    println!(
        "vector search: {} (recall@10 vs exact: {:?}; partitions, nprobes, ef: {setting:?})",
        state.method, state.recall_at_10
    );
    println!("hybrid rankings identical both ways: {same_ranking} of {n} queries");
    println!("{:<8} {:>9} {:>9}", "search", "p50 ms", "p95 ms");
    for (name, t) in SEARCHES.iter().zip(&timing) {
        println!("{name:<8} {:>9.2} {:>9.2}", t.p50, t.p95);
    }
    println!(
        "{}",
        serde_json::json!({
            "chunks": a.chunks, "latent": a.latent, "queries": n, "vector_method": state.method, "recall_at_10": state.recall_at_10,
            "ann_partitions_nprobes_ef": setting,
            "write_seconds": write_s, "index_seconds": index_s,
            "text_ms": {"p50": text.p50, "p95": text.p95},
            "vector_ms": {"p50": vector.p50, "p95": vector.p95},
            "hybrid_ms": {"p50": hybrid.p50, "p95": hybrid.p95},
            "hybrid_reading_both_lists_ms": {"p50": two_lists.p50, "p95": two_lists.p95},
            "hybrid_rankings_identical": same_ranking,
        })
    );
}
