//! The curated model catalog (`models/catalog.toml`, embedded at build time).
//!
//! Each entry names a model, where its GGUF files live on Hugging Face (repository and file per
//! quantisation, with byte size and SHA-256 where the source publishes them), its licence and
//! languages, and the architecture numbers the memory arithmetic needs (layers, KV heads, head
//! size). The facts were checked at the sources each entry lists.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::ModelsError;

/// The catalog shipped with this build.
pub const BUILTIN_CATALOG: &str = include_str!("../../../models/catalog.toml");

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CatalogKind {
    /// Instruction-tuned chat model (answers, templates).
    Chat,
    /// Text embedding model (search).
    Embedding,
    /// Cross-encoder reranker.
    Reranker,
    /// Vision-language model (with a projector file).
    Vision,
}

impl CatalogKind {
    /// The name used in the catalog and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embedding => "embedding",
            Self::Reranker => "reranker",
            Self::Vision => "vision",
        }
    }
}

impl std::str::FromStr for CatalogKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chat" => Ok(Self::Chat),
            "embedding" | "embed" => Ok(Self::Embedding),
            "reranker" | "rerank" => Ok(Self::Reranker),
            "vision" => Ok(Self::Vision),
            _ => Err(format!("unknown model kind `{s}` (expected chat, embedding, reranker or vision)")),
        }
    }
}

/// One downloadable file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CatalogFile {
    /// Quantisation label (`Q4_K_M`, `Q8_0`, `F16`, …); absent for projectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<String>,
    /// Hugging Face repository (`owner/name`).
    pub repo: String,
    /// File path inside the repository.
    pub file: String,
    /// Git revision (branch or commit); `main` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Exact size in bytes, when the source publishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 (lower-case hex), when the source publishes it; otherwise the hub's own
    /// checksum of the file (its `X-Linked-Etag`) is used at download time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl CatalogFile {
    /// The revision to download.
    #[must_use]
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// The local file name: the last path component of `file`.
    #[must_use]
    pub fn file_name(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(&self.file)
    }
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CatalogModel {
    /// Unique id (`qwen2.5-7b-instruct`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub kind: CatalogKind,
    /// llama.cpp architecture (`general.architecture`).
    pub architecture: String,
    /// Who published the weights.
    pub publisher: String,
    /// Licence (SPDX id or the licence's name).
    pub license: String,
    /// Where the licence is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_url: Option<String>,
    /// The hub requires accepting terms (and a token) before downloading.
    #[serde(default)]
    pub gated: bool,
    /// The licence allows commercial use (a firm's work is commercial); `false` for research or
    /// non-commercial licences, which are listed but never recommended.
    #[serde(default = "allowed")]
    pub commercial_use: bool,
    /// Languages it is good at (ISO 639-1, or `multilingual`).
    pub languages: Vec<String>,
    /// Parameter count.
    pub parameters: u64,
    /// Trained context length.
    pub context_length: u64,
    /// Transformer blocks.
    pub layers: u64,
    /// Key/value heads.
    pub kv_heads: u64,
    /// Size of one head (keys and values).
    pub head_dim: u64,
    /// Hidden size.
    pub embedding_length: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// One line on what it is good for.
    pub description: String,
    /// Where the facts were checked.
    pub sources: Vec<String>,
    /// Quantisations, smallest first as listed.
    pub files: Vec<CatalogFile>,
    /// The vision projector (mmproj), for vision models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projector: Option<CatalogFile>,
}

impl CatalogModel {
    /// The file for `quant` (case-insensitive), or the preferred one when `None`: `Q4_K_M` for
    /// chat and vision models (the usual size/quality balance), else the first listed.
    #[must_use]
    pub fn file(&self, quant: Option<&str>) -> Option<&CatalogFile> {
        match quant {
            Some(q) => self.files.iter().find(|f| f.quant.as_deref().is_some_and(|fq| fq.eq_ignore_ascii_case(q))),
            None => self.preferred_file(),
        }
    }

    fn preferred_file(&self) -> Option<&CatalogFile> {
        let by_quant =
            |q: &str| self.files.iter().find(|f| f.quant.as_deref().is_some_and(|fq| fq.eq_ignore_ascii_case(q)));
        match self.kind {
            CatalogKind::Chat | CatalogKind::Vision => by_quant("Q4_K_M").or_else(|| self.files.first()),
            CatalogKind::Embedding | CatalogKind::Reranker => by_quant("Q8_0").or_else(|| self.files.first()),
        }
    }

    /// Whether the model covers `lang` (`zh`, `en`); `multilingual` covers both.
    #[must_use]
    pub fn speaks(&self, lang: &str) -> bool {
        self.languages.iter().any(|l| l == lang || l == "multilingual")
    }
}

/// The parsed catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Format version (1).
    pub format: u32,
    /// The entries.
    #[serde(rename = "model")]
    pub models: Vec<CatalogModel>,
}

impl Catalog {
    /// The catalog shipped with this build.
    ///
    /// # Errors
    /// Only if the shipped file is invalid (a test keeps it valid).
    pub fn builtin() -> Result<Self, ModelsError> {
        Self::parse(BUILTIN_CATALOG)
    }

    /// Parse and validate catalog text.
    ///
    /// # Errors
    /// [`ModelsError::CatalogInvalid`] naming the entry and the problem.
    pub fn parse(text: &str) -> Result<Self, ModelsError> {
        let catalog: Self = toml::from_str(text).map_err(|e| ModelsError::CatalogInvalid(e.to_string()))?;
        catalog.validate()?;
        Ok(catalog)
    }

    fn validate(&self) -> Result<(), ModelsError> {
        let bad = |id: &str, why: String| Err(ModelsError::CatalogInvalid(format!("entry `{id}`: {why}")));
        if self.format != 1 {
            return Err(ModelsError::CatalogInvalid(format!("format {} is not supported (expected 1)", self.format)));
        }
        let mut ids = HashSet::new();
        for m in &self.models {
            if !ids.insert(m.id.as_str()) {
                return bad(&m.id, "duplicate id".into());
            }
            if m.id.is_empty() || m.id.chars().any(|c| c.is_ascii_uppercase() || c.is_whitespace() || c == ':') {
                return bad(&m.id, "ids are lower case, without spaces or `:`".into());
            }
            if m.files.is_empty() {
                return bad(&m.id, "no files".into());
            }
            if m.kind == CatalogKind::Vision && m.projector.is_none() {
                return bad(&m.id, "a vision model needs its projector".into());
            }
            if m.sources.is_empty() {
                return bad(&m.id, "no sources for its facts".into());
            }
            if [m.layers, m.kv_heads, m.head_dim, m.embedding_length, m.context_length, m.parameters].contains(&0) {
                return bad(&m.id, "architecture numbers must be positive".into());
            }
            for f in m.files.iter().chain(m.projector.as_ref()) {
                if let Some(sha) = &f.sha256
                    && !is_sha256_hex(sha)
                {
                    return bad(&m.id, format!("`{}`: sha256 must be 64 lower-case hex digits", f.file));
                }
                if !f.repo.contains('/') || !f.file.to_ascii_lowercase().ends_with(".gguf") {
                    return bad(&m.id, format!("`{}` in `{}`: expected owner/name and a .gguf file", f.file, f.repo));
                }
            }
            if m.files.iter().any(|f| f.quant.is_none()) {
                return bad(&m.id, "every model file names its quantisation".into());
            }
        }
        Ok(())
    }

    /// The entry with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&CatalogModel> {
        self.models.iter().find(|m| m.id.eq_ignore_ascii_case(id))
    }

    /// The entry and file a catalog file name belongs to (to recognise downloaded files).
    #[must_use]
    pub fn by_file_name(&self, name: &str) -> Option<(&CatalogModel, &CatalogFile)> {
        self.models
            .iter()
            .find_map(|m| m.files.iter().chain(m.projector.as_ref()).find(|f| f.file_name() == name).map(|f| (m, f)))
    }

    /// Entries matching every word of `query` (in id, name, publisher, architecture, kind,
    /// languages or description, case-insensitive), optionally of one kind and language.
    #[must_use]
    pub fn search(&self, query: &str, kind: Option<CatalogKind>, lang: Option<&str>) -> Vec<&CatalogModel> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        self.models
            .iter()
            .filter(|m| kind.is_none_or(|k| m.kind == k))
            .filter(|m| lang.is_none_or(|l| m.speaks(l)))
            .filter(|m| {
                let hay = format!(
                    "{} {} {} {} {} {} {}",
                    m.id,
                    m.name,
                    m.publisher,
                    m.architecture,
                    m.kind.as_str(),
                    m.languages.join(" "),
                    m.description
                )
                .to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect()
    }
}

fn allowed() -> bool {
    true
}

/// Whether `s` is a SHA-256 digest in lower-case hex.
#[must_use]
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
format = 1
[[model]]
id = "tiny-chat"
name = "Tiny Chat"
kind = "chat"
architecture = "llama"
publisher = "Test"
license = "Apache-2.0"
languages = ["en"]
parameters = 135_000_000
context_length = 8192
layers = 30
kv_heads = 3
head_dim = 64
embedding_length = 576
vocab_size = 49152
description = "test"
sources = ["https://example.com"]
[[model.files]]
quant = "Q4_1"
repo = "test/tiny"
file = "sub/tiny.Q4_1.gguf"
size = 100
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[[model.files]]
quant = "Q4_K_M"
repo = "test/tiny"
file = "tiny.Q4_K_M.gguf"
"#;

    #[test]
    fn the_shipped_catalog_is_valid_and_covers_every_kind() {
        let c = Catalog::builtin().unwrap();
        for kind in [CatalogKind::Chat, CatalogKind::Embedding, CatalogKind::Reranker, CatalogKind::Vision] {
            assert!(c.models.iter().any(|m| m.kind == kind), "no {kind:?} model in the catalog");
        }
        assert!(c.models.iter().any(|m| m.kind == CatalogKind::Chat && m.speaks("zh")), "no Chinese chat model");
        assert!(
            c.models.iter().any(|m| m.kind == CatalogKind::Embedding && m.speaks("zh")),
            "no Chinese embedding model"
        );
        // Every file LexDesk offers is verified against a digest read at a source, not only
        // against what the server says at download time.
        for m in &c.models {
            for f in m.files.iter().chain(&m.projector) {
                assert!(f.sha256.is_some(), "{} / {}: a shipped catalog file pins its sha256", m.id, f.file);
            }
        }
    }

    #[test]
    fn files_resolve_by_quant_and_preference() {
        let c = Catalog::parse(ONE).unwrap();
        let m = c.get("TINY-chat").unwrap();
        assert_eq!(m.file(Some("q4_1")).unwrap().file_name(), "tiny.Q4_1.gguf");
        assert_eq!(m.file(None).unwrap().quant.as_deref(), Some("Q4_K_M"));
        assert!(m.file(Some("Q8_0")).is_none());
        assert_eq!(c.by_file_name("tiny.Q4_1.gguf").unwrap().0.id, "tiny-chat");
        assert_eq!(m.files[0].revision(), "main");
    }

    #[test]
    fn search_matches_every_word_and_filters() {
        let c = Catalog::parse(ONE).unwrap();
        assert_eq!(c.search("tiny llama", None, None).len(), 1);
        assert!(c.search("tiny qwen", None, None).is_empty());
        assert!(c.search("", Some(CatalogKind::Embedding), None).is_empty());
        assert!(c.search("", None, Some("zh")).is_empty());
        assert_eq!(c.search("", Some(CatalogKind::Chat), Some("en")).len(), 1);
    }

    #[test]
    fn invalid_catalogs_say_what_is_wrong() {
        let cases = [
            (ONE.replace("format = 1", "format = 2"), "format 2"),
            (ONE.replace("\"0000000000000000000000000000000000000000000000000000000000000000\"", "\"abc\""), "sha256"),
            (ONE.replace("layers = 30", "layers = 0"), "positive"),
            (ONE.replace("id = \"tiny-chat\"", "id = \"Tiny Chat\""), "lower case"),
            (format!("{ONE}\n{}", &ONE[ONE.find("[[model]]").unwrap()..]), "duplicate id"),
            (ONE.replace("kind = \"chat\"", "kind = \"vision\""), "projector"),
            (ONE.replace("file = \"tiny.Q4_K_M.gguf\"", "file = \"tiny.bin\""), ".gguf"),
            (ONE.replace("kind = \"chat\"", "kind = \"chat\"\nunknown = 1"), "unknown field"),
        ];
        for (text, needle) in cases {
            let err = Catalog::parse(&text).unwrap_err();
            assert!(err.to_string().contains(needle), "`{err}` should mention `{needle}`");
            assert_eq!(crate::ErrorCode::code(&err), "CATALOG_INVALID");
        }
    }
}
