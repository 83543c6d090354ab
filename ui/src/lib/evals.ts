// Evaluation in the UI: the one run this window executes (it keeps going while other screens
// are open), and how metrics read.
import { useCallback, useRef, useState } from "react";
import type { Channel } from "@tauri-apps/api/core";
import {
  commands,
  type Estimate,
  type EvalRunEvent,
  type ItemResult,
  type ItemScores,
  type MetricUnit,
  type RunReport,
} from "../bindings";
import { channel, newJobId } from "../platform";

/** The run this window is executing. */
export type EvalJob = {
  jobId: string;
  /** Known once execution starts. */
  runId: string | null;
  set: string;
  label: string;
  done: number;
  total: number;
  /** Items finished during this execution, in the order they finished. */
  items: ItemResult[];
  /** Answering the items, or the LLM judge grading the answers. */
  phase: "answering" | "judging";
  cancelling: boolean;
};

export type EvalJobs = {
  job: EvalJob | null;
  /**
   * Execute a run (`invoke` starts or resumes it with the job id and progress channel). Resolves
   * with the report, or `null` when another run is executing here (one at a time: the chat
   * model answers one run's items).
   */
  start: (
    what: { set: string; label: string; total: number; phase?: EvalJob["phase"] },
    invoke: (jobId: string, onEvent: Channel<EvalRunEvent>) => Promise<RunReport>,
  ) => Promise<RunReport | null>;
  cancel: () => void;
};

export function applyEvalEvent(job: EvalJob, e: EvalRunEvent): EvalJob {
  switch (e.kind) {
    case "started":
      return { ...job, runId: e.run.id, done: e.done, total: e.run.items };
    case "item":
      return { ...job, done: e.done, total: e.total, items: [...job.items, e.result] };
    case "judged":
      return { ...job, phase: "judging", done: e.done, total: e.total };
  }
}

/** The evaluation job of this window; failures go to `onError`. */
export function useEvalJob(onError: (error: unknown) => void): EvalJobs {
  const [job, setJob] = useState<EvalJob | null>(null);
  const current = useRef<EvalJob | null>(null);
  const update = (next: EvalJob | null) => {
    current.current = next;
    setJob(next);
  };

  const start = useCallback<EvalJobs["start"]>(
    async (what, invoke) => {
      if (current.current) return null;
      let state: EvalJob = {
        jobId: newJobId(),
        runId: null,
        set: what.set,
        label: what.label,
        done: 0,
        total: what.total,
        items: [],
        phase: what.phase ?? "answering",
        cancelling: false,
      };
      update(state);
      const onEvent = channel<EvalRunEvent>((event) => {
        state = applyEvalEvent({ ...state, cancelling: current.current?.cancelling ?? false }, event);
        update(state);
      });
      try {
        return await invoke(state.jobId, onEvent);
      } catch (error) {
        onError(error);
        return null;
      } finally {
        update(null);
      }
    },
    [onError],
  );

  const cancel = useCallback(() => {
    const running = current.current;
    if (!running || running.cancelling) return;
    update({ ...running, cancelling: true });
    void commands.cancelJob(running.jobId).catch(onError);
  }, [onError]);

  return { job, start, cancel };
}

/** A metric value as the CLI and the reports show it. */
export function formatValue(unit: MetricUnit, v: number | null): string {
  // f64 values cross the IPC as `number | null` (a NaN arrives as null).
  if (v === null || !Number.isFinite(v)) return "—";
  switch (unit) {
    case "rate":
      return `${(v * 100).toFixed(1)} %`;
    case "ms":
      return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`;
    case "tokens_per_second":
      return `${v.toFixed(1)} tok/s`;
    case "score":
      return `${v.toFixed(2)} / 5`;
  }
}

export function formatInterval(unit: MetricUnit, e: Estimate): string {
  return `${formatValue(unit, e.low)} – ${formatValue(unit, e.high)}`;
}

/** A signed difference: rates in percentage points. */
export function formatDelta(unit: MetricUnit, d: number | null): string {
  if (d === null || !Number.isFinite(d)) return "—";
  const sign = d > 0 ? "+" : d < 0 ? "−" : "±";
  const abs = Math.abs(d);
  switch (unit) {
    case "rate":
      return `${sign}${(abs * 100).toFixed(1)} pp`;
    case "ms":
      return `${sign}${abs >= 10_000 ? `${(abs / 1000).toFixed(1)} s` : `${abs.toFixed(0)} ms`}`;
    case "tokens_per_second":
      return `${sign}${abs.toFixed(1)} tok/s`;
    case "score":
      return `${sign}${abs.toFixed(2)}`;
  }
}

/** Whether a higher value is better for a unit (latency: lower is better). */
export function higherIsBetter(unit: MetricUnit): boolean {
  return unit !== "ms";
}

export type Verdict = "pass" | "fail" | "na";

export function verdict(v: boolean | null | undefined): Verdict {
  return v === true ? "pass" : v === false ? "fail" : "na";
}

/** An item's one-word result for the table: failed, abstained (rightly or not), or answered. */
export function itemState(s: ItemScores): "failed" | "abstained-right" | "abstained-wrong" | "answered-wrong" | "answered" {
  if (s.failed) return "failed";
  if (s.abstained) return s.should_abstain ? "abstained-right" : "abstained-wrong";
  return s.should_abstain ? "answered-wrong" : "answered";
}

/** SVG text as an image source: rendered as an image, so nothing in it can run. */
export function svgSource(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** The honesty line of a report: every verified quote re-found on its page, or how many were not. */
export function honesty(r: Pick<RunReport, "verified_quotes" | "honest_quotes">): { honest: boolean; failed: number } {
  return { honest: r.verified_quotes === r.honest_quotes, failed: r.verified_quotes - r.honest_quotes };
}

/** A p-value (or "—"). */
export function formatP(p: number | null): string {
  return p === null || !Number.isFinite(p) ? "—" : p < 0.001 ? "< 0.001" : p.toFixed(3);
}
