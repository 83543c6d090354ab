//! Fakes of the core traits for orchestration tests: a bag-of-words embedder, an in-memory
//! chunk store and a scripted generator. They stand in for llama.cpp and LanceDB in unit tests
//! of the service, the templates and the desk; every capability is also tested for real with
//! the real models and store (`tests/e2e`).
#![allow(clippy::cast_precision_loss, clippy::missing_panics_doc)]

use std::collections::HashMap;
use std::sync::Mutex;

use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder, Embedding, l2_normalize};
use lexdesk_core::generate::{
    CancelToken, FinishReason, GenerateRequest, GenerationEvent, GenerationStream, Generator, Prompt, PromptFormat,
    RenderedPrompt, Usage,
};
use lexdesk_core::store::{
    ChunkRecord, ChunkStore, DocumentRecord, DocumentStatus, DocumentWrite, PageRecord, ScoredChunk, SearchFilter,
    StoreError, VectorIndexState,
};

/// The fake embedder's vector size.
pub const DIMS: usize = 32;

/// Bag-of-words hashed into 32 buckets: similar texts get similar vectors.
#[derive(Debug, Default)]
pub struct FakeEmbedder {
    /// How many times `embed` was called.
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
                Embedding {
                    vector: v,
                    tokens: u32::try_from(t.split_whitespace().count()).unwrap_or(u32::MAX),
                    truncated: false,
                }
            })
            .collect())
    }
}

/// A chunk store in memory: substring full-text search, exact cosine vector search.
#[derive(Debug, Default)]
pub struct FakeStore {
    /// Documents by id.
    pub docs: Mutex<HashMap<String, DocumentRecord>>,
    /// Every page.
    pub pages: Mutex<Vec<PageRecord>>,
    /// Every chunk.
    pub chunks: Mutex<Vec<ChunkRecord>>,
    /// How many write batches were committed.
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

/// A generator that answers from a script (one reply per request, in turn), streams it word by
/// word, counts a token per four characters, and refuses a prompt that does not fit its context
/// with the answer's reserve, as llama.cpp does.
#[derive(Debug)]
pub struct Scripted {
    /// The replies, used in turn.
    pub replies: Vec<String>,
    /// Its context length in tokens.
    pub context: u32,
    /// Every request it was given.
    pub seen: Mutex<Vec<GenerateRequest>>,
}

impl Scripted {
    /// Replies in turn, with an 8,192-token context.
    #[must_use]
    pub fn new(replies: &[&str]) -> Self {
        Self { replies: replies.iter().map(|s| (*s).to_owned()).collect(), context: 8192, seen: Mutex::new(Vec::new()) }
    }

    /// One reply to every request, with a 4,096-token context (a small local model's).
    #[must_use]
    pub fn reply(reply: &str) -> Self {
        Self { context: 4096, ..Self::new(&[reply]) }
    }

    /// The requests it was given so far.
    pub fn seen(&self) -> Vec<GenerateRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// The fake's token count: a token per four characters.
#[must_use]
pub fn tokens(prompt: &Prompt) -> u32 {
    let chars = match prompt {
        Prompt::Chat(m) => m.iter().map(|m| m.content.chars().count()).sum::<usize>(),
        Prompt::Raw(t) => t.chars().count(),
    };
    u32::try_from(chars / 4 + 1).unwrap_or(u32::MAX)
}

impl Generator for Scripted {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError> {
        let prompt_tokens = tokens(&request.prompt);
        if prompt_tokens + request.max_tokens > self.context {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: u64::from(prompt_tokens),
                context: u64::from(self.context),
                reserved: u64::from(request.max_tokens),
            });
        }
        let mut seen = self.seen.lock().unwrap();
        let reply = self.replies[seen.len() % self.replies.len()].clone();
        seen.push(request);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            tx.send(Ok(GenerationEvent::Started {
                format: PromptFormat::ModelTemplate,
                prompt_tokens,
                cached_prompt_tokens: 0,
            }))
            .await
            .ok();
            let pieces: Vec<&str> = reply.split_inclusive(' ').collect();
            for piece in &pieces {
                tx.send(Ok(GenerationEvent::Token { text: (*piece).to_owned() })).await.ok();
            }
            let usage = Usage {
                prompt_tokens,
                completion_tokens: u32::try_from(pieces.len()).unwrap_or(u32::MAX),
                time_to_first_token_ms: 5.0,
                ..Usage::default()
            };
            tx.send(Ok(GenerationEvent::Done { finish_reason: FinishReason::Stop, usage })).await.ok();
        });
        Ok(GenerationStream::new(rx, CancelToken::new()))
    }

    async fn render(&self, prompt: &Prompt) -> Result<RenderedPrompt, EngineError> {
        let text = match prompt {
            Prompt::Chat(m) => m.iter().map(|m| format!("<{}>{}", m.role.as_str(), m.content)).collect(),
            Prompt::Raw(t) => t.clone(),
        };
        Ok(RenderedPrompt { text, format: PromptFormat::ModelTemplate, tokens: tokens(prompt) })
    }

    fn context_length(&self) -> u32 {
        self.context
    }
}
