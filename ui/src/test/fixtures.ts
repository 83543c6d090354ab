import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Answer, Citation, DocumentRecord, Matter, Passage, SessionTurn } from "../bindings";

export const matter: Matter = { id: "m1", name: "Acme v. Beta", created_at_ms: 1_700_000_000_000, embedder: null };

export function doc(over: Partial<DocumentRecord> = {}): DocumentRecord {
  return {
    id: "d1",
    file_name: "nda.pdf",
    source_path: "/docs/nda.pdf",
    title: "Mutual NDA",
    format: "pdf",
    size_bytes: 120_000,
    page_count: 4,
    chunk_count: 12,
    ocr_pages: 0,
    status: "indexed",
    error_code: null,
    error_message: null,
    extractor: "pdf",
    added_at_ms: 1_700_000_000_000,
    ...over,
  };
}

export function passage(over: Partial<Passage> = {}): Passage {
  return {
    id: "S1",
    chunk_id: "c1",
    doc_id: "d1",
    doc: "nda.pdf",
    source: "nda.pdf#p3",
    title: "Mutual NDA",
    page: 3,
    page_end: null,
    heading: "Termination",
    score: 0.82,
    vector_score: 0.7,
    term_coverage: 1,
    structural: false,
    relevant: true,
    in_prompt: true,
    ...over,
  };
}

export function citation(over: Partial<Citation> = {}): Citation {
  return {
    id: "S1",
    doc: "nda.pdf",
    source: "nda.pdf#p3",
    page: 3,
    heading: "Termination",
    quote: "thirty (30) days' written notice",
    verified: true,
    start: 10,
    end: 42,
    coverage: 1,
    problem: null,
    attributed: false,
    ...over,
  };
}

export function answer(over: Partial<Answer> = {}): Answer {
  return {
    answer: 'Either party may terminate on [S1: "thirty (30) days\' written notice"]. See also [S2].',
    abstained: false,
    abstention: null,
    draft: null,
    citations: [
      citation(),
      citation({ id: "S2", quote: "", verified: false, start: null, end: null, problem: "NO_QUOTE" }),
    ],
    unsupported_claims: [],
    searched: {
      query: "notice to terminate",
      mode: "hybrid",
      doc: null,
      terms: ["notice", "terminate"],
      passages: [passage(), passage({ id: "S2", chunk_id: "c2", page: 4 })],
    },
    usage: null,
    timings: { retrieval_ms: 20, first_token_ms: 100, generation_ms: 900, verification_ms: 5, total_ms: 1200 },
    mode: "generate",
    language: "en",
    stopped: false,
    ...over,
  };
}

export function turn(a: Answer, question = "How much notice is needed?"): SessionTurn {
  return { question, answer: a, model: "qwen", template: null, asked_at_ms: 1_700_000_000_000, prompt: null };
}

type Handler = (args: Record<string, unknown>) => unknown;
type Args = Record<string, unknown>;

const documentsOf = (args: Args) => [["documents-changed", { matter_id: args.matterId }]] as const;
const sessionsOf = (args: Args) => [["sessions-changed", { matter_id: args.matterId }]] as const;
const matters = () => [["matters-changed", {}]] as const;
const settings = () => [["settings-changed", {}]] as const;
const evals = () => [["evals-changed", { run_id: null }]] as const;
const evalsOf = (args: Args) => [["evals-changed", { run_id: args.runId }]] as const;

/**
 * What the shell announces after each command that changes data, as src-tauri/src/commands.rs
 * does (there, an ingestion also announces each finished file while it runs).
 */
const announcements: Record<string, (args: Args, result: unknown) => readonly (readonly [string, unknown])[]> = {
  prepare_demo: (_args, result) => (result ? [...matters(), ...documentsOf({ matterId: (result as Matter).id })] : []),
  create_matter: matters,
  rename_matter: matters,
  delete_matter: matters,
  add_documents: documentsOf,
  retry_document: documentsOf,
  remove_document: documentsOf,
  reembed_matter: (args) => [...documentsOf(args), ...matters()],
  ask: sessionsOf,
  rename_session: sessionsOf,
  delete_session: sessionsOf,
  update_settings: settings,
  download_model: settings,
  import_model: settings,
  set_hub_token: settings,
  eval_import_set: evals,
  eval_remove_set: evals,
  eval_run: evals,
  eval_resume: evalsOf,
  eval_judge: evalsOf,
  eval_delete: evals,
};

/** Announce a change as the shell would (e.g. a file finished during an ingestion). */
export async function announce(event: string, payload: unknown): Promise<void> {
  await emit(event, payload);
}

/** Mocks the IPC by command name; unknown commands fail like the Rust side would. */
export function mockCommands(handlers: Record<string, Handler>): { calls: { cmd: string; args: Record<string, unknown> }[] } {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  const defaults: Record<string, Handler> = {
    prepare_demo: () => null,
    demo_matter_id: () => null,
    list_matters: () => [matter],
    list_documents: () => [],
    matter_embedder: () => ({ built_with: null, recorded: false, configured: "multilingual-e5-small-q4_0.gguf", current: true }),
    list_sessions: () => [],
    list_templates: () => ({ templates: [], invalid: [] }),
    hub_token_status: () => ({ stored: false, from_environment: false, backend: "keychain", message: null }),
    model_catalog: () => ({ entries: [], chat: null, embedding: null, models_dir: "/home/u/.lexdesk/models" }),
  };
  mockIPC(
    async (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args });
      const handler = handlers[cmd] ?? defaults[cmd];
      if (!handler) throw { code: "UNMOCKED", message: `no mock for ${cmd}` };
      const result = await handler(args);
      for (const [event, data] of announcements[cmd]?.(args, result) ?? []) {
        // After the reply, as the shell's emit reaches the webview after the command returns.
        setTimeout(() => void emit(event, data), 0);
      }
      return result;
    },
    { shouldMockEvents: true },
  );
  return { calls };
}
