//! Exports of runs and comparisons: CSV (one row per item, or per metric for a comparison), JSON
//! (everything), XLSX (summary, items, tags; for comparisons the deltas and the items that
//! moved) and one self-contained HTML report — tables, SVG charts and every item's answer,
//! citations and gold, openable without LexDesk.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::charts;
use crate::report::{Comparison, ItemResult, Metric, RunReport, Unit};
use crate::stats::Estimate;

/// An export format.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[serde(rename = "EvalExportFormat")] // a distinct name in the UI's generated types
pub enum ExportFormat {
    /// Comma-separated values.
    Csv,
    /// JSON.
    Json,
    /// An Excel workbook.
    Xlsx,
    /// A self-contained HTML report with charts.
    Html,
}

impl ExportFormat {
    /// The file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Xlsx => "xlsx",
            Self::Html => "html",
        }
    }

    fn name(self) -> &'static str {
        self.extension()
    }
}

fn fail(format: ExportFormat, e: impl std::fmt::Display) -> EvalError {
    EvalError::Export { format: format.name(), message: e.to_string() }
}

/// A value as a report shows it: rates as percentages, times in ms or s.
#[must_use]
pub fn show(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Rate => format!("{:.1} %", v * 100.0),
        Unit::Ms if v >= 10_000.0 => format!("{:.1} s", v / 1000.0),
        Unit::Ms => format!("{v:.0} ms"),
        Unit::TokensPerSecond => format!("{v:.1} tok/s"),
        Unit::Score => format!("{v:.2} / 5"),
    }
}

fn show_estimate(unit: Unit, e: Option<Estimate>) -> String {
    match e {
        None => "–".into(),
        Some(e) => format!("{} [{} – {}] (n = {})", show(unit, e.value), show(unit, e.low), show(unit, e.high), e.n),
    }
}

const ITEM_COLUMNS: [&str; 24] = [
    "id",
    "question",
    "tags",
    "should_abstain",
    "abstained",
    "failed",
    "answer",
    "citations",
    "keyword_pass",
    "keyword_share",
    "reference_f1",
    "rouge_l",
    "citation_correct",
    "grounded",
    "honest",
    "latency_ms",
    "first_token_ms",
    "tokens_per_second",
    "judge_score",
    "judge_reason",
    "expected",
    "keywords",
    "expected_sources",
    "error",
];

fn opt_bool(b: Option<bool>) -> String {
    b.map_or(String::new(), |b| b.to_string())
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.4}"))
}

fn citations_text(r: &ItemResult) -> String {
    r.outcome
        .citations
        .iter()
        .map(|c| {
            let mark = match (c.verified, c.on_page) {
                (true, Some(true)) => "verified",
                (true, _) => "VERIFIED BUT NOT ON PAGE",
                (false, _) => "unverified",
            };
            let page = c.page.map(|p| format!(" p. {p}")).unwrap_or_default();
            format!("{}{page} \"{}\" ({mark})", c.doc, c.quote)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn item_row(r: &ItemResult) -> Vec<String> {
    let s = &r.scores;
    let o = &r.outcome;
    vec![
        r.item.id.clone(),
        r.item.question.clone(),
        r.item.tags.join("; "),
        s.should_abstain.to_string(),
        s.abstained.to_string(),
        s.failed.to_string(),
        o.answer.clone(),
        citations_text(r),
        opt_bool(s.keyword_pass),
        opt_num(s.keyword_share),
        opt_num(s.reference_f1),
        opt_num(s.rouge_l),
        opt_bool(s.citation_correct),
        opt_bool(s.grounded),
        opt_bool(s.honest),
        format!("{:.0}", o.latency_ms),
        o.first_token_ms.map_or(String::new(), |t| format!("{t:.0}")),
        o.tokens_per_second.map_or(String::new(), |t| format!("{t:.2}")),
        r.judgement.as_ref().and_then(|j| j.score).map_or(String::new(), |v| v.to_string()),
        r.judgement.as_ref().map(|j| j.reason.clone()).unwrap_or_default(),
        r.item.expected.clone().unwrap_or_default(),
        r.item.keywords.join("; "),
        r.item.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        o.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default(),
    ]
}

/// Export a run.
///
/// # Errors
/// [`EvalError::Export`].
pub fn run_bytes(report: &RunReport, format: ExportFormat) -> Result<Vec<u8>, EvalError> {
    match format {
        ExportFormat::Json => serde_json::to_vec_pretty(report).map_err(|e| fail(format, e)),
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(ITEM_COLUMNS).map_err(|e| fail(format, e))?;
            for r in &report.items {
                w.write_record(item_row(r)).map_err(|e| fail(format, e))?;
            }
            w.into_inner().map_err(|e| fail(format, e))
        }
        ExportFormat::Xlsx => run_xlsx(report).map_err(|e| fail(format, e)),
        ExportFormat::Html => Ok(run_html(report).into_string().into_bytes()),
    }
}

/// Export a comparison.
///
/// # Errors
/// [`EvalError::Export`].
pub fn comparison_bytes(c: &Comparison, format: ExportFormat) -> Result<Vec<u8>, EvalError> {
    match format {
        ExportFormat::Json => serde_json::to_vec_pretty(c).map_err(|e| fail(format, e)),
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(DELTA_COLUMNS).map_err(|e| fail(format, e))?;
            for row in delta_rows(c) {
                w.write_record(row).map_err(|e| fail(format, e))?;
            }
            w.into_inner().map_err(|e| fail(format, e))
        }
        ExportFormat::Xlsx => comparison_xlsx(c).map_err(|e| fail(format, e)),
        ExportFormat::Html => Ok(comparison_html(c).into_string().into_bytes()),
    }
}

const DELTA_COLUMNS: [&str; 12] = [
    "candidate",
    "metric",
    "baseline",
    "candidate_value",
    "delta",
    "delta_low",
    "delta_high",
    "p_bootstrap",
    "mcnemar_better",
    "mcnemar_worse",
    "p_mcnemar",
    "paired_items",
];

fn delta_rows(c: &Comparison) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for p in &c.pairs {
        for m in &p.metrics {
            rows.push(vec![
                p.candidate.id.clone(),
                m.key.clone(),
                opt_num(m.baseline.map(|e| e.value)),
                opt_num(m.candidate.map(|e| e.value)),
                opt_num(m.delta.map(|d| d.delta)),
                opt_num(m.delta.map(|d| d.low)),
                opt_num(m.delta.map(|d| d.high)),
                opt_num(m.delta.map(|d| d.p_value)),
                m.mcnemar.map_or(String::new(), |x| x.better.to_string()),
                m.mcnemar.map_or(String::new(), |x| x.worse.to_string()),
                opt_num(m.mcnemar.map(|x| x.p_value)),
                p.paired.to_string(),
            ]);
        }
    }
    rows
}

fn sheet_rows(
    sheet: &mut rust_xlsxwriter::Worksheet,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, u16::try_from(c).unwrap_or(u16::MAX), *h, &bold)?;
    }
    for (r, row) in rows.into_iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (c, v) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            match v.parse::<f64>() {
                Ok(n) if !v.is_empty() && n.is_finite() => sheet.write_number(r, c, n)?,
                _ => sheet.write_string(r, c, v)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, 0, u16::try_from(header.len().saturating_sub(1)).unwrap_or(0))?;
    Ok(())
}

fn metric_rows(metrics: &[Metric]) -> Vec<Vec<String>> {
    metrics
        .iter()
        .map(|m| {
            let e = m.estimate;
            vec![
                m.key.clone(),
                m.label.clone(),
                opt_num(e.map(|e| e.value)),
                opt_num(e.map(|e| e.low)),
                opt_num(e.map(|e| e.high)),
                e.map_or(String::new(), |e| e.n.to_string()),
            ]
        })
        .collect()
}

const METRIC_COLUMNS: [&str; 6] = ["metric", "label", "value", "ci_low", "ci_high", "n"];

fn run_xlsx(report: &RunReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let summary = book.add_worksheet().set_name("Summary")?;
    sheet_rows(summary, &METRIC_COLUMNS, metric_rows(&report.metrics))?;
    let items = book.add_worksheet().set_name("Items")?;
    sheet_rows(items, &ITEM_COLUMNS, report.items.iter().map(item_row))?;
    let tags = book.add_worksheet().set_name("Tags")?;
    let mut header = vec!["tag"];
    header.extend(METRIC_COLUMNS);
    let rows = report.tags.iter().flat_map(|t| {
        metric_rows(&t.metrics).into_iter().map(move |mut r| {
            r.insert(0, t.tag.clone());
            r
        })
    });
    sheet_rows(tags, &header, rows)?;
    book.save_to_buffer()
}

fn comparison_xlsx(c: &Comparison) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let deltas = book.add_worksheet().set_name("Deltas")?;
    sheet_rows(deltas, &DELTA_COLUMNS, delta_rows(c))?;
    let moved = book.add_worksheet().set_name("Items that moved")?;
    let rows = c.pairs.iter().flat_map(|p| {
        p.better.iter().map(|x| ("better", x)).chain(p.worse.iter().map(|x| ("worse", x))).map(|(dir, x)| {
            vec![
                p.candidate.id.clone(),
                dir.to_owned(),
                x.id.clone(),
                x.question.clone(),
                x.better.join("; "),
                x.worse.join("; "),
            ]
        })
    });
    sheet_rows(moved, &["candidate", "direction", "id", "question", "better_in", "worse_in"], rows)?;
    for (i, r) in c.runs.iter().enumerate() {
        let sheet = book.add_worksheet().set_name(format!("Run {}", i + 1))?;
        sheet_rows(sheet, &ITEM_COLUMNS, r.items.iter().map(item_row))?;
    }
    book.save_to_buffer()
}

const STYLE: &str = r"
body{font-family:system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:2rem auto;max-width:1200px;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e5e7ee;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f5f9}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.alarm{background:#fde8e8;border:2px solid #c0392b;padding:1rem;font-weight:600;color:#8e1c12}
.ok{color:#1e7d3a}.bad{color:#b3261e}.muted{color:#667}
details{border-bottom:1px solid #e5e7ee;padding:.4rem 0}summary{cursor:pointer}
blockquote{margin:.3rem 0 .3rem 1rem;padding-left:.6rem;border-left:3px solid #ccd;white-space:pre-wrap}
pre{white-space:pre-wrap;background:#f7f7fa;padding:.5rem}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
";

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

fn config_table(r: &RunReport) -> Markup {
    let c = &r.manifest.config;
    let rows: Vec<(&str, String)> = vec![
        ("Run", r.manifest.id.clone()),
        ("Label", c.label.clone()),
        (
            "Set",
            format!(
                "{} ({} items, fingerprint {})",
                r.manifest.set,
                r.manifest.items,
                &r.manifest.set_fingerprint[..r.manifest.set_fingerprint.len().min(12)]
            ),
        ),
        ("Finished items", format!("{} of {} ({:?})", r.done, r.manifest.items, r.manifest.status)),
        ("Matter", c.matter.clone().unwrap_or_else(|| "none (instruction-only)".into())),
        ("Chat model", c.model.clone().unwrap_or_default()),
        ("Embedding model", c.embedder.clone().unwrap_or_default()),
        ("LoRA adapter", c.adapter.clone().unwrap_or_else(|| "none".into())),
        ("Template", c.template.clone().unwrap_or_else(|| "none".into())),
        ("Answer mode", c.mode.clone()),
        (
            "Retrieval",
            format!(
                "{}, top-k {}, rerank {}",
                c.search_mode,
                c.top_k.map_or("default".into(), |k| k.to_string()),
                c.rerank.map_or("as configured", |r| if r { "on" } else { "off" })
            ),
        ),
        ("Seed", c.seed.map_or("none (greedy)".into(), |s| s.to_string())),
        ("Concurrency", c.concurrency.to_string()),
    ];
    html! {
        table { @for (k, v) in rows { tr { th { (k) } td { (v) } } } }
    }
}

fn honesty_banner(r: &RunReport) -> Markup {
    html! {
        @if r.honest() {
            p.ok { "Citation honesty: every one of the " (r.verified_quotes) " verified quotes was found again on its cited page." }
        } @else {
            div.alarm {
                "CITATION HONESTY BELOW 100 %: " (r.verified_quotes - r.honest_quotes) " of " (r.verified_quotes)
                " quotes marked verified were not found on the cited page. Treat every answer of this run as unverified and report it."
            }
        }
    }
}

fn metrics_table(metrics: &[Metric]) -> Markup {
    html! {
        table {
            tr { th { "Metric" } th.num { "Value" } th.num { "95 % interval" } th.num { "n" } }
            @for m in metrics {
                tr {
                    td { (m.label) }
                    @match m.estimate {
                        Some(e) => {
                            td.num { (show(m.unit, e.value)) }
                            td.num { (show(m.unit, e.low)) " – " (show(m.unit, e.high)) }
                            td.num { (e.n) }
                        }
                        None => { td.num.muted { "–" } td {} td {} }
                    }
                }
            }
        }
    }
}

fn charts_section(charts: Vec<(String, Result<String, String>)>) -> Markup {
    html! {
        @for (title, svg) in charts {
            figure {
                @match svg {
                    Ok(svg) => (PreEscaped(svg)),
                    Err(e) => p.muted { "Chart unavailable: " (e) },
                }
                figcaption.muted { (title) }
            }
        }
    }
}

fn item_details(r: &ItemResult) -> Markup {
    let s = &r.scores;
    let verdict = |b: Option<bool>| match b {
        Some(true) => html! { span.ok { "yes" } },
        Some(false) => html! { span.bad { "no" } },
        None => html! { span.muted { "n/a" } },
    };
    html! {
        details {
            summary {
                code { (r.item.id) } " " (r.item.question.lines().next().unwrap_or_default())
                " — "
                @if s.failed { span.bad { "failed" } }
                @else if s.abstained { span class=(if s.should_abstain { "ok" } else { "bad" }) { "abstained" } }
                @else if s.should_abstain { span.bad { "answered (should abstain)" } }
                @else { "keywords " (verdict(s.keyword_pass)) ", citation " (verdict(s.citation_correct)) }
            }
            p { strong { "Question: " } (r.item.question) }
            p { strong { "Answer: " } }
            pre { (r.outcome.answer) }
            @if let Some(e) = &r.outcome.error { p.bad { (e.code) ": " (e.message) } }
            @if !r.outcome.citations.is_empty() {
                p { strong { "Citations" } }
                @for c in &r.outcome.citations {
                    div {
                        (c.doc) @if let Some(p) = c.page { ", p. " (p) } " — " span.muted { (c.heading) } " — "
                        @match (c.verified, c.on_page) {
                            (true, Some(true)) => span.ok { "verified, found on the page" },
                            (true, _) => span.bad { "VERIFIED BUT NOT ON THE PAGE" },
                            (false, _) => span.muted { "unverified" },
                        }
                        @if c.attributed { span.muted { " (attributed)" } }
                        blockquote { (c.quote) }
                    }
                }
            }
            p { strong { "Gold: " }
                @if r.item.should_abstain { "should abstain. " }
                @if let Some(e) = &r.item.expected { "expected “" (e) "”. " }
                @if !r.item.keywords.is_empty() { "keywords (" (format!("{:?}", r.item.keyword_rule).to_lowercase()) "): " (r.item.keywords.join(", ")) ". " }
                @if !r.item.sources.is_empty() { "sources: " (r.item.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")) "." }
            }
            p.muted {
                "latency " (show(Unit::Ms, r.outcome.latency_ms))
                @if let Some(t) = r.outcome.first_token_ms { ", first token " (show(Unit::Ms, t)) }
                @if let Some(t) = r.outcome.tokens_per_second { ", " (show(Unit::TokensPerSecond, t)) }
                @if let Some(f) = s.reference_f1 { ", reference F1 " (format!("{f:.2}")) }
                @if let Some(f) = s.rouge_l { ", ROUGE-L " (format!("{f:.2}")) }
            }
            @if let Some(j) = &r.judgement {
                p.muted {
                    "LLM judge (" (j.model) ", weaker evidence): "
                    @match j.score { Some(v) => strong { (v) " / 5" }, None => span.bad { "no readable score" } }
                    @if !j.reason.is_empty() { " — " (j.reason) }
                }
            }
        }
    }
}

/// The HTML report of a run.
#[must_use]
pub fn run_html(r: &RunReport) -> Markup {
    let title = format!("LexDesk evaluation — {} — {}", r.manifest.set, r.manifest.config.label);
    page(
        &title,
        html! {
            h1 { (title) }
            (honesty_banner(r))
            (config_table(r))
            h2 { "Metrics" }
            (metrics_table(&r.metrics))
            @if let Some([p50, p90, p95]) = r.latency_percentiles {
                p.muted { "Latency percentiles: 50th " (show(Unit::Ms, p50)) ", 90th " (show(Unit::Ms, p90)) ", 95th " (show(Unit::Ms, p95)) "." }
            }
            p.muted { "Intervals: 95 % percentile bootstrap over items (2,000 resamples, fixed seed). Keyword accuracy uses each item's rule; the seed's rule counts an answer with any keyword." }
            @if let Some(j) = &r.judge {
                p.muted {
                    "LLM-as-judge: " (j.judged) " answers graded 1–5 by " (j.models.join(", ")) " against a written rubric"
                    @if j.unreadable > 0 { " (" (j.unreadable) " replies without a readable score, left out)" }
                    ". A small local model grading answers is noisy and can favour its own: weaker evidence than the checked metrics above."
                }
            }
            h2 { "Charts" }
            (charts_section(charts::report_charts(&[r])))
            @if !r.tags.is_empty() {
                h2 { "By tag" }
                @for t in &r.tags {
                    details { summary { (t.tag) " (" (t.items) " items)" } (metrics_table(&t.metrics)) }
                }
            }
            h2 { "Items" }
            @for item in &r.items { (item_details(item)) }
        },
    )
}

/// The HTML report of a comparison.
#[must_use]
pub fn comparison_html(c: &Comparison) -> Markup {
    let title = format!("LexDesk comparison — {}", c.set);
    let by_id = |run: &RunReport, id: &str| run.items.iter().find(|r| r.item.id == id).cloned();
    page(
        &title,
        html! {
            h1 { (title) }
            @for r in &c.runs { (honesty_banner(r)) }
            h2 { "Runs" }
            table {
                tr { th { "" } th { "Run" } th { "Label" } th { "Model" } th { "Template" } th { "Retrieval" } th { "Items" } }
                @for (i, r) in c.runs.iter().enumerate() {
                    tr {
                        td { @if i == 0 { "baseline" } @else { "candidate " (i) } }
                        td { code { (r.manifest.id) } }
                        td { (r.manifest.config.label) }
                        td { (r.manifest.config.model.clone().unwrap_or_default()) }
                        td { (r.manifest.config.template.clone().unwrap_or_default()) }
                        td { (r.manifest.config.search_mode) }
                        td.num { (r.done) }
                    }
                }
            }
            h2 { "Charts" }
            (charts_section(charts::comparison_charts(c)))
            @for (i, p) in c.pairs.iter().enumerate() {
                h2 { "Candidate " (i + 1) " against the baseline (" (p.paired) " paired items" @if p.unpaired > 0 { ", " (p.unpaired) " unpaired left out" } ")" }
                table {
                    tr { th { "Metric" } th.num { "Baseline" } th.num { "Candidate" } th.num { "Δ [95 % interval]" } th.num { "p (bootstrap)" } th.num { "McNemar better / worse, p" } }
                    @for m in &p.metrics {
                        tr {
                            td { (m.label) }
                            td.num { (show_estimate(m.unit, m.baseline)) }
                            td.num { (show_estimate(m.unit, m.candidate)) }
                            @match m.delta {
                                Some(d) => {
                                    td.num { (signed(m.unit, d.delta)) " [" (signed(m.unit, d.low)) ", " (signed(m.unit, d.high)) "]" }
                                    td.num { (format!("{:.3}", d.p_value)) }
                                }
                                None => { td.num.muted { "–" } td {} }
                            }
                            td.num { @if let Some(x) = m.mcnemar { (x.better) " / " (x.worse) ", p = " (format!("{:.3}", x.p_value)) } }
                        }
                    }
                }
                @for (name, list) in [("Items that got better", &p.better), ("Items that got worse", &p.worse)] {
                    h2 { (name) " (" (list.len()) ")" }
                    @for change in list.iter() {
                        details {
                            summary { code { (change.id) } " " (change.question.lines().next().unwrap_or_default())
                                @if !change.better.is_empty() { " — better: " (change.better.join(", ")) }
                                @if !change.worse.is_empty() { " — worse: " (change.worse.join(", ")) } }
                            @if let Some(a) = by_id(&c.runs[0], &change.id) { h3 { "Baseline" } (item_details(&a)) }
                            @if let Some(run) = c.runs.get(i + 1) { @if let Some(b) = by_id(run, &change.id) { h3 { "Candidate" } (item_details(&b)) } }
                        }
                    }
                }
            }
        },
    )
}

fn signed(unit: Unit, v: f64) -> String {
    let s = show(unit, v.abs());
    if v > 0.0 {
        format!("+{s}")
    } else if v < 0.0 {
        format!("−{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_show_in_their_units() {
        assert_eq!(show(Unit::Rate, 0.8125), "81.2 %");
        assert_eq!(show(Unit::Ms, 950.4), "950 ms");
        assert_eq!(show(Unit::Ms, 12_340.0), "12.3 s");
        assert_eq!(signed(Unit::Rate, -0.05), "−5.0 %");
    }
}
