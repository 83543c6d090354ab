import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { commands, type Citation, type PageView } from "../bindings";
import { splitByCodePoints } from "../lib/highlight";
import { toIpcError } from "../platform";
import { ErrorLine } from "./ErrorLine";

export type PanelTarget = {
  docId: string | null;
  page: number;
  /** Set when the panel was opened from a citation chip. */
  citation?: Citation;
  /** Shown while the page loads, or when docId is unknown. */
  fileName?: string;
};

type Props = { matterId: string; target: PanelTarget; onClose: () => void };

/** The side panel showing one page of a document, with a cited quote highlighted. */
export function PagePanel({ matterId, target, onClose }: Props) {
  const { t } = useTranslation();
  const [page, setPage] = useState(target.page);
  const [view, setView] = useState<PageView | null>(null);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const closeRef = useRef<HTMLButtonElement>(null);
  const citation = target.citation;

  useEffect(() => setPage(target.page), [target]);

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !e.defaultPrevented) onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      if (previous && document.contains(previous)) previous.focus();
    };
  }, [onClose]);

  useEffect(() => {
    if (!target.docId) {
      setView(null);
      setError({ code: "UNKNOWN_SOURCE", message: t("panel.noSource") });
      return;
    }
    let live = true;
    setError(null);
    commands
      .getPage(matterId, target.docId, page)
      .then((v) => live && setView(v))
      .catch((e: unknown) => live && setError(toIpcError(e)));
    return () => {
      live = false;
    };
  }, [matterId, target.docId, page, t]);

  // Highlight only once the cited page itself is shown (not a stale one while loading).
  const onCitedPage =
    citation !== undefined && view !== null && view.doc_id === target.docId && view.number === (citation.page ?? 1);
  const pageCount = view?.page_count ?? 0;

  return (
    <aside
      className="side-panel"
      data-testid={citation ? "citation-panel" : "page-viewer"}
      aria-label={citation ? t("panel.citationLabel", { id: citation.id }) : t("panel.documentLabel")}
    >
      <header className="side-panel-head">
        <div className="side-panel-title">
          {citation && <span className="panel-cite-id">{citation.id}</span>}
          <h2>{view?.title || view?.file_name || citation?.doc || target.fileName || "…"}</h2>
          {view && view.title && view.title !== view.file_name && <p className="muted">{view.file_name}</p>}
        </div>
        <button ref={closeRef} type="button" className="icon-button" aria-label={t("common.close")} onClick={onClose}>
          ×
        </button>
      </header>

      <div className="side-panel-meta">
        {view && <span>{t("panel.pageOf", { page: view.number, pages: view.page_count })}</span>}
        {view &&
          (view.provenance.kind === "ocr" ? (
            <span className="badge badge-ocr">
              {t("panel.ocr", { confidence: Math.round(view.provenance.confidence ?? 0) })}
            </span>
          ) : (
            <span className="badge badge-neutral">{t("panel.textLayer")}</span>
          ))}
        {citation && (
          <span
            className={`badge ${citation.verified ? "badge-verified" : "badge-unverified"}`}
            data-testid="citation-badge"
          >
            {citation.verified ? `✓ ${t("citation.verified")}` : `⚠ ${t("citation.notVerified")}`}
          </span>
        )}
      </div>

      {citation?.verified && citation.attributed && (
        <p className="muted" role="note" data-testid="citation-attributed">
          {t("citation.attributed")}
        </p>
      )}
      {citation && !citation.verified && (
        <p className="panel-problem" role="note">
          {citation.problem ? t(`citation.problem.${citation.problem}`, { defaultValue: citation.problem }) : null}
          {citation.problem && <code className="error-code">{citation.problem}</code>}
        </p>
      )}
      {citation?.quote && (
        <blockquote className="panel-quote">“{citation.quote}”</blockquote>
      )}

      <div className="side-panel-body">
        {error ? (
          <ErrorLine error={error} variant="text" />
        ) : view ? (
          <PageText
            text={view.text}
            start={onCitedPage && citation?.verified ? (citation.start ?? null) : null}
            end={onCitedPage && citation?.verified ? (citation.end ?? null) : null}
          />
        ) : (
          <p className="muted">{t("common.loading")}</p>
        )}
      </div>

      {view && pageCount > 1 && (
        <footer className="side-panel-nav">
          <button type="button" disabled={page <= 1} onClick={() => setPage((p) => Math.max(1, p - 1))}>
            ← {t("panel.previous")}
          </button>
          <span className="muted">{t("panel.pageOf", { page, pages: pageCount })}</span>
          <button type="button" disabled={page >= pageCount} onClick={() => setPage((p) => Math.min(pageCount, p + 1))}>
            {t("panel.next")} →
          </button>
        </footer>
      )}
    </aside>
  );
}

/** A page's text, with [start, end) (code-point offsets) highlighted and scrolled into view. */
export function PageText({ text, start, end }: { text: string; start: number | null; end: number | null }) {
  const markRef = useRef<HTMLElement>(null);
  const parts = splitByCodePoints(text, start, end);

  useLayoutEffect(() => {
    const mark = markRef.current;
    if (mark && typeof mark.scrollIntoView === "function") {
      mark.scrollIntoView({ block: "center" });
    }
  }, [text, start, end]);

  return (
    <div className="page-text" data-testid="page-text" tabIndex={0}>
      {parts ? (
        <>
          {parts.before}
          <mark className="quote-highlight" ref={markRef}>
            {parts.quote}
          </mark>
          {parts.after}
        </>
      ) : (
        text
      )}
    </div>
  );
}
