//! Models on this machine: files in the models folders (downloaded or copied there) and GGUFs
//! imported in place (`$LEXDESK_HOME/models/imported.toml`: paths into other apps' folders,
//! used where they are and never deleted by LexDesk).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::discover::{Source, is_gguf};
use crate::error::{ModelsError, io};

/// How a local model got here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum Origin {
    /// A file in one of the models folders.
    Folder {
        /// The folder.
        dir: PathBuf,
    },
    /// Imported in place.
    Imported {
        /// The app it came from, if discovered.
        source: Option<Source>,
    },
}

/// One usable model file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// The name to use it by (`lexdesk models use NAME`, `config.toml`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// How it got here.
    #[serde(flatten)]
    pub origin: Origin,
    /// The catalog entry it is a file of, when recognised by name.
    pub catalog_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Registry {
    #[serde(default, rename = "model")]
    models: Vec<ImportedEntry>,
}

/// An imported model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedEntry {
    /// Its name in LexDesk.
    pub name: String,
    /// The file, absolute.
    pub path: PathBuf,
    /// Where it was discovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

fn registry_path(models_dir: &Path) -> PathBuf {
    models_dir.join("imported.toml")
}

fn read_registry(models_dir: &Path) -> Result<Registry, ModelsError> {
    let path = registry_path(models_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ModelsError::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
        Err(e) => Err(io(path)(e)),
    }
}

fn write_registry(models_dir: &Path, reg: &Registry) -> Result<(), ModelsError> {
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    let path = registry_path(models_dir);
    let tmp = path.with_extension("toml.tmp");
    let text = toml::to_string_pretty(reg).expect("registry serialises");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(path))
}

/// Every model usable here: GGUF files in `search` folders (the home's `models/` first), then
/// the imported ones. Partial downloads are not listed.
///
/// # Errors
/// The registry of imported models is unreadable.
pub fn installed(models_dir: &Path, search: &[PathBuf], catalog: &Catalog) -> Result<Vec<Installed>, ModelsError> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in search {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
            if !name.to_ascii_lowercase().ends_with(".gguf") || !path.is_file() || !seen.insert(name.clone()) {
                continue;
            }
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let catalog_id = catalog.by_file_name(&name).map(|(m, _)| m.id.clone());
            out.push(Installed { name, path, size, origin: Origin::Folder { dir: dir.clone() }, catalog_id });
        }
    }
    for e in read_registry(models_dir)?.models {
        let size = std::fs::metadata(&e.path).map(|m| m.len()).unwrap_or(0);
        let file_name = e.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let catalog_id = catalog.by_file_name(&file_name).map(|(m, _)| m.id.clone());
        out.push(Installed {
            name: e.name,
            path: e.path,
            size,
            origin: Origin::Imported { source: e.source },
            catalog_id,
        });
    }
    Ok(out)
}

/// Register a GGUF to be used in place. The name defaults to the file name; importing the
/// same file again returns the existing entry.
///
/// # Errors
/// Not a file, not GGUF, or the name is already taken by another file.
pub fn import(
    models_dir: &Path,
    path: &Path,
    name: Option<&str>,
    source: Option<Source>,
) -> Result<ImportedEntry, ModelsError> {
    let abs = std::fs::canonicalize(path).map_err(io(path))?;
    if !abs.is_file() {
        return Err(ModelsError::Invalid(format!("{} is not a file", path.display())));
    }
    if !is_gguf(&abs) {
        return Err(ModelsError::NotGguf { path: abs });
    }
    let name = name
        .map_or_else(|| abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), str::to_owned);
    if name.trim().is_empty() || name.contains('/') || name.contains('\\') {
        return Err(ModelsError::Invalid(format!("`{name}` is not a usable model name")));
    }
    let mut reg = read_registry(models_dir)?;
    if let Some(existing) = reg.models.iter().find(|e| e.path == abs) {
        return Ok(existing.clone());
    }
    if reg.models.iter().any(|e| e.name == name) || models_dir.join(&name).exists() {
        return Err(ModelsError::Invalid(format!("a model named `{name}` already exists; choose another with --name")));
    }
    let entry = ImportedEntry { name, path: abs, source };
    reg.models.push(entry.clone());
    write_registry(models_dir, &reg)?;
    Ok(entry)
}

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "removed")]
pub enum Removed {
    /// A file in the home's models folder was deleted (with any partial download of it).
    Deleted {
        /// The file.
        path: PathBuf,
        /// Bytes freed.
        bytes: u64,
    },
    /// An imported model was unregistered; its file belongs to another app and was kept.
    Unregistered {
        /// The file, left in place.
        path: PathBuf,
    },
}

/// Remove the model called `name`: delete it if it lives in the home's models folder (never
/// elsewhere), unregister it if it was imported.
///
/// # Errors
/// No such model; I/O.
pub fn remove(models_dir: &Path, name: &str) -> Result<Removed, ModelsError> {
    let mut reg = read_registry(models_dir)?;
    if let Some(i) = reg.models.iter().position(|e| e.name == name || e.path == Path::new(name)) {
        let entry = reg.models.remove(i);
        write_registry(models_dir, &reg)?;
        return Ok(Removed::Unregistered { path: entry.path });
    }
    if Path::new(name).components().count() == 1 {
        let path = models_dir.join(name);
        if path.is_file() {
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path).map_err(io(&path))?;
            for leftover in [crate::download::part_path(&path), path.with_extension("gguf.part.json")] {
                if let Err(e) = std::fs::remove_file(&leftover)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %leftover.display(), error = %e, "cannot remove a partial download");
                }
            }
            return Ok(Removed::Deleted { path, bytes });
        }
    }
    Err(ModelsError::UnknownModel(format!(
        "no model `{name}` in {} or among the imported ones (`lexdesk models list --installed`)",
        models_dir.display()
    )))
}
