//! Matters, ingestion and search through the real `lexdesk` binary: real PDFs and statutes, the
//! real MiniLM embedding model and a real LanceDB store.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_cmd::prelude::*;
use lexdesk_core::store::{ChunkStore, DocumentStatus};
use lexdesk_e2e::{block_on, lexdesk_in, shared_dir, stdout_json};
use lexdesk_store::{LanceStore, StoreOptions};

fn lexdesk(home: &Path) -> Command {
    lexdesk_in(home)
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn summary(out: &[u8]) -> serde_json::Value {
    json_lines(out).into_iter().find(|e| e["event"] == "summary").expect("a summary line")["summary"].clone()
}

fn law(rel: &str) -> PathBuf {
    shared_dir().join("data/corpus/zh-laws").join(rel)
}

fn nda(name: &str) -> PathBuf {
    shared_dir().join("data/corpus/en-nda").join(name)
}

/// Heading path and text of a hit.
fn label(hit: &serde_json::Value) -> String {
    format!("{}\n{}", hit["heading"].as_str().unwrap(), hit["text"].as_str().unwrap())
}

fn search(home: &Path, matter: &str, mode: &str, query: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let v = stdout_json(
        lexdesk(home).args(["search", "--matter", matter, "--mode", mode, "--json", "-k", "5"]).args(extra).arg(query),
    );
    v.as_array().unwrap().clone()
}

#[test]
fn matters_ingest_search_remove_and_isolation() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let files = [
        law("社会法/劳动合同法(2012-12-28).md"),
        nda("nda-0003.txt"),
        nda("nda-0007.txt"),
        shared_dir().join("data/pdfs/generated/zh_contract_law.pdf"),
    ];

    lexdesk(h).args(["matter", "create", "Acme v. Roe"]).assert().success();
    let out = lexdesk(h).args(["ingest", "--matter", "acme v. roe", "--json"]).args(&files).assert().success();
    let s = summary(&out.get_output().stdout);
    assert_eq!(s["indexed"], 4, "{s}");
    assert!(s["chunks"].as_u64().unwrap() > 40, "{s}");
    assert!(s["tokens"].as_u64().unwrap() > 10_000, "{s}");
    assert_eq!(s["vector_index"]["method"], "exact");
    let events = json_lines(&out.get_output().stdout);
    assert!(events.iter().any(|e| e["event"] == "embedding" && e["pages_done"] == e["pages"] && e["pages"] == 9));

    // Full text in Chinese and English.
    let hits = search(h, "Acme v. Roe", "text", "第五十七条", &[]);
    assert!(
        hits.iter().take(3).any(|x| label(x).contains("第五十七条") && x["doc"] == "劳动合同法(2012-12-28).md"),
        "{hits:#?}"
    );
    let hits = search(h, "Acme v. Roe", "text", "劳动合同", &[]);
    assert!(!hits.is_empty() && label(&hits[0]).contains("劳动合同"), "{hits:#?}");
    let hits = search(h, "Acme v. Roe", "text", "reverse engineer", &[]);
    assert!(hits.iter().take(3).any(|x| label(x).to_lowercase().contains("reverse engineer")), "{hits:#?}");
    // PDF hits carry real page numbers.
    let hits = search(h, "Acme v. Roe", "text", "合同的订立", &["--doc", "zh_contract_law.pdf"]);
    assert!(!hits.is_empty());
    assert!(
        hits.iter().all(|x| x["doc"] == "zh_contract_law.pdf" && (1..=9).contains(&x["page"].as_u64().unwrap())),
        "{hits:#?}"
    );

    // Vector and hybrid search, restricted to one document.
    for mode in ["vector", "hybrid"] {
        let hits = search(
            h,
            "Acme v. Roe",
            mode,
            "The Receiving Party may not reverse engineer the information.",
            &["--doc", "nda-0003.txt"],
        );
        assert!(hits.iter().all(|x| x["doc"] == "nda-0003.txt"), "{hits:#?}");
        assert!(
            hits.iter().take(5).any(|x| x["text"].as_str().unwrap().contains("reverse engineer")),
            "{mode}: {hits:#?}"
        );
    }

    // Batch search: one line per question, page null for text files, numbers for PDFs.
    let questions = h.join("q.jsonl");
    std::fs::write(
        &questions,
        "{\"id\": \"q1\", \"question\": \"第五十七条\"}\n{\"id\": 2, \"question\": \"reverse engineer\", \"doc\": \"nda-0003.txt\"}\n{\"id\": \"q3\", \"question\": \"要约\", \"doc\": \"zh_contract_law.pdf\"}\n",
    )
    .unwrap();
    let out = lexdesk(h)
        .args(["search", "--matter", "Acme v. Roe", "--mode", "text", "--json", "--batch"])
        .arg(&questions)
        .assert()
        .success();
    let lines = json_lines(&out.get_output().stdout);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "q1");
    assert_eq!(lines[1]["id"], 2);
    let first = &lines[0]["hits"][0];
    for key in ["doc", "source", "page", "heading", "text", "score"] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
    assert!(first["page"].is_null(), "Markdown has no pages: {first}");
    assert!(first["source"].as_str().unwrap().ends_with("劳动合同法(2012-12-28).md"));
    assert!(lines[1]["hits"].as_array().unwrap().iter().all(|x| x["doc"] == "nda-0003.txt"));
    assert!(lines[2]["hits"][0]["page"].as_u64().is_some(), "{}", lines[2]);

    // Another matter sees none of it.
    lexdesk(h).args(["ingest", "--matter", "Other", "--json"]).arg(nda("nda-0007.txt")).assert().success();
    assert!(search(h, "Other", "text", "劳动合同", &[]).is_empty());
    assert!(search(h, "Other", "hybrid", "reverse engineer", &[]).iter().all(|x| x["doc"] == "nda-0007.txt"));
    let matters = stdout_json(lexdesk(h).args(["matter", "list", "--json"]));
    assert_eq!(matters.as_array().unwrap().len(), 2);

    // Re-ingesting is a no-op.
    let out = lexdesk(h).args(["ingest", "--matter", "Acme v. Roe", "--json"]).args(files).assert().success();
    let s = summary(&out.get_output().stdout);
    assert_eq!((s["indexed"].as_u64(), s["already_indexed"].as_u64()), (Some(0), Some(4)), "{s}");

    // Removing a document removes its pages and chunks.
    let docs = stdout_json(lexdesk(h).args(["docs", "--matter", "Acme v. Roe", "--json"]));
    assert_eq!(docs.as_array().unwrap().len(), 4);
    let removed = docs.as_array().unwrap().iter().find(|d| d["file_name"] == "nda-0003.txt").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    lexdesk(h).args(["docs", "--matter", "Acme v. Roe", "--remove", "nda-0003.txt"]).assert().success();
    let docs = stdout_json(lexdesk(h).args(["docs", "--matter", "Acme v. Roe", "--json"]));
    assert_eq!(docs.as_array().unwrap().len(), 3);
    assert!(
        search(h, "Acme v. Roe", "text", "reverse engineer disassemble decompile", &[])
            .iter()
            .all(|x| x["doc"] != "nda-0003.txt")
    );
    lexdesk(h)
        .args(["search", "--matter", "Acme v. Roe", "--doc", "nda-0003.txt", "x"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("DOCUMENT_NOT_FOUND"));
    let matter_dir = stdout_json(lexdesk(h).args(["matter", "list", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Acme v. Roe")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    block_on(async {
        let store =
            LanceStore::open(&Path::new(&matter_dir).join("store"), 384, StoreOptions::default()).await.unwrap();
        assert!(store.pages(&removed, &[]).await.unwrap().is_empty());
        assert_eq!(
            store.chunk_count().await.unwrap(),
            docs.as_array().unwrap().iter().map(|d| d["chunk_count"].as_u64().unwrap() as usize).sum::<usize>()
        );
    });

    lexdesk(h).args(["matter", "rename", "Other", "Other 2"]).assert().success();
    lexdesk(h).args(["matter", "delete", "Other 2"]).assert().success();
    lexdesk(h)
        .args(["search", "--matter", "Other 2", "x"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("MATTER_NOT_FOUND"));
}

#[test]
fn every_pdf_ingests_or_fails_with_a_clear_status() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // The project's own broken fixtures beside the shared real ones.
    let fixtures = tempfile::tempdir().unwrap();
    let f = fixtures.path();
    let source = std::fs::read(shared_dir().join("data/pdfs/court/missouri.pdf")).unwrap();
    std::fs::write(f.join("truncated.pdf"), &source[..source.len() * 4 / 10]).unwrap();
    std::fs::write(f.join("empty.pdf"), b"").unwrap();
    std::fs::write(f.join("notes.pdf"), b"my notes, not a PDF\n").unwrap();
    assert!(
        Command::new("qpdf")
            .args(["--encrypt", "secret", "owner", "256", "--"])
            .arg(shared_dir().join("data/pdfs/court/missouri.pdf"))
            .arg(f.join("encrypted.pdf"))
            .status()
            .unwrap()
            .success()
    );

    let out = lexdesk(h)
        .args(["ingest", "--matter", "pdfs", "--json"])
        .arg(shared_dir().join("data/pdfs"))
        .arg(f)
        .assert()
        .code(6); // some files failed; the run itself completed
    let s = summary(&out.get_output().stdout);
    let failed: Vec<(String, String)> = s["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                Path::new(x["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned(),
                x["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (name, code) in [
        ("truncated.pdf", "TRUNCATED"),
        ("empty.pdf", "EMPTY"),
        ("notes.pdf", "NOT_A_PDF"),
        ("encrypted.pdf", "PASSWORD_PROTECTED"),
    ] {
        assert!(failed.contains(&(name.to_string(), code.to_string())), "{name}: {failed:?}");
    }
    let shared_pdfs = walk_pdfs(&shared_dir().join("data/pdfs"));
    assert_eq!(s["indexed"].as_u64().unwrap() as usize + failed.len() - 4, shared_pdfs.len(), "{s}");
    assert!(s["ocr_pages"].as_u64().unwrap() >= 5, "scanned PDFs are OCR'd: {s}");

    let docs = stdout_json(lexdesk(h).args(["docs", "--matter", "pdfs", "--json"]));
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), shared_pdfs.len() + 4);
    for d in docs {
        match d["status"].as_str().unwrap() {
            "indexed" => {
                assert!(d["page_count"].as_u64().unwrap() > 0 && d["chunk_count"].as_u64().unwrap() > 0, "{d}")
            }
            "failed" => assert!(d["error_code"].is_string() && d["error_message"].is_string(), "{d}"),
            other => panic!("unexpected status {other}: {d}"),
        }
    }
    let scanned = docs.iter().find(|d| d["file_name"] == "image-pdf.pdf").unwrap();
    assert_eq!(scanned["status"], "indexed");
    assert!(scanned["ocr_pages"].as_u64().unwrap() >= 1, "{scanned}");
    assert!(scanned["extractor"].as_str().unwrap().contains("tesseract"), "{scanned}");
}

fn walk_pdfs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_pdfs(&p));
        } else if p.extension().is_some_and(|x| x == "pdf") {
            out.push(p);
        }
    }
    out
}

#[test]
fn kill_dash_nine_mid_ingestion_leaves_a_consistent_store_and_a_rerun_completes() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let corpus = shared_dir().join("data/corpus/en-nda");
    let total = std::fs::read_dir(&corpus).unwrap().count();

    let mut child = lexdesk(h)
        .args(["ingest", "--matter", "crash", "--json", "--batch-documents", "4"])
        .arg(&corpus)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Let two batches commit, then kill while the next one is in flight.
    let mut commits = 0;
    for line in lines.by_ref() {
        if line.unwrap().contains("\"committed\"") {
            commits += 1;
            if commits == 2 {
                break;
            }
        }
    }
    assert_eq!(commits, 2, "the ingestion committed two batches before the kill");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The store opens; whatever is listed as indexed is complete.
    let docs = stdout_json(lexdesk(h).args(["docs", "--matter", "crash", "--json"]));
    let before = docs.as_array().unwrap().iter().filter(|d| d["status"] == "indexed").count();
    assert!((8..total).contains(&before), "{before} of {total}");

    let out = lexdesk(h).args(["ingest", "--matter", "crash", "--json"]).arg(corpus).assert().success();
    let s = summary(&out.get_output().stdout);
    assert_eq!(s["already_indexed"].as_u64().unwrap() as usize, before, "{s}");
    assert_eq!(s["indexed"].as_u64().unwrap() as usize + before, total, "{s}");

    let matter_dir =
        stdout_json(lexdesk(h).args(["matter", "list", "--json"]))[0]["path"].as_str().unwrap().to_string();
    block_on(async {
        let store =
            LanceStore::open(&Path::new(&matter_dir).join("store"), 384, StoreOptions::default()).await.unwrap();
        let docs = store.documents().await.unwrap();
        assert_eq!(docs.len(), total);
        assert!(docs.iter().all(|d| d.status == DocumentStatus::Indexed));
        let expected: usize = docs.iter().map(|d| d.chunk_count as usize).sum();
        assert_eq!(store.chunk_count().await.unwrap(), expected, "no partial duplicates");
        let mut pages = 0;
        for d in &docs {
            pages += store.pages(&d.id, &[]).await.unwrap().len();
        }
        assert_eq!(pages, total, "one page per text file, none duplicated");
    });
}
