//! Grounded answers through the real `lexdesk` binary: a small matter built from real statutes,
//! an NDA and a Chinese PDF, the real MiniLM embedder, a real LanceDB store and the real tiny chat
//! model (SmolLM2-135M). Every citation marked verified must really be on its page.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use assert_cmd::prelude::*;
use lexdesk_core::store::ChunkStore;
use lexdesk_e2e::{block_on, chat_model, lexdesk_in, shared_dir, stdout_json};
use lexdesk_service::cite;
use lexdesk_store::{LanceStore, StoreOptions};

fn lexdesk(home: &Path) -> Command {
    lexdesk_in(home)
}

/// One matter for all tests of this module (ingestion is the slow part): the 劳动合同法, one NDA
/// and the nine-page Chinese contract-law PDF.
fn matter() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = vec![
            shared_dir().join("data/corpus/zh-laws/社会法/劳动合同法(2012-12-28).md"),
            shared_dir().join("data/corpus/en-nda/nda-0003.txt"),
            shared_dir().join("data/pdfs/generated/zh_contract_law.pdf"),
        ];
        lexdesk(home.path()).args(["ingest", "--matter", "M", "--json"]).args(&files).assert().success();
        home
    })
    .path()
}

fn store_dir(home: &Path) -> PathBuf {
    let list = stdout_json(lexdesk(home).args(["matter", "list", "--json"]));
    Path::new(list[0]["path"].as_str().unwrap()).join("store")
}

fn ask(home: &Path, args: &[&str], question: &str) -> serde_json::Value {
    stdout_json(lexdesk(home).args(["ask", "--matter", "M", "--json"]).args(args).arg(question))
}

/// Every verified citation's span holds its quote on the stored page; unverified ones carry no
/// span and a reason. Returns the number of verified citations.
fn check_citations(home: &Path, answer: &serde_json::Value) -> usize {
    let docs = stdout_json(lexdesk(home).args(["docs", "--matter", "M", "--json"]));
    let id_of = |file: &str| -> String {
        docs.as_array().unwrap().iter().find(|d| d["file_name"] == file).unwrap()["id"].as_str().unwrap().to_string()
    };
    let citations = answer["citations"].as_array().expect("citations array");
    let mut verified = 0;
    block_on(async {
        let store = LanceStore::open(&store_dir(home), 384, StoreOptions::default()).await.unwrap();
        for c in citations {
            for key in ["id", "doc", "source", "page", "heading", "quote", "verified", "start", "end"] {
                assert!(c.get(key).is_some(), "citation without `{key}`: {c}");
            }
            if c["verified"] != true {
                assert!(c["start"].is_null() && c["end"].is_null(), "{c}");
                assert!(c["problem"].is_string(), "{c}");
                continue;
            }
            verified += 1;
            let doc = id_of(c["doc"].as_str().unwrap());
            let page = c["page"].as_u64().map_or(1, |p| u32::try_from(p).unwrap());
            let pages = store.pages(&doc, &[page]).await.unwrap();
            let text: Vec<char> = pages[0].text.chars().collect();
            let (start, end) = (c["start"].as_u64().unwrap() as usize, c["end"].as_u64().unwrap() as usize);
            assert!(start < end && end <= text.len(), "{c}");
            let span: String = text[start..end].iter().collect();
            let quote = cite::fold(c["quote"].as_str().unwrap());
            let span = cite::fold(&span);
            // The span is the longest contiguous match: it lies inside the quote and covers ≥ 85 %.
            assert!(quote.contains(&span), "span {span:?} not in quote {quote:?}");
            assert!(span.chars().count() * 100 >= quote.chars().count() * 85, "{span:?} vs {quote:?}");
        }
    });
    verified
}

#[test]
fn extractive_answers_cite_verified_passages_with_exact_spans() {
    let home = matter();
    let a =
        ask(home, &["--mode", "extractive"], "Can the receiving party reverse engineer the confidential information?");
    assert_eq!(a["abstained"], false, "{a:#}");
    assert!(a["answer"].as_str().unwrap().contains("reverse engineer"), "{a:#}");
    assert!(check_citations(home, &a) >= 1, "{a:#}");
    assert_eq!(a["citations"][0]["doc"], "nda-0003.txt");
    assert!(a["citations"][0]["page"].is_null(), "plain text has no pages: {a:#}");

    // A PDF page: the citation carries the page number and the span on that page.
    let a =
        ask(home, &["--mode", "extractive", "--doc", "zh_contract_law.pdf"], "合同的权利义务关系终止的情形有哪些？");
    assert_eq!(a["abstained"], false, "{a:#}");
    assert!(a["citations"][0]["page"].as_u64().is_some(), "{a:#}");
    assert!(check_citations(home, &a) >= 1, "{a:#}");
}

#[test]
fn an_article_number_in_arabic_numerals_finds_the_article() {
    let home = matter();
    let hits =
        stdout_json(lexdesk(home).args(["search", "--matter", "M", "--json", "-k", "3", "劳动合同法第57条规定了什么"]));
    let first = &hits[0];
    assert_eq!(first["structural"], true, "{hits:#}");
    assert!(
        first["heading"].as_str().unwrap().contains("第五十七条")
            || first["text"].as_str().unwrap().contains("第五十七条"),
        "{first:#}"
    );
}

#[test]
fn questions_the_documents_do_not_address_are_declined_with_what_was_searched() {
    let home = matter();
    for q in ["What is the capital of France?", "如何烹饪红烧肉？"] {
        let a = ask(home, &["-m", chat_model().to_str().unwrap()], q);
        assert_eq!(a["abstained"], true, "{q}: {a:#}");
        assert_eq!(a["abstention"]["code"], "NO_RELEVANT_PASSAGES", "{q}: {a:#}");
        assert!(a["citations"].as_array().unwrap().is_empty());
        assert!(!a["searched"]["passages"].as_array().unwrap().is_empty(), "shows what was searched: {a:#}");
        assert!(a["searched"]["passages"].as_array().unwrap().iter().all(|p| p["relevant"] == false));
        // Nothing was generated.
        assert!(a["usage"].is_null(), "{a:#}");
    }
}

#[test]
fn generated_answers_from_the_real_chat_model_have_checked_citations() {
    let home = matter();
    let model = chat_model();
    for q in
        ["Can the receiving party reverse engineer the confidential information?", "劳动合同法第五十七条规定了什么？"]
    {
        let a = ask(home, &["-m", model.to_str().unwrap(), "--max-tokens", "160"], q);
        for key in ["answer", "abstained", "citations", "unsupported_claims", "usage", "timings", "searched"] {
            assert!(a.get(key).is_some(), "no `{key}`: {a:#}");
        }
        assert!(a["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{a:#}");
        assert!(a["timings"]["first_token_ms"].as_f64().unwrap() > 0.0, "{a:#}");
        assert!(!a["answer"].as_str().unwrap().trim().is_empty(), "{a:#}");
        // The tiny model rarely quotes exactly: whatever it cites is checked, and if nothing it
        // said is verified, the answer abstains and shows checked passages instead.
        let verified = check_citations(home, &a);
        if a["abstained"] == true {
            assert_ne!(a["abstention"]["code"], "NO_RELEVANT_PASSAGES", "relevant passages exist: {a:#}");
            assert!(a["draft"].is_string(), "{a:#}");
        } else {
            assert!(verified >= 1, "{a:#}");
        }
    }
}

#[test]
fn chat_sessions_are_saved_reused_and_exported() {
    let home = matter();
    let mut child = lexdesk(home)
        .args(["chat", "--matter", "M", "--mode", "extractive"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("What may the receiving party not do with confidential information?\n用人单位什么情况下应当支付经济补偿？\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = stdout_json(lexdesk(home).args(["session", "list", "--matter", "M", "--json"]));
    let session = list.as_array().unwrap().iter().find(|s| s["turns"] == 2).expect("a session with two turns");
    let id = session["id"].as_str().unwrap();
    let md =
        lexdesk(home).args(["session", "export", "--matter", "M", id]).assert().success().get_output().stdout.clone();
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains("## 1. What may the receiving party not do"), "{md}");
    assert!(md.contains("## 2. 用人单位什么情况下应当支付经济补偿"), "{md}");
    assert!(md.contains("(verified)"), "{md}");
    let json = stdout_json(lexdesk(home).args(["session", "export", "--matter", "M", "--format", "json", id]));
    assert_eq!(json["turns"].as_array().unwrap().len(), 2);
    lexdesk(home).args(["session", "rename", "--matter", "M", id, "Confidentiality"]).assert().success();
    lexdesk(home).args(["session", "delete", "--matter", "M", id]).assert().success();
    let list = stdout_json(lexdesk(home).args(["session", "list", "--matter", "M", "--json"]));
    assert!(list.as_array().unwrap().iter().all(|s| s["id"] != id));
}

#[test]
fn the_demo_matter_answers_from_its_documents() {
    // What `installers/dev/run.sh` does before opening the chat.
    let home = tempfile::tempdir().unwrap();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
    lexdesk(home.path()).args(["ingest", "--matter", "Demo", "--json"]).arg(&demo).assert().success();
    for (question, doc, words) in [
        ("How much notice is needed to terminate the NDA?", "mutual-nda-sample.md", "thirty (30) days' written notice"),
        ("试用期的工资是多少？", "劳动合同示例.md", "试用期月工资为人民币一万六千元"),
    ] {
        let a = stdout_json(
            lexdesk(home.path()).args(["ask", "--matter", "Demo", "--mode", "extractive", "--json"]).arg(question),
        );
        assert_eq!(a["abstained"], false, "{question}: {a:#}");
        let c = &a["citations"][0];
        assert_eq!(c["doc"], doc, "{question}: {a:#}");
        assert_eq!(c["verified"], true, "{question}: {a:#}");
        assert!(c["quote"].as_str().unwrap().contains(words), "{question}: {a:#}");
    }
}
