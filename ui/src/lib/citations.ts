import type { Citation } from "../bindings";

/** One citation marker as written by the model: `[S1]`, `[S1, S2]` or `[S1: "quote"]`. */
export type Marker = { ids: string[]; quote: string | null };

export type Segment = { kind: "text"; text: string } | { kind: "marker"; marker: Marker; raw: string };

// [S1] | [S1, S2] | [S1: "quote"] | [S1：“quote”] — the quote may itself contain brackets.
const MARKER =
  /\[\s*(S\d+(?:\s*[,，;；]\s*S\d+)*)\s*(?:[:：]\s*(?:"([^"]*)"|“([^”]*)”|「([^」]*)」))?\s*\]/g;

export function parseCitationMarkers(text: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    const at = match.index ?? 0;
    if (at > last) segments.push({ kind: "text", text: text.slice(last, at) });
    const ids = match[1].split(/\s*[,，;；]\s*/);
    const quote = match[2] ?? match[3] ?? match[4] ?? null;
    segments.push({ kind: "marker", marker: { ids, quote }, raw: match[0] });
    last = at + match[0].length;
  }
  if (last < text.length) segments.push({ kind: "text", text: text.slice(last) });
  return segments;
}

export const CITE_PREFIX = "#lexdesk-cite:";

/**
 * Rewrites citation markers into Markdown links `[S1](#lexdesk-cite:S1:<n>)` so that the
 * Markdown renderer can turn them into chips; n is the index of the matching citation in
 * `citations` (or -1). Markers inside code are left alone.
 */
export function markersToLinks(text: string, citations: Citation[]): string {
  const parts = text.split(/(```[\s\S]*?```|`[^`\n]*`)/);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) return part; // code
      return parseCitationMarkers(part)
        .map((s) => {
          if (s.kind === "text") return s.text;
          return s.marker.ids
            .map((id) => `[${id}](${CITE_PREFIX}${id}:${findCitation(citations, id, s.marker.quote)})`)
            .join(" ");
        })
        .join("");
    })
    .join("");
}

/** Index of the citation a marker refers to: same id, and same quote when the marker has one. */
export function findCitation(citations: Citation[], id: string, quote: string | null): number {
  const norm = (q: string) => q.replace(/\s+/g, " ").trim();
  if (quote !== null) {
    const exact = citations.findIndex((c) => c.id === id && norm(c.quote) === norm(quote));
    if (exact >= 0) return exact;
  }
  return citations.findIndex((c) => c.id === id);
}

export function parseCiteHref(href: string): { id: string; index: number } | null {
  if (!href.startsWith(CITE_PREFIX)) return null;
  const rest = href.slice(CITE_PREFIX.length);
  const colon = rest.lastIndexOf(":");
  if (colon < 0) return null;
  return { id: rest.slice(0, colon), index: Number(rest.slice(colon + 1)) };
}
