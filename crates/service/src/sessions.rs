//! Chat sessions, persisted per matter: `matters/<id>/chats/<session id>.json`, one file per
//! session, written atomically (temporary file, then rename) after every turn.
//!
//! A session keeps each turn's question, the whole [`Answer`] (citations with their checks,
//! unsupported claims, what was searched, usage, timings), the model and template used, and the
//! user message the model saw, so that a follow-up sends the same prefix again and the model's
//! cached prefix is reused.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::answer::{Answer, Turn};
use crate::matters::now_ms;

/// One question and its answer.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionTurn {
    /// The question as asked.
    pub question: String,
    /// The answer with its citations.
    pub answer: Answer,
    /// Chat model file (none in the extractive mode).
    pub model: Option<String>,
    /// Template used, if any.
    pub template: Option<String>,
    /// When it was asked, milliseconds since the Unix epoch.
    pub asked_at_ms: i64,
    /// The user message the model saw (sources and question), for prefix reuse.
    #[serde(default)]
    pub prompt: Option<String>,
}

/// A conversation over one matter.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSession {
    /// Stable id (UUID v7: sorts by creation time).
    pub id: String,
    /// Title (the first question, until renamed).
    pub title: String,
    /// Created, ms since the epoch.
    pub created_at_ms: i64,
    /// Last changed.
    pub updated_at_ms: i64,
    /// Turns, oldest first.
    pub turns: Vec<SessionTurn>,
}

impl ChatSession {
    /// The conversation so far as the answer service takes it.
    #[must_use]
    pub fn history(&self) -> Vec<Turn> {
        self.turns
            .iter()
            .map(|t| Turn {
                question: t.question.clone(),
                // What the model itself said (its draft when the answer abstained): the cached prefix.
                answer: t.answer.draft.clone().unwrap_or_else(|| t.answer.answer.clone()),
                prompt: t.prompt.clone(),
                sources: t.answer.searched.passages.iter().filter(|p| p.in_prompt && p.id.is_some()).cloned().collect(),
            })
            .collect()
    }

    /// Append a turn (and title an untitled session by its first question).
    pub fn push(&mut self, turn: SessionTurn) {
        if self.title.trim().is_empty() {
            self.title = title_from(&turn.question);
        }
        self.updated_at_ms = now_ms();
        self.turns.push(turn);
    }

    /// The session as Markdown: each question, the answer, and its citations with their check.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut md = format!("# {}\n\n", self.title);
        for (i, t) in self.turns.iter().enumerate() {
            md.push_str(&format!("## {}. {}\n\n", i + 1, t.question.trim()));
            if t.answer.abstained {
                md.push_str("> **Not supported by the documents.**\n\n");
            }
            md.push_str(t.answer.answer.trim());
            md.push_str("\n\n");
            if !t.answer.citations.is_empty() {
                md.push_str("**Citations**\n\n");
                for c in &t.answer.citations {
                    let check = if c.verified { "verified" } else { "NOT verified" };
                    let page = c.page.map(|p| format!(", p. {p}")).unwrap_or_default();
                    md.push_str(&format!("- [{}] {}{page} — {} ({check})", c.id, c.doc, c.heading));
                    if !c.quote.is_empty() {
                        md.push_str(&format!(": “{}”", c.quote.replace('\n', " ")));
                    }
                    md.push('\n');
                }
                md.push('\n');
            }
            if !t.answer.unsupported_claims.is_empty() {
                md.push_str("**Statements without verified support**\n\n");
                for c in &t.answer.unsupported_claims {
                    md.push_str(&format!("- {c}\n"));
                }
                md.push('\n');
            }
        }
        md
    }
}

fn title_from(question: &str) -> String {
    let q = question.split_whitespace().collect::<Vec<_>>().join(" ");
    if q.chars().count() > 60 { format!("{}…", q.chars().take(60).collect::<String>()) } else { q }
}

/// Failures of the session store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No session with this id (or unique id prefix).
    #[error("no chat session `{0}` in this matter")]
    NotFound(String),
    /// Reading or writing failed.
    #[error("chat sessions: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A session file is damaged.
    #[error("chat session {path} is damaged: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

lexdesk_core::error_codes!(SessionError {
    Self::NotFound(_) => "SESSION_NOT_FOUND", NotFound;
    Self::Io { .. } => "SESSION_IO", Io;
    Self::Corrupt { .. } => "SESSION_CORRUPT", InvalidData;
});

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SessionError + '_ {
    move |source| SessionError::Io { path: path.to_path_buf(), source }
}

/// The chat sessions of one matter.
#[derive(Debug, Clone)]
pub struct Sessions {
    dir: PathBuf,
}

impl Sessions {
    /// Sessions stored in `matter_dir/chats`.
    #[must_use]
    pub fn new(matter_dir: &Path) -> Self {
        Self { dir: matter_dir.join("chats") }
    }

    /// A new, empty session (saved at once).
    ///
    /// # Errors
    /// The folder cannot be written.
    pub fn create(&self, title: &str) -> Result<ChatSession, SessionError> {
        let now = now_ms();
        let session = ChatSession {
            id: uuid::Uuid::now_v7().to_string(),
            title: title.trim().to_string(),
            created_at_ms: now,
            updated_at_ms: now,
            turns: Vec::new(),
        };
        self.save(&session)?;
        Ok(session)
    }

    /// All sessions, newest change first (turns included). A damaged file is left in place,
    /// logged and skipped, so that one bad file does not hide the others ([`Self::load`] reports
    /// it).
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn list(&self) -> Result<Vec<ChatSession>, SessionError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                match Self::read(&path) {
                    Ok(s) => out.push(s),
                    Err(e) => tracing::warn!("skipping a chat session: {e}"),
                }
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.updated_at_ms));
        Ok(out)
    }

    /// The session with this id, or the only one whose id starts with it (at least 8 characters).
    ///
    /// # Errors
    /// [`SessionError::NotFound`], I/O or a damaged file.
    pub fn load(&self, id: &str) -> Result<ChatSession, SessionError> {
        let exact = self.path(id)?;
        if exact.is_file() {
            return Self::read(&exact);
        }
        if id.len() >= 8 {
            let matches: Vec<ChatSession> = self.list()?.into_iter().filter(|s| s.id.starts_with(id)).collect();
            if matches.len() == 1 {
                return Ok(matches.into_iter().next().expect("one"));
            }
        }
        Err(SessionError::NotFound(id.to_string()))
    }

    /// Write a session (atomically).
    ///
    /// # Errors
    /// The folder cannot be written.
    pub fn save(&self, session: &ChatSession) -> Result<(), SessionError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.path(&session.id)?;
        let json = serde_json::to_vec_pretty(session)
            .map_err(|e| SessionError::Corrupt { path: path.clone(), message: e.to_string() })?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io(&self.dir))?;
        std::io::Write::write_all(&mut tmp, &json).map_err(io(&path))?;
        tmp.as_file().sync_all().map_err(io(&path))?;
        tmp.persist(&path).map_err(|e| SessionError::Io { path: path.clone(), source: e.error })?;
        Ok(())
    }

    /// Rename a session.
    ///
    /// # Errors
    /// As [`Self::load`] and [`Self::save`].
    pub fn rename(&self, id: &str, title: &str) -> Result<ChatSession, SessionError> {
        let mut s = self.load(id)?;
        s.title = title.trim().to_string();
        s.updated_at_ms = now_ms();
        self.save(&s)?;
        Ok(s)
    }

    /// Delete a session.
    ///
    /// # Errors
    /// As [`Self::load`], or the file cannot be removed.
    pub fn delete(&self, id: &str) -> Result<ChatSession, SessionError> {
        let s = self.load(id)?;
        let path = self.path(&s.id)?;
        std::fs::remove_file(&path).map_err(io(&path))?;
        Ok(s)
    }

    fn path(&self, id: &str) -> Result<PathBuf, SessionError> {
        // Ids are UUIDs; anything else must not reach the file system as a path.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(SessionError::NotFound(id.to_string()));
        }
        Ok(self.dir.join(format!("{id}.json")))
    }

    fn read(path: &Path) -> Result<ChatSession, SessionError> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SessionError::Corrupt { path: path.to_path_buf(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{AnswerMode, Citation, Language, Searched, Timings};
    use lexdesk_core::store::SearchMode;

    fn answer(text: &str) -> Answer {
        Answer {
            answer: text.into(),
            abstained: false,
            abstention: None,
            draft: None,
            citations: vec![Citation {
                id: "S1".into(),
                doc: "nda-0003.txt".into(),
                source: "/x/nda-0003.txt".into(),
                page: None,
                heading: "OISAIR PROJECT › 3".into(),
                quote: "Not to alter, modify, disassemble, reverse engineer".into(),
                verified: true,
                start: Some(10),
                end: Some(61),
                coverage: 1.0,
                problem: None,
                attributed: false,
            }],
            unsupported_claims: vec!["It is also illegal.".into()],
            searched: Searched {
                query: "q".into(),
                mode: SearchMode::Hybrid,
                doc: None,
                doc_named: false,
                terms: vec![],
                passages: vec![],
            },
            usage: None,
            timings: Timings::default(),
            mode: AnswerMode::Generate,
            language: Language::En,
            stopped: false,
            prompt: None,
        }
    }

    #[test]
    fn sessions_persist_rename_export_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(dir.path());
        assert!(sessions.list().unwrap().is_empty());
        let mut s = sessions.create("").unwrap();
        s.push(SessionTurn {
            question: "Can they reverse engineer it?".into(),
            answer: answer("No [S1: \"Not to alter, modify, disassemble, reverse engineer\"]."),
            model: Some("SmolLM2-135M-Instruct.Q4_1.gguf".into()),
            template: None,
            asked_at_ms: 1,
            prompt: Some("Sources: … Question: Can they reverse engineer it?".into()),
        });
        sessions.save(&s).unwrap();

        let loaded = sessions.load(&s.id[..13]).unwrap();
        assert_eq!(loaded, s);
        assert_eq!(loaded.title, "Can they reverse engineer it?");
        assert_eq!(loaded.history()[0].prompt.as_deref(), Some("Sources: … Question: Can they reverse engineer it?"));

        let md = loaded.to_markdown();
        assert!(md.contains("## 1. Can they reverse engineer it?"), "{md}");
        assert!(md.contains("(verified): “Not to alter, modify, disassemble, reverse engineer”"), "{md}");
        assert!(md.contains("- It is also illegal."), "{md}");

        assert_eq!(sessions.rename(&s.id, "Reverse engineering").unwrap().title, "Reverse engineering");
        assert_eq!(sessions.list().unwrap()[0].title, "Reverse engineering");
        sessions.delete(&s.id).unwrap();
        assert!(matches!(sessions.load(&s.id), Err(SessionError::NotFound(_))));
        assert!(matches!(sessions.load("../../etc/passwd"), Err(SessionError::NotFound(_))));
    }

    #[test]
    fn a_damaged_file_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(dir.path());
        std::fs::create_dir_all(dir.path().join("chats")).unwrap();
        std::fs::write(dir.path().join("chats/0190-bad.json"), b"{ not json").unwrap();
        assert!(sessions.list().unwrap().is_empty());
        assert!(matches!(sessions.load("0190-bad"), Err(SessionError::Corrupt { .. })));
    }
}
