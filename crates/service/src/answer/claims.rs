//! An answer's claims: its sentences and the `[S#: "quote"]` markers they carry.

use std::sync::LazyLock;

use regex::Regex;

use crate::cite;

/// One sentence of an answer and the citation markers it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The sentence without its markers.
    pub text: String,
    /// Markers in order.
    pub markers: Vec<Marker>,
}

/// A `[S#]` or `[S#: "quote"]` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The source number (1-based).
    pub source: usize,
    /// The quote, if given.
    pub quote: Option<String>,
}

static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[\[【]\s*[Ss]\s*(\d{1,3})\s*(?:[:：,，]\s*(?:["“”「『'‘](.*?)["“”」』'’]|([^\]】]*?)))?\s*[\]】]"#)
        .unwrap()
});

static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["“]([^"“”]{4,})["”]|[「『]([^」』]{4,})[」』]"#).unwrap());

pub(super) static SENTENCE_END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[。！？；]|[.!?](?:\s|$)|\n").unwrap());

/// Split an answer into claims: markers are lifted out first (their quotes may contain sentence
/// ends), then the text is split into sentences; each marker belongs to the sentence it ends (or
/// stands in). A quote written in quotation marks inside a sentence, next to a bare `[S#]`, counts
/// as that marker's quote.
#[must_use]
pub fn parse_claims(answer: &str) -> Vec<Claim> {
    // Replace each marker by a private-use placeholder.
    let mut markers: Vec<Marker> = Vec::new();
    let mut text = String::with_capacity(answer.len());
    let mut last = 0;
    for c in MARKER.captures_iter(answer) {
        let m = c.get(0).expect("match");
        text.push_str(&answer[last..m.start()]);
        let quote = c.get(2).or_else(|| c.get(3)).map(|q| q.as_str().trim().to_string()).filter(|q| !q.is_empty());
        let source = c[1].parse().unwrap_or(0);
        text.push(char::from_u32(0xE000 + u32::try_from(markers.len()).unwrap_or(0)).unwrap_or('\u{E000}'));
        markers.push(Marker { source, quote });
        last = m.end();
    }
    text.push_str(&answer[last..]);

    // Sentence ends right after placeholders belong to the sentence before them.
    let mut claims: Vec<Claim> = Vec::new();
    let mut current = String::new();
    let mut current_markers: Vec<Marker> = Vec::new();
    let mut flush = |current: &mut String, current_markers: &mut Vec<Marker>| {
        let sentence = current.trim().to_string();
        let significant = cite::fold(&sentence).chars().count();
        if significant > 0 || !current_markers.is_empty() {
            let mut ms = std::mem::take(current_markers);
            // A bare marker takes a quotation in its sentence as its quote.
            if let Some(first_bare) = ms.iter().position(|m| m.quote.is_none())
                && let Some(q) = QUOTED.captures(&sentence)
            {
                ms[first_bare].quote = q.get(1).or_else(|| q.get(2)).map(|m| m.as_str().to_string());
            }
            if significant > 0 {
                claims.push(Claim { text: sentence, markers: ms });
            } else if let Some(prev) = claims.last_mut() {
                prev.markers.extend(ms);
            }
        }
        current.clear();
    };
    let closing = |c: char| matches!(c, '"' | '”' | '」' | '』' | '\'' | '’' | ')' | '）');
    let (mut pending_end, mut after_ascii_end) = (false, false);
    for ch in text.chars() {
        let code = ch as u32;
        if (0xE000..0xE000 + 4096).contains(&code) {
            // A marker belongs to the sentence it follows, even after the sentence's full stop.
            if let Some(m) = markers.get((code - 0xE000) as usize) {
                current_markers.push(m.clone());
            }
            continue;
        }
        if pending_end && !ch.is_whitespace() && !closing(ch) && !matches!(ch, '。' | '！' | '？' | '；') {
            flush(&mut current, &mut current_markers);
            pending_end = false;
        }
        // `.`, `!` and `?` end a sentence only before whitespace (not in `2.3(b)`).
        if after_ascii_end && ch.is_whitespace() {
            pending_end = true;
        }
        after_ascii_end = matches!(ch, '.' | '!' | '?') || (after_ascii_end && closing(ch));
        current.push(ch);
        if matches!(ch, '。' | '！' | '？' | '；') {
            pending_end = true;
        }
        if ch == '\n' {
            flush(&mut current, &mut current_markers);
            pending_end = false;
        }
    }
    flush(&mut current, &mut current_markers);
    claims
        .into_iter()
        .map(|mut c| {
            c.text = c.text.trim().to_string();
            c
        })
        .collect()
}

/// Whether a sentence needs support: not a bare lead-in ("Under the NDA:") or list number.
pub(super) fn is_assertion(text: &str) -> bool {
    let t = text.trim();
    let significant = cite::fold(t).chars().count();
    significant >= 6 && !t.ends_with(':') && !t.ends_with('：')
}
