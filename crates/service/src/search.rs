//! Search in one matter: full-text (BM25), vector, or both fused (convex combination of
//! normalised scores), with the units a legal reference names first.

use std::collections::{HashMap, HashSet};

use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder, Reranker};
use lexdesk_core::store::{
    ChunkStore, DocumentRecord, DocumentStatus, HybridQuery, ScoredChunk, SearchFilter, SearchMode, StoreError,
};
use serde::Serialize;

use crate::legal_ref::{self, LegalRef};

/// A search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query.
    pub query: String,
    /// Hybrid, vector or text.
    pub mode: SearchMode,
    /// Results wanted.
    pub top_k: usize,
    /// Restrict to the document with this file name, source path or id.
    pub doc: Option<String>,
    /// Weight of the vector list in hybrid fusion (the text list gets the rest); `None`: the
    /// searcher's default ([`Searcher::default_vector_weight`]).
    pub vector_weight: Option<f32>,
    /// Rerank the candidates with the searcher's reranker (`None`: when it has one; `Some(false)`
    /// skips it for this request).
    pub rerank: Option<bool>,
}

/// Weight of vector scores in hybrid fusion when the embedding model knows the query's language,
/// chosen on the development sets (equal weights beat 0.6/0.4 and 0.7/0.3 in favour of text on
/// en-nda-evidence).
pub const DEFAULT_VECTOR_WEIGHT: f32 = 0.5;

/// Weight of vector scores for Chinese queries when the embedding model knows Chinese
/// (multilingual-e5): on the development sets (zh-laws subset, `tests/eval/retrieval.py
/// --vector-weight`), zh-statute-semantic hit@1 / MRR@10 went 0.237/0.299 (0.3), 0.263/0.338
/// (0.4), 0.312/0.389 (0.5), 0.312/0.392 (0.6), 0.325/0.396 (0.7), zh-statute-recall stayed at
/// 0.960/0.980; English queries keep 0.5 (en-nda-evidence MRR@10 0.754 at 0.4, 0.750 at 0.5,
/// 0.737 at 0.6, 0.713 at 0.7).
pub const CHINESE_VECTOR_WEIGHT: f32 = 0.6;

/// Weight of vector scores when it does not (MiniLM and Chinese questions): 0.5 cost
/// zh-statute-semantic dev two thirds of its hit@1 (0.113 → 0.037); 0.1 and 0 tie with full text.
pub const FOREIGN_VECTOR_WEIGHT: f32 = 0.1;

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// Chunk id.
    pub chunk_id: String,
    /// Document id.
    pub doc_id: String,
    /// File name.
    pub doc: String,
    /// Path as ingested.
    pub source: String,
    /// Document title.
    pub title: String,
    /// First page.
    pub page: u32,
    /// Last page.
    pub page_end: u32,
    /// Character offsets in the page texts.
    pub char_start: u32,
    /// End offset (exclusive) in the last page's text.
    pub char_end: u32,
    /// Heading path joined with ` › `.
    pub heading: String,
    /// The passage.
    pub text: String,
    /// Score (see [`ScoredChunk::score`]).
    pub score: f32,
    /// Cosine similarity to the query, when vector search found this passage.
    pub vector_score: Option<f32>,
    /// BM25 score, when full-text search found this passage.
    pub text_score: Option<f32>,
    /// The passage is the unit a legal reference in the query names (e.g. `第五十七条` of the
    /// law the query names), put first by hybrid search.
    pub structural: bool,
    /// The reranker's score in [0, 1], when the hits were reranked.
    pub rerank_score: Option<f32>,
}

/// Failures of a search.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// No document of the matter matches the `doc` restriction.
    #[error("no document `{0}` in this matter")]
    DocumentNotFound(String),
    /// The query is empty.
    #[error("the query is empty")]
    EmptyQuery,
    /// Vector or hybrid search without an embedder.
    #[error("vector search needs the embedding model")]
    NoEmbedder,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Embedding the query failed.
    #[error("embedding the query failed: {0}")]
    Embed(#[from] EngineError),
}

lexdesk_core::error_codes!(SearchError {
    Self::DocumentNotFound(_) => "DOCUMENT_NOT_FOUND", NotFound;
    Self::EmptyQuery => "EMPTY_QUERY", InvalidInput;
    Self::NoEmbedder => "NO_EMBEDDER", ModelFile;
} wraps {
    Self::Store(e) => e,
    Self::Embed(e) => e,
});

/// Whether `doc` names this document: its file name, its source path, its id, or a prefix of
/// the id of at least 8 characters.
#[must_use]
pub fn names_document(d: &DocumentRecord, doc: &str) -> bool {
    d.file_name == doc || d.source_path == doc || d.id == doc || (doc.len() >= 8 && d.id.starts_with(doc))
}

/// Whether `text` contains `name` as a whole: not preceded or followed by a Latin letter, a
/// digit or a character of a file name (`-`, `_`, `.` followed by a letter or digit). Chinese
/// text runs on without spaces, so Chinese characters around the name do not count.
fn names_file(text: &str, name: &str) -> bool {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + name.len()..].chars();
        let next = after.next();
        !before.is_some_and(part_of_name)
            && !next.is_some_and(|c| part_of_name(c) || (c == '.' && after.next().is_some_and(part_of_name)))
    })
}

/// Whether the passage is the unit `r` names: its own heading, or one of its lines (short
/// articles merged into one passage each start a line with their label).
fn names_unit(h: &ScoredChunk, r: &LegalRef) -> bool {
    h.chunk.heading_path.last().is_some_and(|last| legal_ref::heading_matches(last, r))
        || h.chunk.text.lines().any(|line| legal_ref::heading_matches(line, r))
}

/// The version date in a document's file name or title, as statutes' files carry it
/// (`劳动合同法(2012-12-28).md`).
fn version_date(d: &DocumentRecord) -> Option<String> {
    static DATE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"[(（](\d{4}-\d{2}-\d{2})[)）]").expect("valid"));
    DATE.captures(&d.file_name).or_else(|| DATE.captures(&d.title)).map(|c| c[1].to_string())
}

/// A long article is stored as several chunks (split at 款 or sentences); as a structural
/// match it is returned whole: consecutive chunks of one document whose own heading is the unit
/// become one passage (text joined, page span and end offset extended).
fn merge_units(sorted: Vec<ScoredChunk>, r: &LegalRef) -> Vec<ScoredChunk> {
    let own = |h: &ScoredChunk| h.chunk.heading_path.last().is_some_and(|last| legal_ref::heading_matches(last, r));
    // Each merged passage with the ordinal of the last chunk merged into it.
    let mut out: Vec<(ScoredChunk, u32)> = Vec::new();
    for h in sorted {
        if let Some((prev, last)) = out.last_mut()
            && own(prev)
            && own(&h)
            && prev.chunk.doc_id == h.chunk.doc_id
            && prev.chunk.heading_path == h.chunk.heading_path
            && *last + 1 == h.chunk.ordinal
        {
            prev.chunk.text.push('\n');
            prev.chunk.text.push_str(&h.chunk.text);
            prev.chunk.page_end = h.chunk.page_end;
            prev.chunk.char_end = h.chunk.char_end;
            prev.chunk.tokens += h.chunk.tokens;
            prev.score = prev.score.max(h.score);
            *last = h.chunk.ordinal;
            continue;
        }
        let ordinal = h.chunk.ordinal;
        out.push((h, ordinal));
    }
    out.into_iter().map(|(h, _)| h).collect()
}

/// Reorder `hits` by `reranker`'s scores (best first; equal scores keep their order); structural
/// matches stay first, as the unit the query names.
async fn rerank(reranker: &dyn Reranker, query: &str, hits: Vec<SearchHit>) -> Result<Vec<SearchHit>, SearchError> {
    let (mut first, mut rest): (Vec<SearchHit>, Vec<SearchHit>) = hits.into_iter().partition(|h| h.structural);
    let texts = rest.iter().map(|h| format!("{}\n{}", h.heading, h.text)).collect();
    let scores = reranker.rerank(query, texts).await?;
    for (h, s) in rest.iter_mut().zip(scores) {
        h.rerank_score = Some(s);
    }
    rest.sort_by(|a, b| b.rerank_score.unwrap_or(0.0).total_cmp(&a.rerank_score.unwrap_or(0.0)));
    first.extend(rest);
    Ok(first)
}

/// Searches one matter; holds its document list so that batches of queries do not re-read it.
pub struct Searcher<'a, S, E> {
    store: &'a S,
    embedder: Option<&'a E>,
    documents: HashMap<String, DocumentRecord>,
    /// Reorders the first `depth` candidates (structural matches stay first).
    reranker: Option<(&'a dyn Reranker, usize)>,
}

impl<S, E> std::fmt::Debug for Searcher<'_, S, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Searcher")
            .field("documents", &self.documents.len())
            .field("rerank_depth", &self.reranker.map(|r| r.1))
            .finish_non_exhaustive()
    }
}

impl<'a, S: ChunkStore, E: Embedder> Searcher<'a, S, E> {
    /// A searcher over `store`; `embedder` is needed for vector and hybrid search.
    ///
    /// # Errors
    /// The store cannot list its documents.
    pub async fn new(store: &'a S, embedder: Option<&'a E>) -> Result<Self, SearchError> {
        let documents = store
            .documents()
            .await?
            .into_iter()
            .filter(|d| d.status == DocumentStatus::Indexed)
            .map(|d| (d.id.clone(), d))
            .collect();
        Ok(Self { store, embedder, documents, reranker: None })
    }

    /// Rerank the first `depth` candidates of every search (at least its `top_k`) with
    /// `reranker`, unless a request says otherwise.
    #[must_use]
    pub fn with_reranker(mut self, reranker: &'a dyn Reranker, depth: usize) -> Self {
        self.reranker = Some((reranker, depth.max(1)));
        self
    }

    /// The store searched.
    #[must_use]
    pub fn store(&self) -> &'a S {
        self.store
    }

    /// An indexed document by id.
    #[must_use]
    pub fn document(&self, id: &str) -> Option<&DocumentRecord> {
        self.documents.get(id)
    }

    /// Ids of the documents `doc` names: a file name, a source path, or an id (or its prefix of at
    /// least 8 characters).
    ///
    /// # Errors
    /// [`SearchError::DocumentNotFound`].
    pub fn resolve_doc(&self, doc: &str) -> Result<Vec<String>, SearchError> {
        let mut ids: Vec<String> =
            self.documents.values().filter(|d| names_document(d, doc)).map(|d| d.id.clone()).collect();
        ids.sort();
        if ids.is_empty() { Err(SearchError::DocumentNotFound(doc.to_string())) } else { Ok(ids) }
    }

    /// Run one search.
    ///
    /// Hybrid search fuses full-text and vector results (see [`lexdesk_core::store::convex_fusion`]) and puts first the
    /// passages that a legal reference in the query names exactly (see [`Self::structural`]).
    ///
    /// # Errors
    /// Empty query, unknown document, missing embedder, store or embedder failure.
    pub async fn search(&self, request: &SearchRequest) -> Result<Vec<SearchHit>, SearchError> {
        if request.query.trim().is_empty() {
            return Err(SearchError::EmptyQuery);
        }
        let filter = SearchFilter { doc_ids: request.doc.as_deref().map(|d| self.resolve_doc(d)).transpose()? };
        let reranker = self.reranker.filter(|_| request.rerank != Some(false));
        // Reranking picks the best of more candidates than are returned.
        let k = reranker.map_or(request.top_k, |(_, depth)| request.top_k.max(depth));
        // Each list goes deeper than k so that fusion can promote a chunk both lists agree on
        // (and min–max normalisation has a stable floor).
        let depth = (k * 4).max(40);
        let mut text_scores: HashMap<String, f32> = HashMap::new();
        let mut vector_scores: HashMap<String, f32> = HashMap::new();
        let note = |list: &[ScoredChunk], into: &mut HashMap<String, f32>| {
            for h in list {
                into.entry(h.chunk.id.clone()).or_insert(h.score);
            }
        };
        let mut structural: Vec<ScoredChunk> = Vec::new();
        let hits: Vec<ScoredChunk> = match request.mode {
            SearchMode::Text => {
                let text = self.store.text_search(&request.query, k, &filter).await?;
                note(&text, &mut text_scores);
                text
            }
            SearchMode::Vector => {
                let v = self.embed_query(&request.query).await?;
                let vector = self.store.vector_search(&v, k, &filter).await?;
                note(&vector, &mut vector_scores);
                vector
            }
            SearchMode::Hybrid => {
                let v = self.embed_query(&request.query).await?;
                let w = request.vector_weight.unwrap_or_else(|| self.default_vector_weight(&request.query));
                let query =
                    HybridQuery { text: &request.query, vector: &v, k, depth, vector_weight: w.clamp(0.0, 1.0) };
                let found = self.store.hybrid_search(query, &filter).await?;
                for (scores, into) in [(found.text_scores, &mut text_scores), (found.vector_scores, &mut vector_scores)]
                {
                    for (id, score) in scores {
                        into.entry(id).or_insert(score);
                    }
                }
                structural = self.structural(&request.query, &filter).await?;
                found.fused
            }
        };
        let structural_ids: HashSet<String> = structural.iter().map(|h| h.chunk.id.clone()).collect();
        let mut ordered: Vec<ScoredChunk> = structural;
        ordered.extend(hits.into_iter().filter(|h| !structural_ids.contains(&h.chunk.id)));
        ordered.truncate(k);
        let mut out: Vec<SearchHit> = ordered
            .into_iter()
            .filter_map(|h| {
                let id = h.chunk.id.clone();
                let mut hit = self.hit(h)?;
                hit.text_score = text_scores.get(&id).copied();
                hit.vector_score = vector_scores.get(&id).copied();
                hit.structural = structural_ids.contains(&id);
                Some(hit)
            })
            .collect();
        if let Some((reranker, _)) = reranker {
            out = rerank(reranker, &request.query, out).await?;
        }
        out.truncate(request.top_k);
        Ok(out)
    }

    /// [`DEFAULT_VECTOR_WEIGHT`] ([`CHINESE_VECTOR_WEIGHT`] for a Chinese query), or
    /// [`FOREIGN_VECTOR_WEIGHT`] when the embedding model was not trained for the query's language.
    #[must_use]
    pub fn default_vector_weight(&self, query: &str) -> f32 {
        if !self.vectors_understand(query) {
            FOREIGN_VECTOR_WEIGHT
        } else if lexdesk_text::analyze::is_chinese(query) {
            CHINESE_VECTOR_WEIGHT
        } else {
            DEFAULT_VECTOR_WEIGHT
        }
    }

    /// Whether the embedding model was trained for the language of `text` (so that cosine
    /// similarities to it mean something). False without an embedder.
    #[must_use]
    pub fn vectors_understand(&self, text: &str) -> bool {
        self.embedder.is_some_and(|e| e.languages().understands(lexdesk_text::analyze::is_chinese(text)))
    }

    /// The cosine at which a passage counts as close to a query for the embedding model in use.
    #[must_use]
    pub fn relevance_floor(&self) -> f32 {
        self.embedder.map_or(lexdesk_core::model::DEFAULT_RELEVANCE_FLOOR, Embedder::relevance_floor)
    }

    /// The one document whose file name the text names (`… in nda-0039.txt …`, compared
    /// without regard to case, as a whole word: not inside a longer name); `None` when it names
    /// none or several. A question that names a file is asked of that file
    /// ([`crate::answer::ask`]).
    #[must_use]
    pub fn file_named(&self, text: &str) -> Option<&DocumentRecord> {
        let text = text.to_lowercase();
        let named: Vec<&DocumentRecord> = self
            .documents
            .values()
            .filter(|d| {
                let name = d.file_name.to_lowercase();
                // A name with an extension, long enough not to be a word of the question.
                name.contains('.') && name.chars().count() >= 5 && names_file(&text, &name)
            })
            .collect();
        // The longest name wins (`示例.md` is inside `劳动合同示例.md`); several documents with
        // that one name (versions in different folders) are still one name.
        let longest = named.iter().map(|d| d.file_name.chars().count()).max()?;
        let mut top = named.into_iter().filter(|d| d.file_name.chars().count() == longest);
        let first = top.next()?;
        top.all(|d| d.file_name.to_lowercase() == first.file_name.to_lowercase()).then_some(first)
    }

    /// Documents whose title the query names (`劳动合同法` names 《中华人民共和国劳动合同法》
    /// in every version); the longest title named wins, so `保障法` does not name them all.
    #[must_use]
    pub fn named_documents(&self, query: &str) -> Vec<String> {
        let mut best = 0usize;
        let mut ids = Vec::new();
        for d in self.documents.values() {
            let core = legal_ref::title_core(&d.title);
            let len = core.chars().count();
            if len < 2 || !query.contains(core) {
                continue;
            }
            if len > best {
                best = len;
                ids.clear();
            }
            if len == best {
                ids.push(d.id.clone());
            }
        }
        ids.sort();
        ids
    }

    /// The passages that a legal reference in the query names exactly: a heading (or a line
    /// start, for short articles merged into one passage) carrying the label, in the documents the
    /// query names if it names any. Found through the full-text index, then checked.
    async fn structural(&self, query: &str, filter: &SearchFilter) -> Result<Vec<ScoredChunk>, SearchError> {
        let refs = legal_ref::references(query);
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let named = self.named_documents(query);
        let doc_ids = match (&filter.doc_ids, named.is_empty()) {
            (Some(only), false) => Some(named.into_iter().filter(|d| only.contains(d)).collect()),
            (Some(only), true) => Some(only.clone()),
            (None, false) => Some(named),
            (None, true) => None,
        };
        let narrowed = SearchFilter { doc_ids };
        let mut out: Vec<ScoredChunk> = Vec::new();
        for r in &refs {
            let mut found: Vec<ScoredChunk> = self
                .store
                .text_search(&r.label, 100, &narrowed)
                .await?
                .into_iter()
                .filter(|h| names_unit(h, r))
                .collect();
            // The current law first (newest version of the named document), then document order.
            found.sort_by(|a, b| {
                let date = |h: &ScoredChunk| self.documents.get(&h.chunk.doc_id).and_then(version_date);
                date(b)
                    .cmp(&date(a))
                    .then_with(|| a.chunk.doc_id.cmp(&b.chunk.doc_id))
                    .then(a.chunk.ordinal.cmp(&b.chunk.ordinal))
            });
            out.extend(merge_units(found, r));
        }
        let mut seen = HashSet::new();
        out.retain(|h| seen.insert(h.chunk.id.clone()));
        Ok(out)
    }

    async fn embed_query(&self, query: &str) -> Result<Vec<f32>, SearchError> {
        let embedder = self.embedder.ok_or(SearchError::NoEmbedder)?;
        let mut v = embedder.embed(vec![query.to_string()], EmbedRole::Query).await?;
        Ok(v.pop().map(|e| e.vector).unwrap_or_default())
    }

    fn hit(&self, h: ScoredChunk) -> Option<SearchHit> {
        let d = self.documents.get(&h.chunk.doc_id)?;
        Some(SearchHit {
            chunk_id: h.chunk.id,
            doc_id: d.id.clone(),
            doc: d.file_name.clone(),
            source: d.source_path.clone(),
            title: d.title.clone(),
            page: h.chunk.page_start,
            page_end: h.chunk.page_end,
            char_start: h.chunk.char_start,
            char_end: h.chunk.char_end,
            heading: h.chunk.heading_path.join(" › "),
            text: h.chunk.text,
            score: h.score,
            vector_score: None,
            text_score: None,
            structural: false,
            rerank_score: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::names_file;

    #[test]
    fn a_file_name_is_named_only_as_a_whole() {
        assert!(names_file("under the agreement in nda-0039.txt, is the following true?", "nda-0039.txt"));
        assert!(names_file("nda-0039.txt.", "nda-0039.txt"), "a sentence may end after it");
        assert!(names_file("《劳动合同示例.md》第一条", "劳动合同示例.md"));
        assert!(names_file("请看劳动合同示例.md第一条", "劳动合同示例.md"));
        assert!(names_file(&"Under Contract_v2.PDF, may it…".to_lowercase(), "contract_v2.pdf"));
        assert!(!names_file("see nda-0039.txt.bak", "nda-0039.txt"));
        assert!(!names_file("see old-nda-0039.txt", "nda-0039.txt"));
        assert!(!names_file("see nda-0039.txt2", "nda-0039.txt"));
        assert!(!names_file("the nda", "nda-0039.txt"));
    }
}
