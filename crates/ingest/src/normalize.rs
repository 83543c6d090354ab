//! Text normalisation of extracted pages.
//!
//! The normalised page text is what LexDesk stores and what citations are verified against, so
//! every step here is conservative: it removes extraction artefacts, never content.
//!
//! Per page: ligatures (ﬁ → fi), Windows line ends and odd whitespace, spaces that PDF extractors
//! put between Han characters, words hyphenated across line breaks, and soft-wrapped lines
//! joined into paragraphs (a line that does not end a sentence and is followed by one that does
//! not start a structural marker). Across pages: running headers and footers (the same line,
//! digits aside, at the top or bottom of most pages) and page numbers.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::structure::starts_structural_unit;

/// Ligatures that PDF fonts map to single code points.
const LIGATURES: &[(char, &str)] = &[
    ('\u{FB00}', "ff"),
    ('\u{FB01}', "fi"),
    ('\u{FB02}', "fl"),
    ('\u{FB03}', "ffi"),
    ('\u{FB04}', "ffl"),
    ('\u{FB05}', "st"),
    ('\u{FB06}', "st"),
];

/// Is `c` a Han character or CJK punctuation (no spaces belong between these)?
#[must_use]
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{3400}'..='\u{4DBF}' // extension A
        | '\u{F900}'..='\u{FAFF}' // compatibility ideographs
        | '\u{3000}'..='\u{303F}' // CJK punctuation (、。〈〉《》「」…)
        | '\u{FF01}'..='\u{FF0F}' // full-width ！＂＃…／
        | '\u{FF1A}'..='\u{FF20}') // full-width ：；＜＝＞？＠
}

/// Normalise one page's raw extracted text (no cross-page steps).
#[must_use]
pub fn normalize_page(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\r' => {}
            '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => text.push(' '),
            '\u{00AD}' | '\u{200B}' | '\u{FEFF}' => {} // soft hyphen, zero-width space, BOM
            '\t' => text.push(' '),
            '\u{000C}' => text.push('\n'),         // form feed
            c if c.is_control() && c != '\n' => {} // NULs and other garbage from broken fonts
            c => match LIGATURES.iter().find(|(l, _)| *l == c) {
                Some((_, s)) => text.push_str(s),
                None => text.push(c),
            },
        }
    }
    let lines: Vec<String> = text.lines().map(|l| collapse_spaces(l.trim_end())).collect();
    join_wrapped_lines(&lines)
}

/// Collapse runs of spaces to one and drop spaces between CJK characters (leading indentation,
/// which marks a new paragraph in many PDFs, is reduced to nothing: paragraphs are lines).
fn collapse_spaces(line: &str) -> String {
    let chars: Vec<char> = line.trim_start().chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == '\u{3000}' {
            let mut j = i;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '\u{3000}') {
                j += 1;
            }
            let before = out.chars().last();
            let after = chars.get(j).copied();
            let cjk_gap = before.is_some_and(is_cjk) && after.is_some_and(is_cjk);
            // The space after a structural label (第四百六十三条 本编…, 第一章 一般规定) separates
            // the label from its text: keep one.
            if !cjk_gap || STRUCTURAL_LABEL.is_match(&out) {
                out.push(' ');
            }
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

static STRUCTURAL_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^第[一二三四五六七八九十百千零〇两0-9０-９]+(?:编|分编|章|节|条(?:之[一二三四五六七八九十]+)?)$")
        .expect("valid regex")
});
static HYPHEN_END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z]{2,}-$").expect("valid regex"));
static SENTENCE_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"[.!?;:。！？；：”"')）」』]$"#).expect("valid regex"));

/// Join soft-wrapped lines into paragraphs; keep blank lines and structural starts as breaks.
fn join_wrapped_lines(lines: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        // At most one blank line in a row, none at the start.
        if line.is_empty() && out.last().is_none_or(String::is_empty) {
            continue;
        }
        let Some(prev) = out.last_mut() else {
            out.push(line.clone());
            continue;
        };
        let joinable = !prev.is_empty()
            && !line.is_empty()
            && !SENTENCE_END.is_match(prev)
            && !starts_structural_unit(line)
            && !looks_like_heading(prev);
        if !joinable {
            out.push(line.clone());
            continue;
        }
        let next_first = line.chars().next().unwrap_or(' ');
        if HYPHEN_END.is_match(prev) && next_first.is_lowercase() {
            prev.pop(); // "confiden-" + "tial" → "confidential"
        } else if !(prev.chars().last().is_some_and(is_cjk) && is_cjk(next_first)) {
            prev.push(' ');
        }
        prev.push_str(line);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// Short lines without sentence punctuation that are all caps or a structural title.
fn looks_like_heading(line: &str) -> bool {
    let letters: Vec<char> = line.chars().filter(|c| c.is_alphabetic()).collect();
    line.chars().count() <= 80
        && letters.len() >= 3
        && letters.iter().all(|c| !c.is_lowercase())
        && letters.iter().any(|c| c.is_uppercase())
}

static PAGE_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?\s*$|^\s*第\s*\d{1,4}\s*页(?:\s*共\s*\d{1,4}\s*页)?\s*$")
        .expect("valid regex")
});

/// Remove running headers, footers and page numbers from normalised pages, in place.
///
/// A line counts as running when, with digits replaced, it appears within the first or last two
/// lines (one on pages of five lines or fewer) of at least half of the pages and of at least
/// three pages. Page-number lines at the
/// top or bottom of a page are removed on any document.
pub fn strip_running_lines(pages: &mut [String]) {
    let key = |l: &str| -> String { l.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect() };
    let edges = |text: &str| -> Vec<(usize, String)> {
        let lines: Vec<&str> = text.lines().collect();
        let n = lines.len();
        // Two lines at each edge, one on short pages (so body text is never an edge).
        let edge = if n > 5 { 2 } else { 1 };
        lines
            .iter()
            .enumerate()
            .filter(|(i, l)| (*i < edge || *i + edge >= n) && !l.trim().is_empty())
            .map(|(i, l)| (i, key(l.trim())))
            .collect()
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for page in pages.iter() {
        let mut seen: Vec<String> = edges(page).into_iter().map(|(_, k)| k).collect();
        seen.dedup();
        for k in seen {
            *counts.entry(k).or_default() += 1;
        }
    }
    let threshold = pages.len().div_ceil(2).max(3);
    for page in pages.iter_mut() {
        let drop: Vec<usize> = edges(page)
            .into_iter()
            .filter(|(i, k)| {
                let line = page.lines().nth(*i).unwrap_or("");
                counts.get(k).copied().unwrap_or(0) >= threshold || PAGE_NUMBER.is_match(line)
            })
            .map(|(i, _)| i)
            .collect();
        if !drop.is_empty() {
            let kept: Vec<&str> = page.lines().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, l)| l).collect();
            *page = kept.join("\n").trim_matches('\n').to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn ligatures_hyphenation_and_wrapped_lines() {
        let raw = "The receiving party shall keep all conﬁden-\ntial information in strict\nconﬁdence.\n\n2.1 The term is ﬁve years.";
        expect![[r#"
            The receiving party shall keep all confidential information in strict confidence.

            2.1 The term is five years."#]]
        .assert_eq(&normalize_page(raw));
    }

    #[test]
    fn no_spaces_between_han_characters_and_articles_stay_separate() {
        let raw = "第 四 百 六 十 四 条　合 同 是 民 事 主 体 之 间 设 立 、 变 更 、 终 止 民 事 法 律 关 系 的\n协 议 。\n第四百六十五条　依法成立的合同，受法律保护。";
        expect![[r#"
            第四百六十四条 合同是民事主体之间设立、变更、终止民事法律关系的协议。
            第四百六十五条 依法成立的合同，受法律保护。"#]]
        .assert_eq(&normalize_page(raw));
    }

    #[test]
    fn hyphens_that_are_not_line_breaks_stay() {
        assert_eq!(normalize_page("a well-known\nrule"), "a well-known rule");
        assert_eq!(normalize_page("§ 2-207.\nAdditional terms"), "§ 2-207.\nAdditional terms");
        assert_eq!(
            normalize_page("NON-DISCLOSURE AGREEMENT\nThis Agreement"),
            "NON-DISCLOSURE AGREEMENT\nThis Agreement"
        );
    }

    #[test]
    fn running_headers_footers_and_page_numbers_are_removed() {
        let mut pages: Vec<String> = (1..=4)
            .map(|n| {
                format!("SUPREME COURT OF THE UNITED STATES\nOpinion text of page {n}.\nMore text.\nPage {n} of 4")
            })
            .collect();
        pages.push("第 5 页\n最后一页的正文。".into());
        strip_running_lines(&mut pages);
        assert_eq!(pages[0], "Opinion text of page 1.\nMore text.");
        assert_eq!(pages[3], "Opinion text of page 4.\nMore text.");
        assert_eq!(pages[4], "最后一页的正文。");
    }

    #[test]
    fn a_heading_that_repeats_on_two_of_ten_pages_is_kept() {
        let mut pages: Vec<String> = (0..10).map(|n| format!("Body {n}.")).collect();
        pages[2] = "DEFINITIONS\nBody.".into();
        pages[7] = "DEFINITIONS\nBody.".into();
        strip_running_lines(&mut pages);
        assert_eq!(pages[2], "DEFINITIONS\nBody.");
    }
}
