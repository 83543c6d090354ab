import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { DiscoveredModel } from "../bindings";
import { mockCommands } from "../test/fixtures";
import { HubToken, LocalModels } from "./LocalModels";

const found: DiscoveredModel[] = [
  {
    source: "Ollama",
    name: "qwen2.5:7b",
    path: "/home/u/.ollama/models/blobs/sha256-abc",
    size_bytes: 4_683_073_184,
    projector: false,
    imported: false,
  },
  {
    source: "LM Studio",
    name: "lmstudio-community/Qwen2.5-VL-GGUF/mmproj-f16.gguf",
    path: "/home/u/.lmstudio/models/mmproj-f16.gguf",
    size_bytes: 1_300_000_000,
    projector: true,
    imported: false,
  },
];

describe("models on this machine", () => {
  it("finds other apps' models and uses one in place", async () => {
    const { calls } = mockCommands({
      discover_models: () => found,
      import_model: () => ({
        file_name: "qwen2.5:7b",
        path: found[0].path,
        size_bytes: found[0].size_bytes,
        kind: "chat",
        description: "Qwen2.5 7B · qwen2 · Q4_K_M",
      }),
    });
    render(<LocalModels />);
    await userEvent.click(screen.getByTestId("discover-models"));
    const rows = await screen.findAllByTestId("discovered-row");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("Ollama");
    expect(rows[0]).toHaveTextContent(/\d(\.\d)? GB/);
    // A projector is not a model on its own.
    expect(within(rows[1]).queryByRole("button")).toBeNull();
    expect(rows[1]).toHaveTextContent("vision projector");

    await userEvent.click(within(rows[0]).getByRole("button", { name: "Use in place" }));
    await waitFor(() => expect(within(rows[0]).getByText("in use")).toBeInTheDocument());
    expect(calls.find((c) => c.cmd === "import_model")?.args).toEqual({ path: found[0].path, name: null });
  });

  it("shows why a file cannot be used", async () => {
    mockCommands({
      discover_models: () => [found[0]],
      import_model: () =>
        Promise.reject({ code: "NOT_GGUF", message: "not a GGUF model: it looks like an HTML, XML or JSON text file" }),
    });
    render(<LocalModels />);
    await userEvent.click(screen.getByTestId("discover-models"));
    await userEvent.click(await screen.findByRole("button", { name: "Use in place" }));
    const alert = await screen.findByTestId("import-error");
    expect(alert).toHaveTextContent("NOT_GGUF");
    expect(alert).toHaveTextContent("HTML");
  });

  it("says when nothing was found", async () => {
    mockCommands({ discover_models: () => [] });
    render(<LocalModels />);
    await userEvent.click(screen.getByTestId("discover-models"));
    expect(await screen.findByTestId("discovered-none")).toBeInTheDocument();
  });
});

describe("Hugging Face token", () => {
  it("stores the token in the keychain without showing it again, and removes it", async () => {
    let stored = false;
    const status = () => ({ stored, from_environment: false, backend: "keychain", message: null });
    const { calls } = mockCommands({
      hub_token_status: status,
      set_hub_token: (args) => {
        stored = args.token !== null;
        return status();
      },
    });
    render(<HubToken />);
    expect(await screen.findByTestId("hub-status")).toHaveTextContent("No token is stored.");
    const input = screen.getByTestId("hub-token-input");
    expect(input).toHaveAttribute("type", "password");
    await userEvent.type(input, "hf_secret{enter}");
    await waitFor(() => expect(screen.getByTestId("hub-status")).toHaveTextContent("A token is stored (system keychain)."));
    expect(calls.find((c) => c.cmd === "set_hub_token")?.args).toEqual({ token: "hf_secret" });
    expect(input).toHaveValue("");
    await userEvent.click(screen.getByTestId("hub-token-remove"));
    await waitFor(() => expect(screen.getByTestId("hub-status")).toHaveTextContent("No token is stored."));
  });

  it("explains when there is no secret store", async () => {
    mockCommands({
      hub_token_status: () => ({
        stored: false,
        from_environment: false,
        backend: null,
        message: "no keychain is available; set LEXDESK_SECRETS_PASSPHRASE to use an encrypted file",
      }),
    });
    render(<HubToken />);
    expect(await screen.findByText(/no keychain is available/)).toBeInTheDocument();
  });
});
