//! In-memory fakes of the core traits, shared by the service's integration tests.
#![allow(dead_code, clippy::cast_precision_loss)]

use std::collections::HashMap;
use std::sync::Mutex;

use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder, Embedding, l2_normalize};
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, PageRecord, ScoredChunk, SearchFilter,
    StoreError, VectorIndexState,
};

pub const DIMS: usize = 32;

/// Bag-of-words hashed into 32 buckets: similar texts get similar vectors.
pub struct FakeEmbedder {
    pub calls: Mutex<usize>,
}

fn bucket(word: &str) -> usize {
    word.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % DIMS
}

impl Embedder for FakeEmbedder {
    fn dimensions(&self) -> usize {
        DIMS
    }
    async fn embed(&self, texts: Vec<String>, _role: EmbedRole) -> Result<Vec<Embedding>, EngineError> {
        *self.calls.lock().unwrap() += 1;
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; DIMS];
                for w in t.split_whitespace() {
                    v[bucket(&w.to_lowercase())] += 1.0;
                }
                l2_normalize(&mut v);
                Embedding { vector: v, tokens: u32::try_from(t.split_whitespace().count()).unwrap(), truncated: false }
            })
            .collect())
    }
}

pub struct WordCounter;

impl lexdesk_ingest::TokenCounter for WordCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count() + text.chars().filter(|c| !c.is_ascii()).count()
    }
    fn overhead(&self) -> usize {
        2
    }
}

#[derive(Default)]
pub struct FakeStore {
    pub docs: Mutex<HashMap<String, DocumentRecord>>,
    pub pages: Mutex<Vec<PageRecord>>,
    pub chunks: Mutex<Vec<ChunkRecord>>,
    pub writes: Mutex<usize>,
}

impl ChunkStore for FakeStore {
    async fn documents(&self) -> Result<Vec<DocumentRecord>, StoreError> {
        Ok(self.docs.lock().unwrap().values().cloned().collect())
    }
    async fn write(&self, batch: Vec<DocumentWrite>) -> Result<(), StoreError> {
        *self.writes.lock().unwrap() += 1;
        for w in batch {
            self.delete_document(&w.document.id).await?;
            self.pages.lock().unwrap().extend(w.pages);
            self.chunks.lock().unwrap().extend(w.chunks);
            self.docs
                .lock()
                .unwrap()
                .insert(w.document.id.clone(), DocumentRecord { status: DocumentStatus::Indexed, ..w.document });
        }
        Ok(())
    }
    async fn record_failed(&self, docs: Vec<DocumentRecord>) -> Result<(), StoreError> {
        for d in docs {
            self.docs.lock().unwrap().insert(d.id.clone(), DocumentRecord { status: DocumentStatus::Failed, ..d });
        }
        Ok(())
    }
    async fn delete_document(&self, id: &str) -> Result<bool, StoreError> {
        self.pages.lock().unwrap().retain(|p| p.doc_id != id);
        self.chunks.lock().unwrap().retain(|c| c.doc_id != id);
        Ok(self.docs.lock().unwrap().remove(id).is_some())
    }
    async fn pages(&self, doc_id: &str, numbers: &[u32]) -> Result<Vec<PageRecord>, StoreError> {
        Ok(self
            .pages
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.doc_id == doc_id && (numbers.is_empty() || numbers.contains(&p.number)))
            .cloned()
            .collect())
    }
    async fn vector_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let mut hits: Vec<ScoredChunk> = self
            .chunks
            .lock()
            .unwrap()
            .iter()
            .filter(|c| filter.doc_ids.as_ref().is_none_or(|ids| ids.contains(&c.doc_id)))
            .map(|c| ScoredChunk { score: lexdesk_core::embed::cosine(vector, &c.vector), chunk: c.clone() })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }
    async fn text_search(&self, query: &str, k: usize, filter: &SearchFilter) -> Result<Vec<ScoredChunk>, StoreError> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut hits: Vec<ScoredChunk> = self
            .chunks
            .lock()
            .unwrap()
            .iter()
            .filter(|c| filter.doc_ids.as_ref().is_none_or(|ids| ids.contains(&c.doc_id)))
            .map(|c| {
                let text = c.text.to_lowercase();
                ScoredChunk {
                    score: words.iter().filter(|w| text.contains(w.as_str())).count() as f32,
                    chunk: c.clone(),
                }
            })
            .filter(|h| h.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }
    async fn optimize(&self) -> Result<VectorIndexState, StoreError> {
        Ok(VectorIndexState { chunks: self.chunks.lock().unwrap().len(), method: "exact".into(), recall_at_10: None })
    }
}
