//! Checking citations: the evidence passages, the stored pages they are checked on, each claim's
//! markers resolved and its quotes looked up ([`crate::cite`]), and the extractive answer.

use std::collections::HashMap;

use lexdesk_core::store::{ChunkStore, StoreError};
use lexdesk_text::analyze::term_coverage;

use super::claims::{SENTENCE_END, is_assertion, parse_claims};
use super::{Citation, CitationProblem, Passage};
use crate::cite::{self, FoldedPage, QuoteMatch};
use crate::search::SearchHit;

pub(super) struct Evidence {
    pub(super) label: String,
    pub(super) hit: SearchHit,
    pub(super) pdf: bool,
    /// Sent in this turn's message (not already in the conversation).
    pub(super) fresh: bool,
    /// Retrieved for this question (not only an earlier turn's source).
    pub(super) retrieved: bool,
}

impl Evidence {
    /// An earlier turn's source, for citations to it (its text is in the conversation already).
    pub(super) fn earlier(p: &Passage) -> Option<Self> {
        let label = p.id.clone()?;
        let hit = SearchHit {
            chunk_id: p.chunk_id.clone(),
            doc_id: p.doc_id.clone(),
            doc: p.doc.clone(),
            source: p.source.clone(),
            title: p.title.clone(),
            page: p.page.unwrap_or(1),
            page_end: p.page_end.or(p.page).unwrap_or(1),
            char_start: 0,
            char_end: 0,
            heading: p.heading.clone(),
            text: String::new(),
            score: p.score,
            vector_score: p.vector_score,
            text_score: None,
            structural: p.structural,
            rerank_score: None,
        };
        Some(Self { label, hit, pdf: p.page.is_some(), fresh: false, retrieved: false })
    }
}

pub(super) fn label_number(label: &str) -> usize {
    label.trim_start_matches('S').parse().unwrap_or(0)
}

/// Pages loaded and folded once per answer.
#[derive(Default)]
pub(super) struct PageCache {
    pub(super) pages: HashMap<(String, u32), (String, FoldedPage)>,
}

impl PageCache {
    pub(super) async fn load<S: ChunkStore>(&mut self, store: &S, hit: &SearchHit) -> Result<(), StoreError> {
        let wanted: Vec<u32> =
            (hit.page..=hit.page_end).filter(|n| !self.pages.contains_key(&(hit.doc_id.clone(), *n))).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        for p in store.pages(&hit.doc_id, &wanted).await? {
            let folded = FoldedPage::new(&p.text);
            self.pages.insert((hit.doc_id.clone(), p.number), (p.text, folded));
        }
        Ok(())
    }

    /// Check a quote on the pages of a passage: the page number and the match.
    pub(super) fn check(&self, hit: &SearchHit, quote: &str) -> Option<(u32, QuoteMatch)> {
        (hit.page..=hit.page_end)
            .filter_map(|n| self.pages.get(&(hit.doc_id.clone(), n)).and_then(|p| p.1.find(quote)).map(|m| (n, m)))
            .max_by(|a, b| a.1.coverage.total_cmp(&b.1.coverage).then(b.0.cmp(&a.0)))
    }
}

pub(super) fn citation(ev: &Evidence, quote: String, found: Option<(u32, QuoteMatch)>, quote_given: bool) -> Citation {
    let (page, m) = match found {
        Some((page, m)) => (Some(page), Some(m)),
        None => (None, None),
    };
    let verified = m.is_some_and(|m| m.verified());
    let problem = if verified {
        None
    } else if !quote_given {
        Some(CitationProblem::NoQuote)
    } else if m.is_some_and(|m| m.quote_chars < cite::MIN_QUOTE_CHARS)
        || cite::fold(&quote).chars().count() < cite::MIN_QUOTE_CHARS
    {
        Some(CitationProblem::QuoteTooShort)
    } else {
        Some(CitationProblem::QuoteNotFound)
    };
    Citation {
        id: ev.label.clone(),
        doc: ev.hit.doc.clone(),
        source: ev.hit.source.clone(),
        page: if ev.pdf { page.or(Some(ev.hit.page)) } else { None },
        heading: ev.hit.heading.clone(),
        quote,
        verified,
        start: m.filter(|_| verified).map(|m| m.start),
        end: m.filter(|_| verified).map(|m| m.end),
        coverage: m.map_or(0.0, |m| m.coverage),
        problem,
        attributed: false,
    }
}

/// How a text negates: each negation cue with what it negates — a Han cue (`不`, `没`, `未`,
/// `无`, `非`) with the character after it (`不得`, `不需`), an English one (`not`, `no`, `never`,
/// `without`, `cannot`, `n't`) with the word after it. A sentence and its support must negate
/// alike: `不需要` is not supported by `不得少于`.
fn negations(text: &str) -> Vec<String> {
    const HAN: &[char] = &['不', '没', '未', '无', '非'];
    const WORDS: &[&str] = &["not", "no", "never", "without", "cannot"];
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if HAN.contains(c) {
            out.push(chars[i..chars.len().min(i + 2)].iter().collect::<String>());
        }
    }
    let lower = text.to_lowercase().replace("n't", " not");
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for (i, w) in words.iter().enumerate() {
        if WORDS.contains(w) {
            out.push(format!("{w} {}", words.get(i + 1).unwrap_or(&"")));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A sentence the model wrote without a marker, attributed to a passage of this answer's
/// evidence: the excerpt of a passage (its best sentence with neighbours, at most 400
/// characters) that holds every content term of the sentence — at least two, numbers included —
/// and whose best sentence negates alike. The quote is
/// checked on its page like any other; `None` when no passage qualifies.
fn attribute(claim: &str, evidence: &[Evidence], pages: &PageCache) -> Option<Citation> {
    let terms = lexdesk_text::analyze::content_terms(claim);
    if terms.len() < 2 {
        return None;
    }
    let wanted = negations(claim);
    evidence.iter().filter(|e| e.retrieved).find_map(|ev| {
        let sentence = best_excerpt_sentence(&ev.hit.text, &terms)?;
        let quote = best_excerpt(&ev.hit.text, &terms);
        if term_coverage(&terms, &quote) < 1.0 || negations(sentence) != wanted {
            return None;
        }
        let found = pages.check(&ev.hit, &quote);
        let c = citation(ev, quote, found, true);
        c.verified.then_some(Citation { attributed: true, ..c })
    })
}

/// The one sentence of `text` sharing most of `terms` (the first of equals).
fn best_excerpt_sentence<'t>(text: &'t str, terms: &[String]) -> Option<&'t str> {
    let mut best: Option<(&str, f32)> = None;
    let mut start = 0;
    let ends = SENTENCE_END.find_iter(text).map(|m| m.end()).chain(std::iter::once(text.len()));
    for end in ends {
        let s = &text[start..end];
        start = end;
        let c = term_coverage(terms, s);
        if !s.trim().is_empty() && best.is_none_or(|(_, b)| c > b) {
            best = Some((s, c));
        }
    }
    best.map(|(s, _)| s)
}

/// Resolve every `[S#]` marker of the answer to its passage and check its quote on that
/// passage's pages; a sentence without any marker is attributed when a passage holds it (see
/// [`attribute`]). Returns the citations (each distinct source and quote once), the sentences
/// without a verified citation, and the attributed sentences with their labels.
pub(super) fn check_claims(
    answer: &str,
    evidence: &[Evidence],
    pages: &PageCache,
) -> (Vec<Citation>, Vec<String>, Vec<(String, String)>) {
    let mut citations: Vec<Citation> = Vec::new();
    let mut unsupported = Vec::new();
    let mut attributed = Vec::new();
    for claim in parse_claims(answer) {
        let mut supported = false;
        for marker in &claim.markers {
            let Some(ev) = evidence.iter().find(|e| label_number(&e.label) == marker.source) else {
                citations.push(Citation {
                    id: format!("S{}", marker.source),
                    doc: String::new(),
                    source: String::new(),
                    page: None,
                    heading: String::new(),
                    quote: marker.quote.clone().unwrap_or_default(),
                    verified: false,
                    start: None,
                    end: None,
                    coverage: 0.0,
                    problem: Some(CitationProblem::UnknownSource),
                    attributed: false,
                });
                continue;
            };
            let c = match &marker.quote {
                Some(q) => citation(ev, q.clone(), pages.check(&ev.hit, q), true),
                None => {
                    // A sentence copied from its source supports itself.
                    let found = pages.check(&ev.hit, &claim.text).filter(|(_, m)| m.verified());
                    if found.is_some() {
                        citation(ev, claim.text.clone(), found, true)
                    } else {
                        citation(ev, String::new(), None, false)
                    }
                }
            };
            supported |= c.verified;
            if !citations.iter().any(|o| o.id == c.id && o.quote == c.quote) {
                citations.push(c);
            }
        }
        let attribution = (claim.markers.is_empty() && is_assertion(&claim.text))
            .then(|| attribute(&claim.text, evidence, pages))
            .flatten();
        if let Some(c) = attribution {
            attributed.push((claim.text.clone(), c.id.clone()));
            if !citations.iter().any(|o| o.id == c.id && o.quote == c.quote) {
                citations.push(c);
            }
            supported = true;
        }
        if !supported && is_assertion(&claim.text) {
            unsupported.push(claim.text);
        }
    }
    (citations, unsupported, attributed)
}

/// The best passages themselves: for each of the first three, the excerpt that shares most
/// terms with the question, checked against its page like any quote.
pub(super) fn extractive(evidence: &[Evidence], pages: &PageCache, terms: &[String]) -> (Vec<String>, Vec<Citation>) {
    let mut lines = Vec::new();
    let mut citations = Vec::new();
    for ev in evidence.iter().filter(|e| e.retrieved).take(3) {
        let quote = best_excerpt(&ev.hit.text, terms);
        let found = pages.check(&ev.hit, &quote);
        let c = citation(ev, quote.clone(), found, true);
        let place = match c.page {
            Some(p) => format!("{}, p. {p}", ev.hit.title),
            None => ev.hit.title.clone(),
        };
        lines.push(format!("[{}] {place} — {}\n«{}»", ev.label, ev.hit.heading, quote));
        citations.push(c);
    }
    (lines, citations)
}

/// The sentences of a passage that best answer the question: the sentence sharing most content
/// terms, extended by its neighbours to at least 80 characters and at most 400.
pub(super) fn best_excerpt(text: &str, terms: &[String]) -> String {
    let mut sentences: Vec<&str> = Vec::new();
    let mut start = 0;
    for m in SENTENCE_END.find_iter(text) {
        sentences.push(&text[start..m.end()]);
        start = m.end();
    }
    if start < text.len() {
        sentences.push(&text[start..]);
    }
    sentences.retain(|s| !s.trim().is_empty());
    if sentences.is_empty() {
        return text.trim().to_string();
    }
    let best = sentences
        .iter()
        .enumerate()
        .max_by(|a, b| term_coverage(terms, a.1).total_cmp(&term_coverage(terms, b.1)).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i);
    let (mut lo, mut hi) = (best, best);
    let len = |lo: usize, hi: usize| sentences[lo..=hi].iter().map(|s| s.chars().count()).sum::<usize>();
    while len(lo, hi) < 80 {
        if hi + 1 < sentences.len() && len(lo, hi + 1) <= 400 {
            hi += 1;
        } else if lo > 0 && len(lo - 1, hi) <= 400 {
            lo -= 1;
        } else {
            break;
        }
    }
    let excerpt: String = sentences[lo..=hi].concat();
    let trimmed = excerpt.trim();
    if trimmed.chars().count() <= 400 {
        return trimmed.to_string();
    }
    let cut: String = trimmed.chars().take(400).collect();
    // Cut Latin text at a word boundary; Han text has none to respect.
    match cut.rfind(char::is_whitespace) {
        Some(i) if i > 200 => cut[..i].trim_end().to_string(),
        _ => cut,
    }
}
