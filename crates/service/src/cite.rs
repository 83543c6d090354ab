//! Citation checking: is a quoted passage really on the page it is attributed to?
//!
//! Both the quote and the page text are *folded* before comparison: Unicode compatibility
//! normalisation (NFKC: ligatures such as `ﬁ`, full-width letters, digits and punctuation),
//! lower case, and every character that is not a letter or digit dropped (whitespace, line
//! breaks, punctuation in any of its variants: `“”` `「」` `，` `,`). A quote is verified when
//! one contiguous run of the page's folded text covers at least [`MIN_COVERAGE`] of the folded
//! quote and the quote has at least [`MIN_QUOTE_CHARS`] significant characters. The matched run
//! is mapped back to character offsets in the stored page text, for highlighting.

use unicode_normalization::UnicodeNormalization;

/// Share of the (folded) quote that must match the page as one contiguous run.
pub const MIN_COVERAGE: f32 = 0.85;
/// Significant (letter or digit) characters a quote needs to be checkable at all.
pub const MIN_QUOTE_CHARS: usize = 8;

/// A page's text, folded once and searched many times.
#[derive(Debug, Clone)]
pub struct FoldedPage {
    folded: Vec<char>,
    /// For each folded character, the index of the character of the original text it came from.
    origin: Vec<u32>,
}

/// The outcome of checking one quote against one page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuoteMatch {
    /// Folded quote characters covered by the longest contiguous match, over all of them.
    pub coverage: f32,
    /// Significant characters in the quote.
    pub quote_chars: usize,
    /// Start of the matched run in the page text (characters, inclusive).
    pub start: u32,
    /// End of the matched run in the page text (characters, exclusive).
    pub end: u32,
}

impl QuoteMatch {
    /// Whether this match verifies the quote.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.quote_chars >= MIN_QUOTE_CHARS && self.coverage >= MIN_COVERAGE
    }
}

fn fold_into(text: &str, mut push: impl FnMut(char, u32)) {
    for (i, c) in text.chars().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        for n in std::iter::once(c).nfkc() {
            for l in n.to_lowercase() {
                if l.is_alphanumeric() {
                    push(l, i);
                }
            }
        }
    }
}

/// The folded form of `text` (see the module documentation).
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, |c, _| out.push(c));
    out
}

impl FoldedPage {
    /// Fold a page's text.
    #[must_use]
    pub fn new(text: &str) -> Self {
        let mut folded = Vec::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        fold_into(text, |c, i| {
            folded.push(c);
            origin.push(i);
        });
        Self { folded, origin }
    }

    /// The longest contiguous run of the page matching part of `quote`, or `None` when the quote
    /// has no significant characters or nothing of it is on the page.
    #[must_use]
    pub fn find(&self, quote: &str) -> Option<QuoteMatch> {
        let q: Vec<char> = fold(quote).chars().collect();
        if q.is_empty() || self.folded.is_empty() {
            return None;
        }
        // Longest common substring, O(page × quote) with one row: quotes are short.
        let mut row = vec![0u32; q.len() + 1];
        let (mut best, mut best_end) = (0u32, 0usize);
        for (i, &pc) in self.folded.iter().enumerate() {
            for j in (0..q.len()).rev() {
                if q[j] == pc {
                    row[j + 1] = row[j] + 1;
                    if row[j + 1] > best {
                        best = row[j + 1];
                        best_end = i;
                    }
                } else {
                    row[j + 1] = 0;
                }
            }
        }
        if best == 0 {
            return None;
        }
        let first = best_end + 1 - best as usize;
        #[allow(clippy::cast_precision_loss)]
        let coverage = best as f32 / q.len() as f32;
        Some(QuoteMatch { coverage, quote_chars: q.len(), start: self.origin[first], end: self.origin[best_end] + 1 })
    }
}

/// Check `quote` against several pages (a passage may span pages); the best match wins.
/// Returns the index of the page and the match.
#[must_use]
pub fn best_match(pages: &[FoldedPage], quote: &str) -> Option<(usize, QuoteMatch)> {
    pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.find(quote).map(|m| (i, m)))
        .max_by(|a, b| a.1.coverage.total_cmp(&b.1.coverage).then(b.0.cmp(&a.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE_EN: &str = "1.2 The Receiving Party shall not\nreverse engineer, decompile or disassemble any\n\
        prototypes, software or other tangible objects which embody the Disclosing Party's ﬁnancial \
        Confidential Information.";
    const PAGE_ZH: &str = "第五十七条　经营劳务派遣业务，应当具备下列条件：\n（一）注册资本不得少于人民币二百万元；\n\
        （二）有与开展业务相适应的固定的经营场所和设施。";

    fn slice(text: &str, m: &QuoteMatch) -> String {
        text.chars().skip(m.start as usize).take((m.end - m.start) as usize).collect()
    }

    #[test]
    fn an_exact_quote_is_verified_with_its_span() {
        let page = FoldedPage::new(PAGE_EN);
        let m = page.find("reverse engineer, decompile or disassemble").unwrap();
        assert!(m.verified());
        assert!((m.coverage - 1.0).abs() < f32::EPSILON);
        assert_eq!(slice(PAGE_EN, &m), "reverse engineer, decompile or disassemble");
    }

    #[test]
    fn whitespace_line_breaks_and_ligatures_are_folded() {
        let page = FoldedPage::new(PAGE_EN);
        // The page breaks the line after "not" and writes "ﬁnancial" with a ligature.
        let m = page.find("The  Receiving Party shall not reverse   engineer").unwrap();
        assert!(m.verified(), "{m:?}");
        assert_eq!(slice(PAGE_EN, &m), "The Receiving Party shall not\nreverse engineer");
        let m = page.find("Disclosing Party’s financial Confidential Information").unwrap();
        assert!(m.verified(), "{m:?}");
    }

    #[test]
    fn full_width_and_chinese_punctuation_variants_are_folded() {
        let page = FoldedPage::new(PAGE_ZH);
        let m = page.find("经营劳务派遣业务, 应当具备下列条件: (一) 注册资本不得少于人民币二百万元").unwrap();
        assert!(m.verified(), "{m:?}");
        let m = page.find("「注册资本不得少于人民币二百万元」").unwrap();
        assert!(m.verified());
        assert_eq!(slice(PAGE_ZH, &m), "注册资本不得少于人民币二百万元");
        // Full-width Latin letters and digits fold to ASCII.
        let page = FoldedPage::new("Fee: USD 200 per hour, payable within 30 days.");
        assert!(page.find("ＵＳＤ ２００ per hour").unwrap().verified());
    }

    #[test]
    fn a_fabricated_quote_is_rejected() {
        let page = FoldedPage::new(PAGE_EN);
        let m = page.find("The Receiving Party may freely reverse engineer any software");
        assert!(m.is_none_or(|m| !m.verified()), "{m:?}");
        let page = FoldedPage::new(PAGE_ZH);
        let m = page.find("注册资本不得少于人民币五百万元");
        assert!(m.is_none_or(|m| !m.verified()), "{m:?}");
    }

    #[test]
    fn a_small_slip_is_tolerated_but_not_a_changed_half() {
        let page = FoldedPage::new(PAGE_EN);
        // One word dropped at the end of a long quote: still ≥ 85 % contiguous.
        let m = page
            .find("reverse engineer, decompile or disassemble any prototypes, software or other tangible things")
            .unwrap();
        assert!(m.verified(), "{m:?}");
        // A quote whose second half is invented is not.
        let m = page.find("reverse engineer, decompile or disassemble any of the buyer's trade secrets").unwrap();
        assert!(!m.verified(), "{m:?}");
    }

    #[test]
    fn too_short_quotes_cannot_verify() {
        let page = FoldedPage::new(PAGE_EN);
        let m = page.find("Party").unwrap();
        assert!(!m.verified());
        assert!(page.find("  ,.;  ").is_none());
    }

    #[test]
    fn the_quote_must_be_on_the_cited_page_not_another() {
        let pages = [FoldedPage::new(PAGE_ZH), FoldedPage::new(PAGE_EN)];
        let (i, m) = best_match(&pages, "tangible objects which embody the Disclosing Party").unwrap();
        assert_eq!(i, 1);
        assert!(m.verified());
        // Checked against the first page alone, the same quote fails.
        assert!(pages[0].find("tangible objects which embody the Disclosing Party").is_none_or(|m| !m.verified()));
    }
}
