import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { citation } from "../test/fixtures";
import { AnswerMarkdown } from "./Markdown";

describe("AnswerMarkdown", () => {
  it("never renders images or links", () => {
    const { container } = render(
      <AnswerMarkdown text={"Look ![x](http://evil/x.png) and [link](http://evil) <http://evil/auto>"} />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("a")).toBeNull();
    expect(container.querySelector("[href]")).toBeNull();
    expect(container.querySelector("[src]")).toBeNull();
    expect(container.textContent).toContain("[x]");
    expect(container.textContent).toContain("link");
  });

  it("shows raw HTML as text", () => {
    const { container } = render(<AnswerMarkdown text={'Hi <script>alert("x")</script> <b>bold</b>'} />);
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
    expect(container.textContent).toContain('<script>alert("x")</script>');
  });

  it("renders markdown and turns citation markers into chips", async () => {
    const onCitation = vi.fn();
    const citations = [
      citation(),
      citation({ id: "S2", quote: "with [brackets]", verified: false, problem: "QUOTE_NOT_FOUND" }),
    ];
    const { container } = render(
      <AnswerMarkdown
        text={'**Notice**: 30 days [S1]; fees [S2: "with [brackets]"].'}
        citations={citations}
        onCitation={onCitation}
      />,
    );
    expect(container.querySelector("strong")?.textContent).toBe("Notice");
    const chips = screen.getAllByTestId("citation-chip");
    expect(chips.map((c) => [c.dataset.id, c.dataset.verified, c.textContent])).toEqual([
      ["S1", "true", "✓S1"],
      ["S2", "false", "⚠S2"],
    ]);
    expect(chips[0]).toHaveAccessibleName("Source S1, verified");
    expect(chips[1]).toHaveAccessibleName("Source S2, not verified");
    expect(container.textContent).not.toContain("brackets");
    await userEvent.click(chips[1]);
    expect(onCitation).toHaveBeenCalledWith(1);
  });
});
