//! Grounded answers: retrieve, judge relevance, prompt, stream, then check every citation.
//!
//! The model sees the retrieved passages as sources `[S1]…[Sn]` (title, page, heading), declared
//! to be data, and is asked to end each sentence with `[S#: "verbatim quote"]`. Afterwards each
//! marker is resolved to its passage and the quote is looked up on the stored page text of that
//! passage's pages ([`crate::cite`]); a citation is `verified` only when the quote is there. A
//! sentence without a verified citation is an unsupported claim. When retrieval finds nothing
//! relevant, or the model abstains, or no claim could be verified, the answer abstains: it says
//! that the documents of this matter do not address the question and shows what was searched.
//!
//! The extractive mode answers with the best passages themselves (the sentences that share most
//! terms with the question), checked the same way, without generation.

mod claims;
mod policy;
mod prompt;
mod verify;

use std::time::Instant;

use lexdesk_core::EngineError;
use lexdesk_core::embed::Embedder;
use lexdesk_core::generate::{
    CancelToken, ChatMessage, GenerateRequest, GenerationEvent, Generator, Prompt, Sampling, Usage,
};
use lexdesk_core::store::{ChunkStore, SearchMode, StoreError};
use lexdesk_text::analyze::{content_terms, weighted_coverage};
use serde::Serialize;

pub use claims::{Claim, Marker, parse_claims};
pub use policy::{AnswerPolicy, MAX_TOP_K, TemplateShaping, answer_options};
pub use prompt::abstain_phrase;
use prompt::{abstention_message, build_prompt, extractive_intro};
use verify::{Evidence, PageCache, check_claims, extractive, label_number};

use crate::cite;
use crate::search::{SearchError, SearchHit, SearchRequest, Searcher};

/// Generated answer with citations, or the best passages alone.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AnswerMode {
    /// The chat model writes the answer.
    #[default]
    Generate,
    /// The best verified passages, no generation.
    Extractive,
}

impl std::str::FromStr for AnswerMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "generate" => Ok(Self::Generate),
            "extractive" => Ok(Self::Extractive),
            other => Err(format!("unknown answer mode `{other}` (generate or extractive)")),
        }
    }
}

/// The language of a question (and of the prompt and answer).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Chinese.
    Zh,
    /// English.
    En,
}

impl Language {
    /// Chinese when at least a fifth of the letters are Han characters.
    #[must_use]
    pub fn detect(text: &str) -> Self {
        if lexdesk_text::analyze::is_chinese(text) { Self::Zh } else { Self::En }
    }
}

/// How to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AskOptions {
    /// Generate or extractive.
    pub mode: AnswerMode,
    /// Retrieval mode.
    pub search_mode: SearchMode,
    /// Passages retrieved as evidence (fewer reach the prompt when the context is short).
    pub evidence: usize,
    /// Tokens reserved for the answer.
    pub max_answer_tokens: u32,
    /// A passage is relevant when its cosine similarity to the question reaches this (and it
    /// shares at least one content term with the question; `None`: the embedding model's own
    /// floor, [`lexdesk_core::embed::Embedder::relevance_floor`])…
    pub min_vector_score: Option<f32>,
    /// …or when it contains this share of the question's content terms…
    pub min_term_coverage: f32,
    // …or when it is the exact unit a legal reference in the question names.
    /// Sampling (greedy by default: answers are reproducible).
    pub sampling: Sampling,
    /// Extra instructions from a prompt template, appended to the system prompt.
    pub instructions: Option<String>,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            mode: AnswerMode::Generate,
            search_mode: SearchMode::Hybrid,
            evidence: 6,
            max_answer_tokens: 512,
            min_vector_score: None,
            min_term_coverage: 0.6,
            // Greedy (reproducible), with a mild penalty against the loops small models fall into.
            sampling: Sampling { repeat_penalty: 1.1, ..Sampling::greedy() },
            instructions: None,
        }
    }
}

/// One earlier exchange of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The question.
    pub question: String,
    /// The answer as shown.
    pub answer: String,
    /// The user message as the model saw it (sources and question): sent again unchanged in
    /// follow-ups so that the model's cached prefix is reused.
    pub prompt: Option<String>,
    /// The sources that message carried, with their labels: a follow-up that finds one of them
    /// again cites it by the same label instead of sending it twice.
    pub sources: Vec<Passage>,
}

/// A question.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// Restrict to one document (file name, path or id).
    pub doc: Option<String>,
    /// Earlier turns of the conversation, oldest first.
    pub history: Vec<Turn>,
    /// Stops generation before the next token (the Stop button); what was generated so far is
    /// checked like any answer and marked [`Answer::stopped`].
    pub cancel: CancelToken,
}

/// A retrieved passage as the answer shows it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Passage {
    /// `S1`, `S2`, … in rank order among the relevant passages; `None` for passages judged
    /// not relevant (never shown to the model).
    pub id: Option<String>,
    /// The chunk (passages keep their label for the rest of a conversation).
    #[serde(default)]
    pub chunk_id: String,
    /// The document's id.
    #[serde(default)]
    pub doc_id: String,
    /// File name.
    pub doc: String,
    /// Path as ingested.
    pub source: String,
    /// Document title.
    pub title: String,
    /// First page, `None` for formats without pages.
    pub page: Option<u32>,
    /// Last page.
    pub page_end: Option<u32>,
    /// Heading path.
    pub heading: String,
    /// Retrieval score.
    pub score: f32,
    /// Cosine similarity to the question, when vector search found it.
    pub vector_score: Option<f32>,
    /// Weighted share of the question's content terms the passage contains (terms rare among
    /// the retrieved passages weigh more).
    pub term_coverage: f32,
    /// The exact unit a legal reference in the question names.
    pub structural: bool,
    /// Judged relevant enough to be evidence.
    pub relevant: bool,
    /// Given to the model (relevant and within the context budget).
    pub in_prompt: bool,
}

/// What was searched, shown with every answer (and instead of one when abstaining).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Searched {
    /// The retrieval query (the question, with the previous one for follow-ups).
    pub query: String,
    /// Retrieval mode.
    pub mode: SearchMode,
    /// Document restriction: the one asked for, or the file the question names.
    pub doc: Option<String>,
    /// The restriction is the file the question names (not one asked for).
    #[serde(default)]
    pub doc_named: bool,
    /// The question's content terms.
    pub terms: Vec<String>,
    /// Passages found, best first.
    pub passages: Vec<Passage>,
}

/// A citation, resolved and checked.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Citation {
    /// `S1`, …
    pub id: String,
    /// File name.
    pub doc: String,
    /// Path as ingested.
    pub source: String,
    /// Page of the quote (`None` for formats without pages).
    pub page: Option<u32>,
    /// Heading path of the cited passage.
    pub heading: String,
    /// The quote as the model wrote it (or as the extractive mode chose it).
    pub quote: String,
    /// The quote was found on the page.
    pub verified: bool,
    /// Character offsets of the match in the page text (verified citations only).
    pub start: Option<u32>,
    /// End offset (exclusive).
    pub end: Option<u32>,
    /// Share of the quote matched as one contiguous run.
    pub coverage: f32,
    /// Why it is not verified.
    pub problem: Option<CitationProblem>,
    /// The model wrote the sentence without citing it, and LexDesk found a passage sentence that
    /// holds every content term of it (numbers included, negations alike): the quote is that
    /// sentence, checked on its page like any other. Weaker than a citation the model made.
    #[serde(default)]
    pub attributed: bool,
}

/// An enum of stable codes, serialised as its codes: the enum, `code()` and `Display`.
macro_rules! code_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal,)+ }) => {
        $(#[$meta])*
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant,)+
        }

        impl $name {
            /// The stable code, as serialised.
            #[must_use]
            pub const fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum! {
    /// Why a citation is not verified.
    pub enum CitationProblem {
        /// The marker has no quote.
        NoQuote => "NO_QUOTE",
        /// The quote is not on the cited pages.
        QuoteNotFound => "QUOTE_NOT_FOUND",
        /// The quote is too short to be checked.
        QuoteTooShort => "QUOTE_TOO_SHORT",
        /// The marker names a source that was not given.
        UnknownSource => "UNKNOWN_SOURCE",
    }
}

/// Why an answer abstains.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Abstention {
    /// Why.
    pub code: AbstentionReason,
    /// Explanation.
    pub message: String,
}

code_enum! {
    /// Why an answer abstains.
    pub enum AbstentionReason {
        /// No retrieved passage is relevant enough.
        NoRelevantPassages => "NO_RELEVANT_PASSAGES",
        /// The model said the passages do not answer the question.
        ModelAbstained => "MODEL_ABSTAINED",
        /// Nothing the model wrote could be verified against the passages.
        NoSupportedClaim => "NO_SUPPORTED_CLAIM",
    }
}

/// Time spent, in milliseconds.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
pub struct Timings {
    /// Retrieval (query embedding and searches).
    pub retrieval_ms: f64,
    /// From the start to the first generated token.
    pub first_token_ms: Option<f64>,
    /// Generation.
    pub generation_ms: f64,
    /// Citation checks.
    pub verification_ms: f64,
    /// Everything.
    pub total_ms: f64,
}

/// A finished answer.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Answer {
    /// The answer as shown: the model's text with its `[S#]` markers, the extractive passages, or
    /// the abstention message.
    pub answer: String,
    /// The documents do not support an answer.
    pub abstained: bool,
    /// Why, when abstained.
    pub abstention: Option<Abstention>,
    /// The model's unsupported text when the answer abstained after generation (never shown as an
    /// answer).
    pub draft: Option<String>,
    /// Citations in order of appearance.
    pub citations: Vec<Citation>,
    /// Sentences of the answer without a verified citation.
    pub unsupported_claims: Vec<String>,
    /// What was searched.
    pub searched: Searched,
    /// Generation counts and speeds.
    pub usage: Option<Usage>,
    /// Time spent.
    pub timings: Timings,
    /// Generate or extractive.
    pub mode: AnswerMode,
    /// Question language.
    pub language: Language,
    /// Generation was stopped by the user before it finished.
    #[serde(default)]
    pub stopped: bool,
    /// The user message sent to the model (generate mode), for [`Turn::prompt`].
    #[serde(skip)]
    pub prompt: Option<String>,
}

/// Progress of an answer.
#[derive(Debug)]
pub enum AskEvent<'a> {
    /// Retrieval is done; these passages are the evidence.
    Retrieved(&'a Searched),
    /// Generated text.
    Token(&'a str),
}

/// Failures (an abstention is not one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The question is empty.
    #[error("the question is empty")]
    EmptyQuestion,
    /// Generate mode without a chat model.
    #[error("generating an answer needs a chat model (or use the extractive mode)")]
    NoGenerator,
    /// The question alone does not fit the model's context.
    #[error(
        "the question does not fit the model's context of {context} tokens with {reserved} reserved for the answer"
    )]
    PromptTooLarge {
        /// Context length.
        context: u32,
        /// Tokens reserved for the answer.
        reserved: u32,
    },
    /// Retrieval failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Reading pages failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

lexdesk_core::error_codes!(AskError {
    Self::EmptyQuestion => "EMPTY_QUERY", InvalidInput;
    Self::NoGenerator => "NO_CHAT_MODEL", ModelFile;
    Self::PromptTooLarge { .. } => "PROMPT_TOO_LARGE", TooLarge;
} wraps {
    Self::Search(e) => e,
    Self::Store(e) => e,
    Self::Engine(e) => e,
});

/// Answer a question over one matter.
///
/// `generator` is needed in [`AnswerMode::Generate`]; `on_event` sees the retrieved passages and
/// then each piece of generated text.
///
/// # Errors
/// Empty question, missing chat model, a question too large for the context, retrieval, store or
/// model failures. Abstaining is a normal [`Answer`].
pub async fn ask<S, E, G>(
    searcher: &Searcher<'_, S, E>,
    generator: Option<&G>,
    request: &AskRequest,
    options: &AskOptions,
    on_event: &mut (dyn FnMut(AskEvent<'_>) + Send),
) -> Result<Answer, AskError>
where
    S: ChunkStore,
    E: Embedder,
    G: Generator,
{
    let started = Instant::now();
    let question = request.question.trim();
    if question.is_empty() {
        return Err(AskError::EmptyQuestion);
    }
    if options.mode == AnswerMode::Generate && generator.is_none() {
        return Err(AskError::NoGenerator);
    }
    let language = Language::detect(question);
    // Follow-ups often lean on the previous question ("and the notice period?").
    let query = match request.history.last() {
        Some(prev) => format!("{} {question}", prev.question),
        None => question.to_string(),
    };
    // A question that names one of the matter's files (`… in nda-0039.txt …`) is asked of that
    // file, as a follow-up of one that did.
    let named = match &request.doc {
        Some(_) => None,
        None => searcher
            .file_named(question)
            .or_else(|| request.history.last().and_then(|prev| searcher.file_named(&prev.question)))
            .map(|d| d.file_name.clone()),
    };
    let doc = request.doc.clone().or_else(|| named.clone());
    let hits = searcher
        .search(&SearchRequest {
            query: query.clone(),
            mode: options.search_mode,
            top_k: options.evidence.max(1),
            doc: doc.clone(),
            vector_weight: None,
            rerank: None,
        })
        .await?;
    let terms = content_terms(question);
    let mut passages = judge(searcher, question, &terms, &hits, options);
    let retrieval_ms = started.elapsed().as_secs_f64() * 1000.0;
    let earlier: Vec<&Passage> = request.history.iter().flat_map(|t| &t.sources).filter(|p| p.id.is_some()).collect();
    let mut evidence = label_evidence(&hits, &mut passages, &earlier);
    let mut searched = Searched { query, mode: options.search_mode, doc, doc_named: named.is_some(), terms, passages };
    let mut timings = Timings { retrieval_ms, ..Timings::default() };

    if evidence.is_empty() {
        on_event(AskEvent::Retrieved(&searched));
        timings.total_ms = ms_since(started);
        return Ok(Answer::abstaining(AbstentionReason::NoRelevantPassages, language, options.mode, searched, timings));
    }

    for p in &earlier {
        if !evidence.iter().any(|e| Some(&e.label) == p.id.as_ref()) {
            evidence.extend(Evidence::earlier(p));
        }
    }
    let store = searcher.store();
    let mut pages = PageCache::default();
    for ev in &evidence {
        pages.load(store, &ev.hit).await?;
    }

    if options.mode == AnswerMode::Extractive {
        for p in &mut searched.passages {
            p.in_prompt = p.relevant;
        }
        on_event(AskEvent::Retrieved(&searched));
        let verify_started = Instant::now();
        let (lines, citations) = extractive(&evidence, &pages, &searched.terms);
        timings.verification_ms = ms_since(verify_started);
        timings.total_ms = ms_since(started);
        let text = lines.join("\n\n");
        return Ok(if citations.iter().any(|c| c.verified) {
            Answer::answered(text, citations, language, options.mode, searched, timings)
        } else {
            let abstained =
                Answer::abstaining(AbstentionReason::NoSupportedClaim, language, options.mode, searched, timings);
            Answer { draft: Some(text), ..abstained }
        });
    }

    let generator = generator.ok_or(AskError::NoGenerator)?;
    let fresh: Vec<&Evidence> = evidence.iter().filter(|e| e.fresh).collect();
    let (messages, used) = build_prompt(generator, language, question, &request.history, &fresh, options).await?;
    // Fresh passages the budget left out are not evidence (the model never saw them).
    let dropped: Vec<String> = fresh[used..].iter().map(|e| e.label.clone()).collect();
    evidence.retain(|e| !dropped.contains(&e.label));
    for p in &mut searched.passages {
        p.in_prompt = p.id.as_ref().is_some_and(|id| evidence.iter().any(|e| &e.label == id));
    }
    on_event(AskEvent::Retrieved(&searched));

    let user_prompt = messages.last().map(|m| m.content.clone());
    let generation_started = Instant::now();
    let generated = stream_answer(generator, messages, options, &request.cancel, on_event).await?;
    timings.first_token_ms = generated.first_token.map(|t| t.duration_since(started).as_secs_f64() * 1000.0);
    timings.generation_ms = ms_since(generation_started);
    let text = generated.text.trim().to_string();
    let checked = Checked { evidence: &evidence, pages: &pages, language, mode: options.mode, started };
    let answer = checked.answer(text, searched, timings);
    Ok(Answer { usage: generated.usage, stopped: generated.stopped, prompt: user_prompt, ..answer })
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

impl Answer {
    /// An answer with nothing in it yet.
    fn empty(language: Language, mode: AnswerMode, searched: Searched, timings: Timings) -> Self {
        Self {
            answer: String::new(),
            abstained: false,
            abstention: None,
            draft: None,
            citations: Vec::new(),
            unsupported_claims: Vec::new(),
            searched,
            usage: None,
            timings,
            mode,
            language,
            stopped: false,
            prompt: None,
        }
    }

    /// An abstention for `reason`, explained in the question's language.
    fn abstaining(
        reason: AbstentionReason,
        language: Language,
        mode: AnswerMode,
        searched: Searched,
        timings: Timings,
    ) -> Self {
        let message = abstention_message(language, reason);
        Self {
            answer: message.clone(),
            abstained: true,
            abstention: Some(Abstention { code: reason, message }),
            ..Self::empty(language, mode, searched, timings)
        }
    }

    /// An answer that stands on its citations.
    fn answered(
        text: String,
        citations: Vec<Citation>,
        language: Language,
        mode: AnswerMode,
        searched: Searched,
        timings: Timings,
    ) -> Self {
        Self { answer: text, citations, ..Self::empty(language, mode, searched, timings) }
    }
}

/// Put a `[S#]` marker after each sentence LexDesk attributed (see [`Citation::attributed`]), so
/// the answer shows where its support is.
fn mark_attributions(mut text: String, attributions: &[(String, String)]) -> String {
    for (sentence, label) in attributions {
        if let Some(at) = text.find(sentence.as_str()) {
            text.insert_str(at + sentence.len(), &format!("[{label}]"));
        }
    }
    text
}

/// What a generated answer is checked against.
struct Checked<'a> {
    evidence: &'a [Evidence],
    pages: &'a PageCache,
    language: Language,
    mode: AnswerMode,
    /// When answering started (for the total time).
    started: Instant,
}

impl Checked<'_> {
    /// The model's text, checked. It abstains when the model said the sources do not answer
    /// (`MODEL_ABSTAINED`), or when nothing it wrote could be verified (`NO_SUPPORTED_CLAIM`: its
    /// text is withheld as the draft, and the best passages, checked, are shown instead); else it
    /// is the answer with its citations and the sentences without verified support.
    fn answer(&self, text: String, searched: Searched, mut timings: Timings) -> Answer {
        let (language, mode) = (self.language, self.mode);
        let verify_started = Instant::now();
        if cite::fold(&text).contains(&cite::fold(abstain_phrase(language))) && parse_claims(&text).len() <= 1 {
            timings.total_ms = ms_since(self.started);
            let abstained = Answer::abstaining(AbstentionReason::ModelAbstained, language, mode, searched, timings);
            return Answer { draft: Some(text), ..abstained };
        }
        let (citations, unsupported, attributions) = check_claims(&text, self.evidence, self.pages);
        let text = mark_attributions(text, &attributions);
        timings.verification_ms = ms_since(verify_started);
        timings.total_ms = ms_since(self.started);
        if !citations.iter().any(|c| c.verified) {
            let (lines, passages) = extractive(self.evidence, self.pages, &searched.terms);
            let abstained = Answer::abstaining(AbstentionReason::NoSupportedClaim, language, mode, searched, timings);
            let mut a = Answer { draft: Some(text), unsupported_claims: unsupported, ..abstained };
            if passages.iter().any(|c| c.verified) {
                a.answer = format!("{}\n\n{}", extractive_intro(language), lines.join("\n\n"));
                a.citations = passages;
            }
            return a;
        }
        Answer {
            unsupported_claims: unsupported,
            ..Answer::answered(text, citations, language, mode, searched, timings)
        }
    }
}

/// Judge each retrieved passage: relevant when it is the unit a legal reference in the question
/// names, or when its cosine reaches `min_vector_score` *and* it shares a content term with the
/// question (a high cosine alone is not enough; cosines of a model that does not know the
/// question's language are ignored), or when it holds `min_term_coverage` of the question's
/// IDF-weighted content terms.
fn judge<S: ChunkStore, E: Embedder>(
    searcher: &Searcher<'_, S, E>,
    question: &str,
    terms: &[String],
    hits: &[SearchHit],
    options: &AskOptions,
) -> Vec<Passage> {
    let vectors_count = searcher.vectors_understand(question);
    let floor = options.min_vector_score.unwrap_or_else(|| searcher.relevance_floor());
    let texts: Vec<String> = hits.iter().map(|h| format!("{}\n{}", h.heading, h.text)).collect();
    let coverages = weighted_coverage(terms, &texts.iter().map(String::as_str).collect::<Vec<_>>());
    hits.iter()
        .zip(coverages)
        .map(|(h, coverage)| {
            let pdf = searcher.document(&h.doc_id).is_some_and(|d| d.has_pages());
            let relevant = h.structural
                || (vectors_count && h.vector_score.is_some_and(|v| v >= floor) && coverage > 0.0)
                || coverage >= options.min_term_coverage;
            Passage {
                id: None,
                chunk_id: h.chunk_id.clone(),
                doc_id: h.doc_id.clone(),
                doc: h.doc.clone(),
                source: h.source.clone(),
                title: h.title.clone(),
                page: pdf.then_some(h.page),
                page_end: pdf.then_some(h.page_end),
                heading: h.heading.clone(),
                score: h.score,
                vector_score: h.vector_score,
                term_coverage: coverage,
                structural: h.structural,
                relevant,
                in_prompt: false,
            }
        })
        .collect()
}

/// Relevant passages become the evidence, labelled S1… in rank order; in a follow-up the
/// conversation's earlier sources keep their labels and new ones continue the numbering.
fn label_evidence(hits: &[SearchHit], passages: &mut [Passage], earlier: &[&Passage]) -> Vec<Evidence> {
    let mut next = earlier.iter().filter_map(|p| p.id.as_deref()).map(label_number).max().unwrap_or(0) + 1;
    let mut evidence: Vec<Evidence> = Vec::new();
    for (h, p) in hits.iter().zip(passages.iter_mut()) {
        if !p.relevant {
            continue;
        }
        let (label, fresh) = match earlier.iter().find(|e| !e.chunk_id.is_empty() && e.chunk_id == h.chunk_id) {
            Some(e) => (e.id.clone().unwrap_or_default(), false),
            None => {
                next += 1;
                (format!("S{}", next - 1), true)
            }
        };
        p.id = Some(label.clone());
        evidence.push(Evidence { label, hit: h.clone(), pdf: p.page.is_some(), fresh, retrieved: true });
    }
    evidence
}

/// What the model wrote.
struct Generated {
    text: String,
    usage: Option<Usage>,
    /// Stopped by the user before it finished.
    stopped: bool,
    /// When the first token arrived.
    first_token: Option<Instant>,
}

/// Generate from `messages`, streaming each piece to `on_event`. Cancelling `cancel` stops the
/// generation (what was written is kept; pieces after the stop are dropped).
async fn stream_answer<G: Generator>(
    generator: &G,
    messages: Vec<ChatMessage>,
    options: &AskOptions,
    cancel: &CancelToken,
    on_event: &mut (dyn FnMut(AskEvent<'_>) + Send),
) -> Result<Generated, AskError> {
    let mut stream = generator.generate(GenerateRequest {
        prompt: Prompt::Chat(messages),
        max_tokens: options.max_answer_tokens,
        stop: Vec::new(),
        sampling: options.sampling.clone(),
    })?;
    let mut out = Generated { text: String::new(), usage: None, stopped: false, first_token: None };
    while let Some(event) = stream.next().await {
        if !out.stopped && cancel.is_cancelled() {
            // The generator ends the stream with `Done` (finish reason `Cancelled`) before its next token.
            stream.cancel_token().cancel();
            out.stopped = true;
        }
        match event? {
            GenerationEvent::Started { .. } => {}
            GenerationEvent::Token { .. } if out.stopped => {}
            GenerationEvent::Token { text: piece } => {
                out.first_token.get_or_insert_with(Instant::now);
                on_event(AskEvent::Token(&piece));
                out.text.push_str(&piece);
            }
            GenerationEvent::Done { usage, .. } => out.usage = Some(usage),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::verify::best_excerpt;
    use super::*;

    #[test]
    fn markers_with_quotes_and_bare_markers() {
        let claims = parse_claims(
            "The Receiving Party may not reverse engineer. [S1: \"Not to alter, modify, disassemble, reverse engineer\"] \
             The term is two years [S2].\nNothing else applies.",
        );
        assert_eq!(claims.len(), 3, "{claims:?}");
        assert_eq!(claims[0].text, "The Receiving Party may not reverse engineer.");
        assert_eq!(
            claims[0].markers,
            [Marker { source: 1, quote: Some("Not to alter, modify, disassemble, reverse engineer".into()) }]
        );
        assert_eq!(claims[1].markers, [Marker { source: 2, quote: None }]);
        assert!(claims[2].markers.is_empty());
    }

    #[test]
    fn quotes_may_contain_sentence_ends_and_chinese_forms() {
        let claims = parse_claims(
            "用人单位应当支付经济补偿【S1：「劳动者依照本法第三十八条规定解除劳动合同的。用人单位应当向劳动者支付经济补偿」】。另有规定[S2]。",
        );
        assert_eq!(claims.len(), 2, "{claims:?}");
        assert_eq!(claims[0].markers[0].source, 1);
        assert!(claims[0].markers[0].quote.as_deref().unwrap().contains("解除劳动合同的。用人单位"));
        assert_eq!(claims[1].markers, [Marker { source: 2, quote: None }]);
    }

    #[test]
    fn a_quotation_next_to_a_bare_marker_is_its_quote() {
        let claims = parse_claims("The agreement says \"either party may terminate on thirty days notice\" [S3].");
        assert_eq!(claims[0].markers[0].quote.as_deref(), Some("either party may terminate on thirty days notice"));
    }

    #[test]
    fn language_detection() {
        assert_eq!(Language::detect("劳动合同法第五十七条的内容是什么？"), Language::Zh);
        assert_eq!(Language::detect("What does Article 5 of the NDA say?"), Language::En);
        assert_eq!(Language::detect("《民法典》Article 5 是什么"), Language::Zh);
    }

    #[test]
    fn excerpts_pick_the_sentence_with_the_question_terms() {
        let text = "This Agreement is made between the parties. The Receiving Party shall not reverse engineer \
                    any prototype. Notices must be in writing.";
        let terms = content_terms("Can the receiving party reverse engineer prototypes?");
        let e = best_excerpt(text, &terms);
        assert!(e.contains("shall not reverse engineer"), "{e}");
        assert!(e.chars().count() <= 400);
    }
}
