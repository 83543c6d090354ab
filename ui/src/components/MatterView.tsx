import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import type { AskResult, Matter } from "../bindings";
import type { Ingestion } from "../lib/ingest";
import { useDocuments } from "../lib/queries";
import { ChatView } from "./ChatView";
import { DocumentsView } from "./DocumentsView";
import { PagePanel, type PanelTarget } from "./PagePanel";

export type MatterTab = "documents" | "chat";

type Props = {
  matter: Matter;
  tab: MatterTab;
  onTab: (tab: MatterTab) => void;
  ingestion: Ingestion;
  onAddPaths: (paths: string[]) => void;
  sessionId: string | null;
  sessionTitle: string | null;
  isDemo: boolean;
  onAsked: (result: AskResult, startedIn: string | null) => void;
};

export function MatterView(props: Props) {
  const { t } = useTranslation();
  const [panel, setPanel] = useState<PanelTarget | null>(null);
  const closePanel = useCallback(() => setPanel(null), []);
  const { matter, tab } = props;
  const documents = useDocuments(matter.id).data ?? null;

  useEffect(() => setPanel(null), [matter.id]);

  const tabs: { id: MatterTab; label: string }[] = [
    { id: "documents", label: t("matter.documents") },
    { id: "chat", label: t("matter.chat") },
  ];

  return (
    <div className={`matter-view${panel ? " with-panel" : ""}`}>
      <div className="matter-main">
        <header className="matter-head">
          <h1>{matter.name}</h1>
          <div className="tabs" role="tablist" aria-label={matter.name}>
            {tabs.map(({ id, label }) => (
              <button
                key={id}
                type="button"
                role="tab"
                id={`tab-${id}`}
                data-testid={`tab-${id}`}
                aria-selected={tab === id}
                aria-controls={`tabpanel-${id}`}
                tabIndex={tab === id ? 0 : -1}
                className={tab === id ? "active" : ""}
                onClick={() => props.onTab(id)}
                onKeyDown={(e) => {
                  if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
                    const next = id === "documents" ? "chat" : "documents";
                    props.onTab(next);
                    document.getElementById(`tab-${next}`)?.focus();
                  }
                }}
              >
                {label}
                {id === "documents" && documents && documents.length > 0 && (
                  <span className="tab-count">{documents.length}</span>
                )}
              </button>
            ))}
          </div>
        </header>
        {/* Both panels stay mounted so a running answer or ingestion survives a tab switch. */}
        <div
          className="tab-panel"
          role="tabpanel"
          id="tabpanel-documents"
          aria-labelledby="tab-documents"
          hidden={tab !== "documents"}
        >
          <DocumentsView
            matterId={matter.id}
            documents={documents}
            ingestion={props.ingestion}
            onAddPaths={props.onAddPaths}
            onOpenDocument={(doc) => setPanel({ docId: doc.id, page: 1, fileName: doc.file_name })}
          />
        </div>
        <div className="tab-panel" role="tabpanel" id="tabpanel-chat" aria-labelledby="tab-chat" hidden={tab !== "chat"}>
          <ChatView
            key={matter.id}
            matterId={matter.id}
            sessionId={props.sessionId}
            sessionTitle={props.sessionTitle}
            documents={documents}
            showSamples={props.isDemo}
            onAsked={props.onAsked}
            onOpenPanel={setPanel}
          />
        </div>
      </div>
      {panel && <PagePanel matterId={matter.id} target={panel} onClose={closePanel} />}
    </div>
  );
}
