//! Line diff of two outputs, for the side-by-side view, with the changed words of each
//! changed line emphasised.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, InlineChangeMode, InlineChangeOptions, TextDiff};

/// What happened to a line.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffOp {
    /// In both.
    Equal,
    /// Only in the old (left) text.
    Delete,
    /// Only in the new (right) text.
    Insert,
}

/// A part of a line; `changed` parts differ from the other side's paired line.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSpan {
    /// Whether this part changed.
    pub changed: bool,
    /// The text.
    pub text: String,
}

/// One line of the diff.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// Equal, deleted or inserted.
    pub op: DiffOp,
    /// 1-based line in the old text.
    pub old_line: Option<usize>,
    /// 1-based line in the new text.
    pub new_line: Option<usize>,
    /// The line without its line break, in parts.
    pub spans: Vec<DiffSpan>,
}

impl DiffLine {
    /// The whole line.
    #[must_use]
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }
}

/// The line diff of `old` and `new`, without a deadline (deterministic). Changed words are
/// emphasised within changed lines; texts with Han characters, which have no spaces between
/// words, are compared character by character.
#[must_use]
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    let diff = TextDiff::from_lines(old, new);
    let han = |s: &str| s.chars().any(|c| ('\u{3400}'..='\u{9fff}').contains(&c));
    let mut options = InlineChangeOptions::new();
    options.mode(if han(old) || han(new) { InlineChangeMode::Chars } else { InlineChangeMode::Words });
    options.semantic_cleanup(true);
    let mut lines = Vec::new();
    for op in diff.ops() {
        for change in diff.iter_inline_changes_with_options_deadline(op, options, None) {
            let op = match change.tag() {
                ChangeTag::Equal => DiffOp::Equal,
                ChangeTag::Delete => DiffOp::Delete,
                ChangeTag::Insert => DiffOp::Insert,
            };
            let mut spans: Vec<DiffSpan> = Vec::new();
            for (changed, text) in change.iter_strings_lossy() {
                let changed = changed && op != DiffOp::Equal;
                match spans.last_mut() {
                    Some(last) if last.changed == changed => last.text.push_str(&text),
                    _ => spans.push(DiffSpan { changed, text: text.into_owned() }),
                }
            }
            if let Some(last) = spans.last_mut() {
                let trimmed = last.text.trim_end_matches(['\n', '\r']).len();
                last.text.truncate(trimmed);
            }
            spans.retain(|s| !s.text.is_empty());
            lines.push(DiffLine {
                op,
                old_line: change.old_index().map(|i| i + 1),
                new_line: change.new_index().map(|i| i + 1),
                spans,
            });
        }
    }
    lines
}

/// A unified diff (`---`/`+++` headers, three lines of context).
#[must_use]
pub fn unified_diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(old_label, new_label).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_line_is_paired_and_emphasised() {
        let lines = diff_lines("分类：物流延迟、商品质量\n回复：抱歉\n", "分类：物流延迟、售后服务\n回复：抱歉\n");
        let ops: Vec<_> = lines.iter().map(|l| (l.op, l.old_line, l.new_line, l.text())).collect();
        assert_eq!(
            ops,
            [
                (DiffOp::Delete, Some(1), None, "分类：物流延迟、商品质量".to_owned()),
                (DiffOp::Insert, None, Some(1), "分类：物流延迟、售后服务".to_owned()),
                (DiffOp::Equal, Some(2), Some(2), "回复：抱歉".to_owned()),
            ]
        );
        let changed = |l: &DiffLine| l.spans.iter().filter(|s| s.changed).map(|s| s.text.clone()).collect::<String>();
        assert_eq!((changed(&lines[0]), changed(&lines[1])), ("商品质量".to_owned(), "售后服务".to_owned()));
        let words = diff_lines("The term is two years.\n", "The term is three years.\n");
        assert_eq!(changed(&words[0]), "two");
        let u = unified_diff("a\nb\n", "a\nc\n", "left", "right");
        assert!(u.contains("--- left") && u.contains("-b") && u.contains("+c"), "{u}");
    }
}
