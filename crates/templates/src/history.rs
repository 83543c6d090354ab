//! The history of comparisons: one JSON file per comparison, `<uuid v7>.json`, in a folder the
//! caller chooses (the app uses `LEXDESK_HOME/comparisons`). Writes are atomic.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compare::Comparison;
use crate::error::TemplateError;
use crate::library::InvalidFile;

/// A saved comparison, in brief.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparisonSummary {
    /// Id.
    pub id: String,
    /// When it ran, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Title.
    pub title: String,
    /// The model, when recorded.
    pub model: Option<String>,
    /// The runs' labels, in order.
    pub labels: Vec<String>,
    /// How many runs failed.
    pub failed: usize,
}

impl From<&Comparison> for ComparisonSummary {
    fn from(c: &Comparison) -> Self {
        Self {
            id: c.id.clone(),
            created_ms: c.created_ms,
            title: c.title.clone(),
            model: c.model.clone(),
            labels: c.runs.iter().map(|r| r.label.clone()).collect(),
            failed: c.runs.iter().filter(|r| r.error.is_some()).count(),
        }
    }
}

/// The saved comparisons.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryListing {
    /// Newest first.
    pub comparisons: Vec<ComparisonSummary>,
    /// Files that could not be read.
    pub invalid: Vec<InvalidFile>,
}

/// The folder of saved comparisons.
#[derive(Debug, Clone)]
pub struct ComparisonHistory {
    dir: PathBuf,
}

impl ComparisonHistory {
    /// Comparisons saved in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> Result<PathBuf, TemplateError> {
        // Only real UUIDs name files: no path can be smuggled in.
        let id = uuid::Uuid::parse_str(id).map_err(|_| TemplateError::ComparisonNotFound { id: id.to_owned() })?;
        Ok(self.dir.join(format!("{}.json", id.hyphenated())))
    }

    /// Save (or overwrite) a comparison; returns its file.
    ///
    /// # Errors
    /// [`TemplateError::Io`], [`TemplateError::ComparisonNotFound`] for an id that is not a UUID.
    pub fn save(&self, comparison: &Comparison) -> Result<PathBuf, TemplateError> {
        let path = self.path(&comparison.id)?;
        let json = comparison.to_json()?;
        std::fs::create_dir_all(&self.dir).map_err(TemplateError::io(&self.dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(".json")
            .tempfile_in(&self.dir)
            .map_err(TemplateError::io(&self.dir))?;
        tmp.write_all(json.as_bytes()).map_err(TemplateError::io(&path))?;
        tmp.as_file().sync_all().map_err(TemplateError::io(&path))?;
        tmp.persist(&path).map_err(|e| TemplateError::Io { path: path.clone(), source: e.error })?;
        Ok(path)
    }

    /// Load a saved comparison.
    ///
    /// # Errors
    /// [`TemplateError::ComparisonNotFound`], [`TemplateError::CorruptComparison`],
    /// [`TemplateError::Io`].
    pub fn load(&self, id: &str) -> Result<Comparison, TemplateError> {
        let path = self.path(id)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(TemplateError::ComparisonNotFound { id: id.to_owned() })
            }
            Err(e) => Err(TemplateError::Io { path, source: e }),
        }
    }

    /// Delete a saved comparison.
    ///
    /// # Errors
    /// [`TemplateError::ComparisonNotFound`], [`TemplateError::Io`].
    pub fn delete(&self, id: &str) -> Result<(), TemplateError> {
        let path = self.path(id)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(TemplateError::ComparisonNotFound { id: id.to_owned() })
            }
            Err(e) => Err(TemplateError::Io { path, source: e }),
        }
    }

    /// The saved comparisons, newest first, and the files that could not be read.
    ///
    /// # Errors
    /// [`TemplateError::Io`] when the folder exists but cannot be read.
    pub fn list(&self) -> Result<HistoryListing, TemplateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HistoryListing::default()),
            Err(e) => return Err(TemplateError::Io { path: self.dir.clone(), source: e }),
        };
        let mut listing = HistoryListing::default();
        for entry in entries {
            let path = entry.map_err(TemplateError::io(&self.dir))?.path();
            let is_saved = path.extension().is_some_and(|e| e == "json")
                && path.file_stem().and_then(|s| s.to_str()).is_some_and(|s| uuid::Uuid::parse_str(s).is_ok());
            if !is_saved {
                continue;
            }
            let loaded =
                std::fs::read_to_string(&path).map_err(TemplateError::io(&path)).and_then(|t| parse(&path, &t));
            match loaded {
                Ok(c) => listing.comparisons.push(ComparisonSummary::from(&c)),
                Err(e) => listing.invalid.push(InvalidFile::new(path, &e)),
            }
        }
        listing.comparisons.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| b.id.cmp(&a.id)));
        listing.invalid.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listing)
    }
}

fn parse(path: &Path, text: &str) -> Result<Comparison, TemplateError> {
    serde_json::from_str(text)
        .map_err(|e| TemplateError::CorruptComparison { path: path.to_owned(), message: e.to_string() })
}
