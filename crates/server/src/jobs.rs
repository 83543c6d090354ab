//! Ingestion jobs: an upload is saved under `LEXDESK_HOME/uploads/<job>/` (the documents stay
//! there: the store records where each came from, and a failed one can be retried), then
//! ingested in the background; its status is kept in memory (the last 1,000 jobs).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lexdesk_core::generate::CancelToken;
use lexdesk_desk::Desk;
use lexdesk_desk::{FileOutcome, IngestEvent, IngestParams};

use crate::metrics::Metrics;
use crate::wire::{JobFailure, JobOut};

const KEEP: usize = 1000;

#[derive(Debug)]
pub(crate) struct Jobs {
    dir: PathBuf,
    jobs: Mutex<(HashMap<String, JobOut>, VecDeque<String>)>,
}

use lexdesk_core::now_ms;

impl Jobs {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir, jobs: Mutex::new((HashMap::new(), VecDeque::new())) }
    }

    /// A new job's id and the folder its files go to (created).
    pub(crate) fn prepare(&self) -> std::io::Result<(String, PathBuf)> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let dir = self.dir.join(&id);
        std::fs::create_dir_all(&dir)?;
        Ok((id, dir))
    }

    pub(crate) fn get(&self, id: &str) -> Option<JobOut> {
        self.lock().0.get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, JobOut>, VecDeque<String>)> {
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut JobOut)) {
        if let Some(job) = self.lock().0.get_mut(id) {
            f(job);
        }
    }

    fn insert(&self, job: JobOut) {
        let mut guard = self.lock();
        let (map, order) = &mut *guard;
        order.push_back(job.id.clone());
        map.insert(job.id.clone(), job);
        while order.len() > KEEP {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// Record the job and ingest `dir` into the matter in the background.
    pub(crate) fn start(
        self: &Arc<Self>,
        desk: Arc<Desk>,
        metrics: Metrics,
        id: String,
        matter_id: String,
        dir: PathBuf,
        files: Vec<String>,
    ) -> JobOut {
        let job = JobOut {
            id: id.clone(),
            matter_id: matter_id.clone(),
            status: "queued".into(),
            files,
            files_done: 0,
            indexed: 0,
            already_indexed: 0,
            pages: 0,
            failed: Vec::new(),
            error: None,
            created_at_ms: now_ms(),
            finished_at_ms: None,
        };
        self.insert(job.clone());
        let jobs = Arc::clone(self);
        tokio::spawn(async move {
            let progress = Arc::clone(&jobs);
            let job_id = id.clone();
            let mut on_event = move |event: IngestEvent| match event {
                IngestEvent::Started { .. } => progress.update(&job_id, |j| j.status = "running".into()),
                IngestEvent::File { outcome, path, .. } => progress.update(&job_id, |j| {
                    j.files_done += 1;
                    if let FileOutcome::Failed { code, message } = outcome {
                        j.failed.push(JobFailure { file: file_name(&path), code, message });
                    }
                }),
                _ => {}
            };
            let params = IngestParams::Paths(vec![dir]);
            let result = desk.documents(&matter_id).ingest(&params, &CancelToken::new(), &mut on_event).await;
            jobs.update(&id, |j| {
                j.finished_at_ms = Some(now_ms());
                match result {
                    Ok(summary) => {
                        metrics.ingest_pages.inc_by(summary.pages);
                        metrics.ingest_documents.inc_by(summary.indexed as u64);
                        metrics.ingest_failures.inc_by(summary.failed.len() as u64);
                        j.status = "done".into();
                        j.indexed = summary.indexed;
                        j.already_indexed = summary.already_indexed;
                        j.pages = summary.pages;
                        j.failed = summary
                            .failed
                            .iter()
                            .map(|f| JobFailure {
                                file: file_name(&f.path),
                                code: f.code.clone(),
                                message: f.message.clone(),
                            })
                            .collect();
                    }
                    Err(e) => {
                        metrics.ingest_failures.inc_by(j.files.len() as u64);
                        j.status = "failed".into();
                        j.error = Some(format!("{}: {e}", lexdesk_core::ErrorCode::code(&e)));
                    }
                }
            });
        });
        job
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// A client's file name made safe as a file name in the job folder: the last path component,
/// no control characters, not empty, not a dot name.
pub(crate) fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next()?.trim();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim_start_matches('.').trim();
    if cleaned.is_empty() || cleaned.len() > 255 {
        return None;
    }
    Some(cleaned.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_cannot_escape_the_job_folder() {
        assert_eq!(safe_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(safe_file_name("C:\\cases\\合同.pdf").as_deref(), Some("合同.pdf"));
        assert_eq!(safe_file_name("..").as_deref(), None);
        assert_eq!(safe_file_name("").as_deref(), None);
        assert_eq!(safe_file_name(".hidden.pdf").as_deref(), Some("hidden.pdf"));
        assert_eq!(safe_file_name("a\u{0}b.pdf").as_deref(), Some("ab.pdf"));
    }
}
