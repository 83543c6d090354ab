import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { commands, type DocumentRecord } from "../bindings";
import { fileNameOf, formatBytes, formatSeconds } from "../lib/format";
import type { FileResult, Ingestion, IngestOutcome, IngestProgress } from "../lib/ingest";
import { pickFiles, pickFolder } from "../platform";
import { ConfirmDialog } from "./ConfirmDialog";
import { EmbedderNotice } from "./EmbedderNotice";
import { useToasts } from "./Toasts";

type Props = {
  matterId: string;
  documents: DocumentRecord[] | null;
  ingestion: Ingestion;
  onAddPaths: (paths: string[]) => void;
  onOpenDocument: (doc: DocumentRecord) => void;
};

export function DocumentsView({ matterId, documents, ingestion, onAddPaths, onOpenDocument }: Props) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [path, setPath] = useState("");
  const [removing, setRemoving] = useState<DocumentRecord | null>(null);
  const busy = ingestion.run !== null;
  const run = ingestion.run?.matterId === matterId ? ingestion.run : null;
  const outcome = ingestion.outcomes[matterId];

  const pick = async (picker: () => Promise<string[]>) => {
    try {
      const paths = await picker();
      if (paths.length > 0) onAddPaths(paths);
    } catch (error) {
      toasts.error(error);
    }
  };

  const submitPath = (e: FormEvent) => {
    e.preventDefault();
    const p = path.trim().replace(/^"(.*)"$/, "$1");
    if (!p) return;
    onAddPaths([p]);
    setPath("");
  };

  const retry = (doc: DocumentRecord) => {
    void ingestion.start(matterId, (jobId, onEvent) => commands.retryDocument(matterId, doc.id, jobId, onEvent));
  };

  const remove = async (doc: DocumentRecord) => {
    setRemoving(null);
    try {
      await commands.removeDocument(matterId, doc.id);
    } catch (error) {
      toasts.error(error);
    }
  };

  return (
    <div className="documents-view">
      <div className="toolbar">
        <button type="button" className="primary" disabled={busy} onClick={() => void pick(pickFiles)}>
          {t("documents.addFiles")}
        </button>
        <button type="button" disabled={busy} onClick={() => void pick(pickFolder)}>
          {t("documents.addFolder")}
        </button>
        <form className="add-path" onSubmit={submitPath}>
          <input
            type="text"
            data-testid="add-path-input"
            aria-label={t("documents.addByPath")}
            placeholder={t("documents.pathPlaceholder")}
            value={path}
            spellCheck={false}
            onChange={(e) => setPath(e.target.value)}
          />
          <button type="submit" data-testid="add-path-submit" disabled={busy || !path.trim()}>
            {t("documents.add")}
          </button>
        </form>
      </div>

      <EmbedderNotice matterId={matterId} disabled={busy} />
      {run && <IngestProgressView run={run.progress} onCancel={() => void ingestion.cancel()} />}
      {!run && outcome && <IngestOutcomeView outcome={outcome} />}

      {documents === null ? (
        <p className="muted loading">{t("common.loading")}</p>
      ) : documents.length === 0 ? (
        <div className="empty-state">
          <div className="empty-icon" aria-hidden="true">⇣</div>
          <p className="empty-title">{t("documents.emptyTitle")}</p>
          <p className="muted">{t("documents.emptyHint")}</p>
        </div>
      ) : (
        <table className="doc-table">
          <thead>
            <tr>
              <th scope="col">{t("documents.file")}</th>
              <th scope="col">{t("documents.title")}</th>
              <th scope="col" className="num">{t("documents.pages")}</th>
              <th scope="col" className="num">{t("documents.chunks")}</th>
              <th scope="col">{t("documents.status")}</th>
              <th scope="col"><span className="visually-hidden">{t("documents.actions")}</span></th>
            </tr>
          </thead>
          <tbody>
            {documents.map((doc) => (
              <tr key={doc.id} data-testid="doc-row" data-status={doc.status} data-file={doc.file_name}>
                <td className="doc-file">
                  {doc.status === "indexed" ? (
                    <button
                      type="button"
                      className="link-button"
                      onClick={() => onOpenDocument(doc)}
                      title={doc.source_path}
                    >
                      {doc.file_name}
                    </button>
                  ) : (
                    <span title={doc.source_path}>{doc.file_name}</span>
                  )}
                  <span className="doc-meta">
                    {doc.format.toUpperCase()} · {formatBytes(doc.size_bytes)}
                  </span>
                </td>
                <td>
                  {doc.title}
                  {doc.status === "failed" && (
                    <div className="doc-error" data-testid="doc-error" role="note">
                      {doc.error_code && <code className="error-code">{doc.error_code}</code>}
                      <span>{doc.error_message ?? t("documents.failedUnknown")}</span>
                    </div>
                  )}
                </td>
                <td className="num">
                  {doc.page_count}
                  {doc.ocr_pages > 0 && (
                    <span
                      className="badge badge-ocr"
                      title={t("documents.ocrPages", { count: doc.ocr_pages })}
                    >
                      OCR {doc.ocr_pages}
                    </span>
                  )}
                </td>
                <td className="num">{doc.chunk_count}</td>
                <td>
                  <span className={`badge badge-${doc.status}`}>{t(`documents.statusValue.${doc.status}`)}</span>
                </td>
                <td className="row-actions">
                  {doc.status === "failed" && (
                    <button type="button" disabled={busy} onClick={() => retry(doc)} data-testid="doc-retry">
                      {t("documents.retry")}
                    </button>
                  )}
                  <button
                    type="button"
                    className="quiet"
                    disabled={busy}
                    onClick={() => setRemoving(doc)}
                    aria-label={t("documents.removeNamed", { name: doc.file_name })}
                  >
                    {t("documents.remove")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {removing && (
        <ConfirmDialog
          title={t("confirm.removeDocumentTitle")}
          message={t("confirm.removeDocument", { name: removing.file_name })}
          confirmLabel={t("documents.remove")}
          onConfirm={() => void remove(removing)}
          onCancel={() => setRemoving(null)}
        />
      )}
    </div>
  );
}

function IngestProgressView({ run, onCancel }: { run: IngestProgress; onCancel: () => void }) {
  const { t } = useTranslation();
  const pct = run.pages > 0 ? Math.round((100 * run.pagesDone) / run.pages) : 0;
  return (
    <section className="ingest-panel" data-testid="ingest-progress" aria-live="polite" aria-busy="true">
      <div className="ingest-head">
        <span className="spinner" aria-hidden="true" />
        <strong>
          {run.files > 0
            ? t("ingest.fileOf", { index: Math.max(run.index, 1), files: run.files })
            : t("ingest.starting")}
        </strong>
        {run.path && <span className="ingest-file">{fileNameOf(run.path)}</span>}
        <span className="muted">{t(`ingest.phase.${run.phase}`)}</span>
        <button type="button" className="quiet push-right" onClick={onCancel} data-testid="ingest-cancel">
          {t("common.cancel")}
        </button>
      </div>
      {run.phase === "embedding" && run.pages > 0 && (
        <div className="progress-row">
          <progress max={run.pages} value={run.pagesDone} aria-label={t("ingest.pageProgress")} />
          <span className="muted">{t("ingest.pagesDone", { done: run.pagesDone, total: run.pages, pct })}</span>
        </div>
      )}
      <FileResults results={run.results} />
    </section>
  );
}

function FileResults({ results }: { results: FileResult[] }) {
  const { t } = useTranslation();
  if (results.length === 0) return null;
  return (
    <ul className="file-results">
      {results.map((r) => (
        <li key={`${r.index}-${r.path}`} className={`file-result result-${r.outcome}`}>
          <span className="file-result-name" title={r.path}>
            {fileNameOf(r.path)}
          </span>
          <span>
            {r.outcome === "indexed" &&
              t("ingest.result.indexed", { pages: r.pages, chunks: r.chunks, ocr: r.ocr_pages })}
            {r.outcome === "already_indexed" && t("ingest.result.already", { existing: r.existing })}
            {r.outcome === "failed" && (
              <>
                {t("ingest.result.failed")} <code className="error-code">{r.code}</code> {r.message}
              </>
            )}
            {r.outcome === "skipped" && t("ingest.result.skipped", { reason: r.reason })}
          </span>
        </li>
      ))}
    </ul>
  );
}

function IngestOutcomeView({ outcome }: { outcome: IngestOutcome }) {
  const { t } = useTranslation();
  const s = outcome.summary;
  return (
    <section className="ingest-panel done" data-testid="ingest-summary" aria-live="polite">
      {s ? (
        <p className="ingest-summary-line">
          {s.cancelled && <span className="badge badge-warn">{t("ingest.cancelled")}</span>}
          {t("ingest.summary", {
            indexed: s.indexed,
            already: s.already_indexed,
            failed: s.failed.length,
            pages: s.pages,
            seconds: formatSeconds(s.seconds ?? 0),
          })}
          {s.skipped > 0 && <> · {t("ingest.skipped", { count: s.skipped })}</>}
          {s.ocr_pages > 0 && <> · {t("ingest.ocrPages", { count: s.ocr_pages })}</>}
        </p>
      ) : (
        <p className="ingest-summary-line error-text">{t("ingest.runFailed", { message: outcome.error })}</p>
      )}
      {s && s.failed.length > 0 && (
        <ul className="file-results">
          {s.failed.map((f) => (
            <li key={f.path} className="file-result result-failed">
              <span className="file-result-name" title={f.path}>
                {fileNameOf(f.path)}
              </span>
              <span>
                <code className="error-code">{f.code}</code> {f.message}
              </span>
            </li>
          ))}
        </ul>
      )}
      {!s?.failed.length && outcome.results.some((r) => r.outcome === "skipped") && (
        <FileResults results={outcome.results.filter((r) => r.outcome === "skipped")} />
      )}
    </section>
  );
}
