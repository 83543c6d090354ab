//! `desk.matters()`: the matters of this data directory, and the demo matter.

use std::path::Path;

use lexdesk_core::generate::CancelToken;

use crate::{DEMO_MATTER, Desk, DeskError, EmbedderRecord, IngestEvent, IngestParams, Matter};

/// A matter's embedding model against the configured one ([`MattersApi::embedder`]).
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatterEmbedder {
    /// The model its passages are embedded with; `None` for a matter without passages.
    pub built_with: Option<EmbedderRecord>,
    /// Whether LexDesk recorded it (false: inferred for a matter built before it did).
    pub recorded: bool,
    /// The configured embedding model, for people.
    pub configured: String,
    /// Whether the matter is on the configured model (searches load its own model otherwise;
    /// re-embedding moves it to the configured one).
    pub current: bool,
}

/// The matters of a desk ([`Desk::matters`]).
#[derive(Debug, Clone, Copy)]
pub struct MattersApi<'d> {
    pub(crate) desk: &'d Desk,
}

impl MattersApi<'_> {
    /// Matters, by name.
    ///
    /// # Errors
    /// The matters folder cannot be read.
    pub fn list(self) -> Result<Vec<Matter>, DeskError> {
        Ok(self.desk.matters.list()?)
    }

    /// Create a matter.
    ///
    /// # Errors
    /// Empty or duplicate name, or the folder cannot be written.
    pub fn create(self, name: &str) -> Result<Matter, DeskError> {
        Ok(self.desk.matters.create(name)?)
    }

    /// Rename a matter (its data does not move).
    ///
    /// # Errors
    /// Unknown matter, empty or duplicate name.
    pub fn rename(self, matter_id: &str, name: &str) -> Result<Matter, DeskError> {
        Ok(self.desk.matters.rename(matter_id, name)?)
    }

    /// Delete a matter with its documents and chats.
    ///
    /// # Errors
    /// Unknown matter, or documents are being added to it.
    pub fn delete(self, matter_id: &str) -> Result<(), DeskError> {
        self.desk.matters.delete(matter_id)?;
        Ok(())
    }

    /// A matter by name (case-insensitively) or id.
    ///
    /// # Errors
    /// No such matter, or the matters folder cannot be read.
    pub fn find(self, name_or_id: &str) -> Result<Matter, DeskError> {
        self.desk.matter(name_or_id)
    }

    /// Which embedding model a matter was built with, against the configured one.
    ///
    /// # Errors
    /// Unknown matter, or its store cannot be read.
    pub async fn embedder(self, matter_id: &str) -> Result<MatterEmbedder, DeskError> {
        let matter = self.desk.matter(matter_id)?;
        let models = self.desk.models();
        let built_with = models.matter_embedder(&matter).await?;
        Ok(MatterEmbedder {
            current: built_with.as_ref().is_none_or(|r| models.is_configured(r)),
            recorded: matter.embedder.is_some(),
            built_with,
            configured: models.configured_embedder_name(),
        })
    }

    /// The demo matter moves to the configured embedding model by itself: re-embedded when it
    /// was built with another one (the demo of an earlier version, on MiniLM). `None` when there
    /// is no demo or it is current.
    ///
    /// # Errors
    /// Loading the model or re-embedding failed (the demo keeps its old model).
    pub async fn migrate_demo(
        self,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(crate::ReembedEvent) + Send),
    ) -> Result<Option<crate::ReembedSummary>, DeskError> {
        let Some(demo) = self.demo() else { return Ok(None) };
        if self.embedder(&demo.id).await?.current {
            return Ok(None);
        }
        Ok(Some(self.desk.documents(&demo.id).reembed(cancel, progress).await?))
    }

    /// The id of the demo matter the first run prepared, if it still exists (it may have been
    /// renamed since).
    #[must_use]
    pub fn demo_id(self) -> Option<String> {
        self.demo().map(|m| m.id)
    }

    fn demo(self) -> Option<Matter> {
        let recorded = std::fs::read_to_string(self.desk.home.demo_marker()).ok()?;
        let recorded = recorded.trim();
        // Markers written before the id was recorded are empty: the demo is the one of its name.
        let id = if recorded.is_empty() { DEMO_MATTER } else { recorded };
        self.desk.matters.find(id).ok()
    }

    /// The demo matter: created from `demo_dir` (the sample documents) the first time, found
    /// afterwards. Returns `None` when `demo_dir` is missing, or when the demo was prepared once
    /// and has since been deleted (a deleted demo stays deleted). Ingestion reports on
    /// `progress`; `cancel` stops it (the documents ingested so far stay).
    ///
    /// # Errors
    /// Creating or ingesting failed.
    pub async fn ensure_demo(
        self,
        demo_dir: Option<&Path>,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(IngestEvent) + Send),
    ) -> Result<Option<Matter>, DeskError> {
        let _once = self.desk.demo.lock().await;
        let marker = self.desk.home.demo_marker();
        if marker.exists() {
            return Ok(self.demo());
        }
        match self.desk.matters.find(DEMO_MATTER) {
            Ok(m) => return Ok(Some(m)),
            Err(lexdesk_service::MatterError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(dir) = demo_dir.filter(|d| d.is_dir()) else { return Ok(None) };
        let matter = self.create(DEMO_MATTER)?;
        std::fs::write(&marker, &matter.id).map_err(|e| DeskError::io(marker.clone(), &e))?;
        let params = IngestParams::Paths(vec![dir.to_path_buf()]);
        self.desk.documents(&matter.id).ingest(&params, cancel, progress).await?;
        Ok(Some(matter))
    }
}
