//! Extraction preview (`lexdesk extract`): what ingestion reads from files — each page's text with
//! its provenance, or the chunks sized with the configured embedder's tokenizer — without a
//! matter or a store. The same extraction settings and chunking as [`crate::DocumentsApi::ingest`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lexdesk_core::generate::CancelToken;
use lexdesk_ingest::extract::{ExtractConfig, ExtractError, extract};
use lexdesk_ingest::ocr::Provenance;
use lexdesk_ingest::pdf::WorkerConfig;
use lexdesk_ingest::{Chunk, PageText, chunk_document};
use lexdesk_service::ingest::IngestOptions;

use crate::{Desk, DeskError, ExtractedDocument};

/// What to extract ([`Desk::extract`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractParams {
    /// Files and folders (recursively).
    pub files: Vec<PathBuf>,
    /// OCR pages without a text layer (when Tesseract is installed).
    pub ocr: bool,
    /// Time allowed to extract one PDF in its worker process.
    pub pdf_timeout: Duration,
    /// Also split each document into chunks as ingestion would.
    pub chunks: bool,
}

/// One file's outcome, as it happens.
#[derive(Debug)]
pub enum ExtractEvent<'a> {
    /// Read.
    Extracted {
        /// 0-based position among the files found.
        index: usize,
        /// Files found.
        total: usize,
        /// The pages.
        document: &'a ExtractedDocument,
        /// The chunks, when asked for.
        chunks: Option<&'a [Chunk]>,
        /// Time taken.
        elapsed: Duration,
    },
    /// Not a format LexDesk reads, found in a folder (a file named explicitly fails instead).
    Skipped {
        /// 0-based position.
        index: usize,
        /// Files found.
        total: usize,
        /// The file.
        path: &'a Path,
        /// Why.
        reason: &'a str,
    },
    /// Could not be read.
    Failed {
        /// 0-based position.
        index: usize,
        /// Files found.
        total: usize,
        /// The file.
        path: &'a Path,
        /// Why, with its code.
        error: &'a DeskError,
    },
}

/// What an extraction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtractSummary {
    /// Files found.
    pub files: usize,
    /// Files read.
    pub extracted: usize,
    /// Files that could not be read.
    pub failed: usize,
    /// Files skipped (unsupported formats in folders).
    pub skipped: usize,
    /// Pages read.
    pub pages: usize,
    /// Of which read by OCR.
    pub ocr_pages: usize,
    /// Time taken.
    pub elapsed: Duration,
}

impl Desk {
    /// Extract files as ingestion would (PDFs in worker processes, OCR for scans), reporting each
    /// file on `progress`; `cancel` stops before the next file. A file that fails never stops
    /// the others.
    ///
    /// # Errors
    /// With `chunks`: the embedding tokenizer cannot be read.
    pub async fn extract(
        &self,
        params: &ExtractParams,
        cancel: &CancelToken,
        progress: &mut (dyn FnMut(ExtractEvent<'_>) + Send),
    ) -> Result<ExtractSummary, DeskError> {
        let mut worker = WorkerConfig::lexdesk(self.worker_program.clone());
        worker.timeout = params.pdf_timeout;
        let options = IngestOptions::new(ExtractConfig {
            worker,
            ocr: if params.ocr { lexdesk_ingest::ocr::Ocr::detect() } else { None },
        });
        let counter = match params.chunks {
            true => Some(self.models().token_counter(&self.models().embedding().await?)?),
            false => None,
        };
        let inputs = lexdesk_ingest::inputs::collect(&params.files);
        let started = Instant::now();
        let total = inputs.len();
        let mut summary = ExtractSummary { files: total, ..ExtractSummary::default() };
        for (index, input) in inputs.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            let (file, config) = (input.path.clone(), options.extract.clone());
            let t = Instant::now();
            let result = tokio::task::spawn_blocking(move || extract(&file, &config))
                .await
                .map_err(|e| DeskError::Internal(format!("extraction task failed: {e}")))?;
            let path = input.path.as_path();
            let document = match result {
                Ok(doc) => doc,
                Err(ExtractError::Unsupported(reason)) if !input.explicit => {
                    summary.skipped += 1;
                    progress(ExtractEvent::Skipped { index, total, path, reason: &reason });
                    continue;
                }
                Err(e) => {
                    summary.failed += 1;
                    progress(ExtractEvent::Failed { index, total, path, error: &DeskError::from(e) });
                    continue;
                }
            };
            summary.extracted += 1;
            summary.pages += document.pages.len();
            summary.ocr_pages +=
                document.pages.iter().filter(|p| matches!(p.provenance, Provenance::Ocr { .. })).count();
            let chunks = counter.as_ref().map(|counter| {
                let texts: Vec<PageText<'_>> =
                    document.pages.iter().map(|p| PageText { number: p.number, text: &p.text }).collect();
                chunk_document(Some(&document.title), &texts, counter, &options.chunk)
            });
            let elapsed = t.elapsed();
            progress(ExtractEvent::Extracted { index, total, document: &document, chunks: chunks.as_deref(), elapsed });
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}
