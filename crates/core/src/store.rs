//! The matter store's vocabulary: documents, pages and chunks as stored, search requests and
//! results, and the [`ChunkStore`] trait the ingestion pipeline and retrieval are written against.
//!
//! The LanceDB implementation lives in `lexdesk-store`; tests of orchestration use fakes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Whether a document made it into the index.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Pages and chunks are written; the document is searchable.
    Indexed,
    /// Pages and chunks are being written. A document found in this state when a writer opens
    /// the store was interrupted (crash, `kill -9`): its rows are removed and it is ingested again.
    Ingesting,
    /// Extraction failed; `error_code` and `error_message` say why. Nothing of it is searchable.
    Failed,
}

impl DocumentStatus {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Indexed => "indexed",
            Self::Ingesting => "ingesting",
            Self::Failed => "failed",
        }
    }

    /// Parse the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "indexed" => Some(Self::Indexed),
            "ingesting" => Some(Self::Ingesting),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One document of a matter.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Lower-case hex SHA-256 of the file's bytes: the same content is never stored twice.
    pub id: String,
    /// The file name as ingested (`contract.pdf`).
    pub file_name: String,
    /// The path as ingested.
    pub source_path: String,
    /// Title from the document (first heading or line) or the file name.
    pub title: String,
    /// `pdf`, `text`, `markdown`, `docx`, `html`.
    pub format: String,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Number of pages (1 for formats without pages).
    pub page_count: u32,
    /// Number of chunks in the index.
    pub chunk_count: u32,
    /// Pages whose text came from OCR.
    pub ocr_pages: u32,
    /// Indexed, ingesting or failed.
    pub status: DocumentStatus,
    /// A stable error code when failed (`PASSWORD_PROTECTED`, `TIMEOUT`, …).
    pub error_code: Option<String>,
    /// A readable reason when failed.
    pub error_message: Option<String>,
    /// The extractors used, e.g. `pdf-extract`, `pdf-extract+tesseract`.
    pub extractor: String,
    /// When it was added, milliseconds since the Unix epoch.
    pub added_at_ms: i64,
}

impl DocumentRecord {
    /// Whether the document has real pages to cite (a PDF); other formats are one page of text
    /// and their citations carry no page number.
    #[must_use]
    pub fn has_pages(&self) -> bool {
        self.format == "pdf"
    }
}

/// Where a page's text came from.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PageProvenance {
    /// The file's own text (PDF text layer, or a text format).
    TextLayer,
    /// Optical character recognition, with Tesseract's mean word confidence (0–100).
    Ocr {
        /// Mean word confidence.
        confidence: f32,
    },
}

impl PageProvenance {
    /// `text-layer` or `ocr`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TextLayer => "text-layer",
            Self::Ocr { .. } => "ocr",
        }
    }
}

/// The text of one page: the ground truth that citations are checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRecord {
    /// The document.
    pub doc_id: String,
    /// 1-based page number.
    pub number: u32,
    /// Normalised page text (chunk character offsets index into it).
    pub text: String,
    /// Text layer or OCR.
    pub provenance: PageProvenance,
    /// The extractor that produced the text.
    pub extractor: String,
    /// Why this page has no text, when it has none.
    pub error: Option<String>,
}

/// A searchable passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// `{doc_id}:{ordinal}`.
    pub id: String,
    /// The document.
    pub doc_id: String,
    /// Position in the document, from 0.
    pub ordinal: u32,
    /// First page (1-based).
    pub page_start: u32,
    /// Last page.
    pub page_end: u32,
    /// Character offset of the start in the first page's text.
    pub char_start: u32,
    /// Character offset of the end in the last page's text (exclusive).
    pub char_end: u32,
    /// Title, parts, chapters, article: `《民法典》 › 第三编 合同 › 第四百六十四条`.
    pub heading_path: Vec<String>,
    /// The passage.
    pub text: String,
    /// Tokens of the embedder's tokenizer.
    pub tokens: u32,
    /// `zh`, `en` or `mixed`.
    pub language: String,
    /// The embedding of heading path and text (L2-normalised).
    pub vector: Vec<f32>,
}

/// How to search.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Full-text and vector results fused (see [`convex_fusion`]).
    #[default]
    Hybrid,
    /// Nearest neighbours of the query's embedding.
    Vector,
    /// BM25 over the full-text index.
    Text,
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hybrid" => Ok(Self::Hybrid),
            "vector" => Ok(Self::Vector),
            "text" => Ok(Self::Text),
            other => Err(format!("unknown search mode `{other}` (hybrid, vector or text)")),
        }
    }
}

/// Restrict a search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Only these documents (by id); `None` means the whole matter.
    pub doc_ids: Option<Vec<String>>,
}

/// A chunk found by a search, without its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredChunk {
    /// The chunk (its `vector` is empty).
    pub chunk: ChunkRecord,
    /// Higher is better: cosine similarity for vector search, BM25 for text search, fused
    /// score (see [`convex_fusion`]) for hybrid search.
    pub score: f32,
}

/// What a store knows about its vector index.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorIndexState {
    /// Rows in the chunks table.
    pub chunks: usize,
    /// `exact` (brute force) or the ANN index type in use.
    pub method: String,
    /// Recall@10 of the ANN index against exact search when it was accepted.
    pub recall_at_10: Option<f32>,
}

/// Failures of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be opened or created.
    #[error("cannot open the store at {path}: {message}")]
    Open {
        /// The store's folder.
        path: String,
        /// Why.
        message: String,
    },
    /// Another process is writing to this matter.
    #[error("another LexDesk process is adding documents to this matter (lock held on {path})")]
    Locked {
        /// The lock file.
        path: String,
    },
    /// A vector has the wrong size for this store.
    #[error(
        "embedding size {got} does not match this matter's index ({expected}); the matter was built with another embedding model"
    )]
    DimensionMismatch {
        /// The store's vector size.
        expected: usize,
        /// The vector given.
        got: usize,
    },
    /// Reading or writing failed.
    #[error("store operation failed: {0}")]
    Backend(String),
}

crate::error_codes!(StoreError {
    Self::Open { .. } => "STORE_OPEN_FAILED", Io;
    Self::Locked { .. } => "MATTER_LOCKED", Conflict;
    Self::DimensionMismatch { .. } => "EMBEDDING_DIMENSION_MISMATCH", Conflict;
    Self::Backend(_) => "STORE_FAILED", Internal;
});

/// One document, its pages and chunks, written together.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentWrite {
    /// The document row (its status is set by the store).
    pub document: DocumentRecord,
    /// Its pages.
    pub pages: Vec<PageRecord>,
    /// Its chunks with vectors.
    pub chunks: Vec<ChunkRecord>,
}

/// A matter's store of documents, pages and chunks.
///
/// Writes are crash-safe per batch: documents are first recorded as [`DocumentStatus::Ingesting`],
/// then their pages and chunks are added, then they are marked indexed. Readers only ever see
/// chunks of indexed documents.
pub trait ChunkStore: Send + Sync {
    /// All documents, newest first.
    fn documents(&self) -> impl Future<Output = Result<Vec<DocumentRecord>, StoreError>> + Send;

    /// Write a batch of documents. A document whose id is already present is replaced.
    fn write(&self, batch: Vec<DocumentWrite>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Record documents that failed (no pages or chunks).
    fn record_failed(&self, docs: Vec<DocumentRecord>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Delete a document with its pages and chunks; false when it was not there.
    fn delete_document(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Pages of a document (all when `numbers` is empty).
    fn pages(&self, doc_id: &str, numbers: &[u32]) -> impl Future<Output = Result<Vec<PageRecord>, StoreError>> + Send;

    /// The `k` nearest chunks to `vector`.
    fn vector_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> impl Future<Output = Result<Vec<ScoredChunk>, StoreError>> + Send;

    /// The `k` best BM25 matches for `query`.
    fn text_search(
        &self,
        query: &str,
        k: usize,
        filter: &SearchFilter,
    ) -> impl Future<Output = Result<Vec<ScoredChunk>, StoreError>> + Send;

    /// Hybrid search: the `depth` best full-text and the `depth` nearest chunks, fused by
    /// [`convex_fusion`] (full text weighted `1 - vector_weight`) into the `k` best.
    ///
    /// The default runs [`Self::text_search`] and [`Self::vector_search`]; a store may do it more
    /// cheaply (LanceDB reads the chunks' columns only for the `k` fused hits) but must return the
    /// same ranking.
    fn hybrid_search(
        &self,
        request: HybridQuery<'_>,
        filter: &SearchFilter,
    ) -> impl Future<Output = Result<HybridHits, StoreError>> + Send {
        async move {
            let text = self.text_search(request.text, request.depth, filter).await?;
            let vector = self.vector_search(request.vector, request.depth, filter).await?;
            let w = request.vector_weight.clamp(0.0, 1.0);
            let fused = convex_fusion(&[(&text, 1.0 - w), (&vector, w)], request.k);
            Ok(HybridHits {
                text_scores: text.iter().map(|h| (h.chunk.id.clone(), h.score)).collect(),
                vector_scores: vector.iter().map(|h| (h.chunk.id.clone(), h.score)).collect(),
                fused,
            })
        }
    }

    /// Bring indexes up to date after writes (full-text index, vector index, compaction).
    fn optimize(&self) -> impl Future<Output = Result<VectorIndexState, StoreError>> + Send;
}

/// What [`ChunkStore::hybrid_search`] looks for.
#[derive(Debug, Clone, Copy)]
pub struct HybridQuery<'a> {
    /// The query for full-text search.
    pub text: &'a str,
    /// The query's vector.
    pub vector: &'a [f32],
    /// Results wanted.
    pub k: usize,
    /// How deep each list goes before fusion.
    pub depth: usize,
    /// The vector list's weight in [0, 1].
    pub vector_weight: f32,
}

/// What [`ChunkStore::hybrid_search`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HybridHits {
    /// Chunk id and BM25 score of every chunk the full-text list held, best first.
    pub text_scores: Vec<(String, f32)>,
    /// Chunk id and cosine similarity of every chunk the vector list held, nearest first.
    pub vector_scores: Vec<(String, f32)>,
    /// The `k` best after fusion, with their fused scores.
    pub fused: Vec<ScoredChunk>,
}

/// Fuse scored lists by a convex combination of their min–max normalised scores: each list
/// (with its weight) maps its scores to [0, 1] (best 1, worst 0) and a chunk's fused score is the
/// weighted sum over the lists that found it. On the development sets this beats reciprocal-rank
/// fusion and both single rankers (as Bruch et al., "An Analysis of Fusion Functions for Hybrid
/// Retrieval", 2023, found in general).
#[must_use]
pub fn convex_fusion(lists: &[(&[ScoredChunk], f32)], k: usize) -> Vec<ScoredChunk> {
    let mut chunks: HashMap<&str, &ScoredChunk> = HashMap::new();
    let scored: Vec<(Vec<(&str, f32)>, f32)> = lists
        .iter()
        .map(|(list, weight)| {
            for h in *list {
                chunks.entry(h.chunk.id.as_str()).or_insert(h);
            }
            (list.iter().map(|h| (h.chunk.id.as_str(), h.score)).collect(), *weight)
        })
        .collect();
    let refs: Vec<(&[(&str, f32)], f32)> = scored.iter().map(|(l, w)| (l.as_slice(), *w)).collect();
    fuse_scores(&refs, k)
        .into_iter()
        .filter_map(|(id, score)| chunks.get(id).map(|h| ScoredChunk { score, ..(*h).clone() }))
        .collect()
}

/// [`convex_fusion`] over bare `(key, score)` lists (a store fuses candidates before it reads
/// their chunks): the `k` best keys with their fused scores, best first, ties by key.
#[must_use]
pub fn fuse_scores<'a>(lists: &[(&[(&'a str, f32)], f32)], k: usize) -> Vec<(&'a str, f32)> {
    let mut scores: HashMap<&'a str, f32> = HashMap::new();
    for (list, weight) in lists {
        let (min, max) =
            list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, s)| (lo.min(s), hi.max(s)));
        for &(id, score) in *list {
            let normalised = if max > min { (score - min) / (max - min) } else { 1.0 };
            *scores.entry(id).or_insert(0.0) += weight * normalised;
        }
    }
    let mut fused: Vec<(&'a str, f32)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    fused.truncate(k);
    fused
}

#[cfg(test)]
mod tests {
    use super::{ChunkRecord, ScoredChunk, convex_fusion, fuse_scores};

    fn hit(id: &str, score: f32) -> ScoredChunk {
        let chunk = ChunkRecord {
            id: id.into(),
            doc_id: "d".into(),
            ordinal: 0,
            page_start: 1,
            page_end: 1,
            char_start: 0,
            char_end: 1,
            heading_path: Vec::new(),
            text: id.into(),
            tokens: 1,
            language: "en".into(),
            vector: Vec::new(),
        };
        ScoredChunk { chunk, score }
    }

    #[test]
    fn fusion_normalises_each_list_and_weighs_them() {
        // BM25 scores on one scale, cosines on another: each list maps to [0, 1] first.
        let text = [hit("a", 12.0), hit("b", 8.0), hit("c", 4.0)];
        let vector = [hit("c", 0.9), hit("d", 0.7), hit("a", 0.5)];
        let fused = convex_fusion(&[(&text, 0.5), (&vector, 0.5)], 10);
        let got: Vec<(&str, f32)> = fused.iter().map(|h| (h.chunk.id.as_str(), h.score)).collect();
        // a: 0.5·1 + 0.5·0 ; c: 0.5·0 + 0.5·1 ; b: 0.5·0.5 ; d: 0.5·0.5 — ties broken by id.
        assert_eq!(got, vec![("a", 0.5), ("c", 0.5), ("b", 0.25), ("d", 0.25)]);
        // Only the vector list counts at weight 1 for it.
        let fused = convex_fusion(&[(&text, 0.0), (&vector, 1.0)], 2);
        assert_eq!(fused.iter().map(|h| h.chunk.id.as_str()).collect::<Vec<_>>(), vec!["c", "d"]);
        // A list whose scores are all equal counts fully for each of its hits.
        let flat = [hit("x", 3.0), hit("y", 3.0)];
        assert!(convex_fusion(&[(&flat, 1.0)], 5).iter().all(|h| (h.score - 1.0).abs() < f32::EPSILON));
    }

    #[test]
    fn fusing_bare_scores_ranks_as_fusing_chunks() {
        let text = [hit("p", 2.5), hit("q", 2.0), hit("r", 0.5), hit("s", 0.1)];
        let vector = [hit("s", 0.8), hit("p", 0.79), hit("t", 0.3)];
        for w in [0.0, 0.25, 0.5, 0.9, 1.0] {
            let chunks = convex_fusion(&[(&text, 1.0 - w), (&vector, w)], 3);
            let t: Vec<(&str, f32)> = text.iter().map(|h| (h.chunk.id.as_str(), h.score)).collect();
            let v: Vec<(&str, f32)> = vector.iter().map(|h| (h.chunk.id.as_str(), h.score)).collect();
            let bare = fuse_scores(&[(&t, 1.0 - w), (&v, w)], 3);
            let from_chunks: Vec<(&str, f32)> = chunks.iter().map(|h| (h.chunk.id.as_str(), h.score)).collect();
            assert_eq!(bare, from_chunks, "weight {w}");
            assert_eq!(bare.len(), 3);
        }
    }
}
