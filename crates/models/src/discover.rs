//! GGUF files already on disk from other local-AI apps, offered for use in place (no copy).
//!
//! Layouts read (default locations, each overridable the way its app allows):
//! - **Ollama**: `$OLLAMA_MODELS` or `~/.ollama/models` (and the Linux service's
//!   `/usr/share/ollama/.ollama/models`): `manifests/<registry>/<namespace>/<model>/<tag>` JSON
//!   whose layer of media type `application/vnd.ollama.image.model` names the GGUF blob
//!   `blobs/sha256-<hex>`; the model is called `<model>:<tag>`.
//! - **LM Studio**: `~/.lmstudio/models/<publisher>/<repo>/*.gguf` (and the older
//!   `~/.cache/lm-studio/models`).
//! - **Jan**: `<data>/llamacpp/models/<id>/*.gguf` and the older `<data>/models/**/*.gguf`, where
//!   `<data>` is `~/.local/share/Jan/data` (Linux), `~/Library/Application Support/Jan/data`
//!   (macOS), `%APPDATA%\Jan\data` (Windows), or the older `~/jan`.
//! - **Hugging Face cache**: `$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`:
//!   `models--<owner>--<name>/snapshots/<revision>/**/*.gguf` (symlinks into `blobs/`).
//!
//! Only files that start with the GGUF magic are reported; split files after the first part
//! (`-00002-of-00003.gguf`) and vision projectors are reported as such.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

/// The app a file was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Ollama's blob store.
    Ollama,
    /// LM Studio's models folder.
    LmStudio,
    /// Jan's data folder.
    Jan,
    /// The Hugging Face hub cache.
    HuggingFace,
}

impl Source {
    /// Display name.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Ollama => "Ollama",
            Self::LmStudio => "LM Studio",
            Self::Jan => "Jan",
            Self::HuggingFace => "Hugging Face cache",
        }
    }
}

/// A GGUF found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovered {
    /// Which app's folder.
    pub source: Source,
    /// The name the app shows (`qwen2.5:7b`, `lmstudio-community/Qwen2.5-7B-Instruct-GGUF/…`).
    pub name: String,
    /// The file to load (for Ollama, the blob).
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// A vision projector (mmproj), not a model on its own.
    pub projector: bool,
}

/// The folders to look in, per app. [`Roots::from_env`] fills them from the environment and the
/// OS; tests build their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots {
    /// Ollama `models` folders (holding `manifests/` and `blobs/`).
    pub ollama: Vec<PathBuf>,
    /// LM Studio models folders.
    pub lm_studio: Vec<PathBuf>,
    /// Jan data folders.
    pub jan: Vec<PathBuf>,
    /// Hugging Face hub caches.
    pub hf_hub: Vec<PathBuf>,
}

impl Roots {
    /// The default locations for this user and OS, with the apps' environment overrides.
    #[must_use]
    pub fn from_env() -> Self {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let Some(base) = directories::BaseDirs::new() else { return Self::default() };
        let home = base.home_dir();
        let mut roots = Self::default();
        match env("OLLAMA_MODELS") {
            Some(p) => roots.ollama.push(p),
            None => {
                roots.ollama.push(home.join(".ollama/models"));
                if cfg!(target_os = "linux") {
                    roots.ollama.push(PathBuf::from("/usr/share/ollama/.ollama/models"));
                }
            }
        }
        roots.lm_studio = vec![home.join(".lmstudio/models"), home.join(".cache/lm-studio/models")];
        roots.jan = vec![base.data_dir().join("Jan/data"), home.join("jan")];
        roots.hf_hub.push(match (env("HF_HUB_CACHE"), env("HF_HOME")) {
            (Some(p), _) => p,
            (None, Some(h)) => h.join("hub"),
            (None, None) => base.cache_dir().join("huggingface/hub"),
        });
        roots
    }
}

/// Every GGUF under `roots`, sorted by source and name, each file once (the same blob reached
/// from two places is reported at its first).
#[must_use]
pub fn discover(roots: &Roots) -> Vec<Discovered> {
    let mut found = Vec::new();
    for r in &roots.ollama {
        found.extend(ollama(r));
    }
    for r in &roots.lm_studio {
        found.extend(walk_ggufs(r, Source::LmStudio, r));
    }
    for r in &roots.jan {
        found.extend(walk_ggufs(r, Source::Jan, r));
    }
    for r in &roots.hf_hub {
        found.extend(hf_cache(r));
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|d| seen.insert(std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone())));
    found.sort_by(|a, b| (a.source, &a.name).cmp(&(b.source, &b.name)));
    found
}

/// Whether `path` starts with the GGUF magic.
#[must_use]
pub fn is_gguf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"GGUF"
}

fn is_projector(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("mmproj") || n.contains("projector")
}

/// A later part of a split GGUF (`…-00002-of-00003.gguf`): loaded through its first part.
fn is_later_split_part(name: &str) -> bool {
    let stem = name.trim_end_matches(".gguf");
    let mut parts = stem.rsplitn(3, '-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(total), Some("of"), Some(rest)) if total.chars().all(|c| c.is_ascii_digit()) => rest
            .rsplit('-')
            .next()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && n.trim_start_matches('0') != "1"),
        _ => false,
    }
}

fn walk_ggufs(root: &Path, source: Source, name_base: &Path) -> Vec<Discovered> {
    if !root.is_dir() {
        return Vec::new();
    }
    WalkDir::new(root)
        .follow_links(true)
        .max_depth(6)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.file_name().to_string_lossy().to_ascii_lowercase().ends_with(".gguf"))
        .filter(|e| !is_later_split_part(&e.file_name().to_string_lossy()))
        .filter(|e| is_gguf(e.path()))
        .map(|e| {
            let rel = e.path().strip_prefix(name_base).unwrap_or(e.path());
            Discovered {
                source,
                name: rel.to_string_lossy().replace('\\', "/"),
                path: e.path().to_path_buf(),
                size: e.metadata().map(|m| m.len()).unwrap_or(0),
                projector: is_projector(&e.file_name().to_string_lossy()),
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct OllamaManifest {
    layers: Vec<OllamaLayer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OllamaLayer {
    media_type: String,
    digest: String,
}

fn ollama(models: &Path) -> Vec<Discovered> {
    let manifests = models.join("manifests");
    if !manifests.is_dir() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for entry in
        WalkDir::new(&manifests).min_depth(4).max_depth(4).sort_by_file_name().into_iter().filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(text) = std::fs::read(entry.path()) else { continue };
        let Ok(manifest) = serde_json::from_slice::<OllamaManifest>(&text) else { continue };
        // manifests/<registry>/<namespace>/<model>/<tag>
        let rel: Vec<String> = entry
            .path()
            .strip_prefix(&manifests)
            .unwrap_or(entry.path())
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let [registry, namespace, model, tag] = rel.as_slice() else { continue };
        let name = match (registry.as_str(), namespace.as_str()) {
            ("registry.ollama.ai", "library") => format!("{model}:{tag}"),
            ("registry.ollama.ai", ns) => format!("{ns}/{model}:{tag}"),
            (reg, ns) => format!("{reg}/{ns}/{model}:{tag}"),
        };
        for layer in &manifest.layers {
            let projector = match layer.media_type.as_str() {
                "application/vnd.ollama.image.model" => false,
                "application/vnd.ollama.image.projector" => true,
                _ => continue,
            };
            let blob = models.join("blobs").join(layer.digest.replace(':', "-"));
            if !is_gguf(&blob) {
                continue;
            }
            let size = std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
            let name = if projector { format!("{name} (projector)") } else { name.clone() };
            out.push(Discovered { source: Source::Ollama, name, path: blob, size, projector });
        }
    }
    out
}

fn hf_cache(hub: &Path) -> Vec<Discovered> {
    let Ok(repos) = std::fs::read_dir(hub) else { return Vec::new() };
    let mut out = Vec::new();
    let mut repos: Vec<_> = repos.filter_map(Result::ok).collect();
    repos.sort_by_key(std::fs::DirEntry::file_name);
    for repo in repos {
        let dir_name = repo.file_name().to_string_lossy().into_owned();
        let Some(id) = dir_name.strip_prefix("models--") else { continue };
        let repo_id = id.replacen("--", "/", 1);
        let snapshots = repo.path().join("snapshots");
        for mut d in walk_ggufs(&snapshots, Source::HuggingFace, &snapshots) {
            // <revision>/<file> → owner/name/<file>
            let file = d.name.split_once('/').map_or(d.name.as_str(), |(_, f)| f);
            d.name = format!("{repo_id}/{file}");
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parts_and_projectors_are_recognised() {
        assert!(is_later_split_part("qwen2.5-14b-instruct-q8_0-00002-of-00004.gguf"));
        assert!(!is_later_split_part("qwen2.5-14b-instruct-q8_0-00001-of-00004.gguf"));
        assert!(!is_later_split_part("qwen2.5-7b-instruct-q4_k_m.gguf"));
        assert!(is_projector("mmproj-Qwen2.5-VL-7B-Instruct-f16.gguf"));
        assert!(!is_projector("Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf"));
    }
}
