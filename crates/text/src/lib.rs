//! Text analysis shared by the store (what the full-text index sees) and the service (query
//! terms for relevance checks): Chinese word segmentation with jieba, Latin text passed through.

pub mod analyze;
