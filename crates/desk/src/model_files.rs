//! `desk.models()`, continued: model files as `lexdesk models` and the settings screen manage
//! them — the catalog with each file's fit here, recommendations, downloads (catalog ids and
//! URLs), GGUFs on disk and in other apps' folders, importing in place, removing, and choosing
//! the chat or embedding model. One implementation for every front end: an import is validated
//! the same way whether it comes from the CLI or the desktop app.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lexdesk_core::config::{self, Config, ModelRole};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::model::ModelKind;
use lexdesk_models::discover::{self, Discovered, Roots};
use lexdesk_models::fit::{self, Recommendation};
use lexdesk_models::local::{self, ImportedEntry, Installed, Origin, Removed};
use lexdesk_models::{Catalog, CatalogEntry, CatalogKind, CatalogModel, DownloadOptions, DownloadSpec, Downloader};
use serde::{Deserialize, Serialize};

use crate::{DeskError, DownloadEvent, DownloadOutcome, Inspection, ModelsApi};

/// A model to download ([`ModelsApi::download`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DownloadParams {
    /// A catalog id, `id:QUANT`, or the URL of a `.gguf` file.
    pub id: String,
    /// The quantisation of a catalog model (default: the catalog's preferred one).
    #[serde(default)]
    pub quant: Option<String>,
    /// The expected SHA-256 (a URL needs one unless the server publishes it, as the hub does).
    #[serde(default)]
    pub sha256: Option<String>,
    /// The folder to save into (default: the home's models folder).
    #[serde(default)]
    pub to: Option<PathBuf>,
}

/// Download progress of one file of a download (a vision model also fetches its projector).
#[derive(Debug, Clone, PartialEq)]
pub struct FileProgress {
    /// `id QUANT`, `id projector`, or the URL's file name.
    pub label: String,
    /// What happened.
    pub event: DownloadEvent,
}

/// A downloaded (or already present) file, verified and readable by llama.cpp.
#[derive(Debug)]
pub struct Downloaded {
    /// Where it is, its size and checksum.
    pub outcome: DownloadOutcome,
    /// What it is for (the catalog's kind; for a URL, from the file's metadata).
    pub kind: CatalogKind,
    /// Its header and fit here.
    pub inspection: Inspection,
}

/// A GGUF now usable in place.
#[derive(Debug)]
pub struct Imported {
    /// Its name and file.
    pub entry: ImportedEntry,
    /// Its header and fit here.
    pub inspection: Inspection,
}

/// The chat and embedding models recommended for this machine.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendations {
    /// The machine they were chosen for.
    pub hardware: fit::Hardware,
    /// Memory kept free for the system and the app.
    pub reserved_ram: u64,
    /// Threads a model would use.
    pub default_threads: u32,
    /// The best chat model that fits, if any.
    pub chat: Option<Recommendation>,
    /// The best embedding model that fits, if any.
    pub embedding: Option<Recommendation>,
}

/// A model chosen for a role ([`ModelsApi::choose`]).
#[derive(Debug)]
pub struct Chosen {
    /// What `config.toml` now names: an installed model's name, or an absolute path.
    pub value: String,
    /// Chat or embedding.
    pub role: ModelRole,
    /// Its header and fit here.
    pub inspection: Inspection,
}

fn catalog() -> Result<Catalog, DeskError> {
    Ok(Catalog::builtin()?)
}

impl ModelsApi<'_> {
    /// The models on disk: the models folders' GGUFs and those imported in place.
    ///
    /// # Errors
    /// The registry of imported models is unreadable.
    pub fn installed(self) -> Result<Vec<Installed>, DeskError> {
        let home = &self.desk.home;
        Ok(local::installed(&home.models_dir(), &config::model_search_path(home), &catalog()?)?)
    }

    /// GGUFs of Ollama, LM Studio, Jan and the Hugging Face cache, as found.
    #[must_use]
    pub fn discover_files(self) -> Vec<Discovered> {
        discover::discover(&Roots::from_env())
    }

    /// The catalog (of `kind`, when given) with each file's fit here at `context` tokens (default:
    /// the model's, at most 8192) and what of it is installed.
    ///
    /// # Errors
    /// The catalog or the registry cannot be read.
    pub fn catalog_entries(
        self,
        kind: Option<CatalogKind>,
        context: Option<u64>,
    ) -> Result<Vec<CatalogEntry>, DeskError> {
        Ok(lexdesk_models::catalog_entries(&catalog()?, &self.hardware().for_fit(), &self.installed()?, kind, context))
    }

    /// Catalog models matching every word of `query`, of `kind` and good at `lang` when given.
    ///
    /// # Errors
    /// The catalog cannot be read.
    pub fn search_catalog(
        self,
        query: &str,
        kind: Option<CatalogKind>,
        lang: Option<&str>,
    ) -> Result<Vec<CatalogModel>, DeskError> {
        Ok(catalog()?.search(query, kind, lang).into_iter().cloned().collect())
    }

    /// The best chat and embedding models for documents in `lang` that fit this machine at
    /// `context` tokens.
    ///
    /// # Errors
    /// The catalog cannot be read.
    pub fn recommend(self, lang: &str, context: Option<u64>) -> Result<Recommendations, DeskError> {
        let catalog = catalog()?;
        let hw = self.hardware().for_fit();
        Ok(Recommendations {
            chat: fit::recommend(&catalog, &hw, CatalogKind::Chat, Some(lang), context),
            embedding: fit::recommend(&catalog, &hw, CatalogKind::Embedding, Some(lang), context),
            reserved_ram: fit::reserved_ram(&hw),
            default_threads: hw.default_threads(),
            hardware: hw,
        })
    }

    /// Download a catalog model (and a vision model's projector) or a `.gguf` URL, resumable and
    /// checksum-verified, then check that llama.cpp can read it; each file's progress on
    /// `progress`; `cancel` keeps the partial file for the next attempt. The hub's token (when
    /// stored) goes to the hub only.
    ///
    /// # Errors
    /// Unknown model or quantisation, a URL that names no `.gguf`, network, checksum, disk space,
    /// cancelled; a verified file llama.cpp cannot read.
    pub async fn download(
        self,
        params: &DownloadParams,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(FileProgress) + Send),
    ) -> Result<Vec<Downloaded>, DeskError> {
        let config = self.desk.config();
        let dir = params.to.clone().unwrap_or_else(|| self.desk.home.models_dir());
        let endpoint = lexdesk_models::hub_endpoint(config.hub.endpoint.as_deref());
        let token = lexdesk_models::secrets::hub_token(self.desk.home.root());
        let jobs: Vec<(DownloadSpec, String, Option<CatalogKind>)> = if params.id.starts_with("http://")
            || params.id.starts_with("https://")
        {
            let file = url_file_name(&params.id);
            if !file.to_ascii_lowercase().ends_with(".gguf") {
                return Err(DeskError::InvalidArgument(format!("`{}` does not name a .gguf file", params.id)));
            }
            let spec = DownloadSpec {
                url: params.id.clone(),
                dest: dir.join(file),
                sha256: params.sha256.clone(),
                size: None,
                bearer: params.id.starts_with(&format!("{endpoint}/")).then_some(token).flatten(),
            };
            vec![(spec, file.to_owned(), None)]
        } else {
            let (id, quant) = match params.id.split_once(':') {
                Some((id, q)) => (id, Some(q)),
                None => (params.id.as_str(), params.quant.as_deref()),
            };
            let mut planned = lexdesk_models::plan_download(&catalog()?, id, quant, &endpoint, &dir, token.as_deref())?;
            if let (Some(sha), Some(first)) = (&params.sha256, planned.first_mut()) {
                first.spec.sha256 = Some(sha.clone());
            }
            planned.into_iter().map(|p| (p.spec, p.label, Some(p.kind))).collect()
        };
        let downloader = Downloader::new(DownloadOptions {
            read_timeout: std::time::Duration::from_secs(config.hub.read_timeout_secs.max(1)),
            retries: config.hub.retries,
            ..DownloadOptions::default()
        })?;
        // The downloader reports from its own tasks; the one callback is taken in turn.
        let progress = Mutex::new(progress);
        let mut done = Vec::with_capacity(jobs.len());
        for (spec, label, kind) in jobs {
            let report = |event: DownloadEvent| {
                let mut progress = progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                progress(FileProgress { label: label.clone(), event });
            };
            let outcome = downloader.download(&spec, cancel, &report).await?;
            // The checksum says the bytes are the publisher's; the engine, that they are a model.
            let inspection = self.inspect(&outcome.path)?;
            let kind = kind.unwrap_or(match inspection.metadata.kind {
                ModelKind::Embedding => CatalogKind::Embedding,
                ModelKind::Chat => CatalogKind::Chat,
            });
            done.push(Downloaded { outcome, kind, inspection });
        }
        Ok(done)
    }

    /// Use a GGUF where it is: its header is validated (an impostor, a truncated download or an
    /// unsupported version is refused with its reason), then it is registered under `name`
    /// (default: the file name) with the app it belongs to, if another app keeps it. The file is
    /// never copied, moved or deleted; importing it again returns it as it is.
    ///
    /// # Errors
    /// `FILE_NOT_FOUND`, `NOT_GGUF`, `TRUNCATED`, …; a name already taken.
    pub fn import_file(self, path: &Path, name: Option<&str>) -> Result<Imported, DeskError> {
        if !path.is_file() {
            return Err(DeskError::Io {
                path: path.to_path_buf(),
                kind: std::io::ErrorKind::NotFound,
                message: "no such file".into(),
            });
        }
        let inspection = self.inspect(path)?;
        let known = self
            .discover_files()
            .into_iter()
            .find(|d| std::fs::canonicalize(&d.path).ok() == std::fs::canonicalize(path).ok());
        let entry = local::import(
            &self.desk.home.models_dir(),
            path,
            name.filter(|n| !n.trim().is_empty()),
            known.map(|d| d.source),
        )?;
        Ok(Imported { entry, inspection })
    }

    /// Delete a downloaded model, or forget an imported one (its file is left alone).
    ///
    /// # Errors
    /// No model of that name; the file cannot be deleted.
    pub fn remove(self, name: &str) -> Result<Removed, DeskError> {
        Ok(local::remove(&self.desk.home.models_dir(), name)?)
    }

    /// Make `model` — an installed model's name, a downloaded catalog id, or a path — the chat or
    /// embedding model (`role`, default: from the file's metadata), saved to `config.toml`.
    ///
    /// # Errors
    /// No such model (a catalog model not downloaded says how to get it), an embedding model as
    /// chat model or a chat model without pooling as embedding model, `config.toml` unwritable.
    pub fn choose(self, model: &str, role: Option<ModelRole>) -> Result<Chosen, DeskError> {
        let installed = self.installed()?;
        let found = installed
            .iter()
            .find(|m| m.name == model || m.path == Path::new(model))
            .or_else(|| installed.iter().find(|m| m.catalog_id.as_deref() == Some(model)));
        let (value, path) = match found {
            Some(m) => match &m.origin {
                Origin::Folder { .. } => (m.name.clone(), m.path.clone()),
                Origin::Imported { .. } => (m.path.display().to_string(), m.path.clone()),
            },
            None if Path::new(model).is_file() => {
                let abs = std::fs::canonicalize(model).map_err(|e| DeskError::io(PathBuf::from(model), &e))?;
                (abs.display().to_string(), abs)
            }
            None if catalog()?.get(model).is_some() => {
                return Err(DeskError::InvalidArgument(format!(
                    "`{model}` is in the catalog but not downloaded: `lexdesk models download {model} --use`"
                )));
            }
            None => {
                return Err(DeskError::InvalidArgument(format!(
                    "no installed model `{model}` (`lexdesk models list --installed`)"
                )));
            }
        };
        let inspection = self.inspect(&path)?;
        let role = role.unwrap_or(match inspection.metadata.kind {
            ModelKind::Embedding => ModelRole::Embedding,
            ModelKind::Chat => ModelRole::Chat,
        });
        match (role, inspection.metadata.kind) {
            (ModelRole::Chat, ModelKind::Embedding) => {
                return Err(DeskError::InvalidArgument(format!(
                    "{} is an embedding model, not a chat model",
                    path.display()
                )));
            }
            (ModelRole::Embedding, ModelKind::Chat) if inspection.metadata.pooling.is_none() => {
                return Err(DeskError::InvalidArgument(format!(
                    "{} is a chat model without pooling, not an embedding model",
                    path.display()
                )));
            }
            (ModelRole::Tokenizer, _) => {
                return Err(DeskError::InvalidArgument("a model is chosen as chat or embedding model".into()));
            }
            _ => {}
        }
        self.save_choice(role, &value)?;
        Ok(Chosen { value, role, inspection })
    }

    /// Write the chat or embedding model into `config.toml` (the file as written, without the
    /// environment's overrides), and use it from the next request on.
    fn save_choice(self, role: ModelRole, value: &str) -> Result<(), DeskError> {
        let home = &self.desk.home;
        let mut file = Config::load_file(home)?;
        let mut current = self.desk.config.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for config in [&mut file, &mut *current] {
            match role {
                ModelRole::Embedding => {
                    value.clone_into(&mut config.models.embed);
                    // A tokenizer file belonged to the embedder it was set for.
                    config.models.embed_tokenizer.clear();
                }
                _ => value.clone_into(&mut config.models.chat),
            }
        }
        file.save(home)?;
        Ok(())
    }
}

/// The last path segment of a URL, without query or fragment.
fn url_file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_file() {
        assert_eq!(url_file_name("https://h/x/resolve/main/m.Q4.gguf?download=true#x"), "m.Q4.gguf");
        assert_eq!(url_file_name("m.gguf"), "m.gguf");
    }
}
