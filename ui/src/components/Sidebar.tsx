import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { Matter, SessionSummary } from "../bindings";
import { LANGUAGES, setLanguage, type LanguageCode } from "../i18n";
import type { ThemeChoice } from "../lib/theme";
import { ConfirmDialog } from "./ConfirmDialog";
import { InlineNameInput } from "./InlineNameInput";
import { NavItem } from "./NavItem";

type Props = {
  matters: Matter[];
  selectedMatterId: string | null;
  sessions: SessionSummary[];
  selectedSessionId: string | null;
  /** The screen in the main area: a matter's, or one of the footer's. */
  screen: Screen;
  theme: ThemeChoice;
  onThemeChange: (theme: ThemeChoice) => void;
  onSelectMatter: (id: string) => void;
  onCreateMatter: (name: string) => Promise<void>;
  onRenameMatter: (id: string, name: string) => Promise<void>;
  onDeleteMatter: (id: string) => Promise<void>;
  onSelectSession: (id: string | null) => void;
  onRenameSession: (id: string, title: string) => Promise<void>;
  onDeleteSession: (id: string) => Promise<void>;
  onOpenScreen: (screen: Exclude<Screen, "matter">) => void;
};

export type Screen = "matter" | "settings" | "templates" | "evaluate";

type PendingDelete = { kind: "matter" | "session"; id: string; name: string };

export function Sidebar(props: Props) {
  const { t, i18n } = useTranslation();
  const [creating, setCreating] = useState(false);
  const [pendingDelete, setPendingDelete] = useState<PendingDelete | null>(null);

  const confirmDelete = async () => {
    const target = pendingDelete;
    setPendingDelete(null);
    if (!target) return;
    if (target.kind === "matter") await props.onDeleteMatter(target.id);
    else await props.onDeleteSession(target.id);
  };

  return (
    <nav className="sidebar" aria-label={t("sidebar.navigation")}>
      <div className="brand">
        <span className="brand-mark" aria-hidden="true">§</span>
        <span className="brand-name">LexDesk</span>
      </div>

      <div className="sidebar-scroll">
        <section aria-labelledby="matters-heading">
          <div className="sidebar-heading">
            <h2 id="matters-heading">{t("sidebar.matters")}</h2>
            <button
              type="button"
              className="icon-button"
              data-testid="matter-new"
              aria-label={t("sidebar.newMatter")}
              title={t("sidebar.newMatter")}
              onClick={() => setCreating(true)}
            >
              +
            </button>
          </div>
          {creating && (
            <InlineNameInput
              label={t("sidebar.matterName")}
              placeholder={t("sidebar.matterNamePlaceholder")}
              testId="matter-name-input"
              onSubmit={async (name) => {
                setCreating(false);
                await props.onCreateMatter(name);
              }}
              onCancel={() => setCreating(false)}
            />
          )}
          {props.matters.length === 0 && !creating ? (
            <p className="sidebar-empty">{t("sidebar.noMatters")}</p>
          ) : (
            <ul className="nav-list">
              {props.matters.map((m) => (
                <NavItem
                  key={m.id}
                  label={m.name}
                  testId="matter-item"
                  selected={m.id === props.selectedMatterId && props.screen === "matter"}
                  onSelect={() => props.onSelectMatter(m.id)}
                  onRename={(name) => props.onRenameMatter(m.id, name)}
                  onDelete={() => setPendingDelete({ kind: "matter", id: m.id, name: m.name })}
                />
              ))}
            </ul>
          )}
        </section>

        {props.selectedMatterId && (
          <section aria-labelledby="sessions-heading">
            <div className="sidebar-heading">
              <h2 id="sessions-heading">{t("sidebar.chats")}</h2>
              <button
                type="button"
                className="icon-button"
                data-testid="session-new"
                aria-label={t("sidebar.newChat")}
                title={t("sidebar.newChat")}
                onClick={() => props.onSelectSession(null)}
              >
                +
              </button>
            </div>
            {props.sessions.length === 0 ? (
              <p className="sidebar-empty">{t("sidebar.noChats")}</p>
            ) : (
              <ul className="nav-list">
                {props.sessions.map((s) => (
                  <NavItem
                    key={s.id}
                    label={s.title || t("sidebar.untitledChat")}
                    detail={String(s.turns)}
                    testId="session-item"
                    selected={s.id === props.selectedSessionId && props.screen === "matter"}
                    onSelect={() => props.onSelectSession(s.id)}
                    onRename={(title) => props.onRenameSession(s.id, title)}
                    onDelete={() => setPendingDelete({ kind: "session", id: s.id, name: s.title })}
                  />
                ))}
              </ul>
            )}
          </section>
        )}
      </div>

      <div className="sidebar-footer">
        {(
          [
            ["templates", "❏", t("sidebar.templates")],
            ["evaluate", "✓", t("sidebar.evaluate")],
            ["settings", "⚙", t("sidebar.settings")],
          ] as const
        ).map(([screen, icon, label]) => (
          <button
            key={screen}
            type="button"
            className={`nav-button${props.screen === screen ? " selected" : ""}`}
            data-testid={`nav-${screen}`}
            aria-current={props.screen === screen ? "page" : undefined}
            onClick={() => props.onOpenScreen(screen)}
          >
            <span aria-hidden="true">{icon}</span> {label}
          </button>
        ))}
        <label className="footer-field">
          <span>{t("sidebar.language")}</span>
          <select
            data-testid="language-select"
            value={i18n.language}
            onChange={(e) => setLanguage(e.target.value as LanguageCode)}
          >
            {LANGUAGES.map((l) => (
              <option key={l.code} value={l.code}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <label className="footer-field">
          <span>{t("sidebar.theme")}</span>
          <select
            data-testid="theme-select"
            value={props.theme}
            onChange={(e) => props.onThemeChange(e.target.value as ThemeChoice)}
          >
            <option value="system">{t("theme.system")}</option>
            <option value="light">{t("theme.light")}</option>
            <option value="dark">{t("theme.dark")}</option>
          </select>
        </label>
      </div>

      {pendingDelete && (
        <ConfirmDialog
          title={t(pendingDelete.kind === "matter" ? "confirm.deleteMatterTitle" : "confirm.deleteChatTitle")}
          message={t(pendingDelete.kind === "matter" ? "confirm.deleteMatter" : "confirm.deleteChat", {
            name: pendingDelete.name,
          })}
          confirmLabel={t("common.delete")}
          onConfirm={() => void confirmDelete()}
          onCancel={() => setPendingDelete(null)}
        />
      )}
    </nav>
  );
}
