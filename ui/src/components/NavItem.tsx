import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { InlineNameInput } from "./InlineNameInput";

type Props = {
  label: string;
  detail?: string;
  selected: boolean;
  testId: string;
  onSelect: () => void;
  onRename: (name: string) => Promise<void> | void;
  onDelete: () => void;
};

/** A selectable sidebar entry with a small Rename / Delete menu. */
export function NavItem({ label, detail, selected, testId, onSelect, onRename, onDelete }: Props) {
  const { t } = useTranslation();
  const [editing, setEditing] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);
  const toggleRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!menuOpen) return;
    menuRef.current?.querySelector("button")?.focus();
    const close = (e: MouseEvent) => {
      if (!menuRef.current?.contains(e.target as Node) && e.target !== toggleRef.current) {
        setMenuOpen(false);
      }
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [menuOpen]);

  if (editing) {
    return (
      <li className="nav-item editing">
        <InlineNameInput
          initial={label}
          label={t("common.rename")}
          onSubmit={async (name) => {
            setEditing(false);
            if (name !== label) await onRename(name);
          }}
          onCancel={() => setEditing(false)}
        />
      </li>
    );
  }

  return (
    <li className={`nav-item${selected ? " selected" : ""}`}>
      <button
        type="button"
        className="nav-item-main"
        data-testid={testId}
        data-name={label}
        aria-current={selected ? "true" : undefined}
        onClick={onSelect}
        title={label}
      >
        <span className="nav-item-label">{label}</span>
        {detail && <span className="nav-item-detail">{detail}</span>}
      </button>
      <button
        type="button"
        ref={toggleRef}
        className="icon-button nav-item-menu-toggle"
        aria-label={t("common.actionsFor", { name: label })}
        aria-haspopup="menu"
        aria-expanded={menuOpen}
        onClick={() => setMenuOpen((open) => !open)}
      >
        ⋯
      </button>
      {menuOpen && (
        <div
          className="menu"
          role="menu"
          ref={menuRef}
          onKeyDown={(e) => {
            if (e.key === "Escape") {
              setMenuOpen(false);
              toggleRef.current?.focus();
            }
          }}
        >
          <button
            type="button"
            role="menuitem"
            onClick={() => {
              setMenuOpen(false);
              setEditing(true);
            }}
          >
            {t("common.rename")}
          </button>
          <button
            type="button"
            role="menuitem"
            className="danger-text"
            onClick={() => {
              setMenuOpen(false);
              onDelete();
            }}
          >
            {t("common.delete")}
          </button>
        </div>
      )}
    </li>
  );
}
