//! Legal references in a query: `第五十七条` / `第57条`, `Article 5`, `Section 2.3`, `§ 2-207`.
//!
//! A reference is reduced to the label a heading of the cited unit starts with, in the form
//! statutes print it (Chinese statutes number articles in Chinese numerals: `第57条` is looked up
//! as `第五十七条`), so that search can put the exact structural match first.

use std::sync::LazyLock;

use regex::Regex;

/// One reference found in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalRef {
    /// The label as headings print it, e.g. `第五十七条`, `Article 5`, `Section 2.3`, `§ 2-207`.
    pub label: String,
    /// Labels that mean the same unit in other styles (e.g. `Art. 5`).
    pub variants: Vec<String>,
}

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// A number in the Chinese numerals of statute article labels: 10 → 十, 57 → 五十七,
/// 102 → 一百零二, 110 → 一百一十, 1260 → 一千二百六十.
#[must_use]
pub fn to_chinese_numeral(n: u32) -> String {
    if n == 0 {
        return "零".into();
    }
    if n >= 10_000 {
        return n.to_string();
    }
    let units = [(1000, '千'), (100, '百'), (10, '十'), (1, ' ')];
    let mut out = String::new();
    let mut pending_zero = false;
    for (value, unit) in units {
        let d = (n / value) % 10;
        if d == 0 {
            if !out.is_empty() {
                pending_zero = true;
            }
            continue;
        }
        if pending_zero {
            out.push('零');
            pending_zero = false;
        }
        // 10–19 are written 十, 十一 … without a leading 一.
        if !(value == 10 && d == 1 && n < 20) {
            out.push(DIGITS[d as usize]);
        }
        if value > 1 {
            out.push(unit);
        }
    }
    out
}

/// Parse Chinese numerals (`五十七`, `一百零二`, `两百`, `〇`) or Arabic digits.
#[must_use]
pub fn parse_number(s: &str) -> Option<u32> {
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (mut total, mut section, mut digit) = (0u32, 0u32, None::<u32>);
    for c in s.chars() {
        let d = match c {
            '零' | '〇' => Some(0),
            '一' => Some(1),
            '二' | '两' => Some(2),
            '三' => Some(3),
            '四' => Some(4),
            '五' => Some(5),
            '六' => Some(6),
            '七' => Some(7),
            '八' => Some(8),
            '九' => Some(9),
            _ => None,
        };
        if let Some(d) = d {
            digit = Some(d);
            continue;
        }
        let unit = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            '万' => 10_000,
            _ => return None,
        };
        if unit == 10_000 {
            total = (total + section + digit.unwrap_or(0)) * unit;
            section = 0;
        } else {
            section += digit.unwrap_or(1) * unit;
        }
        digit = None;
    }
    Some(total + section + digit.unwrap_or(0))
}

static ZH_ARTICLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"第\s*([0-9]+|[零〇一二两三四五六七八九十百千]+)\s*条(?:之([一二三四五六七八九十]+))?").unwrap()
});
static EN_ARTICLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(article|art\.|section|sec\.|clause)\s*([0-9]+(?:\.[0-9]+)*(?:\([a-z0-9]+\))*)").unwrap()
});
static SECTION_SIGN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"§+\s*([0-9]+(?:[.\-][0-9]+)*(?:\([a-z0-9]+\))*)").unwrap());

/// The legal references in `query`, in order of appearance, without repeats.
#[must_use]
pub fn references(query: &str) -> Vec<LegalRef> {
    let mut found: Vec<(usize, LegalRef)> = Vec::new();
    for c in ZH_ARTICLE.captures_iter(query) {
        let Some(n) = parse_number(&c[1]) else { continue };
        let mut label = format!("第{}条", to_chinese_numeral(n));
        if let Some(sub) = c.get(2) {
            label.push('之');
            label.push_str(sub.as_str());
        }
        let variants = vec![format!("第{n}条")];
        found.push((c.get(0).map_or(0, |m| m.start()), LegalRef { label, variants }));
    }
    for c in EN_ARTICLE.captures_iter(query) {
        let number = &c[2];
        let kind = c[1].to_lowercase();
        let (label, variants) = match kind.as_str() {
            "article" | "art." => {
                (format!("Article {number}"), vec![format!("Art. {number}"), format!("ARTICLE {number}")])
            }
            "section" | "sec." => (
                format!("Section {number}"),
                vec![format!("Sec. {number}"), format!("SECTION {number}"), format!("§ {number}")],
            ),
            _ => (number.to_string(), vec![format!("Clause {number}")]),
        };
        found.push((c.get(0).map_or(0, |m| m.start()), LegalRef { label, variants }));
    }
    for c in SECTION_SIGN.captures_iter(query) {
        let number = &c[1];
        let label = format!("§ {number}");
        found.push((
            c.get(0).map_or(0, |m| m.start()),
            LegalRef { label, variants: vec![format!("§{number}"), format!("Section {number}")] },
        ));
    }
    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<LegalRef> = Vec::new();
    for (_, r) in found {
        if !out.iter().any(|o| o.label == r.label) {
            out.push(r);
        }
    }
    out
}

/// Whether a heading (one component of a heading path) is the unit `r` names: it starts with the
/// label or a variant, followed by the end, a space or punctuation (so `Article 5` does not match
/// `Article 50`, nor `第五十条` `第五十条之一`).
#[must_use]
pub fn heading_matches(heading: &str, r: &LegalRef) -> bool {
    let heading = heading.trim_start();
    std::iter::once(&r.label).chain(&r.variants).any(|label| {
        heading.strip_prefix(label.as_str()).is_some_and(|rest| {
            rest.chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '之' || c == '.' || c == '-' || c == '('))
        })
    })
}

/// The core of a document title for matching it inside a query: without the
/// `中华人民共和国` prefix, a trailing version date in parentheses, and 《》.
#[must_use]
pub fn title_core(title: &str) -> &str {
    let t = title.trim().trim_start_matches('《').trim_end_matches('》');
    let t = t.strip_prefix("中华人民共和国").unwrap_or(t);
    let t = match t.rfind(['(', '（']) {
        Some(i) if i > 0 && t.ends_with([')', '）']) => &t[..i],
        _ => t,
    };
    t.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numerals_both_ways() {
        for (n, s) in [
            (1, "一"),
            (10, "十"),
            (11, "十一"),
            (20, "二十"),
            (57, "五十七"),
            (100, "一百"),
            (102, "一百零二"),
            (110, "一百一十"),
            (1000, "一千"),
            (1002, "一千零二"),
            (1010, "一千零一十"),
            (1260, "一千二百六十"),
        ] {
            assert_eq!(to_chinese_numeral(n), s, "{n}");
            assert_eq!(parse_number(s), Some(n), "{s}");
        }
        assert_eq!(parse_number("两百"), Some(200));
        assert_eq!(parse_number("57"), Some(57));
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn arabic_and_chinese_article_numbers_are_the_same_article() {
        let a = references("劳动合同法第57条规定了什么？");
        let b = references("《劳动合同法》第五十七条的内容是什么");
        assert_eq!(a[0].label, "第五十七条");
        assert_eq!(a, b);
        assert_eq!(references("刑法第一百三十三条之一")[0].label, "第一百三十三条之一");
    }

    #[test]
    fn english_references() {
        assert_eq!(references("What does Article 5 say?")[0].label, "Article 5");
        assert_eq!(references("see art. 12 of the Convention")[0].label, "Article 12");
        assert_eq!(references("under Section 2.3(b)")[0].label, "Section 2.3(b)");
        assert_eq!(references("UCC § 2-207 battle of the forms")[0].label, "§ 2-207");
        assert!(references("what is a non-compete?").is_empty());
    }

    #[test]
    fn headings_match_exactly_that_unit() {
        let r = &references("第五十条")[0];
        assert!(heading_matches("第五十条 用人单位应当", r));
        assert!(heading_matches("第五十条", r));
        assert!(!heading_matches("第五十条之一", r));
        assert!(!heading_matches("第一百五十条", r));
        let r = &references("Article 5")[0];
        assert!(heading_matches("Article 5 Confidentiality", r));
        assert!(heading_matches("ARTICLE 5 — TERM", r));
        assert!(!heading_matches("Article 50", r));
        assert!(!heading_matches("Article 5.1", r));
    }

    #[test]
    fn title_cores() {
        assert_eq!(title_core("中华人民共和国劳动合同法"), "劳动合同法");
        assert_eq!(title_core("《中华人民共和国民法典》"), "民法典");
        assert_eq!(title_core("退役军人保障法(2020-11-11)"), "退役军人保障法");
        assert_eq!(title_core("Mutual NDA"), "Mutual NDA");
    }
}
