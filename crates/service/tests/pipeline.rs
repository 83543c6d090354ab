//! The ingestion pipeline and search orchestration against in-memory fakes (the real engine and
//! LanceDB store are exercised by the end-to-end tests in `tests/`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::{ChunkStore, DocumentStatus, SearchMode};
use lexdesk_ingest::extract::ExtractConfig;
use lexdesk_ingest::pdf::WorkerConfig;
use lexdesk_service::ingest::{FileOutcome, IngestEvent, IngestOptions, ingest};
use lexdesk_service::search::{SearchRequest, Searcher};

mod common;
use common::WordCounter;
use lexdesk_test_support::{DIMS, FakeEmbedder, FakeStore};

fn options() -> IngestOptions {
    // No PDFs are ingested here; the worker program is never started.
    let worker = WorkerConfig::lexdesk(PathBuf::from("/nonexistent/lexdesk"));
    let mut o = IngestOptions::new(ExtractConfig { worker, ocr: None });
    o.write_documents = 2;
    o.embed_batch = 3;
    o
}

fn corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(
        d.join("nda.md"),
        "# Mutual NDA\n\n## 1. Confidential Information\n\nThe Receiving Party shall not reverse engineer any sample.\n\n## 2. Term\n\nThis Agreement lasts two years.\n",
    )
    .unwrap();
    std::fs::write(d.join("sub/copy-of-nda.md"), std::fs::read(d.join("nda.md")).unwrap()).unwrap();
    std::fs::write(
        d.join("sub/labour.txt"),
        "中华人民共和国劳动合同法\n第一条 为了完善劳动合同制度，明确劳动合同双方当事人的权利和义务，制定本法。\n第二条 本法适用于企业。\n",
    )
    .unwrap();
    std::fs::write(d.join("sub/photo.png"), b"\x89PNG\r\n\x1a\n0000").unwrap();
    dir
}

async fn run(store: &FakeStore, paths: &[PathBuf]) -> (lexdesk_service::ingest::IngestSummary, Vec<IngestEvent>) {
    let embedder = FakeEmbedder { calls: Mutex::new(0) };
    let mut events = Vec::new();
    let summary =
        ingest(store, &embedder, Arc::new(WordCounter), paths, &options(), &CancelToken::new(), |e| events.push(e))
            .await
            .unwrap();
    (summary, events)
}

#[tokio::test]
async fn folder_ingest_dedupes_skips_and_reports_failures() {
    let dir = corpus();
    let fake_pdf = dir.path().join("not-really.pdf");
    std::fs::write(&fake_pdf, "this is a text file with a pdf extension").unwrap();
    let store = FakeStore::default();
    let (summary, events) = run(&store, &[dir.path().to_path_buf(), fake_pdf.clone()]).await;

    assert_eq!(summary.indexed, 2, "{summary:#?}");
    assert_eq!(summary.already_indexed, 1, "the copy has the same content");
    assert_eq!(summary.skipped, 1, "the PNG found in the folder is not a document");
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.failed[0].code, "NOT_A_PDF");
    assert!(summary.chunks >= 3 && summary.tokens > 0, "{summary:#?}");

    let docs = store.documents().await.unwrap();
    assert_eq!(docs.iter().filter(|d| d.status == DocumentStatus::Indexed).count(), 2);
    let failed: Vec<_> = docs.iter().filter(|d| d.status == DocumentStatus::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error_code.as_deref(), Some("NOT_A_PDF"));
    assert!(store.chunks.lock().unwrap().iter().all(|c| c.vector.len() == DIMS));
    assert!(*store.writes.lock().unwrap() >= 1);

    // Events: started first, one file event per file, embedding progress reaches every page.
    assert!(matches!(events[0], IngestEvent::Started { files: 5 }));
    let files = events.iter().filter(|e| matches!(e, IngestEvent::File { .. })).count();
    assert_eq!(files, 5);
    assert!(
        events.iter().any(|e| matches!(e, IngestEvent::Embedding { pages_done, pages, .. } if pages_done == pages))
    );
    assert!(events.iter().any(|e| matches!(e, IngestEvent::Committed { .. })));
    assert!(matches!(events.last(), Some(IngestEvent::Optimizing)));

    // A second run changes nothing but retries the failed file.
    let chunks_before = store.chunks.lock().unwrap().len();
    let (again, events) = run(&store, &[dir.path().to_path_buf(), fake_pdf]).await;
    assert_eq!(again.indexed, 0);
    assert_eq!(again.already_indexed, 3);
    assert_eq!(again.failed.len(), 1);
    assert_eq!(store.chunks.lock().unwrap().len(), chunks_before);
    assert_eq!(store.documents().await.unwrap().len(), 3, "one failed row, not two");
    assert!(
        events.iter().any(|e| matches!(e, IngestEvent::File { outcome: FileOutcome::AlreadyIndexed { existing, .. }, .. } if existing.ends_with("nda.md")))
    );
}

#[tokio::test]
async fn chunks_carry_pages_offsets_headings_and_language() {
    let dir = corpus();
    let store = FakeStore::default();
    run(&store, &[dir.path().join("sub/labour.txt")]).await;
    let chunks = store.chunks.lock().unwrap().clone();
    let pages = store.pages.lock().unwrap().clone();
    assert_eq!(pages.len(), 1);
    for c in &chunks {
        assert_eq!(c.language, "zh");
        assert!(c.id.starts_with(&c.doc_id));
        let page: Vec<char> = pages[0].text.chars().collect();
        let slice: String = page[c.char_start as usize..c.char_end as usize].iter().collect();
        assert_eq!(slice, c.text, "offsets address the stored page text");
    }
    assert!(chunks.iter().any(|c| c.heading_path.iter().any(|h| h.contains("劳动合同法"))), "{chunks:#?}");
}

#[tokio::test]
async fn cancelled_run_stops_and_says_so() {
    let dir = corpus();
    let store = FakeStore::default();
    let cancel = CancelToken::new();
    cancel.cancel();
    let embedder = FakeEmbedder { calls: Mutex::new(0) };
    let summary =
        ingest(&store, &embedder, Arc::new(WordCounter), &[dir.path().to_path_buf()], &options(), &cancel, |_| {})
            .await
            .unwrap();
    assert!(summary.cancelled);
    assert_eq!(summary.indexed, 0);
    assert!(store.chunks.lock().unwrap().is_empty());
}

#[tokio::test]
async fn search_modes_filters_and_errors() {
    let dir = corpus();
    let store = FakeStore::default();
    run(&store, &[dir.path().to_path_buf()]).await;
    let embedder = FakeEmbedder { calls: Mutex::new(0) };
    let searcher = Searcher::new(&store, Some(&embedder)).await.unwrap();
    let req = |query: &str, mode, doc: Option<&str>| SearchRequest {
        query: query.into(),
        mode,
        top_k: 3,
        doc: doc.map(str::to_string),
        vector_weight: None,
        rerank: None,
    };
    for mode in [SearchMode::Text, SearchMode::Vector, SearchMode::Hybrid] {
        let hits = searcher.search(&req("reverse engineer", mode, None)).await.unwrap();
        assert!(!hits.is_empty(), "{mode:?}");
        assert!(hits[0].text.contains("reverse engineer"), "{mode:?}: {hits:#?}");
        assert_eq!(hits[0].doc, "nda.md");
        assert!(hits.len() <= 3);
    }
    let only = searcher.search(&req("reverse engineer", SearchMode::Hybrid, Some("labour.txt"))).await.unwrap();
    assert!(only.iter().all(|h| h.doc == "labour.txt"), "{only:#?}");
    assert!(matches!(
        searcher.search(&req("x", SearchMode::Text, Some("missing.pdf"))).await,
        Err(lexdesk_service::search::SearchError::DocumentNotFound(_))
    ));
    assert!(matches!(
        searcher.search(&req("  ", SearchMode::Text, None)).await,
        Err(lexdesk_service::search::SearchError::EmptyQuery)
    ));
    let no_embedder: Searcher<'_, FakeStore, FakeEmbedder> = Searcher::new(&store, None).await.unwrap();
    assert!(matches!(
        no_embedder.search(&req("x", SearchMode::Vector, None)).await,
        Err(lexdesk_service::search::SearchError::NoEmbedder)
    ));
}
