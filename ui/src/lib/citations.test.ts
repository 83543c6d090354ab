import { describe, expect, it } from "vitest";
import { citation } from "../test/fixtures";
import { findCitation, markersToLinks, parseCitationMarkers, parseCiteHref } from "./citations";

describe("parseCitationMarkers", () => {
  it("finds bare markers", () => {
    const segments = parseCitationMarkers("Notice is 30 days [S1] and fees [S12].");
    expect(segments).toEqual([
      { kind: "text", text: "Notice is 30 days " },
      { kind: "marker", marker: { ids: ["S1"], quote: null }, raw: "[S1]" },
      { kind: "text", text: " and fees " },
      { kind: "marker", marker: { ids: ["S12"], quote: null }, raw: "[S12]" },
      { kind: "text", text: "." },
    ]);
  });

  it("finds quoted markers whose quote contains brackets", () => {
    const text = 'As agreed [S2: "quote with [brackets] inside"] today.';
    const markers = parseCitationMarkers(text).filter((s) => s.kind === "marker");
    expect(markers).toHaveLength(1);
    expect(markers[0]).toMatchObject({ marker: { ids: ["S2"], quote: "quote with [brackets] inside" } });
  });

  it("accepts Chinese punctuation and lists of ids", () => {
    const markers = parseCitationMarkers("工资为80%【】[S3：“试用期工资不得低于80%”][S1, S4]").filter(
      (s) => s.kind === "marker",
    );
    expect(markers.map((m) => m.kind === "marker" && m.marker)).toEqual([
      { ids: ["S3"], quote: "试用期工资不得低于80%" },
      { ids: ["S1", "S4"], quote: null },
    ]);
  });

  it("leaves other brackets alone", () => {
    expect(parseCitationMarkers("see [Section 2] and [s1]")).toEqual([
      { kind: "text", text: "see [Section 2] and [s1]" },
    ]);
  });
});

describe("markersToLinks", () => {
  it("links each marker to the matching citation, by quote when given", () => {
    const citations = [citation({ id: "S1", quote: "first" }), citation({ id: "S1", quote: "second" })];
    const md = markersToLinks('a [S1: "second"] b [S1] `[S1]`', citations);
    expect(md).toBe("a [S1](#lexdesk-cite:S1:1) b [S1](#lexdesk-cite:S1:0) `[S1]`");
    expect(parseCiteHref("#lexdesk-cite:S1:1")).toEqual({ id: "S1", index: 1 });
    expect(parseCiteHref("http://evil")).toBeNull();
    expect(findCitation(citations, "S9", null)).toBe(-1);
  });
});
