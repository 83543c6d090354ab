// Helpers shared by the Templates screen and the comparison view: variable values as the form
// holds them, and the numbers a run reports.
import type { RunResult, Variable } from "../bindings";

/** The text a variable's default shows as (TOML strings without quotes, numbers as written). */
export function defaultText(v: Variable): string {
  const d: unknown = v.default;
  if (d === null || d === undefined) return "";
  if (typeof d === "string") return d;
  if (typeof d === "number" || typeof d === "boolean") return String(d);
  return JSON.stringify(d);
}

/** The values the form sends: only what the user typed (empty fields fall back to defaults). */
export function filledInputs(values: Record<string, string>, declared: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    if (declared.has(k) && v.trim() !== "") out[k] = v;
  }
  return out;
}

/** Union of several templates' variables, first declaration wins, in order of appearance. */
export function unionVariables(lists: Variable[][]): Variable[] {
  const seen = new Map<string, Variable>();
  for (const list of lists) for (const v of list) if (!seen.has(v.name)) seen.set(v.name, v);
  return [...seen.values()];
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export function keywordPercent(run: RunResult): string | null {
  return run.keyword_score === null ? null : `${Math.round(run.keyword_score * 100)} %`;
}

/** Comma- or newline-separated keywords, trimmed, empties dropped. */
export function parseKeywords(text: string): string[] {
  return text
    .split(/[,，\n]/)
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}
