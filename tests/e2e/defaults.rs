//! The built-in defaults (issue #21): Qwen2.5-Coder-1.5B-Instruct answers and multilingual-e5
//! retrieves, out of the box, for a Chinese question about a Chinese contract.

use lexdesk_e2e::{lexdesk_defaults_in, stdout_json};

#[test]
fn the_built_in_models_answer_a_chinese_question_with_a_verified_citation() {
    let home = tempfile::tempdir().unwrap();
    let contract = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/demo/劳动合同示例.md");
    let out =
        lexdesk_defaults_in(home.path()).args(["ingest", "--matter", "劳动合同"]).arg(&contract).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = stdout_json(lexdesk_defaults_in(home.path()).args(["matter", "list", "--json"]));
    assert_eq!(list[0]["embedder"]["built_with"]["model"], "multilingual-e5-small-q4_0.gguf");

    let answer = stdout_json(lexdesk_defaults_in(home.path()).args([
        "ask",
        "--matter",
        "劳动合同",
        "--json",
        "乙方的试用期是多长时间？",
    ]));
    assert_eq!(answer["abstained"], false, "{answer:#}");
    assert_eq!(answer["language"], "zh");
    let text = answer["answer"].as_str().unwrap();
    assert!(text.contains("三个月") || text.contains("3个月"), "{text}");
    let citations = answer["citations"].as_array().unwrap();
    assert!(
        citations.iter().any(|c| c["verified"] == true && c["doc"] == "劳动合同示例.md"),
        "a verified citation of the contract: {citations:#?}"
    );

    // The reranker (the chat model judging each candidate, Qwen3-Reranker's format) puts the
    // clause that states the probation period first; hybrid search alone ranks the salary clause,
    // which names the probation period too, above it. `auto` leaves it off on a CPU.
    let search = |rerank: Option<&str>| {
        let mut c = lexdesk_defaults_in(home.path());
        c.args(["search", "--matter", "劳动合同", "--json", "-k", "3"]);
        if let Some(r) = rerank {
            c.args(["--rerank", r]);
        }
        stdout_json(c.arg("乙方的试用期是多长时间？"))
    };
    let reranked = search(Some("on"));
    assert!(reranked[0]["text"].as_str().unwrap().contains("试用期为三个月"), "{reranked:#}");
    assert!(reranked[0]["rerank_score"].as_f64().unwrap() > reranked[1]["rerank_score"].as_f64().unwrap());
    let auto = search(None);
    assert!(auto[0]["rerank_score"].is_null(), "auto is off without a GPU: {auto:#}");
}
