import { useCallback, useRef, useState } from "react";
import type { Channel } from "@tauri-apps/api/core";
import { commands, type FileOutcome, type IngestEvent, type IngestSummary } from "../bindings";
import { channel, newJobId, toIpcError } from "../platform";

export type FileResult = { index: number; path: string } & FileOutcome;

export type IngestProgress = {
  files: number;
  index: number;
  path: string | null;
  phase: "starting" | "extracting" | "embedding" | "committing" | "optimizing";
  pagesDone: number;
  pages: number;
  chunksDone: number;
  chunks: number;
  results: FileResult[];
};

export const initialProgress: IngestProgress = {
  files: 0,
  index: 0,
  path: null,
  phase: "starting",
  pagesDone: 0,
  pages: 0,
  chunksDone: 0,
  chunks: 0,
  results: [],
};

export function applyIngestEvent(p: IngestProgress, e: IngestEvent): IngestProgress {
  switch (e.event) {
    case "started":
      return { ...p, files: e.files, phase: "extracting" };
    case "extracted":
      return {
        ...p,
        index: e.index,
        path: e.path,
        phase: "embedding",
        pagesDone: 0,
        pages: e.pages,
        chunksDone: 0,
        chunks: e.chunks,
      };
    case "embedding":
      return {
        ...p,
        index: e.index,
        path: e.path,
        phase: "embedding",
        pagesDone: e.pages_done,
        pages: e.pages,
        chunksDone: e.chunks_done,
        chunks: e.chunks,
      };
    case "file": {
      const { event: _event, ...result } = e;
      // Until the next file is extracted, show the next position with no name yet.
      const more = e.index < p.files;
      return {
        ...p,
        index: more ? e.index + 1 : e.index,
        path: more ? null : e.path,
        phase: more ? "extracting" : "committing",
        pagesDone: 0,
        pages: 0,
        chunksDone: 0,
        chunks: 0,
        results: [...p.results, result],
      };
    }
    case "committed":
      return { ...p, phase: "committing" };
    case "optimizing":
      return { ...p, phase: "optimizing" };
  }
}

export type IngestRun = { matterId: string; jobId: string; progress: IngestProgress };

export type IngestRunner = (jobId: string, onEvent: Channel<IngestEvent>) => Promise<IngestSummary>;

export type IngestOutcome = { summary: IngestSummary | null; results: FileResult[]; error: string | null };

/**
 * One ingestion run at a time (add files/folder/path, retry), with its live progress and the
 * last outcome per matter. The documents list follows from the shell's documents-changed events.
 */
export function useIngestion(onError: (error: unknown) => void) {
  const [run, setRun] = useState<IngestRun | null>(null);
  const [outcomes, setOutcomes] = useState<Record<string, IngestOutcome>>({});
  const running = useRef(false);

  const start = useCallback(
    async (matterId: string, runner: IngestRunner): Promise<boolean> => {
      if (running.current) return false;
      running.current = true;
      const jobId = newJobId();
      let progress = initialProgress;
      setRun({ matterId, jobId, progress });
      setOutcomes((o) => {
        const { [matterId]: _dropped, ...rest } = o;
        return rest;
      });
      const onEvent = channel<IngestEvent>((event) => {
        progress = applyIngestEvent(progress, event);
        setRun({ matterId, jobId, progress });
      });
      try {
        const summary = await runner(jobId, onEvent);
        setOutcomes((o) => ({ ...o, [matterId]: { summary, results: progress.results, error: null } }));
      } catch (error) {
        onError(error);
        setOutcomes((o) => ({
          ...o,
          [matterId]: { summary: null, results: progress.results, error: toIpcError(error).message },
        }));
      } finally {
        running.current = false;
        setRun(null);
      }
      return true;
    },
    [onError],
  );

  const cancel = useCallback(async () => {
    if (!run) return;
    try {
      await commands.cancelJob(run.jobId);
    } catch (error) {
      onError(error);
    }
  }, [run, onError]);

  return { run, outcomes, start, cancel };
}

export type Ingestion = ReturnType<typeof useIngestion>;
