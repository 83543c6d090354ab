//! Templates shaping grounded chat answers: which templates can, what they add, and the errors.

use lexdesk_core::ErrorCode;
use lexdesk_templates::{Inputs, Library, TemplateError, builtins};

fn library() -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::new(dir.path());
    (dir, lib)
}

#[test]
fn templates_with_a_question_variable_shape_answers() {
    let answering: Vec<&str> = builtins().iter().filter(|t| t.answers_questions()).map(|t| t.name.as_str()).collect();
    assert!(answering.contains(&"statute-qa-zh") && answering.contains(&"statute-qa-en"), "{answering:?}");
    assert!(answering.contains(&"legal-memo-outline-en"), "{answering:?}");
    assert!(!answering.contains(&"customer-complaint-zh"), "{answering:?}");
}

#[test]
fn statute_qa_adds_its_role_requirements_and_format() {
    let (_dir, lib) = library();
    let t = lib.get("statute-qa-zh").unwrap().template;
    let got = t.answer_instructions("试用期最长多久？", &Inputs::new()).unwrap();
    assert_eq!(got.template, "statute-qa-zh");
    assert!(got.text.starts_with("你是严谨的中国法律研究专家"), "{}", got.text);
    // The requirements are numbered and the `detail` default is filled in.
    assert!(got.text.contains("要求：\n1. 引文："), "{}", got.text);
    assert!(got.text.contains("篇幅：简明扼要，不超过五个要点。"), "{}", got.text);
    assert!(got.text.contains("输出格式：\n结论："), "{}", got.text);
    assert!(got.text.contains("输出示例（仅示范格式"), "{}", got.text);
    // The task and the data slots are not part of it: the question is the task.
    assert!(!got.text.contains("任务："), "{}", got.text);
    assert_eq!(got.parameters.max_tokens, 700);

    // A choice is applied.
    let detailed = Inputs::from([("detail".to_owned(), "详细说明，逐项分析适用条件、例外和后果".to_owned())]);
    let got = t.answer_instructions("试用期最长多久？", &detailed).unwrap();
    assert!(got.text.contains("篇幅：详细说明，逐项分析适用条件、例外和后果。"), "{}", got.text);
    // The same inputs always give the same text.
    assert_eq!(got, t.answer_instructions("试用期最长多久？", &detailed).unwrap());
}

#[test]
fn answer_instruction_errors_are_specific() {
    let (_dir, lib) = library();
    let complaint = lib.get("customer-complaint-en").unwrap().template;
    let e = complaint.answer_instructions("Where is my parcel?", &Inputs::new()).unwrap_err();
    assert!(matches!(e, TemplateError::NotForQuestions { .. }), "{e}");
    assert_eq!(e.code(), "TEMPLATE_NOT_FOR_QUESTIONS");
    assert!(e.to_string().contains("customer-complaint-en") && e.to_string().contains("`question`"), "{e}");

    let qa = lib.get("statute-qa-en").unwrap().template;
    // The question asked is the `question` variable: giving it as an input is refused.
    let e = qa
        .answer_instructions("What is the notice period?", &Inputs::from([("question".to_owned(), "x".to_owned())]))
        .unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_UNKNOWN_INPUT", "{e}");
    // An empty question is a missing required variable.
    let e = qa.answer_instructions("  ", &Inputs::new()).unwrap_err();
    assert!(matches!(e, TemplateError::MissingVariable { ref variable, .. } if variable == "question"), "{e}");
    // A value outside a choice's options is named.
    let e = qa
        .answer_instructions(
            "What is the notice period?",
            &Inputs::from([("detail".to_owned(), "very long".to_owned())]),
        )
        .unwrap_err();
    assert!(matches!(e, TemplateError::InvalidChoice { .. }), "{e}");
}
