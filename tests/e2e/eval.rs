//! `lexdesk eval` end to end: the project's example gold sets over the demo documents in a real
//! LanceDB matter, answered by real models (MiniLM for retrieval; the extractive mode, and
//! SmolLM2 for generated answers with two at once), a run killed with `kill -9` and resumed
//! without answering an item twice, exports in every format, a comparison of two retrieval
//! modes, and a gold set with errors refused row by row.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lexdesk_e2e::lexdesk_in;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ok(c: &mut std::process::Command) -> String {
    let out = c.output().expect("lexdesk starts");
    assert!(out.status.success(), "{c:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(c: &mut std::process::Command) -> serde_json::Value {
    let text = ok(c);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn metric(report: &serde_json::Value, key: &str) -> Option<f64> {
    report["metrics"].as_array().unwrap().iter().find(|m| m["key"] == key)?["estimate"]["value"].as_f64()
}

fn demo_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    ok(lexdesk_in(home.path()).args(["ingest", "--matter", "Demo"]).arg(repo().join("assets/demo")));
    let sets = repo().join("assets/evals");
    ok(lexdesk_in(home.path())
        .args(["eval", "sets", "import"])
        .arg(sets.join("demo-nda-en.jsonl"))
        .arg(sets.join("demo-contract-zh.jsonl"))
        .arg(sets.join("off-corpus.jsonl"))
        .arg(sets.join("demo-instructions.jsonl")));
    home
}

#[test]
fn example_sets_run_on_the_demo_matter_score_honestly_and_export_and_compare() {
    let home = demo_home();
    let sets = json(lexdesk_in(home.path()).args(["eval", "sets", "--json"]));
    let names: Vec<&str> = sets.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["demo-contract-zh", "demo-instructions", "demo-nda-en", "off-corpus"]);
    assert_eq!(sets[3]["should_abstain"], 12);

    // Extractive answers: retrieval, relevance and the citation checks, no generation.
    let hybrid = json(lexdesk_in(home.path()).args([
        "eval",
        "run",
        "demo-nda-en",
        "--matter",
        "Demo",
        "--mode",
        "extractive",
        "--label",
        "hybrid",
        "--json",
    ]));
    let run_a = hybrid["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(hybrid["run"]["status"], "finished");
    assert_eq!(hybrid["done"], 10);
    assert_eq!(hybrid["honest"], true);
    let verified = hybrid["verified_quotes"].as_u64().unwrap();
    assert!(verified >= 5, "extractive answers quote their passages: {verified}");
    assert_eq!(hybrid["honest_quotes"].as_u64().unwrap(), verified, "every verified quote is found again on its page");
    assert_eq!(metric(&hybrid, "honesty"), Some(1.0));
    let grounded = metric(&hybrid, "grounded").unwrap();
    let cited = metric(&hybrid, "citation_correct").unwrap();
    assert!(grounded >= 0.5 && cited >= 0.5, "the one NDA of the matter is cited: grounded {grounded}, cited {cited}");
    let kw =
        &hybrid["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "keyword_accuracy").unwrap()["estimate"];
    assert!(
        kw["low"].as_f64().unwrap() <= kw["value"].as_f64().unwrap() && kw["value"].as_f64() <= kw["high"].as_f64()
    );
    assert_eq!(kw["n"], 10);
    assert!(hybrid["tags"].as_array().unwrap().iter().any(|t| t["tag"] == "disputes" && t["items"] == 2));

    // The same set with full-text retrieval only, and the comparison of the two.
    let text = json(lexdesk_in(home.path()).args([
        "eval",
        "run",
        "demo-nda-en",
        "--matter",
        "Demo",
        "--mode",
        "extractive",
        "--search-mode",
        "text",
        "--label",
        "text",
        "--json",
    ]));
    let run_b = text["run"]["id"].as_str().unwrap().to_owned();
    let cmp = json(lexdesk_in(home.path()).args(["eval", "compare", &run_a, &run_b, "--json"]));
    let pair = &cmp["pairs"][0];
    assert_eq!(pair["paired"], 10);
    let kw = pair["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "keyword_accuracy").unwrap();
    assert!(kw["mcnemar"]["p_value"].as_f64().unwrap() <= 1.0);
    let delta = kw["delta"]["delta"].as_f64().unwrap();
    let (a, b) = (metric(&hybrid, "keyword_accuracy").unwrap(), metric(&text, "keyword_accuracy").unwrap());
    assert!((delta - (b - a)).abs() < 1e-9, "paired on all items: Δ = {delta}, {b} − {a}");
    let moved = pair["better"].as_array().unwrap().len() + pair["worse"].as_array().unwrap().len();
    let (better, worse) = (kw["mcnemar"]["better"].as_u64().unwrap(), kw["mcnemar"]["worse"].as_u64().unwrap());
    assert!(moved as u64 >= better.max(worse), "items that moved are listed");

    // Exports: one run in each format, and the comparison as a report.
    let out = tempfile::tempdir().unwrap();
    for ext in ["csv", "json", "xlsx", "html"] {
        let file = out.path().join(format!("run.{ext}"));
        ok(lexdesk_in(home.path()).args(["eval", "export", &run_a, "--out"]).arg(&file));
        let bytes = std::fs::read(&file).unwrap();
        match ext {
            "csv" => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.starts_with("id,question,tags,"), "{}", &text[..40]);
                assert_eq!(text.lines().filter(|l| l.starts_with("nda-")).count(), 10);
            }
            "json" => assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["items"].as_array().unwrap().len(),
                10
            ),
            "xlsx" => assert!(bytes.starts_with(b"PK\x03\x04") && bytes.len() > 5000),
            _ => {
                let html = String::from_utf8(bytes).unwrap();
                assert!(
                    html.contains("<svg") && html.contains("Citation honesty") && html.contains("Who are the parties")
                );
                assert!(!html.contains("<script"), "self-contained and inert");
            }
        }
    }
    let report = out.path().join("compare.html");
    ok(lexdesk_in(home.path()).args(["eval", "export", &run_a, &run_b, "--out"]).arg(&report));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("against the baseline") && html.matches("<svg").count() >= 2);

    // Chinese questions of the demo contract and the off-corpus set in one generated run,
    // two at a time on SmolLM2's two sequences.
    let zh = json(lexdesk_in(home.path()).args([
        "eval",
        "run",
        "off-corpus",
        "--matter",
        "Demo",
        "--limit",
        "4",
        "--parallel",
        "2",
        "--max-tokens",
        "48",
        "--json",
    ]));
    assert_eq!(zh["done"], 4);
    assert_eq!(zh["run"]["config"]["concurrency"], 2);
    assert_eq!(zh["honest"], true);
    assert!(metric(&zh, "abstention_recall").is_some());
    assert!(metric(&zh, "latency_ms").unwrap() > 0.0);

    // Instruction-only: no matter, the chat model alone.
    let instr = json(lexdesk_in(home.path()).args([
        "eval",
        "run",
        "demo-instructions",
        "--limit",
        "2",
        "--max-tokens",
        "32",
        "--json",
    ]));
    assert_eq!(instr["done"], 2);
    assert!(metric(&instr, "tokens_per_second").unwrap() > 0.0);
    assert_eq!(instr["run"]["config"]["matter"], serde_json::Value::Null);

    let list = json(lexdesk_in(home.path()).args(["eval", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 4);
}

/// The parseable lines of a run's JSONL file (a torn last line left out).
fn lines_of(run_dir: &Path, file: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn records(run_dir: &Path) -> Vec<serde_json::Value> {
    lines_of(run_dir, "items.jsonl")
}

#[test]
fn a_run_killed_mid_way_resumes_from_the_last_finished_item() {
    let home = demo_home();
    let mut child = lexdesk_in(home.path())
        .args(["eval", "run", "demo-contract-zh", "--matter", "Demo", "--max-tokens", "64", "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = home.path().join("evals/runs");
    let deadline = Instant::now() + Duration::from_secs(600);
    let run_dir = loop {
        let dir = std::fs::read_dir(&runs).ok().and_then(|mut d| d.next()).and_then(Result::ok).map(|e| e.path());
        if let Some(dir) = dir
            && records(&dir).len() >= 2
        {
            break dir;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(Instant::now() < deadline, "no item finished in time");
        #[allow(clippy::disallowed_methods, reason = "a plain test thread polls a file; no async runtime here")]
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let before = records(&run_dir);
    assert!(before.len() < 10, "killed mid-way");
    let id = run_dir.file_name().unwrap().to_str().unwrap().to_owned();
    let shown = json(lexdesk_in(home.path()).args(["eval", "show", &id, "--json"]));
    assert_eq!(shown["manifest"]["status"], "running");

    let resumed = json(lexdesk_in(home.path()).args(["eval", "resume", &id[..13], "--json"]));
    assert_eq!(resumed["run"]["status"], "finished");
    assert_eq!(resumed["done"], 10);
    let after = records(&run_dir);
    let mut ids: Vec<&str> = after.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10, "each item recorded once");
    assert_eq!(after.len(), 10, "a torn line was cut");
    for b in &before {
        let a = after.iter().find(|a| a["id"] == b["id"]).unwrap();
        assert_eq!(a["finished_ms"], b["finished_ms"], "{} was not answered again", b["id"]);
    }
    // A finished run is not resumed again.
    let out = lexdesk_in(home.path()).args(["eval", "resume", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("EVAL_RUN_FINISHED"));
}

fn judgements(run_dir: &Path) -> Vec<serde_json::Value> {
    lines_of(run_dir, "judgements.jsonl")
}

#[test]
fn the_llm_judge_grades_each_answer_once_and_is_labelled_as_weaker_evidence() {
    let home = demo_home();
    // Answers (extractive) and then the chat model (SmolLM2) as the judge, in one command.
    let run = json(lexdesk_in(home.path()).args([
        "eval",
        "run",
        "demo-nda-en",
        "--matter",
        "Demo",
        "--mode",
        "extractive",
        "--limit",
        "3",
        "--judge",
        "--label",
        "judged",
        "--json",
    ]));
    let id = run["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(run["run"]["config"]["judge"], true);
    assert_eq!(run["judge"]["judged"], 3, "{}", run["judge"]);
    assert!(run["judge"]["models"][0].as_str().unwrap().contains("SmolLM2"), "{}", run["judge"]);
    let unreadable = run["judge"]["unreadable"].as_u64().unwrap();

    let run_dir = home.path().join("evals/runs").join(&id);
    let first = judgements(&run_dir);
    assert_eq!(first.len(), 3);
    let mut scored = 0;
    for j in &first {
        assert!(!j["reply"].as_str().unwrap().trim().is_empty(), "the judge's reply is kept: {j}");
        assert_eq!(j["rubric"], 2);
        match j["score"].as_u64() {
            Some(s) => {
                assert!((1..=5).contains(&s), "{j}");
                scored += 1;
            }
            None => assert!(j["score"].is_null()),
        }
    }
    assert_eq!(scored + unreadable, 3, "unreadable replies are counted, not guessed");
    let score = run["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "judge_score").unwrap();
    assert!(score["label"].as_str().unwrap().contains("weaker evidence"));
    if scored > 0 {
        let v = score["estimate"]["value"].as_f64().unwrap();
        assert!((1.0..=5.0).contains(&v), "{score}");
        assert_eq!(score["estimate"]["n"], scored, "the mean is over readable scores only");
    } else {
        assert!(score["estimate"].is_null());
    }

    // Judging again keeps the grades (resumable, nothing graded twice); --again grades anew.
    ok(lexdesk_in(home.path()).args(["eval", "judge", &id]));
    assert_eq!(judgements(&run_dir), first, "items already judged are not judged again");
    let shown = json(lexdesk_in(home.path()).args(["eval", "judge", &id, "--again", "--json"]));
    assert_eq!(shown["judge"]["judged"], 3);
    let again = judgements(&run_dir);
    assert_eq!(again.len(), 3, "--again replaces the grades instead of adding to them");
    assert!(again.iter().zip(&first).all(|(a, b)| a["finished_ms"].as_i64() >= b["finished_ms"].as_i64()));
    // Greedy decoding: the same judge gives the same grades.
    let scores = |js: &[serde_json::Value]| js.iter().map(|j| j["score"].clone()).collect::<Vec<_>>();
    assert_eq!(scores(&again), scores(&first));

    // Grading stopped part-way (Cancel while the judge ran, one grade written): `eval judge`
    // grades only what is left and finishes the run.
    let manifest_path = run_dir.join("run.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["status"] = "cancelled".into();
    manifest["finished_ms"] = serde_json::Value::Null;
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    std::fs::write(run_dir.join("judgements.jsonl"), format!("{}\n", again[0])).unwrap();
    let resumed = json(lexdesk_in(home.path()).args(["eval", "judge", &id, "--json"]));
    assert_eq!(resumed["run"]["status"], "finished", "{}", resumed["run"]);
    assert_eq!(resumed["judge"]["judged"], 3);
    let after = judgements(&run_dir);
    assert_eq!(after.len(), 3);
    assert_eq!(after[0], again[0], "the grade written before the stop is kept, not graded again");
    let by_id = |js: &[serde_json::Value]| {
        let mut v = js.iter().map(|j| (j["id"].to_string(), j["score"].clone())).collect::<Vec<_>>();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(by_id(&after), by_id(&again));

    // The report says what the score is worth, and shows each grade with its reason.
    let html = home.path().join("judged.html");
    ok(lexdesk_in(home.path()).args(["eval", "export", &id, "--out"]).arg(&html));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("weaker evidence than the checked metrics"), "the HTML report labels the judge");
    assert!(text.contains("LLM judge ("), "each item shows its grade");
    let csv = home.path().join("judged.csv");
    ok(lexdesk_in(home.path()).args(["eval", "export", &id, "--out"]).arg(&csv));
    assert!(std::fs::read_to_string(&csv).unwrap().lines().next().unwrap().contains("judge_score,judge_reason"));
}

#[test]
fn a_gold_set_with_errors_is_refused_with_every_row_and_column_named() {
    let home = tempfile::tempdir().unwrap();
    let bad = home.path().join("firm-set.csv");
    std::fs::write(
        &bad,
        "id,question,keywords,sources,should_abstain,keywrods\n\
         q1,试用期多长？,三个月,劳动合同示例.md | 第一条,,\n\
         q1,重复的编号,x,,,\n\
         q3,,x,,,\n\
         q4,Which law?,,nda.md | p. 0,,\n\
         q5,Mars?,,,perhaps,\n",
    )
    .unwrap();
    let out = lexdesk_in(home.path()).args(["eval", "sets", "import"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "invalid data");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("EVAL_INVALID_SET"), "{err}");
    for needle in [
        "row 1, column keywrods: unknown column (did you mean `keywords`?)",
        "row 3, column id: the id \"q1\" is also on row 2",
        "row 4, column question: every item needs a question",
        "row 5, column sources: pages are numbered from 1",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    // Nothing was imported.
    let sets = json(lexdesk_in(home.path()).args(["eval", "sets", "--json"]));
    assert_eq!(sets.as_array().unwrap().len(), 0);
    let out =
        lexdesk_in(home.path()).args(["eval", "sets", "import"]).arg(home.path().join("set.txt")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("EVAL_UNSUPPORTED_FORMAT"));
}
