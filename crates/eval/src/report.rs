//! Aggregates: a run's metrics with 95 % intervals, per tag, and comparisons of runs on the
//! same set (paired differences, McNemar for pass/fail metrics, the items that got better and
//! worse).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::gold::GoldItem;
use crate::judge::Judgement;
use crate::run::{RunDir, RunManifest};
use crate::score::{ItemScores, Outcome, score};
use crate::stats::{Estimate, McNemar, PairedDelta, bootstrap, mcnemar, mean_of, paired_delta};

/// How a metric's values read.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[serde(rename = "MetricUnit")] // a distinct name in the UI's generated types
pub enum Unit {
    /// 0–1, shown as a percentage; higher is better.
    Rate,
    /// Milliseconds; lower is better.
    Ms,
    /// Tokens per second; higher is better.
    TokensPerSecond,
    /// A grade from 1 to 5 (the LLM judge); higher is better.
    Score,
}

/// The metrics, in report order: key, label, unit, and whether a pass/fail metric (McNemar
/// applies, items change between better and worse).
pub const METRICS: [(&str, &str, Unit, bool); 18] = [
    ("keyword_accuracy", "Keyword accuracy (item's rule)", Unit::Rate, true),
    ("keyword_any", "Keyword accuracy (any keyword: the seed's rule)", Unit::Rate, true),
    ("keyword_all", "Keyword accuracy (all keywords)", Unit::Rate, true),
    ("keyword_share", "Keywords found (share)", Unit::Rate, false),
    ("reference_f1", "Reference F1 (characters / words)", Unit::Rate, false),
    ("rouge_l", "Reference ROUGE-L", Unit::Rate, false),
    ("citation_correct", "Citation correctness", Unit::Rate, true),
    ("grounded", "Grounded (a verified citation)", Unit::Rate, true),
    ("honesty", "Citation honesty (verified quotes on their page)", Unit::Rate, false),
    ("abstention_precision", "Abstention precision", Unit::Rate, false),
    ("abstention_recall", "Abstention recall", Unit::Rate, false),
    ("abstention_correct", "Abstained exactly when it should", Unit::Rate, true),
    ("answered", "Answered (items with an answer)", Unit::Rate, true),
    ("failed", "Failed with an error", Unit::Rate, false),
    ("latency_ms", "Latency (mean)", Unit::Ms, false),
    ("first_token_ms", "Time to first token (mean)", Unit::Ms, false),
    ("tokens_per_second", "Generation speed", Unit::TokensPerSecond, false),
    ("judge_score", "LLM-as-judge score, 1–5 (weaker evidence)", Unit::Score, false),
];

/// One metric of a run.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Stable key (`keyword_accuracy`, …).
    pub key: String,
    /// Label.
    pub label: String,
    /// Unit.
    pub unit: Unit,
    /// Value and interval; `None` where no item defines it.
    pub estimate: Option<Estimate>,
}

/// An item with what it produced and its scores.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The gold item.
    pub item: GoldItem,
    /// What was produced.
    pub outcome: Outcome,
    /// Its scores.
    pub scores: ItemScores,
    /// The LLM judge's grade, when the run was judged ([`crate::judge`]).
    #[serde(default)]
    pub judgement: Option<Judgement>,
}

/// Who judged a run, and how many replies had no readable score.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeSummary {
    /// The judge model(s).
    pub models: Vec<String>,
    /// Items judged.
    pub judged: u32,
    /// Replies without a readable score (left out of the mean).
    pub unreadable: u32,
}

/// Metrics of the items with one tag.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagMetrics {
    /// The tag.
    pub tag: String,
    /// Its items.
    pub items: u32,
    /// The metrics over them.
    pub metrics: Vec<Metric>,
}

/// A run with its results.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run.
    pub manifest: RunManifest,
    /// Items finished.
    pub done: u32,
    /// Items finished, in set order.
    pub items: Vec<ItemResult>,
    /// The metrics over them.
    pub metrics: Vec<Metric>,
    /// Per tag.
    pub tags: Vec<TagMetrics>,
    /// Verified quotes in the run, and of those found again on their page: honesty is 100 %
    /// exactly when the two are equal.
    pub verified_quotes: u32,
    /// Verified quotes found on their page.
    pub honest_quotes: u32,
    /// Latency percentiles (ms): 50th, 90th, 95th.
    pub latency_percentiles: Option<[f64; 3]>,
    /// The LLM judge, when the run was judged.
    #[serde(default)]
    pub judge: Option<JudgeSummary>,
}

impl RunReport {
    /// Whether every verified quote was found on its cited page.
    #[must_use]
    pub fn honest(&self) -> bool {
        self.verified_quotes == self.honest_quotes
    }

    /// A metric by key.
    #[must_use]
    pub fn metric(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }

    /// Read a stored run and score it.
    ///
    /// # Errors
    /// A damaged run.
    pub fn of(run: &RunDir) -> Result<Self, EvalError> {
        let manifest = run.manifest()?;
        let set = run.set()?;
        let mut records: HashMap<String, Outcome> = run.records()?.into_iter().map(|r| (r.id, r.outcome)).collect();
        let mut judgements: HashMap<String, Judgement> =
            run.judgements()?.into_iter().map(|j| (j.id.clone(), j)).collect();
        let items: Vec<ItemResult> = set
            .items
            .into_iter()
            .filter_map(|item| {
                let outcome = records.remove(&item.id)?;
                let scores = score(&item, &outcome);
                let judgement = judgements.remove(&item.id);
                Some(ItemResult { item, outcome, scores, judgement })
            })
            .collect();
        Ok(Self::from_items(manifest, items))
    }

    /// Aggregate scored items.
    #[must_use]
    pub fn from_items(manifest: RunManifest, items: Vec<ItemResult>) -> Self {
        let all = metrics(&items.iter().collect::<Vec<_>>());
        let mut by_tag: BTreeMap<&str, Vec<&ItemResult>> = BTreeMap::new();
        for r in &items {
            for t in &r.item.tags {
                by_tag.entry(t).or_default().push(r);
            }
        }
        let tags = by_tag
            .into_iter()
            .map(|(tag, rs)| TagMetrics { tag: tag.to_owned(), items: count(rs.len()), metrics: metrics(&rs) })
            .collect();
        let verified_quotes = items.iter().map(|r| r.scores.verified_quotes).sum();
        let honest_quotes = items.iter().map(|r| r.scores.honest_quotes).sum();
        let mut latencies: Vec<f64> = items.iter().filter(|r| !r.scores.failed).map(|r| r.outcome.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        let latency_percentiles = (!latencies.is_empty()).then(|| {
            let at = |q: f64| latencies[((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1];
            [at(0.5), at(0.9), at(0.95)]
        });
        let judged: Vec<&Judgement> = items.iter().filter_map(|r| r.judgement.as_ref()).collect();
        let judge = (!judged.is_empty()).then(|| {
            let mut models: Vec<String> = judged.iter().map(|j| j.model.clone()).collect();
            models.sort();
            models.dedup();
            JudgeSummary {
                models,
                judged: count(judged.len()),
                unreadable: count(judged.iter().filter(|j| j.score.is_none()).count()),
            }
        });
        Self {
            judge,
            done: count(items.len()),
            manifest,
            items,
            metrics: all,
            tags,
            verified_quotes,
            honest_quotes,
            latency_percentiles,
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn rate(b: Option<bool>) -> Option<f64> {
    b.map(|b| if b { 1.0 } else { 0.0 })
}

/// The per-item value of a mean-type metric.
fn value(key: &str, r: &ItemResult) -> Option<f64> {
    let s = &r.scores;
    let o = &r.outcome;
    match key {
        "keyword_accuracy" => rate(s.keyword_pass),
        "keyword_any" => rate(s.keyword_any),
        "keyword_all" => rate(s.keyword_all),
        "keyword_share" => s.keyword_share,
        "reference_f1" => s.reference_f1,
        "rouge_l" => s.rouge_l,
        "citation_correct" => rate(s.citation_correct),
        "grounded" => rate(s.grounded),
        "abstention_correct" => rate(Some(!s.failed && s.abstained == s.should_abstain)),
        "answered" => rate((!s.should_abstain).then_some(!s.failed && !s.abstained)),
        "failed" => rate(Some(s.failed)),
        "latency_ms" => (!s.failed).then_some(o.latency_ms),
        "first_token_ms" => o.first_token_ms.filter(|_| !s.failed),
        "tokens_per_second" => o.tokens_per_second.filter(|t| *t > 0.0 && !s.failed),
        "judge_score" => r.judgement.as_ref().and_then(|j| j.score).map(f64::from),
        _ => None,
    }
}

/// A pass/fail metric per item (for McNemar and the better/worse lists).
fn pass(key: &str, r: &ItemResult) -> Option<bool> {
    value(key, r).map(|v| v >= 0.5)
}

fn metrics(items: &[&ItemResult]) -> Vec<Metric> {
    METRICS
        .iter()
        .map(|(key, label, unit, _)| {
            let estimate = match *key {
                // Ratios over items: numerator and denominator resampled together.
                "honesty" => {
                    let q: Vec<(u32, u32)> =
                        items.iter().map(|r| (r.scores.honest_quotes, r.scores.verified_quotes)).collect();
                    bootstrap(items.len(), |sample| {
                        let (h, v) = sample.fold((0u32, 0u32), |(h, v), i| (h + q[i].0, v + q[i].1));
                        (v > 0).then(|| f64::from(h) / f64::from(v))
                    })
                }
                "abstention_precision" | "abstention_recall" => {
                    let pairs: Vec<(bool, bool)> =
                        items.iter().map(|r| (r.scores.abstained, r.scores.should_abstain)).collect();
                    let precision = *key == "abstention_precision";
                    bootstrap(items.len(), |sample| {
                        let (mut hit, mut base) = (0u32, 0u32);
                        for i in sample {
                            let (did, should) = pairs[i];
                            let counted = if precision { did } else { should };
                            if counted {
                                base += 1;
                                hit += u32::from(did && should);
                            }
                        }
                        (base > 0).then(|| f64::from(hit) / f64::from(base))
                    })
                }
                _ => {
                    let values: Vec<Option<f64>> = items.iter().map(|r| value(key, r)).collect();
                    let defined = values.iter().filter(|v| v.is_some()).count();
                    bootstrap(values.len(), mean_of(&values)).map(|e| Estimate { n: count(defined), ..e })
                }
            };
            Metric { key: (*key).to_owned(), label: (*label).to_owned(), unit: *unit, estimate }
        })
        .collect()
}

/// One metric of two runs compared on their paired items.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDelta {
    /// Key.
    pub key: String,
    /// Label.
    pub label: String,
    /// Unit.
    pub unit: Unit,
    /// The baseline on the paired items.
    pub baseline: Option<Estimate>,
    /// The candidate on the paired items.
    pub candidate: Option<Estimate>,
    /// Candidate − baseline with a paired-bootstrap interval (mean-type metrics).
    pub delta: Option<PairedDelta>,
    /// McNemar's exact test (pass/fail metrics).
    pub mcnemar: Option<McNemar>,
}

/// An item whose result changed between two runs.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemChange {
    /// The gold item's id.
    pub id: String,
    /// The question.
    pub question: String,
    /// Pass/fail metrics that went from fail to pass.
    pub better: Vec<String>,
    /// Pass/fail metrics that went from pass to fail.
    pub worse: Vec<String>,
}

/// A candidate run against the baseline.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairComparison {
    /// The candidate run.
    pub candidate: RunManifest,
    /// Items both runs finished with the same gold.
    pub paired: u32,
    /// Items left out: finished by one run only, or with different gold.
    pub unpaired: u32,
    /// Per metric.
    pub metrics: Vec<MetricDelta>,
    /// Items that got better only.
    pub better: Vec<ItemChange>,
    /// Items that got worse (in at least one pass/fail metric).
    pub worse: Vec<ItemChange>,
}

/// Two or more runs on the same set: each against the first.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "EvalComparison")] // a distinct name in the UI's generated types
pub struct Comparison {
    /// The set.
    pub set: String,
    /// The runs' reports, baseline first.
    pub runs: Vec<RunReport>,
    /// Each other run against the baseline.
    pub pairs: Vec<PairComparison>,
}

/// Compare runs on the same set, the first as the baseline.
///
/// # Errors
/// Fewer than two runs, or runs of different sets.
pub fn compare(runs: Vec<RunReport>) -> Result<Comparison, EvalError> {
    if runs.len() < 2 {
        return Err(EvalError::NotComparable("give at least two runs".into()));
    }
    let set = runs[0].manifest.set.clone();
    if let Some(other) = runs.iter().find(|r| r.manifest.set != set) {
        return Err(EvalError::NotComparable(format!(
            "run {} is on the set {:?}, run {} on {:?}",
            runs[0].manifest.id, set, other.manifest.id, other.manifest.set
        )));
    }
    let pairs = runs[1..].iter().map(|c| pair(&runs[0], c)).collect();
    Ok(Comparison { set, runs, pairs })
}

fn pair(baseline: &RunReport, candidate: &RunReport) -> PairComparison {
    let by_id: HashMap<&str, &ItemResult> = candidate.items.iter().map(|r| (r.item.id.as_str(), r)).collect();
    let paired: Vec<(&ItemResult, &ItemResult)> = baseline
        .items
        .iter()
        .filter_map(|a| by_id.get(a.item.id.as_str()).filter(|b| b.item == a.item).map(|b| (a, *b)))
        .collect();
    let ids: std::collections::HashSet<&str> =
        baseline.items.iter().chain(&candidate.items).map(|r| r.item.id.as_str()).collect();
    let a: Vec<&ItemResult> = paired.iter().map(|p| p.0).collect();
    let b: Vec<&ItemResult> = paired.iter().map(|p| p.1).collect();
    let (ma, mb) = (metrics(&a), metrics(&b));
    let metrics = METRICS
        .iter()
        .zip(ma.into_iter().zip(mb))
        .map(|((key, label, unit, binary), (x, y))| {
            let values = |rs: &[&ItemResult]| rs.iter().map(|r| value(key, r)).collect::<Vec<_>>();
            let passes = |rs: &[&ItemResult]| rs.iter().map(|r| pass(key, r)).collect::<Vec<_>>();
            MetricDelta {
                key: (*key).to_owned(),
                label: (*label).to_owned(),
                unit: *unit,
                baseline: x.estimate,
                candidate: y.estimate,
                delta: paired_delta(&values(&a), &values(&b)),
                mcnemar: if *binary { mcnemar(&passes(&a), &passes(&b)) } else { None },
            }
        })
        .collect();
    let mut better = Vec::new();
    let mut worse = Vec::new();
    for (x, y) in &paired {
        let mut change = ItemChange {
            id: x.item.id.clone(),
            question: x.item.question.clone(),
            better: Vec::new(),
            worse: Vec::new(),
        };
        for (key, _, _, binary) in METRICS {
            if !binary || key == "keyword_any" || key == "keyword_all" {
                continue;
            }
            match (pass(key, x), pass(key, y)) {
                (Some(false), Some(true)) => change.better.push(key.to_owned()),
                (Some(true), Some(false)) => change.worse.push(key.to_owned()),
                _ => {}
            }
        }
        if !change.worse.is_empty() {
            worse.push(change);
        } else if !change.better.is_empty() {
            better.push(change);
        }
    }
    PairComparison {
        candidate: candidate.manifest.clone(),
        paired: count(paired.len()),
        unpaired: count(ids.len() - paired.len()),
        metrics,
        better,
        worse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{RunConfig, RunStatus};
    use crate::score::CitedPassage;

    fn manifest(id: &str) -> RunManifest {
        RunManifest {
            id: id.into(),
            set: "s".into(),
            set_fingerprint: String::new(),
            items: 40,
            config: RunConfig::default(),
            created_ms: 0,
            finished_ms: None,
            status: RunStatus::Finished,
            error: None,
        }
    }

    fn results(good: impl Fn(usize) -> bool) -> Vec<ItemResult> {
        (0..40)
            .map(|i| {
                let off = i >= 30;
                let json = if off {
                    format!(r#"{{"id":"q{i}","question":"q{i}","should_abstain":true,"tags":["off"]}}"#)
                } else {
                    format!(r#"{{"id":"q{i}","question":"q{i}","keywords":"yes","sources":"d.md","tags":["in"]}}"#)
                };
                let item =
                    crate::gold::parse(json.as_bytes(), crate::gold::GoldFormat::Jsonl, "s").unwrap().items.remove(0);
                let ok = good(i);
                let outcome = Outcome {
                    answer: if ok { "yes".into() } else { "no".into() },
                    abstained: if off { ok } else { false },
                    citations: vec![CitedPassage {
                        doc: if ok { "d.md".into() } else { "other.md".into() },
                        source: if ok { "d.md".into() } else { "other.md".into() },
                        page: Some(1),
                        heading: String::new(),
                        quote: "q".into(),
                        verified: true,
                        attributed: false,
                        on_page: Some(true),
                    }],
                    latency_ms: 100.0 + i as f64,
                    ..Outcome::default()
                };
                let scores = score(&item, &outcome);
                ItemResult { item, outcome, scores, judgement: None }
            })
            .collect()
    }

    #[test]
    fn a_report_aggregates_metrics_tags_and_honesty() {
        let r = RunReport::from_items(manifest("a"), results(|i| i % 2 == 0));
        let kw = r.metric("keyword_accuracy").unwrap().estimate.unwrap();
        assert_eq!((kw.value, kw.n), (0.5, 30));
        assert!(kw.low < 0.5 && kw.high > 0.5);
        let recall = r.metric("abstention_recall").unwrap().estimate.unwrap();
        assert_eq!(recall.value, 0.5, "5 of the 10 off-corpus items abstained");
        assert_eq!(r.metric("abstention_precision").unwrap().estimate.unwrap().value, 1.0);
        assert_eq!(r.metric("citation_correct").unwrap().estimate.unwrap().value, 0.5);
        assert!(r.honest());
        assert_eq!(r.tags.iter().map(|t| (t.tag.as_str(), t.items)).collect::<Vec<_>>(), [("in", 30), ("off", 10)]);
        assert_eq!(r.latency_percentiles, Some([119.0, 135.0, 137.0]));
    }

    #[test]
    fn a_comparison_pairs_items_tests_the_change_and_lists_who_moved() {
        let base = RunReport::from_items(manifest("a"), results(|i| i % 2 == 0));
        let cand = RunReport::from_items(manifest("b"), results(|i| i % 2 == 0 || i < 20));
        let c = compare(vec![base.clone(), cand]).unwrap();
        let p = &c.pairs[0];
        assert_eq!((p.paired, p.unpaired), (40, 0));
        let kw = p.metrics.iter().find(|m| m.key == "keyword_accuracy").unwrap();
        let m = kw.mcnemar.unwrap();
        assert_eq!((m.worse, m.better), (0, 10));
        assert!(m.p_value < 0.01);
        assert!((kw.delta.unwrap().delta - 10.0 / 30.0).abs() < 1e-12);
        assert_eq!(p.better.len(), 10);
        assert!(p.worse.is_empty());
        assert!(p.better[0].better.contains(&"citation_correct".to_owned()));
        let mut other = base.clone();
        other.manifest.set = "t".into();
        assert!(matches!(compare(vec![base.clone(), other]), Err(EvalError::NotComparable(_))));
        assert!(matches!(compare(vec![base]), Err(EvalError::NotComparable(_))));
    }
}
