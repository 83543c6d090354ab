//! Text analysis for the full-text index.
//!
//! LanceDB's tokenizers split on whitespace and punctuation, which leaves a run of Han characters
//! as one giant token: `劳动合同` would only match a chunk consisting of exactly that run. Chinese
//! text is therefore segmented with jieba (search mode: overlapping words, so both `劳动` and
//! `劳动合同` are indexed) into a separate `search_text` column, and queries go through the same
//! function. English words pass through unchanged; LanceDB's `simple` tokenizer then lower-cases,
//! stems and drops English stop words for both.

use std::sync::OnceLock;

use jieba_rs::Jieba;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// The text as the full-text index sees it: Han runs segmented into space-separated words
/// (overlapping search-mode segmentation), everything else unchanged.
#[must_use]
pub fn search_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        for word in jieba().cut_for_search(run, true) {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word.word);
        }
        out.push(' ');
    };
    for (i, c) in text.char_indices() {
        if is_han(c) {
            if run_start.is_none() {
                run_start = Some(i);
            }
        } else {
            if let Some(start) = run_start.take() {
                flush(&mut out, &text[start..i]);
            }
            out.push(c);
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &text[start..]);
    }
    out.truncate(out.trim_end().len());
    out
}

/// Whether a text is Chinese: at least a fifth of its letters are Han characters.
#[must_use]
pub fn is_chinese(text: &str) -> bool {
    let (mut han, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        han += usize::from(is_han(c));
    }
    letters > 0 && han * 5 >= letters
}

/// Words too common in questions to say anything about relevance.
const STOP_EN: &[&str] = &[
    "the",
    "and",
    "for",
    "are",
    "was",
    "were",
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "does",
    "did",
    "can",
    "could",
    "shall",
    "should",
    "will",
    "would",
    "may",
    "might",
    "must",
    "any",
    "all",
    "this",
    "that",
    "these",
    "those",
    "with",
    "from",
    "into",
    "under",
    "about",
    "there",
    "their",
    "its",
    "has",
    "have",
    "had",
    "not",
    "say",
    "says",
    "said",
    "according",
    "is",
    "be",
    "of",
    "to",
    "in",
    "on",
    "or",
    "an",
    "a",
    "as",
    "by",
    "at",
    "it",
    "if",
    "do",
    "some",
    "other",
    "than",
    "then",
    "such",
    "between",
    "much",
    "many",
    "need",
    "needed",
    "tell",
    "explain",
    "please",
];
const STOP_ZH: &[&str] = &[
    "多少",
    "多久",
    "多长",
    "几个",
    "哪里",
    "何时",
    "什么时候",
    "是不是",
    "能否",
    "可否",
    "请问",
    "什么",
    "怎么",
    "怎样",
    "如何",
    "哪些",
    "哪个",
    "是否",
    "为什么",
    "内容",
    "规定",
    "可以",
    "应当",
    "应该",
    "根据",
    "法律",
    "问题",
    "情况",
    "一个",
    "这个",
    "那个",
    "我们",
    "他们",
    "没有",
    "已经",
    "需要",
    "进行",
    "有关",
    "相关",
];

/// The content terms of a question: words as the index sees them (Han runs segmented, lower
/// case), without stop words, single Han characters and Latin words under three letters
/// (numbers are kept). Each term once, in order.
#[must_use]
pub fn content_terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in search_text(text).split(|c: char| !c.is_alphanumeric()) {
        let w = word.to_lowercase();
        let han = w.chars().all(is_han);
        let keep = if w.is_empty() {
            false
        } else if han {
            // Fragments of article labels (第五, 五十, 十七条) say nothing about the topic; legal
            // references are matched structurally instead.
            let label = w.chars().all(|c| "第零〇一二两三四五六七八九十百千万条款项章节编之".contains(c));
            w.chars().count() >= 2 && !label && !STOP_ZH.contains(&w.as_str())
        } else if w.chars().all(|c| c.is_ascii_digit()) {
            true
        } else {
            w.chars().count() >= 3 && !STOP_EN.contains(&w.as_str())
        };
        if keep && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Share of `terms` that occur in `text` (case-insensitive substring match, so `engineer` counts
/// for `engineering`). 0 when there are no terms.
#[must_use]
pub fn term_coverage(terms: &[String], text: &str) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let lower = text.to_lowercase();
    let found = terms.iter().filter(|t| lower.contains(t.as_str())).count();
    #[allow(clippy::cast_precision_loss)]
    let share = found as f32 / terms.len() as f32;
    share
}

/// For each passage, the IDF-weighted share of `terms` it contains, with document frequencies
/// taken over the passages themselves: a term every passage contains (`party` in an NDA) says
/// little, a term only one contains (`reverse`) says much, and a term none contains (`France`)
/// weighs as much as that, lowering every passage's share (no more: an odd word in a question
/// must not outweigh the words a passage does match). 0 for all when there are no terms.
#[must_use]
pub fn weighted_coverage(terms: &[String], passages: &[&str]) -> Vec<f32> {
    let lower: Vec<String> = passages.iter().map(|p| p.to_lowercase()).collect();
    #[allow(clippy::cast_precision_loss)]
    let n = lower.len() as f32;
    let present: Vec<Vec<bool>> =
        terms.iter().map(|t| lower.iter().map(|p| p.contains(t.as_str())).collect()).collect();
    let weights: Vec<f32> = present
        .iter()
        .map(|row| {
            #[allow(clippy::cast_precision_loss)]
            let df = row.iter().filter(|&&b| b).count() as f32;
            ((n + 1.0) / (df.max(1.0) + 0.5)).ln()
        })
        .collect();
    let total: f32 = weights.iter().sum();
    (0..lower.len())
        .map(|i| {
            if total <= 0.0 {
                return 0.0;
            }
            let got: f32 = present.iter().zip(&weights).filter(|(row, _)| row[i]).map(|(_, w)| w).sum();
            got / total
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_coverage_favours_rare_terms() {
        let terms = content_terms("Can the receiving party reverse engineer the confidential information?");
        let passages = [
            "The Receiving Party shall not reverse engineer any Confidential Information.",
            "The Receiving Party shall keep the Confidential Information secret.",
            "Confidential Information means information the Receiving Party receives from the other party.",
        ];
        let w = weighted_coverage(&terms, &passages);
        assert!(w[0] > 0.9, "{w:?}");
        assert!(w[1] < 0.3 && w[2] < 0.3, "{w:?}");
        let off_topic = weighted_coverage(&content_terms("What is the capital of France?"), &passages);
        assert!(off_topic.iter().all(|&x| x < 0.01), "{off_topic:?}");
    }

    #[test]
    fn content_terms_drop_question_words() {
        let t = content_terms("What does the NDA say about reverse engineering?");
        assert_eq!(t, ["nda", "reverse", "engineering"]);
        let t = content_terms("劳动合同法第五十七条的内容是什么？");
        assert_eq!(t, ["劳动", "合同", "合同法"]);
        assert!((term_coverage(&t, "第五十七条 经营劳务派遣业务，订立劳动合同") - 2.0 / 3.0).abs() < 1e-6);
        assert!(term_coverage(&[], "x").abs() < f32::EPSILON);
    }

    #[test]
    fn han_runs_are_segmented_and_latin_kept() {
        let s = search_text("用人单位与劳动者订立劳动合同 under Article 5.");
        assert!(s.contains("劳动合同"), "{s}");
        assert!(s.split(' ').any(|w| w == "劳动"), "search mode also yields the shorter word: {s}");
        assert!(s.ends_with("under Article 5."), "{s}");
    }

    #[test]
    fn query_and_text_agree_on_article_labels() {
        let text = search_text("第五十七条 国家建立退役军人荣誉激励机制");
        let query = search_text("第五十七条");
        for word in query.split_whitespace() {
            assert!(text.split_whitespace().any(|w| w == word), "{word} missing from {text}");
        }
    }
}
