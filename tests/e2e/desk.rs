//! The application handle the desktop shell (and later the server) adapts, with the real
//! models, the real LanceDB store and the real PDF worker (the `lexdesk` binary): ingestion with
//! progress events, a failed file, page text, a grounded answer saved as a session turn,
//! cancellation, export, removal.

use std::path::PathBuf;

use lexdesk_core::ErrorCode;
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::DocumentStatus;
use lexdesk_desk::{AnswerProgress, AskParams, Desk, ExportFormat};
use lexdesk_e2e::{block_on, shared_dir};
use lexdesk_service::answer::AnswerMode;
use lexdesk_service::ingest::IngestEvent;

fn desk(home: &std::path::Path) -> Desk {
    lexdesk_e2e::plumbing_desk(home)
}

#[test]
fn a_matter_from_files_to_a_cited_answer() {
    let home = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let broken = files.path().join("broken.pdf");
    std::fs::write(&broken, "not a pdf at all").unwrap();
    let nda = shared_dir().join("data/corpus/en-nda/nda-0003.txt");
    let pdf = shared_dir().join("data/pdfs/generated/en_two_column.pdf");
    let desk = desk(home.path());
    let matter = desk.matters().create("Two NDAs").unwrap();

    block_on(async {
        let mut events = Vec::new();
        let summary = desk
            .documents(&matter.id)
            .ingest(
                &lexdesk_desk::IngestParams::Paths(vec![nda.clone(), pdf.clone(), broken.clone()]),
                &CancelToken::new(),
                &mut |e| events.push(e),
            )
            .await
            .unwrap();
        assert_eq!((summary.indexed, summary.failed.len()), (2, 1), "{summary:?}");
        assert_eq!(summary.failed[0].code, "NOT_A_PDF");
        assert!(matches!(events.first(), Some(IngestEvent::Started { files: 3 })));
        assert!(events.iter().any(|e| matches!(e, IngestEvent::Embedding { .. })), "page progress is reported");

        let docs = desk.documents(&matter.id).list().await.unwrap();
        assert_eq!(docs.len(), 3);
        let failed = docs.iter().find(|d| d.status == DocumentStatus::Failed).unwrap();
        assert_eq!(failed.error_code.as_deref(), Some("NOT_A_PDF"));
        let pdf_doc = docs.iter().find(|d| d.file_name == "en_two_column.pdf").unwrap();
        let page = desk.documents(&matter.id).page(&pdf_doc.id, 1).await.unwrap();
        assert!(page.text.len() > 200 && page.page_count >= 1, "{page:?}");
        let e = desk.documents(&matter.id).page(&pdf_doc.id, 999).await.unwrap_err();
        assert_eq!(e.code(), "PAGE_NOT_FOUND");
        let e = desk.documents(&matter.id).page(&failed.id, 1).await.unwrap_err();
        assert_eq!(e.code(), "DOCUMENT_NOT_INDEXED");

        // Extractive: deterministic, no chat model; every verified citation is on its page.
        let mut streamed_retrieval = false;
        let result = desk
            .answers(&matter.id)
            .ask(
                &AskParams {
                    question: "May the receiving party reverse engineer the disclosed software?".into(),
                    mode: Some(AnswerMode::Extractive),
                    ..AskParams::default()
                },
                &CancelToken::new(),
                &mut |p| streamed_retrieval |= matches!(p, AnswerProgress::Retrieved(_)),
            )
            .await
            .unwrap();
        assert!(streamed_retrieval);
        let answer = &result.turn.answer;
        assert!(!answer.abstained, "{answer:?}");
        let verified: Vec<_> = answer.citations.iter().filter(|c| c.verified).collect();
        assert!(!verified.is_empty());
        for c in verified {
            let passage = answer.searched.passages.iter().find(|p| p.id.as_deref() == Some(&c.id)).unwrap();
            let page = desk.documents(&matter.id).page(&passage.doc_id, c.page.unwrap_or(1)).await.unwrap();
            let span: String = page
                .text
                .chars()
                .skip(c.start.unwrap() as usize)
                .take((c.end.unwrap() - c.start.unwrap()) as usize)
                .collect();
            assert!(!span.trim().is_empty(), "the span of {} is on page {:?}", c.id, c.page);
        }

        // A follow-up in the same session with the real chat model, stopped after its first text.
        let cancel = CancelToken::new();
        let stop = cancel.clone();
        let mut text = String::new();
        let follow = desk
            .answers(&matter.id)
            .ask(
                &AskParams {
                    question: "How can either party terminate the agreement?".into(),
                    session_id: Some(result.session.id.clone()),
                    ..AskParams::default()
                },
                &cancel,
                &mut |p| {
                    if let AnswerProgress::Token(t) = p {
                        text.push_str(t);
                        stop.cancel();
                    }
                },
            )
            .await
            .unwrap();
        assert!(follow.turn.answer.stopped, "the Stop button stops generation");
        assert!(text.chars().count() < 200, "stopped right after the first text: {text:?}");
        assert_eq!(follow.session.id, result.session.id);
        assert_eq!(follow.session.turns, 2);

        let sessions = desk.answers(&matter.id).sessions().unwrap();
        assert_eq!(sessions.len(), 1);
        let md = desk.answers(&matter.id).export_session(&result.session.id, ExportFormat::Markdown).unwrap();
        assert!(md.contains("reverse engineer"), "{md}");
        let out = files.path().join("session.json");
        desk.answers(&matter.id).export_session_to(&result.session.id, ExportFormat::Json, &out).unwrap();
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(json["turns"].as_array().unwrap().len(), 2);
        let e = desk
            .answers(&matter.id)
            .export_session_to(&result.session.id, ExportFormat::Json, &PathBuf::from("/no/such/dir/x.json"))
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_PATH");

        // Retry the failed file (still broken: still failed, with its reason), then remove it.
        let retried = desk
            .documents(&matter.id)
            .ingest(&lexdesk_desk::IngestParams::Retry { doc_id: failed.id.clone() }, &CancelToken::new(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(retried.failed.len(), 1);
        desk.documents(&matter.id).remove(&failed.id).await.unwrap();
        assert_eq!(desk.documents(&matter.id).list().await.unwrap().len(), 2);
        let e = desk.documents(&matter.id).remove(&failed.id).await.unwrap_err();
        assert_eq!(e.code(), "DOCUMENT_NOT_FOUND");
    });
}

#[test]
fn the_demo_matter_is_prepared_once() {
    let home = tempfile::tempdir().unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
    let desk = desk(home.path());
    block_on(async {
        let m = desk
            .matters()
            .ensure_demo(Some(&demo), &lexdesk_core::generate::CancelToken::new(), &mut |_| {})
            .await
            .unwrap()
            .expect("created");
        assert_eq!(m.name, "Demo");
        assert_eq!(desk.documents(&m.id).list().await.unwrap().len(), 2);
        let again = desk
            .matters()
            .ensure_demo(Some(&demo), &lexdesk_core::generate::CancelToken::new(), &mut |_| {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, m.id);
        desk.matters().delete(&m.id).unwrap();
        assert!(
            desk.matters()
                .ensure_demo(Some(&demo), &lexdesk_core::generate::CancelToken::new(), &mut |_| {})
                .await
                .unwrap()
                .is_none(),
            "a deleted demo stays deleted"
        );
    });
}
