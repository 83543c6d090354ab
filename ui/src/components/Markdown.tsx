import Markdown, { type Components } from "react-markdown";
import { useTranslation } from "react-i18next";
import type { Citation } from "../bindings";
import { CITE_PREFIX, markersToLinks, parseCiteHref } from "../lib/citations";

type Props = {
  text: string;
  citations?: Citation[];
  onCitation?: (index: number) => void;
};

// Only our own citation links survive; every other URL (links, images) is dropped, so
// nothing remote is ever fetched or opened.
function urlTransform(url: string): string {
  return url.startsWith(CITE_PREFIX) ? url : "";
}

/**
 * Renders model output as Markdown, safely: no raw HTML (it shows as text), images become
 * their alt text in brackets, links become plain text, and citation markers become chips.
 */
export function AnswerMarkdown({ text, citations = [], onCitation }: Props) {
  const { t } = useTranslation();

  const components: Components = {
    img: ({ alt }) => <span className="md-image-alt">[{alt ?? ""}]</span>,
    a: ({ href, children }) => {
      const cite = href ? parseCiteHref(href) : null;
      if (!cite) return <span className="md-link-text">{children}</span>;
      const citation = cite.index >= 0 ? citations[cite.index] : undefined;
      const verified = citation?.verified === true;
      const label = t(verified ? "citation.chipVerified" : "citation.chipUnverified", { id: cite.id });
      return (
        <button
          type="button"
          className={`citation-chip ${verified ? "verified" : "unverified"}`}
          data-testid="citation-chip"
          data-verified={verified ? "true" : "false"}
          data-id={cite.id}
          aria-label={label}
          title={citation?.quote ? `${label}: “${citation.quote}”` : label}
          disabled={!citation || !onCitation}
          onClick={() => citation && onCitation?.(cite.index)}
        >
          <span aria-hidden="true">{verified ? "✓" : "⚠"}</span>
          {cite.id}
        </button>
      );
    },
  };

  return (
    <div className="markdown">
      <Markdown components={components} urlTransform={urlTransform}>
        {markersToLinks(text, citations)}
      </Markdown>
    </div>
  );
}
