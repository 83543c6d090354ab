//! The answer *policy*: how the caller's request, the configuration, a template and the model's
//! context decide an answer's [`AskOptions`]. Pure, unit-tested with no model.

use lexdesk_core::generate::Sampling;
use lexdesk_core::store::SearchMode;

use super::{AnswerMode, AskOptions};

/// The most passages a question may retrieve as evidence.
pub const MAX_TOP_K: u32 = 50;

/// A prompt template's shaping of an answer: its answer length, sampling and the instructions
/// that join the system prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateShaping {
    /// The template's answer length.
    pub max_tokens: u32,
    /// The template's sampling.
    pub sampling: Sampling,
    /// Its role, requirements and output format, as system-prompt text.
    pub instructions: String,
}

/// Everything besides the question that decides an answer's [`AskOptions`]: what the caller
/// asked for, the configuration, a template, the chat model's context.
#[derive(Debug, Clone, Default)]
pub struct AnswerPolicy {
    /// Generate or extractive.
    pub mode: AnswerMode,
    /// Retrieval mode.
    pub search_mode: SearchMode,
    /// Passages the caller asked for.
    pub top_k: Option<u32>,
    /// Answer length the caller asked for.
    pub max_tokens: Option<u32>,
    /// The configured answer length (`[generation] max_tokens`).
    pub configured_max_tokens: u32,
    /// A template shaping the answer.
    pub template: Option<TemplateShaping>,
    /// The chat model's context length (`None` without a model: extractive answers).
    pub context_length: Option<u32>,
    /// A sampling seed (evaluations fix one; greedy answers do not need it).
    pub seed: Option<u32>,
}

/// The answer options of a policy, the one place their rules live:
/// - evidence: the caller's `top_k` clamped to 1…[`MAX_TOP_K`], else the default (6);
/// - answer length: the caller's, else the template's, else the configured one; clamped to
///   16…8,192 and to at most half the model's context, so a small context still leaves room for
///   evidence;
/// - sampling: the template's, with the default's repeat penalty (small models loop without
///   it); else greedy with that penalty, so answers are reproducible; the caller's seed, if any.
#[must_use]
pub fn answer_options(policy: &AnswerPolicy) -> AskOptions {
    let defaults = AskOptions::default();
    let (answer_tokens, sampling) = match &policy.template {
        Some(t) => (t.max_tokens, Sampling { repeat_penalty: defaults.sampling.repeat_penalty, ..t.sampling.clone() }),
        None => (policy.configured_max_tokens, defaults.sampling.clone()),
    };
    let sampling = Sampling { seed: policy.seed.or(sampling.seed), ..sampling };
    AskOptions {
        mode: policy.mode,
        search_mode: policy.search_mode,
        evidence: policy.top_k.map_or(defaults.evidence, |k| usize::try_from(k.clamp(1, MAX_TOP_K)).unwrap_or(1)),
        max_answer_tokens: policy
            .max_tokens
            .unwrap_or(answer_tokens)
            .clamp(16, 8192)
            .min(policy.context_length.map_or(u32::MAX, |c| (c / 2).max(16))),
        sampling,
        instructions: policy.template.as_ref().map(|t| t.instructions.clone()),
        ..defaults
    }
}
