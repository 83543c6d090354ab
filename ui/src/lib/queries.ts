// The UI's data layer: matters, documents, chat sessions and settings are TanStack queries,
// cached by key. Nothing refetches after a command it issued: the shell announces every change
// with a typed event (src-tauri/src/events.rs), and useShellEvents invalidates the queries that
// read the changed data. A second window, an ingestion in progress or the first-run demo update
// the lists the same way.
import { QueryCache, QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { commands, events } from "../bindings";

export const queryKeys = {
  matters: ["matters"] as const,
  demoMatter: ["matters", "demo"] as const,
  matterEmbedder: (matterId: string) => ["matters", "embedder", matterId] as const,
  documents: (matterId: string) => ["documents", matterId] as const,
  sessions: (matterId: string) => ["sessions", matterId] as const,
  settings: ["settings"] as const,
  evals: ["evals"] as const,
  evalSets: ["evals", "sets"] as const,
  evalSet: (name: string) => ["evals", "sets", name] as const,
  evalRuns: ["evals", "runs"] as const,
  evalReport: (runId: string) => ["evals", "report", runId] as const,
  evalCharts: (runIds: string[]) => ["evals", "charts", ...runIds] as const,
  evalCompare: (runIds: string[]) => ["evals", "compare", ...runIds] as const,
};

/**
 * A client whose queries stay fresh until an event says otherwise; failures go to `onError`,
 * except those of queries that show their error where their data would be (`meta.inline`).
 */
export function createQueryClient(onError: (error: unknown) => void): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({ onError: (error, query) => query.meta?.inline !== true && onError(error) }),
    defaultOptions: {
      queries: { staleTime: Number.POSITIVE_INFINITY, retry: false, refetchOnWindowFocus: false },
    },
  });
}

export function useMatters() {
  return useQuery({ queryKey: queryKeys.matters, queryFn: () => commands.listMatters() });
}

/** The demo matter's id, as the desk records it (it survives a rename). */
export function useDemoMatterId() {
  return useQuery({ queryKey: queryKeys.demoMatter, queryFn: () => commands.demoMatterId() }).data ?? null;
}

/** The embedding model a matter was built with, against the configured one. */
export function useMatterEmbedder(matterId: string) {
  return useQuery({ queryKey: queryKeys.matterEmbedder(matterId), queryFn: () => commands.matterEmbedder(matterId) });
}

export function useDocuments(matterId: string | null) {
  return useQuery({
    queryKey: queryKeys.documents(matterId ?? ""),
    queryFn: () => commands.listDocuments(matterId ?? ""),
    enabled: matterId !== null,
  });
}

export function useSessions(matterId: string | null) {
  return useQuery({
    queryKey: queryKeys.sessions(matterId ?? ""),
    queryFn: () => commands.listSessions(matterId ?? ""),
    enabled: matterId !== null,
  });
}

/** The settings; a failure to read them is shown on the settings screen itself. */
export function useSettings() {
  return useQuery({ queryKey: queryKeys.settings, queryFn: () => commands.getSettings(), meta: { inline: true } });
}

export function useEvalSets() {
  return useQuery({ queryKey: queryKeys.evalSets, queryFn: () => commands.evalSets() });
}

export function useEvalSet(name: string | null) {
  return useQuery({
    queryKey: queryKeys.evalSet(name ?? ""),
    queryFn: () => commands.evalSet(name ?? ""),
    enabled: name !== null,
  });
}

export function useEvalRuns() {
  return useQuery({ queryKey: queryKeys.evalRuns, queryFn: () => commands.evalRuns() });
}

/** A run's report; its failure shows where the report would be. */
export function useEvalReport(runId: string | null) {
  return useQuery({
    queryKey: queryKeys.evalReport(runId ?? ""),
    queryFn: () => commands.evalReport(runId ?? ""),
    enabled: runId !== null,
    meta: { inline: true },
  });
}

export function useEvalCharts(runIds: string[]) {
  return useQuery({
    queryKey: queryKeys.evalCharts(runIds),
    queryFn: () => commands.evalCharts(runIds),
    enabled: runIds.length > 0,
    meta: { inline: true },
  });
}

export function useEvalComparison(runIds: string[]) {
  return useQuery({
    queryKey: queryKeys.evalCompare(runIds),
    queryFn: () => commands.evalCompare(runIds),
    enabled: runIds.length >= 2,
    meta: { inline: true },
  });
}

/**
 * Invalidate what the shell says has changed, for as long as the calling component lives.
 * `true` once every subscription is in place: work whose changes must not go unheard (the
 * first-run demo) starts after that.
 */
export function useShellEvents(): boolean {
  const client = useQueryClient();
  const [listening, setListening] = useState(false);
  useEffect(() => {
    let live = true;
    const subscriptions = [
      events.mattersChanged.listen(() => void client.invalidateQueries({ queryKey: queryKeys.matters })),
      events.documentsChanged.listen((e) => {
        void client.invalidateQueries({ queryKey: queryKeys.documents(e.payload.matter_id) });
        void client.invalidateQueries({ queryKey: queryKeys.matterEmbedder(e.payload.matter_id) });
      }),
      events.sessionsChanged.listen(
        (e) => void client.invalidateQueries({ queryKey: queryKeys.sessions(e.payload.matter_id) }),
      ),
      events.settingsChanged.listen(() => {
        void client.invalidateQueries({ queryKey: queryKeys.settings });
        // Another embedding model may have been chosen: each matter's standing against it changes.
        void client.invalidateQueries({ queryKey: ["matters", "embedder"] });
      }),
      events.evalsChanged.listen((e) => {
        const runId = e.payload.run_id;
        if (runId === null) {
          void client.invalidateQueries({ queryKey: queryKeys.evals });
          return;
        }
        // One run's results changed: the list (its status), its report, and the charts and
        // comparisons it is in.
        void client.invalidateQueries({ queryKey: queryKeys.evalRuns });
        void client.invalidateQueries({ queryKey: queryKeys.evalReport(runId) });
        for (const key of [["evals", "charts"], ["evals", "compare"]]) {
          void client.invalidateQueries({ queryKey: key, predicate: (q) => q.queryKey.includes(runId) });
        }
      }),
    ];
    Promise.all(subscriptions).then(
      () => live && setListening(true),
      () => live && setListening(true),
    );
    return () => {
      live = false;
      for (const s of subscriptions) void s.then((unlisten) => unlisten()).catch(() => undefined);
    };
  }, [client]);
  return listening;
}
