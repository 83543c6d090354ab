import { useTranslation } from "react-i18next";
import type { Matter, Variable } from "../bindings";
import { defaultText } from "../lib/templates";

type Props = {
  variables: Variable[];
  values: Record<string, string>;
  onChange: (name: string, value: string) => void;
  /** Variables filled elsewhere (e.g. the question in chat) are not shown. */
  hide?: string[];
  idPrefix: string;
};

/** A form field per template variable, typed: text, document (multi-line), choice, number. */
export function VariableFields({ variables, values, onChange, hide = [], idPrefix }: Props) {
  const { t } = useTranslation();
  const shown = variables.filter((v) => !hide.includes(v.name));
  if (shown.length === 0) return <p className="muted">{t("templates.noVariables")}</p>;
  return (
    <div className="variable-fields">
      {shown.map((v) => {
        const id = `${idPrefix}-${v.name}`;
        const value = values[v.name] ?? "";
        const placeholder = defaultText(v);
        const label = (
          <label htmlFor={id} className="field-label">
            <span className="var-name">{v.name}</span>
            {v.required && <span className="required"> *</span>}
            <span className="muted"> · {t(`templates.kind.${v.kind}`)}</span>
            {v.description && <span className="field-help">{v.description}</span>}
          </label>
        );
        let input;
        switch (v.kind) {
          case "document":
            input = (
              <textarea
                id={id}
                data-testid={`${idPrefix}-var-${v.name}`}
                rows={6}
                value={value}
                placeholder={placeholder}
                onChange={(e) => onChange(v.name, e.target.value)}
              />
            );
            break;
          case "choice":
            input = (
              <select id={id} data-testid={`${idPrefix}-var-${v.name}`} value={value} onChange={(e) => onChange(v.name, e.target.value)}>
                <option value="">{placeholder ? t("templates.defaultValue", { value: placeholder }) : "—"}</option>
                {(v.options ?? []).map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            );
            break;
          case "number":
            input = (
              <input
                id={id}
                data-testid={`${idPrefix}-var-${v.name}`}
                type="number"
                inputMode="decimal"
                min={v.min ?? undefined}
                max={v.max ?? undefined}
                value={value}
                placeholder={placeholder}
                onChange={(e) => onChange(v.name, e.target.value)}
              />
            );
            break;
          default:
            input = (
              <input
                id={id}
                data-testid={`${idPrefix}-var-${v.name}`}
                type="text"
                value={value}
                placeholder={placeholder}
                onChange={(e) => onChange(v.name, e.target.value)}
              />
            );
        }
        return (
          <div key={v.name} className="field">
            {label}
            {input}
          </div>
        );
      })}
    </div>
  );
}

type MatterSelectProps = {
  matters: Matter[];
  value: string;
  onChange: (matterId: string) => void;
  testId: string;
};

/** Which matter an evidence template retrieves its sources from. */
export function EvidenceMatterSelect({ matters, value, onChange, testId }: MatterSelectProps) {
  const { t } = useTranslation();
  return (
    <label className="field">
      <span className="field-label">{t("templates.evidenceFrom")}</span>
      <select data-testid={testId} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{t("templates.noEvidence")}</option>
        {matters.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
      </select>
    </label>
  );
}
