//! Evaluation over the API and quality monitoring.
//!
//! `POST /v1/evals` creates a run of a gold set and executes it in the background (one run at a
//! time per node: a second gets 409 `EVAL_BUSY`); `GET /v1/evals/{run_id}` reads its metrics and
//! items so far; `POST /v1/evals/{run_id}/cancel` stops it (resumable with `lexdesk eval
//! resume`). With `[server] probe_set`, [`spawn_probe`] runs that set on a schedule and sets the
//! `lexdesk_eval_*` gauges from each finished run (older probe runs are deleted, the last
//! [`PROBE_RUNS_KEPT`] kept).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::SearchMode;
use lexdesk_desk::{AnswerMode, Desk, EvalParams, Metric, MetricUnit, RunManifest, RunReport, RunStatus};

use crate::AppState;
use crate::auth::{EvalScope, Key};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::wire::{
    EvalIn, EvalItemOut, EvalMetricOut, EvalReportOut, EvalRunList, EvalRunOut, EvalSetList, EvalSetOut, EvalTagOut,
};

/// Probe runs kept on disk.
pub const PROBE_RUNS_KEPT: usize = 10;

/// The run this node is executing, if any.
#[derive(Debug, Default)]
pub(crate) struct EvalJobs {
    running: Mutex<Option<(String, CancelToken)>>,
}

impl EvalJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, CancelToken)>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claim the node for `id`; `false` when another run holds it.
    fn claim(&self, id: &str, cancel: &CancelToken) -> bool {
        let mut running = self.lock();
        if running.is_some() {
            return false;
        }
        *running = Some((id.to_owned(), cancel.clone()));
        true
    }

    fn release(&self, id: &str) {
        let mut running = self.lock();
        if running.as_ref().is_some_and(|(r, _)| r == id) {
            *running = None;
        }
    }

    fn busy_with(&self) -> Option<String> {
        self.lock().as_ref().map(|(id, _)| id.clone())
    }

    fn cancel(&self, id: &str) -> bool {
        match self.lock().as_ref() {
            Some((r, cancel)) if r == id => {
                cancel.cancel();
                true
            }
            _ => false,
        }
    }
}

fn status_name(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Cancelled => "cancelled",
        RunStatus::Failed => "failed",
        RunStatus::Finished => "finished",
    }
}

fn run_out(m: &RunManifest, done: u32) -> EvalRunOut {
    EvalRunOut {
        id: m.id.clone(),
        set: m.set.clone(),
        label: m.config.label.clone(),
        status: status_name(m.status).into(),
        items: m.items,
        done,
        matter: m.config.matter.clone(),
        model: m.config.model.clone(),
        mode: m.config.mode.clone(),
        search_mode: m.config.search_mode.clone(),
        error: m.error.clone(),
        created_at_ms: m.created_ms,
        finished_at_ms: m.finished_ms,
    }
}

fn metric_out(m: &Metric) -> EvalMetricOut {
    EvalMetricOut {
        key: m.key.clone(),
        label: m.label.clone(),
        unit: match m.unit {
            MetricUnit::Rate => "rate",
            MetricUnit::Ms => "ms",
            MetricUnit::TokensPerSecond => "tokens_per_second",
            MetricUnit::Score => "score",
        }
        .into(),
        value: m.estimate.map(|e| e.value),
        low: m.estimate.map(|e| e.low),
        high: m.estimate.map(|e| e.high),
        n: m.estimate.map_or(0, |e| e.n),
    }
}

fn report_out(r: &RunReport) -> EvalReportOut {
    EvalReportOut {
        run: run_out(&r.manifest, r.done),
        honest: r.honest(),
        verified_quotes: r.verified_quotes,
        honest_quotes: r.honest_quotes,
        metrics: r.metrics.iter().map(metric_out).collect(),
        tags: r
            .tags
            .iter()
            .map(|t| EvalTagOut {
                tag: t.tag.clone(),
                items: t.items,
                metrics: t.metrics.iter().map(metric_out).collect(),
            })
            .collect(),
        items: r
            .items
            .iter()
            .map(|i| EvalItemOut {
                id: i.item.id.clone(),
                question: i.item.question.clone(),
                answer: i.outcome.answer.clone(),
                abstained: i.scores.abstained,
                should_abstain: i.scores.should_abstain,
                error: i.outcome.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)),
                keyword_pass: i.scores.keyword_pass,
                citation_correct: i.scores.citation_correct,
                grounded: i.scores.grounded,
                honest: i.scores.honest,
                latency_ms: i.outcome.latency_ms,
                judge_score: i.judgement.as_ref().and_then(|j| j.score),
            })
            .collect(),
    }
}

fn params_of(body: EvalIn) -> Result<EvalParams, ApiError> {
    if body.set.trim().is_empty() {
        return Err(ApiError::invalid("set", "name a gold set"));
    }
    let mode = match body.mode.as_deref() {
        None => None,
        Some(m) => Some(m.parse::<AnswerMode>().map_err(|e: String| ApiError::invalid("mode", e))?),
    };
    let search_mode = match body.search_mode.as_deref() {
        None => None,
        Some(m) => Some(m.parse::<SearchMode>().map_err(|e| ApiError::invalid("search_mode", e.to_string()))?),
    };
    Ok(EvalParams {
        set: body.set,
        matter: body.matter,
        label: body.label,
        mode,
        search_mode,
        top_k: body.top_k,
        template: body.template,
        rerank: body.rerank,
        max_tokens: body.max_tokens,
        seed: body.seed,
        concurrency: body.concurrency,
        limit: body.limit,
        judge: body.judge,
    })
}

pub(crate) async fn start_eval(
    State(state): State<AppState>,
    _key: Key<EvalScope>,
    body: Result<Json<EvalIn>, JsonRejection>,
) -> Result<(StatusCode, Json<EvalRunOut>), ApiError> {
    let Json(body) = body?;
    let mut params = params_of(body)?;
    // Items at once never exceed the sequences the chat model was loaded with.
    params.concurrency = Some(params.concurrency.unwrap_or(1).clamp(1, state.config.parallel.max(1)));
    if let Some(id) = state.evals.busy_with() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "EVAL_BUSY",
            format!("evaluation run {id} is running on this node"),
        ));
    }
    let manifest = state.desk.evals().create(&params).await?;
    let cancel = CancelToken::new();
    if !state.evals.claim(&manifest.id, &cancel) {
        state.desk.evals().delete(&manifest.id)?;
        return Err(ApiError::new(StatusCode::CONFLICT, "EVAL_BUSY", "another evaluation run started first"));
    }
    let out = run_out(&manifest, 0);
    let (desk, jobs, id) = (state.desk.clone(), state.evals.clone(), manifest.id);
    tokio::spawn(async move {
        if let Err(e) = desk.evals().resume(&id, &cancel, &mut |_| {}).await {
            tracing::warn!(run = %id, error = %e, "evaluation run stopped");
        }
        jobs.release(&id);
    });
    Ok((StatusCode::ACCEPTED, Json(out)))
}

pub(crate) async fn list_evals(
    State(state): State<AppState>,
    _key: Key<EvalScope>,
) -> Result<Json<EvalRunList>, ApiError> {
    let evals = state.desk.evals();
    let data = evals
        .list()?
        .iter()
        .map(|m| {
            let done =
                if m.status == RunStatus::Finished { m.items } else { evals.report(&m.id).map_or(0, |r| r.done) };
            run_out(m, done)
        })
        .collect();
    Ok(Json(EvalRunList { data }))
}

pub(crate) async fn get_eval(
    State(state): State<AppState>,
    _key: Key<EvalScope>,
    Path(run_id): Path<String>,
) -> Result<Json<EvalReportOut>, ApiError> {
    Ok(Json(report_out(&state.desk.evals().report(&run_id)?)))
}

pub(crate) async fn cancel_eval(
    State(state): State<AppState>,
    _key: Key<EvalScope>,
    Path(run_id): Path<String>,
) -> Result<Json<EvalRunOut>, ApiError> {
    let report = state.desk.evals().report(&run_id)?;
    if !state.evals.cancel(&report.manifest.id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "EVAL_NOT_RUNNING",
            format!("run {} is not running on this node", report.manifest.id),
        ));
    }
    Ok(Json(run_out(&report.manifest, report.done)))
}

pub(crate) async fn list_eval_sets(
    State(state): State<AppState>,
    _key: Key<EvalScope>,
) -> Result<Json<EvalSetList>, ApiError> {
    let data = state
        .desk
        .evals()
        .sets()?
        .into_iter()
        .map(|s| EvalSetOut {
            name: s.name,
            items: s.items,
            with_sources: s.with_sources,
            with_keywords: s.with_keywords,
            with_expected: s.with_expected,
            should_abstain: s.should_abstain,
        })
        .collect();
    Ok(Json(EvalSetList { data }))
}

/// Set the `lexdesk_eval_*` gauges from a finished run.
pub(crate) fn record_probe(metrics: &Metrics, report: &RunReport) {
    let set = report.manifest.set.as_str();
    let model = report.manifest.config.model.as_deref().unwrap_or(report.manifest.config.mode.as_str());
    let value = |key: &str| report.metric(key).and_then(|m| m.estimate).map(|e| e.value);
    for (gauge, key) in [
        (&metrics.eval_keyword_accuracy, "keyword_accuracy"),
        (&metrics.eval_grounded, "grounded"),
        (&metrics.eval_citation_correct, "citation_correct"),
        (&metrics.eval_honesty, "honesty"),
        (&metrics.eval_abstention_precision, "abstention_precision"),
        (&metrics.eval_abstention_recall, "abstention_recall"),
        (&metrics.eval_failed, "failed"),
    ] {
        // A metric no item defines leaves its gauge absent rather than a misleading 0.
        match value(key) {
            Some(v) => gauge.with_label_values(&[set, model]).set(v),
            None => {
                gauge.remove_label_values(&[set, model]).ok();
            }
        }
    }
    if let Some(ms) = value("latency_ms") {
        metrics.eval_latency.with_label_values(&[set, model]).set(ms / 1000.0);
    }
    metrics.eval_items.with_label_values(&[set, model]).set(f64::from(report.done));
    let finished = report.manifest.finished_ms.unwrap_or_else(lexdesk_core::now_ms);
    metrics.eval_last_run.with_label_values(&[set, model]).set(finished as f64 / 1000.0);
}

/// Run `[server] probe_set` every `probe_interval_secs` while the server runs (from now on).
pub(crate) fn spawn_probe(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let config = state.config.clone();
    if config.probe_set.trim().is_empty() {
        return None;
    }
    let (desk, metrics, jobs) = (state.desk.clone(), state.metrics.clone(), state.evals.clone());
    let interval = Duration::from_secs(config.probe_interval_secs.max(1));
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let params = EvalParams {
                set: config.probe_set.clone(),
                matter: Some(config.probe_matter.clone()).filter(|m| !m.trim().is_empty()),
                label: Some("probe".into()),
                limit: Some(config.probe_limit).filter(|l| *l > 0),
                concurrency: Some(config.parallel.max(1)),
                ..EvalParams::default()
            };
            probe_once(&desk, &metrics, &jobs, &params).await;
        }
    }))
}

async fn probe_once(desk: &Arc<Desk>, metrics: &Metrics, jobs: &Arc<EvalJobs>, params: &EvalParams) {
    let manifest = match desk.evals().create(params).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(set = %params.set, error = %e, "the quality probe could not start");
            return;
        }
    };
    let cancel = CancelToken::new();
    if !jobs.claim(&manifest.id, &cancel) {
        tracing::info!("an evaluation run is in progress; the quality probe waits for the next round");
        desk.evals().delete(&manifest.id).ok();
        return;
    }
    let result = desk.evals().resume(&manifest.id, &cancel, &mut |_| {}).await;
    jobs.release(&manifest.id);
    match result {
        Ok(report) => {
            record_probe(metrics, &report);
            if !report.honest() {
                tracing::error!(run = %manifest.id, "quality probe: a verified quote is not on its cited page");
            }
        }
        Err(e) => tracing::warn!(run = %manifest.id, error = %e, "the quality probe failed"),
    }
    // Keep the last few probe runs.
    if let Ok(runs) = desk.evals().list() {
        for old in runs.iter().filter(|m| m.config.label == "probe" && m.set == params.set).skip(PROBE_RUNS_KEPT) {
            desk.evals().delete(&old.id).ok();
        }
    }
}
