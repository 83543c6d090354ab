//! Runs: a gold set × a configuration, stored as a folder and executed item by item.
//!
//! `runs/<uuid v7>/run.json` holds the manifest (set, configuration, status), `set.jsonl` the
//! items as they were when the run started (later edits of the set do not change a run), and
//! `items.jsonl` one [`ItemRecord`] per finished item, appended and flushed to disk as each
//! finishes. A run stopped by Cancel, a crash or `kill -9` resumes from there: finished items are
//! read back (a torn last line is dropped) and never answered or scored twice. `run.lock` holds
//! an OS lock while a process executes the run.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use lexdesk_core::generate::CancelToken;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::gold::{GoldFormat, GoldItem, GoldSet};
use crate::judge::Judgement;
use crate::score::{ItemScores, Outcome, score};

/// A run's configuration: everything that decides its answers, recorded with it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// A name for the run in reports ("hybrid", "template B").
    #[serde(default)]
    pub label: String,
    /// The matter's name (`None`: instruction-only sets, answered by the chat model alone).
    pub matter: Option<String>,
    /// The matter's id.
    pub matter_id: Option<String>,
    /// The chat model (file name or remote model).
    pub model: Option<String>,
    /// The matter's embedding model.
    pub embedder: Option<String>,
    /// A LoRA adapter on the chat model (reserved for the fine-tuning issue).
    pub adapter: Option<String>,
    /// A prompt template shaping the answers.
    pub template: Option<String>,
    /// `generate` or `extractive`.
    pub mode: String,
    /// `hybrid`, `vector` or `text`.
    pub search_mode: String,
    /// Passages retrieved.
    pub top_k: Option<u32>,
    /// Reranking forced on or off (`None`: as configured).
    pub rerank: Option<bool>,
    /// Answer length.
    pub max_tokens: Option<u32>,
    /// Sampling seed (answers are greedy unless a template samples).
    pub seed: Option<u32>,
    /// Items answered at once (the chat model's parallel sequences).
    pub concurrency: u32,
    /// Only the first N items of the set.
    pub limit: Option<u32>,
    /// Grade the answers with the chat model as an LLM judge once they are all in
    /// ([`crate::judge`]).
    #[serde(default)]
    pub judge: bool,
}

/// Where a run stands.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (running, or stopped by a crash: resumable).
    Running,
    /// Stopped by the user: resumable.
    Cancelled,
    /// Stopped by an error: resumable once it is fixed.
    Failed,
    /// Every item answered.
    Finished,
}

/// `run.json`.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// uuid v7.
    pub id: String,
    /// The gold set's name.
    pub set: String,
    /// The fingerprint of the set when the run started.
    pub set_fingerprint: String,
    /// Items in the run.
    pub items: u32,
    /// The configuration.
    pub config: RunConfig,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Finished, ms since the epoch.
    pub finished_ms: Option<i64>,
    /// Status.
    pub status: RunStatus,
    /// The error that stopped it.
    pub error: Option<String>,
}

/// One finished item, a line of `items.jsonl`.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The gold item's id.
    pub id: String,
    /// What the configuration produced.
    pub outcome: Outcome,
    /// When it finished, ms since the epoch.
    pub finished_ms: i64,
}

/// The runs folder (`LEXDESK_HOME/evals/runs`).
#[derive(Debug, Clone)]
pub struct Runs {
    dir: PathBuf,
}

/// One stored run.
#[derive(Debug, Clone)]
pub struct RunDir {
    dir: PathBuf,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| EvalError::io(&tmp, e))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| EvalError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| EvalError::io(path, e))
}

impl Runs {
    /// Runs under `dir` (created on first write).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Start a run: its folder, manifest and frozen set (the first `config.limit` items).
    ///
    /// # Errors
    /// Writing the folder.
    pub fn create(&self, set: &GoldSet, config: RunConfig) -> Result<RunDir, EvalError> {
        let id = uuid::Uuid::now_v7().to_string();
        let dir = self.dir.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| EvalError::io(&dir, e))?;
        let limit = config.limit.map_or(usize::MAX, |l| l as usize);
        let frozen = GoldSet { name: set.name.clone(), items: set.items.iter().take(limit).cloned().collect() };
        write_atomic(&dir.join("set.jsonl"), frozen.to_jsonl().as_bytes())?;
        let manifest = RunManifest {
            id,
            set: set.name.clone(),
            set_fingerprint: set.fingerprint(),
            items: u32::try_from(frozen.items.len()).unwrap_or(u32::MAX),
            config,
            created_ms: lexdesk_core::now_ms(),
            finished_ms: None,
            status: RunStatus::Running,
            error: None,
        };
        let run = RunDir { dir };
        run.save(&manifest)?;
        Ok(run)
    }

    /// Every run, newest first (damaged folders are skipped).
    ///
    /// # Errors
    /// Reading the folder.
    pub fn list(&self) -> Result<Vec<RunManifest>, EvalError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(EvalError::io(&self.dir, e)),
        };
        let mut runs: Vec<RunManifest> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("run.json").is_file())
            .filter_map(|e| RunDir { dir: e.path() }.manifest().ok())
            .collect();
        runs.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(runs)
    }

    /// A run by id or unique id prefix (at least 4 characters).
    ///
    /// # Errors
    /// [`EvalError::RunNotFound`], [`EvalError::AmbiguousRun`].
    pub fn open(&self, id: &str) -> Result<RunDir, EvalError> {
        let id = id.trim();
        let valid = id.len() >= 4 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !valid {
            return Err(EvalError::RunNotFound(id.to_owned()));
        }
        let exact = self.dir.join(id);
        if exact.join("run.json").is_file() {
            return Ok(RunDir { dir: exact });
        }
        let matches: Vec<RunManifest> = self.list()?.into_iter().filter(|m| m.id.starts_with(id)).collect();
        match matches.len() {
            0 => Err(EvalError::RunNotFound(id.to_owned())),
            1 => Ok(RunDir { dir: self.dir.join(&matches[0].id) }),
            count => Err(EvalError::AmbiguousRun { prefix: id.to_owned(), count }),
        }
    }

    /// Delete a run.
    ///
    /// # Errors
    /// Unknown run, a run being executed, or the folder.
    pub fn delete(&self, id: &str) -> Result<RunManifest, EvalError> {
        let run = self.open(id)?;
        let manifest = run.manifest()?;
        let _lock = run.lock()?;
        std::fs::remove_dir_all(&run.dir).map_err(|e| EvalError::io(&run.dir, e))?;
        Ok(manifest)
    }
}

impl RunDir {
    /// The run's folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn corrupt(&self, message: impl Into<String>) -> EvalError {
        EvalError::CorruptRun { path: self.dir.display().to_string(), message: message.into() }
    }

    /// The manifest.
    ///
    /// # Errors
    /// A missing or damaged `run.json`.
    pub fn manifest(&self) -> Result<RunManifest, EvalError> {
        let path = self.dir.join("run.json");
        let bytes = std::fs::read(&path).map_err(|e| EvalError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.corrupt(format!("run.json: {e}")))
    }

    /// Save the manifest (atomically).
    ///
    /// # Errors
    /// Writing.
    pub fn save(&self, manifest: &RunManifest) -> Result<(), EvalError> {
        let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| self.corrupt(e.to_string()))?;
        write_atomic(&self.dir.join("run.json"), &bytes)
    }

    /// The items the run answers, as they were when it started.
    ///
    /// # Errors
    /// A missing or damaged `set.jsonl`.
    pub fn set(&self) -> Result<GoldSet, EvalError> {
        let path = self.dir.join("set.jsonl");
        let bytes = std::fs::read(&path).map_err(|e| EvalError::io(&path, e))?;
        let name = self.manifest()?.set;
        crate::gold::parse(&bytes, GoldFormat::Jsonl, &name).map_err(|e| self.corrupt(format!("set.jsonl: {e}")))
    }

    /// The finished items, in the order they finished; each id once (the first record wins), a
    /// torn last line (a crash mid-write) dropped.
    ///
    /// # Errors
    /// Reading, or a damaged line before the last.
    pub fn records(&self) -> Result<Vec<ItemRecord>, EvalError> {
        self.read_lines("items.jsonl", |r: &ItemRecord| r.id.clone())
    }

    /// The judged items ([`crate::judge`]), each id once, a torn last line dropped.
    ///
    /// # Errors
    /// Reading, or a damaged line before the last.
    pub fn judgements(&self) -> Result<Vec<Judgement>, EvalError> {
        self.read_lines("judgements.jsonl", |j: &Judgement| j.id.clone())
    }

    /// The records of a JSONL file of the run, the first of each id kept; only the last line
    /// may be torn (it was being written when the process died).
    fn read_lines<T: DeserializeOwned>(&self, name: &str, id: impl Fn(&T) -> String) -> Result<Vec<T>, EvalError> {
        let path = self.dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(EvalError::io(&path, e)),
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<T>(line) {
                Ok(r) => {
                    if seen.insert(id(&r)) {
                        out.push(r);
                    }
                }
                Err(_) if i + 1 == lines.len() => {}
                Err(e) => return Err(self.corrupt(format!("{name} line {}: {e}", i + 1))),
            }
        }
        Ok(out)
    }

    /// Take the run's execution lock (an OS lock released when the process dies).
    ///
    /// # Errors
    /// [`EvalError::RunBusy`] when another process holds it.
    pub fn lock(&self) -> Result<File, EvalError> {
        let path = self.dir.join("run.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EvalError::io(&path, e))?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => Err(EvalError::RunBusy(self.id())),
            Err(std::fs::TryLockError::Error(e)) => Err(EvalError::io(&path, e)),
        }
    }

    fn id(&self) -> String {
        self.dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned()
    }

    /// Open `items.jsonl` for appending, first cutting a torn last line so the next record
    /// starts on a line of its own.
    fn appender(&self) -> Result<File, EvalError> {
        self.appender_of("items.jsonl")
    }

    /// Open a JSONL file of the run for appending, a torn last line cut first.
    pub(crate) fn appender_of(&self, name: &str) -> Result<File, EvalError> {
        let path = self.dir.join(name);
        if let Ok(text) = std::fs::read(&path)
            && !text.is_empty()
            && !text.ends_with(b"\n")
        {
            let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let f = OpenOptions::new().write(true).open(&path).map_err(|e| EvalError::io(&path, e))?;
            f.set_len(keep as u64).map_err(|e| EvalError::io(&path, e))?;
        }
        OpenOptions::new().create(true).append(true).open(&path).map_err(|e| EvalError::io(&path, e))
    }
}

fn append(file: &mut File, path: &Path, record: &ItemRecord) -> Result<(), EvalError> {
    let mut line = serde_json::to_vec(record).unwrap_or_default();
    line.push(b'\n');
    file.write_all(&line).and_then(|()| file.sync_data()).map_err(|e| EvalError::io(path, e))
}

/// What answers the items: the desk's answers over a matter, or the chat model alone.
pub trait Subject: Sync {
    /// A failure that stops the run (a model that does not load, a matter that is gone);
    /// problems of one item are reported in its [`Outcome::error`] instead.
    type Error: From<EvalError> + Send;

    /// Answer one item. `Ok(None)`: stopped by `cancel` before it finished (not recorded, so
    /// a resumed run answers it again).
    fn answer(
        &self,
        item: &GoldItem,
        cancel: &CancelToken,
    ) -> impl Future<Output = Result<Option<Outcome>, Self::Error>> + Send;
}

/// Progress of a run.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// Execution starts (or resumes: `done` items were finished before).
    Started {
        /// The run.
        manifest: &'a RunManifest,
        /// Items already finished.
        done: u32,
    },
    /// An item finished.
    Item {
        /// Items finished so far.
        done: u32,
        /// Items in the run.
        total: u32,
        /// The gold item.
        item: &'a GoldItem,
        /// What was produced.
        outcome: &'a Outcome,
        /// Its scores.
        scores: &'a ItemScores,
    },
    /// The LLM judge graded an answer (runs configured with `judge`, after the last item).
    Judged(crate::judge::JudgeProgress<'a>),
}

/// Execute (or resume) a run: the items not yet finished, `config.concurrency` at a time,
/// each recorded as it finishes. Returns the final manifest (status `Finished`, or `Cancelled`
/// when `cancel` stopped it).
///
/// # Errors
/// A run already finished or executed elsewhere, storage failures, and the subject's fatal
/// errors (the manifest then says `Failed` with the message; the run stays resumable).
pub async fn execute<S: Subject>(
    run: &RunDir,
    subject: &S,
    cancel: &CancelToken,
    progress: &mut (dyn FnMut(RunEvent<'_>) + Send),
) -> Result<RunManifest, S::Error> {
    let _lock = run.lock()?;
    let mut manifest = run.manifest()?;
    let set = run.set()?;
    let finished: HashSet<String> = run.records()?.into_iter().map(|r| r.id).collect();
    let mut done = u32::try_from(finished.len()).unwrap_or(u32::MAX);
    manifest.status = RunStatus::Running;
    manifest.error = None;
    run.save(&manifest)?;
    progress(RunEvent::Started { manifest: &manifest, done });
    let mut file = run.appender()?;
    let path = run.path().join("items.jsonl");
    let mut pending = set.items.iter().filter(|i| !finished.contains(&i.id)).collect::<Vec<_>>().into_iter();
    let concurrency = manifest.config.concurrency.max(1) as usize;
    // A named async fn per item rather than a closure over the iterator: the future stays `Send`
    // for every lifetime (the server runs it on a spawned task).
    let mut answers = futures::stream::FuturesUnordered::new();
    let mut failure = None;
    loop {
        while answers.len() < concurrency {
            match pending.next() {
                Some(item) => answers.push(answer_one(subject, item, cancel)),
                None => break,
            }
        }
        let Some((item, result)) = answers.next().await else { break };
        match result {
            Ok(Some(outcome)) => {
                let record = ItemRecord { id: item.id.clone(), outcome, finished_ms: lexdesk_core::now_ms() };
                append(&mut file, &path, &record)?;
                done += 1;
                let scores = score(item, &record.outcome);
                progress(RunEvent::Item {
                    done,
                    total: manifest.items,
                    item,
                    outcome: &record.outcome,
                    scores: &scores,
                });
            }
            Ok(None) => {}
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(answers);
    if let Some(e) = failure {
        return Err(e);
    }
    // A run with the judge stays running until the judge has graded the answers
    // ([`finish_judged`]).
    let complete = done >= manifest.items;
    if !complete || !manifest.config.judge {
        conclude(&mut manifest, complete);
    }
    run.save(&manifest)?;
    Ok(manifest)
}

/// Finished (now) when `complete`, else cancelled (resumable).
fn conclude(manifest: &mut RunManifest, complete: bool) {
    if complete {
        manifest.status = RunStatus::Finished;
        manifest.finished_ms = Some(lexdesk_core::now_ms());
    } else {
        manifest.status = RunStatus::Cancelled;
    }
}

async fn answer_one<'a, S: Subject>(
    subject: &'a S,
    item: &'a GoldItem,
    cancel: &'a CancelToken,
) -> (&'a GoldItem, Result<Option<Outcome>, S::Error>) {
    if cancel.is_cancelled() {
        return (item, Ok(None));
    }
    (item, subject.answer(item, cancel).await)
}

/// After the judge of a run configured with `judge`: finished when every answer is graded,
/// cancelled (resumable) when judging was stopped.
///
/// # Errors
/// Writing the manifest.
pub fn finish_judged(run: &RunDir, complete: bool) -> Result<RunManifest, EvalError> {
    let mut manifest = run.manifest()?;
    conclude(&mut manifest, complete);
    run.save(&manifest)?;
    Ok(manifest)
}

/// Record that a run stopped on an error (resumable).
///
/// # Errors
/// Writing the manifest.
pub fn mark_failed(run: &RunDir, message: &str) -> Result<(), EvalError> {
    let mut manifest = run.manifest()?;
    manifest.status = RunStatus::Failed;
    manifest.error = Some(message.to_owned());
    run.save(&manifest)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn set(n: usize) -> GoldSet {
        let text: String = (0..n)
            .map(|i| format!("{{\"id\":\"q{i}\",\"question\":\"question {i}\",\"keywords\":\"yes\"}}\n"))
            .collect();
        crate::gold::parse(text.as_bytes(), GoldFormat::Jsonl, "s").unwrap()
    }

    /// Answers "yes" to even items; cancels after `stop_after` answers; counts concurrency.
    struct Counting {
        calls: Mutex<Vec<String>>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        stop_after: usize,
    }

    impl Subject for Counting {
        type Error = EvalError;
        async fn answer(&self, item: &GoldItem, cancel: &CancelToken) -> Result<Option<Outcome>, EvalError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(item.id.clone());
                calls.len()
            };
            if n > self.stop_after {
                cancel.cancel();
                return Ok(None);
            }
            let even = item.id.trim_start_matches('q').parse::<u32>().unwrap() % 2 == 0;
            Ok(Some(Outcome { answer: if even { "yes".into() } else { "no".into() }, ..Outcome::default() }))
        }
    }

    #[tokio::test]
    async fn a_cancelled_run_resumes_without_answering_an_item_twice() {
        let home = tempfile::tempdir().unwrap();
        let runs = Runs::new(home.path().join("runs"));
        let config = RunConfig { concurrency: 3, ..RunConfig::default() };
        let run = runs.create(&set(10), config).unwrap();
        let first = Counting { calls: Mutex::default(), in_flight: 0.into(), max_in_flight: 0.into(), stop_after: 4 };
        let cancel = CancelToken::new();
        let manifest = execute(&run, &first, &cancel, &mut |_| {}).await.unwrap();
        assert_eq!(manifest.status, RunStatus::Cancelled);
        let recorded = run.records().unwrap();
        assert_eq!(recorded.len(), 4);
        assert_eq!(first.max_in_flight.load(Ordering::SeqCst), 3, "three items at once");
        // A torn line, as `kill -9` mid-write leaves it.
        let path = run.path().join("items.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"id\":\"q9\",\"outc").unwrap();
        assert_eq!(run.records().unwrap().len(), 4);
        let again = Counting { calls: Mutex::default(), in_flight: 0.into(), max_in_flight: 0.into(), stop_after: 100 };
        let mut events = 0;
        let manifest = execute(&run, &again, &CancelToken::new(), &mut |e| {
            if matches!(e, RunEvent::Item { .. }) {
                events += 1;
            }
        })
        .await
        .unwrap();
        assert_eq!(manifest.status, RunStatus::Finished);
        let second: Vec<String> = again.calls.lock().unwrap().clone();
        assert_eq!(second.len(), 6, "only the unfinished items: {second:?}");
        assert!(recorded.iter().all(|r| !second.contains(&r.id)));
        assert_eq!(events, 6);
        let records = run.records().unwrap();
        assert_eq!(records.len(), 10);
        let mut ids: Vec<_> = records.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10);
        // Listing, prefixes, deletion.
        let listed = runs.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(runs.open(&listed[0].id[..13]).unwrap().manifest().unwrap().id, listed[0].id);
        assert!(matches!(runs.open("zz"), Err(EvalError::RunNotFound(_))));
        let held = run.lock().unwrap();
        assert!(matches!(runs.delete(&listed[0].id), Err(EvalError::RunBusy(_))));
        drop(held);
        runs.delete(&listed[0].id).unwrap();
        assert!(runs.list().unwrap().is_empty());
    }
}
