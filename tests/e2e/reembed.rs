//! Matters remember their embedding model (issue #21): a matter built with MiniLM keeps
//! searching with MiniLM after the default moved to multilingual-e5, says so, and re-embeds
//! with e5 — interrupted and resumed, with every document kept — after which a Chinese question
//! finds the English clause it translates, which MiniLM could not.

use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::SearchMode;
use lexdesk_desk::{IngestParams, ReembedEvent, SearchRequest};
use lexdesk_e2e::{block_on, lexdesk_defaults_in, multilingual_embed_model, plumbing_desk, shared_dir};

const CLAUSE_QUERY_ZH: &str = "如果法律要求披露保密信息，接收方应当怎么做？";

fn search(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        mode: SearchMode::Vector,
        top_k: 3,
        doc: None,
        vector_weight: None,
        rerank: None,
    }
}

#[test]
fn a_matter_keeps_its_embedder_and_reembeds_resumably_without_losing_documents() {
    let home = tempfile::tempdir().unwrap();
    let files: Vec<_> = ["nda-0003.txt", "nda-0009.txt", "nda-0010.txt"]
        .iter()
        .map(|f| shared_dir().join("data/corpus/en-nda").join(f))
        .collect();
    block_on(async {
        // Built with MiniLM.
        let minilm = plumbing_desk(home.path());
        let m = minilm.matters().create("NDAs").unwrap();
        let s = minilm
            .documents(&m.id)
            .ingest(&IngestParams::Paths(files.clone()), &CancelToken::new(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(s.indexed, 3);
        let docs_before = minilm.documents(&m.id).list().await.unwrap();
        let status = minilm.matters().embedder(&m.id).await.unwrap();
        assert!(status.current && status.recorded, "{status:?}");
        assert_eq!(status.built_with.as_ref().unwrap().model, "all-MiniLM-L6-v2-q8_0.gguf");
        let before = minilm.documents(&m.id).search(&search("disclosure required by law")).await.unwrap();
        drop(minilm);

        // The configured model is now e5: the matter still searches with MiniLM, and says so.
        let desk = plumbing_desk(home.path());
        let mut config = desk.settings().configuration();
        config.models.embed = multilingual_embed_model().display().to_string();
        let desk = desk.with_config(config);
        let status = desk.matters().embedder(&m.id).await.unwrap();
        assert!(!status.current, "{status:?}");
        assert_eq!(status.configured, "multilingual-e5-small-q4_0.gguf");
        let same = desk.documents(&m.id).search(&search("disclosure required by law")).await.unwrap();
        assert_eq!(same[0].chunk_id, before[0].chunk_id, "searched with the matter's own model");
        assert!((same[0].score - before[0].score).abs() < 1e-4);

        // Re-embedding, stopped after the first document: the matter is still on MiniLM.
        let cancel = CancelToken::new();
        let mut seen = Vec::new();
        let first = desk
            .documents(&m.id)
            .reembed(&cancel, &mut |e| {
                if matches!(e, ReembedEvent::Document { .. }) {
                    cancel.cancel();
                }
                seen.push(e);
            })
            .await
            .unwrap();
        assert!(first.cancelled && first.reembedded == 1, "{first:?}");
        assert!(matches!(seen[0], ReembedEvent::Started { documents: 3, resumed: 0 }), "{seen:?}");
        assert!(!desk.matters().embedder(&m.id).await.unwrap().current);
        assert_eq!(
            desk.documents(&m.id).search(&search("disclosure required by law")).await.unwrap()[0].chunk_id,
            before[0].chunk_id
        );

        // Run again: it resumes, swaps the stores and records e5.
        let second = desk.documents(&m.id).reembed(&CancelToken::new(), &mut |_| {}).await.unwrap();
        assert!(!second.cancelled && second.resumed == 1 && second.reembedded == 2, "{second:?}");
        let status = desk.matters().embedder(&m.id).await.unwrap();
        assert!(status.current && status.recorded, "{status:?}");
        assert_eq!(status.built_with.as_ref().unwrap().model, "multilingual-e5-small-q4_0.gguf");
        assert!(!m.reembed_dir().exists() && !m.dir.join("store.old").exists());
        let docs_after = desk.documents(&m.id).list().await.unwrap();
        let ids = |d: &[lexdesk_core::store::DocumentRecord]| {
            let mut v: Vec<(String, u32)> = d.iter().map(|d| (d.id.clone(), d.page_count)).collect();
            v.sort();
            v
        };
        assert_eq!(ids(&docs_after), ids(&docs_before), "every document and page kept");
        // Nothing left to do.
        let third = desk.documents(&m.id).reembed(&CancelToken::new(), &mut |_| {}).await.unwrap();
        assert_eq!((third.documents, third.reembedded), (0, 0));

        // e5 relates a Chinese question to the English clause it asks about.
        let zh = desk.documents(&m.id).search(&search(CLAUSE_QUERY_ZH)).await.unwrap();
        assert!(
            zh.iter().any(|h| h.doc == "nda-0010.txt" && h.text.contains("Disclosure Required by Law")),
            "{:#?}",
            zh.iter().map(|h| (&h.doc, &h.heading)).collect::<Vec<_>>()
        );
    });

    // The CLI lists the matter with its model, on the built-in defaults.
    let out = lexdesk_defaults_in(home.path()).args(["matter", "list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["embedder"]["built_with"]["model"], "multilingual-e5-small-q4_0.gguf");
    assert_eq!(list[0]["embedder"]["current"], true);
}

/// A matter whose store predates the record (no `embedder` in `matter.toml`) and has 384-wide
/// vectors was built with the old default, MiniLM: that is what searches it, until re-embedded.
#[test]
fn a_matter_without_a_record_is_taken_for_the_old_default() {
    let home = tempfile::tempdir().unwrap();
    let nda = shared_dir().join("data/corpus/en-nda/nda-0010.txt");
    block_on(async {
        let desk = plumbing_desk(home.path());
        let m = desk.matters().create("old").unwrap();
        desk.documents(&m.id).ingest(&IngestParams::Paths(vec![nda]), &CancelToken::new(), &mut |_| {}).await.unwrap();
        // Forget the record, as in a home from before it existed.
        let manifest = m.dir.join("matter.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let old: String = text.lines().take_while(|l| !l.starts_with("[embedder]")).map(|l| format!("{l}\n")).collect();
        std::fs::write(&manifest, old).unwrap();
        let status = desk.matters().embedder(&m.id).await.unwrap();
        assert!(!status.recorded && status.current, "{status:?}");
        assert_eq!(status.built_with.unwrap().model, lexdesk_desk::LEGACY_EMBED_MODEL);
    });
}

/// The desktop app's demo matter, built by an earlier version with MiniLM, moves itself to the
/// configured model (the shell calls this after preparing the demo).
#[test]
fn the_demo_matter_migrates_itself_to_the_configured_model() {
    let home = tempfile::tempdir().unwrap();
    let demo_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
    block_on(async {
        let old = plumbing_desk(home.path());
        let demo = old.matters().ensure_demo(Some(&demo_dir), &CancelToken::new(), &mut |_| {}).await.unwrap().unwrap();
        assert!(old.matters().migrate_demo(&CancelToken::new(), &mut |_| {}).await.unwrap().is_none(), "current");
        drop(old);
        let desk = plumbing_desk(home.path());
        let mut config = desk.settings().configuration();
        config.models.embed = multilingual_embed_model().display().to_string();
        let desk = desk.with_config(config);
        let migrated = desk.matters().migrate_demo(&CancelToken::new(), &mut |_| {}).await.unwrap().expect("migrated");
        assert_eq!((migrated.documents, migrated.reembedded), (2, 2), "{migrated:?}");
        let status = desk.matters().embedder(&demo.id).await.unwrap();
        assert!(status.current, "{status:?}");
        assert!(desk.matters().migrate_demo(&CancelToken::new(), &mut |_| {}).await.unwrap().is_none());
        // The Chinese sample contract answers a Chinese query through e5.
        let hits = desk
            .documents(&demo.id)
            .search(&SearchRequest {
                query: "试用期多长".into(),
                mode: SearchMode::Hybrid,
                top_k: 2,
                doc: None,
                vector_weight: None,
                rerank: None,
            })
            .await
            .unwrap();
        assert!(hits.iter().any(|h| h.doc == "劳动合同示例.md"), "{hits:?}");
    });
}
