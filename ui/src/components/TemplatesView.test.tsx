import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, it } from "vitest";
import type {
  CompareProgress,
  Comparison,
  Listing,
  RunResult,
  Template,
  TemplateSummary,
  TemplateView,
} from "../bindings";
import { matter, mockCommands } from "../test/fixtures";
import { QueryClientProvider } from "@tanstack/react-query";
import { createQueryClient } from "../lib/queries";
import { ChatView } from "./ChatView";
import { TemplatesView } from "./TemplatesView";

function template(over: Partial<Template> = {}): Template {
  return {
    format: 1,
    name: "statute-qa-en",
    title: "Statute Q&A with verbatim citations",
    language: "en",
    category: "legal",
    description: "Answers a legal question from retrieved provisions.",
    evidence: false,
    evidence_query: null,
    role: "You are a careful legal researcher.",
    task: "Answer: {{question}}",
    requirements: ["Cite every claim."],
    output_format: "Answer: …",
    output_example: "",
    parameters: { temperature: 0, max_tokens: 700 },
    variables: [
      { name: "question", kind: "text", description: "The question", required: true, default: null, options: [], min: null, max: null },
      {
        name: "detail",
        kind: "choice",
        description: "How detailed",
        required: false,
        default: "brief",
        options: ["brief", "detailed"],
        min: null,
        max: null,
      },
    ],
    inputs: [],
    ...over,
  };
}

function summary(t: Template, source: "builtin" | "user"): TemplateSummary {
  return {
    name: t.name,
    title: t.title,
    language: t.language,
    category: t.category ?? "",
    description: t.description ?? "",
    evidence: t.evidence ?? false,
    answers_questions: (t.variables ?? []).some((v) => v.name === "question"),
    source,
    path: source === "user" ? `/home/u/.lexdesk/templates/${t.name}.toml` : null,
  };
}

const builtin = template();
const question = template().variables![0]!;
const mine = template({ name: "my-memo", title: "My memo", variables: [question] });
const listing: Listing = { templates: [summary(mine, "user"), summary(builtin, "builtin")], invalid: [] };
const view = (t: Template, source: "builtin" | "user"): TemplateView => ({
  stored: { template: t, source, path: null, text: `format = 1\nname = "${t.name}"\n` },
  warnings: [],
});

function run(label: string, output: string, over: Partial<RunResult> = {}): RunResult {
  return {
    label,
    template: builtin,
    prompt: { template: builtin.name, system: "s", user: "u", parameters: builtin.parameters! },
    output,
    output_chars: output.length,
    prompt_tokens: 120,
    completion_tokens: 42,
    latency_ms: 2300,
    time_to_first_token_ms: 400,
    tokens_per_second: 21.5,
    finish_reason: "stop",
    keyword_score: 0.5,
    keywords_found: ["notice"],
    keywords_missing: ["thirty"],
    error: null,
    ...over,
  };
}

describe("templates screen", () => {
  it("lists user and built-in templates, renders one with values and counts its tokens", async () => {
    const { calls } = mockCommands({
      list_templates: () => listing,
      get_template: (args) => (args.name === "my-memo" ? view(mine, "user") : view(builtin, "builtin")),
      render_template: (args) => {
        const params = args.params as { preview: boolean };
        return {
          rendered: { template: "statute-qa-en", system: "You are a careful legal researcher.", user: "Task: Answer: notice?", parameters: builtin.parameters },
          evidence_query: null,
          evidence: [],
          preview: params.preview
            ? { text: "<|im_start|>…", format: "chat_template", prompt_tokens: 812, reserved_tokens: 700, context_length: 2048, spare_tokens: 536, fits: true }
            : null,
        };
      },
    });
    render(<TemplatesView matters={[matter]} />);
    const items = await screen.findAllByTestId("template-item");
    expect(items.map((i) => i.dataset.name)).toEqual(["my-memo", "statute-qa-en"]);
    expect(screen.getByText("My templates")).toBeInTheDocument();
    expect(screen.getByText("Built-in")).toBeInTheDocument();

    await userEvent.click(items[1]);
    const detail = await screen.findByTestId("template-detail");
    await waitFor(() => expect(detail.dataset.name).toBe("statute-qa-en"));
    expect(detail).toHaveTextContent("built-in, read-only");
    expect(within(detail).queryByTestId("template-delete")).toBeNull();

    await userEvent.type(screen.getByTestId("try-var-question"), "What notice is needed?");
    await userEvent.selectOptions(screen.getByTestId("try-var-detail"), "detailed");
    await userEvent.click(screen.getByTestId("template-preview"));
    expect(await screen.findByTestId("token-count")).toHaveTextContent(
      "812 prompt tokens + 700 reserved for the answer of 2048: fits (536 spare)",
    );
    expect(screen.getByTestId("rendered-user")).toHaveTextContent("Task: Answer: notice?");
    expect(calls.find((c) => c.cmd === "render_template")?.args.params).toEqual({
      name: "statute-qa-en",
      inputs: { question: "What notice is needed?", detail: "detailed" },
      evidence: null,
      preview: true,
    });
  });

  it("shows a render error with its code", async () => {
    mockCommands({
      list_templates: () => listing,
      get_template: () => view(builtin, "builtin"),
      render_template: () =>
        Promise.reject({ code: "TEMPLATE_MISSING_VARIABLE", message: "variable `question` is required (The question)" }),
    });
    render(<TemplatesView matters={[]} />);
    await userEvent.click((await screen.findAllByTestId("template-item"))[1]);
    await userEvent.click(await screen.findByTestId("template-render"));
    const alert = await screen.findByTestId("render-error");
    expect(alert).toHaveTextContent("TEMPLATE_MISSING_VARIABLE");
    expect(alert).toHaveTextContent("variable `question` is required");
  });

  it("checks TOML as it is typed and saves a user template verbatim", async () => {
    const { calls } = mockCommands({
      list_templates: () => listing,
      get_template: () => view(mine, "user"),
      check_template: (args) =>
        String(args.text).includes("oops")
          ? Promise.reject({ code: "TEMPLATE_SYNTAX", message: "TOML parse error at line 3, column 1" })
          : [{ code: "TEMPLATE_UNUSED_VARIABLE", message: "variable `x` is declared but never used" }],
      save_template: (args) => ({ ...view(mine, "user"), stored: { ...view(mine, "user").stored, text: String(args.text) } }),
    });
    render(<TemplatesView matters={[]} />);
    await screen.findByTestId("template-detail");
    await userEvent.click(screen.getByTestId("template-tab-edit"));
    const editor = screen.getByTestId("template-toml");
    await userEvent.type(editor, "oops");
    await waitFor(() => expect(screen.getByTestId("template-check")).toHaveTextContent("TEMPLATE_SYNTAX"), { timeout: 2000 });
    expect(screen.getByTestId("template-save")).toBeDisabled();

    await userEvent.clear(editor);
    await userEvent.type(editor, 'format = 1{enter}name = "my-memo"');
    await waitFor(() => expect(screen.getByTestId("template-check")).toHaveTextContent("Valid template"), { timeout: 2000 });
    expect(screen.getByTestId("template-warnings")).toHaveTextContent("TEMPLATE_UNUSED_VARIABLE");
    await userEvent.click(screen.getByTestId("template-save"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "save_template")).toBe(true));
    expect(calls.find((c) => c.cmd === "save_template")?.args).toEqual({ name: "my-memo", text: 'format = 1\nname = "my-memo"' });
  });

  it("keeps built-ins read-only and duplicates them under a new name", async () => {
    const { calls } = mockCommands({
      list_templates: () => listing,
      get_template: () => view(builtin, "builtin"),
      duplicate_template: (args) => view({ ...builtin, name: String(args.newName) }, "user"),
    });
    render(<TemplatesView matters={[]} />);
    await userEvent.click((await screen.findAllByTestId("template-item"))[1]);
    await userEvent.click(await screen.findByTestId("template-tab-edit"));
    expect(screen.getByTestId("template-toml")).toHaveAttribute("readonly");
    expect(screen.queryByTestId("template-save")).toBeNull();
    await userEvent.click(screen.getByTestId("template-duplicate"));
    const name = screen.getByTestId("template-duplicate-name");
    await userEvent.clear(name);
    await userEvent.type(name, "my-qa{enter}");
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === "duplicate_template")?.args).toEqual({ from: "statute-qa-en", newName: "my-qa" }),
    );
  });
});

describe("comparison", () => {
  it("streams each run side by side, shows the numbers, and diffs two outputs", async () => {
    let channel: Channel<CompareProgress> | null = null;
    let finish!: (c: Comparison) => void;
    const { calls } = mockCommands({
      list_templates: () => listing,
      get_template: (args) => (args.name === "my-memo" ? view(mine, "user") : view(builtin, "builtin")),
      list_comparisons: () => [],
      compare_templates: (args) => {
        channel = args.onEvent as Channel<CompareProgress>;
        return new Promise((resolve) => (finish = resolve));
      },
      diff_runs: () => [
        { op: "equal", old_line: 1, new_line: 1, spans: [{ changed: false, text: "Answer:" }] },
        { op: "delete", old_line: 2, new_line: null, spans: [{ changed: false, text: "thirty " }, { changed: true, text: "days" }] },
        { op: "insert", old_line: null, new_line: 2, spans: [{ changed: false, text: "thirty " }, { changed: true, text: "(30) days" }] },
      ],
    });
    render(<TemplatesView matters={[matter]} />);
    await screen.findAllByTestId("template-item");
    await userEvent.click(screen.getByTestId("templates-tab-compare"));
    for (const name of ["statute-qa-en", "my-memo"]) {
      await userEvent.selectOptions(screen.getByTestId("compare-add-select"), name);
      await userEvent.click(screen.getByTestId("compare-add"));
    }
    expect(screen.getByTestId("compare-chosen")).toHaveTextContent("statute-qa-en");
    // One form over both templates' variables.
    await userEvent.type(await screen.findByTestId("compare-var-question"), "What notice ends the NDA?");
    await userEvent.type(screen.getByTestId("compare-keywords"), "notice, thirty");
    await userEvent.click(screen.getByTestId("compare-run"));
    await waitFor(() => expect(channel).not.toBeNull());
    expect(calls.find((c) => c.cmd === "compare_templates")?.args.params).toEqual({
      title: "",
      templates: ["statute-qa-en", "my-memo"],
      inputs: { question: "What notice ends the NDA?" },
      keywords: ["notice", "thirty"],
      evidence: null,
      seed: null,
      max_tokens: null,
    });

    act(() => {
      channel!.onmessage({ event: "started", index: 0, total: 2, label: "statute-qa-en" });
      channel!.onmessage({ event: "text", index: 0, text: "Answer: thirty " });
      channel!.onmessage({ event: "text", index: 0, text: "days" });
    });
    const columns = screen.getAllByTestId("run-column");
    expect(columns[0]).toHaveAttribute("data-state", "running");
    expect(columns[0]).toHaveTextContent("Answer: thirty days");
    expect(screen.getByTestId("compare-stop")).toBeEnabled();

    const a = run("statute-qa-en", "Answer:\nthirty days");
    const b = run("my-memo", "Answer:\nthirty (30) days", { keyword_score: 1, keywords_missing: [] });
    act(() => {
      channel!.onmessage({ event: "finished", index: 0, run: a });
      channel!.onmessage({ event: "started", index: 1, total: 2, label: "my-memo" });
      channel!.onmessage({ event: "finished", index: 1, run: b });
    });
    await act(async () =>
      finish({
        format: 1,
        id: "c1",
        created_ms: 1_700_000_000_000,
        title: "",
        model: "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        inputs: { question: "What notice ends the NDA?" },
        evidence: [],
        expected_keywords: ["notice", "thirty"],
        seed: null,
        runs: [a, b],
      }),
    );
    const done = await screen.findAllByTestId("run-column");
    expect(done).toHaveLength(2);
    expect(within(done[0]).getByTestId("run-metrics")).toHaveTextContent("42 tokens · 19 characters · 2.3 s · 21.5 tokens/s");
    expect(within(done[0]).getByTestId("keyword-score")).toHaveTextContent("Keywords: 50 % · missing: thirty");
    expect(within(done[1]).getByTestId("keyword-score")).toHaveTextContent("Keywords: 100 %");

    const diff = await screen.findByTestId("diff");
    expect(calls.find((c) => c.cmd === "diff_runs")?.args).toEqual({ id: "c1", a: 0, b: 1 });
    const lines = within(diff).getAllByRole("row");
    expect(lines.map((l) => l.dataset.op)).toEqual(["equal", "delete", "insert"]);
    expect(lines[2].querySelector("mark")).toHaveTextContent("(30) days");
  });

  it("stops a running comparison through its job", async () => {
    let reject!: (e: unknown) => void;
    const { calls } = mockCommands({
      list_templates: () => listing,
      get_template: () => view(builtin, "builtin"),
      list_comparisons: () => [],
      compare_templates: () => new Promise((_, r) => (reject = r)),
      cancel_job: () => {
        reject({ code: "CANCELLED", message: "cancelled" });
        return true;
      },
    });
    render(<TemplatesView matters={[]} />);
    await userEvent.click((await screen.findAllByTestId("template-item"))[1]);
    await userEvent.click(await screen.findByTestId("template-compare"));
    await userEvent.type(await screen.findByTestId("compare-var-question"), "Q?");
    await userEvent.click(screen.getByTestId("compare-run"));
    await userEvent.click(await screen.findByTestId("compare-stop"));
    const jobId = calls.find((c) => c.cmd === "compare_templates")?.args.jobId;
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ jobId });
    expect(await screen.findByTestId("compare-error")).toHaveTextContent("CANCELLED");
    expect(screen.getByTestId("compare-run")).toBeEnabled();
  });
});

describe("chat template picker", () => {
  it("offers templates that answer questions and sends the chosen one with the question", async () => {
    const { calls } = mockCommands({
      list_templates: () => listing,
      ask: () => Promise.reject({ code: "X", message: "stop here" }),
    });
    render(
      <QueryClientProvider client={createQueryClient(() => undefined)}>
        <ChatView
          matterId={matter.id}
          sessionId={null}
          sessionTitle={null}
          documents={[]}
          showSamples={false}
          onAsked={() => undefined}
          onOpenPanel={() => undefined}
        />
      </QueryClientProvider>,
    );
    const picker = await screen.findByTestId("template-picker");
    const options = within(picker).getAllByRole("option").map((o) => o.textContent);
    expect(options).toEqual(["No template", "My memo", "Statute Q&A with verbatim citations"]);
    await userEvent.selectOptions(picker, "statute-qa-en");
    await userEvent.type(screen.getByTestId("question-input"), "What notice is needed?{enter}");
    await waitFor(() => expect(calls.some((c) => c.cmd === "ask")).toBe(true));
    expect(calls.find((c) => c.cmd === "ask")?.args.params).toMatchObject({
      question: "What notice is needed?",
      template: "statute-qa-en",
      template_inputs: null,
    });
  });
});
