//! Comparison against a fake generator: one measured result per template, keyword scores,
//! frozen evidence only for evidence templates, per-run failures, exports, history, preview.

use expect_test::expect;
use lexdesk_core::ErrorCode;
use lexdesk_core::generate::{FinishReason, GenerateRequest, Prompt};
use lexdesk_templates::{
    Candidate, ComparisonHistory, ComparisonRequest, EvidencePassage, Inputs, Progress, builtin, compare, compare_with,
    preview,
};

use lexdesk_test_support::{Scripted, tokens};

fn inputs(pairs: &[(&str, &str)]) -> Inputs {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const NDA: &str = "MUTUAL NON-DISCLOSURE AGREEMENT\n2. The Receiving Party shall not reverse engineer any prototype.\n3. This Agreement remains in force for two (2) years.";

fn request() -> ComparisonRequest {
    ComparisonRequest {
        title: "NDA: checklist against statute Q&A".into(),
        candidates: vec![
            Candidate::new(builtin("nda-checklist-en").unwrap().0.clone()),
            Candidate::new(builtin("statute-qa-en").unwrap().0.clone()),
        ],
        inputs: inputs(&[("nda", NDA), ("question", "May the prototype be reverse engineered?")]),
        evidence: vec![EvidencePassage::new(
            "Mutual NDA",
            "2. The Receiving Party shall not reverse engineer any prototype.",
        )],
        expected_keywords: vec!["Reverse engineer".into(), "two (2) years".into()],
        model: Some("fake-1".into()),
        seed: Some(7),
    }
}

#[tokio::test]
async fn one_measured_result_per_template() {
    let generator = Scripted::new(&[
        "| 9 | No reverse engineering | OK | 2: \"shall not reverse engineer\" | — | term two (2) years",
        "Answer: No [S1: \"shall not reverse engineer any prototype\"]. 不得",
    ]);
    let mut events = Vec::new();
    let comparison = compare_with(&generator, &request(), |p| {
        events.push(match p {
            Progress::Started { index, total, label } => format!("start {index}/{total} {label}"),
            Progress::Finished { index, run, .. } => format!("done {index} {}", run.output_chars),
        });
    })
    .await
    .unwrap();
    assert_eq!(comparison.runs.len(), 2);
    assert_eq!(uuid::Uuid::parse_str(&comparison.id).unwrap().get_version_num(), 7);
    let [checklist, statute] = &comparison.runs[..] else { unreachable!() };
    assert_eq!((checklist.label.as_str(), statute.label.as_str()), ("nda-checklist-en", "statute-qa-en"));
    for run in &comparison.runs {
        assert!(run.error.is_none());
        assert!(run.prompt_tokens > 100, "the rendered prompt was sent");
        assert!(run.completion_tokens > 0 && run.latency_ms >= 0.0);
        assert_eq!(run.time_to_first_token_ms, 5.0);
        assert_eq!(run.finish_reason, Some(FinishReason::Stop));
        assert_eq!(run.output_chars, run.output.chars().count());
    }
    assert_eq!(statute.output_chars, 63, "characters, not bytes");
    assert_eq!(checklist.keyword_score, Some(1.0));
    assert_eq!(statute.keyword_score, Some(0.5));
    assert_eq!(statute.keywords_missing, ["two (2) years"]);
    assert_eq!(
        events,
        [
            "start 0/2 nda-checklist-en",
            format!("done 0 {}", checklist.output_chars).as_str(),
            "start 1/2 statute-qa-en",
            "done 1 63"
        ]
    );

    // Each template got only its own inputs; only the evidence template got the evidence.
    let seen = generator.seen();
    let user = |r: &GenerateRequest| match &r.prompt {
        Prompt::Chat(m) => m[1].content.clone(),
        Prompt::Raw(_) => unreachable!(),
    };
    assert!(user(&seen[0]).contains("NDA:\n<<<\nMUTUAL") && !user(&seen[0]).contains("[S1]"));
    assert!(user(&seen[1]).contains("[S1] Mutual NDA\n<<<\n") && !user(&seen[1]).contains("MUTUAL NON"));
    assert!(seen.iter().all(|r| r.sampling.seed == Some(7) && r.max_tokens > 0));
    assert_eq!(seen[1].sampling.temperature, 0.0, "the template's temperature: greedy");
}

#[tokio::test]
async fn variants_of_one_template_get_distinct_labels() {
    let generator = Scripted::new(&["a", "b", "c"]);
    let t = builtin("case-brief-en").unwrap().0.clone();
    let mut hot = t.clone();
    hot.parameters.temperature = 0.9;
    let request = ComparisonRequest {
        candidates: vec![Candidate::new(t.clone()), Candidate::new(t), Candidate::variant("t=0.9", hot)],
        inputs: inputs(&[("judgment", "A v B. Held: appeal allowed.")]),
        ..ComparisonRequest::default()
    };
    let c = compare(&generator, &request).await.unwrap();
    let labels: Vec<_> = c.runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["case-brief-en", "case-brief-en (2)", "t=0.9"]);
    assert!(c.runs.iter().all(|r| r.keyword_score.is_none()), "no keywords, no score");
    assert_eq!(generator.seen()[2].sampling.temperature, 0.9);
}

#[tokio::test]
async fn input_errors_surface_before_any_generation() {
    let generator = Scripted::new(&["x"]);
    let mut typo = request();
    typo.inputs.insert("questoin".into(), "?".into());
    let e = compare(&generator, &typo).await.unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_UNKNOWN_INPUT");
    let mut missing = request();
    missing.inputs.remove("question");
    let e = compare(&generator, &missing).await.unwrap_err();
    assert_eq!(e.to_string(), "missing required variable `question` (The legal question)");
    let mut no_evidence = request();
    no_evidence.evidence.clear();
    assert_eq!(compare(&generator, &no_evidence).await.unwrap_err().code(), "TEMPLATE_EVIDENCE_REQUIRED");
    let empty = ComparisonRequest::default();
    assert_eq!(compare(&generator, &empty).await.unwrap_err().code(), "COMPARISON_EMPTY");
    assert!(generator.seen().is_empty());
}

#[test]
fn front_ends_check_inputs_before_retrieving_and_prepare_before_loading_a_model() {
    // `check_inputs` needs no evidence: a typo is caught before a matter is searched.
    let mut typo = request();
    typo.inputs.insert("questoin".into(), "?".into());
    let e = lexdesk_templates::check_inputs(&typo.candidates, &typo.inputs).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_UNKNOWN_INPUT");
    assert!(e.to_string().contains("questoin") && e.to_string().contains("question"), "names both: {e}");
    assert_eq!(lexdesk_templates::check_inputs(&[], &typo.inputs).unwrap_err().code(), "COMPARISON_EMPTY");
    let ok = request();
    lexdesk_templates::check_inputs(&ok.candidates, &ok.inputs).unwrap();
    // `prepare` renders every candidate over its own inputs, evidence only for evidence templates.
    let prompts = lexdesk_templates::prepare(&ok.candidates, &ok.inputs, &ok.evidence).unwrap();
    assert_eq!(prompts.len(), ok.candidates.len());
    for (c, p) in ok.candidates.iter().zip(&prompts) {
        assert_eq!(p.user.contains("[S1]"), c.template.evidence, "{}: {}", c.template.name, p.user);
    }
    let mut missing = request();
    missing.inputs.remove("question");
    assert_eq!(
        lexdesk_templates::prepare(&missing.candidates, &missing.inputs, &missing.evidence).unwrap_err().code(),
        "TEMPLATE_MISSING_VARIABLE"
    );
}

#[tokio::test]
async fn a_failing_run_is_recorded_and_the_rest_go_on() {
    let mut generator = Scripted::new(&["fine"]);
    generator.context = 1600; // the checklist reserves 1,500 answer tokens: its prompt does not fit
    let mut request = request();
    request.candidates.reverse();
    let c = compare(&generator, &request).await.unwrap();
    assert!(c.runs[0].error.is_none(), "statute Q&A reserves 700 tokens and fits");
    let error = c.runs[1].error.as_ref().unwrap();
    assert_eq!(error.code, "PROMPT_TOO_LONG");
    assert_eq!((c.runs[1].output_chars, c.runs[1].keyword_score), (0, Some(0.0)));
}

#[tokio::test]
async fn exports_and_history() {
    let generator = Scripted::new(&["Reverse engineer: OK | two (2) years", "No [S1: \"shall not\"]"]);
    let mut c = compare(&generator, &request()).await.unwrap();
    // Fix what varies between runs so that the exports can be snapshot.
    c.id = "0190a0b0-0000-7000-8000-000000000000".into();
    c.created_ms = 1_717_200_000_000;
    c.runs[0].latency_ms = 1234.4;
    c.runs[1].latency_ms = 987.6;
    c.runs[0].prompt_tokens = 569;
    c.runs[1].prompt_tokens = 604;
    expect![[r#"
        label,template,language,output_chars,prompt_tokens,completion_tokens,latency_ms,time_to_first_token_ms,keyword_score,keywords_missing,finish_reason,error,output
        nda-checklist-en,nda-checklist-en,en,36,569,7,1234,5,1.00,,stop,,Reverse engineer: OK | two (2) years
        statute-qa-en,statute-qa-en,en,20,604,4,988,5,0.00,Reverse engineer; two (2) years,stop,,"No [S1: ""shall not""]"
    "#]]
    .assert_eq(&c.to_csv().unwrap());
    expect![[r##"
        # NDA: checklist against statute Q&A

        - Id: `0190a0b0-0000-7000-8000-000000000000`
        - Run: 2024-06-01 00:00 UTC
        - Model: fake-1
        - Seed: 7
        - Input `nda`: MUTUAL NON-DISCLOSURE AGREEMENT 2. The Receiving Party shall not reverse engineer any prototype. 3. This Agreement remai…
        - Input `question`: May the prototype be reverse engineered?
        - Evidence [S1]: Mutual NDA
        - Expected keywords: Reverse engineer, two (2) years

        | # | Label | Template | Output chars | Prompt tokens | Completion tokens | Latency ms | TTFT ms | Keyword score | Finish |
        |---|---|---|---:|---:|---:|---:|---:|---:|---|
        | 1 | nda-checklist-en | `nda-checklist-en` | 36 | 569 | 7 | 1234 | 5 | 1.00 | stop |
        | 2 | statute-qa-en | `statute-qa-en` | 20 | 604 | 4 | 988 | 5 | 0.00 | stop |

        ## 1. nda-checklist-en

        ```text
        Reverse engineer: OK | two (2) years
        ```

        ## 2. statute-qa-en

        Missing keywords: Reverse engineer, two (2) years

        ```text
        No [S1: "shall not"]
        ```
    "##]]
    .assert_eq(&c.to_markdown());
    let json: serde_json::Value = serde_json::from_str(&c.to_json().unwrap()).unwrap();
    assert_eq!(json["runs"][1]["prompt"]["template"], "statute-qa-en");

    let dir = tempfile::tempdir().unwrap();
    let history = ComparisonHistory::new(dir.path().join("comparisons"));
    assert!(history.list().unwrap().comparisons.is_empty(), "no folder yet");
    let path = history.save(&c).unwrap();
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("{}.json", c.id));
    let mut newer = compare(&generator, &request()).await.unwrap();
    newer.title = "second".into();
    history.save(&newer).unwrap();
    std::fs::write(history.dir().join("0190a0b0-0000-7000-8000-00000000ffff.json"), "{ not json").unwrap();
    let listing = history.list().unwrap();
    let titles: Vec<_> = listing.comparisons.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["second", "NDA: checklist against statute Q&A"], "newest first");
    assert_eq!(listing.comparisons[1].labels, ["nda-checklist-en", "statute-qa-en"]);
    assert_eq!(listing.invalid.len(), 1);
    assert_eq!(listing.invalid[0].code, "COMPARISON_CORRUPT");
    assert_eq!(history.load(&c.id).unwrap(), c);
    assert_eq!(history.load("../../etc/passwd").unwrap_err().code(), "COMPARISON_NOT_FOUND");
    history.delete(&c.id).unwrap();
    assert_eq!(history.load(&c.id).unwrap_err().code(), "COMPARISON_NOT_FOUND");
}

#[tokio::test]
async fn preview_counts_tokens_against_the_context() {
    let mut generator = Scripted::new(&["x"]);
    let t = builtin("enterprise-summary-zh").unwrap().0;
    let rendered = t.render(&inputs(&[("document", "营业收入128.6亿元。")]), &[]).unwrap();
    let p = preview(&generator, &rendered).await.unwrap();
    assert_eq!(p.prompt_tokens, tokens(&rendered.prompt()));
    assert_eq!((p.reserved_tokens, p.context_length), (400, 8192));
    assert!(p.fits && p.spare_tokens == 8192 - 400 - i64::from(p.prompt_tokens));
    assert!(p.text.starts_with("<system>你是资深的企业分析师"));
    generator.context = 512;
    let p = preview(&generator, &rendered).await.unwrap();
    assert!(!p.fits && p.spare_tokens < 0);
}
