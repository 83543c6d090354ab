import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { Segmented } from "./Segmented";

function Modes({ role }: { role: "radiogroup" | "tablist" }) {
  const [value, setValue] = useState<"a" | "b" | "c">("a");
  return (
    <Segmented
      role={role}
      label="Mode"
      value={value}
      onChange={setValue}
      options={[
        { value: "a", label: "Answer" },
        { value: "b", label: "Passages", testId: "mode-b" },
        { value: "c", label: "Draft" },
      ]}
    />
  );
}

describe("Segmented", () => {
  it("is a radio group whose arrow keys move the choice and the focus", async () => {
    render(<Modes role="radiogroup" />);
    expect(screen.getByRole("radiogroup", { name: "Mode" })).toBeInTheDocument();
    const answer = screen.getByRole("radio", { name: "Answer" });
    expect(answer).toHaveAttribute("aria-checked", "true");
    expect(screen.getByTestId("mode-b")).toHaveAttribute("tabindex", "-1");
    await userEvent.click(screen.getByRole("radio", { name: "Passages" }));
    expect(screen.getByRole("radio", { name: "Passages" })).toHaveAttribute("aria-checked", "true");
    await userEvent.keyboard("{ArrowRight}");
    expect(screen.getByRole("radio", { name: "Draft" })).toHaveAttribute("aria-checked", "true");
    expect(screen.getByRole("radio", { name: "Draft" })).toHaveFocus();
    await userEvent.keyboard("{ArrowRight}");
    expect(answer).toHaveAttribute("aria-checked", "true");
    await userEvent.keyboard("{ArrowLeft}");
    expect(screen.getByRole("radio", { name: "Draft" })).toHaveAttribute("aria-checked", "true");
  });

  it("is a tab list with the selected tab marked", async () => {
    render(<Modes role="tablist" />);
    expect(screen.getByRole("tablist", { name: "Mode" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("tab", { name: "Passages" }));
    expect(screen.getByRole("tab", { name: "Passages" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getByRole("tab", { name: "Answer" })).toHaveAttribute("aria-selected", "false");
    expect(screen.getByRole("tab", { name: "Answer" })).not.toHaveAttribute("aria-checked");
  });
});
