//! `desk.evals()`: evaluation of answers on gold sets (issue #22). Sets live in
//! `LEXDESK_HOME/evals/sets/<name>.jsonl` (imported from JSONL, CSV or XLSX, validated first);
//! runs in `evals/runs/<uuid v7>/` ([`lexdesk_eval::run`]). A run answers each item exactly as
//! the desktop app would (`answers(m).answer`, the configured models, the matter's own
//! embedder) — or, for instruction-only sets, with the chat model alone — and then reads every
//! verified quote's page back from the store and looks for the quote again: the honesty check
//! does not take the answer's word for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lexdesk_core::embed::Embedder;
use lexdesk_core::generate::{CancelToken, ChatMessage, GenerateRequest, Generator, Role};
use lexdesk_core::store::{ChunkStore, SearchMode};
use lexdesk_core::{ErrorCode, ErrorKind};
use lexdesk_eval::EvalError;
use lexdesk_eval::export::{ExportFormat, comparison_bytes, run_bytes};
use lexdesk_eval::gold::{GoldFormat, GoldItem, GoldSet, Problem, read_set};
use lexdesk_eval::judge::{Judge, JudgeProgress, judge_run};
use lexdesk_eval::report::{Comparison, RunReport, compare};
use lexdesk_eval::run::{
    RunConfig, RunDir, RunEvent, RunManifest, RunStatus, Runs, Subject, execute, finish_judged, mark_failed,
};
use lexdesk_eval::score::{CitedPassage, ItemFailure, Outcome};
use lexdesk_service::answer::Answer;
use lexdesk_service::cite::FoldedPage;
use lexdesk_store::{LanceStore, StoreOptions};
use serde::{Deserialize, Serialize};

use crate::{AnswerMode, AskParams, ChatEngine, Desk, DeskError, Matter};

/// Gold sets and evaluation runs ([`Desk::evals`]).
#[derive(Debug, Clone, Copy)]
pub struct EvalsApi<'d> {
    pub(crate) desk: &'d Desk,
}

/// A gold set in the library.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetSummary {
    /// The set's name.
    pub name: String,
    /// Items.
    pub items: u32,
    /// Items with a reference answer.
    pub with_expected: u32,
    /// Items with keywords.
    pub with_keywords: u32,
    /// Items with expected sources.
    pub with_sources: u32,
    /// Items the documents cannot answer.
    pub should_abstain: u32,
    /// Tags and their item counts.
    pub tags: BTreeMap<String, u32>,
    /// Its file.
    pub path: String,
}

impl SetSummary {
    fn of(set: &GoldSet, path: &Path) -> Self {
        let n = |f: &dyn Fn(&GoldItem) -> bool| {
            u32::try_from(set.items.iter().filter(|i| f(i)).count()).unwrap_or(u32::MAX)
        };
        Self {
            name: set.name.clone(),
            items: n(&|_| true),
            with_expected: n(&|i| i.expected.is_some()),
            with_keywords: n(&|i| !i.keywords.is_empty()),
            with_sources: n(&|i| !i.sources.is_empty()),
            should_abstain: n(&|i| i.should_abstain),
            tags: set.tag_counts().into_iter().map(|(k, v)| (k, u32::try_from(v).unwrap_or(u32::MAX))).collect(),
            path: path.display().to_string(),
        }
    }
}

/// A gold set file checked before it is imported: what it holds, or every problem in it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetCheck {
    /// The name it would be imported under (the file name without its extension).
    pub name: String,
    /// The file's format.
    pub format: GoldFormat,
    /// Its items (none when it has problems).
    pub items: Vec<GoldItem>,
    /// Every problem, with its row and column; the set can be imported only without any.
    pub problems: Vec<Problem>,
    /// What it holds (valid sets only).
    pub summary: Option<SetSummary>,
}

/// A chart of runs, as SVG (its text is escaped and stays text: Chinese labels render with
/// the reader's fonts).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalChart {
    /// What it shows.
    pub title: String,
    /// The SVG document (`None` when it could not be drawn).
    pub svg: Option<String>,
    /// Why it could not be drawn.
    pub problem: Option<String>,
}

/// A run to start.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalParams {
    /// The gold set's name.
    pub set: String,
    /// The matter the questions are asked of (id or name); `None` for instruction-only sets,
    /// answered by the chat model alone.
    #[serde(default)]
    pub matter: Option<String>,
    /// A name for the run in reports.
    #[serde(default)]
    pub label: Option<String>,
    /// Generate (default) or extractive.
    #[serde(default)]
    pub mode: Option<AnswerMode>,
    /// Retrieval mode (default hybrid).
    #[serde(default)]
    pub search_mode: Option<SearchMode>,
    /// Passages retrieved.
    #[serde(default)]
    pub top_k: Option<u32>,
    /// A template shaping the answers.
    #[serde(default)]
    pub template: Option<String>,
    /// Reranking on or off (`None`: as configured).
    #[serde(default)]
    pub rerank: Option<bool>,
    /// Answer length.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling seed.
    #[serde(default)]
    pub seed: Option<u32>,
    /// Items answered at once (default 1; more needs the chat model's parallel sequences,
    /// `[server] parallel`, to run them together).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Only the first N items.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Then grade the answers with the chat model as an LLM judge (a written rubric, 1–5;
    /// weaker evidence than the checked metrics).
    #[serde(default)]
    pub judge: Option<bool>,
}

fn valid_set_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl<'d> EvalsApi<'d> {
    fn sets_dir(self) -> PathBuf {
        self.desk.home().join("evals").join("sets")
    }

    fn runs(self) -> Runs {
        Runs::new(self.desk.home().join("evals").join("runs"))
    }

    fn set_path(self, name: &str) -> Result<PathBuf, DeskError> {
        if !valid_set_name(name) {
            return Err(EvalError::InvalidName(name.to_owned()).into());
        }
        Ok(self.sets_dir().join(format!("{name}.jsonl")))
    }

    /// The gold sets in the library, by name.
    ///
    /// # Errors
    /// An unreadable folder or set.
    pub fn sets(self) -> Result<Vec<SetSummary>, DeskError> {
        let dir = self.sets_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(DeskError::io(dir.clone(), &e)),
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(SetSummary::of(&read_set(&path)?, &path));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A set by name.
    ///
    /// # Errors
    /// [`EvalError::SetNotFound`], or a damaged set.
    pub fn set(self, name: &str) -> Result<GoldSet, DeskError> {
        let path = self.set_path(name)?;
        if !path.is_file() {
            return Err(EvalError::SetNotFound(name.to_owned()).into());
        }
        Ok(read_set(&path)?)
    }

    /// Validate a gold set file (JSONL, CSV or XLSX) without importing it.
    ///
    /// # Errors
    /// [`EvalError::InvalidSet`] with every problem, row and column named.
    pub fn check(self, path: &Path) -> Result<GoldSet, DeskError> {
        Ok(read_set(path)?)
    }

    /// Check a gold set file (JSONL, CSV or XLSX) and preview it: its items, or every problem
    /// with its row and column (a set with problems is a result here, not an error).
    ///
    /// # Errors
    /// An unreadable file or an extension that is not a gold set format.
    pub fn inspect(self, path: &Path) -> Result<SetCheck, DeskError> {
        let format =
            GoldFormat::of(path).ok_or_else(|| EvalError::UnsupportedFormat { path: path.display().to_string() })?;
        match read_set(path) {
            Ok(set) => Ok(SetCheck {
                summary: Some(SetSummary::of(&set, path)),
                name: set.name,
                format,
                items: set.items,
                problems: Vec::new(),
            }),
            Err(EvalError::InvalidSet { set, problems }) => {
                Ok(SetCheck { name: set, format, items: Vec::new(), problems, summary: None })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Import a gold set file into the library under `name` (default: the file name), stored
    /// as JSONL. `replace` overwrites a set of that name.
    ///
    /// # Errors
    /// An invalid set, a name in use, the file system.
    pub fn import(self, path: &Path, name: Option<&str>, replace: bool) -> Result<SetSummary, DeskError> {
        let mut set = read_set(path)?;
        if let Some(n) = name {
            n.clone_into(&mut set.name);
        }
        let target = self.set_path(&set.name)?;
        if target.exists() && !replace {
            return Err(EvalError::SetExists(set.name).into());
        }
        let dir = self.sets_dir();
        std::fs::create_dir_all(&dir).map_err(|e| DeskError::io(dir.clone(), &e))?;
        let tmp = target.with_extension("jsonl.tmp");
        std::fs::write(&tmp, set.to_jsonl()).map_err(|e| DeskError::io(tmp.clone(), &e))?;
        std::fs::rename(&tmp, &target).map_err(|e| DeskError::io(target.clone(), &e))?;
        Ok(SetSummary::of(&set, &target))
    }

    /// Write a set to a file; the format follows the extension (`.jsonl`, `.csv`, `.xlsx`).
    ///
    /// # Errors
    /// Unknown set or extension, the file system.
    pub fn export_set(self, name: &str, path: &Path) -> Result<(), DeskError> {
        let set = self.set(name)?;
        let format =
            GoldFormat::of(path).ok_or_else(|| EvalError::UnsupportedFormat { path: path.display().to_string() })?;
        let bytes = lexdesk_eval::gold::write_set(&set, format)?;
        std::fs::write(path, bytes).map_err(|e| DeskError::io(path.to_path_buf(), &e))
    }

    /// Remove a set from the library (its runs keep their own copy).
    ///
    /// # Errors
    /// Unknown set, the file system.
    pub fn remove_set(self, name: &str) -> Result<(), DeskError> {
        let path = self.set_path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(EvalError::SetNotFound(name.to_owned()).into()),
            Err(e) => Err(DeskError::io(path.to_path_buf(), &e)),
        }
    }

    /// Start a run and execute it to the end (or until `cancel`; then it is resumable).
    ///
    /// # Errors
    /// Unknown set or matter, a model that does not load, the store; a failure of one item is
    /// recorded in its outcome instead.
    pub async fn run(
        self,
        params: &EvalParams,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(RunEvent<'_>) + Send),
    ) -> Result<RunReport, DeskError> {
        let manifest = self.create(params).await?;
        let run = self.runs().open(&manifest.id)?;
        self.execute(&run, cancel, progress).await
    }

    /// Create a run (its folder, configuration and frozen set) without executing it:
    /// [`EvalsApi::resume`] executes it (the server starts runs in the background this way).
    ///
    /// # Errors
    /// Unknown set or matter, a model that does not load.
    pub async fn create(self, params: &EvalParams) -> Result<RunManifest, DeskError> {
        let set = self.set(&params.set)?;
        let matter = params.matter.as_deref().map(|m| self.desk.matter(m)).transpose()?;
        let models = self.desk.models();
        let mode = params.mode.unwrap_or_default();
        let model = match mode {
            AnswerMode::Generate => Some(models.chat().await?.name()),
            AnswerMode::Extractive => None,
        };
        let embedder = match (&matter, params.search_mode.unwrap_or_default()) {
            (Some(m), SearchMode::Hybrid | SearchMode::Vector) => Some(models.embedding_for(m).await?.id()),
            _ => None,
        };
        let config = RunConfig {
            label: params.label.clone().unwrap_or_default(),
            matter: matter.as_ref().map(|m| m.name.clone()),
            matter_id: matter.as_ref().map(|m| m.id.clone()),
            model,
            embedder,
            adapter: None,
            template: params.template.clone().filter(|t| !t.trim().is_empty()),
            mode: match mode {
                AnswerMode::Generate => "generate".into(),
                AnswerMode::Extractive => "extractive".into(),
            },
            search_mode: search_mode_name(params.search_mode.unwrap_or_default()).into(),
            top_k: params.top_k,
            rerank: params.rerank,
            max_tokens: params.max_tokens,
            seed: params.seed,
            concurrency: params.concurrency.unwrap_or(1).clamp(1, 64),
            limit: params.limit,
            judge: params.judge.unwrap_or(false),
        };
        Ok(self.runs().create(&set, config)?.manifest()?)
    }

    /// Resume a run stopped by Cancel, an error, a crash or `kill -9`: only the items not yet
    /// finished are answered.
    ///
    /// # Errors
    /// Unknown or finished run, and as [`EvalsApi::run`].
    pub async fn resume(
        self,
        run_id: &str,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(RunEvent<'_>) + Send),
    ) -> Result<RunReport, DeskError> {
        let run = self.runs().open(run_id)?;
        let manifest = run.manifest()?;
        if manifest.status == RunStatus::Finished {
            return Err(EvalError::RunFinished(manifest.id).into());
        }
        self.execute(&run, cancel, progress).await
    }

    async fn execute(
        self,
        run: &RunDir,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(RunEvent<'_>) + Send),
    ) -> Result<RunReport, DeskError> {
        let manifest = run.manifest()?;
        let subject = self.subject(&manifest).await;
        let mut result = match subject {
            Ok(subject) => execute(run, &subject, cancel, progress).await,
            Err(e) => Err(e),
        };
        // A run configured with the judge is graded once every answer is in (a resumed run
        // grades what is left); it is finished when the last grade is.
        if let Ok(m) = &result
            && m.config.judge
            && m.status == RunStatus::Running
        {
            let judged = async {
                let judge = DeskJudge { model: self.desk.models().chat().await?, seed: m.config.seed };
                judge_run(run, &judge, false, cancel, &mut |p| progress(RunEvent::Judged(p))).await?;
                Ok::<_, DeskError>(finish_judged(run, !cancel.is_cancelled())?)
            };
            result = judged.await;
        }
        match result {
            Ok(_) => Ok(RunReport::of(run)?),
            Err(e) => {
                if !matches!(e, DeskError::Eval(EvalError::RunBusy(_))) {
                    mark_failed(run, &format!("{}: {e}", e.code()))?;
                }
                Err(e)
            }
        }
    }

    async fn subject(self, manifest: &RunManifest) -> Result<DeskSubject<'d>, DeskError> {
        let c = &manifest.config;
        let matter = c.matter_id.as_deref().map(|m| self.desk.matter(m)).transpose()?;
        let mode = if c.mode == "extractive" { AnswerMode::Extractive } else { AnswerMode::Generate };
        let search_mode = match c.search_mode.as_str() {
            "vector" => SearchMode::Vector,
            "text" => SearchMode::Text,
            _ => SearchMode::Hybrid,
        };
        let store = match &matter {
            Some(m) => {
                let dims = match search_mode {
                    SearchMode::Text => LanceStore::stored_dimensions(&m.store_dir()).await?.unwrap_or(1),
                    _ => self.desk.models().embedding_for(m).await?.dimensions(),
                };
                Some(LanceStore::open(&m.store_dir(), dims, StoreOptions::default()).await?)
            }
            None => None,
        };
        Ok(DeskSubject {
            desk: self.desk,
            matter,
            store,
            base: AskParams {
                mode: Some(mode),
                search_mode: Some(search_mode),
                top_k: c.top_k,
                template: c.template.clone(),
                rerank: c.rerank,
                max_tokens: c.max_tokens,
                seed: c.seed,
                ..AskParams::default()
            },
        })
    }

    /// Every run, newest first.
    ///
    /// # Errors
    /// The file system.
    pub fn list(self) -> Result<Vec<RunManifest>, DeskError> {
        Ok(self.runs().list()?)
    }

    /// A run's results (so far, for an unfinished run).
    ///
    /// # Errors
    /// Unknown or damaged run.
    pub fn report(self, run_id: &str) -> Result<RunReport, DeskError> {
        Ok(RunReport::of(&self.runs().open(run_id)?)?)
    }

    /// Runs on the same set compared, the first as the baseline.
    ///
    /// # Errors
    /// Unknown runs, runs of different sets, fewer than two.
    pub fn compare(self, run_ids: &[String]) -> Result<Comparison, DeskError> {
        let reports = run_ids.iter().map(|id| self.report(id)).collect::<Result<Vec<_>, _>>()?;
        Ok(compare(reports)?)
    }

    /// One run (or, with several ids, their comparison) in an export format.
    ///
    /// # Errors
    /// As [`EvalsApi::report`] and [`EvalsApi::compare`].
    pub fn export(self, run_ids: &[String], format: ExportFormat) -> Result<Vec<u8>, DeskError> {
        match run_ids {
            [] => Err(DeskError::InvalidArgument("name a run to export".into())),
            [one] => Ok(run_bytes(&self.report(one)?, format)?),
            _ => Ok(comparison_bytes(&self.compare(run_ids)?, format)?),
        }
    }

    /// Write [`EvalsApi::export`] to a file.
    ///
    /// # Errors
    /// As [`EvalsApi::export`], and the file system.
    pub fn export_to(self, run_ids: &[String], format: ExportFormat, path: &Path) -> Result<(), DeskError> {
        let bytes = self.export(run_ids, format)?;
        std::fs::write(path, bytes).map_err(|e| DeskError::io(path.to_path_buf(), &e))
    }

    /// The charts of one run, or of several side by side (metrics with intervals, per tag,
    /// latency distributions), as in the HTML report.
    ///
    /// # Errors
    /// Unknown runs.
    pub fn charts(self, run_ids: &[String]) -> Result<Vec<EvalChart>, DeskError> {
        let reports = run_ids.iter().map(|id| self.report(id)).collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&RunReport> = reports.iter().collect();
        Ok(lexdesk_eval::charts::report_charts(&refs)
            .into_iter()
            .map(|(title, svg)| match svg {
                Ok(svg) => EvalChart { title, svg: Some(svg), problem: None },
                Err(e) => EvalChart { title, svg: None, problem: Some(e) },
            })
            .collect())
    }

    /// Grade a run's answers with the configured chat model as an LLM judge (a written rubric,
    /// 1–5; weaker evidence than the other metrics). Resumable: items already judged are kept,
    /// unless `again`. Returns the report with the judge's score.
    ///
    /// # Errors
    /// Unknown run, a run being executed, a chat model that does not load.
    pub async fn judge(
        self,
        run_id: &str,
        again: bool,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(JudgeProgress<'_>) + Send),
    ) -> Result<RunReport, DeskError> {
        let run = self.runs().open(run_id)?;
        let manifest = run.manifest()?;
        let judge = DeskJudge { model: self.desk.models().chat().await?, seed: manifest.config.seed };
        judge_run(&run, &judge, again, cancel, progress).await?;
        // A run started with the judge and stopped while grading is finished by this pass.
        if manifest.config.judge
            && manifest.status != RunStatus::Finished
            && u32::try_from(run.records()?.len()).unwrap_or(u32::MAX) >= manifest.items
        {
            finish_judged(&run, !cancel.is_cancelled())?;
        }
        Ok(RunReport::of(&run)?)
    }

    /// Delete a run.
    ///
    /// # Errors
    /// Unknown run, a run being executed.
    pub fn delete(self, run_id: &str) -> Result<RunManifest, DeskError> {
        Ok(self.runs().delete(run_id)?)
    }
}

fn search_mode_name(mode: SearchMode) -> &'static str {
    match mode {
        SearchMode::Hybrid => "hybrid",
        SearchMode::Vector => "vector",
        SearchMode::Text => "text",
    }
}

/// Whether an error concerns one item only (the run goes on) rather than the run.
fn item_level(e: &DeskError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::InvalidInput
            | ErrorKind::InvalidRequest
            | ErrorKind::TooLarge
            | ErrorKind::InvalidData
            | ErrorKind::Inference
    )
}

fn failure(e: &DeskError, started: Instant) -> Outcome {
    Outcome {
        error: Some(ItemFailure { code: e.code().to_owned(), message: e.to_string() }),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        ..Outcome::default()
    }
}

/// Whether `quote` is on a page's stored text (the citation check run again on the text read
/// back from the store) where the citation says it is (the recorded span overlaps the match).
fn quote_on_page(page_text: &str, quote: &str, start: Option<u32>, end: Option<u32>) -> bool {
    FoldedPage::new(page_text).find(quote).is_some_and(|m| {
        let (start, end) = (start.unwrap_or(0), end.unwrap_or(u32::MAX));
        m.verified() && m.start < end && start < m.end
    })
}

/// The desk as the subject of a run.
struct DeskSubject<'d> {
    desk: &'d Desk,
    matter: Option<Matter>,
    store: Option<LanceStore>,
    base: AskParams,
}

impl DeskSubject<'_> {
    /// Each citation as recorded, verified ones looked up again on their stored page.
    async fn citations(&self, answer: &Answer) -> Result<Vec<CitedPassage>, DeskError> {
        let mut out = Vec::new();
        for c in &answer.citations {
            let on_page = match (&self.store, c.verified) {
                (Some(store), true) => {
                    let passage = answer.searched.passages.iter().find(|p| p.id.as_deref() == Some(c.id.as_str()));
                    match passage {
                        None => Some(false),
                        Some(p) => {
                            let numbers: Vec<u32> = c.page.into_iter().collect();
                            let pages = store.pages(&p.doc_id, &numbers).await?;
                            Some(pages.iter().any(|page| quote_on_page(&page.text, &c.quote, c.start, c.end)))
                        }
                    }
                }
                (None, true) => Some(false),
                (_, false) => None,
            };
            out.push(CitedPassage {
                doc: c.doc.clone(),
                source: c.source.clone(),
                page: c.page,
                heading: c.heading.clone(),
                quote: c.quote.clone(),
                verified: c.verified,
                attributed: c.attributed,
                on_page,
            });
        }
        Ok(out)
    }

    async fn grounded(
        &self,
        matter: &Matter,
        item: &GoldItem,
        cancel: &CancelToken,
    ) -> Result<Option<Outcome>, DeskError> {
        let started = Instant::now();
        let params = AskParams { question: item.question.clone(), ..self.base.clone() };
        let turn = match self.desk.answers(&matter.id).answer(&params, cancel, &mut |_| {}).await {
            Ok(t) => t,
            Err(e) if item_level(&e) => return Ok(Some(failure(&e, started))),
            Err(e) => return Err(e),
        };
        if turn.answer.stopped || cancel.is_cancelled() {
            return Ok(None);
        }
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let a = &turn.answer;
        Ok(Some(Outcome {
            answer: a.answer.clone(),
            abstained: a.abstained,
            abstention: a.abstention.as_ref().map(|x| x.code.code().to_owned()),
            citations: self.citations(a).await?,
            error: None,
            latency_ms,
            first_token_ms: a.timings.first_token_ms,
            completion_tokens: a.usage.as_ref().map(|u| u.completion_tokens),
            tokens_per_second: a.usage.as_ref().map(|u| u.tokens_per_second),
        }))
    }

    async fn instruction(&self, item: &GoldItem, cancel: &CancelToken) -> Result<Option<Outcome>, DeskError> {
        let started = Instant::now();
        let model = self.desk.models().chat().await?;
        let mut request = GenerateRequest::chat(vec![ChatMessage::new(Role::User, item.question.clone())]);
        request.max_tokens = self.base.max_tokens.unwrap_or(self.desk.config().generation.max_tokens).clamp(16, 8192);
        request.sampling.seed = self.base.seed;
        let completion = match complete(&model, request, cancel).await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(e) if item_level(&e) => return Ok(Some(failure(&e, started))),
            Err(e) => return Err(e),
        };
        Ok(Some(Outcome {
            answer: completion.text,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            first_token_ms: Some(completion.usage.time_to_first_token_ms),
            completion_tokens: Some(completion.usage.completion_tokens),
            tokens_per_second: Some(completion.usage.tokens_per_second),
            ..Outcome::default()
        }))
    }
}

/// Generate to the end on `model`; `Ok(None)` when `cancel` stopped it.
async fn complete(
    model: &ChatEngine,
    request: GenerateRequest,
    cancel: &CancelToken,
) -> Result<Option<lexdesk_core::generate::Completion>, DeskError> {
    let stream = model.generate(request)?;
    let token = stream.cancel_token();
    let watch = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            while !cancel.is_cancelled() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            token.cancel();
        })
    };
    let completion = stream.collect_with(|_| {}).await;
    watch.abort();
    let completion = completion?;
    if cancel.is_cancelled() || completion.finish_reason == lexdesk_core::generate::FinishReason::Cancelled {
        return Ok(None);
    }
    Ok(Some(completion))
}

/// The configured chat model as the LLM judge: greedy, short replies.
struct DeskJudge {
    model: ChatEngine,
    seed: Option<u32>,
}

impl Judge for DeskJudge {
    type Error = DeskError;

    fn model(&self) -> String {
        self.model.name()
    }

    async fn reply(&self, system: &str, user: &str, cancel: &CancelToken) -> Result<Option<String>, DeskError> {
        let mut request = GenerateRequest::chat(vec![
            ChatMessage::new(Role::System, system.to_owned()),
            ChatMessage::new(Role::User, user.to_owned()),
        ]);
        request.max_tokens = 96;
        request.sampling.temperature = 0.0;
        request.sampling.seed = self.seed;
        match complete(&self.model, request, cancel).await {
            Ok(c) => Ok(c.map(|c| c.text)),
            // A question too long for the judge's context (or another problem of this one item)
            // is recorded as a reply without a score, not guessed and not fatal.
            Err(e) if item_level(&e) => Ok(Some(format!("(the judge could not grade this answer: {}: {e})", e.code()))),
            Err(e) => Err(e),
        }
    }
}

impl Subject for DeskSubject<'_> {
    type Error = DeskError;

    async fn answer(&self, item: &GoldItem, cancel: &CancelToken) -> Result<Option<Outcome>, DeskError> {
        match &self.matter {
            Some(m) => self.grounded(m, item, cancel).await,
            None => self.instruction(item, cancel).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_counts_as_on_the_page_only_where_the_citation_says() {
        let page = "第一条 本合同为固定期限劳动合同，期限自2026年3月1日起至2029年2月28日止，其中试用期为三个月。\n第二条 乙方同意在甲方研发部门担任嵌入式软件工程师。";
        let quote = "其中试用期为三个月";
        let at = page.chars().collect::<String>().find(quote).map(|b| page[..b].chars().count()).unwrap();
        let (s, e) = (u32::try_from(at).unwrap(), u32::try_from(at + quote.chars().count()).unwrap());
        assert!(quote_on_page(page, quote, Some(s), Some(e)));
        assert!(quote_on_page(page, "其中 试用期为“三个月”", Some(s), Some(e)), "folded as the check folds");
        assert!(!quote_on_page(page, "其中试用期为六个月", Some(s), Some(e)), "not on the page");
        assert!(
            !quote_on_page(page, quote, Some(e + 5), Some(e + 20)),
            "on the page, but not where the citation points"
        );
        assert!(!quote_on_page(page, "三个月", None, None), "too short to verify");
    }
}
