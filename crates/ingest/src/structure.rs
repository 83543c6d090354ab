//! Recognising the structure of legal text line by line: headings (编/章/节, Part, Chapter,
//! Markdown `#`) that form the heading path, and units (第N条, Article, Section, §, numbered
//! clauses, numbered judgment paragraphs) that are the addressable pieces a lawyer cites.

use std::sync::LazyLock;

use regex::Regex;

/// What a line of legal text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A heading that opens a section at `level` (smaller = higher); `label` is the whole line.
    Heading {
        /// 1 = 编/Part/`#`, 2 = 分编/`##`, 3 = 章/Chapter/`###`, 4 = 节/`####`, 5+ deeper Markdown.
        level: u8,
        /// The heading as displayed.
        label: String,
    },
    /// The start of a citable unit; `label` is its number as cited ("第五十七条", "Article 5",
    /// "Section 2.3", "§ 2-207", "2.3(b)", "[12]").
    Unit {
        /// The citation label.
        label: String,
    },
    /// Body text.
    Text,
}

const ZH_NUM: &str = "[一二三四五六七八九十百千零〇两0-9０-９]+";

static ZH_HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^第{ZH_NUM}(编|分编|章|节)(?:\s|$)")).expect("valid regex"));
static ZH_ARTICLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^(第{ZH_NUM}条(?:之[一二三四五六七八九十]+)?)(?:\s|$|[　])")).expect("valid regex")
});
static MD_HEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(#{1,6})\s+(.+)$").expect("valid regex"));
static EN_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(PART|Part|TITLE|Title)|(CHAPTER|Chapter|SUBCHAPTER|Subchapter))\s+[0-9IVXLCDM]+[A-Z]?\b")
        .expect("valid regex")
});
static EN_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:",
        r"((?:ARTICLE|Article|Art\.)\s+[0-9IVXLCDM]+[A-Za-z]?(?:\.[0-9]+)*)(?:[\s:.\-–—]|$)", // Article 5, ARTICLE IV
        r"|((?:SECTION|Section|Sec\.)\s+[0-9]+[A-Za-z]?(?:[.\-][0-9]+)*)(?:[\s:.\-–—]|$)",    // Section 2.3
        r"|(§{1,2}\s*[0-9][0-9A-Za-z.\-]*?)(?:\.?\s|\.?$)",                                   // § 2-207
        r"|([0-9]{1,3}(?:\.[0-9]{1,3})+\.?(?:\([a-z0-9]{1,4}\))+)(?:\s|$)",                   // 2.3(b)
        r"|([0-9]{1,3}(?:\.[0-9]{1,3})+)\.?(?:\s+[A-Z\x22“(]|$)",                             // 2.3 The …
        r"|([0-9]{1,3})\.\s+[A-Z\x22“]",                                                      // 1. Definitions
        r"|(\[[0-9]{1,4}\])(?:\s|$)",                                                         // [12] (judgments)
        r")"
    ))
    .expect("valid regex")
});

/// Classify one (normalised) line.
#[must_use]
pub fn classify(line: &str) -> LineKind {
    let line = line.trim();
    if line.is_empty() {
        return LineKind::Text;
    }
    if let Some(m) = MD_HEADING.captures(line) {
        let level = u8::try_from(m[1].len()).unwrap_or(6);
        let label = m[2].trim().to_owned();
        // A Markdown heading that is itself an article ("## 第一条") is a unit.
        if let Some(a) = ZH_ARTICLE.captures(&label) {
            return LineKind::Unit { label: a[1].to_owned() };
        }
        return LineKind::Heading { level, label };
    }
    if let Some(m) = ZH_HEADING.captures(line)
        && line.chars().count() <= 40
    {
        let level = match &m[1] {
            "编" => 1,
            "分编" => 2,
            "章" => 3,
            _ => 4,
        };
        return LineKind::Heading { level, label: line.to_owned() };
    }
    if let Some(m) = ZH_ARTICLE.captures(line) {
        return LineKind::Unit { label: m[1].to_owned() };
    }
    if let Some(m) = EN_HEADING.captures(line)
        && line.chars().count() <= 80
    {
        let level = if m.get(1).is_some() { 1 } else { 3 };
        return LineKind::Heading { level, label: line.to_owned() };
    }
    if let Some(m) = EN_UNIT.captures(line) {
        let (group, label) = (1..m.len()).find_map(|i| m.get(i).map(|g| (i, g))).expect("one alternative matched");
        let rest = line[label.end()..].trim_start_matches(['.', ':', ' ', '-', '–', '—']);
        let label = label.as_str().trim_end_matches('.').to_owned();
        // "ARTICLE IV. TERM", "1. Definitions", "§ 2-207. Additional Terms": a numbered title that
        // groups the clauses below it is a heading; a numbered line with body text is a unit.
        if is_title(rest) && group != 7 {
            let level = match group {
                1 => 2,     // Article
                2 | 3 => 3, // Section, §
                6 => 3,     // 1. Definitions
                _ => 4,     // 2.3 Exclusions
            };
            return LineKind::Heading { level, label: line.to_owned() };
        }
        return LineKind::Unit { label };
    }
    LineKind::Text
}

/// A short caption: at most ten words, each capitalised (short connectives aside), or empty.
fn is_title(rest: &str) -> bool {
    const SMALL: &[&str] = &["a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"];
    let rest = rest.trim().trim_end_matches('.');
    let words: Vec<&str> = rest.split_whitespace().collect();
    words.len() <= 10
        && !rest.ends_with([',', ';', ':'])
        && words.iter().enumerate().all(|(i, w)| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            w.is_empty()
                || w.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                || (i > 0 && SMALL.contains(&w))
        })
}

/// Whether a line opens a unit or heading (used to stop joining wrapped lines).
#[must_use]
pub fn starts_structural_unit(line: &str) -> bool {
    !matches!(classify(line), LineKind::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(s: &str) -> LineKind {
        LineKind::Unit { label: s.to_owned() }
    }

    #[test]
    fn chinese_statute_structure() {
        assert_eq!(classify("第三编 合同"), LineKind::Heading { level: 1, label: "第三编 合同".into() });
        assert_eq!(classify("第一分编 通则"), LineKind::Heading { level: 2, label: "第一分编 通则".into() });
        assert_eq!(classify("第一章 一般规定"), LineKind::Heading { level: 3, label: "第一章 一般规定".into() });
        assert_eq!(classify("第二节 要约"), LineKind::Heading { level: 4, label: "第二节 要约".into() });
        assert_eq!(classify("第四百六十四条 合同是民事主体之间…"), unit("第四百六十四条"));
        assert_eq!(classify("第57条　劳动合同"), unit("第57条"));
        assert_eq!(classify("第一百二十条之一 …"), unit("第一百二十条之一"));
        assert_eq!(classify("## 第一条 为了保护"), unit("第一条"));
        // Body text that mentions an article is not a unit.
        assert_eq!(classify("依照本法第五十七条的规定"), LineKind::Text);
        assert_eq!(
            classify(
                "第一章规定的情形，适用本条。这是一段很长的正文，而不是标题，因为它讲述了很多内容并且超过了标题的长度限制。"
            ),
            LineKind::Text
        );
    }

    #[test]
    fn english_contracts_statutes_and_judgments() {
        let heading = |level: u8, label: &str| LineKind::Heading { level, label: label.to_owned() };
        assert_eq!(classify("ARTICLE IV. TERM"), heading(2, "ARTICLE IV. TERM"));
        assert_eq!(classify("Article 5 Confidentiality"), heading(2, "Article 5 Confidentiality"));
        assert_eq!(classify("Article 5 The employer shall pay wages in full."), unit("Article 5"));
        assert_eq!(classify("Section 2.3 Exclusions"), heading(3, "Section 2.3 Exclusions"));
        assert_eq!(
            classify("§ 2-207. Additional Terms in Acceptance or Confirmation."),
            heading(3, "§ 2-207. Additional Terms in Acceptance or Confirmation.")
        );
        assert_eq!(
            classify("§ 2-207. (1) A definite and seasonable expression of acceptance operates as an acceptance."),
            unit("§ 2-207")
        );
        assert_eq!(classify("2.3(b) the Recipient shall"), unit("2.3(b)"));
        assert_eq!(classify("1.1 \"Confidential Information\" means"), unit("1.1"));
        assert_eq!(classify("1. Definitions"), heading(3, "1. Definitions"));
        assert_eq!(classify("1. The Recipient shall keep the information secret."), unit("1"));
        assert_eq!(classify("[12] The appellant argues"), unit("[12]"));
        assert_eq!(classify("PART II"), LineKind::Heading { level: 1, label: "PART II".into() });
        assert_eq!(classify("CHAPTER 7 REMEDIES"), LineKind::Heading { level: 3, label: "CHAPTER 7 REMEDIES".into() });
        assert_eq!(
            classify("# Non-Disclosure Agreement"),
            LineKind::Heading { level: 1, label: "Non-Disclosure Agreement".into() }
        );
        // Not structure.
        assert_eq!(classify("In 2019, the parties agreed"), LineKind::Text);
        assert_eq!(classify("3.5 million dollars were paid"), LineKind::Text);
        assert_eq!(classify("12. The court held that the statute did not apply."), unit("12"));
        assert_eq!(classify("as set out in Section 2.3 above"), LineKind::Text);
    }
}
