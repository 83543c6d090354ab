import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "../App";
import type { MatterEmbedder } from "../bindings";
import { doc, matter, mockCommands } from "../test/fixtures";

const minilm = { model: "all-MiniLM-L6-v2-q8_0.gguf", path: null, endpoint: null, dimensions: 384 };

describe("a matter built with another embedding model", () => {
  it("says which model it searches with and re-embeds it with the configured one", async () => {
    let status: MatterEmbedder = {
      built_with: minilm,
      recorded: true,
      configured: "multilingual-e5-small-q4_0.gguf",
      current: false,
    };
    const { calls } = mockCommands({
      list_documents: () => [doc()],
      matter_embedder: () => status,
      reembed_matter: () => {
        status = { ...status, built_with: { ...minilm, model: "multilingual-e5-small-q4_0.gguf" }, current: true };
        return { documents: 1, resumed: 0, reembedded: 1, chunks: 4, failed: 0, cancelled: false, seconds: 1 };
      },
    });
    render(<App />);
    const notice = await screen.findByTestId("embedder-notice");
    expect(notice).toHaveTextContent("all-MiniLM-L6-v2-q8_0.gguf");
    expect(notice).toHaveTextContent("multilingual-e5-small-q4_0.gguf");
    await userEvent.click(screen.getByTestId("reembed"));
    // The shell announces the change; the notice goes once the matter is on the configured model.
    await waitFor(() => expect(screen.queryByTestId("embedder-notice")).toBeNull());
    expect(calls.find((c) => c.cmd === "reembed_matter")?.args.matterId).toBe(matter.id);
  });

  it("says nothing for a matter on the configured model", async () => {
    mockCommands({ list_documents: () => [doc()] });
    render(<App />);
    expect(await screen.findAllByText("Mutual NDA")).not.toHaveLength(0);
    expect(screen.queryByTestId("embedder-notice")).toBeNull();
  });
});
