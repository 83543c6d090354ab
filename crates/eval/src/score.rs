//! What a configuration produced for one gold item ([`Outcome`]) and how it scores
//! ([`ItemScores`]): pure functions, so a scoring change re-scores stored runs without running
//! them again.

use lexdesk_text::legal_ref;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::gold::{ExpectedSource, GoldItem, KeywordRule};

/// A citation of an answer, as the run recorded it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitedPassage {
    /// File name.
    pub doc: String,
    /// Path as ingested.
    pub source: String,
    /// Page of the quote.
    pub page: Option<u32>,
    /// Heading path of the cited passage (`title › chapter › article`).
    pub heading: String,
    /// The quote.
    pub quote: String,
    /// LexDesk marked the quote verified.
    pub verified: bool,
    /// LexDesk attributed an uncited sentence to this passage.
    #[serde(default)]
    pub attributed: bool,
    /// For a verified quote: the evaluation read the cited page back from the store and found
    /// the quote on it again (`Some(false)` is a dishonest citation). `None` when unverified.
    pub on_page: Option<bool>,
}

/// A failure answering one item (the run goes on; the item scores as failed).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// The error's stable code.
    pub code: String,
    /// The message.
    pub message: String,
}

/// What a configuration produced for one item.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The answer as shown.
    pub answer: String,
    /// LexDesk abstained.
    pub abstained: bool,
    /// The abstention's stable code.
    pub abstention: Option<String>,
    /// Citations in order.
    pub citations: Vec<CitedPassage>,
    /// The item failed.
    pub error: Option<ItemFailure>,
    /// Wall time of the whole answer, milliseconds.
    pub latency_ms: f64,
    /// Time to the first generated token.
    pub first_token_ms: Option<f64>,
    /// Tokens generated.
    pub completion_tokens: Option<u32>,
    /// Generation speed.
    pub tokens_per_second: Option<f64>,
}

/// An item's scores. `None` where the metric does not apply to the item (no keywords, no
/// reference answer, no expected source, an item that should be abstained on).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemScores {
    /// Share of the keywords found.
    pub keyword_share: Option<f64>,
    /// The seed's rule: at least one keyword found.
    pub keyword_any: Option<bool>,
    /// Every keyword found.
    pub keyword_all: Option<bool>,
    /// The item's own rule (`keyword_rule`).
    pub keyword_pass: Option<bool>,
    /// Token F1 against the reference answer (characters for Chinese, words for English).
    pub reference_f1: Option<f64>,
    /// ROUGE-L F-measure against the reference answer, same tokens.
    pub rouge_l: Option<f64>,
    /// A verified (and re-found) citation of an expected document, page and label.
    pub citation_correct: Option<bool>,
    /// Answered with at least one verified citation (items that should be answered).
    pub grounded: Option<bool>,
    /// Every verified quote was found again on its page (`None` without verified quotes).
    pub honest: Option<bool>,
    /// Verified quotes.
    pub verified_quotes: u32,
    /// Verified quotes found again on their page.
    pub honest_quotes: u32,
    /// LexDesk abstained.
    pub abstained: bool,
    /// The gold says it should.
    pub should_abstain: bool,
    /// The item failed with an error.
    pub failed: bool,
}

/// Text folded for matching: NFKC, lower case, no whitespace.
#[must_use]
pub fn fold(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).filter(|c| !c.is_whitespace()).collect()
}

/// Whether a character is written one per token (Han, kana, Hangul): Chinese is scored by
/// characters, other scripts by words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Tokens for reference similarity: each CJK character, each run of other letters or digits
/// (NFKC, lower case); punctuation and spaces dropped.
#[must_use]
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Token-overlap F1 (bag of tokens, as SQuAD scores answers).
#[must_use]
pub fn token_f1(candidate: &[String], reference: &[String]) -> f64 {
    if candidate.is_empty() || reference.is_empty() {
        return 0.0;
    }
    let mut counts: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for t in reference {
        *counts.entry(t).or_insert(0) += 1;
    }
    let mut common = 0usize;
    for t in candidate {
        if let Some(n) = counts.get_mut(t.as_str())
            && *n > 0
        {
            *n -= 1;
            common += 1;
        }
    }
    f_measure(common, candidate.len(), reference.len())
}

fn f_measure(common: usize, candidate: usize, reference: usize) -> f64 {
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / candidate as f64;
    let r = common as f64 / reference as f64;
    2.0 * p * r / (p + r)
}

/// ROUGE-L F-measure (β = 1): the longest common subsequence of tokens.
#[must_use]
pub fn rouge_l(candidate: &[String], reference: &[String]) -> f64 {
    if candidate.is_empty() || reference.is_empty() {
        return 0.0;
    }
    let diff = similar::capture_diff_slices(similar::Algorithm::Lcs, candidate, reference);
    let lcs: usize = diff
        .iter()
        .map(|op| match op {
            similar::DiffOp::Equal { len, .. } => *len,
            _ => 0,
        })
        .sum();
    f_measure(lcs, candidate.len(), reference.len())
}

/// Whether a citation is of the expected document (file name, or a path suffix), page and
/// label (a heading of the passage is that unit — `第57条` = `第五十七条` — or the quote
/// starts with it).
#[must_use]
pub fn source_matches(expected: &ExpectedSource, cited: &CitedPassage) -> bool {
    let want = expected.doc.replace('\\', "/").to_lowercase();
    let doc = cited.doc.to_lowercase();
    let source = cited.source.replace('\\', "/").to_lowercase();
    let stem = |s: &str| s.rsplit_once('.').map_or(s, |(a, _)| a).to_owned();
    let doc_ok = doc == want
        || source == want
        || source.ends_with(&format!("/{want}"))
        || (!want.contains('.') && stem(&doc) == want);
    if !doc_ok {
        return false;
    }
    if let Some(p) = expected.page
        && cited.page != Some(p)
    {
        return false;
    }
    match &expected.label {
        None => true,
        Some(label) => label_matches(label, cited),
    }
}

fn label_matches(label: &str, cited: &CitedPassage) -> bool {
    let refs = legal_ref::references(label);
    let headings = || cited.heading.split(" › ").map(str::trim);
    if refs.is_empty() {
        let l = fold(label);
        return headings().any(|h| fold(h).contains(&l)) || fold(&cited.quote).starts_with(&l);
    }
    refs.iter()
        .all(|r| headings().any(|h| legal_ref::heading_matches(h, r)) || legal_ref::heading_matches(&cited.quote, r))
}

/// Score one outcome against its gold item.
#[must_use]
pub fn score(item: &GoldItem, outcome: &Outcome) -> ItemScores {
    let failed = outcome.error.is_some();
    let answered = !failed && !outcome.abstained;
    let text = if answered { fold(&outcome.answer) } else { String::new() };
    let mut s = ItemScores {
        abstained: !failed && outcome.abstained,
        should_abstain: item.should_abstain,
        failed,
        ..ItemScores::default()
    };
    if !item.keywords.is_empty() {
        let found = item.keywords.iter().filter(|k| answered && text.contains(&fold(k))).count();
        s.keyword_share = Some(found as f64 / item.keywords.len() as f64);
        s.keyword_any = Some(found > 0);
        s.keyword_all = Some(found == item.keywords.len());
        s.keyword_pass = match item.keyword_rule {
            KeywordRule::All => s.keyword_all,
            KeywordRule::Any => s.keyword_any,
        };
    }
    if let Some(expected) = &item.expected {
        let reference = tokens(expected);
        let candidate = if answered { tokens(&strip_markers(&outcome.answer)) } else { Vec::new() };
        s.reference_f1 = Some(token_f1(&candidate, &reference));
        s.rouge_l = Some(rouge_l(&candidate, &reference));
    }
    let verified: Vec<&CitedPassage> = outcome.citations.iter().filter(|c| c.verified).collect();
    s.verified_quotes = u32::try_from(verified.len()).unwrap_or(u32::MAX);
    s.honest_quotes = u32::try_from(verified.iter().filter(|c| c.on_page == Some(true)).count()).unwrap_or(u32::MAX);
    if !verified.is_empty() {
        s.honest = Some(s.honest_quotes == s.verified_quotes);
    }
    if !item.should_abstain {
        s.grounded = Some(answered && verified.iter().any(|c| c.on_page == Some(true)));
        if !item.sources.is_empty() {
            s.citation_correct = Some(
                answered
                    && verified
                        .iter()
                        .any(|c| c.on_page == Some(true) && item.sources.iter().any(|e| source_matches(e, c))),
            );
        }
    }
    s
}

/// The answer without its citation markers (`[S1]`, `[S2: "quote"]`): the quotes are the
/// documents' words, not the answer's.
#[must_use]
pub fn strip_markers(answer: &str) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(start) = rest.find("[S") {
        let after = &rest[start + 2..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        let next = after[digits..].chars().next();
        if digits > 0 && matches!(next, Some(']' | ':' | ',')) {
            out.push_str(&rest[..start]);
            // A quote may hold brackets: it ends at a closing quotation mark before `]`.
            let end = match next {
                Some(':') => ["\"]", "”]", "」]"]
                    .iter()
                    .filter_map(|q| after.find(q).map(|i| i + q.len()))
                    .min()
                    .or_else(|| after.find(']').map(|i| i + 1)),
                _ => after.find(']').map(|i| i + 1),
            };
            rest = end.map_or("", |e| &after[e..]);
        } else {
            out.push_str(&rest[..start + 2]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> GoldItem {
        crate::gold::parse(json.as_bytes(), crate::gold::GoldFormat::Jsonl, "t").unwrap().items.remove(0)
    }

    fn cite(doc: &str, page: u32, heading: &str, quote: &str, on_page: bool) -> CitedPassage {
        CitedPassage {
            doc: doc.into(),
            source: format!("/m/{doc}"),
            page: Some(page),
            heading: heading.into(),
            quote: quote.into(),
            verified: true,
            attributed: false,
            on_page: Some(on_page),
        }
    }

    #[test]
    fn keywords_follow_the_seed_rule_the_all_rule_and_the_items_own() {
        let it = item(r#"{"id":"a","question":"q","keywords":["三个月","Probation"],"keyword_rule":"any"}"#);
        let out = Outcome { answer: "试用期为三 个月 [S1]。".into(), ..Outcome::default() };
        let s = score(&it, &out);
        assert_eq!(
            (s.keyword_share, s.keyword_any, s.keyword_all, s.keyword_pass),
            (Some(0.5), Some(true), Some(false), Some(true))
        );
        let out = Outcome { answer: "试用期为三个月".into(), abstained: true, ..Outcome::default() };
        assert_eq!(score(&it, &out).keyword_any, Some(false), "an abstention answers nothing");
        let out = Outcome { answer: "三个月, PROBATION".into(), ..Outcome::default() };
        assert_eq!(score(&it, &out).keyword_all, Some(true), "case and width are folded");
    }

    #[test]
    fn reference_similarity_counts_characters_for_chinese_and_words_for_english() {
        assert_eq!(
            tokens("试用期为3个月, the Probation."),
            ["试", "用", "期", "为", "3", "个", "月", "the", "probation"]
        );
        let r = tokens("试用期为三个月");
        assert!((token_f1(&tokens("试用期三个月"), &r) - 2.0 * 6.0 / 13.0).abs() < 1e-9);
        assert!((rouge_l(&tokens("三个月试用期"), &r) - f_measure(3, 6, 7)).abs() < 1e-9, "LCS 试用期 or 三个月");
        assert!((rouge_l(&r, &r) - 1.0).abs() < 1e-12);
        assert_eq!(rouge_l(&[], &r), 0.0);
        assert_eq!(strip_markers("A [S1] b [S2: \"quote [x]\"] c [Section 2] [S3, S4]"), "A  b  c [Section 2] ");
    }

    #[test]
    fn a_citation_is_correct_only_from_the_expected_document_page_and_article() {
        let it = item(r#"{"id":"a","question":"q","sources":["社会法/民法典.md | 第57条"]}"#);
        let ok = CitedPassage {
            source: "/corpus/社会法/民法典.md".into(),
            ..cite("民法典.md", 3, "民法典 › 第一编 › 第五十七条", "法人是具有民事权利能力", true)
        };
        let mut out = Outcome { answer: "法人 [S1]".into(), citations: vec![ok.clone()], ..Outcome::default() };
        let s = score(&it, &out);
        assert_eq!((s.citation_correct, s.grounded, s.honest), (Some(true), Some(true), Some(true)));
        let wrong_article =
            CitedPassage { heading: "民法典 › 第一编 › 第五十七条之一".into(), ..ok.clone() };
        out.citations = vec![wrong_article];
        assert_eq!(score(&it, &out).citation_correct, Some(false));
        let merged =
            CitedPassage {
                heading: "民法典 › 第五十六条".into(), quote: "第五十七条 法人是具有".into(), ..ok.clone()
            };
        out.citations = vec![merged];
        assert_eq!(score(&it, &out).citation_correct, Some(true), "a merged short article: the quote starts with it");
        let dishonest = CitedPassage { on_page: Some(false), ..ok.clone() };
        out.citations = vec![dishonest];
        let s = score(&it, &out);
        assert_eq!(
            (s.citation_correct, s.honest, s.verified_quotes, s.honest_quotes),
            (Some(false), Some(false), 1, 0)
        );
        let page = item(r#"{"id":"a","question":"q","sources":[{"doc":"NDA.pdf","page":2}]}"#);
        out.citations = vec![cite("nda.pdf", 2, "NDA › 3. Obligations", "keep it secret", true)];
        assert_eq!(score(&page, &out).citation_correct, Some(true));
        out.citations = vec![cite("nda.pdf", 3, "NDA › 3. Obligations", "keep it secret", true)];
        assert_eq!(score(&page, &out).citation_correct, Some(false));
        let section = item(r#"{"id":"a","question":"q","sources":["nda | Section 3.1"]}"#);
        out.citations = vec![cite("nda.pdf", 1, "NDA › Section 3.1 Obligations", "keep it secret", true)];
        assert_eq!(score(&section, &out).citation_correct, Some(true), "a doc without extension matches the stem");
    }

    #[test]
    fn abstention_and_failures_score_as_such() {
        let off = item(r#"{"id":"a","question":"火星的首都？","should_abstain":true}"#);
        let s = score(&off, &Outcome { abstained: true, ..Outcome::default() });
        assert!(s.abstained && s.should_abstain && s.grounded.is_none() && s.citation_correct.is_none());
        let failed =
            Outcome { error: Some(ItemFailure { code: "X".into(), message: "m".into() }), ..Outcome::default() };
        let s = score(&item(r#"{"id":"a","question":"q","keywords":"k","sources":"d.md"}"#), &failed);
        assert!(s.failed && !s.abstained);
        assert_eq!((s.keyword_pass, s.citation_correct, s.grounded), (Some(false), Some(false), Some(false)));
    }
}
