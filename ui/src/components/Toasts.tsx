import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { toIpcError } from "../platform";

type Toast = { id: number; kind: "error" | "info"; message: string; code: string | null };

type ToastApi = {
  /** Shows a failed command (or any error) with its message and code. */
  error: (error: unknown) => void;
  info: (message: string) => void;
};

const ToastContext = createContext<ToastApi>({ error: () => undefined, info: () => undefined });

export function useToasts(): ToastApi {
  return useContext(ToastContext);
}

const TIMEOUT_MS = 9000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => {
    setToasts((list) => list.filter((toast) => toast.id !== id));
  }, []);

  const push = useCallback(
    (toast: Omit<Toast, "id">) => {
      const id = nextId.current++;
      setToasts((list) => [...list.slice(-4), { ...toast, id }]);
      window.setTimeout(() => dismiss(id), TIMEOUT_MS);
    },
    [dismiss],
  );

  const api = useMemo<ToastApi>(
    () => ({
      error: (error) => {
        const e = toIpcError(error);
        push({ kind: "error", message: e.message, code: e.code });
      },
      info: (message) => push({ kind: "info", message, code: null }),
    }),
    [push],
  );

  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((toast) => (
          <div
            key={toast.id}
            className={`toast toast-${toast.kind}`}
            role={toast.kind === "error" ? "alert" : "status"}
            data-testid="toast"
          >
            <div className="toast-body">
              <span>{toast.message}</span>
              {toast.code && <code className="error-code">{toast.code}</code>}
            </div>
            <button
              type="button"
              className="icon-button"
              aria-label={t("common.dismiss")}
              onClick={() => dismiss(toast.id)}
            >
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
