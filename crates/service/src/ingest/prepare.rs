//! Stage 1, on a blocking thread: read, hash (SHA-256), skip content already indexed, extract
//! (PDFs in the worker process) and chunk one file.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lexdesk_core::ErrorCode;
use lexdesk_core::store::{ChunkRecord, DocumentRecord, DocumentStatus, PageProvenance, PageRecord};
use lexdesk_ingest::extract::{ExtractError, ExtractedDocument, extract};
use lexdesk_ingest::ocr::Provenance;
use lexdesk_ingest::{Language, PageText, TokenCounter, chunk_document};
use sha2::{Digest, Sha256};

use super::{FileOutcome, IngestOptions};
use crate::matters::now_ms;

/// A document ready to embed.
pub(super) struct Prepared {
    pub(super) index: usize,
    pub(super) path: PathBuf,
    pub(super) document: DocumentRecord,
    pub(super) pages: Vec<PageRecord>,
    pub(super) chunks: Vec<ChunkRecord>,
    pub(super) embed_texts: Vec<String>,
    pub(super) seconds: f64,
}

pub(super) enum Item {
    Prepared(Box<Prepared>),
    Done { index: usize, path: PathBuf, outcome: FileOutcome, failed: Option<Box<DocumentRecord>> },
}

pub(super) fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), size))
}

pub(super) fn language_str(l: Language) -> &'static str {
    match l {
        Language::Zh => "zh",
        Language::En => "en",
        Language::Und => "und",
    }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

pub(super) fn failed_record(id: String, path: &Path, size: u64, code: &str, message: String) -> DocumentRecord {
    DocumentRecord {
        id,
        file_name: file_name(path),
        source_path: path.display().to_string(),
        title: file_name(path),
        format: String::new(),
        size_bytes: size,
        page_count: 0,
        chunk_count: 0,
        ocr_pages: 0,
        status: DocumentStatus::Failed,
        error_code: Some(code.to_string()),
        error_message: Some(message),
        extractor: String::new(),
        added_at_ms: now_ms(),
    }
}

/// Chunk records (without vectors) of document `id`, and the text each is embedded from.
pub(crate) fn chunk_records(id: &str, chunks: Vec<lexdesk_ingest::Chunk>) -> (Vec<ChunkRecord>, Vec<String>) {
    let embed_texts = chunks.iter().map(lexdesk_ingest::Chunk::embed_text).collect();
    let records = chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| ChunkRecord {
            id: format!("{id}:{i}"),
            doc_id: id.to_string(),
            ordinal: u32::try_from(i).unwrap_or(u32::MAX),
            page_start: c.page_start,
            page_end: c.page_end,
            char_start: u32::try_from(c.char_start).unwrap_or(u32::MAX),
            char_end: u32::try_from(c.char_end).unwrap_or(u32::MAX),
            heading_path: c.heading_path,
            text: c.text,
            tokens: u32::try_from(c.tokens).unwrap_or(u32::MAX),
            language: language_str(c.language).into(),
            vector: Vec::new(),
        })
        .collect();
    (records, embed_texts)
}

pub(super) fn prepare<C: TokenCounter>(
    index: usize,
    path: &Path,
    explicit: bool,
    known: &mut HashMap<String, String>,
    counter: &C,
    options: &IngestOptions,
) -> Item {
    let started = Instant::now();
    let done = |outcome: FileOutcome, failed: Option<DocumentRecord>| Item::Done {
        index,
        path: path.to_path_buf(),
        outcome,
        failed: failed.map(Box::new),
    };
    let (id, size) = match sha256_file(path) {
        Ok(v) => v,
        Err(e) => {
            return done(
                FileOutcome::Failed { code: "IO".into(), message: format!("cannot read the file: {e}") },
                None,
            );
        }
    };
    if let Some(existing) = known.get(&id) {
        return done(FileOutcome::AlreadyIndexed { doc_id: id, existing: existing.clone() }, None);
    }
    let doc: ExtractedDocument = match extract(path, &options.extract) {
        Ok(doc) => doc,
        Err(ExtractError::Unsupported(why)) if !explicit => return done(FileOutcome::Skipped { reason: why }, None),
        Err(e) => {
            let record = failed_record(id, path, size, e.code(), e.to_string());
            return done(FileOutcome::Failed { code: e.code().into(), message: e.to_string() }, Some(record));
        }
    };
    let texts: Vec<PageText<'_>> = doc.pages.iter().map(|p| PageText { number: p.number, text: &p.text }).collect();
    let chunks = chunk_document(Some(&doc.title), &texts, counter, &options.chunk);
    if chunks.is_empty() {
        let message = if options.extract.ocr.is_some() {
            "no text could be read from the file, even with OCR".to_string()
        } else {
            "no text could be read from the file (OCR is off)".to_string()
        };
        let record = failed_record(id, path, size, "NO_TEXT", message.clone());
        return done(FileOutcome::Failed { code: "NO_TEXT".into(), message }, Some(record));
    }
    known.insert(id.clone(), path.display().to_string());
    let mut extractors: Vec<&str> = Vec::new();
    for p in &doc.pages {
        if !p.extractor.is_empty() && !extractors.contains(&p.extractor.as_str()) {
            extractors.push(&p.extractor);
        }
    }
    let ocr_pages = doc.pages.iter().filter(|p| matches!(p.provenance, Provenance::Ocr { .. })).count();
    let document = DocumentRecord {
        id: id.clone(),
        file_name: file_name(path),
        source_path: path.display().to_string(),
        title: doc.title.clone(),
        format: doc.format.clone(),
        size_bytes: size,
        page_count: u32::try_from(doc.pages.len()).unwrap_or(u32::MAX),
        chunk_count: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        ocr_pages: u32::try_from(ocr_pages).unwrap_or(u32::MAX),
        status: DocumentStatus::Ingesting,
        error_code: None,
        error_message: None,
        extractor: extractors.join("+"),
        added_at_ms: now_ms(),
    };
    let pages = doc
        .pages
        .iter()
        .map(|p| PageRecord {
            doc_id: id.clone(),
            number: p.number,
            text: p.text.clone(),
            provenance: match p.provenance {
                Provenance::TextLayer => PageProvenance::TextLayer,
                Provenance::Ocr { confidence } => PageProvenance::Ocr { confidence },
            },
            extractor: p.extractor.clone(),
            error: p.error.clone(),
        })
        .collect();
    let (chunks, embed_texts) = chunk_records(&id, chunks);
    Item::Prepared(Box::new(Prepared {
        index,
        path: path.to_path_buf(),
        document,
        pages,
        chunks,
        embed_texts,
        seconds: started.elapsed().as_secs_f64(),
    }))
}
