import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "../App";
import type { Matter, Settings } from "../bindings";
import { announce, doc, matter, mockCommands } from "../test/fixtures";

const other: Matter = { id: "m2", name: "Lease review", created_at_ms: 2, embedder: null };

describe("the data layer follows the shell's announcements", () => {
  it("refetches a matter's documents when the shell says they changed, and only then", async () => {
    let docs = [doc()];
    const { calls } = mockCommands({ list_documents: () => docs });
    render(<App />);
    expect(await screen.findAllByText("Mutual NDA")).not.toHaveLength(0);
    const fetches = () => calls.filter((c) => c.cmd === "list_documents").length;
    const before = fetches();
    // Another matter's change does not touch this list.
    await announce("documents-changed", { matter_id: "elsewhere" });
    await new Promise((r) => setTimeout(r, 20));
    expect(fetches()).toBe(before);
    // A file finished in an ingestion of this matter (announced while it runs).
    docs = [doc(), doc({ id: "d2", file_name: "lease.pdf", title: "Office lease" })];
    await announce("documents-changed", { matter_id: matter.id });
    expect(await screen.findAllByText("Office lease")).not.toHaveLength(0);
    expect(fetches()).toBe(before + 1);
  });

  it("shows a matter renamed elsewhere (another window, the CLI on the same data)", async () => {
    let list = [matter];
    mockCommands({ list_matters: () => list });
    render(<App />);
    expect(await screen.findByRole("button", { name: "Acme v. Beta" })).toBeInTheDocument();
    list = [{ ...matter, name: "Acme v. Beta (settled)" }];
    await announce("matters-changed", {});
    expect(await screen.findByRole("button", { name: "Acme v. Beta (settled)" })).toBeInTheDocument();
  });

  it("selects another matter when the selected one is deleted", async () => {
    let list = [matter, other];
    mockCommands({ list_matters: () => list, delete_matter: () => ((list = [other]), null) });
    render(<App />);
    const first = await screen.findByRole("button", { name: "Acme v. Beta" });
    await waitFor(() => expect(first).toHaveAttribute("aria-current", "true"));
    list = [other];
    await announce("matters-changed", {});
    await waitFor(() =>
      expect(screen.getByRole("button", { name: "Lease review" })).toHaveAttribute("aria-current", "true"),
    );
    expect(screen.queryByRole("button", { name: "Acme v. Beta" })).toBeNull();
  });

  it("knows the demo matter by the id the desk recorded, even renamed", async () => {
    const demo: Matter = { id: "demo1", name: "My samples", created_at_ms: 3, embedder: null };
    mockCommands({ list_matters: () => [demo, matter], demo_matter_id: () => "demo1" });
    render(<App />);
    await userEvent.click(await screen.findByRole("button", { name: "My samples" }));
    await userEvent.click(screen.getByTestId("tab-chat"));
    expect(await screen.findAllByTestId("sample-question")).not.toHaveLength(0);
    // A matter merely named "Demo" is not the demo.
    await userEvent.click(screen.getByRole("button", { name: "Acme v. Beta" }));
    await userEvent.click(screen.getByTestId("tab-chat"));
    await waitFor(() => expect(screen.queryAllByTestId("sample-question")).toHaveLength(0));
  });

  it("offers a model imported elsewhere in the settings once the shell says so", async () => {
    const settings = (models: string[]): Settings => ({
      chat_model: "/m/a.gguf",
      embed_model: "/m/e.gguf",
      threads: null,
      gpu_layers: "auto",
      context_length: null,
      max_tokens: 512,
      rerank: "auto",
      home: "/h",
      available_models: models.map((file_name) => ({
        file_name,
        path: `/m/${file_name}`,
        size_bytes: 1e9,
        kind: "chat",
        description: null,
      })),
    });
    let current = settings(["a.gguf"]);
    mockCommands({
      get_settings: () => current,
      hardware: () => ({ cpu: "x", physical_cores: 2, logical_cpus: 2, memory_total: 1, memory_available: 1, devices: [] }),
      app_info: () => ({ version: "0.1.0", home: "/h" }),
    });
    render(<App />);
    await userEvent.click(await screen.findByTestId("nav-settings"));
    const select = await screen.findByLabelText("Chat model");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).not.toContain("b.gguf");
    current = settings(["a.gguf", "b.gguf"]);
    await announce("settings-changed", {});
    await waitFor(() =>
      expect(within(select).getAllByRole("option").some((o) => o.textContent?.includes("b.gguf"))).toBe(true),
    );
  });
});
