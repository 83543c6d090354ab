//! `desk.documents(matter)`: a matter's documents — listing and lookup, ingestion (the one
//! writer per matter), removal, stored page text — and search over them.

use std::path::PathBuf;
use std::sync::Arc;

use lexdesk_core::embed::Embedder;
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::{ChunkStore, DocumentRecord, DocumentStatus, SearchMode};
use lexdesk_ingest::extract::ExtractConfig;
use lexdesk_ingest::pdf::WorkerConfig;
use lexdesk_service::ingest::IngestOptions;
use lexdesk_service::ingest::reembed::ReembedTarget;
use lexdesk_service::search::{SearchHit, Searcher};
use lexdesk_store::{LanceStore, StoreOptions};
use serde::{Deserialize, Serialize};

use crate::{
    Desk, DeskError, EmbedderRecord, IngestEvent, IngestSummary, Matter, PageView, ReembedEvent, ReembedSummary,
    SearchRequest,
};

/// What to ingest ([`DocumentsApi::ingest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum IngestParams {
    /// Files and folders (recursively), as absolute paths.
    Paths(Vec<PathBuf>),
    /// A document that failed, again from the path it was added from.
    Retry {
        /// The document's id.
        doc_id: String,
    },
}

/// The documents of one matter ([`Desk::documents`]). The matter is looked up by each call, so
/// a handle never outlives a deleted matter silently: its calls answer `MATTER_NOT_FOUND`.
#[derive(Debug, Clone, Copy)]
pub struct DocumentsApi<'d> {
    pub(crate) desk: &'d Desk,
    pub(crate) matter_id: &'d str,
}

impl DocumentsApi<'_> {
    fn matter(self) -> Result<Matter, DeskError> {
        self.desk.matter(self.matter_id)
    }

    /// The matter's documents (indexed, failed with their reason, or being ingested), newest
    /// first.
    ///
    /// # Errors
    /// Unknown matter, or the store cannot be read.
    pub async fn list(self) -> Result<Vec<DocumentRecord>, DeskError> {
        let matter = self.matter()?;
        let Some(store) = reader(&matter).await? else { return Ok(Vec::new()) };
        let mut docs = store.documents().await?;
        docs.sort_by(|a, b| b.added_at_ms.cmp(&a.added_at_ms).then_with(|| a.file_name.cmp(&b.file_name)));
        Ok(docs)
    }

    /// The documents that `name` names: by file name, by path as ingested, by id, or by a prefix
    /// of the id of at least 8 characters (what `--doc` and `docs --remove` accept).
    ///
    /// # Errors
    /// Unknown matter, no document of that name, or the store cannot be read.
    pub async fn find(self, name: &str) -> Result<Vec<DocumentRecord>, DeskError> {
        let found: Vec<_> =
            self.list().await?.into_iter().filter(|d| lexdesk_service::search::names_document(d, name)).collect();
        if found.is_empty() {
            return Err(DeskError::DocumentNotFound(name.to_owned()));
        }
        Ok(found)
    }

    async fn get(self, doc_id: &str) -> Result<DocumentRecord, DeskError> {
        self.list()
            .await?
            .into_iter()
            .find(|d| d.id == doc_id)
            .ok_or_else(|| DeskError::DocumentNotFound(doc_id.to_string()))
    }

    /// Add files and folders (recursively) to the matter, or ingest a failed document again:
    /// extract (PDFs in worker processes, OCR for scans), chunk, embed and index. A file that
    /// fails is recorded with its reason and never stops the others. Runs for the same matter
    /// wait for each other; `cancel` stops after the document being written.
    ///
    /// # Errors
    /// Unknown matter or document, a path that does not exist, the embedding model or the store
    /// failed.
    pub async fn ingest(
        &self,
        params: &IngestParams,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(IngestEvent) + Send),
    ) -> Result<IngestSummary, DeskError> {
        let matter = self.matter()?;
        let paths = match params {
            IngestParams::Paths(paths) => validate_inputs(paths.clone())?,
            IngestParams::Retry { doc_id } => {
                validate_inputs(vec![PathBuf::from(self.get(doc_id).await?.source_path)])?
            }
        };
        let queue = self.desk.ingest_queue(&matter.id);
        let _turn = queue.lock().await;
        let models = self.desk.models();
        // A matter keeps the model it was built with; a new one takes the configured model.
        let embedder = models.embedding_for(&matter).await?;
        let counter = Arc::new(models.token_counter(&embedder)?);
        if matter.embedder.is_none() {
            self.desk.matters.set_embedder(&matter.id, models.record_of(&embedder))?;
        }
        let store =
            LanceStore::open_writer(&matter.store_dir(), embedder.dimensions(), StoreOptions::default()).await?;
        let settings = self.desk.ingest_settings;
        let mut worker = WorkerConfig::lexdesk(self.desk.worker_program.clone());
        worker.timeout = settings.pdf_timeout;
        let mut options = IngestOptions::new(ExtractConfig {
            worker,
            ocr: if settings.ocr { lexdesk_ingest::ocr::Ocr::detect() } else { None },
        });
        if let Some(n) = settings.write_documents {
            options.write_documents = n.max(1);
        }
        Ok(lexdesk_service::ingest::ingest(&store, &embedder, counter, &paths, &options, cancel, progress).await?)
    }

    /// Re-embed the matter with the configured embedding model: every document's stored pages
    /// are chunked with the model's vocabulary and embedded into a new store beside the old
    /// one, which keeps answering until the new one is complete and swapped in (nothing is
    /// extracted again, no document is lost). A cancelled or interrupted run resumes where it
    /// stopped; a run for another model starts over. A matter already on the configured model
    /// is left alone.
    ///
    /// # Errors
    /// Unknown matter, the model cannot be loaded, a store failed; documents are being added.
    pub async fn reembed(
        self,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(ReembedEvent) + Send),
    ) -> Result<ReembedSummary, DeskError> {
        let matter = self.matter()?;
        let queue = self.desk.ingest_queue(&matter.id);
        let _turn = queue.lock().await;
        let models = self.desk.models();
        let engine = models.embedding().await?;
        let target = models.record_of(&engine);
        let next = matter.reembed_dir();
        let marker = matter.dir.join("reembed.target");
        let current = models.matter_embedder(&matter).await?;
        let Some(dims) = LanceStore::stored_dimensions(&matter.store_dir()).await? else {
            // Nothing embedded yet: the matter simply takes the model.
            self.desk.matters.set_embedder(&matter.id, target)?;
            return Ok(ReembedSummary::default());
        };
        if current.as_ref().is_some_and(|c| c.same_model(&target)) && !next.exists() {
            return Ok(ReembedSummary::default());
        }
        // A half-built store for another model is of no use.
        let same_target = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|t| serde_json::from_str::<EmbedderRecord>(&t).ok())
            .is_some_and(|r| r.same_model(&target));
        if !same_target {
            if next.exists() {
                std::fs::remove_dir_all(&next).map_err(|e| DeskError::io(next.clone(), &e))?;
            }
            let text = serde_json::to_string(&target).map_err(|e| DeskError::Internal(e.to_string()))?;
            std::fs::write(&marker, text).map_err(|e| DeskError::io(marker.clone(), &e))?;
        }
        let counter = models.token_counter(&engine)?;
        let summary = {
            let from = LanceStore::open_writer(&matter.store_dir(), dims, StoreOptions::default()).await?;
            let to = LanceStore::open_writer(&next, engine.dimensions(), StoreOptions::default()).await?;
            let target = ReembedTarget {
                store: &to,
                embedder: &engine,
                counter: &counter,
                chunk: lexdesk_ingest::ChunkConfig::default(),
                embed_batch: 64,
            };
            lexdesk_service::ingest::reembed::reembed(&from, &target, cancel, progress).await?
        };
        if !summary.cancelled {
            self.desk.matters.swap_reembedded(&matter, &target)?;
            std::fs::remove_file(&marker).ok();
        }
        Ok(summary)
    }

    /// Remove a document with its pages and chunks.
    ///
    /// # Errors
    /// Unknown matter or document, or documents are being added to the matter.
    pub async fn remove(self, doc_id: &str) -> Result<(), DeskError> {
        let matter = self.matter()?;
        let queue = self.desk.ingest_queue(&matter.id);
        let _turn = queue.lock().await;
        let Some(dims) = LanceStore::stored_dimensions(&matter.store_dir()).await? else {
            return Err(DeskError::DocumentNotFound(doc_id.to_string()));
        };
        let store = LanceStore::open_writer(&matter.store_dir(), dims, StoreOptions::default()).await?;
        if !store.delete_document(doc_id).await? {
            return Err(DeskError::DocumentNotFound(doc_id.to_string()));
        }
        store.optimize().await?;
        Ok(())
    }

    /// One page of a document as stored: the text citations are checked against.
    ///
    /// # Errors
    /// Unknown matter, document or page.
    pub async fn page(self, doc_id: &str, number: u32) -> Result<PageView, DeskError> {
        let matter = self.matter()?;
        let store = reader(&matter).await?.ok_or_else(|| DeskError::DocumentNotFound(doc_id.to_string()))?;
        let doc = store
            .documents()
            .await?
            .into_iter()
            .find(|d| d.id == doc_id)
            .ok_or_else(|| DeskError::DocumentNotFound(doc_id.to_string()))?;
        if doc.status != DocumentStatus::Indexed {
            return Err(DeskError::DocumentNotIndexed(doc.file_name));
        }
        let page = store.pages(doc_id, &[number]).await?.into_iter().next().ok_or(DeskError::PageNotFound {
            doc: doc.file_name.clone(),
            page: number,
            pages: doc.page_count,
        })?;
        Ok(PageView::new(&doc, page))
    }

    /// Search the matter (hybrid, vector or full text) without generating anything.
    ///
    /// # Errors
    /// Unknown matter or document, empty query, the embedding model or the store failed.
    pub async fn search(self, request: &SearchRequest) -> Result<Vec<SearchHit>, DeskError> {
        if request.query.trim().is_empty() {
            self.matter()?;
            return Err(DeskError::EmptyQuestion);
        }
        let mut results = self.search_batch(std::slice::from_ref(request)).await?;
        results.pop().unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Several searches with one open store and one embedder (evaluation sets, `search
    /// --batch`): each request's hits, or that request's own error (an empty query, a `doc`
    /// naming no document) without stopping the others.
    ///
    /// # Errors
    /// Unknown matter, the embedding model or the store failed.
    pub async fn search_batch(
        &self,
        requests: &[SearchRequest],
    ) -> Result<Vec<Result<Vec<SearchHit>, DeskError>>, DeskError> {
        let matter = self.matter()?;
        let Some(store) = reader(&matter).await? else {
            return Ok(requests.iter().map(|_| Ok(Vec::new())).collect());
        };
        let embedder = match requests.iter().any(|r| r.mode != SearchMode::Text) {
            true => Some(self.desk.models().embedding_for(&matter).await?),
            false => None,
        };
        // One request asking for reranking (or none refusing it under `auto`/`on`) decides.
        let force = requests.iter().find_map(|r| r.rerank);
        let reranker = self.desk.models().reranker(force).await?;
        let mut searcher = Searcher::new(&store, embedder.as_ref()).await?;
        if let Some((r, depth)) = &reranker {
            searcher = searcher.with_reranker(r, *depth);
        }
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.push(if request.query.trim().is_empty() {
                Err(DeskError::EmptyQuestion)
            } else {
                searcher.search(request).await.map_err(DeskError::from)
            });
        }
        Ok(results)
    }
}

/// The matter's store for reading; `None` before anything was ingested.
pub(crate) async fn reader(matter: &Matter) -> Result<Option<LanceStore>, DeskError> {
    let Some(dims) = LanceStore::stored_dimensions(&matter.store_dir()).await? else { return Ok(None) };
    Ok(Some(LanceStore::open(&matter.store_dir(), dims, StoreOptions::default()).await?))
}

/// Inputs must exist; they are made absolute (the store records where a document came from).
fn validate_inputs(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, DeskError> {
    if paths.is_empty() {
        return Err(DeskError::InvalidPath { path: PathBuf::new(), reason: "no files or folders given" });
    }
    paths
        .into_iter()
        .map(|p| {
            if !p.is_absolute() {
                return Err(DeskError::InvalidPath { path: p, reason: "not an absolute path" });
            }
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() || m.is_dir() => p.canonicalize().map_err(|e| DeskError::io(p.clone(), &e)),
                Ok(_) => Err(DeskError::InvalidPath { path: p, reason: "neither a file nor a folder" }),
                Err(e) => Err(DeskError::io(p, &e)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_must_exist_and_be_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(validate_inputs(vec![file.clone()]).unwrap(), vec![file.canonicalize().unwrap()]);
        let e = validate_inputs(vec![PathBuf::from("relative.pdf")]).unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "INVALID_PATH");
        let e = validate_inputs(vec![dir.path().join("missing.pdf")]).unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "FILE_NOT_FOUND");
        let e = validate_inputs(vec![]).unwrap_err();
        assert_eq!(lexdesk_core::ErrorCode::code(&e), "INVALID_PATH");
    }
}
