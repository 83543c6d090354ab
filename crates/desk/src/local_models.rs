//! Models already on this machine (issue #8) for the settings screen: GGUFs other apps keep
//! (Ollama, LM Studio, Jan, the Hugging Face cache) found and used in place, any GGUF imported by
//! path (its header checked first), and the Hugging Face token in the OS keychain.

use std::path::Path;

use lexdesk_models::discover::{self, Roots};
use lexdesk_models::secrets::{Backend, HF_TOKEN, Secrets};
use serde::{Deserialize, Serialize};

use crate::{DeskError, ModelChoice, ModelsApi};

/// A GGUF another app keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DiscoveredModel {
    /// The app: `Ollama`, `LM Studio`, `Jan`, `Hugging Face cache`.
    pub source: String,
    /// The name the app shows (`qwen2.5:7b`, `owner/repo/file.gguf`).
    pub name: String,
    /// The file.
    pub path: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// A vision projector (mmproj): not a model on its own, not importable alone.
    pub projector: bool,
    /// Already imported (usable in the model pickers).
    pub imported: bool,
}

/// Whether a Hugging Face token is available for gated models, and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HubTokenStatus {
    /// A token is stored in LexDesk's secret store.
    pub stored: bool,
    /// `HF_TOKEN` is set in the environment (it wins over the stored one).
    pub from_environment: bool,
    /// `keychain` or `encrypted_file`; `None` when no secret store is usable.
    pub backend: Option<String>,
    /// Why no store is usable, or the encrypted-file fallback's warning.
    pub message: Option<String>,
}

impl ModelsApi<'_> {
    /// GGUFs of Ollama, LM Studio, Jan and the Hugging Face cache in their usual places (and the
    /// folders their environment variables name), marked when already imported.
    ///
    /// # Errors
    /// The registry of imported models is unreadable.
    pub fn discover(self) -> Result<Vec<DiscoveredModel>, DeskError> {
        self.discover_in(&Roots::from_env())
    }

    /// [`ModelsApi::discover`] over the given folders.
    ///
    /// # Errors
    /// As [`ModelsApi::discover`].
    pub fn discover_in(self, roots: &Roots) -> Result<Vec<DiscoveredModel>, DeskError> {
        let imported: Vec<std::path::PathBuf> =
            lexdesk_models::local::installed(&self.desk.home.models_dir(), &[], &lexdesk_models::Catalog::builtin()?)?
                .into_iter()
                .map(|m| m.path)
                .collect();
        Ok(discover::discover(roots)
            .into_iter()
            .map(|d| {
                let canonical = std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone());
                DiscoveredModel {
                    source: d.source.label().to_owned(),
                    imported: imported.contains(&canonical),
                    name: d.name,
                    path: d.path.display().to_string(),
                    size_bytes: d.size,
                    projector: d.projector,
                }
            })
            .collect())
    }

    /// Use a GGUF where it is: its header is validated (an impostor, a truncated download or an
    /// unsupported version is refused with its reason), then it is registered under `name`
    /// (default: the file name, or the name another app gives it) and appears in the model
    /// pickers. Importing the same file again returns it as it is; the file is never copied,
    /// moved or deleted.
    ///
    /// # Errors
    /// `FILE_NOT_FOUND`, `NOT_GGUF`, `TRUNCATED`, …; a name already taken.
    pub fn import(self, path: &Path, name: Option<&str>) -> Result<ModelChoice, DeskError> {
        let crate::Imported { entry, inspection } = self.import_file(path, name)?;
        let metadata = inspection.metadata;
        Ok(ModelChoice {
            file_name: entry.name,
            size_bytes: std::fs::metadata(&entry.path).map_or(0, |m| m.len()),
            kind: Some(
                match metadata.kind {
                    lexdesk_core::model::ModelKind::Chat => "chat",
                    lexdesk_core::model::ModelKind::Embedding => "embedding",
                }
                .to_owned(),
            ),
            description: Some(format!(
                "{} · {} · {}",
                metadata.name.as_deref().unwrap_or_default(),
                metadata.architecture,
                metadata.quantization
            )),
            path: entry.path.display().to_string(),
        })
    }

    /// Whether a Hugging Face token is stored (never the token itself).
    #[must_use]
    pub fn hub_token(self) -> HubTokenStatus {
        let from_environment = std::env::var("HF_TOKEN").is_ok_and(|t| !t.trim().is_empty());
        match Secrets::open(self.desk.home.root()) {
            Ok(secrets) => {
                let (stored, error) = match secrets.get(HF_TOKEN) {
                    Ok(v) => (v.is_some(), None),
                    Err(e) => (false, Some(e.to_string())),
                };
                HubTokenStatus {
                    stored,
                    from_environment,
                    backend: Some(backend_name(secrets.backend()).to_owned()),
                    message: error.or_else(|| secrets.warning().map(str::to_owned)),
                }
            }
            Err(e) => HubTokenStatus { stored: false, from_environment, backend: None, message: Some(e.to_string()) },
        }
    }

    /// Store the Hugging Face token in the OS keychain (or the encrypted-file fallback), or
    /// remove it (`None` or empty).
    ///
    /// # Errors
    /// `NO_SECRET_STORE` and the keychain's own errors.
    pub fn set_hub_token(self, token: Option<&str>) -> Result<HubTokenStatus, DeskError> {
        let secrets = Secrets::open(self.desk.home.root())?;
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => secrets.set(HF_TOKEN, t)?,
            None => {
                secrets.delete(HF_TOKEN)?;
            }
        }
        Ok(self.hub_token())
    }
}

fn backend_name(backend: &Backend) -> &'static str {
    match backend {
        Backend::Keychain => "keychain",
        Backend::EncryptedFile(_) => "encrypted_file",
    }
}
