import { useEffect, useRef, useState } from "react";

type Props = {
  initial?: string;
  label: string;
  placeholder?: string;
  testId?: string;
  onSubmit: (name: string) => void | Promise<void>;
  onCancel: () => void;
};

/** A text input that submits on Enter and cancels on Esc or when emptied and left. */
export function InlineNameInput({ initial = "", label, placeholder, testId, onSubmit, onCancel }: Props) {
  const [value, setValue] = useState(initial);
  const ref = useRef<HTMLInputElement>(null);
  const done = useRef(false);

  useEffect(() => {
    ref.current?.focus();
    ref.current?.select();
  }, []);

  const submit = () => {
    const name = value.trim();
    if (done.current) return;
    done.current = true;
    if (name) void onSubmit(name);
    else onCancel();
  };

  return (
    <input
      ref={ref}
      className="inline-input"
      aria-label={label}
      placeholder={placeholder}
      data-testid={testId}
      value={value}
      maxLength={200}
      onChange={(e) => setValue(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === "Enter" && !e.nativeEvent.isComposing) {
          e.preventDefault();
          submit();
        } else if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          done.current = true;
          onCancel();
        }
      }}
      onBlur={() => {
        if (!done.current) {
          if (value.trim() && value.trim() !== initial) submit();
          else {
            done.current = true;
            onCancel();
          }
        }
      }}
    />
  );
}
