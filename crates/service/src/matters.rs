//! Matters: named, isolated collections, each a folder under `LEXDESK_HOME/matters/` holding
//! `matter.toml` and its own store. The folder is named by a UUID (v7) so that renaming a matter
//! never moves its data; names are unique, compared case-insensitively.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const MANIFEST: &str = "matter.toml";
const MAX_NAME_CHARS: usize = 120;

/// A matter.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matter {
    /// Stable id (the folder name).
    pub id: String,
    /// Display name, unique within the home.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// The embedding model its passages were embedded with (`None`: a matter without documents
    /// yet, or one built before LexDesk recorded it).
    pub embedder: Option<EmbedderRecord>,
    /// The matter's folder.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The embedding model a matter was built with: searching it needs the same model.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderRecord {
    /// The model as configured: a GGUF file name or path, or a remote endpoint's model name.
    pub model: String,
    /// The resolved file, for a local model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The endpoint, for a remote model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Vector size.
    pub dimensions: u32,
}

impl EmbedderRecord {
    /// Whether both name the same model: the same endpoint and model name, or local files of the
    /// same name (a file moved to another models folder is the same model).
    #[must_use]
    pub fn same_model(&self, other: &Self) -> bool {
        let file = |r: &Self| {
            let p = r.path.as_deref().unwrap_or(&r.model);
            Path::new(p).file_name().map(|f| f.to_string_lossy().into_owned())
        };
        self.dimensions == other.dimensions
            && match (&self.endpoint, &other.endpoint) {
                (Some(a), Some(b)) => a == b && self.model == other.model,
                (None, None) => file(self) == file(other),
                _ => false,
            }
    }

    /// For people: the file name, or `model @ endpoint`.
    #[must_use]
    pub fn display_name(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{} @ {e}", self.model),
            None => Path::new(self.path.as_deref().unwrap_or(&self.model))
                .file_name()
                .map_or_else(|| self.model.clone(), |f| f.to_string_lossy().into_owned()),
        }
    }
}

impl Matter {
    /// Where its LanceDB store lives.
    #[must_use]
    pub fn store_dir(&self) -> PathBuf {
        self.dir.join("store")
    }

    /// Where a re-embedding builds the matter's next store.
    #[must_use]
    pub fn reembed_dir(&self) -> PathBuf {
        self.dir.join("store.reembed")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    name: String,
    created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    embedder: Option<EmbedderRecord>,
}

/// Written when a re-embedding's new store is complete, before the stores are swapped: a crash
/// during the swap is finished by the next look at the matters.
const SWAP_FILE: &str = "reembed.done";

/// Failures managing matters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatterError {
    /// No matter has that name or id.
    #[error("no matter named `{0}`")]
    NotFound(String),
    /// The name is taken.
    #[error("a matter named `{0}` already exists")]
    Exists(String),
    /// The name is empty, too long or contains control characters.
    #[error("invalid matter name: {0}")]
    InvalidName(String),
    /// The matter is being written by another process.
    #[error("matter `{0}` is in use by another LexDesk process")]
    Busy(String),
    /// File system failure.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `matter.toml` is damaged.
    #[error("damaged matter manifest {path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

lexdesk_core::error_codes!(MatterError {
    Self::NotFound(_) => "MATTER_NOT_FOUND", NotFound;
    Self::Exists(_) => "MATTER_EXISTS", Conflict;
    Self::InvalidName(_) => "INVALID_MATTER_NAME", InvalidInput;
    Self::Busy(_) => "MATTER_LOCKED", Conflict;
    Self::Io { .. } => "IO", Io;
    Self::Corrupt { .. } => "MATTER_CORRUPT", InvalidData;
});

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MatterError + '_ {
    move |source| MatterError::Io { path: path.to_path_buf(), source }
}

pub use lexdesk_core::now_ms;

fn validate_name(name: &str) -> Result<String, MatterError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(MatterError::InvalidName("the name is empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(MatterError::InvalidName(format!("longer than {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(MatterError::InvalidName("contains control characters".into()));
    }
    Ok(name.to_string())
}

fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// The matters of one home.
#[derive(Debug, Clone)]
pub struct Matters {
    root: PathBuf,
}

impl Matters {
    /// Matters under `root` (normally `Home::matters_dir()`).
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// All matters, by name.
    ///
    /// # Errors
    /// The folder cannot be read, or a manifest is damaged.
    pub fn list(&self) -> Result<Vec<Matter>, MatterError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.root)(e)),
        };
        let mut matters = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&self.root))?;
            let dir = entry.path();
            let manifest = dir.join(MANIFEST);
            // A folder without a manifest is a matter whose creation or deletion was interrupted.
            let text = match std::fs::read_to_string(&manifest) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&manifest)(e)),
            };
            let mut m: Manifest = toml::from_str(&text)
                .map_err(|e| MatterError::Corrupt { path: manifest.clone(), message: e.to_string() })?;
            if let Some(record) = self.finish_swap(&dir, &m)? {
                m.embedder = Some(record);
            }
            matters.push(Matter {
                id: entry.file_name().to_string_lossy().into_owned(),
                name: m.name,
                created_at_ms: m.created_at_ms,
                embedder: m.embedder,
                dir,
            });
        }
        matters.sort_by_key(|a| a.name.to_lowercase());
        Ok(matters)
    }

    /// Find a matter by name (case-insensitive) or id.
    ///
    /// # Errors
    /// [`MatterError::NotFound`].
    pub fn find(&self, name_or_id: &str) -> Result<Matter, MatterError> {
        let wanted = name_or_id.trim();
        let all = self.list()?;
        all.iter()
            .find(|m| same_name(&m.name, wanted))
            .or_else(|| all.iter().find(|m| m.id == wanted))
            .cloned()
            .ok_or_else(|| MatterError::NotFound(wanted.to_string()))
    }

    /// Create a matter.
    ///
    /// # Errors
    /// Invalid or taken name; file system failure.
    pub fn create(&self, name: &str) -> Result<Matter, MatterError> {
        let name = validate_name(name)?;
        if self.list()?.iter().any(|m| same_name(&m.name, &name)) {
            return Err(MatterError::Exists(name));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let dir = self.root.join(&id);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let created_at_ms = now_ms();
        self.write_manifest(&dir, &Manifest { name: name.clone(), created_at_ms, embedder: None })?;
        Ok(Matter { id, name, created_at_ms, embedder: None, dir })
    }

    fn write_manifest(&self, dir: &Path, manifest: &Manifest) -> Result<(), MatterError> {
        let path = dir.join(MANIFEST);
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let text = toml::to_string(manifest)
            .map_err(|e| MatterError::Corrupt { path: path.clone(), message: e.to_string() })?;
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        // Atomic replace: a crash leaves the old or the new name, never a torn file.
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// Rename a matter.
    ///
    /// # Errors
    /// Not found, invalid or taken name.
    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<Matter, MatterError> {
        let matter = self.find(name_or_id)?;
        let new_name = validate_name(new_name)?;
        if self.list()?.iter().any(|m| m.id != matter.id && same_name(&m.name, &new_name)) {
            return Err(MatterError::Exists(new_name));
        }
        let manifest =
            Manifest { name: new_name.clone(), created_at_ms: matter.created_at_ms, embedder: matter.embedder.clone() };
        self.write_manifest(&matter.dir, &manifest)?;
        Ok(Matter { name: new_name, ..matter })
    }

    /// Record the embedding model a matter's passages are embedded with.
    ///
    /// # Errors
    /// Not found; file system failure.
    pub fn set_embedder(&self, name_or_id: &str, embedder: EmbedderRecord) -> Result<Matter, MatterError> {
        let matter = self.find(name_or_id)?;
        let manifest = Manifest {
            name: matter.name.clone(),
            created_at_ms: matter.created_at_ms,
            embedder: Some(embedder.clone()),
        };
        self.write_manifest(&matter.dir, &manifest)?;
        Ok(Matter { embedder: Some(embedder), ..matter })
    }

    /// Put a completed re-embedding in place: the new store (in [`Matter::reembed_dir`]) becomes
    /// the matter's store and `embedder` its model; the old store is deleted. Each step can be
    /// interrupted: the next [`Self::list`] finishes it.
    ///
    /// # Errors
    /// File system failure.
    pub fn swap_reembedded(&self, matter: &Matter, embedder: &EmbedderRecord) -> Result<Matter, MatterError> {
        let done = matter.dir.join(SWAP_FILE);
        let text = serde_json::to_string(embedder)
            .map_err(|e| MatterError::Corrupt { path: done.clone(), message: e.to_string() })?;
        let tmp = matter.dir.join(format!("{SWAP_FILE}.tmp"));
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &done).map_err(io(&done))?;
        let manifest = Manifest { name: matter.name.clone(), created_at_ms: matter.created_at_ms, embedder: None };
        let record = self.finish_swap(&matter.dir, &manifest)?.unwrap_or_else(|| embedder.clone());
        Ok(Matter { embedder: Some(record), ..matter.clone() })
    }

    /// Finish an interrupted swap (see [`Self::swap_reembedded`]); the new embedder when there
    /// was one to finish.
    fn finish_swap(&self, dir: &Path, manifest: &Manifest) -> Result<Option<EmbedderRecord>, MatterError> {
        let done = dir.join(SWAP_FILE);
        let text = match std::fs::read_to_string(&done) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&done)(e)),
        };
        let record: EmbedderRecord = serde_json::from_str(&text)
            .map_err(|e| MatterError::Corrupt { path: done.clone(), message: e.to_string() })?;
        let (store, next, old) = (dir.join("store"), dir.join("store.reembed"), dir.join("store.old"));
        if next.exists() {
            if store.exists() {
                std::fs::rename(&store, &old).map_err(io(&store))?;
            }
            std::fs::rename(&next, &store).map_err(io(&next))?;
        }
        let updated = Manifest {
            name: manifest.name.clone(),
            created_at_ms: manifest.created_at_ms,
            embedder: Some(record.clone()),
        };
        self.write_manifest(dir, &updated)?;
        std::fs::remove_file(&done).map_err(io(&done))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        Ok(Some(record))
    }

    /// Delete a matter with all its documents. Refused while another process writes to it.
    ///
    /// # Errors
    /// Not found, busy, file system failure.
    pub fn delete(&self, name_or_id: &str) -> Result<Matter, MatterError> {
        let matter = self.find(name_or_id)?;
        let lock_path = matter.store_dir().join("writer.lock");
        let _guard = match std::fs::File::options().write(true).open(&lock_path) {
            Ok(f) => match f.try_lock() {
                Ok(()) => Some(f),
                Err(std::fs::TryLockError::WouldBlock) => return Err(MatterError::Busy(matter.name)),
                Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
            },
            Err(_) => None,
        };
        // The manifest goes first: an interrupted delete leaves a folder `list` ignores.
        let manifest = matter.dir.join(MANIFEST);
        std::fs::remove_file(&manifest).map_err(io(&manifest))?;
        std::fs::remove_dir_all(&matter.dir).map_err(io(&matter.dir))?;
        Ok(matter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_list_find_rename_delete() {
        let home = tempfile::tempdir().unwrap();
        let matters = Matters::new(home.path().join("matters"));
        assert!(matters.list().unwrap().is_empty());
        let a = matters.create("  Acme v. Roe ").unwrap();
        assert_eq!(a.name, "Acme v. Roe");
        let b = matters.create("劳动争议").unwrap();
        assert_ne!(a.id, b.id);
        assert!(matches!(matters.create("ACME V. ROE"), Err(MatterError::Exists(_))));
        assert!(matches!(matters.create(" "), Err(MatterError::InvalidName(_))));
        assert!(matches!(matters.create("a\u{7}b"), Err(MatterError::InvalidName(_))));
        let names: Vec<String> = matters.list().unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["Acme v. Roe", "劳动争议"]);
        assert_eq!(matters.find("acme v. roe").unwrap().id, a.id);
        assert_eq!(matters.find(&b.id).unwrap().name, "劳动争议");

        assert!(matches!(matters.rename("劳动争议", "acme v. roe"), Err(MatterError::Exists(_))));
        let renamed = matters.rename("劳动争议", "劳动争议 2026").unwrap();
        assert_eq!(renamed.dir, b.dir, "renaming never moves data");
        assert_eq!(matters.find("劳动争议 2026").unwrap().id, b.id);
        assert!(matches!(matters.find("劳动争议"), Err(MatterError::NotFound(_))));

        std::fs::create_dir_all(a.store_dir()).unwrap();
        std::fs::write(a.store_dir().join("data"), b"x").unwrap();
        matters.delete("Acme v. Roe").unwrap();
        assert!(!a.dir.exists());
        assert_eq!(matters.list().unwrap().len(), 1);
        assert!(matches!(matters.delete("Acme v. Roe"), Err(MatterError::NotFound(_))));
    }

    #[test]
    fn delete_is_refused_while_a_writer_holds_the_lock() {
        let home = tempfile::tempdir().unwrap();
        let matters = Matters::new(home.path().to_path_buf());
        let m = matters.create("busy").unwrap();
        std::fs::create_dir_all(m.store_dir()).unwrap();
        let lock = std::fs::File::create(m.store_dir().join("writer.lock")).unwrap();
        lock.try_lock().unwrap();
        assert!(matches!(matters.delete("busy"), Err(MatterError::Busy(_))));
        drop(lock);
        matters.delete("busy").unwrap();
    }

    fn record(model: &str) -> EmbedderRecord {
        EmbedderRecord { model: model.into(), path: None, endpoint: None, dimensions: 384 }
    }

    #[test]
    fn a_reembedded_store_is_swapped_in_and_an_interrupted_swap_is_finished_by_the_next_listing() {
        let home = tempfile::tempdir().unwrap();
        let matters = Matters::new(home.path().to_path_buf());
        let m = matters.set_embedder(&matters.create("a").unwrap().id, record("old.gguf")).unwrap();
        let put = |dir: &Path, what: &str| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("data"), what).unwrap();
        };
        put(&m.store_dir(), "old");
        put(&m.reembed_dir(), "new");
        let swapped = matters.swap_reembedded(&m, &record("new.gguf")).unwrap();
        assert_eq!(swapped.embedder, Some(record("new.gguf")));
        assert_eq!(std::fs::read_to_string(m.store_dir().join("data")).unwrap(), "new");
        assert!(!m.reembed_dir().exists() && !m.dir.join("store.old").exists() && !m.dir.join(SWAP_FILE).exists());
        assert_eq!(matters.find("a").unwrap().embedder, Some(record("new.gguf")));

        // A crash after the old store moved aside and before the new one moved in.
        put(&m.reembed_dir(), "newer");
        std::fs::rename(m.store_dir(), m.dir.join("store.old")).unwrap();
        std::fs::write(m.dir.join(SWAP_FILE), serde_json::to_string(&record("newer.gguf")).unwrap()).unwrap();
        let listed = matters.list().unwrap();
        assert_eq!(listed[0].embedder, Some(record("newer.gguf")));
        assert_eq!(std::fs::read_to_string(m.store_dir().join("data")).unwrap(), "newer");
        assert!(!m.dir.join("store.old").exists() && !m.dir.join(SWAP_FILE).exists());
        // Renaming keeps the record.
        assert_eq!(matters.rename("a", "b").unwrap().embedder, Some(record("newer.gguf")));
        assert_eq!(matters.find("b").unwrap().embedder, Some(record("newer.gguf")));
    }

    #[test]
    fn models_are_the_same_by_file_name_or_endpoint_and_name() {
        let local = |p: &str| EmbedderRecord { path: Some(p.into()), ..record("e5.gguf") };
        assert!(local("/a/e5.gguf").same_model(&local("/b/e5.gguf")));
        assert!(!local("/a/e5.gguf").same_model(&local("/a/minilm.gguf")));
        let remote = |url: &str| EmbedderRecord { endpoint: Some(url.into()), ..record("bge-m3") };
        assert!(remote("http://a/v1").same_model(&remote("http://a/v1")));
        assert!(!remote("http://a/v1").same_model(&remote("http://b/v1")));
        assert!(!remote("http://a/v1").same_model(&record("bge-m3")));
        assert_eq!(remote("http://a/v1").display_name(), "bge-m3 @ http://a/v1");
        assert_eq!(local("/a/e5.gguf").display_name(), "e5.gguf");
    }

    #[test]
    fn a_folder_without_manifest_is_ignored() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("half-deleted/store")).unwrap();
        let matters = Matters::new(home.path().to_path_buf());
        assert!(matters.list().unwrap().is_empty());
    }
}
