// The Evaluate screen: gold sets (import with validation, preview, export), runs with live
// progress and their results down to each item, charts, and comparisons of runs on one set.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type AnswerMode,
  type EvalParams,
  type Matter,
  type RunManifest,
  type SearchMode,
  type SetCheck,
} from "../bindings";
import type { EvalJobs } from "../lib/evals";
import { useEvalRuns, useEvalSet, useEvalSets } from "../lib/queries";
import { fileNameOf } from "../lib/format";
import { pickFileOf, pickSavePath, toIpcError } from "../platform";
import { ConfirmDialog } from "./ConfirmDialog";
import { ErrorLine } from "./ErrorLine";
import { EvalComparisonView, EvalRunView, JobProgress, RunStatusBadge } from "./EvalResults";
import { Segmented } from "./Segmented";
import { useToasts } from "./Toasts";

type Tab = "sets" | "runs" | "compare";

type Props = { matters: Matter[]; demoMatterId: string | null; evalJob: EvalJobs };

export function EvaluateView({ matters, demoMatterId, evalJob }: Props) {
  const { t } = useTranslation();
  const [tab, setTab] = useState<Tab>("sets");
  const [runId, setRunId] = useState<string | null>(null);
  const [compareIds, setCompareIds] = useState<string[]>([]);
  const job = evalJob.job;

  // A run started from this screen opens as soon as it has an id.
  const [follow, setFollow] = useState(false);
  useEffect(() => {
    if (follow && job?.runId) {
      setRunId(job.runId);
      setFollow(false);
    }
  }, [follow, job?.runId]);

  return (
    <div className="templates-view evaluate-view" data-testid="evaluate-view">
      <div className="view-head">
        <h1>{t("evaluate.title")}</h1>
        <Segmented
          role="tablist"
          label={t("evaluate.title")}
          value={tab}
          onChange={setTab}
          options={[
            { value: "sets", label: t("evaluate.sets"), testId: "eval-tab-sets" },
            { value: "runs", label: t("evaluate.runs"), testId: "eval-tab-runs" },
            { value: "compare", label: t("evaluate.compare"), testId: "eval-tab-compare" },
          ]}
        />
        {job && <JobProgress job={job} onCancel={evalJob.cancel} onOpen={() => job.runId && (setRunId(job.runId), setTab("runs"))} />}
      </div>
      {tab === "sets" && (
        <SetsPane
          matters={matters}
          demoMatterId={demoMatterId}
          evalJob={evalJob}
          onStarted={() => {
            setFollow(true);
            setTab("runs");
          }}
        />
      )}
      {tab === "runs" && (
        <RunsPane
          selected={runId}
          onSelect={setRunId}
          compareIds={compareIds}
          onCompareIds={setCompareIds}
          onCompare={() => setTab("compare")}
          evalJob={evalJob}
        />
      )}
      {tab === "compare" && (
        <div className="template-detail eval-compare">
          {compareIds.length < 2 ? (
            <p className="muted">{t("evaluate.compareHint")}</p>
          ) : (
            <EvalComparisonView runIds={compareIds} />
          )}
        </div>
      )}
    </div>
  );
}

// --- sets ----------------------------------------------------------------------------------------

function SetsPane({
  matters,
  demoMatterId,
  evalJob,
  onStarted,
}: {
  matters: Matter[];
  demoMatterId: string | null;
  evalJob: EvalJobs;
  onStarted: () => void;
}) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const sets = useEvalSets();
  const [selected, setSelected] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);

  useEffect(() => {
    const list = sets.data ?? [];
    if (selected !== null && !list.some((s) => s.name === selected)) setSelected(null);
    if (selected === null && !importing && list.length > 0) setSelected(list[0].name);
  }, [sets.data, selected, importing]);

  return (
    <div className="templates-body">
      <aside className="template-list" aria-label={t("evaluate.sets")}>
        <div className="template-list-actions">
          <button
            type="button"
            className="small"
            data-testid="eval-import-open"
            onClick={() => {
              setImporting(true);
              setSelected(null);
            }}
          >
            + {t("evaluate.importSet")}
          </button>
        </div>
        {sets.isPending && <p className="muted">{t("common.loading")}</p>}
        {sets.data?.length === 0 && <p className="muted">{t("evaluate.noSets")}</p>}
        <ul className="nav-list">
          {sets.data?.map((s) => (
            <li key={s.name}>
              <button
                type="button"
                className={`template-item${s.name === selected ? " selected" : ""}`}
                aria-current={s.name === selected ? "true" : undefined}
                data-testid="eval-set-item"
                data-name={s.name}
                onClick={() => {
                  setSelected(s.name);
                  setImporting(false);
                }}
              >
                <span className="template-item-title">{s.name}</span>
                <span className="template-item-meta">
                  <span className="badge">{t("evaluate.itemCount", { count: s.items })}</span>
                  {s.should_abstain > 0 && <span className="badge">{t("evaluate.abstainCount", { count: s.should_abstain })}</span>}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="template-detail">
        {importing ? (
          <ImportSet
            onImported={(name) => {
              setImporting(false);
              setSelected(name);
              toasts.info(t("evaluate.imported", { name }));
            }}
          />
        ) : selected ? (
          <SetDetail name={selected} matters={matters} demoMatterId={demoMatterId} evalJob={evalJob} onStarted={onStarted} />
        ) : (
          <p className="muted">{t("evaluate.pickSet")}</p>
        )}
      </section>
    </div>
  );
}

function ImportSet({ onImported }: { onImported: (name: string) => void }) {
  const { t } = useTranslation();
  const [path, setPath] = useState("");
  const [name, setName] = useState("");
  // The name follows the checked file until the user types one.
  const [nameEdited, setNameEdited] = useState(false);
  const [replace, setReplace] = useState(false);
  const [check, setCheck] = useState<SetCheck | null>(null);
  const [error, setError] = useState<ReturnType<typeof toIpcError> | null>(null);
  const [busy, setBusy] = useState(false);

  const runCheck = async (p: string) => {
    setBusy(true);
    setError(null);
    setCheck(null);
    try {
      const result = await commands.evalCheckSet(p);
      setCheck(result);
      if (!nameEdited) setName(result.name);
    } catch (e) {
      setError(toIpcError(e));
    } finally {
      setBusy(false);
    }
  };

  const choose = async () => {
    const picked = await pickFileOf(t("evaluate.goldSets"), ["jsonl", "csv", "xlsx"]).catch(() => null);
    if (picked) {
      setPath(picked);
      await runCheck(picked);
    }
  };

  const doImport = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const summary = await commands.evalImportSet(path.trim(), name.trim() || null, replace);
      onImported(summary.name);
    } catch (err) {
      setError(toIpcError(err));
    } finally {
      setBusy(false);
    }
  };

  const valid = check !== null && check.problems.length === 0;
  return (
    <form className="eval-import" onSubmit={doImport} data-testid="eval-import">
      <h2>{t("evaluate.importSet")}</h2>
      <p className="muted">{t("evaluate.importHint")}</p>
      <div className="add-row">
        <input
          type="text"
          value={path}
          aria-label={t("evaluate.setFile")}
          placeholder={t("evaluate.setFilePlaceholder")}
          data-testid="eval-import-path"
          onChange={(e) => {
            setPath(e.target.value);
            setCheck(null);
          }}
        />
        <button type="button" className="quiet" onClick={() => void choose()}>
          {t("evaluate.choose")}
        </button>
        <button type="button" data-testid="eval-check" disabled={busy || !path.trim()} onClick={() => void runCheck(path.trim())}>
          {t("evaluate.check")}
        </button>
      </div>
      {error && <ErrorLine error={error} testId="eval-import-error" />}
      {check && check.problems.length > 0 && (
        <div className="invalid-files" role="alert" data-testid="set-problems">
          <p>{t("evaluate.problems", { count: check.problems.length, name: fileNameOf(path) })}</p>
          <table className="eval-table">
            <thead>
              <tr>
                <th>{t("evaluate.row")}</th>
                <th>{t("evaluate.column")}</th>
                <th>{t("evaluate.problem")}</th>
              </tr>
            </thead>
            <tbody>
              {check.problems.map((p, i) => (
                <tr key={i} data-testid="set-problem" data-row={p.row} data-column={p.column ?? ""}>
                  <td>{p.row === 0 ? "—" : p.row}</td>
                  <td className="mono">{p.column ?? "—"}</td>
                  <td>{p.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {valid && check.summary && (
        <>
          <p className="ok" data-testid="set-valid">
            {t("evaluate.validSet", { count: check.summary.items, format: check.format.toUpperCase() })}
          </p>
          <SetFacts summary={check.summary} />
          <ItemsPreview items={check.items.slice(0, 20)} more={check.items.length - 20} />
          <div className="button-row">
            <label className="field inline">
              {t("evaluate.importAs")}
              <input type="text" value={name} data-testid="eval-import-name" onChange={(e) => {
                  setName(e.target.value);
                  setNameEdited(true);
                }}
              />
            </label>
            <label className="field inline">
              <input type="checkbox" checked={replace} onChange={(e) => setReplace(e.target.checked)} />
              {t("evaluate.replace")}
            </label>
            <button type="submit" className="primary" data-testid="eval-import-submit" disabled={busy}>
              {t("evaluate.import")}
            </button>
          </div>
        </>
      )}
    </form>
  );
}

function SetFacts({ summary }: { summary: { items: number; with_expected: number; with_keywords: number; with_sources: number; should_abstain: number; tags: Partial<Record<string, number>> } }) {
  const { t } = useTranslation();
  const tags = Object.entries(summary.tags);
  return (
    <p className="eval-facts muted" data-testid="set-facts">
      {t("evaluate.facts", {
        items: summary.items,
        expected: summary.with_expected,
        keywords: summary.with_keywords,
        sources: summary.with_sources,
        abstain: summary.should_abstain,
      })}
      {tags.length > 0 && (
        <>
          {" · "}
          {tags.map(([tag, n]) => (
            <span key={tag} className="badge">
              {tag} {n}
            </span>
          ))}
        </>
      )}
    </p>
  );
}

function ItemsPreview({ items, more }: { items: import("../bindings").GoldItem[]; more: number }) {
  const { t } = useTranslation();
  return (
    <div className="eval-table-wrap">
      <table className="eval-table" data-testid="set-items">
        <thead>
          <tr>
            <th>id</th>
            <th>{t("evaluate.question")}</th>
            <th>{t("evaluate.expected")}</th>
            <th>{t("evaluate.keywords")}</th>
            <th>{t("evaluate.sources")}</th>
            <th>{t("evaluate.shouldAbstain")}</th>
            <th>{t("evaluate.tags")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.id}>
              <td className="mono">{i.id}</td>
              <td className="eval-question">{i.question}</td>
              <td className="eval-question">{i.expected ?? ""}</td>
              <td>
                {(i.keywords ?? []).join(", ")}
                {(i.keywords ?? []).length > 1 && <span className="muted"> ({i.keyword_rule ?? "all"})</span>}
              </td>
              <td className="small">
                {(i.sources ?? []).map((s) => [s.doc, s.page ? `p. ${s.page}` : null, s.label].filter(Boolean).join(" · ")).join("; ")}
              </td>
              <td>{i.should_abstain ? "✓" : ""}</td>
              <td>{(i.tags ?? []).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {more > 0 && <p className="muted small">{t("evaluate.moreItems", { count: more })}</p>}
    </div>
  );
}

const EXPORT_SET_FORMATS = ["xlsx", "csv", "jsonl"] as const;

function SetDetail({
  name,
  matters,
  demoMatterId,
  evalJob,
  onStarted,
}: {
  name: string;
  matters: Matter[];
  demoMatterId: string | null;
  evalJob: EvalJobs;
  onStarted: () => void;
}) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const sets = useEvalSets();
  const set = useEvalSet(name);
  const summary = sets.data?.find((s) => s.name === name) ?? null;
  const [format, setFormat] = useState<(typeof EXPORT_SET_FORMATS)[number]>("xlsx");
  const [confirming, setConfirming] = useState(false);

  const exportSet = async () => {
    const path = await pickSavePath(`${name}.${format}`, format).catch(() => null);
    if (!path) return;
    try {
      await commands.evalExportSet(name, path);
      toasts.info(t("evaluate.setExported"));
    } catch (e) {
      toasts.error(e);
    }
  };

  return (
    <div data-testid="eval-set-detail" data-name={name}>
      <div className="template-card-head">
        <div>
          <h2>{name}</h2>
          {summary && <SetFacts summary={summary} />}
        </div>
        <div className="template-actions">
          <select aria-label={t("evaluate.format")} value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
            {EXPORT_SET_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f.toUpperCase()}
              </option>
            ))}
          </select>
          <button type="button" className="small quiet" onClick={() => void exportSet()}>
            {t("evaluate.export")}
          </button>
          <button type="button" className="small danger" onClick={() => setConfirming(true)}>
            {t("evaluate.remove")}
          </button>
        </div>
      </div>
      <RunForm set={name} total={summary?.items ?? 0} matters={matters} demoMatterId={demoMatterId} evalJob={evalJob} onStarted={onStarted} />
      <h3 className="eval-subhead">{t("evaluate.items")}</h3>
      {set.data && <ItemsPreview items={set.data.items.slice(0, 200)} more={set.data.items.length - 200} />}
      {confirming && (
        <ConfirmDialog
          title={t("evaluate.removeTitle")}
          message={t("evaluate.removeMessage", { name })}
          confirmLabel={t("evaluate.remove")}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            commands.evalRemoveSet(name).catch((e: unknown) => toasts.error(e));
          }}
        />
      )}
    </div>
  );
}

const NO_MATTER = "";

function RunForm({
  set,
  total,
  matters,
  demoMatterId,
  evalJob,
  onStarted,
}: {
  set: string;
  total: number;
  matters: Matter[];
  demoMatterId: string | null;
  evalJob: EvalJobs;
  onStarted: () => void;
}) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const templates = useQuery({ queryKey: ["templates", "list"], queryFn: () => commands.listTemplates() });
  const [matter, setMatter] = useState<string>(demoMatterId ?? matters[0]?.id ?? NO_MATTER);
  const [label, setLabel] = useState("");
  const [mode, setMode] = useState<AnswerMode>("generate");
  const [searchMode, setSearchMode] = useState<SearchMode>("hybrid");
  const [topK, setTopK] = useState("");
  const [template, setTemplate] = useState("");
  const [rerank, setRerank] = useState<"" | "on" | "off">("");
  const [maxTokens, setMaxTokens] = useState("");
  const [seed, setSeed] = useState("");
  const [parallel, setParallel] = useState("1");
  const [limit, setLimit] = useState("");
  const [judge, setJudge] = useState(false);

  useEffect(() => {
    if (matter !== NO_MATTER && !matters.some((m) => m.id === matter)) setMatter(demoMatterId ?? matters[0]?.id ?? NO_MATTER);
  }, [matters, matter, demoMatterId]);

  const chatTemplates = useMemo(
    () => (templates.data?.templates ?? []).filter((x) => x.answers_questions),
    [templates.data],
  );
  const num = (s: string) => (s.trim() === "" ? null : Math.max(0, Math.floor(Number(s))));

  const start = (e: FormEvent) => {
    e.preventDefault();
    const params: EvalParams = {
      set,
      matter: matter === NO_MATTER ? null : matter,
      label: label.trim() || null,
      mode,
      search_mode: searchMode,
      top_k: num(topK),
      template: template || null,
      rerank: rerank === "" ? null : rerank === "on",
      max_tokens: num(maxTokens),
      seed: num(seed),
      concurrency: num(parallel),
      limit: num(limit),
      judge,
    };
    const n = params.limit ? Math.min(params.limit, total) : total;
    onStarted();
    void evalJob
      .start({ set, label: label.trim() || set, total: n }, (jobId, onEvent) => commands.evalRun(params, jobId, onEvent))
      .then((report) => {
        if (!report) return;
        const { honest_quotes: h, verified_quotes: v } = report;
        if (h !== v) toasts.error({ code: "EVAL_DISHONEST", message: t("evaluate.dishonestToast", { count: v - h }) });
        else toasts.info(t("evaluate.finishedToast", { done: report.done, items: report.manifest.items }));
      });
  };

  const busy = evalJob.job !== null;
  return (
    <form className="eval-run-form" onSubmit={start} data-testid="eval-run-form">
      <h3 className="eval-subhead">{t("evaluate.newRun")}</h3>
      <div className="eval-form-grid">
        <label className="field">
          {t("evaluate.matter")}
          <select value={matter} data-testid="eval-matter" onChange={(e) => setMatter(e.target.value)}>
            {matters.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
            <option value={NO_MATTER}>{t("evaluate.noMatter")}</option>
          </select>
        </label>
        <label className="field">
          {t("evaluate.label")}
          <input type="text" value={label} data-testid="eval-label" placeholder={t("evaluate.labelPlaceholder")} onChange={(e) => setLabel(e.target.value)} />
        </label>
        <div className="field">
          <span>{t("evaluate.mode")}</span>
          <Segmented
            role="radiogroup"
            label={t("evaluate.mode")}
            value={mode}
            onChange={setMode}
            options={[
              { value: "generate", label: t("evaluate.generate"), testId: "eval-mode-generate" },
              { value: "extractive", label: t("evaluate.extractive"), testId: "eval-mode-extractive" },
            ]}
          />
        </div>
        <label className="field">
          {t("evaluate.retrieval")}
          <select value={searchMode} data-testid="eval-search-mode" onChange={(e) => setSearchMode(e.target.value as SearchMode)}>
            <option value="hybrid">{t("evaluate.hybrid")}</option>
            <option value="vector">{t("evaluate.vector")}</option>
            <option value="text">{t("evaluate.text")}</option>
          </select>
        </label>
        <label className="field">
          {t("evaluate.template")}
          <select value={template} onChange={(e) => setTemplate(e.target.value)}>
            <option value="">{t("evaluate.noTemplate")}</option>
            {chatTemplates.map((x) => (
              <option key={x.name} value={x.name}>
                {x.title} ({x.name})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          {t("evaluate.rerank")}
          <select value={rerank} onChange={(e) => setRerank(e.target.value as typeof rerank)}>
            <option value="">{t("evaluate.asConfigured")}</option>
            <option value="on">{t("evaluate.on")}</option>
            <option value="off">{t("evaluate.off")}</option>
          </select>
        </label>
        <label className="field narrow">
          {t("evaluate.topK")}
          <input type="number" min={1} max={50} value={topK} placeholder="8" onChange={(e) => setTopK(e.target.value)} />
        </label>
        <label className="field narrow">
          {t("evaluate.maxTokens")}
          <input type="number" min={16} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
        </label>
        <label className="field narrow">
          {t("evaluate.seed")}
          <input type="number" min={0} value={seed} onChange={(e) => setSeed(e.target.value)} />
        </label>
        <label className="field narrow" title={t("evaluate.parallelHint")}>
          {t("evaluate.parallel")}
          <input type="number" min={1} max={64} value={parallel} onChange={(e) => setParallel(e.target.value)} />
        </label>
        <label className="field narrow">
          {t("evaluate.limit")}
          <input type="number" min={1} value={limit} data-testid="eval-limit" placeholder={String(total)} onChange={(e) => setLimit(e.target.value)} />
        </label>
      </div>
      <label className="field inline small" title={t("evaluate.judgeHint")}>
        <input type="checkbox" checked={judge} data-testid="eval-judge" onChange={(e) => setJudge(e.target.checked)} />
        {t("evaluate.judgeAfter")}
      </label>
      <div className="button-row">
        <button type="submit" className="primary" data-testid="eval-start" disabled={busy || total === 0}>
          {t("evaluate.start")}
        </button>
        {busy && <span className="muted small">{t("evaluate.oneAtATime")}</span>}
      </div>
    </form>
  );
}

// --- runs ----------------------------------------------------------------------------------------

function RunsPane({
  selected,
  onSelect,
  compareIds,
  onCompareIds,
  onCompare,
  evalJob,
}: {
  selected: string | null;
  onSelect: (id: string | null) => void;
  compareIds: string[];
  onCompareIds: (ids: string[]) => void;
  onCompare: () => void;
  evalJob: EvalJobs;
}) {
  const { t } = useTranslation();
  const runs = useEvalRuns();
  const list = runs.data ?? [];

  useEffect(() => {
    if (!runs.data) return;
    if (selected !== null && !runs.data.some((r) => r.id === selected)) onSelect(null);
    else if (selected === null && runs.data.length > 0) onSelect(runs.data[0].id);
    const kept = compareIds.filter((id) => runs.data.some((r) => r.id === id));
    if (kept.length !== compareIds.length) onCompareIds(kept);
  }, [runs.data, selected, onSelect, compareIds, onCompareIds]);

  const compareSet = list.find((r) => r.id === compareIds[0])?.set ?? null;
  const toggle = (r: RunManifest) =>
    onCompareIds(compareIds.includes(r.id) ? compareIds.filter((id) => id !== r.id) : [...compareIds, r.id]);

  return (
    <div className="templates-body">
      <aside className="template-list" aria-label={t("evaluate.runs")}>
        <div className="template-list-actions">
          <button type="button" className="small" data-testid="eval-compare-selected" disabled={compareIds.length < 2} onClick={onCompare}>
            {t("evaluate.compareSelected", { count: compareIds.length })}
          </button>
        </div>
        {runs.isPending && <p className="muted">{t("common.loading")}</p>}
        {list.length === 0 && runs.data && <p className="muted">{t("evaluate.noRuns")}</p>}
        <ul className="nav-list">
          {list.map((r) => {
            const executing = evalJob.job?.runId === r.id;
            return (
              <li key={r.id} className="eval-run-item">
                <input
                  type="checkbox"
                  aria-label={t("evaluate.selectForCompare")}
                  data-testid="eval-run-compare"
                  checked={compareIds.includes(r.id)}
                  disabled={!compareIds.includes(r.id) && compareSet !== null && compareSet !== r.set}
                  title={compareSet !== null && compareSet !== r.set ? t("evaluate.sameSetOnly") : undefined}
                  onChange={() => toggle(r)}
                />
                <button
                  type="button"
                  className={`template-item${r.id === selected ? " selected" : ""}`}
                  aria-current={r.id === selected ? "true" : undefined}
                  data-testid="eval-run-item"
                  data-id={r.id}
                  data-status={executing ? "executing" : r.status}
                  onClick={() => onSelect(r.id)}
                >
                  <span className="template-item-title">{r.config.label || r.set}</span>
                  <span className="template-item-meta">
                    <RunStatusBadge status={r.status} executing={executing} />
                    <span className="mono">{r.set}</span>
                    <span className="muted">{new Date(r.created_ms).toLocaleString()}</span>
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      </aside>
      <section className="template-detail">
        {selected ? <EvalRunView runId={selected} evalJob={evalJob} /> : <p className="muted">{t("evaluate.pickRun")}</p>}
      </section>
    </div>
  );
}
