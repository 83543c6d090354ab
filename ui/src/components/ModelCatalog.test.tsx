import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, it } from "vitest";
import type { CatalogEntry, DownloadEvent, FitReport, ModelCatalog as Catalog } from "../bindings";
import { mockCommands } from "../test/fixtures";
import { ModelCatalog, applyDownloadEvent, formatEta, type DownloadState } from "./ModelCatalog";

const fit = (quant: string, over: Partial<FitReport> = {}): FitReport => ({
  id: "qwen2.5-1.5b-instruct",
  quant,
  weights: 1_117_320_736,
  weights_exact: true,
  context_length: 8192,
  need: 1_600_000_000,
  verdict: "fits_cpu",
  gpu_layers: 0,
  threads: 2,
  interactive: true,
  ...over,
});

const entry: CatalogEntry = {
  id: "qwen2.5-1.5b-instruct",
  name: "Qwen2.5 1.5B Instruct",
  kind: "chat",
  architecture: "qwen2",
  publisher: "Qwen",
  license: "Apache-2.0",
  license_url: null,
  gated: false,
  commercial_use: true,
  languages: ["zh", "en"],
  parameters: 1_540_000_000,
  context_length: 32768,
  layers: 28,
  kv_heads: 2,
  head_dim: 128,
  embedding_length: 1536,
  vocab_size: 151936,
  description: "Small bilingual model",
  sources: ["https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF"],
  files: [
    { quant: "Q4_K_M", repo: "Qwen/Qwen2.5-1.5B-Instruct-GGUF", file: "q4.gguf", revision: null, size: null, sha256: null },
    { quant: "Q8_0", repo: "Qwen/Qwen2.5-1.5B-Instruct-GGUF", file: "q8.gguf", revision: null, size: null, sha256: null },
  ],
  projector: null,
  fits: [fit("Q4_K_M"), fit("Q8_0", { verdict: "fits_cpu", interactive: false, weights: 1_650_000_000, weights_exact: false })],
  installed: [],
};

const catalog = (installed: string[] = []): Catalog => ({
  entries: [{ ...entry, installed }],
  chat: { kind: "chat", fit: fit("Q4_K_M"), reason: "the largest chat model that runs at an interactive rate here" },
  embedding: null,
  models_dir: "/home/u/.lexdesk/models",
});

describe("model catalog", () => {
  it("shows fits and the recommendation, downloads with progress, speed and ETA, and marks it installed", async () => {
    let channel: Channel<DownloadEvent> | null = null;
    let finish!: () => void;
    let installed: string[] = [];
    const { calls } = mockCommands({
      model_catalog: () => catalog(installed),
      download_model: (args) => {
        channel = args.onEvent as Channel<DownloadEvent>;
        return new Promise((resolve) => {
          finish = () => {
            installed = ["Q4_K_M"];
            resolve([]);
          };
        });
      },
    });
    render(<ModelCatalog />);
    const row = await screen.findByTestId("catalog-row-qwen2.5-1.5b-instruct:Q4_K_M");
    expect(screen.getByTestId("recommended-chat")).toHaveTextContent("qwen2.5-1.5b-instruct Q4_K_M");
    expect(within(row).getByText("fits (CPU)")).toBeInTheDocument();
    const q8 = screen.getByTestId("catalog-row-qwen2.5-1.5b-instruct:Q8_0");
    expect(q8).toHaveTextContent("(slow here)");
    expect(q8).toHaveTextContent("~");

    await userEvent.click(within(row).getByRole("button", { name: "Download" }));
    await waitFor(() => expect(channel).not.toBeNull());
    expect(calls.find((c) => c.cmd === "download_model")?.args).toMatchObject({ id: "qwen2.5-1.5b-instruct", quant: "Q4_K_M" });
    act(() => {
      channel!.onmessage({ event: "started", total: 1000 * 1024 * 1024, resumed_from: 0 });
      channel!.onmessage({ event: "progress", downloaded: 250 * 1024 * 1024, total: 1000 * 1024 * 1024, bytes_per_sec: 5 * 1024 * 1024, eta_secs: 150 });
    });
    const progress = screen.getByTestId("download-progress");
    expect(progress).toHaveTextContent("250 MB of 1000 MB · 5.0 MB/s · 2 min 30 s left");
    // Other downloads wait for this one.
    expect(within(q8).getByRole("button", { name: "Download" })).toBeDisabled();
    act(() => channel!.onmessage({ event: "retrying", attempt: 2, delay_secs: 1, reason: "HTTP 503" }));
    expect(progress).toHaveTextContent("retrying (HTTP 503)");
    act(() => channel!.onmessage({ event: "verifying" }));
    expect(progress).toHaveTextContent("Verifying checksum");

    await act(async () => finish());
    await waitFor(() => expect(within(row).getByText("Installed")).toBeInTheDocument());
  });

  it("cancels a download and shows why a download failed", async () => {
    // The download ends only when it is cancelled, as the real one does: no timer races the click.
    let cancelled: (() => void) | undefined;
    const { calls } = mockCommands({
      model_catalog: () => catalog(),
      download_model: () =>
        new Promise((_, reject) => {
          cancelled = () => reject({ code: "CANCELLED", message: "download cancelled; 1 bytes kept" });
        }),
      cancel_job: () => {
        cancelled?.();
        return true;
      },
    });
    render(<ModelCatalog />);
    const row = await screen.findByTestId("catalog-row-qwen2.5-1.5b-instruct:Q4_K_M");
    await userEvent.click(within(row).getByRole("button", { name: "Download" }));
    await userEvent.click(await screen.findByRole("button", { name: "Cancel" }));
    const jobId = calls.find((c) => c.cmd === "download_model")?.args.jobId;
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ jobId });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("CANCELLED");
    expect(within(row).getByRole("button", { name: "Download" })).toBeEnabled();
  });
});

describe("download state", () => {
  it("follows the events and formats the time left", () => {
    const s0: DownloadState = { key: "k", jobId: "j", downloaded: 0, total: null, bytesPerSec: 0, etaSecs: null, verifying: false, retry: null };
    const s1 = applyDownloadEvent(s0, { event: "started", total: 100, resumed_from: 40 });
    expect(s1).toMatchObject({ downloaded: 40, total: 100 });
    const s2 = applyDownloadEvent(s1, { event: "progress", downloaded: 70, total: 100, bytes_per_sec: 10, eta_secs: 3 });
    expect(s2).toMatchObject({ downloaded: 70, bytesPerSec: 10, etaSecs: 3 });
    expect(formatEta(42)).toBe("42 s");
    expect(formatEta(3725)).toBe("1 h 2 min");
  });
});
