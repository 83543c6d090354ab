//! Evaluation of answers on a firm's own gold sets (issue #22).
//!
//! - [`gold`]: gold sets in JSONL, CSV or XLSX, validated row by row;
//! - [`score`]: what a configuration produced for an item ([`score::Outcome`]) and its scores;
//! - [`stats`]: bootstrap intervals, paired bootstrap, McNemar;
//! - [`run`]: runs stored as folders (`run.json`, the frozen set, `items.jsonl` appended item by
//!   item), executed against a [`run::Subject`] with bounded concurrency, resumable;
//! - [`report`]: aggregates per metric and tag, comparisons of runs on the same set;
//! - [`judge`]: the optional LLM-as-judge score (weaker evidence), a resumable second pass;
//! - [`export`]: CSV, JSON, XLSX and a self-contained HTML report with [`charts`].
//!
//! This crate knows nothing of models or stores: the desk implements [`run::Subject`] over
//! its answers, and re-reads every verified quote's page for the honesty check.

pub mod charts;
pub mod export;
pub mod gold;
pub mod judge;
pub mod report;
pub mod run;
pub mod score;
pub mod stats;

use std::path::Path;

/// Evaluation failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The gold set has problems (each with its row and column).
    #[error("the gold set {set:?} has {} problem(s):\n{}", problems.len(), summary(problems))]
    InvalidSet {
        /// The set's name.
        set: String,
        /// Every problem found.
        problems: Vec<gold::Problem>,
    },
    /// A file extension that is not a gold set format.
    #[error("{path}: gold sets are .jsonl, .csv or .xlsx files")]
    UnsupportedFormat {
        /// The file.
        path: String,
    },
    /// No gold set of that name.
    #[error("no gold set named {0:?} (see `lexdesk eval sets`)")]
    SetNotFound(String),
    /// A set of that name exists already.
    #[error("a gold set named {0:?} exists already (remove it first, or import under another name)")]
    SetExists(String),
    /// A set name that cannot be a file name.
    #[error("{0:?} is not a usable set name (letters, digits, `-`, `_`, `.`; at most 100 characters)")]
    InvalidName(String),
    /// No run with that id (or prefix).
    #[error("no evaluation run {0:?} (see `lexdesk eval list`)")]
    RunNotFound(String),
    /// A prefix matching several runs.
    #[error("{prefix:?} matches {count} runs; give more of the id")]
    AmbiguousRun {
        /// The prefix given.
        prefix: String,
        /// How many runs it matches.
        count: usize,
    },
    /// Runs that cannot be compared.
    #[error("cannot compare: {0}")]
    NotComparable(String),
    /// A run is being executed by another process.
    #[error("the run {0} is being executed by another process")]
    RunBusy(String),
    /// A run that has already finished.
    #[error("the run {0} has finished; start a new one")]
    RunFinished(String),
    /// A stored run that cannot be read.
    #[error("the run at {path} is damaged: {message}")]
    CorruptRun {
        /// Its folder.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Writing an export failed.
    #[error("could not write the {format} export: {message}")]
    Export {
        /// csv, json, xlsx or html.
        format: &'static str,
        /// Why.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

lexdesk_core::error_codes!(EvalError {
    Self::InvalidSet { .. } => "EVAL_INVALID_SET", InvalidData;
    Self::UnsupportedFormat { .. } => "EVAL_UNSUPPORTED_FORMAT", InvalidInput;
    Self::SetNotFound(_) => "EVAL_SET_NOT_FOUND", NotFound;
    Self::SetExists(_) => "EVAL_SET_EXISTS", Conflict;
    Self::InvalidName(_) => "EVAL_INVALID_NAME", InvalidInput;
    Self::RunNotFound(_) => "EVAL_RUN_NOT_FOUND", NotFound;
    Self::AmbiguousRun { .. } => "EVAL_AMBIGUOUS_RUN", InvalidInput;
    Self::NotComparable(_) => "EVAL_NOT_COMPARABLE", InvalidInput;
    Self::RunBusy(_) => "EVAL_RUN_BUSY", Conflict;
    Self::RunFinished(_) => "EVAL_RUN_FINISHED", Conflict;
    Self::CorruptRun { .. } => "EVAL_CORRUPT_RUN", InvalidData;
    Self::Export { .. } => "EVAL_EXPORT_FAILED", Io;
    Self::Io { .. } => "EVAL_IO", Io;
});

impl EvalError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

fn summary(problems: &[gold::Problem]) -> String {
    const SHOWN: usize = 50;
    let mut s: Vec<String> = problems.iter().take(SHOWN).map(|p| format!("  {p}")).collect();
    if problems.len() > SHOWN {
        s.push(format!("  … and {} more", problems.len() - SHOWN));
    }
    s.join("\n")
}
