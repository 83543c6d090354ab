import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type IpcError,
  type Listing,
  type Matter,
  type Notice,
  type RenderView,
  type TemplateSummary,
  type TemplateView,
} from "../bindings";
import { filledInputs } from "../lib/templates";
import { pickFile, pickSavePath, toIpcError } from "../platform";
import { CompareView } from "./CompareView";
import { ConfirmDialog } from "./ConfirmDialog";
import { InlineNameInput } from "./InlineNameInput";
import { Segmented } from "./Segmented";
import { useToasts } from "./Toasts";
import { EvidenceMatterSelect, VariableFields } from "./VariableFields";
import { ErrorLine } from "./ErrorLine";

/** What "New template" starts from: a complete, valid template to edit. */
export const NEW_TEMPLATE = `format = 1
name = "my-template"
title = "My template"
language = "en"
category = "legal"
description = "What this template is for."
evidence = false

role = "You are an experienced {{field}} lawyer."
task = "Summarise the document for a client."
requirements = [
  "At most {{max_points}} points.",
  "Plain English; no legal jargon.",
]
output_format = """
- point"""
output_example = """
- The agreement ends on 31 March 2027."""

[parameters]
temperature = 0.0
max_tokens = 400

[[variables]]
name = "field"
kind = "text"
default = "commercial"
description = "The area of law"

[[variables]]
name = "max_points"
kind = "number"
min = 1
max = 10
default = 5
description = "How many points"

[[variables]]
name = "document"
kind = "document"
required = true
description = "The document to summarise"

[[inputs]]
label = "Document"
content = "{{document}}"
`;

type Props = { matters: Matter[] };

type Selection = { kind: "template"; name: string } | { kind: "new" } | null;

export function TemplatesView({ matters }: Props) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [mode, setMode] = useState<"library" | "compare">("library");
  const [listing, setListing] = useState<Listing | null>(null);
  const [filter, setFilter] = useState("");
  const [selection, setSelection] = useState<Selection>(null);
  const [compareWith, setCompareWith] = useState<string[]>([]);

  const reload = useCallback(async () => {
    try {
      const l = await commands.listTemplates();
      setListing(l);
      return l;
    } catch (error) {
      toasts.error(error);
      return null;
    }
  }, [toasts]);

  useEffect(() => {
    void reload().then((l) => {
      if (l && l.templates.length > 0) setSelection((s) => s ?? { kind: "template", name: l.templates[0].name });
    });
  }, [reload]);

  const importTemplate = async () => {
    try {
      const path = await pickFile("toml");
      if (!path) return;
      const view = await commands.importTemplate(path, null);
      await reload();
      setSelection({ kind: "template", name: view.stored.template.name });
      toasts.info(t("templates.imported", { name: view.stored.template.name }));
    } catch (error) {
      toasts.error(error);
    }
  };

  const shown = useMemo(() => {
    const q = filter.trim().toLowerCase();
    const all = listing?.templates ?? [];
    return q
      ? all.filter((x) => [x.name, x.title, x.category, x.description].some((f) => f.toLowerCase().includes(q)))
      : all;
  }, [listing, filter]);

  const groups: [string, TemplateSummary[]][] = [
    [t("templates.mine"), shown.filter((x) => x.source === "user")],
    [t("templates.builtin"), shown.filter((x) => x.source === "builtin")],
  ];

  return (
    <div className="templates-view">
      <div className="view-head">
        <h1>{t("templates.title")}</h1>
        <Segmented
          role="tablist"
          label={t("templates.title")}
          value={mode}
          onChange={setMode}
          options={[
            { value: "library", label: t("templates.library"), testId: "templates-tab-library" },
            { value: "compare", label: t("templates.compare"), testId: "templates-tab-compare" },
          ]}
        />
      </div>

      {/* Both stay mounted: a comparison keeps running (and its inputs stay) while the library is open. */}
      <div className="compare-pane" hidden={mode !== "compare"}>
        <CompareView templates={listing?.templates ?? []} matters={matters} initial={compareWith} />
      </div>
      {mode === "library" && (
        <div className="templates-body">
          <aside className="template-list" aria-label={t("templates.list")}>
            <div className="template-list-actions">
              <button type="button" className="small" data-testid="template-new" onClick={() => setSelection({ kind: "new" })}>
                + {t("templates.new")}
              </button>
              <button type="button" className="small quiet" data-testid="template-import" onClick={() => void importTemplate()}>
                {t("templates.import")}
              </button>
            </div>
            <input
              type="search"
              className="template-filter"
              aria-label={t("templates.filter")}
              placeholder={t("templates.filter")}
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
            />
            {listing === null && <p className="muted">{t("common.loading")}</p>}
            {groups.map(([label, items]) =>
              items.length === 0 ? null : (
                <section key={label}>
                  <h2 className="list-heading">{label}</h2>
                  <ul className="nav-list">
                    {items.map((x) => {
                      const selected = selection?.kind === "template" && selection.name === x.name;
                      return (
                        <li key={x.name}>
                          <button
                            type="button"
                            className={`template-item${selected ? " selected" : ""}`}
                            aria-current={selected ? "true" : undefined}
                            data-testid="template-item"
                            data-name={x.name}
                            onClick={() => setSelection({ kind: "template", name: x.name })}
                          >
                            <span className="template-item-title">{x.title}</span>
                            <span className="template-item-meta">
                              <span className="badge">{x.language}</span>
                              {x.evidence && <span className="badge">{t("templates.evidenceBadge")}</span>}
                              {x.answers_questions && <span className="badge">{t("templates.chatBadge")}</span>}
                              <span className="muted mono">{x.name}</span>
                            </span>
                          </button>
                        </li>
                      );
                    })}
                  </ul>
                </section>
              ),
            )}
            {listing && listing.invalid.length > 0 && (
              <div className="invalid-files" role="alert">
                <p>{t("templates.invalidFiles")}</p>
                <ul>
                  {listing.invalid.map((f) => (
                    <li key={f.path}>
                      <span className="mono">{f.path}</span>: {f.message} <span className="code">{f.code}</span>
                    </li>
                  ))}
                </ul>
              </div>
            )}
          </aside>

          <section className="template-detail">
            {selection?.kind === "new" && (
              <TemplateEditor
                key="new"
                name={null}
                initialText={NEW_TEMPLATE}
                readOnly={false}
                onSaved={async (view) => {
                  await reload();
                  setSelection({ kind: "template", name: view.stored.template.name });
                }}
              />
            )}
            {selection?.kind === "template" && (
              <TemplateDetail
                key={selection.name}
                name={selection.name}
                matters={matters}
                onChanged={async (next) => {
                  const l = await reload();
                  if (next) setSelection({ kind: "template", name: next });
                  else setSelection(l && l.templates.length > 0 ? { kind: "template", name: l.templates[0].name } : null);
                }}
                onCompare={(name) => {
                  setCompareWith((list) => (list.includes(name) ? list : [...list, name]));
                  setMode("compare");
                }}
              />
            )}
            {selection === null && listing !== null && <p className="muted">{t("templates.pick")}</p>}
          </section>
        </div>
      )}
    </div>
  );
}

type DetailProps = {
  name: string;
  matters: Matter[];
  onChanged: (selectName: string | null) => Promise<void>;
  onCompare: (name: string) => void;
};

function TemplateDetail({ name, matters, onChanged, onCompare }: DetailProps) {
  const { t } = useTranslation();
  const toasts = useToasts();
  const [view, setView] = useState<TemplateView | null>(null);
  const [tab, setTab] = useState<"try" | "edit">("try");
  const [duplicating, setDuplicating] = useState(false);
  const [deleting, setDeleting] = useState(false);

  const load = useCallback(() => {
    commands.getTemplate(name).then(setView, (e: unknown) => toasts.error(e));
  }, [name, toasts]);
  useEffect(load, [load]);

  if (!view) return <p className="muted">{t("common.loading")}</p>;
  const tpl = view.stored.template;
  const builtin = view.stored.source === "builtin";

  const exportTemplate = async () => {
    try {
      const path = await pickSavePath(`${tpl.name}.toml`, "toml");
      if (!path) return;
      await commands.exportTemplate(tpl.name, path);
      toasts.info(t("templates.exported"));
    } catch (error) {
      toasts.error(error);
    }
  };

  return (
    <div className="template-card" data-testid="template-detail" data-name={tpl.name}>
      <header className="template-card-head">
        <div>
          <h2>{tpl.title}</h2>
          <p className="muted">
            <span className="mono">{tpl.name}</span> · {tpl.language} · {tpl.category} ·{" "}
            {builtin ? t("templates.builtinReadOnly") : t("templates.userTemplate")}
          </p>
          {tpl.description && <p>{tpl.description}</p>}
        </div>
        <div className="template-actions">
          <button type="button" className="small" data-testid="template-duplicate" onClick={() => setDuplicating(true)}>
            {t("templates.duplicate")}
          </button>
          <button type="button" className="small quiet" onClick={() => void exportTemplate()}>
            {t("templates.export")}
          </button>
          <button type="button" className="small quiet" data-testid="template-compare" onClick={() => onCompare(tpl.name)}>
            {t("templates.addToComparison")}
          </button>
          {!builtin && (
            <button type="button" className="small danger" data-testid="template-delete" onClick={() => setDeleting(true)}>
              {t("common.delete")}
            </button>
          )}
        </div>
      </header>
      {duplicating && (
        <InlineNameInput
          label={t("templates.newName")}
          initial={`${tpl.name}-copy`}
          testId="template-duplicate-name"
          onSubmit={async (newName) => {
            setDuplicating(false);
            try {
              await commands.duplicateTemplate(tpl.name, newName);
              await onChanged(newName);
            } catch (error) {
              toasts.error(error);
            }
          }}
          onCancel={() => setDuplicating(false)}
        />
      )}
      {view.warnings.length > 0 && <Notices notices={view.warnings} />}

      <div className="tabs" role="tablist">
        {(["try", "edit"] as const).map((x) => (
          <button
            key={x}
            type="button"
            role="tab"
            aria-selected={tab === x}
            className={tab === x ? "active" : ""}
            data-testid={`template-tab-${x}`}
            onClick={() => setTab(x)}
          >
            {t(x === "try" ? "templates.try" : builtin ? "templates.source" : "templates.edit")}
          </button>
        ))}
      </div>
      {tab === "try" ? (
        <TryTemplate view={view} matters={matters} />
      ) : (
        <TemplateEditor
          name={tpl.name}
          initialText={view.stored.text}
          readOnly={builtin}
          onSaved={async (saved) => {
            const next = saved.stored.template.name;
            if (next === tpl.name) setView(saved);
            await onChanged(next);
            toasts.info(t("templates.saved"));
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={t("templates.deleteTitle")}
          message={t("templates.deleteMessage", { name: tpl.name })}
          confirmLabel={t("common.delete")}
          onConfirm={() => {
            setDeleting(false);
            commands.deleteTemplate(tpl.name).then(
              () => onChanged(null),
              (e: unknown) => toasts.error(e),
            );
          }}
          onCancel={() => setDeleting(false)}
        />
      )}
    </div>
  );
}

function Notices({ notices }: { notices: Notice[] }) {
  return (
    <ul className="notices" data-testid="template-warnings">
      {notices.map((n, i) => (
        <li key={i} className="notice warning">
          <span className="code">{n.code}</span> {n.message}
        </li>
      ))}
    </ul>
  );
}

function TryTemplate({ view, matters }: { view: TemplateView; matters: Matter[] }) {
  const { t } = useTranslation();
  const tpl = view.stored.template;
  const [values, setValues] = useState<Record<string, string>>({});
  const [matterId, setMatterId] = useState(matters[0]?.id ?? "");
  const [busy, setBusy] = useState<"render" | "preview" | null>(null);
  const [result, setResult] = useState<RenderView | null>(null);
  const [error, setError] = useState<IpcError | null>(null);

  const run = async (preview: boolean) => {
    setBusy(preview ? "preview" : "render");
    setError(null);
    try {
      const declared = new Set((tpl.variables ?? []).map((v) => v.name));
      const r = await commands.renderTemplate({
        name: tpl.name,
        inputs: filledInputs(values, declared),
        evidence: tpl.evidence && matterId ? { matter_id: matterId, doc: null, top_k: null } : null,
        preview,
      });
      setResult(r);
    } catch (e) {
      setError(toIpcError(e));
      setResult(null);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="try-template">
      <VariableFields
        variables={tpl.variables ?? []}
        values={values}
        idPrefix="try"
        onChange={(n, v) => setValues((old) => ({ ...old, [n]: v }))}
      />
      {tpl.evidence && (
        <EvidenceMatterSelect matters={matters} value={matterId} onChange={setMatterId} testId="evidence-matter" />
      )}
      <div className="button-row">
        <button type="button" data-testid="template-render" disabled={busy !== null} onClick={() => void run(false)}>
          {t("templates.render")}
        </button>
        <button
          type="button"
          className="primary"
          data-testid="template-preview"
          disabled={busy !== null}
          onClick={() => void run(true)}
        >
          {busy === "preview" ? t("templates.counting") : t("templates.countTokens")}
        </button>
      </div>
      {error && (
        <ErrorLine error={error} testId="render-error" />
      )}
      {result && (
        <div className="render-result" data-testid="render-result">
          {result.preview && (
            <p className={`token-line ${result.preview.fits ? "ok" : "over"}`} data-testid="token-count">
              {t(result.preview.fits ? "templates.fits" : "templates.doesNotFit", {
                prompt: result.preview.prompt_tokens,
                reserved: result.preview.reserved_tokens,
                ctx: result.preview.context_length,
                spare: Math.abs(result.preview.spare_tokens),
              })}
            </p>
          )}
          {result.evidence.length > 0 && (
            <p className="muted">
              {t("templates.evidenceFound", { count: result.evidence.length, query: result.evidence_query ?? "" })}
            </p>
          )}
          <h3>{t("templates.system")}</h3>
          <pre className="prompt-text" data-testid="rendered-system">{result.rendered.system}</pre>
          <h3>{t("templates.user")}</h3>
          <pre className="prompt-text" data-testid="rendered-user">{result.rendered.user}</pre>
        </div>
      )}
    </div>
  );
}

type EditorProps = {
  name: string | null;
  initialText: string;
  readOnly: boolean;
  onSaved: (view: TemplateView) => Promise<void>;
};

/** The TOML editor: checked as you type (debounced), saved verbatim with its comments. */
export function TemplateEditor({ name, initialText, readOnly, onSaved }: EditorProps) {
  const { t } = useTranslation();
  const [text, setText] = useState(initialText);
  const [check, setCheck] = useState<{ ok: true; warnings: Notice[] } | { ok: false; error: IpcError } | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<IpcError | null>(null);
  const seq = useRef(0);

  useEffect(() => {
    if (readOnly) return;
    const mine = ++seq.current;
    const timer = window.setTimeout(() => {
      commands.checkTemplate(text).then(
        (warnings) => mine === seq.current && setCheck({ ok: true, warnings }),
        (e: unknown) => mine === seq.current && setCheck({ ok: false, error: toIpcError(e) }),
      );
    }, 300);
    return () => window.clearTimeout(timer);
  }, [text, readOnly]);

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      await onSaved(await commands.saveTemplate(name, text));
    } catch (e) {
      setSaveError(toIpcError(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="template-editor">
      {readOnly && <p className="muted">{t("templates.readOnlyHint")}</p>}
      <textarea
        className="toml-editor"
        data-testid="template-toml"
        aria-label={t("templates.tomlLabel")}
        spellCheck={false}
        readOnly={readOnly}
        value={text}
        rows={24}
        onChange={(e) => setText(e.target.value)}
      />
      {!readOnly && (
        <>
          <div className="editor-status" aria-live="polite" data-testid="template-check">
            {check === null ? null : check.ok ? (
              <span className="ok">✓ {t("templates.valid")}</span>
            ) : (
              <span className="form-error">
                <span className="code">{check.error.code}</span> {check.error.message}
              </span>
            )}
          </div>
          {check?.ok && check.warnings.length > 0 && <Notices notices={check.warnings} />}
          {saveError && (
            <ErrorLine error={saveError} testId="template-save-error" />
          )}
          <div className="button-row">
            <button
              type="button"
              className="primary"
              data-testid="template-save"
              disabled={saving || (check !== null && !check.ok)}
              onClick={() => void save()}
            >
              {saving ? t("settings.saving") : name === null ? t("templates.create") : t("templates.save")}
            </button>
            <button type="button" className="quiet" disabled={text === initialText} onClick={() => setText(initialText)}>
              {t("templates.revert")}
            </button>
          </div>
        </>
      )}
    </div>
  );
}
