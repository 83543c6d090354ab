import { useCallback, useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type CompareProgress,
  type Comparison,
  type ComparisonFormat,
  type ComparisonSummary,
  type DiffLine,
  type EvidencePassage,
  type IpcError,
  type Matter,
  type RunResult,
  type TemplateSummary,
  type Variable,
} from "../bindings";
import { filledInputs, formatMs, keywordPercent, parseKeywords, unionVariables } from "../lib/templates";
import { channel, copyText, newJobId, pickSavePath, toIpcError } from "../platform";
import { useToasts } from "./Toasts";
import { EvidenceMatterSelect, VariableFields } from "./VariableFields";
import { ErrorLine } from "./ErrorLine";

type Props = {
  templates: TemplateSummary[];
  matters: Matter[];
  /** Templates to start with (from a template's "Add to comparison"). */
  initial: string[];
};

/** A column while it runs: the label, the text so far, and the result once finished. */
type Column = { label: string; text: string; run: RunResult | null; running: boolean };

export type Running = { jobId: string; columns: Column[]; evidence: EvidencePassage[]; stopping: boolean };

export function CompareView({ templates, matters, initial }: Props) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [chosen, setChosen] = useState<string[]>(initial);
  const [variables, setVariables] = useState<Record<string, Variable[]>>({});
  const [evidenceOf, setEvidenceOf] = useState<Record<string, boolean>>({});
  const [values, setValues] = useState<Record<string, string>>({});
  const [keywords, setKeywords] = useState("");
  const [title, setTitle] = useState("");
  const [matterId, setMatterId] = useState(matters[0]?.id ?? "");
  const [maxTokens, setMaxTokens] = useState("");
  const [running, setRunning] = useState<Running | null>(null);
  const [result, setResult] = useState<Comparison | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [history, setHistory] = useState<ComparisonSummary[]>([]);
  const [adding, setAdding] = useState("");

  useEffect(() => setChosen((c) => [...c, ...initial.filter((n) => !c.includes(n))]), [initial]);

  // Each chosen template's variables, for one form over all of them.
  useEffect(() => {
    for (const name of chosen) {
      if (variables[name]) continue;
      commands.getTemplate(name).then(
        (v) => {
          setVariables((old): Record<string, Variable[]> => ({ ...old, [name]: v.stored.template.variables ?? [] }));
          setEvidenceOf((old): Record<string, boolean> => ({ ...old, [name]: v.stored.template.evidence ?? false }));
        },
        (e: unknown) => toasts.error(e),
      );
    }
  }, [chosen, variables, toasts]);

  const loadHistory = useCallback(() => {
    commands.listComparisons().then(setHistory, (e: unknown) => toasts.error(e));
  }, [toasts]);
  useEffect(loadHistory, [loadHistory]);

  const allVariables = useMemo(
    () => unionVariables(chosen.map((n) => variables[n] ?? [])),
    [chosen, variables],
  );
  const needsEvidence = chosen.some((n) => evidenceOf[n]);

  const run = async () => {
    if (chosen.length === 0 || running) return;
    const jobId = newJobId();
    setError(null);
    setResult(null);
    setRunning({ jobId, columns: [], evidence: [], stopping: false });
    const onEvent = channel<CompareProgress>((event) =>
      setRunning((r) => (r && r.jobId === jobId ? applyProgress(r, event) : r)),
    );
    try {
      const declared = new Set(allVariables.map((v) => v.name));
      const parsedMax = Number.parseInt(maxTokens, 10);
      const comparison = await commands.compareTemplates(
        {
          title,
          templates: chosen,
          inputs: filledInputs(values, declared),
          keywords: parseKeywords(keywords),
          evidence: needsEvidence && matterId ? { matter_id: matterId, doc: null, top_k: null } : null,
          seed: null,
          max_tokens: Number.isFinite(parsedMax) && parsedMax > 0 ? parsedMax : null,
        },
        jobId,
        onEvent,
      );
      setResult(comparison);
      loadHistory();
    } catch (e) {
      setError(toIpcError(e));
    } finally {
      setRunning((r) => (r && r.jobId === jobId ? null : r));
    }
  };

  const stop = async () => {
    if (!running) return;
    setRunning({ ...running, stopping: true });
    try {
      await commands.cancelJob(running.jobId);
    } catch (e) {
      toasts.error(e);
    }
  };

  const openSaved = async (id: string) => {
    try {
      setResult(await commands.getComparison(id));
      setError(null);
    } catch (e) {
      toasts.error(e);
    }
  };

  const deleteSaved = async (id: string) => {
    try {
      await commands.deleteComparison(id);
      if (result?.id === id) setResult(null);
      loadHistory();
    } catch (e) {
      toasts.error(e);
    }
  };

  const columns: Column[] = running
    ? running.columns
    : (result?.runs.map((r) => ({ label: r.label, text: r.output, run: r, running: false })) ?? []);

  return (
    <div className="compare-view">
      <div className="compare-setup">
        <section aria-labelledby="compare-templates-heading">
          <h2 id="compare-templates-heading">{t("compare.templates")}</h2>
          <ol className="chosen-list" data-testid="compare-chosen">
            {chosen.map((name, i) => (
              <li key={`${name}-${i}`}>
                <span className="mono">{name}</span>
                <button
                  type="button"
                  className="icon-button"
                  aria-label={t("compare.remove", { name })}
                  onClick={() => setChosen((c) => c.filter((_, j) => j !== i))}
                >
                  ×
                </button>
              </li>
            ))}
          </ol>
          <div className="add-row">
            <select
              aria-label={t("compare.add")}
              data-testid="compare-add-select"
              value={adding}
              onChange={(e) => setAdding(e.target.value)}
            >
              <option value="">{t("compare.addPlaceholder")}</option>
              {templates.map((x) => (
                <option key={x.name} value={x.name}>
                  {x.title} ({x.name})
                </option>
              ))}
            </select>
            <button
              type="button"
              className="small"
              data-testid="compare-add"
              disabled={!adding}
              onClick={() => {
                setChosen((c) => [...c, adding]);
                setAdding("");
              }}
            >
              {t("compare.addButton")}
            </button>
          </div>
          <p className="muted">{t("compare.sameTwice")}</p>
        </section>

        <section aria-labelledby="compare-inputs-heading">
          <h2 id="compare-inputs-heading">{t("compare.inputs")}</h2>
          <VariableFields
            variables={allVariables}
            values={values}
            idPrefix="compare"
            onChange={(n, v) => setValues((old) => ({ ...old, [n]: v }))}
          />
          {needsEvidence && (
            <EvidenceMatterSelect matters={matters} value={matterId} onChange={setMatterId} testId="compare-matter" />
          )}
          <label className="field">
            <span className="field-label">
              {t("compare.keywords")}
              <span className="field-help">{t("compare.keywordsHelp")}</span>
            </span>
            <input
              type="text"
              data-testid="compare-keywords"
              value={keywords}
              onChange={(e) => setKeywords(e.target.value)}
            />
          </label>
          <div className="field-row">
            <label className="field">
              <span className="field-label">{t("compare.title")}</span>
              <input type="text" data-testid="compare-title" value={title} onChange={(e) => setTitle(e.target.value)} />
            </label>
            <label className="field narrow">
              <span className="field-label">{t("compare.maxTokens")}</span>
              <input
                type="number"
                min={1}
                data-testid="compare-max-tokens"
                value={maxTokens}
                placeholder={t("compare.templateDefault")}
                onChange={(e) => setMaxTokens(e.target.value)}
              />
            </label>
          </div>
          <div className="button-row">
            {running ? (
              <button
                type="button"
                className="danger"
                data-testid="compare-stop"
                disabled={running.stopping}
                onClick={() => void stop()}
              >
                ■ {running.stopping ? t("chat.stopping") : t("chat.stop")}
              </button>
            ) : (
              <button
                type="button"
                className="primary"
                data-testid="compare-run"
                disabled={chosen.length === 0}
                onClick={() => void run()}
              >
                {t("compare.run", { count: chosen.length })}
              </button>
            )}
          </div>
          {error && (
            <ErrorLine error={error} testId="compare-error" />
          )}
        </section>
      </div>

      {running && running.evidence.length > 0 && (
        <p className="muted">{t("compare.evidenceFrozen", { count: running.evidence.length })}</p>
      )}
      {columns.length > 0 && (
        <div className="compare-results">
          {result && <ResultActions comparison={result} />}
          <div
            className="compare-columns"
            data-testid="compare-columns"
            style={{ gridTemplateColumns: `repeat(${Math.min(columns.length, 4)}, minmax(16rem, 1fr))` }}
          >
            {columns.map((c, i) => (
              <RunColumn key={i} column={c} />
            ))}
          </div>
          {result && result.runs.length >= 2 && <DiffPanel comparison={result} />}
        </div>
      )}

      <section className="compare-history" aria-labelledby="compare-history-heading">
        <h2 id="compare-history-heading">{t("compare.history")}</h2>
        {history.length === 0 ? (
          <p className="muted">{t("compare.noHistory")}</p>
        ) : (
          <ul className="history-list" data-testid="compare-history">
            {history.map((h) => (
              <li key={h.id} className={result?.id === h.id ? "selected" : ""}>
                <button type="button" className="linkish" onClick={() => void openSaved(h.id)}>
                  {h.title || h.labels.join(" · ")}
                </button>
                <span className="muted">
                  {new Date(h.created_ms).toLocaleString()} · {h.model ?? "—"}
                  {h.failed > 0 ? ` · ${t("compare.failedRuns", { count: h.failed })}` : ""}
                </span>
                <button
                  type="button"
                  className="icon-button"
                  aria-label={t("compare.deleteSaved")}
                  onClick={() => void deleteSaved(h.id)}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

/** Folds one progress event into the running state. */
export function applyProgress(r: Running, event: CompareProgress): Running {
  switch (event.event) {
    case "evidence":
      return { ...r, evidence: event.passages };
    case "started": {
      const columns = [...r.columns];
      columns[event.index] = { label: event.label, text: "", run: null, running: true };
      return { ...r, columns };
    }
    case "text": {
      const columns = [...r.columns];
      const c = columns[event.index];
      if (c) columns[event.index] = { ...c, text: c.text + event.text };
      return { ...r, columns };
    }
    case "finished": {
      const columns = [...r.columns];
      columns[event.index] = { label: event.run.label, text: event.run.output, run: event.run, running: false };
      return { ...r, columns };
    }
  }
}

function RunColumn({ column }: { column: Column }) {
  const { t } = useTranslation();
  const run = column.run;
  const score = run ? keywordPercent(run) : null;
  return (
    <article className="run-column" data-testid="run-column" data-state={column.running ? "running" : "done"}>
      <header>
        <h3>{column.label}</h3>
        {run && !run.error && (
          <p className="run-metrics" data-testid="run-metrics">
            {t("compare.metrics", {
              tokens: run.completion_tokens,
              chars: run.output_chars,
              latency: formatMs(run.latency_ms ?? 0),
              speed: (run.tokens_per_second ?? 0).toFixed(1),
            })}
            {run.finish_reason && run.finish_reason !== "stop" && (
              <span className="badge">{run.finish_reason}</span>
            )}
          </p>
        )}
        {score !== null && run && (
          <p className="keyword-score" data-testid="keyword-score">
            {t("compare.keywordScore", { score })}
            {run.keywords_missing.length > 0 && (
              <span className="muted"> · {t("compare.missing", { words: run.keywords_missing.join(", ") })}</span>
            )}
          </p>
        )}
      </header>
      {run?.error ? (
        <ErrorLine error={run.error} />
      ) : (
        <div className="run-output" data-testid="run-output">
          {column.text || (column.running ? <span className="muted">{t("compare.waiting")}</span> : "")}
          {column.running && <span className="caret" aria-hidden="true" />}
        </div>
      )}
    </article>
  );
}

function ResultActions({ comparison }: { comparison: Comparison }) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const save = async (format: ComparisonFormat) => {
    try {
      const ext = format === "markdown" ? "md" : format;
      const base = (comparison.title || "comparison").replace(/[\\/:*?"<>|]+/g, " ").trim() || "comparison";
      const path = await pickSavePath(`${base}.${ext}`, ext);
      if (!path) return;
      await commands.exportComparison(comparison.id, format, path);
      toasts.info(t("compare.exported"));
    } catch (e) {
      toasts.error(e);
    }
  };
  const copy = async () => {
    try {
      await copyText(await commands.comparisonText(comparison.id, "markdown"));
      toasts.info(t("common.copied"));
    } catch (e) {
      toasts.error(e);
    }
  };
  return (
    <div className="button-row result-actions">
      <span className="muted">
        {comparison.model ?? ""} · {new Date(comparison.created_ms).toLocaleString()}
      </span>
      <button type="button" className="small quiet" onClick={() => void copy()}>
        {t("compare.copyMarkdown")}
      </button>
      {(["csv", "json", "markdown"] as const).map((f) => (
        <button key={f} type="button" className="small quiet" data-testid={`compare-export-${f}`} onClick={() => void save(f)}>
          {t("compare.exportAs", { format: f === "markdown" ? "Markdown" : f.toUpperCase() })}
        </button>
      ))}
    </div>
  );
}

function DiffPanel({ comparison }: { comparison: Comparison }) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [a, setA] = useState(0);
  const [b, setB] = useState(1);
  const [lines, setLines] = useState<DiffLine[] | null>(null);

  useEffect(() => {
    setLines(null);
    if (a === b) return;
    commands.diffRuns(comparison.id, a, b).then(setLines, (e: unknown) => toasts.error(e));
  }, [comparison.id, a, b, toasts]);

  const picker = (value: number, set: (n: number) => void, label: string, testId: string) => (
    <label className="field inline">
      <span className="field-label">{label}</span>
      <select data-testid={testId} value={value} onChange={(e) => set(Number(e.target.value))}>
        {comparison.runs.map((r, i) => (
          <option key={i} value={i}>
            {i + 1}. {r.label}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <section className="diff-panel" aria-labelledby="diff-heading">
      <div className="diff-head">
        <h2 id="diff-heading">{t("compare.diff")}</h2>
        {picker(a, setA, t("compare.diffLeft"), "diff-a")}
        {picker(b, setB, t("compare.diffRight"), "diff-b")}
      </div>
      {a === b ? (
        <p className="muted">{t("compare.diffSame")}</p>
      ) : lines === null ? (
        <p className="muted">{t("common.loading")}</p>
      ) : (
        <div className="diff" data-testid="diff" role="table" aria-label={t("compare.diff")}>
          {lines.map((l, i) => (
            <div key={i} className={`diff-line ${l.op}`} role="row" data-op={l.op}>
              <span className="diff-no" role="cell">{l.old_line ?? ""}</span>
              <span className="diff-no" role="cell">{l.new_line ?? ""}</span>
              <span className="diff-sign" role="cell" aria-label={t(`compare.op.${l.op}`)}>
                {l.op === "delete" ? "−" : l.op === "insert" ? "+" : " "}
              </span>
              <span className="diff-text" role="cell">
                {l.spans.map((s, j) =>
                  s.changed ? (
                    <mark key={j} className="diff-changed">
                      {s.text}
                    </mark>
                  ) : (
                    <span key={j}>{s.text}</span>
                  ),
                )}
              </span>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
