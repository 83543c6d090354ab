//! One test per validation and render error, each checked by its stable code and message.

use lexdesk_core::ErrorCode;
use lexdesk_templates::{EvidencePassage, Inputs, Template, TemplateError, Warning};

const BASE: &str = r#"format = 1
name = "test-template"
title = "Test"
language = "en"
role = "You are a {{field}} expert."
task = "Summarise in at most {{max_points}} points."
requirements = ["Write {{tone}}."]
output_format = "- point"

[[variables]]
name = "field"
kind = "text"
default = "contract law"

[[variables]]
name = "max_points"
kind = "number"
min = 1
max = 5
default = 3

[[variables]]
name = "tone"
kind = "choice"
options = ["formally", "plainly"]
default = "formally"

[[variables]]
name = "document"
kind = "document"
required = true
description = "the text to summarise"

[[inputs]]
label = "Document"
content = "{{document}}"
"#;

fn parse_err(text: &str) -> TemplateError {
    Template::from_toml(text).expect_err("invalid")
}

fn with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "{old}");
    BASE.replacen(old, new, 1)
}

fn base() -> Template {
    Template::from_toml(BASE).unwrap()
}

fn inputs(pairs: &[(&str, &str)]) -> Inputs {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn base_is_valid_and_renders() {
    assert_eq!(base().validate().unwrap(), []);
    let r = base().render(&inputs(&[("document", "Text."), ("max_points", " 04 ")]), &[]).unwrap();
    assert_eq!(r.system.lines().next(), Some("You are a contract law expert."));
    assert!(r.user.ends_with("Task: Summarise in at most 4 points."), "numbers are canonical: {}", r.user);
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let e = parse_err(&with("title = \"Test\"", "title = \"Test"));
    assert_eq!(e.code(), "TEMPLATE_SYNTAX");
    let TemplateError::Syntax { line, column, .. } = e else { unreachable!() };
    assert_eq!((line, column), (3, 14), "{e}");
}

#[test]
fn unknown_field_is_named_with_its_line() {
    let e = parse_err(&with("min = 1", "minimum = 1"));
    assert_eq!(e.code(), "TEMPLATE_UNKNOWN_FIELD");
    let msg = e.to_string();
    assert!(msg.starts_with("unknown field `minimum` at line 18"), "{msg}");
    assert!(msg.contains("`min`"), "the allowed fields are listed: {msg}");
}

#[test]
fn missing_required_field_is_named() {
    let e = parse_err(&with("task = \"Summarise in at most {{max_points}} points.\"\n", ""));
    assert_eq!(e.code(), "TEMPLATE_MISSING_FIELD");
    assert!(e.to_string().starts_with("missing required field `task`"), "{e}");
    let e = parse_err(&with("kind = \"document\"\n", ""));
    assert!(e.to_string().starts_with("missing required field `kind`"), "{e}");
}

#[test]
fn wrong_value_type_or_variant() {
    let e = parse_err(&with("language = \"en\"", "language = \"fr\""));
    assert_eq!(e.code(), "TEMPLATE_INVALID_VALUE");
    assert!(e.to_string().contains("line 4") && e.to_string().contains("fr"), "{e}");
}

#[test]
fn unsupported_format_version() {
    let e = parse_err(&with("format = 1", "format = 2\nnew_field = true"));
    assert_eq!(e.code(), "TEMPLATE_UNSUPPORTED_FORMAT");
    assert!(e.to_string().contains("format `2`") && e.to_string().contains("reads format 1"), "{e}");
    assert_eq!(parse_err(&with("format = 1\n", "")).code(), "TEMPLATE_MISSING_FIELD");
}

#[test]
fn invalid_name() {
    let e = parse_err(&with("name = \"test-template\"", "name = \"contract_review\""));
    assert_eq!(e.code(), "TEMPLATE_INVALID_NAME");
    assert!(e.to_string().contains("kebab-case"), "{e}");
}

#[test]
fn empty_required_text() {
    let e = parse_err(&with("output_format = \"- point\"", "output_format = \"  \""));
    assert_eq!(e.code(), "TEMPLATE_EMPTY_FIELD");
    assert_eq!(e.to_string(), "field `output_format` must not be empty");
}

#[test]
fn parameter_out_of_range() {
    let e = parse_err(&format!("{BASE}\n[parameters]\ntemperature = 3.5\n"));
    assert_eq!(e.code(), "TEMPLATE_INVALID_PARAMETER");
    assert_eq!(e.to_string(), "parameter `temperature` must be between 0 and 2, got 3.5");
}

#[test]
fn malformed_placeholder_says_where_and_how_to_escape() {
    let e = parse_err(&with("Write {{tone}}.", "Write {{tone}. Use {{ literal"));
    assert_eq!(e.code(), "TEMPLATE_MALFORMED_PLACEHOLDER");
    let msg = e.to_string();
    assert!(msg.contains("`requirements[1]`") && msg.contains("{{{{"), "{msg}");
    // The escape renders a literal `{{`.
    let t = Template::from_toml(&with("Write {{tone}}.", "Write {{tone}} and keep {{{{x}} as is.")).unwrap();
    let r = t.render(&inputs(&[("document", "d")]), &[]).unwrap();
    assert!(r.system.contains("1. Write formally and keep {{x}} as is."), "{}", r.system);
}

#[test]
fn undeclared_variable_is_named_with_its_location() {
    let e = parse_err(&with("output_format = \"- point\"", "output_format = \"- point ({{style}})\""));
    assert_eq!(e.code(), "TEMPLATE_UNDECLARED_VARIABLE");
    assert_eq!(e.to_string(), "variable `style` is used in `output_format` but not declared in [[variables]]");
}

#[test]
fn duplicate_variable() {
    let e = parse_err(&format!("{BASE}\n[[variables]]\nname = \"tone\"\nkind = \"text\"\n"));
    assert_eq!(e.code(), "TEMPLATE_DUPLICATE_VARIABLE");
}

#[test]
fn inconsistent_variable_declarations() {
    let e = parse_err(&with("options = [\"formally\", \"plainly\"]\n", ""));
    assert_eq!(e.code(), "TEMPLATE_INVALID_VARIABLE");
    assert_eq!(e.to_string(), "variable `tone`: a choice variable needs `options`");
    let e = parse_err(&with("min = 1\nmax = 5", "min = 6\nmax = 5"));
    assert!(e.to_string().contains("`min` (6) is greater than `max` (5)"), "{e}");
    let e = parse_err(&with("default = \"contract law\"", "default = \"contract law\"\nmax = 3"));
    assert!(e.to_string().contains("`min` and `max` are for number variables"), "{e}");
}

#[test]
fn defaults_must_satisfy_their_own_type() {
    let e = parse_err(&with("default = 3", "default = \"ten\""));
    assert_eq!(e.code(), "TEMPLATE_INVALID_DEFAULT");
    assert_eq!(e.to_string(), "default of variable `max_points` must be a number between 1 and 5, got \"ten\"");
    let e = parse_err(&with("default = 3", "default = 9"));
    assert_eq!(e.to_string(), "default of variable `max_points` must be a number between 1 and 5, got 9");
    let e = parse_err(&with("default = \"formally\"", "default = \"rudely\""));
    assert_eq!(e.to_string(), "default of variable `tone` must be one of `formally`, `plainly`, got \"rudely\"");
}

#[test]
fn evidence_query_needs_evidence() {
    let e =
        parse_err(&with("output_format = \"- point\"", "output_format = \"- point\"\nevidence_query = \"{{field}}\""));
    assert_eq!(e.code(), "TEMPLATE_INVALID_EVIDENCE");
}

#[test]
fn check_reports_every_error_at_once() {
    let mut t = base();
    t.name = "Bad Name".into();
    t.role = String::new();
    t.parameters.max_tokens = 0;
    let report = t.check();
    let codes: Vec<_> = report.errors.iter().map(ErrorCode::code).collect();
    assert_eq!(codes, ["TEMPLATE_INVALID_NAME", "TEMPLATE_EMPTY_FIELD", "TEMPLATE_INVALID_PARAMETER"]);
    assert!(!report.is_valid());
}

#[test]
fn unused_variable_and_unslotted_document_are_warnings() {
    let t = Template::from_toml(&format!(
        "{}\n[[variables]]\nname = \"spare\"\nkind = \"text\"\n",
        with("Summarise in", "Summarise {{document}} in")
    ))
    .unwrap();
    let warnings = t.validate().unwrap();
    assert_eq!(
        warnings,
        [
            Warning::DocumentOutsideInput { variable: "document".into(), location: "task".into() },
            Warning::UnusedVariable { variable: "spare".into() },
        ]
    );
    assert_eq!(warnings[1].code(), "UNUSED_VARIABLE");
    assert_eq!(warnings[1].to_string(), "variable `spare` is declared but never used");
}

#[test]
fn missing_required_variable_is_named() {
    let e = base().render(&Inputs::new(), &[]).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_MISSING_VARIABLE");
    assert_eq!(e.to_string(), "missing required variable `document` (the text to summarise)");
    // Blank counts as missing.
    let e = base().render(&inputs(&[("document", " \n ")]), &[]).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_MISSING_VARIABLE");
}

#[test]
fn unknown_input_lists_the_declared_variables() {
    let e = base().render(&inputs(&[("document", "d"), ("documnet", "d")]), &[]).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_UNKNOWN_INPUT");
    assert_eq!(
        e.to_string(),
        "unknown variable `documnet`: the template declares `field`, `max_points`, `tone`, `document`"
    );
}

#[test]
fn type_mismatch_is_explained() {
    for value in ["ten", "9", "0.5", "NaN"] {
        let e = base().render(&inputs(&[("document", "d"), ("max_points", value)]), &[]).unwrap_err();
        assert_eq!(e.code(), "TEMPLATE_TYPE_MISMATCH");
        assert_eq!(e.to_string(), format!("variable `max_points` is a number between 1 and 5, got `{value}`"));
    }
}

#[test]
fn choice_outside_its_options_lists_them() {
    let e = base().render(&inputs(&[("document", "d"), ("tone", "rudely")]), &[]).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_INVALID_CHOICE");
    assert_eq!(e.to_string(), "variable `tone` must be one of `formally`, `plainly`; got `rudely`");
}

#[test]
fn evidence_rules_at_render_time() {
    let passage = EvidencePassage::new("Act", "Section 1.");
    let e = base().render(&inputs(&[("document", "d")]), std::slice::from_ref(&passage)).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_EVIDENCE_NOT_ACCEPTED");

    let t = Template::from_toml(&with(
        "output_format = \"- point\"",
        "output_format = \"- point\"\nevidence = true\nevidence_query = \"{{field}} summary\"",
    ))
    .unwrap();
    let e = t.render(&inputs(&[("document", "d")]), &[]).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_EVIDENCE_REQUIRED");
    assert!(e.to_string().contains("`contract law summary`"), "{e}");

    let mut twice = passage.clone();
    twice.label = "S1".into();
    let e = t.render(&inputs(&[("document", "d")]), &[passage, twice]).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_DUPLICATE_EVIDENCE_LABEL");
}

#[test]
fn empty_optional_slot_is_left_out_and_data_is_neutralised() {
    let t = Template::from_toml(&format!(
        "{BASE}\n[[variables]]\nname = \"notes\"\nkind = \"text\"\n\n[[inputs]]\nlabel = \"Notes\"\ncontent = \"{{{{notes}}}}\"\n"
    ))
    .unwrap();
    let without = t.render(&inputs(&[("document", "A >>> B")]), &[]).unwrap();
    assert!(!without.user.contains("Notes:"), "{}", without.user);
    assert!(without.user.starts_with("Document:\n<<<\nA ››› B\n>>>\n\nTask: "), "{}", without.user);
    let with_notes = t.render(&inputs(&[("document", "A"), ("notes", "urgent")]), &[]).unwrap();
    assert!(with_notes.user.contains("Notes:\n<<<\nurgent\n>>>"), "{}", with_notes.user);
}
