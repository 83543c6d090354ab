// One row of mutually exclusive buttons: a choice (`radiogroup`, e.g. the answer mode) or a
// switch between views (`tablist`, e.g. library and compare). Arrow keys move the choice.
import type { KeyboardEvent } from "react";

export type SegmentedOption<T extends string> = { value: T; label: string; testId?: string };

type Props<T extends string> = {
  role: "radiogroup" | "tablist";
  label: string;
  options: SegmentedOption<T>[];
  value: T;
  onChange: (value: T) => void;
};

export function Segmented<T extends string>({ role, label, options, value, onChange }: Props<T>) {
  const onKeyDown = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const at = options.findIndex((o) => o.value === value);
    const next = options[(at + (e.key === "ArrowRight" ? 1 : options.length - 1)) % options.length];
    onChange(next.value);
    const group = e.currentTarget.parentElement;
    group?.querySelector<HTMLButtonElement>(`[data-value="${next.value}"]`)?.focus();
  };
  return (
    <div className="segmented" role={role} aria-label={label}>
      {options.map((o) => {
        const selected = o.value === value;
        return (
          <button
            key={o.value}
            type="button"
            role={role === "radiogroup" ? "radio" : "tab"}
            aria-checked={role === "radiogroup" ? selected : undefined}
            aria-selected={role === "tablist" ? selected : undefined}
            tabIndex={selected ? 0 : -1}
            className={selected ? "active" : ""}
            data-value={o.value}
            data-testid={o.testId}
            onClick={() => onChange(o.value)}
            onKeyDown={onKeyDown}
          >
            {o.label}
          </button>
        );
      })}
    </div>
  );
}
