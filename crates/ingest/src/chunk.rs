//! Legal-structure-aware, token-aware chunking.
//!
//! 1. Lines are classified ([`crate::structure`]): headings build the heading path (《民法典》 ›
//!    第三编 合同 › 第一章 一般规定), units (第N条, Article, Section, §, 2.3(b), [12]) start a new
//!    citable unit, body lines belong to the current unit (or to an unlabelled preamble).
//! 2. A unit that fits the token budget is one piece. A longer one is split at its paragraphs
//!    (款, sub-clauses), then at sentence ends (。！？； . ! ? ;), and only a single over-long
//!    sentence is cut inside, at the budget.
//! 3. Consecutive short whole units under the same heading are merged while the result stays
//!    within the merge budget, so that one-line articles do not become one-line chunks.
//!
//! Token counts are of the text the embedder sees: the heading path line plus the chunk text
//! (see [`Chunk::embed_text`]). Every chunk records its page span and character offsets (Unicode
//! scalar values) into the normalised page texts, which are the citation ground truth.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::normalize::is_cjk;
use crate::structure::{LineKind, classify};

pub use lexdesk_core::embed::TokenCounter;

/// A Hugging Face `tokenizer.json` (configured for an embedder whose vocabulary LexDesk cannot
/// read itself, e.g. a remote one).
#[derive(Debug)]
pub struct HfTokenCounter {
    tokenizer: tokenizers::Tokenizer,
    overhead: usize,
}

/// The tokenizer file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load tokenizer {path}: {message}")]
pub struct TokenizerError {
    /// The file.
    pub path: std::path::PathBuf,
    /// What the tokenizers crate said.
    pub message: String,
}

impl HfTokenCounter {
    /// Load `tokenizer.json`; truncation and padding in the file are switched off so counts are
    /// exact.
    ///
    /// # Errors
    /// A missing or invalid file.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let err = |message: String| TokenizerError { path: path.to_path_buf(), message };
        let mut tokenizer = tokenizers::Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        tokenizer.with_truncation(None).map_err(|e| err(e.to_string()))?;
        tokenizer.with_padding(None);
        let with = tokenizer.encode("a", true).map_err(|e| err(e.to_string()))?.len();
        let without = tokenizer.encode("a", false).map_err(|e| err(e.to_string()))?.len();
        Ok(Self { tokenizer, overhead: with.saturating_sub(without) })
    }
}

impl TokenCounter for HfTokenCounter {
    fn count(&self, text: &str) -> usize {
        self.tokenizer.encode(text, false).map_or_else(|_| text.chars().count(), |e| e.len())
    }
    fn overhead(&self) -> usize {
        self.overhead
    }
}

/// An estimate for embedders whose vocabulary is unknown (a remote endpoint without a configured
/// `tokenizer.json`): one token per CJK character and one per three other non-space characters.
/// It errs on the high side for the tokenizers measured (WordPiece, XLM-R unigram, BPE give one
/// token per 4–6 English characters), so chunks stay inside the model's context.
#[derive(Debug, Clone, Copy, Default)]
pub struct EstimatedTokenCounter;

impl TokenCounter for EstimatedTokenCounter {
    fn count(&self, text: &str) -> usize {
        let (cjk, other) = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .fold((0usize, 0usize), |(cjk, other), c| if is_cjk(c) { (cjk + 1, other) } else { (cjk, other + 1) });
        cjk + other.div_ceil(3)
    }
    fn overhead(&self) -> usize {
        2
    }
}

/// Budgets, in tokens of the embedded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkConfig {
    /// No chunk is longer (keep it well inside the embedder's context).
    pub max_tokens: usize,
    /// Short whole units are merged while the merged chunk stays within this.
    pub merge_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self { max_tokens: 256, merge_tokens: 160 }
    }
}

/// The main language of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Chinese.
    Zh,
    /// English (and other Latin-script text).
    En,
    /// Neither (numbers, symbols).
    Und,
}

/// Decide the language of `text` by script.
#[must_use]
pub fn detect_language(text: &str) -> Language {
    let han = text.chars().filter(|&c| is_cjk(c) && c.is_alphabetic()).count();
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    if han > 0 && han * 3 >= latin {
        Language::Zh
    } else if latin > 0 {
        Language::En
    } else {
        Language::Und
    }
}

/// One page of normalised text.
#[derive(Debug, Clone, Copy)]
pub struct PageText<'a> {
    /// 1-based page number (or 1 for documents without pages).
    pub number: u32,
    /// The normalised text.
    pub text: &'a str,
}

/// A chunk ready to embed and store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Page of the first character.
    pub page_start: u32,
    /// Page of the last character.
    pub page_end: u32,
    /// Offset of the first character in `page_start`'s text, in characters.
    pub char_start: usize,
    /// Offset after the last character in `page_end`'s text, in characters.
    pub char_end: usize,
    /// Title › headings › unit label(s).
    pub heading_path: Vec<String>,
    /// The chunk's text (its lines joined by `\n`).
    pub text: String,
    /// Tokens of [`Chunk::embed_text`] including special tokens.
    pub tokens: usize,
    /// Main language.
    pub language: Language,
}

impl Chunk {
    /// What is embedded: the heading path, then the text.
    #[must_use]
    pub fn embed_text(&self) -> String {
        embed_text(&self.heading_path, &self.text)
    }
}

fn embed_text(path: &[String], text: &str) -> String {
    if path.is_empty() { text.to_owned() } else { format!("{}\n{text}", path.join(" › ")) }
}

/// A piece of one line of page text.
#[derive(Debug, Clone)]
struct Span {
    page: usize,
    /// Which line of the document (sentence parts of one line share it).
    line: usize,
    start: usize,
    end: usize,
    text: String,
}

#[derive(Debug)]
struct Unit {
    parent: Vec<String>,
    label: Option<String>,
    spans: Vec<Span>,
}

#[derive(Debug)]
struct Piece {
    parent: Vec<String>,
    labels: Vec<String>,
    /// A whole unit (not a part of a split one): may be merged with neighbours.
    whole: bool,
    spans: Vec<Span>,
    tokens: usize,
}

/// Chunk a document. `title` starts every heading path (e.g. 《中华人民共和国民法典》); a first
/// top-level heading equal to it is not repeated.
#[must_use]
pub fn chunk_document(
    title: Option<&str>,
    pages: &[PageText<'_>],
    counter: &dyn TokenCounter,
    config: &ChunkConfig,
) -> Vec<Chunk> {
    let units = units(title, pages);
    let mut pieces = Vec::new();
    for unit in units {
        split_unit(unit, counter, config, &mut pieces);
    }
    let pieces = merge(pieces, counter, config);
    pieces
        .into_iter()
        .map(|p| {
            let mut path = p.parent;
            match p.labels.len() {
                0 => {}
                1 => path.extend(p.labels),
                _ => path.push(format!("{}–{}", p.labels[0], p.labels[p.labels.len() - 1])),
            }
            let text = p.spans.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join("\n");
            let first = &p.spans[0];
            let last = &p.spans[p.spans.len() - 1];
            Chunk {
                page_start: pages[first.page].number,
                page_end: pages[last.page].number,
                char_start: first.start,
                char_end: last.end,
                tokens: counter.count(&embed_text(&path, &text)) + counter.overhead(),
                language: detect_language(&text),
                heading_path: path,
                text,
            }
        })
        .collect()
}

/// Walk the lines, building units with their heading paths.
fn units(title: Option<&str>, pages: &[PageText<'_>]) -> Vec<Unit> {
    let mut base: Vec<String> = title.map(|t| vec![t.to_owned()]).unwrap_or_default();
    let mut seen_heading = false;
    let mut headings: Vec<(u8, String)> = Vec::new();
    let path = |base: &[String], headings: &[(u8, String)]| -> Vec<String> {
        base.iter().cloned().chain(headings.iter().map(|(_, l)| l.clone())).collect()
    };
    let mut units: Vec<Unit> = Vec::new();
    let mut current: Option<Unit> = None;
    let mut line_no = 0;
    for (page, p) in pages.iter().enumerate() {
        let mut offset = 0;
        for line in p.text.split('\n') {
            line_no += 1;
            let len = line.chars().count();
            let content = line.trim();
            if !content.is_empty() {
                let lead = line.chars().take_while(|c| c.is_whitespace()).count();
                let span = Span {
                    page,
                    line: line_no,
                    start: offset + lead,
                    end: offset + lead + content.chars().count(),
                    text: content.to_owned(),
                };
                match classify(content) {
                    // Without a given title, a document's first top-level heading is its title and
                    // stays at the head of every path (Markdown statutes: `# 中华人民共和国民法典`,
                    // then `# 合同编`).
                    LineKind::Heading { level: 1, label }
                        if !seen_heading && (base.is_empty() || base == [label.clone()]) =>
                    {
                        units.extend(current.take());
                        seen_heading = true;
                        if base.is_empty() {
                            base.push(label);
                        }
                    }
                    LineKind::Heading { level, label } => {
                        units.extend(current.take());
                        seen_heading = true;
                        headings.retain(|(l, _)| *l < level);
                        headings.push((level, label));
                    }
                    LineKind::Unit { label } => {
                        units.extend(current.take());
                        current = Some(Unit { parent: path(&base, &headings), label: Some(label), spans: vec![span] });
                    }
                    LineKind::Text => current
                        .get_or_insert_with(|| Unit { parent: path(&base, &headings), label: None, spans: Vec::new() })
                        .spans
                        .push(span),
                }
            }
            offset += len + 1;
        }
    }
    units.extend(current);
    units
}

/// Tokens of a candidate piece: special tokens + heading line + spans (+1 per line break).
fn tokens_of(counter: &dyn TokenCounter, header: usize, spans: &[usize]) -> usize {
    counter.overhead() + header + spans.iter().sum::<usize>() + spans.len()
}

fn split_unit(unit: Unit, counter: &dyn TokenCounter, config: &ChunkConfig, out: &mut Vec<Piece>) {
    let labels: Vec<String> = unit.label.iter().cloned().collect();
    let mut path = unit.parent.clone();
    path.extend(labels.iter().cloned());
    let header = counter.count(&path.join(" › "));
    let budget = config.max_tokens.saturating_sub(counter.overhead() + header + 1).max(8);
    let counts: Vec<usize> = unit.spans.iter().map(|s| counter.count(&s.text)).collect();
    if tokens_of(counter, header, &counts) <= config.max_tokens {
        let tokens = tokens_of(counter, header, &counts);
        out.push(Piece { parent: unit.parent, labels, whole: true, spans: unit.spans, tokens });
        return;
    }
    // Too long: accumulate paragraphs, then sentences, then hard cuts, within `budget`.
    let mut atoms: Vec<(Span, usize)> = Vec::new();
    for (span, n) in unit.spans.into_iter().zip(counts) {
        if n <= budget {
            atoms.push((span, n));
        } else {
            for sentence in sentences(&span) {
                let n = counter.count(&sentence.text);
                if n <= budget {
                    atoms.push((sentence, n));
                } else {
                    atoms.extend(hard_split(&sentence, counter, budget));
                }
            }
        }
    }
    let mut current: Vec<(Span, usize)> = Vec::new();
    let flush = |current: &mut Vec<(Span, usize)>, out: &mut Vec<Piece>| {
        if current.is_empty() {
            return;
        }
        let counts: Vec<usize> = current.iter().map(|(_, n)| *n).collect();
        let spans = merge_line_parts(current.drain(..).map(|(s, _)| s).collect());
        out.push(Piece {
            parent: unit.parent.clone(),
            labels: labels.clone(),
            whole: false,
            tokens: tokens_of(counter, header, &counts),
            spans,
        });
    };
    for (span, n) in atoms {
        let used: usize = current.iter().map(|(_, k)| k + 1).sum();
        if !current.is_empty() && used + n + 1 > budget {
            flush(&mut current, out);
        }
        current.push((span, n));
    }
    flush(&mut current, out);
}

/// Sentences (or sentence groups) of one line, as spans with their own offsets.
fn sentences(span: &Span) -> Vec<Span> {
    static END: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"[。！？；][”」』）)]*|[.!?;]["”')]*\s+"#).expect("valid regex"));
    let mut out = Vec::new();
    let mut last = 0; // byte offset
    for m in END.find_iter(&span.text) {
        let piece = &span.text[last..m.end()];
        if !piece.trim().is_empty() {
            out.push(sub_span(span, last, m.end()));
        }
        last = m.end();
    }
    if last < span.text.len() && !span.text[last..].trim().is_empty() {
        out.push(sub_span(span, last, span.text.len()));
    }
    out
}

/// The part `[from, to)` (byte offsets into `span.text`) as a span, trimmed.
fn sub_span(span: &Span, from: usize, to: usize) -> Span {
    let raw = &span.text[from..to];
    let lead = raw.len() - raw.trim_start().len();
    let text = raw.trim();
    let start = span.start + span.text[..from + lead].chars().count();
    Span { page: span.page, line: span.line, start, end: start + text.chars().count(), text: text.to_owned() }
}

/// Cut an over-long sentence at the largest prefix within `budget` tokens, repeatedly.
fn hard_split(span: &Span, counter: &dyn TokenCounter, budget: usize) -> Vec<(Span, usize)> {
    let mut out = Vec::new();
    let mut rest = sub_span(span, 0, span.text.len());
    while !rest.text.is_empty() {
        let n = counter.count(&rest.text);
        if n <= budget {
            out.push((rest, n));
            break;
        }
        // Binary search the number of characters that fits.
        let chars: Vec<(usize, char)> = rest.text.char_indices().collect();
        let (mut lo, mut hi) = (1, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let end = chars.get(mid).map_or(rest.text.len(), |(b, _)| *b);
            if counter.count(&rest.text[..end]) <= budget { lo = mid } else { hi = mid - 1 }
        }
        // Prefer a word boundary for Latin text.
        let mut cut = chars.get(lo).map_or(rest.text.len(), |(b, _)| *b);
        if let Some(space) = rest.text[..cut].rfind(' ').filter(|&s| s > cut / 2) {
            cut = space;
        }
        let head = sub_span(&rest, 0, cut);
        let n = counter.count(&head.text);
        let tail = sub_span(&rest, cut, rest.text.len());
        out.push((head, n));
        rest = tail;
    }
    out
}

/// Consecutive sentence spans of the same line become one span again.
fn merge_line_parts(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(prev) if prev.line == s.line => {
                // Normalised lines hold single spaces, so the gap is spaces.
                let gap = " ".repeat(s.start.saturating_sub(prev.end));
                prev.text = format!("{}{gap}{}", prev.text, s.text);
                prev.end = s.end;
            }
            _ => out.push(s),
        }
    }
    out
}

/// Merge consecutive short whole units with the same parent headings.
fn merge(pieces: Vec<Piece>, counter: &dyn TokenCounter, config: &ChunkConfig) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for p in pieces {
        if let Some(prev) = out.last_mut()
            && prev.whole
            && p.whole
            && !prev.labels.is_empty()
            && !p.labels.is_empty()
            && prev.parent == p.parent
        {
            // Combined size: both bodies, one heading line with a label range.
            let label = format!("{}–{}", prev.labels[0], p.labels[p.labels.len() - 1]);
            let mut path = prev.parent.clone();
            path.push(label);
            let header = counter.count(&path.join(" › "));
            let body = |x: &Piece| x.spans.iter().map(|s| counter.count(&s.text) + 1).sum::<usize>();
            let combined = counter.overhead() + header + body(prev) + body(&p);
            if combined <= config.merge_tokens {
                prev.labels.extend(p.labels);
                prev.spans.extend(p.spans);
                prev.tokens = combined;
                continue;
            }
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    /// Counts characters for Han text and words otherwise: close to WordPiece for these tests.
    struct Approx;
    impl TokenCounter for Approx {
        fn count(&self, text: &str) -> usize {
            let han = text.chars().filter(|&c| is_cjk(c)).count();
            han + text.split(|c: char| c.is_whitespace() || is_cjk(c)).filter(|w| !w.is_empty()).count()
        }
        fn overhead(&self) -> usize {
            2
        }
    }

    fn render(chunks: &[Chunk]) -> String {
        chunks
            .iter()
            .map(|c| {
                format!(
                    "[p{}:{}–p{}:{} {}t {:?}] {}\n{}\n",
                    c.page_start,
                    c.char_start,
                    c.page_end,
                    c.char_end,
                    c.tokens,
                    c.language,
                    c.heading_path.join(" › "),
                    c.text
                )
            })
            .collect()
    }

    fn check(title: Option<&str>, pages: &[&str], config: ChunkConfig, expect: Expect) {
        let pages: Vec<PageText<'_>> = pages
            .iter()
            .enumerate()
            .map(|(i, t)| PageText { number: u32::try_from(i + 1).unwrap(), text: t })
            .collect();
        let chunks = chunk_document(title, &pages, &Approx, &config);
        // Offsets always point at the chunk's first and last characters in the page text.
        for c in &chunks {
            let first: String = pages[c.page_start as usize - 1].text.chars().skip(c.char_start).take(4).collect();
            assert!(c.text.starts_with(&first), "{first:?} vs {:?}", c.text);
            let last_page: Vec<char> = pages[c.page_end as usize - 1].text.chars().collect();
            let tail: String = last_page[c.char_end.saturating_sub(3)..c.char_end].iter().collect();
            assert!(c.text.ends_with(&tail), "{tail:?} vs {:?}", c.text);
            assert!(c.tokens <= config.max_tokens + 8, "{} tokens: {}", c.tokens, c.text);
            // A chunk is its page slice, blank lines aside (paragraph breaks are kept).
            if c.page_start == c.page_end {
                let slice: String = last_page[c.char_start..c.char_end].iter().collect();
                let lines: Vec<&str> = slice.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect();
                assert_eq!(lines.join("\n"), c.text);
            }
        }
        expect.assert_eq(&render(&chunks));
    }

    const STATUTE: &str = "中华人民共和国民法典\n第三编 合同\n第一分编 通则\n第一章 一般规定\n第四百六十三条 本编调整因合同产生的民事关系。\n第四百六十四条 合同是民事主体之间设立、变更、终止民事法律关系的协议。\n婚姻、收养、监护等有关身份关系的协议，适用有关该身份关系的法律规定；没有规定的，可以根据其性质参照适用本编规定。\n第四百六十五条 依法成立的合同，受法律保护。\n第二章 合同的订立\n第四百七十一条 当事人订立合同，可以采取要约、承诺方式或者其他方式。";

    #[test]
    fn chinese_statute_articles_with_heading_paths_and_merging() {
        check(
            Some("《民法典》"),
            &[STATUTE],
            ChunkConfig { max_tokens: 96, merge_tokens: 64 },
            expect![[r#"
                [p1:0–p1:10 17t Zh] 《民法典》
                中华人民共和国民法典
                [p1:35–p1:58 58t Zh] 《民法典》 › 第三编 合同 › 第一分编 通则 › 第一章 一般规定 › 第四百六十三条
                第四百六十三条 本编调整因合同产生的民事关系。
                [p1:59–p1:94 70t Zh] 《民法典》 › 第三编 合同 › 第一分编 通则 › 第一章 一般规定 › 第四百六十四条
                第四百六十四条 合同是民事主体之间设立、变更、终止民事法律关系的协议。
                [p1:95–p1:151 92t Zh] 《民法典》 › 第三编 合同 › 第一分编 通则 › 第一章 一般规定 › 第四百六十四条
                婚姻、收养、监护等有关身份关系的协议，适用有关该身份关系的法律规定；没有规定的，可以根据其性质参照适用本编规定。
                [p1:152–p1:174 57t Zh] 《民法典》 › 第三编 合同 › 第一分编 通则 › 第一章 一般规定 › 第四百六十五条
                第四百六十五条 依法成立的合同，受法律保护。
                [p1:185–p1:219 70t Zh] 《民法典》 › 第三编 合同 › 第一分编 通则 › 第二章 合同的订立 › 第四百七十一条
                第四百七十一条 当事人订立合同，可以采取要约、承诺方式或者其他方式。
            "#]],
        );
    }

    #[test]
    fn long_articles_split_at_paragraphs_then_sentences_never_mid_sentence() {
        let long = format!(
            "第一条 {}\n{}",
            "当事人应当按照约定全面履行自己的义务。".repeat(3),
            "当事人应当遵循诚信原则，根据合同的性质、目的和交易习惯履行通知、协助、保密等义务。".repeat(2)
        );
        check(
            None,
            &[&long],
            ChunkConfig { max_tokens: 60, merge_tokens: 40 },
            expect![[r#"
                [p1:0–p1:42 46t Zh] 第一条
                第一条 当事人应当按照约定全面履行自己的义务。当事人应当按照约定全面履行自己的义务。
                [p1:42–p1:61 24t Zh] 第一条
                当事人应当按照约定全面履行自己的义务。
                [p1:62–p1:103 46t Zh] 第一条
                当事人应当遵循诚信原则，根据合同的性质、目的和交易习惯履行通知、协助、保密等义务。
                [p1:103–p1:144 46t Zh] 第一条
                当事人应当遵循诚信原则，根据合同的性质、目的和交易习惯履行通知、协助、保密等义务。
            "#]],
        );
    }

    #[test]
    fn english_contract_clauses_across_pages() {
        let p1 = "NON-DISCLOSURE AGREEMENT\nThis Agreement is made between Acme Corp and Beta LLC.\n1. Definitions\n1.1 \"Confidential Information\" means any information disclosed by either party.\n1.2 \"Purpose\" means the evaluation of a business relationship.";
        let p2 = "2. Obligations\n2.1 The Recipient shall not disclose Confidential Information to any third party. The Recipient shall protect it with reasonable care.\n2.2 The Recipient shall not reverse engineer any prototype.";
        check(
            None,
            &[p1, p2],
            ChunkConfig { max_tokens: 40, merge_tokens: 30 },
            expect![[r#"
                [p1:0–p1:79 14t En] 
                NON-DISCLOSURE AGREEMENT
                This Agreement is made between Acme Corp and Beta LLC.
                [p1:95–p1:237 25t En] 1. Definitions › 1.1–1.2
                1.1 "Confidential Information" means any information disclosed by either party.
                1.2 "Purpose" means the evaluation of a business relationship.
                [p2:15–p2:149 26t En] 2. Obligations › 2.1
                2.1 The Recipient shall not disclose Confidential Information to any third party. The Recipient shall protect it with reasonable care.
                [p2:150–p2:209 15t En] 2. Obligations › 2.2
                2.2 The Recipient shall not reverse engineer any prototype.
            "#]],
        );
    }

    #[test]
    fn judgments_use_numbered_paragraphs() {
        let text = "SUPREME COURT OF THE UNITED STATES\n[1] The petitioner was convicted in state court.\n[2] We granted certiorari to decide whether the statute applies.\n[3] We hold that it does not.";
        check(
            None,
            &[text],
            ChunkConfig { max_tokens: 30, merge_tokens: 12 },
            expect![[r#"
            [p1:0–p1:34 8t En] 
            SUPREME COURT OF THE UNITED STATES
            [p1:35–p1:83 11t En] [1]
            [1] The petitioner was convicted in state court.
            [p1:84–p1:148 13t En] [2]
            [2] We granted certiorari to decide whether the statute applies.
            [p1:149–p1:178 10t En] [3]
            [3] We hold that it does not.
        "#]],
        );
    }

    #[test]
    fn language_detection() {
        assert_eq!(detect_language("合同是民事主体之间的协议"), Language::Zh);
        assert_eq!(detect_language("第57条 labour contract 劳动合同"), Language::Zh);
        assert_eq!(detect_language("The Recipient shall not"), Language::En);
        assert_eq!(detect_language("§ 2-207"), Language::Und);
    }
}
