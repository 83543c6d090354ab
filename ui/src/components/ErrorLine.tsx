import type { IpcError } from "../bindings";

const CLASS = { form: "form-error", inline: "inline-error", text: "error-text" } as const;

/** A failed command, as one line: the message and its stable code (kind on `data-kind`). */
export function ErrorLine({
  error,
  variant = "form",
  testId,
}: {
  /** A command's error, or any other `{ code, message }` (a comparison run's, for one). */
  error: Pick<IpcError, "code" | "message"> & { kind?: IpcError["kind"] };
  /** `form` under a form, `inline` as a boxed notice, `text` as plain danger-coloured text. */
  variant?: keyof typeof CLASS;
  testId?: string;
}) {
  return (
    <p className={CLASS[variant]} role="alert" data-testid={testId} data-kind={error.kind}>
      {error.message} <code className="error-code">{error.code}</code>
    </p>
  );
}
