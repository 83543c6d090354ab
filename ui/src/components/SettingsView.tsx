import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type AppInfo,
  type Hardware,
  type IpcError,
  type ModelChoice,
  type RerankMode,
  type Settings,
  type SettingsUpdate,
} from "../bindings";
import { formatBytes } from "../lib/format";
import { useSettings } from "../lib/queries";
import { toIpcError } from "../platform";
import { HubToken, LocalModels } from "./LocalModels";
import { ModelCatalog } from "./ModelCatalog";
import { useToasts } from "./Toasts";
import { ErrorLine } from "./ErrorLine";

type Form = {
  chatModel: string;
  embedModel: string;
  threads: string;
  gpuMode: "auto" | "number";
  gpuLayers: string;
  contextLength: string;
  maxTokens: string;
  rerank: RerankMode;
};

function toForm(s: Settings): Form {
  const auto = s.gpu_layers.trim().toLowerCase() === "auto" || s.gpu_layers.trim() === "";
  return {
    chatModel: s.chat_model,
    embedModel: s.embed_model,
    threads: s.threads === null ? "" : String(s.threads),
    gpuMode: auto ? "auto" : "number",
    gpuLayers: auto ? "" : s.gpu_layers.trim(),
    contextLength: s.context_length === null ? "" : String(s.context_length),
    maxTokens: String(s.max_tokens),
    rerank: s.rerank,
  };
}

const parseCount = (v: string): number => (v.trim() === "" ? 0 : Number.parseInt(v, 10));

/** Only the fields that changed are sent; null leaves a setting as it is. */
export function buildUpdate(before: Form, after: Form): SettingsUpdate {
  const gpu = (f: Form) => (f.gpuMode === "auto" ? "auto" : String(parseCount(f.gpuLayers)));
  return {
    chat_model: after.chatModel !== before.chatModel ? after.chatModel : null,
    embed_model: after.embedModel !== before.embedModel ? after.embedModel : null,
    threads: after.threads.trim() !== before.threads.trim() ? parseCount(after.threads) : null,
    gpu_layers: gpu(after) !== gpu(before) ? gpu(after) : null,
    context_length:
      after.contextLength.trim() !== before.contextLength.trim() ? parseCount(after.contextLength) : null,
    max_tokens: after.maxTokens.trim() !== before.maxTokens.trim() ? parseCount(after.maxTokens) : null,
    rerank: after.rerank !== before.rerank ? after.rerank : null,
  };
}

function validate(f: Form): string | null {
  const ok = (v: string, allowEmpty: boolean) => (v.trim() === "" ? allowEmpty : /^\d+$/.test(v.trim()));
  if (!ok(f.threads, true)) return "threads";
  if (f.gpuMode === "number" && !ok(f.gpuLayers, false)) return "gpuLayers";
  if (!ok(f.contextLength, true)) return "contextLength";
  if (!ok(f.maxTokens, false) || parseCount(f.maxTokens) < 1) return "maxTokens";
  return null;
}

export function SettingsView() {
  const { t } = useTranslation();
  const toasts = useToasts();
  const settingsQuery = useSettings();
  const settings = settingsQuery.data ?? null;
  const [form, setForm] = useState<Form | null>(null);
  const [hardware, setHardware] = useState<Hardware | null>(null);
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);

  // The form shows the settings as read, and again whenever they change (saved here, or a
  // model downloaded or imported below).
  useEffect(() => {
    if (settings) setForm(toForm(settings));
  }, [settings]);
  const loadError = settingsQuery.error ? toIpcError(settingsQuery.error) : null;

  useEffect(() => {
    commands.hardware().then(setHardware, (e: unknown) => toasts.error(e));
    commands.appInfo().then(setInfo, (e: unknown) => toasts.error(e));
  }, [toasts]);

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    setSaved(false);
    setForm((f) => (f ? { ...f, [key]: value } : f));
  };

  const invalid = form ? validate(form) : null;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!settings || !form || invalid) return;
    setSaving(true);
    setError(null);
    try {
      const next = await commands.updateSettings(buildUpdate(toForm(settings), form));
      setForm(toForm(next));
      setSaved(true);
    } catch (err) {
      setError(toIpcError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="settings-view">
      <h1>{t("settings.title")}</h1>

      {(error ?? loadError) && <ErrorLine error={(error ?? loadError) as IpcError} variant="inline" />}

      {settings && form ? (
        <form className="settings-form" onSubmit={save} noValidate>
          <fieldset>
            <legend>{t("settings.models")}</legend>
            <ModelSelect
              id="chat-model"
              label={t("settings.chatModel")}
              value={form.chatModel}
              models={settings.available_models.filter((m) => m.kind === "chat" || m.kind === null)}
              onChange={(v) => set("chatModel", v)}
            />
            <ModelSelect
              id="embed-model"
              label={t("settings.embedModel")}
              value={form.embedModel}
              models={settings.available_models.filter((m) => m.kind === "embedding" || m.kind === null)}
              onChange={(v) => set("embedModel", v)}
            />
          </fieldset>

          <fieldset>
            <legend>{t("settings.performance")}</legend>
            <div className="field">
              <label htmlFor="threads">{t("settings.threads")}</label>
              <input
                id="threads"
                inputMode="numeric"
                placeholder={t("settings.default")}
                value={form.threads}
                aria-invalid={invalid === "threads"}
                onChange={(e) => set("threads", e.target.value)}
              />
              <small className="muted">{t("settings.threadsHint")}</small>
            </div>
            <div className="field">
              <label htmlFor="gpu-mode">{t("settings.gpuLayers")}</label>
              <div className="field-row">
                <select
                  id="gpu-mode"
                  value={form.gpuMode}
                  onChange={(e) => set("gpuMode", e.target.value as Form["gpuMode"])}
                >
                  <option value="auto">{t("settings.auto")}</option>
                  <option value="number">{t("settings.layerCount")}</option>
                </select>
                {form.gpuMode === "number" && (
                  <input
                    id="gpu-layers"
                    inputMode="numeric"
                    aria-label={t("settings.layerCount")}
                    value={form.gpuLayers}
                    aria-invalid={invalid === "gpuLayers"}
                    onChange={(e) => set("gpuLayers", e.target.value)}
                  />
                )}
              </div>
              <small className="muted">{t("settings.gpuHint")}</small>
            </div>
            <div className="field">
              <label htmlFor="context-length">{t("settings.contextLength")}</label>
              <input
                id="context-length"
                inputMode="numeric"
                placeholder={t("settings.modelDefault")}
                value={form.contextLength}
                aria-invalid={invalid === "contextLength"}
                onChange={(e) => set("contextLength", e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="max-tokens">{t("settings.maxTokens")}</label>
              <input
                id="max-tokens"
                inputMode="numeric"
                value={form.maxTokens}
                aria-invalid={invalid === "maxTokens"}
                onChange={(e) => set("maxTokens", e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="rerank">{t("settings.rerank")}</label>
              <select
                id="rerank"
                data-testid="settings-rerank"
                value={form.rerank}
                onChange={(e) => set("rerank", e.target.value as RerankMode)}
              >
                <option value="auto">{t("settings.rerankAuto")}</option>
                <option value="on">{t("settings.rerankOn")}</option>
                <option value="off">{t("settings.rerankOff")}</option>
              </select>
            </div>
          </fieldset>

          {invalid && <p className="inline-error">{t("settings.invalid", { field: t(`settings.${invalid}`) })}</p>}

          <div className="form-actions">
            <button type="submit" className="primary" data-testid="settings-save" disabled={saving || invalid !== null}>
              {saving ? t("settings.saving") : t("settings.save")}
            </button>
            {saved && (
              <span className="saved-note" role="status">
                ✓ {t("settings.saved")}
              </span>
            )}
          </div>
        </form>
      ) : (
        !error && <p className="muted">{t("common.loading")}</p>
      )}

      <section className="settings-section" aria-labelledby="hardware-heading">
        <h2 id="hardware-heading">{t("settings.hardware")}</h2>
        {hardware ? (
          <dl className="kv">
            <dt>{t("settings.cpu")}</dt>
            <dd>{hardware.cpu}</dd>
            <dt>{t("settings.cores")}</dt>
            <dd>{t("settings.coresValue", { physical: hardware.physical_cores, logical: hardware.logical_cpus })}</dd>
            <dt>{t("settings.memory")}</dt>
            <dd>
              {t("settings.memoryValue", {
                total: formatBytes(hardware.memory_total),
                available: formatBytes(hardware.memory_available),
              })}
            </dd>
            <dt>{t("settings.devices")}</dt>
            <dd>
              {hardware.devices.length === 0 ? (
                t("settings.noDevices")
              ) : (
                <ul className="device-list">
                  {hardware.devices.map((d) => (
                    <li key={`${d.backend}-${d.name}`}>
                      <strong>{d.description || d.name}</strong>{" "}
                      <span className={`badge ${d.is_gpu ? "badge-verified" : "badge-neutral"}`}>{d.backend}</span>
                      {d.memory_total > 0 && (
                        <span className="muted">
                          {" "}
                          {t("settings.memoryValue", {
                            total: formatBytes(d.memory_total),
                            available: formatBytes(d.memory_free),
                          })}
                        </span>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </dl>
        ) : (
          <p className="muted">{t("common.loading")}</p>
        )}
      </section>

      <ModelCatalog />
      <LocalModels />
      <HubToken />

      <section className="settings-section" aria-labelledby="about-heading">
        <h2 id="about-heading">{t("settings.about")}</h2>
        <dl className="kv">
          <dt>{t("settings.dataFolder")}</dt>
          <dd>
            <code className="path">{info?.home ?? settings?.home ?? "…"}</code>
          </dd>
          <dt>{t("settings.version")}</dt>
          <dd>{info?.version ?? "…"}</dd>
        </dl>
      </section>
    </div>
  );
}

function ModelSelect(props: {
  id: string;
  label: string;
  value: string;
  models: ModelChoice[];
  onChange: (value: string) => void;
}) {
  const { t } = useTranslation();
  const current = props.models.find((m) => m.path === props.value || m.file_name === props.value);
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        {!current && <option value={props.value}>{props.value || t("settings.none")}</option>}
        {props.models.map((m) => (
          <option key={m.path} value={m === current ? props.value : m.path}>
            {m.file_name} ({formatBytes(m.size_bytes)})
          </option>
        ))}
      </select>
      {current?.description && <small className="muted">{current.description}</small>}
    </div>
  );
}
