//! Sentence embeddings: requests, results and the [`Embedder`] trait.

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// Whether a text is a search query or a document passage; families such as EmbeddingGemma,
/// E5 and nomic-embed were trained with a different prefix for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedRole {
    /// A question or search query.
    Query,
    /// A passage to be found.
    #[default]
    Document,
}

/// One embedded text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// The L2-normalised vector.
    pub vector: Vec<f32>,
    /// Tokens that were embedded (after truncation).
    pub tokens: u32,
    /// Whether the input was longer than the model's context and was cut.
    pub truncated: bool,
}

/// Something that embeds text: a local GGUF model, or later a remote endpoint.
pub trait Embedder: Send + Sync {
    /// Size of the vectors.
    fn dimensions(&self) -> usize;

    /// The languages the model was trained for (unknown models count as multilingual).
    fn languages(&self) -> crate::model::EmbedLanguages {
        crate::model::EmbedLanguages::Multilingual
    }

    /// The cosine at which a passage counts as close to a query for this model (see
    /// [`crate::model::relevance_floor`]).
    fn relevance_floor(&self) -> f32 {
        crate::model::DEFAULT_RELEVANCE_FLOOR
    }

    /// Embed `texts` (in order), each prefixed as the model family expects for `role`.
    ///
    /// # Errors
    /// Inference failures or a stopped worker.
    fn embed(
        &self,
        texts: Vec<String>,
        role: EmbedRole,
    ) -> impl Future<Output = Result<Vec<Embedding>, EngineError>> + Send;
}

/// Scores how well each document answers a query, in [0, 1] (a pointwise LLM reranker or a
/// cross-encoder). Object-safe: a searcher holds one as `&dyn Reranker`.
pub trait Reranker: Send + Sync {
    /// One score per document, in order.
    ///
    /// # Errors
    /// Inference failures or a stopped worker.
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: Vec<String>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<f32>, EngineError>> + Send + 'a>>;
}

/// Counts tokens the way an embedding model will see a text: chunks are sized with it.
pub trait TokenCounter {
    /// Tokens of `text` without the model's special tokens or prefixes.
    fn count(&self, text: &str) -> usize;
    /// Tokens the model adds to every document input: special tokens (`[CLS]`, `[SEP]`, BOS,
    /// EOS) and the family's document prefix (`passage: ` for e5).
    fn overhead(&self) -> usize;
}

/// Cosine similarity of two vectors (dot product over the norms; 0 for a zero vector).
#[must_use]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

/// Scale `v` to unit length in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_and_cosine() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert!((cosine(&v, &[6.0, 8.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&v, &[0.0, 0.0]), 0.0);
        let mut z = vec![0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, [0.0, 0.0]);
    }
}
