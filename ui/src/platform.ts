// Thin wrappers over the Tauri APIs that are not commands: channels, native dialogs,
// window drag and drop, the clipboard. Kept apart so that tests can run without a webview.
import { Channel } from "@tauri-apps/api/core";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open, save } from "@tauri-apps/plugin-dialog";
import type { ErrorKind, IpcError } from "./bindings";

export function channel<T>(onMessage: (message: T) => void): Channel<T> {
  return new Channel<T>(onMessage);
}

export function newJobId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  return `job-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** Normalises anything a rejected command (or other failure) can produce. */
export function toIpcError(error: unknown): IpcError {
  if (error && typeof error === "object" && "message" in error) {
    const e = error as { kind?: unknown; code?: unknown; message?: unknown };
    return {
      kind: typeof e.kind === "string" ? (e.kind as ErrorKind) : "internal",
      code: typeof e.code === "string" ? e.code : "ERROR",
      message: String(e.message),
    };
  }
  return { kind: "internal", code: "ERROR", message: String(error) };
}

function asList(picked: string | string[] | null): string[] {
  if (picked === null) return [];
  return Array.isArray(picked) ? picked : [picked];
}

export async function pickFiles(): Promise<string[]> {
  return asList(await open({ multiple: true, directory: false }));
}

export async function pickFolder(): Promise<string[]> {
  return asList(await open({ multiple: true, directory: true }));
}

export async function pickFile(extension: string): Promise<string | null> {
  const picked = await open({
    multiple: false,
    directory: false,
    filters: [{ name: extension.toUpperCase(), extensions: [extension] }],
  });
  return asList(picked)[0] ?? null;
}

/** One file of any of several types (`label` names them in the dialog's filter). */
export async function pickFileOf(label: string, extensions: string[]): Promise<string | null> {
  const picked = await open({ multiple: false, directory: false, filters: [{ name: label, extensions }] });
  return asList(picked)[0] ?? null;
}

export async function pickSavePath(defaultName: string, extension: string): Promise<string | null> {
  return await save({
    defaultPath: defaultName,
    filters: [{ name: extension.toUpperCase(), extensions: [extension] }],
  });
}

export type DropState = "over" | "idle";

/** Subscribes to files and folders dragged onto the window. Returns an unsubscribe function. */
export function onFileDrop(
  onState: (state: DropState) => void,
  onDrop: (paths: string[]) => void,
): () => void {
  let unlisten: (() => void) | null = null;
  let cancelled = false;
  try {
    getCurrentWebview()
      .onDragDropEvent((event) => {
        const payload = event.payload;
        if (payload.type === "enter" || payload.type === "over") {
          onState("over");
        } else if (payload.type === "drop") {
          onState("idle");
          if (payload.paths.length > 0) onDrop(payload.paths);
        } else {
          onState("idle");
        }
      })
      .then((fn) => {
        if (cancelled) fn();
        else unlisten = fn;
      })
      .catch(() => undefined);
  } catch {
    // Not inside a Tauri webview (tests, plain browser): no drag and drop.
  }
  return () => {
    cancelled = true;
    unlisten?.();
  };
}

export async function copyText(text: string): Promise<void> {
  await navigator.clipboard.writeText(text);
}
