import { lazy, Suspense, type ComponentProps } from "react";
import { useTranslation } from "react-i18next";
import type { Answer, Searched } from "../bindings";

// The Markdown renderer (react-markdown and its parsers: most of the JavaScript) loads with the
// first answer shown, not with the app.
const Markdown = lazy(() => import("./Markdown").then((m) => ({ default: m.AnswerMarkdown })));

function AnswerMarkdown(props: ComponentProps<typeof Markdown>) {
  return (
    <Suspense fallback={<div className="markdown markdown-loading">{props.text}</div>}>
      <Markdown {...props} />
    </Suspense>
  );
}

type Props = {
  answer: Answer;
  /** The chat model that wrote it (none for an extractive answer). */
  model?: string | null;
  onOpenCitation: (index: number) => void;
  onCopy: () => void;
};

/** A finished answer: text with citation chips, its citations, and what backs (or fails) it. */
export function AnswerView({ answer, model, onOpenCitation, onCopy }: Props) {
  const { t } = useTranslation();
  const a = answer;

  return (
    <div
      className={`answer${a.abstained ? " abstained" : ""}`}
      data-testid="answer"
      data-state="done"
      data-abstained={a.abstained ? "true" : "false"}
    >
      {a.stopped && (
        <p className="stopped-note" role="note">
          ■ {t("answer.stopped")}
        </p>
      )}

      {a.abstained ? (
        <div className="abstention" data-testid="abstention" role="note">
          <p className="abstention-title">{t("answer.abstainedTitle")}</p>
          {/* After NO_SUPPORTED_CLAIM the best passages, checked, are shown: their markers are chips too. */}
          <AnswerMarkdown
            text={a.answer || a.abstention?.message || ""}
            citations={a.citations}
            onCitation={onOpenCitation}
          />
          {a.abstention && a.abstention.message && a.abstention.message !== a.answer && (
            <p className="muted">{a.abstention.message}</p>
          )}
          {a.abstention && <code className="error-code">{a.abstention.code}</code>}
        </div>
      ) : (
        <AnswerMarkdown text={a.answer} citations={a.citations} onCitation={onOpenCitation} />
      )}

      {a.citations.length > 0 && (
        <section className="answer-section" aria-label={t("answer.citations")}>
          <h3>{t("answer.citations")}</h3>
          <ol className="citation-list">
            {a.citations.map((c, i) => (
              <li key={`${c.id}-${i}`} className="citation-item">
                <button
                  type="button"
                  className={`citation-chip ${c.verified ? "verified" : "unverified"}`}
                  aria-label={t(c.verified ? "citation.chipVerified" : "citation.chipUnverified", { id: c.id })}
                  onClick={() => onOpenCitation(i)}
                >
                  <span aria-hidden="true">{c.verified ? "✓" : "⚠"}</span>
                  {c.id}
                </button>
                <div className="citation-body">
                  <div className="citation-where">
                    <strong>{c.doc}</strong>
                    {c.page !== null && <span>{t("answer.pageShort", { page: c.page })}</span>}
                    {c.heading && <span className="muted">{c.heading}</span>}
                    <span className={`badge ${c.verified ? "badge-verified" : "badge-unverified"}`}>
                      {c.verified ? t("citation.verified") : t("citation.notVerified")}
                    </span>
                    {c.problem && (
                      <span className="citation-problem">
                        {t(`citation.problem.${c.problem}`, { defaultValue: c.problem })}
                      </span>
                    )}
                  </div>
                  {c.quote && <blockquote>“{c.quote}”</blockquote>}
                </div>
              </li>
            ))}
          </ol>
        </section>
      )}

      {a.unsupported_claims.length > 0 && (
        <section className="answer-section unsupported" aria-label={t("answer.unsupported")}>
          <h3>{t("answer.unsupported")}</h3>
          <ul>
            {a.unsupported_claims.map((claim, i) => (
              <li key={i}>{claim}</li>
            ))}
          </ul>
        </section>
      )}

      {a.abstained && a.draft && (
        <details className="answer-section">
          <summary>{t("answer.draft")}</summary>
          <div className="draft">
            <AnswerMarkdown text={a.draft} />
          </div>
        </details>
      )}

      {a.searched.doc_named && a.searched.doc && (
        <p className="muted scope-note" data-testid="scope-note">
          {t("answer.scopeNamed", { doc: a.searched.doc })}
        </p>
      )}
      <SearchedView searched={a.searched} open={a.abstained} />

      <footer className="answer-footer">
        <span className="muted answer-meta">
          {t(a.mode === "extractive" ? "chat.modeExtractive" : "chat.modeAnswer")} ·{" "}
          {a.mode !== "extractive" && model ? <span data-testid="answer-model">{model} · </span> : null}
          {t("answer.seconds", { seconds: ((a.timings.total_ms ?? 0) / 1000).toFixed(1) })}
          {a.usage && (a.usage.tokens_per_second ?? 0) > 0 && (
            <> · {t("answer.tokensPerSecond", { rate: (a.usage.tokens_per_second ?? 0).toFixed(1) })}</>
          )}
        </span>
        <button type="button" className="quiet small" onClick={onCopy}>
          {t("answer.copy")}
        </button>
      </footer>
    </div>
  );
}

export function SearchedView({ searched, open }: { searched: Searched; open: boolean }) {
  const { t } = useTranslation();
  return (
    <details className="answer-section searched" open={open} data-testid="searched">
      <summary>{t("answer.searched", { count: searched.passages.length })}</summary>
      <dl className="searched-meta">
        <dt>{t("answer.query")}</dt>
        <dd>{searched.query}</dd>
        {searched.doc && (
          <>
            <dt>{t("answer.scope")}</dt>
            <dd>{searched.doc_named ? t("answer.scopeNamedShort", { doc: searched.doc }) : searched.doc}</dd>
          </>
        )}
        {searched.terms.length > 0 && (
          <>
            <dt>{t("answer.terms")}</dt>
            <dd className="terms">
              {searched.terms.map((term) => (
                <span key={term} className="term">
                  {term}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      {searched.passages.length === 0 ? (
        <p className="muted">{t("answer.noPassages")}</p>
      ) : (
        <ul className="passage-list">
          {searched.passages.map((p) => (
            <li key={p.chunk_id} className={p.relevant ? "relevant" : "not-relevant"}>
              <span className={`badge ${p.relevant ? "badge-verified" : "badge-neutral"}`}>
                {p.relevant ? t("answer.relevant") : t("answer.notRelevant")}
              </span>
              {p.id && <span className="passage-id">{p.id}</span>}
              <span className="passage-doc">{p.doc}</span>
              {p.page !== null && (
                <span>
                  {p.page_end !== null && p.page_end !== p.page
                    ? t("answer.pagesShort", { from: p.page, to: p.page_end })
                    : t("answer.pageShort", { page: p.page })}
                </span>
              )}
              {p.heading && <span className="muted">{p.heading}</span>}
              <span className="muted passage-score">{(p.score ?? 0).toFixed(3)}</span>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
