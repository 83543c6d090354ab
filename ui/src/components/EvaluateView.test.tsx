import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, it } from "vitest";
import App from "../App";
import type {
  EvalComparison,
  EvalRunEvent,
  GoldItem,
  ItemResult,
  Metric,
  RunManifest,
  RunReport,
  SetSummary,
} from "../bindings";
import { formatDelta, formatValue } from "../lib/evals";
import { announce, matter, mockCommands } from "../test/fixtures";

const goldItems: GoldItem[] = [
  {
    id: "nda-01",
    question: "How much notice ends the agreement?",
    expected: "Thirty days' written notice.",
    keywords: ["thirty", "notice"],
    keyword_rule: "all",
    sources: [{ doc: "nda.pdf", page: 3, label: "Section 9" }],
    should_abstain: false,
    tags: ["termination"],
  },
  { id: "off-01", question: "What is the liability cap?", should_abstain: true, tags: ["off-corpus"] },
];

const setSummary = (name: string): SetSummary => ({
  name,
  items: 2,
  with_expected: 1,
  with_keywords: 1,
  with_sources: 1,
  should_abstain: 1,
  tags: { termination: 1, "off-corpus": 1 },
  path: `/home/u/.lexdesk/evals/sets/${name}.jsonl`,
});

function manifest(over: Partial<RunManifest> = {}): RunManifest {
  return {
    id: "0193-run-a",
    set: "nda",
    set_fingerprint: "abc",
    items: 2,
    config: {
      label: "hybrid",
      matter: "Acme v. Beta",
      matter_id: "m1",
      model: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
      embedder: "e5",
      adapter: null,
      template: null,
      mode: "generate",
      search_mode: "hybrid",
      top_k: null,
      rerank: null,
      max_tokens: null,
      seed: null,
      concurrency: 1,
      limit: null,
    },
    created_ms: 1_700_000_000_000,
    finished_ms: 1_700_000_060_000,
    status: "finished",
    error: null,
    ...over,
  };
}

function result(item: GoldItem, over: Partial<ItemResult["outcome"]> = {}, scores: Partial<ItemResult["scores"]> = {}): ItemResult {
  const answered = !item.should_abstain;
  return {
    item,
    outcome: {
      answer: answered ? 'Either party may end it on [S1: "thirty (30) days\' written notice"].' : "The documents do not say.",
      abstained: !answered,
      abstention: answered ? null : "NO_RELEVANT_PASSAGES",
      citations: answered
        ? [
            {
              doc: "nda.pdf",
              source: "/docs/nda.pdf",
              page: 3,
              heading: "Section 9 Termination",
              quote: "thirty (30) days' written notice",
              verified: true,
              attributed: false,
              on_page: true,
            },
          ]
        : [],
      error: null,
      latency_ms: answered ? 12_400 : 900,
      first_token_ms: answered ? 8_000 : null,
      completion_tokens: answered ? 40 : null,
      tokens_per_second: answered ? 18.5 : null,
      ...over,
    },
    scores: {
      keyword_share: answered ? 1 : null,
      keyword_any: answered ? true : null,
      keyword_all: answered ? true : null,
      keyword_pass: answered ? true : null,
      reference_f1: answered ? 0.42 : null,
      rouge_l: answered ? 0.4 : null,
      citation_correct: answered ? true : null,
      grounded: answered ? true : null,
      honest: answered ? true : null,
      verified_quotes: answered ? 1 : 0,
      honest_quotes: answered ? 1 : 0,
      abstained: !answered,
      should_abstain: !answered,
      failed: false,
      ...scores,
    },
  };
}

const metric = (key: string, label: string, value: number, unit: Metric["unit"] = "rate"): Metric => ({
  key,
  label,
  unit,
  estimate: { value, low: value / 2, high: Math.min(1, value * 1.5) || value, n: 2 },
});

function report(over: Partial<RunReport> = {}): RunReport {
  return {
    manifest: manifest(),
    done: 2,
    items: goldItems.map((i) => result(i)),
    metrics: [
      metric("keyword_accuracy", "Keyword accuracy (item's rule)", 1),
      metric("citation_correct", "Citation correctness", 1),
      metric("grounded", "Grounded", 1),
      { key: "reference_f1", label: "Reference F1", unit: "rate", estimate: null },
      metric("latency_ms", "Latency (mean)", 6650, "ms"),
    ],
    tags: [{ tag: "termination", items: 1, metrics: [metric("keyword_accuracy", "Keyword accuracy", 1)] }],
    verified_quotes: 1,
    honest_quotes: 1,
    latency_percentiles: [6650, 11_000, 12_000],
    ...over,
  };
}

const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>关键词</text></svg>';

async function openEvaluate() {
  render(<App />);
  await userEvent.click(await screen.findByTestId("nav-evaluate"));
  return await screen.findByTestId("evaluate-view");
}

describe("evaluate: gold sets", () => {
  it("lists every problem of a bad file by row and column, and imports a valid one after previewing it", async () => {
    const sets: SetSummary[] = [];
    const { calls } = mockCommands({
      eval_sets: () => sets,
      eval_set: (args) => ({ name: args.name, items: goldItems }),
      list_templates: () => ({ templates: [], invalid: [] }),
      eval_check_set: (args) =>
        String(args.path).endsWith("bad.csv")
          ? {
              name: "bad",
              format: "csv",
              items: [],
              problems: [
                { row: 1, column: "questoin", message: "unknown column (did you mean `question`?)" },
                { row: 3, column: "should_abstain", message: "`maybe` is not true or false" },
              ],
              summary: null,
            }
          : { name: "nda", format: "jsonl", items: goldItems, problems: [], summary: setSummary("nda") },
      eval_import_set: (args) => {
        sets.push(setSummary(String(args.name)));
        return setSummary(String(args.name));
      },
    });
    await openEvaluate();
    expect(await screen.findByText(/No gold sets yet/)).toBeInTheDocument();
    await userEvent.click(screen.getByTestId("eval-import-open"));

    await userEvent.type(screen.getByTestId("eval-import-path"), "/data/bad.csv");
    await userEvent.click(screen.getByTestId("eval-check"));
    const problems = await screen.findByTestId("set-problems");
    const rows = within(problems).getAllByTestId("set-problem");
    expect(rows.map((r) => [r.dataset.row, r.dataset.column])).toEqual([
      ["1", "questoin"],
      ["3", "should_abstain"],
    ]);
    expect(problems).toHaveTextContent("did you mean `question`?");
    expect(screen.queryByTestId("eval-import-submit")).not.toBeInTheDocument();

    await userEvent.clear(screen.getByTestId("eval-import-path"));
    await userEvent.type(screen.getByTestId("eval-import-path"), "/data/nda.jsonl");
    await userEvent.click(screen.getByTestId("eval-check"));
    expect(await screen.findByTestId("set-valid")).toHaveTextContent("Valid JSONL gold set: 2 items");
    expect(within(screen.getByTestId("set-items")).getByText("How much notice ends the agreement?")).toBeInTheDocument();
    expect(screen.getByTestId("set-items")).toHaveTextContent("nda.pdf · p. 3 · Section 9");
    await userEvent.click(screen.getByTestId("eval-import-submit"));

    expect(calls.find((c) => c.cmd === "eval_import_set")?.args).toMatchObject({ path: "/data/nda.jsonl", name: "nda", replace: false });
    // The shell's announcement brings the set into the list, and it opens.
    const item = await screen.findByTestId("eval-set-item");
    expect(item).toHaveAttribute("data-name", "nda");
    expect(await screen.findByTestId("eval-set-detail")).toHaveAttribute("data-name", "nda");
    expect(screen.getByTestId("set-facts")).toHaveTextContent("2 items · 1 with a reference answer");
  });
});

describe("evaluate: runs", () => {
  it("runs a set with live progress, then shows honesty, metrics, charts and each item down to its citations", async () => {
    let channel: Channel<EvalRunEvent> | null = null;
    let finish: (r: RunReport) => void = () => undefined;
    let runs: RunManifest[] = [];
    const { calls } = mockCommands({
      eval_sets: () => [setSummary("nda")],
      eval_set: (args) => ({ name: args.name, items: goldItems }),
      list_templates: () => ({ templates: [], invalid: [] }),
      eval_runs: () => runs,
      eval_report: () => report(),
      eval_charts: () => [
        { title: "Metrics", svg, problem: null },
        { title: "Latency", svg: null, problem: "no finished items" },
      ],
      eval_run: (args) => {
        channel = args.onEvent as Channel<EvalRunEvent>;
        return new Promise((resolve) => (finish = resolve));
      },
      cancel_job: () => true,
    });
    await openEvaluate();
    await screen.findByTestId("eval-set-detail");
    await userEvent.type(screen.getByTestId("eval-label"), "hybrid");
    await userEvent.click(screen.getByTestId("eval-mode-extractive"));
    await userEvent.click(screen.getByTestId("eval-start"));
    await waitFor(() => expect(channel).not.toBeNull());
    expect(calls.find((c) => c.cmd === "eval_run")?.args.params).toEqual({
      set: "nda",
      matter: matter.id,
      label: "hybrid",
      mode: "extractive",
      search_mode: "hybrid",
      top_k: null,
      template: null,
      rerank: null,
      max_tokens: null,
      seed: null,
      concurrency: 1,
      limit: null,
      judge: false,
    });

    const running = manifest({ status: "running", finished_ms: null });
    runs = [running];
    act(() => {
      channel!.onmessage({ kind: "started", run: running, done: 0 });
      channel!.onmessage({ kind: "item", done: 1, total: 2, result: result(goldItems[0]) });
    });
    // The shell announces the started run: the Runs tab lists it as running.
    await act(async () => announce("evals-changed", { run_id: running.id }));
    const progress = await screen.findByTestId("eval-progress");
    expect(progress).toHaveAttribute("data-done", "1");
    expect(progress).toHaveTextContent("1 of 2 items");
    await waitFor(() => expect(screen.getByTestId("eval-run-item")).toHaveAttribute("data-status", "executing"));
    // Cancel stops the run's job (the shell then ends it; it stays resumable).
    await userEvent.click(screen.getByTestId("eval-cancel"));
    const jobId = calls.find((c) => c.cmd === "eval_run")?.args.jobId;
    await waitFor(() => expect(calls.find((c) => c.cmd === "cancel_job")?.args.jobId).toBe(jobId));
    expect(screen.getByTestId("eval-cancel")).toBeDisabled();
    expect(screen.getByTestId("eval-cancel")).toHaveTextContent("Stopping…");
    // One run at a time: the form is disabled while it executes.
    await userEvent.click(screen.getByTestId("eval-tab-sets"));
    expect(await screen.findByTestId("eval-start")).toBeDisabled();
    await userEvent.click(screen.getByTestId("eval-tab-runs"));

    runs = [manifest()];
    await act(async () => finish(report()));
    await waitFor(() => expect(screen.queryByTestId("eval-progress")).not.toBeInTheDocument());
    // The finished run is open: honesty, metrics with intervals, charts as images.
    const run = await screen.findByTestId("eval-run");
    expect(run).toHaveAttribute("data-id", "0193-run-a");
    const honesty = screen.getByTestId("eval-honesty");
    expect(honesty).toHaveAttribute("data-honest", "true");
    expect(honesty).toHaveTextContent("all 1 verified quotes were found again on their cited pages");
    const metrics = screen.getAllByTestId("eval-metric");
    expect(metrics.map((m) => m.dataset.key)).toEqual(["keyword_accuracy", "citation_correct", "grounded", "latency_ms"]);
    expect(metrics[0]).toHaveTextContent("100.0 %");
    expect(metrics[0]).toHaveTextContent("50.0 % – 100.0 %");
    expect(metrics[3]).toHaveTextContent("6650 ms");
    const charts = await screen.findAllByTestId("eval-chart");
    const img = within(charts[0]).getByRole("img");
    expect(img.getAttribute("src")).toMatch(/^data:image\/svg\+xml;charset=utf-8,%3Csvg/);
    expect(decodeURIComponent(img.getAttribute("src")!)).toContain("关键词");
    expect(charts[1]).toHaveTextContent("Chart unavailable: no finished items");

    const rows = screen.getAllByTestId("eval-item-row");
    expect(rows.map((r) => r.dataset.state)).toEqual(["answered", "abstained-right"]);
    await userEvent.click(rows[0]);
    const detail = await screen.findByTestId("item-detail");
    expect(within(detail).getByTestId("item-gold")).toHaveTextContent("Thirty days' written notice.");
    expect(within(detail).getByTestId("item-gold")).toHaveTextContent("nda.pdf · p. 3 · Section 9");
    const citation = within(detail).getByTestId("item-citation");
    expect(citation).toHaveAttribute("data-on-page", "true");
    expect(citation).toHaveTextContent("verified, on the page");
    // Keyboard: Enter closes it again.
    rows[0].focus();
    await userEvent.keyboard("{Enter}");
    expect(screen.queryByTestId("item-detail")).not.toBeInTheDocument();
  });

  it("says loudly when a verified quote is not on its cited page, and offers to resume an interrupted run", async () => {
    const dishonest = report({
      manifest: manifest({ status: "cancelled", finished_ms: null }),
      done: 1,
      items: [result(goldItems[0], {}, { honest: false, honest_quotes: 0 })],
      verified_quotes: 3,
      honest_quotes: 2,
    });
    dishonest.items[0].outcome.citations[0].on_page = false;
    let resumed = false;
    mockCommands({
      eval_sets: () => [],
      eval_runs: () => [dishonest.manifest],
      eval_report: () => dishonest,
      eval_charts: () => [],
      eval_resume: (args) => {
        resumed = args.runId === "0193-run-a";
        return report();
      },
    });
    await openEvaluate();
    await userEvent.click(screen.getByTestId("eval-tab-runs"));
    const honesty = await screen.findByTestId("eval-honesty");
    expect(honesty).toHaveAttribute("data-honest", "false");
    expect(honesty).toHaveAttribute("role", "alert");
    expect(honesty).toHaveTextContent("1 of 3 verified quotes were NOT found on their cited page");
    expect(within(screen.getByTestId("eval-run")).getByTestId("eval-run-status")).toHaveTextContent("cancelled");
    await userEvent.click(screen.getAllByTestId("eval-item-row")[0]);
    expect(within(await screen.findByTestId("item-citation")).getByText("NOT on the cited page")).toBeInTheDocument();
    await userEvent.click(screen.getByTestId("eval-resume"));
    await waitFor(() => expect(resumed).toBe(true));
  });
});

describe("evaluate: LLM judge", () => {
  it("grades a run's answers with progress, then shows the score as weaker evidence and each item's grade", async () => {
    let channel: Channel<EvalRunEvent> | null = null;
    let finish: (r: RunReport) => void = () => undefined;
    let judged = false;
    const judgement = (id: string, score: number | null) => ({
      id,
      score,
      reason: score ? "Correct and quoted." : "",
      reply: score ? `Score: ${score}\nReason: Correct and quoted.` : "I cannot tell.",
      model: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
      rubric: 1,
      finished_ms: 1_700_000_100_000,
    });
    const graded = () => {
      const r = report();
      r.items[0].judgement = judgement("nda-01", 4);
      r.items[1].judgement = judgement("off-01", null);
      r.metrics.push({ key: "judge_score", label: "LLM-as-judge score", unit: "score", estimate: { value: 4, low: 4, high: 4, n: 1 } });
      r.judge = { models: ["qwen2.5-1.5b-instruct-q4_k_m.gguf"], judged: 2, unreadable: 1 };
      return r;
    };
    const { calls } = mockCommands({
      eval_sets: () => [],
      eval_runs: () => [manifest()],
      eval_report: () => (judged ? graded() : report()),
      eval_charts: () => [],
      eval_judge: (args) => {
        channel = args.onEvent as Channel<EvalRunEvent>;
        return new Promise((resolve) => (finish = resolve));
      },
    });
    await openEvaluate();
    await userEvent.click(screen.getByTestId("eval-tab-runs"));
    await userEvent.click(await screen.findByTestId("eval-judge-run"));
    await waitFor(() => expect(channel).not.toBeNull());
    expect(calls.find((c) => c.cmd === "eval_judge")?.args).toMatchObject({ runId: "0193-run-a", again: false });
    act(() => channel!.onmessage({ kind: "judged", done: 1, total: 2, judgement: judgement("nda-01", 4) }));
    const progress = await screen.findByTestId("eval-progress");
    expect(progress).toHaveTextContent("Judging hybrid");
    expect(progress).toHaveTextContent("1 of 2 items");

    judged = true;
    await act(async () => finish(graded()));
    const note = await screen.findByTestId("eval-judge-note");
    expect(note).toHaveTextContent("2 answers graded 1–5 by qwen2.5-1.5b-instruct-q4_k_m.gguf");
    expect(note).toHaveTextContent("weaker evidence");
    expect(note).toHaveTextContent("1 reply had no readable score");
    const score = screen.getAllByTestId("eval-metric").find((m) => m.dataset.key === "judge_score")!;
    expect(score).toHaveTextContent("LLM-as-judge score, 1–5 (weaker evidence)");
    expect(score).toHaveTextContent("4.00 / 5");
    expect(screen.getByTestId("eval-judge-run")).toHaveTextContent("Grade again");
    const rows = screen.getAllByTestId("eval-item-row");
    await userEvent.click(rows[0]);
    expect(await screen.findByTestId("item-judgement")).toHaveTextContent("4 / 5 — Correct and quoted.");
    await userEvent.click(rows[0]);
    await userEvent.click(rows[1]);
    expect(await screen.findByTestId("item-judgement")).toHaveTextContent("no readable score");
  });
});

describe("evaluate: comparisons", () => {
  it("compares two runs of a set: deltas with significance, and the items that got worse open to both answers", async () => {
    const a = manifest();
    const b = manifest({ id: "0193-run-b", config: { ...manifest().config, label: "extractive", mode: "extractive" } });
    const base = report();
    const cand = report({
      manifest: b,
      items: [result(goldItems[0], { answer: "No supported claim.", citations: [] }, { keyword_pass: false, grounded: false, citation_correct: false, honest: null, verified_quotes: 0, honest_quotes: 0 }), result(goldItems[1])],
      verified_quotes: 0,
      honest_quotes: 0,
    });
    const comparison: EvalComparison = {
      set: "nda",
      runs: [base, cand],
      pairs: [
        {
          candidate: b,
          paired: 2,
          unpaired: 0,
          metrics: [
            {
              key: "grounded",
              label: "Grounded",
              unit: "rate",
              baseline: { value: 1, low: 1, high: 1, n: 1 },
              candidate: { value: 0, low: 0, high: 0, n: 1 },
              delta: { delta: -1, low: -1, high: -1, p_value: 0.01, n: 1 },
              mcnemar: { worse: 1, better: 0, p_value: 1 },
            },
            {
              key: "latency_ms",
              label: "Latency (mean)",
              unit: "ms",
              baseline: { value: 6650, low: 900, high: 12_400, n: 2 },
              candidate: { value: 300, low: 200, high: 400, n: 2 },
              delta: { delta: -6350, low: -12_000, high: -700, p_value: 0.02, n: 2 },
              mcnemar: null,
            },
          ],
          better: [],
          worse: [{ id: "nda-01", question: goldItems[0].question, better: [], worse: ["grounded", "keyword_accuracy"] }],
        },
      ],
    };
    const { calls } = mockCommands({
      eval_sets: () => [],
      eval_runs: () => [b, a],
      eval_report: (args) => (args.runId === b.id ? cand : base),
      eval_charts: () => [{ title: "Metrics", svg, problem: null }],
      eval_compare: () => comparison,
    });
    await openEvaluate();
    await userEvent.click(screen.getByTestId("eval-tab-runs"));
    const boxes = await screen.findAllByTestId("eval-run-compare");
    await userEvent.click(boxes[1]);
    await userEvent.click(boxes[0]);
    await userEvent.click(screen.getByTestId("eval-compare-selected"));
    await screen.findByTestId("eval-comparison");
    expect(calls.find((c) => c.cmd === "eval_compare")?.args.runIds).toEqual([a.id, b.id]);

    const deltas = screen.getAllByTestId("eval-delta");
    expect(deltas[0]).toHaveTextContent("−100.0 pp");
    expect(deltas[0]).toHaveTextContent("+0 / −1, p 1.000");
    expect(within(deltas[0]).getByText("−100.0 pp")).toHaveClass("delta-bad");
    // Lower latency is better.
    expect(within(deltas[1]).getByText("−6350 ms")).toHaveClass("delta-good");

    const worse = within(screen.getByTestId("eval-worse")).getByTestId("eval-moved-item");
    expect(worse).toHaveTextContent("nda-01");
    await userEvent.click(worse);
    const detail = await screen.findByTestId("item-detail");
    const answers = within(detail).getAllByTestId("item-answer");
    expect(answers).toHaveLength(2);
    expect(answers[0]).toHaveTextContent("hybrid");
    expect(answers[0]).toHaveTextContent("thirty (30) days' written notice");
    expect(answers[1]).toHaveTextContent("extractive");
    expect(answers[1]).toHaveTextContent("No supported claim.");
  });
});

describe("evaluate: formatting", () => {
  it("reads values and differences like the CLI and the reports", () => {
    expect(formatValue("rate", 0.5)).toBe("50.0 %");
    expect(formatValue("ms", 14_000)).toBe("14.0 s");
    expect(formatValue("ms", null)).toBe("—");
    expect(formatDelta("rate", 0.125)).toBe("+12.5 pp");
    expect(formatDelta("ms", -250)).toBe("−250 ms");
    expect(formatDelta("rate", 0)).toBe("±0.0 pp");
  });

  it("is in Chinese when the app is", async () => {
    mockCommands({ eval_sets: () => [] });
    render(<App />);
    await userEvent.selectOptions(await screen.findByTestId("language-select"), "zh-CN");
    expect(await screen.findByTestId("nav-evaluate")).toHaveTextContent("评估");
    await userEvent.click(screen.getByTestId("nav-evaluate"));
    expect(await screen.findByTestId("eval-tab-sets")).toHaveTextContent("标准问题集");
  });
});
