import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, it } from "vitest";
import App from "../App";
import type { AnswerStreamEvent, AskResult, IngestEvent, IngestSummary, Settings } from "../bindings";
import { answer, doc, matter, mockCommands, turn } from "./fixtures";

const summary = (over: Partial<IngestSummary> = {}): IngestSummary => ({
  files: 1,
  indexed: 1,
  already_indexed: 0,
  failed: [],
  skipped: 0,
  pages: 4,
  ocr_pages: 0,
  chunks: 12,
  tokens: 3000,
  bytes: 120000,
  seconds: 2.5,
  embed_seconds: 2,
  pages_per_second: 1.6,
  cancelled: false,
  vector_index: null,
  ...over,
});

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("language", () => {
  it("switches between English and Chinese and remembers the choice", async () => {
    mockCommands({});
    render(<App />);
    expect(await screen.findByRole("heading", { name: "Matters" })).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByTestId("language-select"), "zh-CN");
    expect(await screen.findByRole("heading", { name: "案件" })).toBeInTheDocument();
    expect(screen.getByTestId("tab-documents")).toHaveTextContent("文件");
    expect(localStorage.getItem("lexdesk.language")).toBe("zh-CN");
    expect(document.documentElement.lang).toBe("zh-CN");
    await userEvent.selectOptions(screen.getByTestId("language-select"), "en");
    expect(await screen.findByRole("heading", { name: "Matters" })).toBeInTheDocument();
  });

  it("switches the theme", async () => {
    mockCommands({});
    render(<App />);
    await userEvent.selectOptions(screen.getByTestId("theme-select"), "dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(localStorage.getItem("lexdesk.theme")).toBe("dark");
    await userEvent.selectOptions(screen.getByTestId("theme-select"), "system");
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });
});

describe("matters", () => {
  it("selects the first matter and creates one with Enter", async () => {
    const created = { id: "m2", name: "New lease", created_at_ms: 1, embedder: null };
    let list = [matter];
    mockCommands({
      list_matters: () => list,
      create_matter: (args) => {
        expect(args.name).toBe("New lease");
        list = [matter, created];
        return created;
      },
    });
    render(<App />);
    const first = await screen.findByRole("button", { name: "Acme v. Beta" });
    await waitFor(() => expect(first).toHaveAttribute("aria-current", "true"));
    await userEvent.click(screen.getByTestId("matter-new"));
    await userEvent.type(screen.getByTestId("matter-name-input"), "New lease{Enter}");
    await waitFor(() =>
      expect(screen.getAllByTestId("matter-item").find((e) => e.dataset.name === "New lease")).toHaveAttribute(
        "aria-current",
        "true",
      ),
    );
  });
});

describe("documents", () => {
  it("shows why a document failed and retries it", async () => {
    let docs = [
      doc(),
      doc({
        id: "d2",
        file_name: "scan.pdf",
        status: "failed",
        error_code: "PDF_ENCRYPTED",
        error_message: "The PDF is password-protected.",
        ocr_pages: 0,
      }),
    ];
    const { calls } = mockCommands({
      list_documents: () => docs,
      retry_document: (args) => {
        const ch = args.onEvent as Channel<IngestEvent>;
        ch.onmessage({ event: "started", files: 1 });
        ch.onmessage({ event: "extracted", index: 1, path: "/docs/scan.pdf", pages: 2, ocr_pages: 2, chunks: 3, seconds: 1 });
        ch.onmessage({ event: "embedding", index: 1, path: "/docs/scan.pdf", pages_done: 1, pages: 2, chunks_done: 1, chunks: 3 });
        docs = docs.map((d) => (d.id === "d2" ? { ...d, status: "indexed", ocr_pages: 2, error_code: null, error_message: null } : d));
        return summary({ pages: 2, ocr_pages: 2 });
      },
    });
    render(<App />);
    const rows = await screen.findAllByTestId("doc-row");
    const failed = rows.find((r) => r.dataset.file === "scan.pdf")!;
    expect(failed.dataset.status).toBe("failed");
    const reason = within(failed).getByTestId("doc-error");
    expect(reason).toHaveTextContent("PDF_ENCRYPTED");
    expect(reason).toHaveTextContent("The PDF is password-protected.");

    await userEvent.click(within(failed).getByRole("button", { name: "Retry" }));
    expect(await screen.findByTestId("ingest-summary")).toHaveTextContent(
      "Indexed 1 · already there 0 · failed 0 · 2 pages in 2.5 s",
    );
    const retry = calls.find((c) => c.cmd === "retry_document")!;
    expect(retry.args).toMatchObject({ matterId: "m1", docId: "d2" });
    expect(typeof retry.args.jobId).toBe("string");
    await waitFor(() =>
      expect(screen.getAllByTestId("doc-row").find((r) => r.dataset.file === "scan.pdf")?.dataset.status).toBe("indexed"),
    );
    expect(screen.getByText("OCR 2")).toBeInTheDocument();
  });

  it("adds a pasted path and shows progress while it runs", async () => {
    const done = deferred<IngestSummary>();
    let channel: Channel<IngestEvent> | null = null;
    const { calls } = mockCommands({
      add_documents: (args) => {
        channel = args.onEvent as Channel<IngestEvent>;
        return done.promise;
      },
      cancel_job: () => true,
    });
    render(<App />);
    await userEvent.type(await screen.findByTestId("add-path-input"), "/share/lease.docx");
    await userEvent.click(screen.getByTestId("add-path-submit"));
    await waitFor(() => expect(channel).not.toBeNull());
    act(() => {
      channel!.onmessage({ event: "started", files: 1 });
      channel!.onmessage({ event: "extracted", index: 1, path: "/share/lease.docx", pages: 10, ocr_pages: 0, chunks: 20, seconds: 1 });
      channel!.onmessage({ event: "embedding", index: 1, path: "/share/lease.docx", pages_done: 5, pages: 10, chunks_done: 10, chunks: 20 });
    });
    const progress = screen.getByTestId("ingest-progress");
    expect(progress).toHaveTextContent("File 1 of 1");
    expect(progress).toHaveTextContent("lease.docx");
    expect(progress).toHaveTextContent("5 / 10 pages (50%)");
    await userEvent.click(within(progress).getByRole("button", { name: "Cancel" }));
    expect(calls.find((c) => c.cmd === "cancel_job")?.args.jobId).toBe(calls.find((c) => c.cmd === "add_documents")?.args.jobId);
    expect(calls.find((c) => c.cmd === "add_documents")?.args.paths).toEqual(["/share/lease.docx"]);
    await act(async () => done.resolve(summary({ cancelled: true, indexed: 0, pages: 0 })));
    expect(await screen.findByTestId("ingest-summary")).toHaveTextContent("Cancelled");
    expect(screen.queryByTestId("ingest-progress")).toBeNull();
  });

  it("shows a rejected command as a toast with its code", async () => {
    mockCommands({ list_documents: () => Promise.reject({ code: "MATTER_NOT_FOUND", message: "No such matter." }) });
    render(<App />);
    const toast = await screen.findByTestId("toast");
    expect(toast).toHaveTextContent("No such matter.");
    expect(toast).toHaveTextContent("MATTER_NOT_FOUND");
  });
});

describe("ask", () => {
  it("streams text, stops, then renders the final answer with chips and the citation panel", async () => {
    const final = deferred<AskResult>();
    let channel: Channel<AnswerStreamEvent> | null = null;
    const a = answer({ stopped: true });
    const { calls } = mockCommands({
      list_documents: () => [doc()],
      ask: (args) => {
        channel = args.onEvent as Channel<AnswerStreamEvent>;
        return final.promise;
      },
      cancel_job: () => true,
      get_page: () => ({
        doc_id: "d1",
        file_name: "nda.pdf",
        title: "Mutual NDA",
        format: "pdf",
        number: 3,
        page_count: 4,
        text: "Each side thirty (30) days' written notice to the other.",
        provenance: { kind: "ocr", confidence: 93 },
        extractor: "pdf",
      }),
    });
    render(<App />);
    await userEvent.click(await screen.findByTestId("tab-chat"));
    await userEvent.type(screen.getByTestId("question-input"), "How much notice?{Enter}");
    await waitFor(() => expect(channel).not.toBeNull());
    expect(calls.find((c) => c.cmd === "ask")?.args).toMatchObject({
      matterId: "m1",
      params: { question: "How much notice?", session_id: null, doc: null, mode: "generate" },
    });
    act(() => {
      channel!.onmessage({ kind: "retrieved", searched: a.searched });
      channel!.onmessage({ kind: "text", text: "Either party may " });
      channel!.onmessage({ kind: "text", text: "terminate" });
    });
    const streaming = screen.getByTestId("answer");
    expect(streaming.dataset.state).toBe("streaming");
    expect(streaming).toHaveTextContent("Either party may terminate");

    await userEvent.click(screen.getByTestId("stop-button"));
    const askJob = calls.find((c) => c.cmd === "ask")!.args.jobId;
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ jobId: askJob });

    await act(async () =>
      final.resolve({
        session: { id: "s1", title: "How much notice?", turns: 1, created_at_ms: 1, updated_at_ms: 1 },
        turn: turn(a, "How much notice?"),
      }),
    );
    const done = await screen.findByTestId("answer");
    await waitFor(() => expect(done.dataset.state).toBe("done"));
    expect(done.dataset.abstained).toBe("false");
    expect(done).toHaveTextContent("Stopped");
    // The answer names the model that wrote it.
    expect(within(done).getByTestId("answer-model")).toHaveTextContent("qwen");
    const chips = await within(done).findAllByTestId("citation-chip");
    expect(chips.map((c) => `${c.dataset.id}:${c.dataset.verified}`)).toEqual(["S1:true", "S2:false"]);
    expect(screen.getByTestId("ask-submit")).toBeInTheDocument();

    await userEvent.click(chips[0]);
    const panel = await screen.findByTestId("citation-panel");
    expect(within(panel).getByTestId("citation-badge")).toHaveTextContent("Verified");
    expect(panel).toHaveTextContent("OCR · 93% confidence");
    expect(panel).toHaveTextContent("Page 3 of 4");
    await waitFor(() => expect(panel.querySelector("mark.quote-highlight")?.textContent).toBe("thirty (30) days' written notice"));
    expect(calls.find((c) => c.cmd === "get_page")?.args).toEqual({ matterId: "m1", docId: "d1", page: 3 });
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByTestId("citation-panel")).toBeNull();
  });

  it("shows the abstention notice and what was searched", async () => {
    const abstained = answer({
      answer: "The documents of this matter do not say how long the probation period is.",
      abstained: true,
      abstention: { code: "NO_RELEVANT_PASSAGES", message: "No passage addresses the question." },
      citations: [],
    });
    // The question named a file, so only that file was searched: the answer says so.
    abstained.searched = { ...abstained.searched, doc: "nda-0039.txt", doc_named: true };
    mockCommands({
      list_documents: () => [doc()],
      ask: (args) => {
        const ch = args.onEvent as Channel<AnswerStreamEvent>;
        ch.onmessage({ kind: "retrieved", searched: abstained.searched });
        return { session: { id: "s1", title: "q", turns: 1, created_at_ms: 1, updated_at_ms: 1 }, turn: turn(abstained) };
      },
    });
    render(<App />);
    await userEvent.click(await screen.findByTestId("tab-chat"));
    await userEvent.type(screen.getByTestId("question-input"), "Probation?");
    await userEvent.click(screen.getByTestId("ask-submit"));
    const notice = await screen.findByTestId("abstention");
    expect(notice).toHaveTextContent("The documents of this matter do not address this question");
    expect(notice).toHaveTextContent("do not say how long the probation period is");
    expect(screen.getByTestId("answer").dataset.abstained).toBe("true");
    expect(screen.getByTestId("searched")).toHaveTextContent("notice to terminate");
    expect(screen.getByTestId("searched")).toHaveTextContent("nda-0039.txt (named in the question)");
    expect(screen.getByTestId("scope-note")).toHaveTextContent(
      "Searched only nda-0039.txt, which the question names. To search the whole matter, ask without the file name.",
    );
    // Once the Markdown renderer has loaded, still no chip: nothing is cited.
    await waitFor(() => expect(notice.querySelector(".markdown-loading")).toBeNull());
    expect(notice.querySelector(".markdown")).not.toBeNull();
    expect(screen.queryAllByTestId("citation-chip")).toHaveLength(0);
  });

  it("keeps Shift+Enter as a new line", async () => {
    const { calls } = mockCommands({});
    render(<App />);
    await userEvent.click(await screen.findByTestId("tab-chat"));
    const input = screen.getByTestId("question-input");
    await userEvent.type(input, "line one{Shift>}{Enter}{/Shift}line two");
    expect(input).toHaveValue("line one\nline two");
    expect(calls.some((c) => c.cmd === "ask")).toBe(false);
  });
});

describe("settings", () => {
  it("saves the edited values", async () => {
    const settings: Settings = {
      chat_model: "/models/qwen-7b.gguf",
      embed_model: "/models/bge-m3.gguf",
      threads: null,
      gpu_layers: "auto",
      context_length: null,
      max_tokens: 1024,
      rerank: "auto",
      home: "/home/u/.lexdesk",
      available_models: [
        { file_name: "qwen-7b.gguf", path: "/models/qwen-7b.gguf", size_bytes: 4e9, kind: "chat", description: null },
        { file_name: "qwen-14b.gguf", path: "/models/qwen-14b.gguf", size_bytes: 8e9, kind: "chat", description: null },
        { file_name: "bge-m3.gguf", path: "/models/bge-m3.gguf", size_bytes: 6e8, kind: "embedding", description: null },
      ],
    };
    const { calls } = mockCommands({
      get_settings: () => settings,
      update_settings: () => ({ ...settings, chat_model: "/models/qwen-14b.gguf", threads: 6, gpu_layers: "20", max_tokens: 2048 }),
      hardware: () => ({
        cpu: "Test CPU",
        physical_cores: 8,
        logical_cpus: 16,
        memory_total: 32 * 2 ** 30,
        memory_available: 20 * 2 ** 30,
        devices: [{ name: "gpu0", description: "Test GPU", backend: "CUDA", is_gpu: true, memory_total: 8 * 2 ** 30, memory_free: 6 * 2 ** 30 }],
      }),
      app_info: () => ({ version: "0.1.0", home: "/home/u/.lexdesk" }),
    });
    render(<App />);
    await userEvent.click(screen.getByTestId("nav-settings"));
    await userEvent.selectOptions(await screen.findByLabelText("Chat model"), "/models/qwen-14b.gguf");
    await userEvent.type(screen.getByLabelText("Threads"), "6");
    await userEvent.selectOptions(screen.getByLabelText("GPU layers"), "number");
    await userEvent.type(screen.getByLabelText("Number of layers"), "20");
    const maxTokens = screen.getByLabelText("Maximum answer tokens");
    await userEvent.clear(maxTokens);
    await userEvent.type(maxTokens, "2048");
    await userEvent.selectOptions(screen.getByLabelText("Rerank search results"), "off");
    expect(screen.getByText("Test GPU")).toBeInTheDocument();
    expect(screen.getByText("/home/u/.lexdesk")).toBeInTheDocument();
    await userEvent.click(screen.getByTestId("settings-save"));
    await screen.findByText(/Saved/);
    expect(calls.find((c) => c.cmd === "update_settings")?.args).toEqual({
      update: {
        chat_model: "/models/qwen-14b.gguf",
        embed_model: null,
        threads: 6,
        gpu_layers: "20",
        context_length: null,
        max_tokens: 2048,
        rerank: "off",
      },
    });
  });

  it("shows a failed save inline", async () => {
    const settings: Settings = {
      chat_model: "a.gguf",
      embed_model: "b.gguf",
      threads: 4,
      gpu_layers: "auto",
      context_length: 8192,
      max_tokens: 512,
      rerank: "auto",
      home: "/h",
      available_models: [],
    };
    mockCommands({
      get_settings: () => settings,
      update_settings: () => Promise.reject({ code: "MODEL_NOT_FOUND", message: "The model file is missing." }),
      hardware: () => ({ cpu: "c", physical_cores: 1, logical_cpus: 1, memory_total: 1, memory_available: 1, devices: [] }),
      app_info: () => ({ version: "0.1.0", home: "/h" }),
    });
    render(<App />);
    await userEvent.click(screen.getByTestId("nav-settings"));
    const ctx = await screen.findByLabelText("Context length");
    await userEvent.clear(ctx);
    await userEvent.click(screen.getByTestId("settings-save"));
    const alert = await screen.findByText("The model file is missing.");
    expect(alert.closest("[role=alert]")).toHaveTextContent("MODEL_NOT_FOUND");
  });
});
