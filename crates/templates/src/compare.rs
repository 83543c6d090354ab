//! Side-by-side comparison: several templates (or variants of one) over the same inputs and
//! the same frozen evidence, run one after another on one [`Generator`], measured, scored and
//! exported as CSV, JSON or Markdown.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

use lexdesk_core::ErrorCode;
use lexdesk_core::generate::{FinishReason, Generator};
use serde::{Deserialize, Serialize};

use crate::error::TemplateError;
use crate::format::Template;
use crate::render::{EvidencePassage, Inputs, RenderedTemplate};

/// The version of the saved comparison format.
pub const COMPARISON_FORMAT: u32 = 1;

/// One column of a comparison: a template under a label.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// What the run is called in the table (defaults to the template name; variants of one
    /// template need distinct labels, e.g. `t=0` and `t=0.7`).
    pub label: String,
    /// The template as run.
    pub template: Template,
}

impl Candidate {
    /// A candidate labelled with the template's name.
    #[must_use]
    pub fn new(template: Template) -> Self {
        Self { label: template.name.clone(), template }
    }

    /// A labelled variant.
    pub fn variant(label: impl Into<String>, template: Template) -> Self {
        Self { label: label.into(), template }
    }
}

/// What to compare.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRequest {
    /// A title for the history (may be empty).
    #[serde(default)]
    pub title: String,
    /// The templates, in table order.
    pub candidates: Vec<Candidate>,
    /// Input values; each template receives the ones it declares. A value no template
    /// declares is an error (a typo).
    #[serde(default)]
    pub inputs: Inputs,
    /// Frozen evidence, given to every evidence template (and only to those).
    #[serde(default)]
    pub evidence: Vec<EvidencePassage>,
    /// Keywords an output should contain; scored case-insensitively when given.
    #[serde(default)]
    pub expected_keywords: Vec<String>,
    /// The model's name, recorded with the comparison.
    #[serde(default)]
    pub model: Option<String>,
    /// A sampling seed for every run (templates with temperature 0 are greedy anyway).
    #[serde(default)]
    pub seed: Option<u32>,
}

/// Why a run produced no output.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// The error's code (`PROMPT_TOO_LONG`, …).
    pub code: String,
    /// Its message.
    pub message: String,
}

/// One measured run.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The candidate's label.
    pub label: String,
    /// The template as run (so that a variant can be adopted from the history).
    pub template: Template,
    /// The prompt the model was sent.
    pub prompt: RenderedTemplate,
    /// Generated text.
    pub output: String,
    /// Its length in characters.
    pub output_chars: usize,
    /// Prompt tokens (from the model).
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// Wall time from request to the last token, milliseconds.
    pub latency_ms: f64,
    /// Time to the first token, milliseconds (from the model's usage).
    pub time_to_first_token_ms: f64,
    /// Generation speed after the first token.
    pub tokens_per_second: f64,
    /// Why generation ended; `None` when it failed.
    pub finish_reason: Option<FinishReason>,
    /// Share of the expected keywords found (0–1); `None` without keywords.
    pub keyword_score: Option<f64>,
    /// Expected keywords found.
    pub keywords_found: Vec<String>,
    /// Expected keywords missing.
    pub keywords_missing: Vec<String>,
    /// The failure, when the run failed.
    pub error: Option<RunError>,
}

/// A finished comparison.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// [`COMPARISON_FORMAT`].
    pub format: u32,
    /// UUID v7 (time-ordered); the history's file name.
    pub id: String,
    /// When it ran, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Title.
    pub title: String,
    /// The model's name, when the caller gave it.
    pub model: Option<String>,
    /// The inputs.
    pub inputs: Inputs,
    /// The frozen evidence.
    pub evidence: Vec<EvidencePassage>,
    /// The expected keywords.
    pub expected_keywords: Vec<String>,
    /// The seed.
    pub seed: Option<u32>,
    /// One result per candidate, in order.
    pub runs: Vec<RunResult>,
}

/// Progress of a comparison.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// Run `index` (0-based) of `total` starts.
    Started {
        /// Which run.
        index: usize,
        /// How many.
        total: usize,
        /// Its label.
        label: &'a str,
    },
    /// Run `index` finished (or failed: see [`RunResult::error`]).
    Finished {
        /// Which run.
        index: usize,
        /// How many.
        total: usize,
        /// The result.
        run: &'a RunResult,
    },
}

/// Run a comparison; see [`compare_with`].
///
/// # Errors
/// As [`compare_with`].
pub async fn compare<G: Generator>(generator: &G, request: &ComparisonRequest) -> Result<Comparison, TemplateError> {
    compare_with(generator, request, |_| {}).await
}

/// Check a comparison's inputs before anything is retrieved or run: there is a candidate, and
/// every input is declared by at least one of them (a value no template declares is a typo).
///
/// # Errors
/// [`TemplateError::EmptyComparison`], [`TemplateError::UnknownInput`].
pub fn check_inputs(candidates: &[Candidate], inputs: &Inputs) -> Result<(), TemplateError> {
    if candidates.is_empty() {
        return Err(TemplateError::EmptyComparison);
    }
    let declared: BTreeSet<&str> =
        candidates.iter().flat_map(|c| c.template.variables.iter().map(|v| v.name.as_str())).collect();
    match inputs.keys().find(|k| !declared.contains(k.as_str())) {
        Some(unknown) => Err(TemplateError::UnknownInput {
            variable: unknown.clone(),
            declared: declared.iter().map(|s| (*s).to_owned()).collect(),
        }),
        None => Ok(()),
    }
}

/// Every candidate's prompt over its own inputs and, for evidence templates, the frozen
/// evidence: [`check_inputs`], then each template validated and rendered, so that every input
/// error surfaces before the first run (and before a front end loads the model).
///
/// # Errors
/// Those of [`check_inputs`], a candidate's validation error, any render error
/// ([`TemplateError::MissingVariable`], [`TemplateError::TypeMismatch`],
/// [`TemplateError::MissingEvidence`], …).
pub fn prepare(
    candidates: &[Candidate],
    inputs: &Inputs,
    evidence: &[EvidencePassage],
) -> Result<Vec<RenderedTemplate>, TemplateError> {
    check_inputs(candidates, inputs)?;
    candidates
        .iter()
        .map(|c| {
            let t = &c.template;
            t.validate()?;
            t.render(&t.own_inputs(inputs), if t.evidence { evidence } else { &[] })
        })
        .collect()
}

/// Run every candidate over the same inputs and evidence, one after another, reporting
/// progress. Every template is rendered before the first run, so input errors surface at once;
/// a run that fails (the prompt too long, the model gone) is recorded with its error and the
/// comparison goes on.
///
/// # Errors
/// [`TemplateError::EmptyComparison`], [`TemplateError::UnknownInput`] (a value no candidate
/// declares), a candidate's validation error, and every render error of any candidate ([`TemplateError::MissingVariable`],
/// [`TemplateError::TypeMismatch`], [`TemplateError::MissingEvidence`], …).
pub async fn compare_with<G: Generator>(
    generator: &G,
    request: &ComparisonRequest,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Result<Comparison, TemplateError> {
    let prepared = prepare(&request.candidates, &request.inputs, &request.evidence)?;
    let labels = unique_labels(&request.candidates);

    let keywords: Vec<String> =
        request.expected_keywords.iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
    let total = prepared.len();
    let mut runs = Vec::with_capacity(total);
    for (index, ((candidate, label), prompt)) in request.candidates.iter().zip(labels).zip(prepared).enumerate() {
        on_progress(Progress::Started { index, total, label: &label });
        let mut run = RunResult {
            label,
            template: candidate.template.clone(),
            prompt,
            output: String::new(),
            output_chars: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0.0,
            time_to_first_token_ms: 0.0,
            tokens_per_second: 0.0,
            finish_reason: None,
            keyword_score: None,
            keywords_found: Vec::new(),
            keywords_missing: Vec::new(),
            error: None,
        };
        let mut generation = run.prompt.request();
        if request.seed.is_some() {
            generation.sampling.seed = request.seed;
        }
        let started = Instant::now();
        let result = match generator.generate(generation) {
            Ok(stream) => stream.collect().await,
            Err(e) => Err(e),
        };
        run.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(completion) => {
                run.output_chars = completion.text.chars().count();
                run.output = completion.text;
                run.prompt_tokens = completion.usage.prompt_tokens;
                run.completion_tokens = completion.usage.completion_tokens;
                run.time_to_first_token_ms = completion.usage.time_to_first_token_ms;
                run.tokens_per_second = completion.usage.tokens_per_second;
                run.finish_reason = Some(completion.finish_reason);
            }
            Err(e) => run.error = Some(RunError { code: e.code().to_owned(), message: e.to_string() }),
        }
        if !keywords.is_empty() {
            let score = keyword_score(&run.output, &keywords);
            run.keyword_score = Some(score.score);
            run.keywords_found = score.found;
            run.keywords_missing = score.missing;
        }
        on_progress(Progress::Finished { index, total, run: &run });
        runs.push(run);
    }
    Ok(Comparison {
        format: COMPARISON_FORMAT,
        id: uuid::Uuid::now_v7().to_string(),
        created_ms: now_ms(),
        title: request.title.clone(),
        model: request.model.clone(),
        inputs: request.inputs.clone(),
        evidence: request.evidence.clone(),
        expected_keywords: keywords,
        seed: request.seed,
        runs,
    })
}

/// Labels made unique by numbering repeats: `a`, `a (2)`, `a (3)`.
fn unique_labels(candidates: &[Candidate]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    candidates
        .iter()
        .map(|c| {
            let base = if c.label.trim().is_empty() { c.template.name.clone() } else { c.label.trim().to_owned() };
            let mut label = base.clone();
            let mut n = 1;
            while !seen.insert(label.clone()) {
                n += 1;
                label = format!("{base} ({n})");
            }
            label
        })
        .collect()
}

fn now_ms() -> u64 {
    lexdesk_core::now_ms().unsigned_abs()
}

/// How many expected keywords an output contains.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeywordScore {
    /// Share found, 0–1 (1 when there are no keywords).
    pub score: f64,
    /// Found, in the given order.
    pub found: Vec<String>,
    /// Missing, in the given order.
    pub missing: Vec<String>,
}

/// Score `output` against `keywords`: the share found as substrings, ignoring case.
#[must_use]
pub fn keyword_score(output: &str, keywords: &[String]) -> KeywordScore {
    let haystack = output.to_lowercase();
    let (found, missing): (Vec<String>, Vec<String>) = keywords
        .iter()
        .filter(|k| !k.trim().is_empty())
        .cloned()
        .partition(|k| haystack.contains(&k.trim().to_lowercase()));
    let total = found.len() + missing.len();
    #[allow(clippy::cast_precision_loss)]
    let score = if total == 0 { 1.0 } else { found.len() as f64 / total as f64 };
    KeywordScore { score, found, missing }
}

impl Comparison {
    /// Pretty JSON (the history's file format).
    ///
    /// # Errors
    /// [`TemplateError::Serialize`] (not expected).
    pub fn to_json(&self) -> Result<String, TemplateError> {
        serde_json::to_string_pretty(self).map_err(|e| TemplateError::Serialize { message: e.to_string() })
    }

    /// The table as CSV (RFC 4180, a header row, one row per run, outputs in full).
    ///
    /// # Errors
    /// [`TemplateError::Serialize`] (not expected).
    pub fn to_csv(&self) -> Result<String, TemplateError> {
        let ser = |e: csv::Error| TemplateError::Serialize { message: e.to_string() };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "label",
            "template",
            "language",
            "output_chars",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "time_to_first_token_ms",
            "keyword_score",
            "keywords_missing",
            "finish_reason",
            "error",
            "output",
        ])
        .map_err(ser)?;
        for r in &self.runs {
            w.write_record([
                r.label.clone(),
                r.template.name.clone(),
                r.template.language.to_string(),
                r.output_chars.to_string(),
                r.prompt_tokens.to_string(),
                r.completion_tokens.to_string(),
                format!("{:.0}", r.latency_ms),
                format!("{:.0}", r.time_to_first_token_ms),
                r.keyword_score.map(|s| format!("{s:.2}")).unwrap_or_default(),
                r.keywords_missing.join("; "),
                r.finish_reason.map(finish_name).unwrap_or_default().to_owned(),
                r.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default(),
                r.output.clone(),
            ])
            .map_err(ser)?;
        }
        let bytes = w.into_inner().map_err(|e| TemplateError::Serialize { message: e.to_string() })?;
        String::from_utf8(bytes).map_err(|e| TemplateError::Serialize { message: e.to_string() })
    }

    /// A Markdown report: what was compared, the table, then each output in full.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let title = if self.title.trim().is_empty() { "Template comparison" } else { self.title.trim() };
        let _ = writeln!(md, "# {}\n", cell(title));
        let _ = writeln!(md, "- Id: `{}`", self.id);
        let _ = writeln!(md, "- Run: {}", utc(self.created_ms));
        if let Some(model) = &self.model {
            let _ = writeln!(md, "- Model: {}", cell(model));
        }
        if let Some(seed) = self.seed {
            let _ = writeln!(md, "- Seed: {seed}");
        }
        for (name, value) in &self.inputs {
            let _ = writeln!(md, "- Input `{name}`: {}", cell(&excerpt(value, 120)));
        }
        for (i, e) in self.evidence.iter().enumerate() {
            let label = if e.label.is_empty() { format!("S{}", i + 1) } else { e.label.clone() };
            let page = e.page.map(|p| format!(", p. {p}")).unwrap_or_default();
            let _ = writeln!(md, "- Evidence [{label}]: {}{page}", cell(&e.title));
        }
        if !self.expected_keywords.is_empty() {
            let _ = writeln!(md, "- Expected keywords: {}", cell(&self.expected_keywords.join(", ")));
        }
        md.push_str(
            "\n| # | Label | Template | Output chars | Prompt tokens | Completion tokens | Latency ms | TTFT ms | Keyword score | Finish |\n",
        );
        md.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---|\n");
        for (i, r) in self.runs.iter().enumerate() {
            let finish = match (&r.error, r.finish_reason) {
                (Some(e), _) => format!("error `{}`", e.code),
                (None, Some(f)) => finish_name(f).to_owned(),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | `{}` | {} | {} | {} | {:.0} | {:.0} | {} | {} |",
                i + 1,
                cell(&r.label),
                r.template.name,
                r.output_chars,
                r.prompt_tokens,
                r.completion_tokens,
                r.latency_ms,
                r.time_to_first_token_ms,
                r.keyword_score.map(|s| format!("{s:.2}")).unwrap_or_else(|| "–".into()),
                finish,
            );
        }
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(md, "\n## {}. {}\n", i + 1, cell(&r.label));
            if !r.keywords_missing.is_empty() {
                let _ = writeln!(md, "Missing keywords: {}\n", cell(&r.keywords_missing.join(", ")));
            }
            if let Some(e) = &r.error {
                let _ = writeln!(md, "Failed: `{}` {}", e.code, cell(&e.message));
                continue;
            }
            let fence = "`".repeat(longest_backtick_run(&r.output).max(2) + 1);
            let _ = writeln!(md, "{fence}text\n{}\n{fence}", r.output.trim_end());
        }
        md
    }
}

fn finish_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::Length => "length",
        FinishReason::ContextFull => "context_full",
        FinishReason::Cancelled => "cancelled",
    }
}

/// Text safe inside a Markdown table cell or list item: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `2026-05-01 09:30 UTC` for milliseconds since the epoch (how comparisons show their time).
#[must_use]
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_709_210_096_000), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn keywords_ignore_case_and_blanks() {
        let k = keyword_score(
            "The NDA lasts Two years.",
            &["two years".into(), "nda".into(), "perpetual".into(), " ".into()],
        );
        assert_eq!(k.found, ["two years", "nda"]);
        assert_eq!(k.missing, ["perpetual"]);
        assert!((k.score - 2.0 / 3.0).abs() < 1e-9);
    }
}
