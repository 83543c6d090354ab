import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { toIpcError } from "../platform";
import { ErrorLine } from "./ErrorLine";

describe("ErrorLine", () => {
  it("shows the message and the stable code, and carries the error's kind", () => {
    const error = toIpcError({ kind: "not_found", code: "DOCUMENT_NOT_FOUND", message: "No document `a.pdf`." });
    render(<ErrorLine error={error} testId="err" />);
    const line = screen.getByRole("alert");
    expect(line).toHaveTextContent("No document `a.pdf`.");
    expect(line).toHaveTextContent("DOCUMENT_NOT_FOUND");
    expect(line).toHaveAttribute("data-kind", "not_found");
    expect(line).toHaveClass("form-error");
  });

  it("gives anything that is not a typed error the internal kind", () => {
    expect(toIpcError(new Error("boom"))).toEqual({ kind: "internal", code: "ERROR", message: "boom" });
    expect(toIpcError({ code: "X", message: "m" }).kind).toBe("internal");
  });
});
