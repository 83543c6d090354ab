import { useState } from "react";
import { useTranslation } from "react-i18next";
import { commands, type ReembedEvent } from "../bindings";
import { useMatterEmbedder } from "../lib/queries";
import { channel, newJobId } from "../platform";
import { useToasts } from "./Toasts";

type Progress = { done: number; total: number; file: string | null; jobId: string };

/**
 * Says which embedding model a matter was built with when it is not the configured one, and
 * re-embeds it on request with progress (the matter keeps answering with its old model until the
 * new index is complete; a stopped run resumes).
 */
export function EmbedderNotice({ matterId, disabled }: { matterId: string; disabled: boolean }) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const { data: status } = useMatterEmbedder(matterId);
  const [progress, setProgress] = useState<Progress | null>(null);
  if (!status?.built_with || (status.current && progress === null)) return null;

  const start = async () => {
    const jobId = newJobId();
    let state: Progress = { done: 0, total: 0, file: null, jobId };
    setProgress(state);
    const onEvent = channel<ReembedEvent>((e) => {
      state =
        e.event === "started"
          ? { ...state, done: e.resumed, total: e.documents }
          : { ...state, done: state.done + 1, file: e.file_name };
      setProgress(state);
    });
    try {
      const summary = await commands.reembedMatter(matterId, jobId, onEvent);
      if (summary.cancelled) toasts.info(t("embedder.stopped"));
    } catch (error) {
      toasts.error(error);
    } finally {
      setProgress(null);
    }
  };

  return (
    <div className="notice embedder-notice" role="status" data-testid="embedder-notice">
      <p>
        {t("embedder.builtWith", { model: status.built_with.model, configured: status.configured })}
      </p>
      {progress === null ? (
        <button type="button" data-testid="reembed" disabled={disabled} onClick={() => void start()}>
          {t("embedder.reembed")}
        </button>
      ) : (
        <div className="reembed-progress">
          <progress max={Math.max(progress.total, 1)} value={progress.done} />
          <span className="muted">
            {t("embedder.progress", { done: progress.done, total: progress.total })}
            {progress.file ? ` · ${progress.file}` : ""}
          </span>
          <button type="button" onClick={() => void commands.cancelJob(progress.jobId)}>
            {t("common.cancel")}
          </button>
        </div>
      )}
    </div>
  );
}
