//! Charts as SVG (plotters): grouped bars with 95 % intervals — metrics before/after (the seed's
//! figure), per-tag breakdowns — and latency distributions. Text stays `<text>`, so Chinese
//! labels render with the reader's own fonts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{Comparison, RunReport, Unit};

/// A bar: its value and, when known, its interval.
pub type Bar = (f64, Option<(f64, f64)>);

/// One series of a grouped bar chart: a name and, per category, a value with its interval.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend.
    pub name: String,
    /// Per category: value, and the interval when known.
    pub values: Vec<Option<Bar>>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0x4c, 0x72, 0xb0),
    RGBColor(0xdd, 0x84, 0x52),
    RGBColor(0x55, 0xa8, 0x68),
    RGBColor(0xc4, 0x4e, 0x52),
    RGBColor(0x81, 0x72, 0xb3),
    RGBColor(0x93, 0x78, 0x60),
];

const FONT: &str = "sans-serif";

/// Grouped bars: one group per category, one bar per series, error bars for intervals.
///
/// # Errors
/// Plotters' drawing errors, as text.
pub fn grouped_bars(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[Series],
    y_max: f64,
) -> Result<String, String> {
    let mut svg = String::new();
    // The legend sits to the right of the bars (never over them): room for the longest name.
    let legend = series.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).clamp(8, 40) as u32 * 7 + 40;
    let width = (160 + categories.len() * (40 + 28 * series.len())).clamp(420, 1200) as u32 + legend;
    {
        let root = SVGBackend::with_string(&mut svg, (width, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = categories.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .margin_right(legend)
            .x_label_area_size(70)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..n, 0.0..y_max)
            .map_err(|e| e.to_string())?;
        // Shares (every chart here) read as percentages.
        let percent = |v: &f64| format!("{:.0} %", v * 100.0);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .x_labels(0)
            .y_label_formatter(&percent)
            .y_desc(y_label)
            .y_label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        let group = 0.8;
        let bar = group / series.len().max(1) as f64;
        for (s, one) in series.iter().enumerate() {
            let color = COLORS[s % COLORS.len()];
            let x0 = |i: usize| i as f64 + (1.0 - group) / 2.0 + s as f64 * bar;
            chart
                .draw_series(one.values.iter().enumerate().filter_map(|(i, v)| {
                    v.map(|(v, _)| Rectangle::new([(x0(i), 0.0), (x0(i) + bar * 0.92, v.min(y_max))], color.filled()))
                }))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(one.values.iter().enumerate().filter_map(|(i, v)| {
                    let (v, ci) = (*v)?;
                    let (lo, hi) = ci?;
                    Some(ErrorBar::new_vertical(x0(i) + bar * 0.46, lo, v, hi.min(y_max), BLACK.stroke_width(1), 6))
                }))
                .map_err(|e| e.to_string())?;
        }
        // Category names under their groups (the axis' own labels would sit at round numbers).
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, label) in categories.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(label.clone(), (x, y + 8), style.clone())).map_err(|e| e.to_string())?;
        }
        // The legend, drawn on the root to the right of the plot (never over the bars).
        if series.len() > 1 || !series.first().is_some_and(|s| s.name.is_empty()) {
            let (px, py) = chart.plotting_area().get_base_pixel();
            let x = px + i32::try_from(chart.plotting_area().dim_in_pixel().0).unwrap_or(0) + 16;
            let text = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            for (i, one) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let y = py + 8 + i32::try_from(i).unwrap_or(0) * 18;
                root.draw(&Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())).map_err(|e| e.to_string())?;
                root.draw(&Text::new(one.name.clone(), (x + 18, y), text.clone())).map_err(|e| e.to_string())?;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Short labels for the rate metrics shown in bar charts.
const BAR_METRICS: [(&str, &str); 8] = [
    ("keyword_accuracy", "keywords"),
    ("reference_f1", "ref. F1"),
    ("rouge_l", "ROUGE-L"),
    ("citation_correct", "citation"),
    ("grounded", "grounded"),
    ("honesty", "honesty"),
    ("abstention_precision", "abst. prec."),
    ("abstention_recall", "abst. recall"),
];

fn run_name(r: &RunReport) -> String {
    let label = &r.manifest.config.label;
    let id = &r.manifest.id[r.manifest.id.len().saturating_sub(8)..];
    if label.is_empty() { id.to_owned() } else { format!("{label} ({id})") }
}

fn series_of(r: &RunReport, keys: &[&str]) -> Series {
    Series {
        name: run_name(r),
        values: keys
            .iter()
            .map(|k| r.metric(k).and_then(|m| m.estimate).map(|e| (e.value, Some((e.low, e.high)))))
            .collect(),
    }
}

/// The metrics of one or more runs as grouped bars (rates only), the runs side by side.
///
/// # Errors
/// Drawing.
pub fn metric_bars(runs: &[&RunReport]) -> Result<String, String> {
    let keys: Vec<&str> = BAR_METRICS
        .iter()
        .filter(|(k, _)| runs.iter().any(|r| r.metric(k).is_some_and(|m| m.estimate.is_some())))
        .map(|(k, _)| *k)
        .collect();
    let categories: Vec<String> =
        keys.iter().map(|k| BAR_METRICS.iter().find(|(m, _)| m == k).map_or(*k, |(_, l)| *l).to_owned()).collect();
    let series: Vec<Series> = runs.iter().map(|r| series_of(r, &keys)).collect();
    grouped_bars("Metrics (95 % intervals)", "share of items", &categories, &series, 1.05)
}

/// One metric per tag, the runs side by side.
///
/// # Errors
/// Drawing.
pub fn tag_bars(runs: &[&RunReport], key: &str, label: &str) -> Result<String, String> {
    let mut tags: Vec<String> = runs.iter().flat_map(|r| r.tags.iter().map(|t| t.tag.clone())).collect();
    tags.sort();
    tags.dedup();
    let series = runs
        .iter()
        .map(|r| Series {
            name: run_name(r),
            values: tags
                .iter()
                .map(|t| {
                    let m = r.tags.iter().find(|x| &x.tag == t)?.metrics.iter().find(|m| m.key == key)?;
                    m.estimate.map(|e| (e.value, Some((e.low, e.high))))
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    grouped_bars(&format!("{label} by tag"), "share of items", &tags, &series, 1.05)
}

/// Latency distributions: the share of each run's items per latency bucket.
///
/// # Errors
/// Drawing.
pub fn latency_histogram(runs: &[&RunReport]) -> Result<String, String> {
    let all: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| r.items.iter().filter(|i| !i.scores.failed).map(|i| i.outcome.latency_ms / 1000.0).collect())
        .collect();
    let max = all.iter().flatten().copied().fold(0.0f64, f64::max);
    let buckets = 10usize;
    let (step, categories) = latency_buckets(max, buckets);
    let series = runs
        .iter()
        .zip(&all)
        .map(|(r, lat)| {
            let n = lat.len().max(1) as f64;
            Series {
                name: run_name(r),
                values: (0..buckets)
                    .map(|b| {
                        let inside = lat
                            .iter()
                            .filter(|l| {
                                let i = ((**l / step).floor() as usize).min(buckets - 1);
                                i == b
                            })
                            .count();
                        Some((inside as f64 / n, None))
                    })
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    grouped_bars("Latency distribution", "share of items", &categories, &series, 1.0)
}

/// The bucket width (seconds) and labels of a latency histogram up to `max` seconds: a round
/// width; sub-second runs (extractive answers) labelled in milliseconds, others in seconds.
fn latency_buckets(max: f64, buckets: usize) -> (f64, Vec<String>) {
    let step = if max > 0.0 { nice_step(max / buckets as f64) } else { 1.0 };
    let ms = step < 0.1;
    let edge = |x: f64| if ms { format!("{:.0}", x * 1000.0) } else { trim(x) };
    let unit = if ms { "ms" } else { "s" };
    let labels =
        (0..buckets).map(|b| b as f64 * step).map(|e| format!("{}–{} {unit}", edge(e), edge(e + step))).collect();
    (step, labels)
}

fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.trim_end_matches(".0").to_owned()
}

/// 1, 2 or 5 × a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|s| *s >= raw).unwrap_or(10.0 * p)
}

/// Every chart of a report: metrics, per-tag keyword and citation results, latency. Each is
/// an SVG document, or why it could not be drawn.
#[must_use]
pub fn report_charts(runs: &[&RunReport]) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    out.push(("Metrics".to_owned(), metric_bars(runs)));
    if runs.iter().any(|r| !r.tags.is_empty()) {
        for (key, label) in [
            ("keyword_accuracy", "Keyword accuracy"),
            ("citation_correct", "Citation correctness"),
            ("abstention_correct", "Abstained when it should"),
        ] {
            if runs
                .iter()
                .any(|r| r.tags.iter().any(|t| t.metrics.iter().any(|m| m.key == key && m.estimate.is_some())))
            {
                out.push((format!("{label} by tag"), tag_bars(runs, key, label)));
            }
        }
    }
    out.push(("Latency".to_owned(), latency_histogram(runs)));
    out
}

/// The charts of a comparison (its runs side by side).
#[must_use]
pub fn comparison_charts(c: &Comparison) -> Vec<(String, Result<String, String>)> {
    report_charts(&c.runs.iter().collect::<Vec<_>>())
}

/// Whether a metric is drawn as a share (the bar charts' axis).
#[must_use]
pub fn is_rate(unit: Unit) -> bool {
    unit == Unit::Rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_svg_with_chinese_labels_as_text() {
        let svg = grouped_bars(
            "关键词准确率",
            "share",
            &["民法典".into(), "劳动合同".into()],
            &[
                Series { name: "混合检索".into(), values: vec![Some((0.5, Some((0.3, 0.7)))), None] },
                Series { name: "vector".into(), values: vec![Some((0.25, None)), Some((1.0, Some((0.9, 1.0))))] },
            ],
            1.05,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        for label in ["关键词准确率", "民法典", "劳动合同", "混合检索", "vector"] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert!(svg.matches("<rect").count() >= 3);
        assert_eq!(nice_step(0.37), 0.5);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(11.0), 20.0);
    }

    #[test]
    fn latency_buckets_read_in_milliseconds_below_a_second() {
        let (step, labels) = latency_buckets(0.054, 10);
        assert!((step - 0.01).abs() < 1e-12);
        assert_eq!(labels[..2], ["0–10 ms".to_owned(), "10–20 ms".to_owned()]);
        let (step, labels) = latency_buckets(14.0, 10);
        assert!((step - 2.0).abs() < 1e-12);
        assert_eq!(labels[1], "2–4 s");
        assert_eq!(latency_buckets(0.0, 10).1[0], "0–1 s");
    }
}
