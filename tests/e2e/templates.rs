//! Prompt templates through the real `lexdesk` binary: the library (built-ins, import, export,
//! duplicate, delete, invalid files), deterministic rendering, the token-count preview and a
//! side-by-side comparison on the real tiny chat model (SmolLM2-135M), an evidence template over
//! a matter built with the real embedder and store, and the comparison history.

use std::path::Path;
use std::process::Command;

use assert_cmd::prelude::*;
use lexdesk_e2e::{chat_model, lexdesk_in, shared_dir, stdout_json};
use predicates::prelude::*;

fn lexdesk(home: &Path) -> Command {
    lexdesk_in(home)
}

const REPORT: &str = "Northwind Holdings annual report 2024. Revenue rose to USD 12.4 million, up 8% year on \
year, and the overseas share of revenue reached 31%. The board plans two new plants in Poland by 2026 and will \
keep R&D spending at 9% of revenue. Risks: higher copper prices and receivables of USD 3.1 million overdue.";

const COMPLAINT: &str = "I ordered a kettle (order 5531, USD 12.4) with delivery promised in three days. It \
arrived after nine days and the lid leaks. Nobody answered my two e-mails. I want a refund.";

#[test]
fn templates_library_lists_builtins_renders_deterministically_and_names_errors() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    // Sixteen built-ins, each in Chinese and English.
    let listing = stdout_json(lexdesk(home).args(["templates", "list", "--json"]));
    let templates = listing["templates"].as_array().unwrap();
    assert_eq!(templates.len(), 16, "{listing:#}");
    assert!(templates.iter().all(|t| t["source"] == "builtin"), "{listing:#}");
    let find = |name: &str| templates.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name}"));
    assert_eq!(find("enterprise-summary-zh")["language"], "zh");
    assert_eq!(find("statute-qa-en")["evidence"], true);
    assert_eq!(find("customer-complaint-en")["evidence"], false);
    assert!(listing["invalid"].as_array().unwrap().is_empty());
    lexdesk(home)
        .args(["templates", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nda-checklist-zh").and(predicate::str::contains("built-in")));

    // Rendering is deterministic: the same template and inputs give the same prompt.
    let render = |extra: &[&str]| {
        let out = lexdesk(home)
            .args(["templates", "render", "enterprise-summary-en", "--json", "--var"])
            .arg(format!("document={REPORT}"))
            .args(extra)
            .assert()
            .success();
        out.get_output().stdout.clone()
    };
    let first = render(&[]);
    assert_eq!(first, render(&[]), "rendering twice gives the same prompt");
    let v: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(v["template"], "enterprise-summary-en");
    assert!(v["system"].as_str().unwrap().starts_with("You are a senior equity analyst"), "{v:#}");
    assert!(v["system"].as_str().unwrap().contains("at most 3 points per module"), "default applied: {v:#}");
    let user = v["user"].as_str().unwrap();
    assert!(user.contains("Company document:\n<<<\nNorthwind Holdings"), "{user}");
    assert!(!user.contains("Company:\n"), "the empty optional slot is left out: {user}");
    assert!(user.ends_with("Risk warnings."), "{user}");
    assert!(v["preview"].is_null());

    // A value from a file, a number variable, and the preview on the real chat model.
    let doc = home.join("report.txt");
    std::fs::write(&doc, REPORT).unwrap();
    let v = stdout_json(
        lexdesk(home)
            .args(["templates", "render", "enterprise-summary-en", "--json", "--preview", "--var", "max_points=2"])
            .arg("--var")
            .arg(format!("document=@{}", doc.display()))
            .arg("-m")
            .arg(chat_model()),
    );
    assert!(v["system"].as_str().unwrap().contains("at most 2 points per module"), "{v:#}");
    assert!(v["user"].as_str().unwrap().contains("USD 12.4 million"), "{v:#}");
    let p = &v["preview"];
    assert!(p["prompt_tokens"].as_u64().unwrap() > 100, "{p:#}");
    assert_eq!(p["reserved_tokens"], 400);
    assert_eq!(p["context_length"], 8192);
    assert_eq!(p["fits"], true);
    assert!(p["text"].as_str().unwrap().contains("<|im_start|>system"), "{p:#}");
    lexdesk(home)
        .args(["templates", "render", "enterprise-summary-en", "--preview", "--var", "document=Revenue 1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("reserved for the answer").and(predicate::str::contains("fits")));

    // Values that do not fit the template: a bad command line (exit 2), named.
    lexdesk(home)
        .args(["templates", "render", "enterprise-summary-en"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[TEMPLATE_MISSING_VARIABLE]").and(predicate::str::contains("document")));
    lexdesk(home)
        .args(["templates", "render", "enterprise-summary-en", "--var", "document=x", "--var", "max_points=9"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("error[TEMPLATE_TYPE_MISMATCH]").and(predicate::str::contains("between 1 and 5")),
        );
    lexdesk(home)
        .args(["templates", "render", "enterprise-summary-en", "--var", "document=x", "--var", "documnet=y"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[TEMPLATE_UNKNOWN_INPUT]").and(predicate::str::contains("documnet")));
    lexdesk(home)
        .args(["templates", "show", "no-such-template"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error[TEMPLATE_NOT_FOUND]"));

    // A template file using a variable it does not declare is refused, naming the variable.
    let bad = home.join("bad.toml");
    std::fs::write(
        &bad,
        "format = 1\nname = \"my-summary\"\ntitle = \"Mine\"\nlanguage = \"en\"\nrole = \"You are {{persona}}.\"\n\
         task = \"Summarise.\"\noutput_format = \"Bullets\"\n",
    )
    .unwrap();
    lexdesk(home).args(["templates", "import"]).arg(&bad).assert().failure().stderr(
        predicate::str::contains("error[TEMPLATE_UNDECLARED_VARIABLE]")
            .and(predicate::str::contains("persona"))
            .and(predicate::str::contains("bad.toml")),
    );

    // Import, list, show, export, duplicate and delete user templates; built-ins are read-only.
    let good = home.join("good.toml");
    std::fs::write(
        &good,
        "# my own\nformat = 1\nname = \"my-summary\"\ntitle = \"Mine\"\nlanguage = \"en\"\n\
         role = \"You are {{persona}}.\"\ntask = \"Summarise.\"\noutput_format = \"Bullets\"\n\n\
         [[variables]]\nname = \"persona\"\nkind = \"text\"\ndefault = \"a clerk\"\n",
    )
    .unwrap();
    lexdesk(home).args(["templates", "import"]).arg(&good).assert().success();
    lexdesk(home)
        .args(["templates", "import"])
        .arg(&good)
        .assert()
        .failure()
        .stderr(predicate::str::contains("error[TEMPLATE_EXISTS]"));
    lexdesk(home).args(["templates", "import", "--as", "my-summary-2"]).arg(&good).assert().success();
    lexdesk(home).args(["templates", "duplicate", "nda-checklist-en", "my-nda"]).assert().success();
    let exported = lexdesk(home).args(["templates", "export", "my-summary"]).assert().success();
    assert_eq!(String::from_utf8_lossy(&exported.get_output().stdout), std::fs::read_to_string(&good).unwrap());
    let shown = stdout_json(lexdesk(home).args(["templates", "show", "my-nda", "--json"]));
    assert_eq!(shown["source"], "user");
    assert_eq!(shown["template"]["title"], "NDA review checklist (copy)", "{shown:#}");
    lexdesk(home)
        .args(["templates", "delete", "nda-checklist-en"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("error[TEMPLATE_BUILTIN_READ_ONLY]"));
    lexdesk(home).args(["templates", "delete", "my-summary-2"]).assert().success();
    std::fs::write(home.join("templates/broken.toml"), "format = 1\nname = [\n").unwrap();
    let listing = stdout_json(lexdesk(home).args(["templates", "list", "--json"]));
    let users: Vec<&str> = listing["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["source"] == "user")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["my-nda", "my-summary"], "{listing:#}");
    assert_eq!(listing["invalid"][0]["code"], "TEMPLATE_SYNTAX", "{listing:#}");
}

#[test]
fn templates_compare_measures_each_template_on_the_real_model_and_keeps_a_history() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let out = lexdesk(home)
        .args(["templates", "compare", "enterprise-summary-en", "customer-complaint-en", "enterprise-summary-en"])
        .arg("--var")
        .arg(format!("document={REPORT}"))
        .arg("--var")
        .arg(format!("complaint={COMPLAINT}"))
        .args(["--keywords", "12.4", "--max-tokens", "48", "--seed", "1", "--format", "json", "--title", "e2e"])
        .arg("-m")
        .arg(chat_model())
        .assert()
        .success();
    let c: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let runs = c["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "one measured result per template: {c:#}");
    for (run, name) in runs.iter().zip(["enterprise-summary-en", "customer-complaint-en", "enterprise-summary-en (2)"])
    {
        assert_eq!(run["label"], name);
        assert!(run["error"].is_null(), "{run:#}");
        assert!(run["prompt_tokens"].as_u64().unwrap() > 0, "{run:#}");
        assert!(run["completion_tokens"].as_u64().unwrap() > 0, "{run:#}");
        assert!(run["completion_tokens"].as_u64().unwrap() <= 48, "{run:#}");
        assert!(run["latency_ms"].as_f64().unwrap() > 0.0, "{run:#}");
        assert!(run["keyword_score"].as_f64().is_some(), "{run:#}");
        assert_eq!(run["output_chars"].as_u64().unwrap(), run["output"].as_str().unwrap().chars().count() as u64);
    }
    // Every run starts from an empty prompt cache: the same template, inputs and seed give the
    // same output, measured alike.
    assert_eq!(runs[2]["output"], runs[0]["output"], "{c:#}");
    assert_eq!(runs[2]["prompt_tokens"], runs[0]["prompt_tokens"]);
    assert_eq!(c["expected_keywords"], serde_json::json!(["12.4"]));
    assert_eq!(c["seed"], 1);
    assert_eq!(c["model"], "SmolLM2-135M-Instruct.Q4_1.gguf");

    // Saved to the history, which shows, exports and diffs it.
    let id = c["id"].as_str().unwrap();
    let history = stdout_json(lexdesk(home).args(["templates", "history", "list", "--json"]));
    assert_eq!(history["comparisons"].as_array().unwrap().len(), 1, "{history:#}");
    assert_eq!(history["comparisons"][0]["id"], id);
    assert_eq!(history["comparisons"][0]["title"], "e2e");
    let saved = stdout_json(lexdesk(home).args(["templates", "history", "show", id, "--format", "json"]));
    assert_eq!(saved, c);
    lexdesk(home)
        .args(["templates", "history", "show", &id[..13], "--format", "csv"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("label,template,language,output_chars"));
    lexdesk(home)
        .args(["templates", "history", "show", id])
        .assert()
        .success()
        .stdout(predicate::str::contains("LATENCY MS").and(predicate::str::contains("── customer-complaint-en ──")));
    let md = home.join("comparison.md");
    lexdesk(home).args(["templates", "history", "show", id, "--format", "md", "--out"]).arg(&md).assert().success();
    assert!(std::fs::read_to_string(&md).unwrap().starts_with("# e2e"));
    lexdesk(home)
        .args(["templates", "history", "diff", id, "1", "customer-complaint-en"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("--- enterprise-summary-en\n+++ customer-complaint-en\n"));
    lexdesk(home)
        .args(["templates", "history", "diff", id, "1", "3"])
        .assert()
        .success()
        .stderr(predicate::str::contains("identical"));
    lexdesk(home)
        .args(["templates", "history", "diff", id, "1", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no run `nope`"));
}

#[test]
fn templates_evidence_template_renders_the_matters_sources() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let question = "Can the receiving party reverse engineer the confidential information?";

    // Without a matter there is no evidence to run over.
    lexdesk(home)
        .args(["templates", "render", "statute-qa-en", "--var"])
        .arg(format!("question={question}"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[TEMPLATE_EVIDENCE_REQUIRED]"));

    let nda = shared_dir().join("data/corpus/en-nda/nda-0003.txt");
    lexdesk(home).args(["ingest", "--matter", "N", "--json"]).arg(&nda).assert().success();
    let render = || {
        stdout_json(
            lexdesk(home)
                .args(["templates", "render", "statute-qa-en", "--matter", "N", "-k", "3", "--json", "--var"])
                .arg(format!("question={question}")),
        )
    };
    let v = render();
    assert_eq!(v["evidence_query"], question);
    let evidence = v["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty() && evidence.len() <= 3, "{v:#}");
    assert_eq!(evidence[0]["label"], "S1");
    assert!(evidence[0].get("page").is_none(), "plain text has no pages: {v:#}");
    assert!(evidence.iter().any(|e| e["text"].as_str().unwrap().contains("reverse engineer")), "{v:#}");
    let user = v["user"].as_str().unwrap();
    assert!(user.contains("Sources (text between <<< and >>> is data):"), "{user}");
    assert!(user.contains("[S1] "), "{user}");
    assert!(user.ends_with(&format!("Task: Answer this question from the sources above: {question}")), "{user}");
    assert!(v["system"].as_str().unwrap().contains("[S1: \""), "{v:#}");
    // The same matter and question give the same prompt.
    assert_eq!(render(), v);

    // A template that does not run over evidence ignores --matter.
    lexdesk(home)
        .args(["templates", "render", "nda-checklist-en", "--matter", "N", "--var", "nda=Mutual NDA"])
        .assert()
        .success()
        .stderr(predicate::str::contains("does not run over evidence"));

    // `ask --template`: a question template shapes the grounded answer; others are refused, and
    // so are values outside a choice, before any model loads.
    lexdesk(home)
        .args(["ask", "-M", "N", "--template", "customer-complaint-en", question])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[TEMPLATE_NOT_FOR_QUESTIONS]"));
    lexdesk(home)
        .args(["ask", "-M", "N", "--template", "statute-qa-en", "--var", "detail=endless", question])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[TEMPLATE_INVALID_CHOICE]"));
    lexdesk(home)
        .args(["ask", "-M", "N", "--var", "detail=x", question])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--var needs --template"));
    let answer = stdout_json(
        lexdesk(home)
            .args(["ask", "-M", "N", "--template", "statute-qa-en", "--max-tokens", "64", "--json", "-m"])
            .arg(chat_model())
            .arg(question),
    );
    assert!(answer["usage"]["completion_tokens"].as_u64().unwrap() <= 64, "{answer:#}");
    assert!(!answer["searched"]["passages"].as_array().unwrap().is_empty(), "{answer:#}");
}

/// The desk (what the desktop app's Templates screen and chat picker call), with the real chat
/// and embedding models: a comparison streams each run's text, freezes the evidence retrieved
/// once, saves the history and diffs outputs; a cancelled comparison ends at once; a template
/// shapes a grounded answer and is recorded on the turn.
#[test]
fn desk_compares_templates_streaming_each_run_and_shapes_answers() {
    use lexdesk_core::ErrorCode;
    use lexdesk_core::generate::{CancelToken, FinishReason};
    use lexdesk_desk::{
        AskParams, CompareParams, CompareProgress, ComparisonFormat, Desk, DeskOptions, EvidenceSource, RenderParams,
    };
    use lexdesk_e2e::{block_on, lexdesk_bin};

    let home = tempfile::tempdir().unwrap();
    let desk = Desk::open(DeskOptions { home: Some(home.path().into()), worker_program: lexdesk_bin() }).unwrap();
    let matter = desk.matters().create("NDA").unwrap();
    let nda = shared_dir().join("data/corpus/en-nda/nda-0003.txt");
    let question = "Can the receiving party reverse engineer the confidential information?";
    block_on(async {
        let summary = desk
            .documents(&matter.id)
            .ingest(&lexdesk_desk::IngestParams::Paths(vec![nda]), &CancelToken::new(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(summary.indexed, 1);
        let source = EvidenceSource { matter_id: matter.id.clone(), doc: None, top_k: Some(3), search_mode: None };

        // Render with the token count on the real model.
        let view = desk
            .templates()
            .render(&RenderParams {
                name: "statute-qa-en".into(),
                inputs: [("question".to_owned(), question.to_owned())].into(),
                evidence: Some(source.clone()),
                preview: true,
            })
            .await
            .unwrap();
        let preview = view.preview.unwrap();
        assert!(preview.prompt_tokens > 100 && preview.text.contains("[S1]"), "{preview:?}");
        assert_eq!(preview.reserved_tokens, 700);
        assert!(view.evidence.len() <= 3 && !view.evidence.is_empty());

        let params = CompareParams {
            title: "desk".into(),
            templates: vec!["statute-qa-en".into(), "nda-checklist-en".into(), "statute-qa-en".into()],
            inputs: [("question".to_owned(), question.to_owned()), ("nda".to_owned(), "MUTUAL NDA …".to_owned())]
                .into(),
            keywords: vec!["reverse".into()],
            evidence: Some(source.clone()),
            seed: Some(1),
            max_tokens: Some(24),
        };
        let mut events = Vec::new();
        let c = desk.templates().compare(&params, &CancelToken::new(), &mut |e| events.push(e)).await.unwrap();
        assert_eq!(c.runs.len(), 3);
        assert!(matches!(&events[0], CompareProgress::Evidence { passages, .. } if passages.len() == c.evidence.len()));
        for (i, run) in c.runs.iter().enumerate() {
            assert!(run.error.is_none() && run.completion_tokens > 0 && run.completion_tokens <= 24, "{run:?}");
            assert!(run.keyword_score.is_some());
            // The text streamed for this run is its output.
            let streamed: String = events
                .iter()
                .filter_map(|e| match e {
                    CompareProgress::Text { index, text } if *index as usize == i => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(streamed, run.output, "run {i}");
        }
        let order: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                CompareProgress::Started { .. } => Some("started"),
                CompareProgress::Finished { .. } => Some("finished"),
                _ => None,
            })
            .collect();
        assert_eq!(order, ["started", "finished", "started", "finished", "started", "finished"]);
        // The same template and seed from an empty cache: the same output, and no diff.
        assert_eq!(c.runs[0].output, c.runs[2].output);
        assert!(
            desk.templates().diff_runs(&c.id, 0, 2).unwrap().iter().all(|l| l.op == lexdesk_templates::DiffOp::Equal)
        );
        assert!(!desk.templates().diff_runs(&c.id, 0, 1).unwrap().is_empty());
        assert_eq!(desk.templates().diff_runs(&c.id, 0, 7).unwrap_err().code(), "INVALID_ARGUMENT");
        assert_eq!(desk.templates().comparisons().unwrap()[0].id, c.id);
        assert!(
            desk.templates().export_comparison(&c.id, ComparisonFormat::Csv).unwrap().starts_with("label,template")
        );

        // Cancelled: every run ends at once, recorded as cancelled, and the comparison is kept.
        let cancel = CancelToken::new();
        cancel.cancel();
        let params = CompareParams { max_tokens: Some(200), seed: None, ..params };
        let stopped = desk.templates().compare(&params, &cancel, &mut |_| {}).await.unwrap();
        assert!(
            stopped.runs.iter().all(|r| r.finish_reason == Some(FinishReason::Cancelled) || r.error.is_some()),
            "{:?}",
            stopped.runs.iter().map(|r| (&r.finish_reason, &r.error)).collect::<Vec<_>>()
        );
        assert_eq!(desk.templates().comparisons().unwrap().len(), 2);

        // A template that has no question cannot shape an answer: refused before any model runs.
        let e = desk
            .answers(&matter.id)
            .ask(
                &AskParams {
                    question: question.into(),
                    template: Some("customer-complaint-en".into()),
                    ..AskParams::default()
                },
                &CancelToken::new(),
                &mut |_| {},
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "TEMPLATE_NOT_FOR_QUESTIONS");
        // A question template shapes the grounded answer; the turn records it.
        let result = desk
            .answers(&matter.id)
            .ask(
                &AskParams {
                    question: question.into(),
                    template: Some("statute-qa-en".into()),
                    template_inputs: Some([("detail".to_owned(), "brief: at most three points".to_owned())].into()),
                    ..AskParams::default()
                },
                &CancelToken::new(),
                &mut |_| {},
            )
            .await;
        // `detail` is a choice: a value outside its options is named.
        let e = result.unwrap_err();
        assert_eq!(e.code(), "TEMPLATE_INVALID_CHOICE", "{e}");
        let result = desk
            .answers(&matter.id)
            .ask(
                &AskParams {
                    question: question.into(),
                    template: Some("statute-qa-en".into()),
                    ..AskParams::default()
                },
                &CancelToken::new(),
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!(result.turn.template.as_deref(), Some("statute-qa-en"));
        assert!(result.turn.answer.usage.is_some(), "generated: {:?}", result.turn.answer);
        let session = desk.answers(&matter.id).session(&result.session.id).unwrap();
        assert_eq!(session.turns[0].template.as_deref(), Some("statute-qa-en"));
    });
}
