// Results of evaluation runs: a run's metrics with intervals, honesty, charts, tags and items
// (each openable down to the answer, its citations and the gold), and comparisons of runs.
import { Fragment, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type EvalExportFormat,
  type ItemChange,
  type ItemResult,
  type Metric,
  type MetricDelta,
  type RunManifest,
  type RunReport,
} from "../bindings";
import {
  formatDelta,
  formatInterval,
  formatP,
  formatValue,
  higherIsBetter,
  honesty,
  itemState,
  svgSource,
  verdict,
  type EvalJob,
  type EvalJobs,
  type Verdict,
} from "../lib/evals";
import { useEvalCharts, useEvalComparison, useEvalReport } from "../lib/queries";
import { pickSavePath, toIpcError } from "../platform";
import { ConfirmDialog } from "./ConfirmDialog";
import { ErrorLine } from "./ErrorLine";
import { useToasts } from "./Toasts";

/** The executing run in the screen's header: progress, Cancel. */
export function JobProgress({ job, onCancel, onOpen }: { job: EvalJob; onCancel: () => void; onOpen: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="eval-job" role="status" data-testid="eval-progress" data-done={job.done} data-total={job.total}>
      <button type="button" className="linkish" onClick={onOpen}>
        {job.phase === "judging" ? t("evaluate.judging", { label: job.label }) : job.label}
      </button>
      <progress max={Math.max(job.total, 1)} value={job.done} aria-label={t("evaluate.progress")} />
      <span className="muted small">{t("evaluate.itemsDone", { done: job.done, total: job.total })}</span>
      <button type="button" className="small" data-testid="eval-cancel" disabled={job.cancelling} onClick={onCancel}>
        {job.cancelling ? t("evaluate.cancelling") : t("common.cancel")}
      </button>
    </div>
  );
}

function metricLabel(t: (k: string, o?: Record<string, unknown>) => string, key: string, fallback: string): string {
  return t(`evaluate.metric.${key}`, { defaultValue: fallback });
}

/** One run: configuration, honesty, metrics, charts, tags, items; resume, export, delete. */
export function EvalRunView({ runId, evalJob }: { runId: string; evalJob: EvalJobs }) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const report = useEvalReport(runId);
  const [confirming, setConfirming] = useState(false);
  const executing = evalJob.job?.runId === runId;

  if (report.isError) return <ErrorLine error={toIpcError(report.error)} variant="inline" />;
  const r = report.data;
  if (!r) return <p className="muted">{t("common.loading")}</p>;
  const m = r.manifest;

  const grade = (again: boolean) =>
    void evalJob
      .start({ set: m.set, label: m.config.label || m.set, total: r.done, phase: "judging" }, (jobId, onEvent) =>
        commands.evalJudge(runId, again, jobId, onEvent),
      )
      .then((done) => done && toasts.info(t("evaluate.judgedToast", { count: done.judge?.judged ?? 0 })));

  const resume = () =>
    void evalJob
      .start({ set: m.set, label: m.config.label || m.set, total: m.items }, (jobId, onEvent) =>
        commands.evalResume(runId, jobId, onEvent),
      )
      .then((done) => done && toasts.info(t("evaluate.finishedToast", { done: done.done, items: done.manifest.items })));

  return (
    <div className="eval-run" data-testid="eval-run" data-id={runId} data-status={executing ? "executing" : m.status}>
      <div className="template-card-head">
        <div>
          <h2>
            {m.config.label || m.set} <RunStatusBadge status={m.status} executing={executing} />
          </h2>
          <RunConfigLine manifest={m} />
          {m.error && <ErrorLine error={{ code: m.error.split(":")[0], message: m.error }} variant="text" />}
        </div>
        <div className="template-actions">
          {m.status !== "finished" && !executing && (
            <button type="button" className="small" data-testid="eval-resume" disabled={evalJob.job !== null} onClick={resume}>
              {t("evaluate.resume")}
            </button>
          )}
          {r.done > 0 && !executing && (
            <button
              type="button"
              className="small quiet"
              data-testid="eval-judge-run"
              title={t("evaluate.judgeHint")}
              disabled={evalJob.job !== null}
              onClick={() => grade(Boolean(r.judge))}
            >
              {r.judge ? t("evaluate.judgeAgain") : t("evaluate.judgeRun")}
            </button>
          )}
          <ExportControl runIds={[runId]} name={`${m.set}-${m.config.label || m.id.slice(0, 8)}`} />
          <button type="button" className="small danger" disabled={executing} onClick={() => setConfirming(true)}>
            {t("evaluate.delete")}
          </button>
        </div>
      </div>
      <p className="muted small" data-testid="eval-done">
        {t("evaluate.itemsDone", { done: r.done, total: m.items })}
        {r.latency_percentiles &&
          ` · p50 ${formatValue("ms", r.latency_percentiles[0])} · p90 ${formatValue("ms", r.latency_percentiles[1])} · p95 ${formatValue("ms", r.latency_percentiles[2])}`}
      </p>
      <HonestyLine report={r} />
      <MetricsTable metrics={r.metrics} />
      {r.judge && (
        <p className="muted small" data-testid="eval-judge-note">
          {t("evaluate.judgeNote", { judged: r.judge.judged, models: r.judge.models.join(", ") })}
          {r.judge.unreadable > 0 && ` ${t("evaluate.judgeUnreadable", { count: r.judge.unreadable })}`}
        </p>
      )}
      <Charts runIds={[runId]} />
      {r.tags.length > 0 && (
        <details className="eval-tags">
          <summary>{t("evaluate.byTag", { count: r.tags.length })}</summary>
          <TagTable report={r} />
        </details>
      )}
      <h3 className="eval-subhead">{t("evaluate.items")}</h3>
      <ItemsTable items={r.items} />
      {confirming && (
        <ConfirmDialog
          title={t("evaluate.deleteTitle")}
          message={t("evaluate.deleteMessage", { name: m.config.label || m.set })}
          confirmLabel={t("evaluate.delete")}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            commands.evalDelete(runId).catch((e: unknown) => toasts.error(e));
          }}
        />
      )}
    </div>
  );
}

function RunConfigLine({ manifest: m }: { manifest: RunManifest }) {
  const { t } = useTranslation();
  const c = m.config;
  const parts = [
    c.matter ? t("evaluate.cfg.matter", { name: c.matter }) : t("evaluate.cfg.noMatter"),
    c.model,
    c.adapter ? t("evaluate.cfg.adapter", { name: c.adapter }) : null,
    c.template ? t("evaluate.cfg.template", { name: c.template }) : null,
    c.mode === "extractive" ? t("evaluate.extractive") : t("evaluate.generate"),
    c.matter
      ? c.top_k === null
        ? t("evaluate.cfg.retrievalDefault", { mode: t(`evaluate.${c.search_mode}`) })
        : t("evaluate.cfg.retrieval", { mode: t(`evaluate.${c.search_mode}`), k: c.top_k })
      : null,
    c.rerank === null ? null : t(c.rerank ? "evaluate.cfg.rerankOn" : "evaluate.cfg.rerankOff"),
    c.max_tokens ? t("evaluate.cfg.maxTokens", { n: c.max_tokens }) : null,
    c.seed !== null ? t("evaluate.cfg.seed", { n: c.seed }) : null,
    c.concurrency > 1 ? t("evaluate.cfg.parallel", { n: c.concurrency }) : null,
    c.embedder ? t("evaluate.cfg.embedder", { name: c.embedder }) : null,
  ].filter((p): p is string => p !== null);
  return (
    <p className="muted small" data-testid="eval-config">
      <span className="mono">{m.set}</span> · {parts.join(" · ")} · {new Date(m.created_ms).toLocaleString()}
    </p>
  );
}

/** Citation honesty must be 100 %: said plainly when it is, loudly when it is not. */
function HonestyLine({ report }: { report: RunReport }) {
  const { t } = useTranslation();
  const h = honesty(report);
  return (
    <p
      className={`token-line ${h.honest ? "ok" : "over"}`}
      role={h.honest ? undefined : "alert"}
      data-testid="eval-honesty"
      data-honest={h.honest}
    >
      {report.verified_quotes === 0
        ? t("evaluate.honestyNone")
        : h.honest
          ? t("evaluate.honestyOk", { count: report.verified_quotes })
          : t("evaluate.honestyBad", { failed: h.failed, count: report.verified_quotes })}
    </p>
  );
}

function MetricsTable({ metrics }: { metrics: Metric[] }) {
  const { t } = useTranslation();
  const shown = metrics.filter((m) => m.estimate !== null);
  return (
    <div className="eval-table-wrap">
      <table className="eval-table" data-testid="eval-metrics">
        <thead>
          <tr>
            <th>{t("evaluate.metricHead")}</th>
            <th className="num">{t("evaluate.value")}</th>
            <th className="num">{t("evaluate.interval")}</th>
            <th className="num">n</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((m) => (
            <tr key={m.key} data-testid="eval-metric" data-key={m.key} data-value={m.estimate?.value}>
              <td>{metricLabel(t, m.key, m.label)}</td>
              <td className="num">{m.estimate && formatValue(m.unit, m.estimate.value)}</td>
              <td className="num muted">{m.estimate && formatInterval(m.unit, m.estimate)}</td>
              <td className="num muted">{m.estimate?.n}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">{t("evaluate.intervalNote")}</p>
    </div>
  );
}

function TagTable({ report }: { report: RunReport }) {
  const { t } = useTranslation();
  const keys = ["keyword_accuracy", "citation_correct", "grounded", "abstention_correct", "reference_f1", "latency_ms"];
  const columns = keys
    .map((k) => report.metrics.find((m) => m.key === k))
    .filter((m): m is Metric => m !== undefined && report.tags.some((tag) => tag.metrics.some((x) => x.key === m.key && x.estimate !== null)));
  return (
    <div className="eval-table-wrap">
      <table className="eval-table" data-testid="eval-tags">
        <thead>
          <tr>
            <th>{t("evaluate.tag")}</th>
            <th className="num">n</th>
            {columns.map((c) => (
              <th key={c.key} className="num">
                {metricLabel(t, c.key, c.label)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {report.tags.map((tag) => (
            <tr key={tag.tag}>
              <td>{tag.tag}</td>
              <td className="num">{tag.items}</td>
              {columns.map((c) => {
                const e = tag.metrics.find((x) => x.key === c.key)?.estimate;
                return (
                  <td key={c.key} className="num" title={e ? formatInterval(c.unit, e) : undefined}>
                    {e ? formatValue(c.unit, e.value) : "—"}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The report's charts as images (SVG drawn by the desk; as an image nothing in it runs). */
function Charts({ runIds }: { runIds: string[] }) {
  const { t } = useTranslation();
  const charts = useEvalCharts(runIds);
  if (charts.isError) return <ErrorLine error={toIpcError(charts.error)} variant="text" />;
  if (!charts.data) return null;
  return (
    <div className="eval-charts" data-testid="eval-charts">
      {charts.data.map((c) => (
        <figure key={c.title} data-testid="eval-chart">
          {c.svg ? (
            <img src={svgSource(c.svg)} alt={t(`evaluate.chart.${c.title}`, { defaultValue: c.title })} />
          ) : (
            <p className="muted">{t("evaluate.chartUnavailable", { problem: c.problem ?? "" })}</p>
          )}
          <figcaption className="muted small">{t(`evaluate.chart.${c.title}`, { defaultValue: c.title })}</figcaption>
        </figure>
      ))}
    </div>
  );
}

function VerdictMark({ v, label }: { v: Verdict; label: string }) {
  const { t } = useTranslation();
  const text = v === "pass" ? "✓" : v === "fail" ? "✗" : "–";
  return (
    <span className={`verdict verdict-${v}`} title={`${label}: ${t(`evaluate.verdict.${v}`)}`} aria-label={`${label}: ${t(`evaluate.verdict.${v}`)}`}>
      {text}
    </span>
  );
}

/** Items with their results; a row opens to the answer, its citations and the gold. */
function ItemsTable({ items }: { items: ItemResult[] }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState<string | null>(null);
  const [filter, setFilter] = useState<"all" | "problems">("all");
  const shown =
    filter === "all"
      ? items
      : items.filter((r) => {
          const s = r.scores;
          return s.failed || s.keyword_pass === false || s.citation_correct === false || s.grounded === false || s.honest === false || s.abstained !== s.should_abstain;
        });
  return (
    <div className="eval-table-wrap">
      <label className="field inline small">
        <input type="checkbox" checked={filter === "problems"} onChange={(e) => setFilter(e.target.checked ? "problems" : "all")} />
        {t("evaluate.onlyProblems")}
      </label>
      <table className="eval-table eval-items" data-testid="eval-items">
        <thead>
          <tr>
            <th>id</th>
            <th>{t("evaluate.question")}</th>
            <th>{t("evaluate.result")}</th>
            <th title={t("evaluate.metric.keyword_accuracy")}>{t("evaluate.col.keywords")}</th>
            <th title={t("evaluate.metric.citation_correct")}>{t("evaluate.col.citation")}</th>
            <th title={t("evaluate.metric.grounded")}>{t("evaluate.col.grounded")}</th>
            <th title={t("evaluate.metric.honesty")}>{t("evaluate.col.honest")}</th>
            <th className="num">F1</th>
            <th className="num">{t("evaluate.col.latency")}</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => {
            const s = r.scores;
            const state = itemState(s);
            const isOpen = open === r.item.id;
            return (
              <Fragment key={r.item.id}>
                <tr
                  className={`eval-item-row${isOpen ? " open" : ""}`}
                  data-testid="eval-item-row"
                  data-id={r.item.id}
                  data-state={state}
                  tabIndex={0}
                  aria-expanded={isOpen}
                  onClick={() => setOpen(isOpen ? null : r.item.id)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" || e.key === " ") {
                      e.preventDefault();
                      setOpen(isOpen ? null : r.item.id);
                    }
                  }}
                >
                  <td className="mono">{r.item.id}</td>
                  <td className="eval-question">{r.item.question}</td>
                  <td>
                    <span className={`badge eval-state-${state}`}>{t(`evaluate.state.${state}`)}</span>
                  </td>
                  <td>
                    <VerdictMark v={verdict(s.keyword_pass)} label={t("evaluate.col.keywords")} />
                  </td>
                  <td>
                    <VerdictMark v={verdict(s.citation_correct)} label={t("evaluate.col.citation")} />
                  </td>
                  <td>
                    <VerdictMark v={verdict(s.grounded)} label={t("evaluate.col.grounded")} />
                  </td>
                  <td>
                    <VerdictMark v={verdict(s.honest)} label={t("evaluate.col.honest")} />
                  </td>
                  <td className="num">{s.reference_f1 === null ? "–" : s.reference_f1.toFixed(2)}</td>
                  <td className="num">{formatValue("ms", r.outcome.latency_ms)}</td>
                </tr>
                {isOpen && (
                  <tr className="eval-item-detail-row">
                    <td colSpan={9}>
                      <ItemDetail results={[{ result: r }]} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The gold of an item, then each run's answer and citations (side by side when several). */
export function ItemDetail({ results }: { results: { title?: string; result: ItemResult | null }[] }) {
  const { t } = useTranslation();
  const gold = results.find((r) => r.result)?.result?.item;
  if (!gold) return null;
  return (
    <div className="eval-item-detail" data-testid="item-detail" data-id={gold.id}>
      <section className="eval-gold" data-testid="item-gold">
        <h4>{t("evaluate.gold")}</h4>
        <p className="eval-question-full">{gold.question}</p>
        <dl className="eval-gold-facts">
          {gold.expected && (
            <>
              <dt>{t("evaluate.expected")}</dt>
              <dd>{gold.expected}</dd>
            </>
          )}
          {(gold.keywords ?? []).length > 0 && (
            <>
              <dt>{t("evaluate.keywords")}</dt>
              <dd>
                {(gold.keywords ?? []).join(", ")} <span className="muted">({gold.keyword_rule ?? "all"})</span>
              </dd>
            </>
          )}
          {(gold.sources ?? []).length > 0 && (
            <>
              <dt>{t("evaluate.sources")}</dt>
              <dd>{(gold.sources ?? []).map((s) => [s.doc, s.page ? `p. ${s.page}` : null, s.label].filter(Boolean).join(" · ")).join("; ")}</dd>
            </>
          )}
          <dt>{t("evaluate.shouldAbstain")}</dt>
          <dd>{gold.should_abstain ? t("evaluate.yes") : t("evaluate.no")}</dd>
          {(gold.tags ?? []).length > 0 && (
            <>
              <dt>{t("evaluate.tags")}</dt>
              <dd>{(gold.tags ?? []).join(", ")}</dd>
            </>
          )}
        </dl>
      </section>
      <div className="eval-answers" style={{ gridTemplateColumns: `repeat(${results.length}, minmax(0, 1fr))` }}>
        {results.map(({ title, result }, i) => (
          <section key={i} className="eval-answer" data-testid="item-answer">
            {title && <h4>{title}</h4>}
            {!result ? (
              <p className="muted">{t("evaluate.notInRun")}</p>
            ) : result.outcome.error ? (
              <ErrorLine error={result.outcome.error} variant="inline" />
            ) : (
              <>
                {result.outcome.abstained && (
                  <p className="badge badge-warn" data-testid="item-abstained">
                    {t("evaluate.abstained")} {result.outcome.abstention && <code>{result.outcome.abstention}</code>}
                  </p>
                )}
                <p className="run-output" data-testid="item-answer-text">
                  {result.outcome.answer}
                </p>
                {result.outcome.citations.length > 0 && (
                  <ol className="eval-citations">
                    {result.outcome.citations.map((c, j) => (
                      <li key={j} data-testid="item-citation" data-verified={c.verified} data-on-page={c.on_page ?? ""}>
                        <span className="mono">
                          {c.doc}
                          {c.page ? ` p. ${c.page}` : ""}
                        </span>{" "}
                        {c.heading && <span className="muted small">{c.heading} </span>}
                        {c.verified ? (
                          c.on_page === false ? (
                            <span className="badge badge-failed">{t("evaluate.notOnPage")}</span>
                          ) : (
                            <span className="badge badge-verified">{t("evaluate.verifiedOnPage")}</span>
                          )
                        ) : (
                          <span className="badge badge-unverified">{t("evaluate.unverified")}</span>
                        )}
                        {c.quote && <blockquote>{c.quote}</blockquote>}
                      </li>
                    ))}
                  </ol>
                )}
                {result.judgement && (
                  <p className="eval-judgement small" data-testid="item-judgement" data-score={result.judgement.score ?? ""}>
                    <strong>{t("evaluate.judgeLabel")}</strong>{" "}
                    {result.judgement.score === null ? t("evaluate.judgeNoScore") : `${result.judgement.score} / 5`}
                    {result.judgement.reason && ` — ${result.judgement.reason}`}{" "}
                    <span className="muted">({result.judgement.model})</span>
                  </p>
                )}
                <p className="muted small">
                  {formatValue("ms", result.outcome.latency_ms)}
                  {result.outcome.first_token_ms !== null && ` · ${t("evaluate.ttft")} ${formatValue("ms", result.outcome.first_token_ms)}`}
                  {result.outcome.tokens_per_second !== null && ` · ${formatValue("tokens_per_second", result.outcome.tokens_per_second)}`}
                </p>
              </>
            )}
          </section>
        ))}
      </div>
    </div>
  );
}

// --- comparisons ---------------------------------------------------------------------------------

/** Runs on one set compared with the first: deltas with significance, items that moved, charts. */
export function EvalComparisonView({ runIds }: { runIds: string[] }) {
  const { t } = useTranslation();
  const comparison = useEvalComparison(runIds);
  const [open, setOpen] = useState<{ pair: number; id: string } | null>(null);

  if (comparison.isError) return <ErrorLine error={toIpcError(comparison.error)} variant="inline" />;
  const c = comparison.data;
  if (!c) return <p className="muted">{t("common.loading")}</p>;
  const baseline = c.runs[0];
  const name = (m: RunManifest) => m.config.label || m.id.slice(0, 8);

  return (
    <div data-testid="eval-comparison">
      <div className="template-card-head">
        <div>
          <h2>{t("evaluate.comparisonOf", { set: c.set })}</h2>
          <p className="muted small">
            {t("evaluate.baseline")}: <strong>{name(baseline.manifest)}</strong> ·{" "}
            {c.pairs.map((p) => name(p.candidate)).join(", ")}
          </p>
        </div>
        <div className="template-actions">
          <ExportControl runIds={runIds} name={`${c.set}-comparison`} />
        </div>
      </div>
      {c.runs.some((r) => !honesty(r).honest) && (
        <p className="token-line over" role="alert">
          {t("evaluate.dishonestRuns", { names: c.runs.filter((r) => !honesty(r).honest).map((r) => name(r.manifest)).join(", ") })}
        </p>
      )}
      {c.pairs.map((p, pi) => {
        const candidate = c.runs[pi + 1];
        const byId = (r: RunReport, id: string) => r.items.find((i) => i.item.id === id) ?? null;
        const changeList = (changes: ItemChange[], kind: "better" | "worse") => (
          <ul className="history-list" data-testid={`eval-${kind}`}>
            {changes.map((ch) => (
              <li key={ch.id} className={open?.pair === pi && open.id === ch.id ? "selected" : undefined}>
                <button type="button" className="linkish" data-testid="eval-moved-item" data-id={ch.id} onClick={() => setOpen(open?.id === ch.id && open.pair === pi ? null : { pair: pi, id: ch.id })}>
                  <span className="mono">{ch.id}</span> {ch.question}
                </button>
                <span className="muted small">
                  {(kind === "better" ? ch.better : ch.worse).map((k) => metricLabel(t, k, k)).join(", ")}
                </span>
              </li>
            ))}
          </ul>
        );
        return (
          <section key={p.candidate.id} className="eval-pair" data-testid="eval-pair">
            <h3 className="eval-subhead">
              {name(p.candidate)} {t("evaluate.vs")} {name(baseline.manifest)}{" "}
              <span className="muted small">{t("evaluate.paired", { paired: p.paired, unpaired: p.unpaired })}</span>
            </h3>
            <DeltaTable deltas={p.metrics} baseline={name(baseline.manifest)} candidate={name(p.candidate)} />
            <div className="eval-moved">
              <div>
                <h4>{t("evaluate.better", { count: p.better.length })}</h4>
                {p.better.length === 0 ? <p className="muted small">{t("evaluate.none")}</p> : changeList(p.better, "better")}
              </div>
              <div>
                <h4>{t("evaluate.worse", { count: p.worse.length })}</h4>
                {p.worse.length === 0 ? <p className="muted small">{t("evaluate.none")}</p> : changeList(p.worse, "worse")}
              </div>
            </div>
            {open?.pair === pi && (
              <ItemDetail
                results={[
                  { title: name(baseline.manifest), result: byId(baseline, open.id) },
                  { title: name(p.candidate), result: byId(candidate, open.id) },
                ]}
              />
            )}
          </section>
        );
      })}
      <Charts runIds={runIds} />
    </div>
  );
}

function DeltaTable({ deltas, baseline, candidate }: { deltas: MetricDelta[]; baseline: string; candidate: string }) {
  const { t } = useTranslation();
  const shown = deltas.filter((d) => d.baseline !== null || d.candidate !== null);
  return (
    <div className="eval-table-wrap">
      <table className="eval-table" data-testid="eval-deltas">
        <thead>
          <tr>
            <th>{t("evaluate.metricHead")}</th>
            <th className="num">{baseline}</th>
            <th className="num">{candidate}</th>
            <th className="num">Δ</th>
            <th className="num">{t("evaluate.interval")}</th>
            <th className="num">p</th>
            <th className="num">McNemar</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((d) => {
            const p = d.delta?.p_value ?? null;
            const change = d.delta?.delta ?? null;
            const significant = p !== null && p < 0.05;
            const good = change !== null && change !== 0 && change > 0 === higherIsBetter(d.unit);
            return (
              <tr key={d.key} data-testid="eval-delta" data-key={d.key} data-delta={d.delta?.delta ?? ""}>
                <td>{metricLabel(t, d.key, d.label)}</td>
                <td className="num">{d.baseline ? formatValue(d.unit, d.baseline.value) : "—"}</td>
                <td className="num">{d.candidate ? formatValue(d.unit, d.candidate.value) : "—"}</td>
                <td className={`num${significant ? (good ? " delta-good" : " delta-bad") : ""}`}>
                  {d.delta ? formatDelta(d.unit, d.delta.delta) : "—"}
                </td>
                <td className="num muted">
                  {d.delta ? `${formatDelta(d.unit, d.delta.low)} … ${formatDelta(d.unit, d.delta.high)}` : ""}
                </td>
                <td className="num">{d.delta ? formatP(p) : ""}</td>
                <td className="num muted">
                  {d.mcnemar ? `+${d.mcnemar.better} / −${d.mcnemar.worse}, p ${formatP(d.mcnemar.p_value)}` : ""}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="muted small">{t("evaluate.deltaNote")}</p>
    </div>
  );
}

export function RunStatusBadge({ status, executing }: { status: RunManifest["status"]; executing: boolean }) {
  const { t } = useTranslation();
  const cls =
    executing || status === "running"
      ? "badge-ingesting"
      : status === "finished"
        ? "badge-indexed"
        : status === "failed"
          ? "badge-failed"
          : "badge-warn";
  return (
    <span className={`badge ${cls}`} data-testid="eval-run-status">
      {executing ? t("evaluate.status.executing") : t(`evaluate.status.${status}`)}
    </span>
  );
}

export const EXPORT_FORMATS: { value: EvalExportFormat; ext: string }[] = [
  { value: "html", ext: "html" },
  { value: "xlsx", ext: "xlsx" },
  { value: "csv", ext: "csv" },
  { value: "json", ext: "json" },
];

/** A format and Export…: one run's results, or several runs' comparison, to a file the user picks. */
function ExportControl({ runIds, name }: { runIds: string[]; name: string }) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [format, setFormat] = useState<EvalExportFormat>("html");
  const save = async () => {
    const ext = EXPORT_FORMATS.find((f) => f.value === format)?.ext ?? "html";
    const path = await pickSavePath(`${name}.${ext}`, ext).catch(() => null);
    if (!path) return;
    try {
      await commands.evalExport(runIds, format, path);
      toasts.info(t("evaluate.exported"));
    } catch (e) {
      toasts.error(e);
    }
  };
  return (
    <>
      <select aria-label={t("evaluate.format")} value={format} data-testid="eval-export-format" onChange={(e) => setFormat(e.target.value as EvalExportFormat)}>
        {EXPORT_FORMATS.map((f) => (
          <option key={f.value} value={f.value}>
            {f.value.toUpperCase()}
          </option>
        ))}
      </select>
      <button type="button" className="small quiet" onClick={() => void save()}>
        {t("evaluate.export")}
      </button>
    </>
  );
}
