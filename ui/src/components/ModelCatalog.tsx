import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type CatalogEntry,
  type DownloadEvent,
  type FitReport,
  type IpcError,
  type ModelCatalog as Catalog,
} from "../bindings";
import { formatBytes } from "../lib/format";
import { channel, newJobId, toIpcError } from "../platform";
import { ErrorLine } from "./ErrorLine";

/** A running download: which file, how far, how fast. */
export type DownloadState = {
  key: string;
  jobId: string;
  downloaded: number;
  total: number | null;
  bytesPerSec: number;
  etaSecs: number | null;
  verifying: boolean;
  retry: string | null;
};

/** Applies one progress event to the state of a download. */
export function applyDownloadEvent(state: DownloadState, e: DownloadEvent): DownloadState {
  switch (e.event) {
    case "started":
      return { ...state, total: e.total ?? state.total, downloaded: e.resumed_from, retry: null };
    case "progress":
      return {
        ...state,
        downloaded: e.downloaded,
        total: e.total ?? state.total,
        bytesPerSec: e.bytes_per_sec ?? 0,
        etaSecs: e.eta_secs ?? null,
      };
    case "retrying":
      return { ...state, retry: e.reason };
    case "verifying":
      return { ...state, verifying: true };
  }
}

export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const fitClass: Record<FitReport["verdict"], string> = {
  fits_gpu: "badge-verified",
  fits_partial_offload: "badge-verified",
  fits_cpu: "badge-neutral",
  does_not_fit: "badge-unverified",
};

/** The curated model catalog: fit on this machine, the recommendation, downloads with progress. */
export function ModelCatalog() {
  const { t } = useTranslation();
  const [catalog, setCatalog] = useState<Catalog | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [download, setDownload] = useState<DownloadState | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const load = useCallback(() => {
    commands.modelCatalog().then(setCatalog, (e: unknown) => setError(toIpcError(e)));
  }, []);
  useEffect(load, [load]);

  const start = async (entry: CatalogEntry, quant: string) => {
    const key = `${entry.id}:${quant}`;
    const jobId = newJobId();
    let state: DownloadState = {
      key,
      jobId,
      downloaded: 0,
      total: null,
      bytesPerSec: 0,
      etaSecs: null,
      verifying: false,
      retry: null,
    };
    setError(null);
    setDone(null);
    setDownload(state);
    const onEvent = channel<DownloadEvent>((e) => {
      state = applyDownloadEvent(state, e);
      setDownload(state);
    });
    try {
      await commands.downloadModel(entry.id, quant, jobId, onEvent);
      setDone(key);
      load();
    } catch (e) {
      setError(toIpcError(e));
    } finally {
      setDownload(null);
    }
  };

  const cancel = async () => {
    if (download) await commands.cancelJob(download.jobId);
  };

  const recommended = [catalog?.chat, catalog?.embedding].filter((r) => r != null);

  return (
    <section className="settings-section" aria-labelledby="catalog-heading" data-testid="model-catalog">
      <h2 id="catalog-heading">{t("catalog.title")}</h2>
      {error && (
        <ErrorLine error={error} variant="inline" />
      )}
      {!catalog && !error && <p className="muted">{t("common.loading")}</p>}
      {catalog && (
        <>
          {recommended.length > 0 && (
            <div className="recommendations">
              <h3>{t("catalog.recommended")}</h3>
              <ul>
                {recommended.map((r) => (
                  <li key={r.kind} data-testid={`recommended-${r.kind}`}>
                    <strong>
                      {r.fit.id} {r.fit.quant}
                    </strong>{" "}
                    — {t(`catalog.kind.${r.kind}`)}, {t("catalog.needs", { size: formatBytes(r.fit.need) })},{" "}
                    {t("catalog.threadsLayers", { threads: r.fit.threads, layers: r.fit.gpu_layers })}
                    <br />
                    <small className="muted">{r.reason}</small>
                  </li>
                ))}
              </ul>
            </div>
          )}
          <p className="muted">{t("catalog.where", { dir: catalog.models_dir })}</p>
          <table className="catalog-table">
            <thead>
              <tr>
                <th scope="col">{t("catalog.model")}</th>
                <th scope="col">{t("catalog.kindHeader")}</th>
                <th scope="col">{t("catalog.quant")}</th>
                <th scope="col">{t("catalog.size")}</th>
                <th scope="col">{t("catalog.fit")}</th>
                <th scope="col">
                  <span className="visually-hidden">{t("catalog.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {catalog.entries.flatMap((entry) =>
                entry.fits.map((fit, i) => {
                  const key = `${entry.id}:${fit.quant}`;
                  const installed = entry.installed.includes(fit.quant);
                  const running = download?.key === key;
                  return (
                    <tr key={key} data-testid={`catalog-row-${key}`}>
                      <td>
                        {i === 0 && (
                          <>
                            <strong>{entry.name}</strong>
                            <br />
                            <small className="muted">
                              {entry.languages.join(", ")} · {entry.license}
                              {entry.gated ? ` · ${t("catalog.gated")}` : ""}
                              {entry.commercial_use ? "" : ` · ${t("catalog.nonCommercial")}`}
                            </small>
                          </>
                        )}
                      </td>
                      <td>{i === 0 ? t(`catalog.kind.${entry.kind}`) : ""}</td>
                      <td>{fit.quant}</td>
                      <td>
                        {fit.weights_exact ? "" : "~"}
                        {formatBytes(fit.weights)}
                      </td>
                      <td>
                        <span className={`badge ${fitClass[fit.verdict]}`}>{t(`catalog.verdict.${fit.verdict}`)}</span>
                        {!fit.interactive && fit.verdict !== "does_not_fit" && (
                          <small className="muted"> {t("catalog.slow")}</small>
                        )}
                      </td>
                      <td>
                        {installed || done === key ? (
                          <span className="badge badge-verified">{t("catalog.installed")}</span>
                        ) : running && download ? (
                          <DownloadProgressView state={download} onCancel={cancel} />
                        ) : (
                          <button
                            type="button"
                            disabled={download !== null || fit.verdict === "does_not_fit"}
                            onClick={() => void start(entry, fit.quant)}
                          >
                            {t("catalog.download")}
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                }),
              )}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function DownloadProgressView(props: { state: DownloadState; onCancel: () => void }) {
  const { t } = useTranslation();
  const s = props.state;
  const pct = s.total ? Math.min(100, (s.downloaded / s.total) * 100) : null;
  return (
    <div className="download-progress" role="status" data-testid="download-progress">
      <progress max={100} value={pct ?? undefined} aria-label={t("catalog.downloading")} />
      <small>
        {s.verifying
          ? t("catalog.verifying")
          : t("catalog.progress", {
              done: formatBytes(s.downloaded),
              total: s.total ? formatBytes(s.total) : "?",
              speed: formatBytes(s.bytesPerSec),
              eta: s.etaSecs === null ? "…" : formatEta(s.etaSecs),
            })}
        {s.retry && ` · ${t("catalog.retrying", { reason: s.retry })}`}
      </small>
      <button type="button" onClick={props.onCancel}>
        {t("catalog.cancel")}
      </button>
    </div>
  );
}
