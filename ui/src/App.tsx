import { QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { commands, type AskResult, type IngestEvent, type Matter } from "./bindings";
import { MatterView, type MatterTab } from "./components/MatterView";
import { Sidebar, type Screen } from "./components/Sidebar";
import { ToastProvider, useToasts } from "./components/Toasts";
import { useEvalJob } from "./lib/evals";
import { applyIngestEvent, initialProgress, useIngestion, type IngestProgress } from "./lib/ingest";
import { createQueryClient, queryKeys, useDemoMatterId, useMatters, useSessions, useShellEvents } from "./lib/queries";
import { useTheme } from "./lib/theme";
import { channel, onFileDrop } from "./platform";

// Screens that are not the first one load when first opened: the first screen parses less
// JavaScript, and the idle app keeps less of it in memory.
const SettingsView = lazy(() => import("./components/SettingsView").then((m) => ({ default: m.SettingsView })));
const TemplatesView = lazy(() => import("./components/TemplatesView").then((m) => ({ default: m.TemplatesView })));
const EvaluateView = lazy(() => import("./components/EvaluateView").then((m) => ({ default: m.EvaluateView })));

export default function App() {
  return (
    <ToastProvider>
      <DataLayer>
        <Shell />
      </DataLayer>
    </ToastProvider>
  );
}

/** The query cache of this window; a query that fails says so in a toast. */
function DataLayer({ children }: { children: ReactNode }) {
  const toasts = useToasts();
  const toastsRef = useRef(toasts);
  toastsRef.current = toasts;
  const [client] = useState(() => createQueryClient((error) => toastsRef.current.error(error)));
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

function Shell() {
  const { t } = useTranslation();
  const toasts = useToasts();
  const queryClient = useQueryClient();
  const [theme, setTheme] = useTheme();
  const listening = useShellEvents();
  const mattersQuery = useMatters();
  const matters = mattersQuery.data ?? (mattersQuery.isError ? [] : null);
  const demoMatterId = useDemoMatterId();
  const [matterId, setMatterId] = useState<string | null>(null);
  const [view, setView] = useState<Screen>("matter");
  const [tab, setTab] = useState<MatterTab>("documents");
  const sessions = useSessions(matterId).data ?? [];
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [demo, setDemo] = useState<IngestProgress | null>(null);
  const [demoVisible, setDemoVisible] = useState(false);
  const [dropping, setDropping] = useState(false);
  const ingestion = useIngestion(toasts.error);
  // An evaluation run goes on while other screens are open.
  const evalJob = useEvalJob(toasts.error);

  const matterRef = useRef(matterId);
  matterRef.current = matterId;

  // The selected matter is one that exists: the first one at start-up, after a deletion, or
  // none when there is none.
  useEffect(() => {
    if (!matters) return;
    if (matterId === null || !matters.some((m) => m.id === matterId)) setMatterId(matters[0]?.id ?? null);
  }, [matters, matterId]);

  // The first screen with its matters is up: this call marks start-up as done (the shell logs
  // the time, and tests/bench/desktop_startup.py reads it).
  const started = useRef(false);
  useEffect(() => {
    if (matters === null || started.current) return;
    started.current = true;
    commands.appInfo().catch(() => undefined);
  }, [matters]);

  // First run: prepare the demo matter (non-blocking), once the shell's announcements are heard.
  const demoStarted = useRef(false);
  useEffect(() => {
    if (!listening || demoStarted.current) return;
    demoStarted.current = true;
    let progress = initialProgress;
    setDemo(progress);
    const onEvent = channel<IngestEvent>((event) => {
      progress = applyIngestEvent(progress, event);
      setDemo(progress);
    });
    commands
      .prepareDemo(onEvent)
      .then((matter) => {
        if (!matter) return;
        select(queryClient, matter);
        setMatterId(matter.id);
        setView("matter");
        setTab("chat");
      })
      .catch((error: unknown) => toasts.error(error))
      .finally(() => setDemo(null));
  }, [listening, queryClient, toasts]);

  // Show the demo banner only when preparing takes a moment (first run), not for a quick no-op.
  const demoRunning = demo !== null;
  useEffect(() => {
    if (!demoRunning) {
      setDemoVisible(false);
      return;
    }
    const timer = window.setTimeout(() => setDemoVisible(true), 400);
    return () => window.clearTimeout(timer);
  }, [demoRunning]);

  // A newly selected matter starts without a chat selected.
  useEffect(() => setSessionId(null), [matterId]);

  const addPaths = useCallback(
    (paths: string[]) => {
      const id = matterRef.current;
      if (!id) {
        toasts.info(t("documents.selectMatterFirst"));
        return;
      }
      setView("matter");
      setTab("documents");
      void ingestion
        .start(id, (jobId, onEvent) => commands.addDocuments(id, paths, jobId, onEvent))
        .then((started) => {
          if (!started) toasts.info(t("documents.busy"));
        });
    },
    [ingestion, toasts, t],
  );

  // Files and folders dropped onto the window go to the selected matter.
  const addPathsRef = useRef(addPaths);
  addPathsRef.current = addPaths;
  useEffect(
    () =>
      onFileDrop(
        (state) => setDropping(state === "over"),
        (paths) => addPathsRef.current(paths),
      ),
    [],
  );

  const createMatter = async (name: string) => {
    try {
      const matter = await commands.createMatter(name);
      select(queryClient, matter);
      setMatterId(matter.id);
      setView("matter");
      setTab("documents");
    } catch (error) {
      toasts.error(error);
    }
  };

  const renameMatter = async (id: string, name: string) => {
    try {
      await commands.renameMatter(id, name);
    } catch (error) {
      toasts.error(error);
    }
  };

  const deleteMatter = async (id: string) => {
    try {
      await commands.deleteMatter(id);
    } catch (error) {
      toasts.error(error);
    }
  };

  const renameSession = async (id: string, title: string) => {
    if (!matterId) return;
    try {
      await commands.renameSession(matterId, id, title);
    } catch (error) {
      toasts.error(error);
    }
  };

  const deleteSession = async (id: string) => {
    if (!matterId) return;
    try {
      await commands.deleteSession(matterId, id);
      if (sessionId === id) setSessionId(null);
    } catch (error) {
      toasts.error(error);
    }
  };

  const onAsked = useCallback((result: AskResult, startedIn: string | null) => {
    setSessionId((current) => (current === startedIn ? result.session.id : current));
  }, []);

  const matter = matters?.find((m) => m.id === matterId) ?? null;
  const session = sessions.find((s) => s.id === sessionId) ?? null;

  return (
    <div className="app">
      <Sidebar
        matters={matters ?? []}
        selectedMatterId={matterId}
        sessions={sessions}
        selectedSessionId={sessionId}
        screen={view}
        theme={theme}
        onThemeChange={setTheme}
        onSelectMatter={(id) => {
          setMatterId(id);
          setView("matter");
        }}
        onCreateMatter={createMatter}
        onRenameMatter={renameMatter}
        onDeleteMatter={deleteMatter}
        onSelectSession={(id) => {
          setSessionId(id);
          setView("matter");
          setTab("chat");
        }}
        onRenameSession={renameSession}
        onDeleteSession={deleteSession}
        onOpenScreen={setView}
      />

      <main className="content">
        {demo && (demoVisible || demo.files > 0) && (
          <div className="demo-banner" role="status" data-testid="demo-progress">
            <span className="spinner" aria-hidden="true" />
            <span>{t("demo.preparing")}</span>
            {demo.files > 0 && (
              <span className="muted">{t("ingest.fileOf", { index: Math.max(demo.index, 1), files: demo.files })}</span>
            )}
          </div>
        )}
        {view === "settings" ? (
          <Suspense fallback={<ScreenLoading />}>
            <SettingsView />
          </Suspense>
        ) : view === "templates" ? (
          <Suspense fallback={<ScreenLoading />}>
            <TemplatesView matters={matters ?? []} />
          </Suspense>
        ) : view === "evaluate" ? (
          <Suspense fallback={<ScreenLoading />}>
            <EvaluateView matters={matters ?? []} demoMatterId={demoMatterId} evalJob={evalJob} />
          </Suspense>
        ) : matter ? (
          <MatterView
            matter={matter}
            tab={tab}
            onTab={setTab}
            ingestion={ingestion}
            onAddPaths={addPaths}
            sessionId={sessionId}
            sessionTitle={session?.title ?? null}
            isDemo={matter.id === demoMatterId}
            onAsked={onAsked}
          />
        ) : (
          <div className="empty-state page-empty">
            <div className="empty-icon" aria-hidden="true">§</div>
            <p className="empty-title">{matters === null ? t("common.loading") : t("app.noMatterTitle")}</p>
            {matters !== null && <p className="muted">{t("app.noMatterHint")}</p>}
          </div>
        )}
      </main>

      {dropping && (
        <div className="drop-overlay" aria-hidden="true" data-testid="drop-overlay">
          <div className="drop-card">
            <div className="empty-icon">⇣</div>
            <p>{matter ? t("drop.into", { name: matter.name }) : t("drop.noMatter")}</p>
          </div>
        </div>
      )}
    </div>
  );
}

function ScreenLoading() {
  const { t } = useTranslation();
  return (
    <div className="empty-state page-empty" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{t("common.loading")}</span>
    </div>
  );
}

/**
 * A matter a command just returned (created, or the demo) is in the cached list at once, so that
 * it can be selected before the shell's matters-changed announcement refetches the list.
 */
function select(client: ReturnType<typeof useQueryClient>, matter: Matter) {
  client.setQueryData<Matter[]>(queryKeys.matters, (list) =>
    list?.some((m) => m.id === matter.id) ? list : [...(list ?? []), matter],
  );
}
