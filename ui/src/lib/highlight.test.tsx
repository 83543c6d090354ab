import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { PageText } from "../components/PagePanel";
import { splitByCodePoints } from "./highlight";

describe("splitByCodePoints", () => {
  it("slices ASCII text", () => {
    expect(splitByCodePoints("Give 30 days notice.", 5, 12)).toEqual({
      before: "Give ",
      quote: "30 days",
      after: " notice.",
    });
  });

  it("counts Chinese characters and emoji as one code point each", () => {
    // "😀" is two UTF-16 units; the offsets from Rust count it once.
    const text = "😀😀第一条：试用期工资不得低于80%。";
    const parts = splitByCodePoints(text, 7, 17);
    expect(parts).toEqual({ before: "😀😀第一条：试", quote: "用期工资不得低于80", after: "%。" });
  });

  it("returns null without a usable range", () => {
    expect(splitByCodePoints("abc", null, 2)).toBeNull();
    expect(splitByCodePoints("abc", 2, 2)).toBeNull();
    expect(splitByCodePoints("abc", 5, 9)).toBeNull();
  });

  it("clamps an end past the text", () => {
    expect(splitByCodePoints("abc", 1, 99)).toEqual({ before: "a", quote: "bc", after: "" });
  });
});

describe("PageText", () => {
  it("marks the quote by code-point offsets", () => {
    render(<PageText text={"🙂 甲方应提前三十日书面通知乙方。"} start={2} end={11} />);
    const mark = document.querySelector("mark.quote-highlight");
    expect(mark?.textContent).toBe("甲方应提前三十日书");
    expect(screen.getByTestId("page-text").textContent).toBe("🙂 甲方应提前三十日书面通知乙方。");
  });

  it("shows no mark without offsets", () => {
    render(<PageText text="plain" start={null} end={null} />);
    expect(document.querySelector("mark")).toBeNull();
  });
});
