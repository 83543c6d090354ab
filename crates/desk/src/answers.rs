//! `desk.answers(matter)`: grounded answers from a matter's documents and the chat sessions
//! they are saved in. The answer *policy* (top-k, token budget, template shaping) is
//! `lexdesk_service::answer::answer_options`; this module gathers its inputs.

use std::path::Path;

use lexdesk_core::embed::Embedder;
use lexdesk_core::generate::{CancelToken, Generator};
use lexdesk_core::store::SearchMode;
use lexdesk_service::answer::{AnswerPolicy, AskRequest, TemplateShaping, Turn, answer_options, ask};
use lexdesk_service::search::Searcher;
use lexdesk_service::sessions::{SessionTurn, Sessions};
use lexdesk_store::{LanceStore, StoreOptions};

use crate::{
    AnswerMode, AnswerProgress, AskParams, AskResult, ChatEngine, ChatSession, Desk, DeskError, ExportFormat, Matter,
    SessionSummary,
};

/// Answers and chat sessions of one matter ([`Desk::answers`]).
#[derive(Debug, Clone, Copy)]
pub struct AnswersApi<'d> {
    pub(crate) desk: &'d Desk,
    pub(crate) matter_id: &'d str,
}

impl AnswersApi<'_> {
    fn matter(self) -> Result<Matter, DeskError> {
        self.desk.matter(self.matter_id)
    }

    fn sessions_of(self) -> Result<Sessions, DeskError> {
        Ok(Sessions::new(&self.matter()?.dir))
    }

    /// Answer a question from the matter's documents, with verified citations, as a turn of a
    /// chat session (a new one when `session_id` is `None`); the session is saved before this
    /// returns. `cancel` stops generation; the partial answer is checked and saved, marked
    /// stopped.
    ///
    /// # Errors
    /// Unknown matter or session, empty question, models or store failing. Abstaining is a
    /// normal answer.
    pub async fn ask(
        &self,
        params: &AskParams,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(AnswerProgress<'_>) + Send),
    ) -> Result<AskResult, DeskError> {
        let matter = self.matter()?;
        let sessions = Sessions::new(&matter.dir);
        let mut session = match params.session_id.as_deref() {
            Some(id) => sessions.load(id)?,
            None => sessions.create("")?,
        };
        let turn = self.turn(&matter, params, session.history(), cancel, progress).await?;
        session.push(turn.clone());
        sessions.save(&session)?;
        Ok(AskResult { session: SessionSummary::of(&session), turn })
    }

    /// [`AnswersApi::ask`] without a chat session: a one-off answer (the CLI's `ask`), nothing
    /// saved; `session_id` is ignored.
    ///
    /// # Errors
    /// As [`AnswersApi::ask`].
    pub async fn answer(
        &self,
        params: &AskParams,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(AnswerProgress<'_>) + Send),
    ) -> Result<SessionTurn, DeskError> {
        let matter = self.matter()?;
        self.turn(&matter, params, Vec::new(), cancel, progress).await
    }

    async fn turn(
        &self,
        matter: &Matter,
        params: &AskParams,
        history: Vec<Turn>,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(AnswerProgress<'_>) + Send),
    ) -> Result<SessionTurn, DeskError> {
        if params.question.trim().is_empty() {
            return Err(DeskError::EmptyQuestion);
        }
        // A template's errors (unknown, not for questions, a bad input) come before any model loads.
        let shaped = match params.template.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(name) => {
                let template = self.desk.templates().library().get(name)?.template;
                let inputs = params.template_inputs.clone().unwrap_or_default();
                Some(template.answer_instructions(params.question.trim(), &inputs)?)
            }
            None => None,
        };
        let search_mode = params.search_mode.unwrap_or_default();
        let models = self.desk.models();
        // Full-text retrieval needs no embedding model; the store keeps its own dimensions.
        let embedder = match search_mode {
            SearchMode::Text => None,
            _ => Some(models.embedding_for(matter).await?),
        };
        let dims = match &embedder {
            Some(e) => e.dimensions(),
            None => LanceStore::stored_dimensions(&matter.store_dir()).await?.unwrap_or(1),
        };
        // A matter without documents yet still answers (it abstains): an empty store opens.
        let store = LanceStore::open(&matter.store_dir(), dims, StoreOptions::default()).await?;
        let reranker = models.reranker(params.rerank).await?;
        let mut searcher = Searcher::new(&store, embedder.as_ref()).await?;
        if let Some((r, depth)) = &reranker {
            searcher = searcher.with_reranker(r, *depth);
        }
        let mode = params.mode.unwrap_or_default();
        let generator = match mode {
            AnswerMode::Generate => Some(models.chat().await?),
            AnswerMode::Extractive => None,
        };
        let model_name = generator.as_ref().map(ChatEngine::name);
        let options = answer_options(&AnswerPolicy {
            mode,
            search_mode,
            top_k: params.top_k,
            max_tokens: params.max_tokens,
            configured_max_tokens: self.desk.config().generation.max_tokens,
            template: shaped.as_ref().map(|s| TemplateShaping {
                max_tokens: s.parameters.max_tokens,
                sampling: s.parameters.sampling(),
                instructions: s.text.clone(),
            }),
            context_length: generator.as_ref().map(Generator::context_length),
            seed: params.seed,
        });
        let request = AskRequest {
            question: params.question.trim().to_string(),
            doc: params.doc.clone(),
            history,
            cancel: cancel.clone(),
        };
        let answer = ask(&searcher, generator.as_ref(), &request, &options, progress).await?;
        let prompt = answer.prompt.clone();
        Ok(SessionTurn {
            question: request.question,
            answer,
            model: model_name,
            template: shaped.map(|s| s.template),
            asked_at_ms: lexdesk_core::now_ms(),
            prompt,
        })
    }

    /// The matter's chat sessions, newest first.
    ///
    /// # Errors
    /// Unknown matter or unreadable sessions folder.
    pub fn sessions(self) -> Result<Vec<SessionSummary>, DeskError> {
        Ok(self.sessions_of()?.list()?.iter().map(SessionSummary::of).collect())
    }

    /// One chat session with every turn.
    ///
    /// # Errors
    /// Unknown matter or session.
    pub fn session(self, session_id: &str) -> Result<ChatSession, DeskError> {
        Ok(self.sessions_of()?.load(session_id)?)
    }

    /// Rename a chat session.
    ///
    /// # Errors
    /// Unknown matter or session, empty title.
    pub fn rename_session(self, session_id: &str, title: &str) -> Result<SessionSummary, DeskError> {
        Ok(SessionSummary::of(&self.sessions_of()?.rename(session_id, title)?))
    }

    /// Delete a chat session.
    ///
    /// # Errors
    /// Unknown matter or session.
    pub fn delete_session(self, session_id: &str) -> Result<SessionSummary, DeskError> {
        Ok(SessionSummary::of(&self.sessions_of()?.delete(session_id)?))
    }

    /// A session as Markdown or JSON, with its citations and their checks.
    ///
    /// # Errors
    /// Unknown matter or session.
    pub fn export_session(self, session_id: &str, format: ExportFormat) -> Result<String, DeskError> {
        let session = self.session(session_id)?;
        Ok(match format {
            ExportFormat::Markdown => session.to_markdown(),
            ExportFormat::Json => serde_json::to_string_pretty(&session)
                .map_err(|e| DeskError::Internal(format!("cannot serialise the session: {e}")))?,
        })
    }

    /// Write a session export to a file the user chose.
    ///
    /// # Errors
    /// As [`Self::export_session`]; the path's folder does not exist or cannot be written.
    pub fn export_session_to(self, session_id: &str, format: ExportFormat, path: &Path) -> Result<(), DeskError> {
        let text = self.export_session(session_id, format)?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() || path.is_dir() {
            return Err(DeskError::InvalidPath {
                path: path.to_path_buf(),
                reason: "not a file in an existing folder",
            });
        }
        std::fs::write(path, text).map_err(|e| DeskError::io(path.to_path_buf(), &e))
    }
}
