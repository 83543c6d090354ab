//! The optional LLM-as-judge score: a local model grades each answer of a finished run from 1
//! to 5 against a written rubric ([`RUBRIC`]). It is weaker evidence than the other metrics — a
//! small model grading (perhaps its own) answers is noisy and biased — and reports label it so.
//!
//! Judging is a second pass over a run's stored answers, so the judge can be another model than
//! the one that answered (one model is loaded at a time), and it is resumable like a run:
//! `judgements.jsonl` is appended item by item; an item already judged is not judged again.

use std::collections::HashSet;
use std::future::Future;
use std::io::Write;

use lexdesk_core::generate::CancelToken;
use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::gold::GoldItem;
use crate::run::RunDir;
use crate::score::{Outcome, strip_markers};

/// The rubric's version, recorded with each judgement (scores of different rubrics do not mix).
pub const RUBRIC_VERSION: u32 = 2;

/// The judge's instructions.
pub const RUBRIC: &str = "You grade answers written by a legal research assistant for lawyers. \
The assistant must answer only from the client's documents, quote them for every claim, and say \
so plainly when the documents do not answer the question.

Grade the answer from 1 to 5:
5 = correct and complete (agrees with the reference answer when one is given), every claim \
supported by a quoted passage;
4 = correct, with a minor omission or a claim without a quote;
3 = partly correct, or correct but mostly unsupported;
2 = mostly wrong, unsupported, or evasive;
1 = wrong, contradicts the reference answer, or invents facts.
If the question is marked as one the documents cannot answer: a clear refusal scores 5 and any \
substantive answer scores 1. If it is not so marked, a refusal scores 1.
Judge only what is shown; the answer may be in Chinese or English.

Reply with exactly two lines and nothing else:
Score: <1-5>
Reason: <one sentence>";

/// One answer graded by the judge.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    /// The gold item's id.
    pub id: String,
    /// 1–5; `None` when the judge's reply had no score in it (counted, not guessed).
    pub score: Option<u8>,
    /// The judge's reason.
    pub reason: String,
    /// The judge's whole reply.
    pub reply: String,
    /// The judge model.
    pub model: String,
    /// [`RUBRIC_VERSION`] of the rubric used.
    pub rubric: u32,
    /// When it was judged, ms since the epoch.
    pub finished_ms: i64,
}

/// The system and user messages asking the judge about one answer.
#[must_use]
pub fn prompt(item: &GoldItem, outcome: &Outcome) -> (String, String) {
    let mut user = format!("Question:\n{}\n\n", item.question.trim());
    if item.should_abstain {
        user.push_str("Marked as: the documents cannot answer this question (a refusal is right).\n\n");
    }
    if let Some(expected) = &item.expected {
        user.push_str(&format!("Reference answer:\n{}\n\n", expected.trim()));
    }
    if !item.keywords.is_empty() {
        user.push_str(&format!("Expected key terms: {}\n\n", item.keywords.join(", ")));
    }
    let answer = strip_markers(&outcome.answer);
    user.push_str(&format!("Answer to grade:\n{}\n", if answer.trim().is_empty() { "(empty)" } else { answer.trim() }));
    if outcome.abstained {
        user.push_str("(The assistant declined to answer.)\n");
    }
    let quotes: Vec<String> = outcome
        .citations
        .iter()
        .filter(|c| c.verified && !c.quote.is_empty())
        .map(|c| format!("- {} p. {}: \"{}\"", c.doc, c.page.map_or("?".to_owned(), |p| p.to_string()), c.quote))
        .collect();
    if quotes.is_empty() {
        user.push_str("\nQuoted passages (checked against the documents): none\n");
    } else {
        user.push_str(&format!("\nQuoted passages (checked against the documents):\n{}\n", quotes.join("\n")));
    }
    // The abstention rule restated last, where a small judge heeds it (with the rule only in
    // the rubric, Qwen2.5-1.5B gave all 12 right refusals of the off-corpus set a 1).
    if item.should_abstain {
        user.push_str(
            "\nGrading note: the documents cannot answer this question, so declining is the correct \
             result. A clear refusal scores 5; a substantive answer scores 1.\n",
        );
    } else if outcome.abstained {
        user.push_str("\nGrading note: the documents do answer this question; declining scores 1.\n");
    }
    (RUBRIC.to_owned(), user)
}

/// Read a judge's reply: the score after `Score:` (or `评分：`), else a reply that starts with
/// a digit 1–5; the reason after `Reason:` (else the rest of the reply). `None` when no score
/// is in it: an unreadable reply is counted as such, never guessed.
#[must_use]
pub fn parse_reply(reply: &str) -> (Option<u8>, String) {
    let digit = |s: &str| {
        let s = s.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '：' | '*' | '=' | '-'));
        let mut chars = s.chars();
        let d = chars.next().and_then(|c| c.to_digit(10)).filter(|d| (1..=5).contains(d))?;
        // "5" or "5/5" or "5." — not "10" or "3.5".
        match chars.next() {
            Some(c) if c.is_ascii_digit() => None,
            Some('.') if chars.next().is_some_and(|c| c.is_ascii_digit()) => None,
            _ => u8::try_from(d).ok(),
        }
    };
    let lower = reply.to_lowercase();
    let score = ["score", "评分", "分数"]
        .iter()
        .find_map(|label| lower.find(label).and_then(|at| digit(&lower[at + label.len()..])))
        .or_else(|| digit(reply.trim_start()));
    let reason = lower
        .find("reason")
        .map(|at| reply[at + "reason".len()..].trim_start_matches([':', '：', ' ', '*']).trim())
        .unwrap_or_else(|| reply.trim())
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (score, reason)
}

/// A model that grades answers.
pub trait Judge: Sync {
    /// A failure that stops judging (a model that does not load).
    type Error: From<EvalError> + Send;

    /// The judge model's name, recorded with each judgement.
    fn model(&self) -> String;

    /// The reply to `system` + `user`; `Ok(None)` when `cancel` stopped it.
    fn reply(
        &self,
        system: &str,
        user: &str,
        cancel: &CancelToken,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;
}

/// Progress of judging.
#[derive(Debug, Clone, Copy)]
pub struct JudgeProgress<'a> {
    /// Items judged so far (including earlier passes).
    pub done: u32,
    /// Items to judge: the run's finished items that did not fail.
    pub total: u32,
    /// The judgement just made.
    pub judgement: &'a Judgement,
}

/// Judge a run's finished answers not judged yet (failed items are not judged). `again`
/// discards earlier judgements first (another judge model, or a new rubric). Returns how many
/// items have a judgement now.
///
/// # Errors
/// A run being executed, storage, and the judge's fatal errors (judging stays resumable).
pub async fn judge_run<J: Judge>(
    run: &RunDir,
    judge: &J,
    again: bool,
    cancel: &CancelToken,
    progress: &mut (dyn FnMut(JudgeProgress<'_>) + Send),
) -> Result<u32, J::Error> {
    let _lock = run.lock()?;
    let path = run.path().join("judgements.jsonl");
    if again {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EvalError::io(&path, e).into()),
        }
    }
    let set = run.set()?;
    let outcomes: std::collections::HashMap<String, Outcome> =
        run.records()?.into_iter().filter(|r| r.outcome.error.is_none()).map(|r| (r.id, r.outcome)).collect();
    let judged: HashSet<String> = run.judgements()?.into_iter().map(|j| j.id).collect();
    let todo: Vec<(&GoldItem, &Outcome)> =
        set.items.iter().filter_map(|i| outcomes.get(&i.id).map(|o| (i, o))).collect();
    let total = u32::try_from(todo.len()).unwrap_or(u32::MAX);
    let mut done = u32::try_from(todo.iter().filter(|(i, _)| judged.contains(&i.id)).count()).unwrap_or(0);
    let mut file = run.appender_of("judgements.jsonl")?;
    let model = judge.model();
    for (item, outcome) in todo.into_iter().filter(|(i, _)| !judged.contains(&i.id)) {
        if cancel.is_cancelled() {
            break;
        }
        let (system, user) = prompt(item, outcome);
        let Some(reply) = judge.reply(&system, &user, cancel).await? else { break };
        let (score, reason) = parse_reply(&reply);
        let judgement = Judgement {
            id: item.id.clone(),
            score,
            reason,
            reply,
            model: model.clone(),
            rubric: RUBRIC_VERSION,
            finished_ms: lexdesk_core::now_ms(),
        };
        let mut line = serde_json::to_vec(&judgement).unwrap_or_default();
        line.push(b'\n');
        file.write_all(&line).and_then(|()| file.sync_data()).map_err(|e| EvalError::io(&path, e))?;
        done += 1;
        progress(JudgeProgress { done, total, judgement: &judgement });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gold::{ExpectedSource, KeywordRule};
    use crate::score::CitedPassage;

    #[test]
    fn replies_are_read_strictly() {
        assert_eq!(
            parse_reply("Score: 4\nReason: Correct, one claim unquoted."),
            (Some(4), "Correct, one claim unquoted.".into())
        );
        assert_eq!(parse_reply("**Score:** 5/5\n**Reason:** fully supported").0, Some(5));
        assert_eq!(parse_reply("评分：2\n理由：没有引用").0, Some(2));
        assert_eq!(parse_reply("3 - partly right").0, Some(3));
        // Out of range, decimals and no number at all are unreadable, not guessed.
        assert_eq!(parse_reply("Score: 10").0, None);
        assert_eq!(parse_reply("Score: 3.5").0, None);
        assert_eq!(parse_reply("Score: 0").0, None);
        assert_eq!(parse_reply("The answer is good.").0, None);
        assert_eq!(parse_reply("The answer is good.").1, "The answer is good.");
    }

    #[test]
    fn the_prompt_shows_the_gold_the_answer_and_only_verified_quotes() {
        let item = GoldItem {
            id: "q1".into(),
            question: "试用期多长？".into(),
            expected: Some("三个月".into()),
            keywords: vec!["三个月".into()],
            keyword_rule: KeywordRule::All,
            sources: vec![ExpectedSource { doc: "劳动合同.pdf".into(), page: Some(1), label: None }],
            should_abstain: false,
            tags: vec![],
        };
        let cited = |quote: &str, verified: bool| CitedPassage {
            doc: "劳动合同.pdf".into(),
            source: "/d/劳动合同.pdf".into(),
            page: Some(1),
            heading: String::new(),
            quote: quote.into(),
            verified,
            attributed: false,
            on_page: verified.then_some(true),
        };
        let outcome = Outcome {
            answer: "试用期为三个月 [S1: \"其中试用期为三个月\"]。".into(),
            citations: vec![cited("其中试用期为三个月", true), cited("编造的引文", false)],
            ..Outcome::default()
        };
        let (system, user) = prompt(&item, &outcome);
        assert!(system.contains("Score: <1-5>"));
        for part in [
            "试用期多长？",
            "Reference answer:\n三个月",
            "Expected key terms: 三个月",
            "劳动合同.pdf p. 1: \"其中试用期为三个月\"",
        ] {
            assert!(user.contains(part), "{part} missing from\n{user}");
        }
        assert!(!user.contains("编造的引文"), "an unverified quote is not shown as evidence");
        assert!(!user.contains("[S1"), "citation markers are stripped from the answer");
        let abstain = GoldItem { should_abstain: true, expected: None, keywords: vec![], ..item };
        let (_, user) = prompt(&abstain, &Outcome { abstained: true, ..Outcome::default() });
        assert!(user.contains("cannot answer") && user.contains("declined"));
        assert!(user.trim_end().ends_with("A clear refusal scores 5; a substantive answer scores 1."));
    }

    /// Replies with the item's number as the score (none for q3); stops after `stop_after`.
    struct Grader {
        calls: std::sync::Mutex<Vec<String>>,
        stop_after: usize,
    }

    impl Judge for Grader {
        type Error = EvalError;
        fn model(&self) -> String {
            "grader".into()
        }
        async fn reply(&self, _system: &str, user: &str, cancel: &CancelToken) -> Result<Option<String>, EvalError> {
            let id = user.split("question ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(id.clone());
                calls.len()
            };
            if n > self.stop_after {
                cancel.cancel();
                return Ok(None);
            }
            Ok(Some(if id == "3" { "I cannot say.".into() } else { format!("Score: {id}\nReason: item {id}") }))
        }
    }

    #[tokio::test]
    async fn judging_skips_failed_items_resumes_without_grading_twice_and_feeds_the_report() {
        use crate::report::RunReport;
        use crate::run::{RunConfig, Runs};
        let home = tempfile::tempdir().unwrap();
        let text: String = (1..=5)
            .map(|i| format!("{{\"id\":\"q{i}\",\"question\":\"question {i}\",\"keywords\":\"yes\"}}\n"))
            .collect();
        let set = crate::gold::parse(text.as_bytes(), crate::gold::GoldFormat::Jsonl, "s").unwrap();
        let run = Runs::new(home.path().join("runs")).create(&set, RunConfig::default()).unwrap();
        // Five answers; q5 failed with an error and is not judged.
        let mut lines = String::new();
        for i in 1..=5 {
            let error = (i == 5).then(|| crate::score::ItemFailure { code: "X".into(), message: "x".into() });
            let outcome = Outcome { answer: "yes".into(), error, ..Outcome::default() };
            let record = crate::run::ItemRecord { id: format!("q{i}"), outcome, finished_ms: 1 };
            lines.push_str(&serde_json::to_string(&record).unwrap());
            lines.push('\n');
        }
        std::fs::write(run.path().join("items.jsonl"), lines).unwrap();

        let first = Grader { calls: Default::default(), stop_after: 2 };
        let done = judge_run(&run, &first, false, &CancelToken::new(), &mut |_| {}).await.unwrap();
        assert_eq!(done, 2, "stopped after two grades");
        let second = Grader { calls: Default::default(), stop_after: 100 };
        let mut events = Vec::new();
        let done = judge_run(&run, &second, false, &CancelToken::new(), &mut |p| events.push((p.done, p.total)))
            .await
            .unwrap();
        assert_eq!(done, 4);
        assert_eq!(*second.calls.lock().unwrap(), ["3", "4"], "only the items not graded yet; never the failed one");
        assert_eq!(events, [(3, 4), (4, 4)]);

        let report = RunReport::of(&run).unwrap();
        let judge = report.judge.clone().unwrap();
        assert_eq!((judge.judged, judge.unreadable, judge.models), (4, 1, vec!["grader".to_owned()]));
        let score = report.metric("judge_score").unwrap().estimate.unwrap();
        assert!((score.value - (1.0 + 2.0 + 4.0) / 3.0).abs() < 1e-9, "the mean of the readable grades: {score:?}");
        assert_eq!(score.n, 3);
        assert!(report.items[4].judgement.is_none());

        // --again: every item graded anew, the file replaced.
        let third = Grader { calls: Default::default(), stop_after: 100 };
        assert_eq!(judge_run(&run, &third, true, &CancelToken::new(), &mut |_| {}).await.unwrap(), 4);
        assert_eq!(third.calls.lock().unwrap().len(), 4);
        assert_eq!(run.judgements().unwrap().len(), 4);
    }
}
