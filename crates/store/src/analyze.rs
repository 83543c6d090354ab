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

#[cfg(test)]
mod tests {
    use super::*;

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
