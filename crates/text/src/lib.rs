//! Text analysis shared by the store (what the full-text index sees) and the service (query
//! terms for relevance checks): Chinese word segmentation with jieba, Latin text passed through;
//! legal references (`第五十七条`, `Section 2.3`) in queries, headings and gold sets.

pub mod analyze;
pub mod legal_ref;
