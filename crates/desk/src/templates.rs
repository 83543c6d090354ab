//! The prompt-template library as the front ends use it (issue #6): browse, edit, import and
//! export templates; render with a token-count preview on the chat model; compare several
//! templates over the same inputs and the same frozen evidence, with each run's text streamed;
//! the comparison history and diffs. A thin layer over `lexdesk-templates`: the desk adds the
//! chat model, evidence retrieved from a matter, and cancellation.

use std::path::Path;
use std::time::Duration;

use lexdesk_core::generate::{
    CancelToken, GenerateRequest, GenerationEvent, GenerationStream, Generator, Prompt, RenderedPrompt,
};
use lexdesk_core::store::SearchMode;
use lexdesk_core::{EngineError, ErrorCode};
use lexdesk_service::search::{SearchHit, SearchRequest};
use lexdesk_templates::{
    Candidate, Comparison, ComparisonHistory, ComparisonRequest, ComparisonSummary, DiffLine, EvidencePassage,
    HistoryListing, Inputs, Library, Listing, Preview, Progress, RenderedTemplate, RunResult, StoredTemplate, Template,
    TemplateError, Warning, compare_with, diff_lines, preview,
};
use serde::{Deserialize, Serialize};

use crate::{ChatEngine, DeskError};

/// A warning or problem as a front end shows it: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Notice {
    /// Stable code, e.g. `TEMPLATE_UNUSED_VARIABLE`.
    pub code: String,
    /// What it means.
    pub message: String,
}

impl From<&Warning> for Notice {
    fn from(w: &Warning) -> Self {
        Self { code: w.code().to_owned(), message: w.to_string() }
    }
}

/// A template with its validation warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TemplateView {
    /// The template, where it is stored and its TOML text.
    pub stored: StoredTemplate,
    /// What validation found worth saying (an unused variable, …).
    pub warnings: Vec<Notice>,
}

/// Where the evidence of evidence templates comes from: a search of a matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EvidenceSource {
    /// The matter.
    pub matter_id: String,
    /// Only this document (id, file name or path).
    pub doc: Option<String>,
    /// Passages retrieved (default 6).
    pub top_k: Option<u32>,
    /// Retrieval: hybrid (default), vector or text.
    #[serde(default)]
    pub search_mode: Option<SearchMode>,
}

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RenderParams {
    /// The template.
    pub name: String,
    /// Values of its variables (numbers as text).
    pub inputs: Inputs,
    /// For evidence templates: the matter to retrieve from.
    pub evidence: Option<EvidenceSource>,
    /// Render with the chat model's own template and count the tokens (loads the model).
    pub preview: bool,
}

/// A rendered template, the evidence it saw and, when asked, its token count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RenderView {
    /// System prompt and user message.
    pub rendered: RenderedTemplate,
    /// The query the evidence was retrieved with.
    pub evidence_query: Option<String>,
    /// The passages, numbered `S1…`.
    pub evidence: Vec<EvidencePassage>,
    /// The prompt as the model sees it, with its tokens against the context.
    pub preview: Option<Preview>,
}

/// A comparison to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CompareParams {
    /// A title for the history.
    pub title: String,
    /// The templates, in column order (the same one twice runs it twice).
    pub templates: Vec<String>,
    /// Values for the variables (each template takes the ones it declares).
    pub inputs: Inputs,
    /// Expected keywords: each output is scored by the share it contains.
    pub keywords: Vec<String>,
    /// For evidence templates: the matter to retrieve from (once, frozen for every run).
    pub evidence: Option<EvidenceSource>,
    /// Sampling seed for every run.
    pub seed: Option<u32>,
    /// Tokens each run may generate (default: each template's `max_tokens`).
    pub max_tokens: Option<u32>,
}

/// Progress of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CompareProgress {
    /// The evidence was retrieved (before the first run).
    Evidence {
        /// The query.
        query: String,
        /// The passages every evidence template sees.
        passages: Vec<EvidencePassage>,
    },
    /// Run `index` starts.
    Started {
        /// 0-based.
        index: u32,
        /// Runs in all.
        total: u32,
        /// Its column label.
        label: String,
    },
    /// More text of the running run.
    Text {
        /// Which run.
        index: u32,
        /// The text to append.
        text: String,
    },
    /// Run `index` finished, or failed (see its `error`).
    Finished {
        /// Which run.
        index: u32,
        /// Its result.
        run: Box<RunResult>,
    },
}

/// How a comparison is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ComparisonFormat {
    /// One row per run, outputs in full.
    Csv,
    /// The comparison as saved.
    Json,
    /// A report.
    Markdown,
}

/// The prompt-template library and the comparison history of a desk ([`crate::Desk::templates`]).
#[derive(Debug, Clone, Copy)]
pub struct TemplatesApi<'d> {
    pub(crate) desk: &'d crate::Desk,
}

impl TemplatesApi<'_> {
    /// The template library: built-ins and the user's templates in `LEXDESK_HOME/templates`.
    #[must_use]
    pub fn library(self) -> Library {
        Library::new(self.desk.home.templates_dir())
    }

    /// Saved comparisons in `LEXDESK_HOME/comparisons`.
    #[must_use]
    pub fn history(self) -> ComparisonHistory {
        ComparisonHistory::new(self.desk.home.comparisons_dir())
    }

    /// The folder of the user's templates.
    #[must_use]
    pub fn dir(self) -> std::path::PathBuf {
        self.desk.home.templates_dir()
    }

    /// A template's TOML (built-ins as shipped).
    ///
    /// # Errors
    /// `TEMPLATE_NOT_FOUND`.
    pub fn export(self, name: &str) -> Result<String, DeskError> {
        Ok(self.library().export(name)?)
    }

    /// Built-in and user templates (and user files that are not valid templates, with why).
    ///
    /// # Errors
    /// The templates folder cannot be read.
    pub fn list(self) -> Result<Listing, DeskError> {
        Ok(self.library().list()?)
    }

    /// One template with its TOML text and warnings.
    ///
    /// # Errors
    /// `TEMPLATE_NOT_FOUND`, or its file is invalid.
    pub fn get(self, name: &str) -> Result<TemplateView, DeskError> {
        view(self.library().get(name)?)
    }

    /// Check TOML text as a template without saving it: the warnings, or the first error (with
    /// line and column for syntax errors).
    ///
    /// # Errors
    /// The parse or validation error.
    pub fn check(self, text: &str) -> Result<Vec<Notice>, DeskError> {
        let template = Template::from_toml(text)?;
        Ok(template.validate()?.iter().map(Notice::from).collect())
    }

    /// Save TOML text: a new user template when `name` is `None`, else replace user template
    /// `name` (the text may rename it). Stored verbatim, comments kept.
    ///
    /// # Errors
    /// Parse and validation errors, `TEMPLATE_EXISTS`, `TEMPLATE_BUILTIN_READ_ONLY`, I/O.
    pub fn save(self, name: Option<&str>, text: &str) -> Result<TemplateView, DeskError> {
        let lib = self.library();
        let saved = match name {
            None => lib.import_text(text, None)?,
            Some(name) => lib.update_text(name, text)?,
        };
        Ok(TemplateView { warnings: saved.warnings.iter().map(Notice::from).collect(), stored: saved.stored })
    }

    /// Copy a template (built-in or user) to a new user template.
    ///
    /// # Errors
    /// `TEMPLATE_NOT_FOUND`, `TEMPLATE_INVALID_NAME`, `TEMPLATE_EXISTS`, I/O.
    pub fn duplicate(self, from: &str, new_name: &str) -> Result<TemplateView, DeskError> {
        let saved = self.library().duplicate(from, new_name)?;
        Ok(TemplateView { warnings: saved.warnings.iter().map(Notice::from).collect(), stored: saved.stored })
    }

    /// Delete a user template.
    ///
    /// # Errors
    /// `TEMPLATE_BUILTIN_READ_ONLY`, `TEMPLATE_NOT_FOUND`, I/O.
    pub fn delete(self, name: &str) -> Result<(), DeskError> {
        Ok(self.library().delete(name)?)
    }

    /// Import a template file, under `new_name` if given.
    ///
    /// # Errors
    /// The file cannot be read, parse and validation errors (naming the file), `TEMPLATE_EXISTS`.
    pub fn import(self, path: &Path, new_name: Option<&str>) -> Result<TemplateView, DeskError> {
        let saved = self.library().import_file(path, new_name)?;
        Ok(TemplateView { warnings: saved.warnings.iter().map(Notice::from).collect(), stored: saved.stored })
    }

    /// Write a template's TOML (built-ins as shipped) to `path`.
    ///
    /// # Errors
    /// `TEMPLATE_NOT_FOUND`, the file cannot be written.
    pub fn export_to(self, name: &str, path: &Path) -> Result<(), DeskError> {
        let text = self.export(name)?;
        std::fs::write(path, text).map_err(|e| DeskError::io(path.to_path_buf(), &e))
    }

    /// Retrieve evidence for `query` from a matter, numbered `S1…` in rank order (pages only for
    /// paged documents; headings without the document title that heads them).
    async fn retrieve(self, source: &EvidenceSource, query: &str) -> Result<Vec<EvidencePassage>, DeskError> {
        let documents = self.desk.documents(&source.matter_id);
        let hits = documents
            .search(&SearchRequest {
                query: query.to_owned(),
                mode: source.search_mode.unwrap_or_default(),
                top_k: source.top_k.map_or(6, |k| k.clamp(1, crate::MAX_TOP_K) as usize),
                doc: source.doc.clone(),
                vector_weight: None,
                rerank: None,
            })
            .await?;
        let docs = documents.list().await?;
        Ok(evidence_passages(&hits, |doc_id| docs.iter().any(|d| d.id == doc_id && d.has_pages())))
    }

    /// The evidence an evidence template sees for these inputs: `(query, passages)`; nothing for
    /// other templates or without a source.
    async fn evidence_for(
        &self,
        template: &Template,
        inputs: &Inputs,
        source: Option<&EvidenceSource>,
    ) -> Result<(Option<String>, Vec<EvidencePassage>), DeskError> {
        if !template.evidence {
            return Ok((None, Vec::new()));
        }
        let query = template.evidence_query(&template.own_inputs(inputs))?;
        let (Some(source), Some(q)) = (source, query.as_deref()) else { return Ok((query, Vec::new())) };
        let passages = self.retrieve(source, q).await?;
        Ok((query, passages))
    }

    /// Render a template (deterministic); evidence templates retrieve from the given matter;
    /// `preview` counts the tokens on the chat model against its context.
    ///
    /// # Errors
    /// `TEMPLATE_NOT_FOUND`, every input error (a missing or unknown variable is named, a type
    /// mismatch explained), `TEMPLATE_EVIDENCE_REQUIRED` (an evidence template without a matter
    /// or with nothing found), search and model errors.
    pub async fn render(self, params: &RenderParams) -> Result<RenderView, DeskError> {
        let template = self.library().get(&params.name)?.template;
        let (evidence_query, evidence) = self.evidence_for(&template, &params.inputs, params.evidence.as_ref()).await?;
        let rendered = template.render(&params.inputs, &evidence)?;
        let preview =
            if params.preview { Some(preview(&self.desk.models().chat().await?, &rendered).await?) } else { None };
        Ok(RenderView { rendered, evidence_query, evidence, preview })
    }

    /// Run several templates over the same inputs and the same evidence (retrieved once, before
    /// the first run) on the chat model, one after another, each from an empty prompt cache so
    /// their latencies compare; every run's text streams on `on_progress`. The comparison is
    /// saved to the history before it is returned. `cancel` ends the running generation and the
    /// ones after it (they are recorded as cancelled).
    ///
    /// # Errors
    /// Input errors of any template before anything runs (`TEMPLATE_EMPTY_COMPARISON`,
    /// `TEMPLATE_UNKNOWN_INPUT`, `TEMPLATE_MISSING_VARIABLE`, …), search and model load errors,
    /// saving the history. A run that fails is recorded with its error.
    pub async fn compare(
        &self,
        params: &CompareParams,
        cancel: &CancelToken,
        on_progress: &mut (dyn FnMut(CompareProgress) + Send),
    ) -> Result<Comparison, DeskError> {
        let lib = self.library();
        let mut candidates = Vec::with_capacity(params.templates.len());
        for name in &params.templates {
            let mut template = lib.get(name)?.template;
            if let Some(n) = params.max_tokens {
                template.parameters.max_tokens = n.clamp(1, lexdesk_templates::MAX_TOKENS);
            }
            candidates.push(Candidate::new(template));
        }
        lexdesk_templates::check_inputs(&candidates, &params.inputs)?;
        // Retrieved once and frozen: every evidence template sees the same passages.
        let mut evidence = Vec::new();
        if let Some(first) = candidates.iter().map(|c| &c.template).find(|t| t.evidence) {
            let (query, found) = self.evidence_for(first, &params.inputs, params.evidence.as_ref()).await?;
            if let Some(query) = query.filter(|_| !found.is_empty()) {
                on_progress(CompareProgress::Evidence { query, passages: found.clone() });
            }
            evidence = found;
        }
        // Input errors surface before the model is loaded.
        lexdesk_templates::prepare(&candidates, &params.inputs, &evidence)?;
        let engine = self.desk.models().chat().await?;
        let request = ComparisonRequest {
            title: params.title.trim().to_owned(),
            candidates,
            inputs: params.inputs.clone(),
            evidence,
            expected_keywords: params.keywords.clone(),
            model: Some(engine.name()),
            seed: params.seed,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let generator = Measured { engine, cancel: cancel.clone(), events: tx.clone(), runs: Default::default() };
        let run = compare_with(&generator, &request, |p| {
            let event = match p {
                Progress::Started { index, total, label } => {
                    CompareProgress::Started { index: to_u32(index), total: to_u32(total), label: label.to_owned() }
                }
                Progress::Finished { index, run, .. } => {
                    CompareProgress::Finished { index: to_u32(index), run: Box::new(run.clone()) }
                }
            };
            let _closed = tx.send(event);
        });
        tokio::pin!(run);
        let comparison = loop {
            tokio::select! {
                biased;
                Some(event) = rx.recv() => on_progress(event),
                result = &mut run => {
                    while let Ok(event) = rx.try_recv() {
                        on_progress(event);
                    }
                    break result?;
                }
            }
        };
        self.history().save(&comparison)?;
        Ok(comparison)
    }

    /// Saved comparisons, newest first.
    ///
    /// # Errors
    /// The history folder cannot be read.
    pub fn comparisons(self) -> Result<Vec<ComparisonSummary>, DeskError> {
        Ok(self.history().list()?.comparisons)
    }

    /// Saved comparisons, newest first, and the files in the history folder that cannot be read.
    ///
    /// # Errors
    /// The history folder cannot be read.
    pub fn history_listing(self) -> Result<HistoryListing, DeskError> {
        Ok(self.history().list()?)
    }

    /// A saved comparison's full id from its id or a prefix of exactly one saved comparison's id.
    ///
    /// # Errors
    /// `COMPARISON_NOT_FOUND`; a prefix of several is `INVALID_ARGUMENT`.
    pub fn resolve_comparison(self, id: &str) -> Result<String, DeskError> {
        let listing = self.history().list()?;
        if listing.comparisons.iter().any(|c| c.id == id) {
            return Ok(id.to_owned());
        }
        let matching: Vec<&str> =
            listing.comparisons.iter().filter(|c| c.id.starts_with(id)).map(|c| c.id.as_str()).collect();
        match matching.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => Err(TemplateError::ComparisonNotFound { id: id.to_owned() }.into()),
            _ => Err(DeskError::InvalidArgument(format!(
                "`{id}` names {} saved comparisons; give more of the id",
                matching.len()
            ))),
        }
    }

    /// One saved comparison (id or a unique prefix).
    ///
    /// # Errors
    /// `COMPARISON_NOT_FOUND`, an ambiguous prefix, an unreadable file.
    pub fn comparison(self, id: &str) -> Result<Comparison, DeskError> {
        Ok(self.history().load(&self.resolve_comparison(id)?)?)
    }

    /// Delete a saved comparison (id or a unique prefix).
    ///
    /// # Errors
    /// `COMPARISON_NOT_FOUND`, an ambiguous prefix, I/O.
    pub fn delete_comparison(self, id: &str) -> Result<(), DeskError> {
        Ok(self.history().delete(&self.resolve_comparison(id)?)?)
    }

    /// A saved comparison as CSV, JSON or Markdown text.
    ///
    /// # Errors
    /// `COMPARISON_NOT_FOUND`, serialisation.
    pub fn export_comparison(self, id: &str, format: ComparisonFormat) -> Result<String, DeskError> {
        let c = self.comparison(id)?;
        Ok(match format {
            ComparisonFormat::Csv => c.to_csv()?,
            ComparisonFormat::Json => c.to_json()?,
            ComparisonFormat::Markdown => c.to_markdown(),
        })
    }

    /// Write a saved comparison to `path` (the save dialog's choice).
    ///
    /// # Errors
    /// As [`TemplatesApi::export_comparison`], and the file cannot be written.
    pub fn export_comparison_to(self, id: &str, format: ComparisonFormat, path: &Path) -> Result<(), DeskError> {
        let text = self.export_comparison(id, format)?;
        std::fs::write(path, text).map_err(|e| DeskError::io(path.to_path_buf(), &e))
    }

    /// The line diff (with changed words marked) of two runs' outputs of a saved comparison, by
    /// their 0-based positions.
    ///
    /// # Errors
    /// `COMPARISON_NOT_FOUND`; a position out of range is `INVALID_ARGUMENT`.
    pub fn diff_runs(self, id: &str, a: u32, b: u32) -> Result<Vec<DiffLine>, DeskError> {
        let c = self.comparison(id)?;
        let run = |i: u32| {
            c.runs.get(i as usize).ok_or_else(|| {
                DeskError::InvalidArgument(format!(
                    "comparison {} has {} runs; there is no run {}",
                    c.id,
                    c.runs.len(),
                    i + 1
                ))
            })
        };
        Ok(diff_lines(&run(a)?.output, &run(b)?.output))
    }
}

/// Search hits as a template's evidence, numbered `S1…` in rank order: pages only for paged
/// documents (`paged(doc_id)`), headings without the document title that heads them.
#[must_use]
pub fn evidence_passages(hits: &[SearchHit], paged: impl Fn(&str) -> bool) -> Vec<EvidencePassage> {
    hits.iter()
        .enumerate()
        .map(|(i, h)| {
            let paged = paged(&h.doc_id);
            EvidencePassage {
                label: format!("S{}", i + 1),
                title: h.title.clone(),
                page: paged.then_some(h.page),
                page_end: paged.then_some(h.page_end),
                heading: h.heading.split(" › ").skip(1).collect::<Vec<_>>().join(" › "),
                text: h.text.clone(),
            }
        })
        .collect()
}

fn view(stored: StoredTemplate) -> Result<TemplateView, DeskError> {
    let warnings = stored.template.validate()?.iter().map(Notice::from).collect();
    Ok(TemplateView { stored, warnings })
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The chat model as a comparison runs it: an empty prompt cache for every run (latencies and
/// times to first token compare; a template run twice with a seed gives the same output), each
/// run's text forwarded as [`CompareProgress::Text`], and the caller's cancel token applied to
/// every run.
struct Measured {
    engine: ChatEngine,
    cancel: CancelToken,
    events: tokio::sync::mpsc::UnboundedSender<CompareProgress>,
    runs: std::sync::atomic::AtomicU32,
}

impl Generator for Measured {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError> {
        let index = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.engine.clear_cache()?;
        let mut inner = self.engine.generate(request)?;
        let stop = inner.cancel_token();
        let outer = self.cancel.clone();
        let events = self.events.clone();
        let own = CancelToken::new();
        let own_for_task = own.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    event = inner.next() => {
                        let Some(event) = event else { break };
                        if let Ok(GenerationEvent::Token { text }) = &event {
                            let _closed = events.send(CompareProgress::Text { index, text: text.clone() });
                        }
                        if tx.send(event).await.is_err() {
                            stop.cancel();
                            break;
                        }
                    }
                    _ = tick.tick() => {
                        if outer.is_cancelled() || own_for_task.is_cancelled() {
                            stop.cancel();
                        }
                    }
                }
            }
        });
        Ok(GenerationStream::new(rx, own))
    }

    async fn render(&self, prompt: &Prompt) -> Result<RenderedPrompt, EngineError> {
        self.engine.render(prompt).await
    }

    fn context_length(&self) -> u32 {
        self.engine.context_length()
    }
}
