import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import {
  commands,
  type AnswerMode,
  type AnswerStreamEvent,
  type AskResult,
  type DocumentRecord,
  type ExportFormat,
  type Searched,
  type SessionTurn,
  type TemplateSummary,
} from "../bindings";
import { fileNameOf } from "../lib/format";
import { useSettings } from "../lib/queries";
import { turnToText } from "../lib/turnText";
import { channel, copyText, newJobId, pickSavePath } from "../platform";
import { AnswerView } from "./AnswerView";
import type { PanelTarget } from "./PagePanel";
import { useToasts } from "./Toasts";
import { Segmented } from "./Segmented";

type Props = {
  matterId: string;
  sessionId: string | null;
  sessionTitle: string | null;
  documents: DocumentRecord[] | null;
  showSamples: boolean;
  onAsked: (result: AskResult, startedIn: string | null) => void;
  onOpenPanel: (target: PanelTarget) => void;
};

type Pending = {
  jobId: string;
  sessionId: string | null;
  question: string;
  text: string;
  searched: Searched | null;
  stopping: boolean;
};

export const SAMPLE_QUESTIONS = ["How much notice is needed to terminate the NDA?", "试用期的工资是多少？"];

export function ChatView(props: Props) {
  const { matterId, sessionId, documents } = props;
  const { t } = useTranslation();
  const settings = useSettings().data;
  const chatModel = settings ? fileNameOf(settings.chat_model) : null;
  const toasts = useToasts();
  const [turns, setTurns] = useState<SessionTurn[] | null>(sessionId ? null : []);
  const [pending, setPending] = useState<Pending | null>(null);
  const [question, setQuestion] = useState("");
  const [mode, setMode] = useState<AnswerMode>("generate");
  const [docFilter, setDocFilter] = useState("");
  const [template, setTemplate] = useState("");
  const [templates, setTemplates] = useState<TemplateSummary[]>([]);
  const justCreated = useRef<string | null>(null);
  const currentSession = useRef(sessionId);
  const endRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  currentSession.current = sessionId;

  useEffect(() => {
    if (sessionId === null) {
      setTurns([]);
      return;
    }
    if (justCreated.current === sessionId) {
      justCreated.current = null;
      return;
    }
    let live = true;
    setTurns(null);
    commands
      .getSession(matterId, sessionId)
      .then((s) => live && setTurns(s.turns))
      .catch((e: unknown) => {
        if (!live) return;
        toasts.error(e);
        setTurns([]);
      });
    return () => {
      live = false;
    };
  }, [matterId, sessionId, toasts]);

  // Templates that can shape an answer (they have a `question` variable).
  useEffect(() => {
    let live = true;
    commands.listTemplates().then(
      (l) => live && setTemplates(l.templates.filter((x) => x.answers_questions)),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);

  const shownPending = pending && pending.sessionId === sessionId ? pending : null;

  useEffect(() => {
    const end = endRef.current;
    if (end && typeof end.scrollIntoView === "function") end.scrollIntoView({ block: "end" });
  }, [turns, shownPending?.text, shownPending !== null]);

  const indexedDocs = (documents ?? []).filter((d) => d.status === "indexed");

  const ask = async (text: string) => {
    const q = text.trim();
    if (!q || pending) return;
    const startedIn = sessionId;
    const jobId = newJobId();
    setQuestion("");
    setPending({ jobId, sessionId: startedIn, question: q, text: "", searched: null, stopping: false });
    const onEvent = channel<AnswerStreamEvent>((event) => {
      setPending((p) => {
        if (!p || p.jobId !== jobId) return p;
        return event.kind === "retrieved" ? { ...p, searched: event.searched } : { ...p, text: p.text + event.text };
      });
    });
    try {
      const result = await commands.ask(
        matterId,
        {
          question: q,
          session_id: startedIn,
          doc: docFilter || null,
          mode,
          template: mode === "generate" && template ? template : null,
          template_inputs: null,
        },
        jobId,
        onEvent,
      );
      if (currentSession.current === startedIn) {
        if (startedIn === null) justCreated.current = result.session.id;
        setTurns((list) => [...(list ?? []), result.turn]);
      }
      props.onAsked(result, startedIn);
    } catch (error) {
      toasts.error(error);
      if (currentSession.current === startedIn) setQuestion((current) => current || q);
    } finally {
      setPending((p) => (p && p.jobId === jobId ? null : p));
    }
  };

  const stop = async () => {
    if (!pending) return;
    setPending({ ...pending, stopping: true });
    try {
      await commands.cancelJob(pending.jobId);
    } catch (error) {
      toasts.error(error);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void ask(question);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      void ask(question);
    }
  };

  const openCitation = (turn: SessionTurn, index: number) => {
    const c = turn.answer.citations[index];
    if (!c) return;
    const passage = turn.answer.searched.passages.find((p) => p.id === c.id);
    const docId = passage?.doc_id ?? documents?.find((d) => d.file_name === c.doc)?.id ?? null;
    props.onOpenPanel({ docId, page: c.page ?? 1, citation: c, fileName: c.doc });
  };

  const copy = async (text: string) => {
    try {
      await copyText(text);
      toasts.info(t("common.copied"));
    } catch (error) {
      toasts.error(error);
    }
  };

  const exportSession = async (format: ExportFormat) => {
    if (!sessionId) return;
    try {
      const base = (props.sessionTitle || "chat").replace(/[\\/:*?"<>|]+/g, " ").trim() || "chat";
      const ext = format === "markdown" ? "md" : "json";
      const path = await pickSavePath(`${base}.${ext}`, ext);
      if (!path) return;
      await commands.exportSession(matterId, sessionId, format, path);
      toasts.info(t("chat.exported"));
    } catch (error) {
      toasts.error(error);
    }
  };

  const copySession = async () => {
    if (!sessionId) return;
    try {
      await copy(await commands.sessionText(matterId, sessionId, "markdown"));
    } catch (error) {
      toasts.error(error);
    }
  };

  const empty = turns !== null && turns.length === 0 && !shownPending;

  return (
    <div className="chat-view">
      {sessionId && (
        <div className="chat-head">
          <h2 className="chat-title">{props.sessionTitle || t("sidebar.untitledChat")}</h2>
          <div className="chat-head-actions">
            <button type="button" className="quiet small" onClick={() => void copySession()}>
              {t("chat.copySession")}
            </button>
            <button type="button" className="quiet small" onClick={() => void exportSession("markdown")}>
              {t("chat.exportMarkdown")}
            </button>
            <button type="button" className="quiet small" onClick={() => void exportSession("json")}>
              {t("chat.exportJson")}
            </button>
          </div>
        </div>
      )}

      <div className="chat-scroll" aria-live="polite">
        {turns === null && <p className="muted loading">{t("common.loading")}</p>}
        {empty && (
          <div className="empty-state">
            <div className="empty-icon" aria-hidden="true">?</div>
            <p className="empty-title">{t("chat.emptyTitle")}</p>
            <p className="muted">{indexedDocs.length === 0 ? t("chat.noDocuments") : t("chat.emptyHint")}</p>
            {props.showSamples && (
              <div className="samples">
                <p className="muted">{t("chat.tryAsking")}</p>
                {SAMPLE_QUESTIONS.map((s) => (
                  <button key={s} type="button" className="sample" data-testid="sample-question" onClick={() => void ask(s)}>
                    {s}
                  </button>
                ))}
              </div>
            )}
          </div>
        )}
        {turns?.map((turn, i) => (
          <article key={`${turn.asked_at_ms}-${i}`} className="turn">
            <div className="question-bubble">{turn.question}</div>
            {turn.template && (
              <p className="turn-template muted" data-testid="turn-template">
                {t("chat.shapedBy", { name: turn.template })}
              </p>
            )}
            <AnswerView
              answer={turn.answer}
              model={turn.model}
              onOpenCitation={(index) => openCitation(turn, index)}
              onCopy={() => void copy(turnToText(turn, t))}
            />
          </article>
        ))}
        {shownPending && (
          <article className="turn">
            <div className="question-bubble">{shownPending.question}</div>
            <div className="answer streaming" data-testid="answer" data-state="streaming" data-abstained="false">
              {shownPending.text ? (
                <div className="streaming-text">
                  {shownPending.text}
                  <span className="caret" aria-hidden="true" />
                </div>
              ) : (
                <p className="muted typing">
                  <span className="typing-dots" aria-hidden="true">
                    <span />
                    <span />
                    <span />
                  </span>
                  {shownPending.searched
                    ? t("chat.writing", { count: shownPending.searched.passages.length })
                    : t("chat.searching")}
                </p>
              )}
            </div>
          </article>
        )}
        <div ref={endRef} />
      </div>

      <form className="ask-box" onSubmit={onSubmit}>
        <textarea
          ref={inputRef}
          data-testid="question-input"
          aria-label={t("chat.question")}
          placeholder={t("chat.placeholder")}
          value={question}
          rows={3}
          onChange={(e) => setQuestion(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <div className="ask-controls">
          <Segmented
            role="radiogroup"
            label={t("chat.mode")}
            value={mode}
            onChange={setMode}
            options={[
              { value: "generate", label: t("chat.modeAnswer") },
              { value: "extractive", label: t("chat.modeExtractive") },
            ]}
          />
          <label className="doc-filter">
            <span className="visually-hidden">{t("chat.docFilter")}</span>
            <select value={docFilter} onChange={(e) => setDocFilter(e.target.value)} data-testid="doc-filter">
              <option value="">{t("chat.allDocuments")}</option>
              {indexedDocs.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.title || d.file_name}
                </option>
              ))}
            </select>
          </label>
          {templates.length > 0 && (
            <label className="doc-filter">
              <span className="visually-hidden">{t("chat.template")}</span>
              <select
                value={template}
                onChange={(e) => setTemplate(e.target.value)}
                data-testid="template-picker"
                disabled={mode !== "generate"}
                title={t("chat.templateHint")}
              >
                <option value="">{t("chat.noTemplate")}</option>
                {templates.map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.title}
                  </option>
                ))}
              </select>
            </label>
          )}
          <span className="hint muted" data-testid="answering-model">
            {mode === "generate" && chatModel ? t("chat.answeringModel", { model: chatModel }) + " · " : ""}
            {t("chat.enterHint")}
          </span>
          {pending ? (
            <button
              type="button"
              className="danger push-right"
              data-testid="stop-button"
              disabled={pending.stopping}
              onClick={() => void stop()}
            >
              ■ {pending.stopping ? t("chat.stopping") : t("chat.stop")}
            </button>
          ) : (
            <button type="submit" className="primary push-right" data-testid="ask-submit" disabled={!question.trim()}>
              {t("chat.ask")}
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
