//! LexDesk's models: the curated catalog, verified and resumable downloads, discovery of GGUF
//! files other apps already downloaded, hardware fit and recommendations, and the keychain for
//! the secrets that downloads and remote engines need.
//!
//! This crate owns `reqwest` and `keyring`; it does not link llama.cpp (front ends pass in the
//! GPU list the engine reports, and validate GGUF headers with the engine).

pub mod catalog;
pub mod discover;
pub mod download;
pub mod error;
pub mod fit;
pub mod local;
pub mod secrets;

use std::path::Path;

use serde::Serialize;

pub use catalog::{Catalog, CatalogFile, CatalogKind, CatalogModel};
pub use download::{DownloadEvent, DownloadOptions, DownloadOutcome, DownloadProgress, DownloadSpec, Downloader};
pub use error::ModelsError;
pub use lexdesk_core::ErrorCode;

/// The Hugging Face endpoint used when none is configured (`HF_ENDPOINT` overrides it, as in
/// Hugging Face's own tools; mirrors and proxies work the same way).
pub const DEFAULT_HUB_ENDPOINT: &str = "https://huggingface.co";

/// The hub endpoint: `configured` (from `config.toml`), else `HF_ENDPOINT`, else the default.
#[must_use]
pub fn hub_endpoint(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_HUB_ENDPOINT.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// The download URL of a catalog file on `endpoint` (`{endpoint}/{repo}/resolve/{rev}/{file}`).
#[must_use]
pub fn file_url(endpoint: &str, file: &CatalogFile) -> String {
    format!("{}/{}/resolve/{}/{}", endpoint.trim_end_matches('/'), file.repo, file.revision(), file.file)
}

/// A catalog entry as a front end shows it: the model, each file's fit on this machine, and
/// which quantisations are already installed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CatalogEntry {
    /// The entry.
    #[serde(flatten)]
    pub model: CatalogModel,
    /// The fit of each file, in the order of `files`.
    pub fits: Vec<fit::FitReport>,
    /// Quantisations whose file is installed.
    pub installed: Vec<String>,
}

/// Every entry of `catalog` (of `kind`, when given) with its fits on `hw` at `context` tokens
/// and what of it is among `installed` (file names).
#[must_use]
pub fn catalog_entries(
    catalog: &Catalog,
    hw: &fit::Hardware,
    installed: &[local::Installed],
    kind: Option<CatalogKind>,
    context: Option<u64>,
) -> Vec<CatalogEntry> {
    catalog
        .models
        .iter()
        .filter(|m| kind.is_none_or(|k| m.kind == k))
        .map(|m| CatalogEntry {
            model: m.clone(),
            fits: m.files.iter().map(|f| fit::assess(m, f, hw, context)).collect(),
            installed: m
                .files
                .iter()
                .filter(|f| installed.iter().any(|i| i.name == f.file_name()))
                .filter_map(|f| f.quant.clone())
                .collect(),
        })
        .collect()
}

/// One file of a catalog model to fetch (the model, and a vision model's projector).
#[derive(Debug, Clone)]
pub struct PlannedDownload {
    /// What to fetch, where to.
    pub spec: DownloadSpec,
    /// `id QUANT` or `id projector`, for progress display.
    pub label: String,
    /// The model's kind.
    pub kind: CatalogKind,
}

/// The downloads for catalog model `id` at `quant` (default: the preferred one) from
/// `endpoint` into `dir`, with the hub `token` if any.
///
/// # Errors
/// [`ModelsError::UnknownModel`] naming close matches or the available quantisations.
pub fn plan_download(
    catalog: &Catalog,
    id: &str,
    quant: Option<&str>,
    endpoint: &str,
    dir: &Path,
    token: Option<&str>,
) -> Result<Vec<PlannedDownload>, ModelsError> {
    let model = catalog.get(id).ok_or_else(|| {
        let near: Vec<_> = catalog.search(id, None, None).into_iter().map(|m| m.id.as_str()).collect();
        ModelsError::UnknownModel(format!(
            "no catalog model `{id}`{} (`lexdesk models search`)",
            if near.is_empty() { String::new() } else { format!("; did you mean {}?", near.join(", ")) }
        ))
    })?;
    let file = model.file(quant).ok_or_else(|| {
        let quants: Vec<_> = model.files.iter().filter_map(|f| f.quant.as_deref()).collect();
        ModelsError::UnknownModel(format!(
            "`{}` has no quantisation `{}` (available: {})",
            model.id,
            quant.unwrap_or(""),
            quants.join(", ")
        ))
    })?;
    let projector = model.projector.iter().map(|p| (p, format!("{} projector", model.id)));
    Ok(std::iter::once((file, format!("{} {}", model.id, file.quant.as_deref().unwrap_or(""))))
        .chain(projector)
        .map(|(f, label)| PlannedDownload {
            spec: DownloadSpec {
                url: file_url(endpoint, f),
                dest: dir.join(f.file_name()),
                sha256: f.sha256.clone(),
                size: f.size,
                bearer: token.map(str::to_owned),
            },
            label,
            kind: model.kind,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_hub_layout() {
        let f = CatalogFile {
            quant: Some("Q4_K_M".into()),
            repo: "Qwen/Qwen2.5-1.5B-Instruct-GGUF".into(),
            file: "qwen2.5-1.5b-instruct-q4_k_m.gguf".into(),
            revision: None,
            size: None,
            sha256: None,
        };
        assert_eq!(
            file_url("https://hf-mirror.com/", &f),
            "https://hf-mirror.com/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf"
        );
        assert_eq!(hub_endpoint(Some("http://127.0.0.1:9/")), "http://127.0.0.1:9");
    }

    #[test]
    fn plans_name_the_files_and_the_mistakes() {
        let c = Catalog::builtin().unwrap();
        let dir = Path::new("/models");
        let p = plan_download(&c, "smollm2-135m-instruct", Some("q4_1"), "http://h", dir, Some("t")).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].spec.dest, dir.join("SmolLM2-135M-Instruct.Q4_1.gguf"));
        assert_eq!(p[0].spec.bearer.as_deref(), Some("t"));
        assert!(p[0].spec.sha256.is_some(), "the catalog pins this file's checksum");
        let vision = c.models.iter().find(|m| m.kind == CatalogKind::Vision).unwrap();
        assert_eq!(plan_download(&c, &vision.id, None, "http://h", dir, None).unwrap().len(), 2, "model and projector");
        let e = plan_download(&c, "smollm2-135m", None, "http://h", dir, None).unwrap_err();
        assert!(e.to_string().contains("did you mean smollm2-135m-instruct"), "{e}");
        let e = plan_download(&c, "smollm2-135m-instruct", Some("Q2_K"), "http://h", dir, None).unwrap_err();
        assert!(e.to_string().contains("available: Q4_1, Q8_0"), "{e}");
    }
}
