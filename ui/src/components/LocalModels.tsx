import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { commands, type DiscoveredModel, type HubTokenStatus, type IpcError } from "../bindings";
import { formatBytes } from "../lib/format";
import { pickFile, toIpcError } from "../platform";
import { useToasts } from "./Toasts";
import { ErrorLine } from "./ErrorLine";

/** Models already on this machine: other apps' GGUFs used in place, any GGUF by path. */
export function LocalModels() {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [found, setFound] = useState<DiscoveredModel[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [importing, setImporting] = useState<string | null>(null);
  const [error, setError] = useState<IpcError | null>(null);

  const search = async () => {
    setSearching(true);
    try {
      setFound(await commands.discoverModels());
    } catch (e) {
      toasts.error(e);
    } finally {
      setSearching(false);
    }
  };

  const importPath = async (path: string, name: string | null) => {
    setImporting(path);
    setError(null);
    try {
      const model = await commands.importModel(path, name);
      toasts.info(t("local.imported", { name: model.file_name }));
      setFound((list) => list?.map((m) => (m.path === path ? { ...m, imported: true } : m)) ?? null);
    } catch (e) {
      setError(toIpcError(e));
    } finally {
      setImporting(null);
    }
  };

  const pick = async () => {
    try {
      const path = await pickFile("gguf");
      if (path) await importPath(path, null);
    } catch (e) {
      toasts.error(e);
    }
  };

  return (
    <section className="settings-section" aria-labelledby="local-heading">
      <h2 id="local-heading">{t("local.title")}</h2>
      <p className="muted">{t("local.hint")}</p>
      <div className="button-row">
        <button type="button" data-testid="discover-models" disabled={searching} onClick={() => void search()}>
          {searching ? t("local.searching") : t("local.find")}
        </button>
        <button type="button" className="quiet" data-testid="import-model-file" onClick={() => void pick()}>
          {t("local.importFile")}
        </button>
      </div>
      {error && (
        <ErrorLine error={error} testId="import-error" />
      )}
      {found !== null &&
        (found.length === 0 ? (
          <p className="muted" data-testid="discovered-none">{t("local.none")}</p>
        ) : (
          <table className="doc-table" data-testid="discovered-models">
            <thead>
              <tr>
                <th>{t("local.app")}</th>
                <th>{t("local.name")}</th>
                <th>{t("catalog.size")}</th>
                <th>
                  <span className="visually-hidden">{t("catalog.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {found.map((m) => (
                <tr key={m.path} data-testid="discovered-row" data-path={m.path}>
                  <td>{m.source}</td>
                  <td>
                    <span className="mono">{m.name}</span>
                    <span className="doc-meta">{m.path}</span>
                  </td>
                  <td>{formatBytes(m.size_bytes)}</td>
                  <td className="row-actions">
                    {m.projector ? (
                      <span className="muted">{t("local.projector")}</span>
                    ) : m.imported ? (
                      <span className="badge badge-indexed">{t("local.inUse")}</span>
                    ) : (
                      <button
                        type="button"
                        className="small"
                        disabled={importing !== null}
                        onClick={() => void importPath(m.path, null)}
                      >
                        {importing === m.path ? t("local.importing") : t("local.use")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}

/** The Hugging Face token for gated models, kept in the OS keychain (never shown again). */
export function HubToken() {
  const { t } = useTranslation();
  const [status, setStatus] = useState<HubTokenStatus | null>(null);
  const [token, setToken] = useState("");
  const [error, setError] = useState<IpcError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    commands.hubTokenStatus().then(setStatus, (e: unknown) => setError(toIpcError(e)));
  }, []);

  const save = async (value: string | null) => {
    setBusy(true);
    setError(null);
    try {
      setStatus(await commands.setHubToken(value));
      setToken("");
    } catch (e) {
      setError(toIpcError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="settings-section" aria-labelledby="hub-heading">
      <h2 id="hub-heading">{t("hub.title")}</h2>
      <p className="muted">{t("hub.hint")}</p>
      {status && (
        <p data-testid="hub-status">
          {status.stored
            ? t("hub.stored", { where: t(`hub.backend.${status.backend ?? "none"}`) })
            : t("hub.notStored")}
          {status.from_environment && <span className="muted"> · {t("hub.fromEnv")}</span>}
        </p>
      )}
      {status?.message && <p className="notice warning">{status.message}</p>}
      <form
        className="field-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) void save(token.trim());
        }}
      >
        <label className="visually-hidden" htmlFor="hub-token">
          {t("hub.token")}
        </label>
        <input
          id="hub-token"
          data-testid="hub-token-input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="hf_…"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          style={{ width: 280 }}
        />
        <button type="submit" className="primary" data-testid="hub-token-save" disabled={busy || !token.trim()}>
          {t("hub.save")}
        </button>
        {status?.stored && (
          <button type="button" className="quiet" data-testid="hub-token-remove" disabled={busy} onClick={() => void save(null)}>
            {t("hub.remove")}
          </button>
        )}
      </form>
      {error && (
        <ErrorLine error={error} />
      )}
    </section>
  );
}
