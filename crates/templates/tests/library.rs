//! The library in a temporary folder: list, get, create, update, duplicate, delete, import,
//! export, and the errors for built-ins and name conflicts.

use lexdesk_core::ErrorCode;
use lexdesk_templates::{BUILTINS, Library, Source, Template, TemplateError, builtin};

fn library() -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::new(dir.path().join("templates"));
    (dir, library)
}

fn user_template(name: &str) -> Template {
    let mut t = builtin("nda-checklist-en").unwrap().0.clone();
    t.name = name.into();
    t.title = "Our NDA checklist".into();
    t
}

fn files(library: &Library) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(library.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn builtins_are_listed_and_exported_as_shipped() {
    let (_dir, library) = library();
    let listing = library.list().unwrap();
    assert_eq!(listing.templates.len(), BUILTINS.len());
    assert!(listing.templates.iter().all(|t| t.source == Source::Builtin && t.path.is_none()));
    assert!(listing.invalid.is_empty());
    let statute = listing.templates.iter().find(|t| t.name == "statute-qa-zh").unwrap();
    assert!(statute.evidence);
    let text = library.export("case-brief-zh").unwrap();
    assert!(text.starts_with("# 案例摘要"), "comments are kept");
    assert_eq!(library.get("case-brief-zh").unwrap().source, Source::Builtin);
    assert_eq!(library.get("no-such").unwrap_err().code(), "TEMPLATE_NOT_FOUND");
    assert_eq!(library.get("../etc/passwd").unwrap_err().code(), "TEMPLATE_NOT_FOUND");
}

#[test]
fn create_get_update_delete() {
    let (_dir, library) = library();
    let saved = library.create(&user_template("our-nda")).unwrap();
    assert!(saved.warnings.is_empty());
    assert_eq!(files(&library), ["our-nda.toml"], "written atomically, no temporary file left");
    let got = library.get("our-nda").unwrap();
    assert_eq!((got.source, &got.template), (Source::User, &user_template("our-nda")));
    let listing = library.list().unwrap();
    let last = listing.templates.last().unwrap();
    assert_eq!((last.name.as_str(), last.source), ("our-nda", Source::User));

    // Conflicts.
    let e = library.create(&user_template("our-nda")).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_EXISTS");
    assert_eq!(e.to_string(), "a user template named `our-nda` already exists; choose another name");
    let e = library.create(&user_template("nda-checklist-en")).unwrap_err();
    assert!(matches!(e, TemplateError::AlreadyExists { builtin: true, .. }), "{e}");

    // Edit in place.
    let mut edited = user_template("our-nda");
    edited.requirements.push("Flag any clause governed by a law other than New York's.".into());
    library.update("our-nda", &edited).unwrap();
    assert_eq!(library.get("our-nda").unwrap().template, edited);

    // Edit as text: stored verbatim.
    let text = format!("# firm standard, approved 2024\n{}", edited.to_toml().unwrap());
    library.update_text("our-nda", &text).unwrap();
    assert_eq!(library.export("our-nda").unwrap(), text);

    // Rename through an edit.
    let mut renamed = edited.clone();
    renamed.name = "our-nda-v2".into();
    library.update("our-nda", &renamed).unwrap();
    assert_eq!(files(&library), ["our-nda-v2.toml"]);
    assert_eq!(library.get("our-nda").unwrap_err().code(), "TEMPLATE_NOT_FOUND");

    // Invalid edits are refused and change nothing.
    let mut broken = renamed.clone();
    broken.task = "Check {{clause}}.".into();
    let e = library.update("our-nda-v2", &broken).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_UNDECLARED_VARIABLE");
    assert_eq!(library.get("our-nda-v2").unwrap().template, renamed);
    assert_eq!(library.update("missing", &renamed).unwrap_err().code(), "TEMPLATE_NOT_FOUND");

    library.delete("our-nda-v2").unwrap();
    assert!(files(&library).is_empty());
    assert_eq!(library.delete("our-nda-v2").unwrap_err().code(), "TEMPLATE_NOT_FOUND");
}

#[test]
fn builtins_are_read_only() {
    let (_dir, library) = library();
    let t = builtin("statute-qa-en").unwrap().0.clone();
    let e = library.update("statute-qa-en", &t).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_BUILTIN_READ_ONLY");
    assert_eq!(
        e.to_string(),
        "`statute-qa-en` is a built-in template and cannot be edited; duplicate it to a new name first"
    );
    let e = library.delete("statute-qa-en").unwrap_err();
    assert!(e.to_string().contains("cannot be deleted"), "{e}");
}

#[test]
fn duplicate_keeps_the_text_and_renames() {
    let (_dir, library) = library();
    let saved = library.duplicate("contract-risk-review-zh", "our-risk-review").unwrap();
    let original = builtin("contract-risk-review-zh").unwrap();
    assert!(saved.stored.text.starts_with("# 合同风险审查"), "comments and layout survive");
    assert!(saved.stored.text.contains("name = \"our-risk-review\""));
    assert_eq!(saved.stored.template.title, "合同风险审查（副本）");
    let mut expected = original.0.clone();
    expected.name = "our-risk-review".into();
    expected.title = "合同风险审查（副本）".into();
    assert_eq!(library.get("our-risk-review").unwrap().template, expected);

    // A user template can be duplicated too; names are checked.
    let copy = library.duplicate("our-risk-review", "our-risk-review-2").unwrap();
    assert_eq!(copy.stored.template.title, "合同风险审查（副本）（副本）");
    assert_eq!(library.duplicate("our-risk-review", "our-risk-review").unwrap_err().code(), "TEMPLATE_EXISTS");
    assert_eq!(library.duplicate("our-risk-review", "Bad").unwrap_err().code(), "TEMPLATE_INVALID_NAME");
    assert_eq!(library.duplicate("nope", "fine-name").unwrap_err().code(), "TEMPLATE_NOT_FOUND");
}

#[test]
fn import_validates_and_resolves_conflicts_with_a_new_name() {
    let (dir, library) = library();
    let text = library.export("nda-checklist-en").unwrap();
    let e = library.import_text(&text, None).unwrap_err();
    assert!(matches!(e, TemplateError::AlreadyExists { builtin: true, .. }), "{e}");
    let saved = library.import_text(&text, Some("nda-checklist-firm")).unwrap();
    assert!(saved.stored.text.starts_with("# NDA checklist"), "{}", saved.stored.text);
    assert_eq!(saved.stored.template.name, "nda-checklist-firm");
    assert_eq!(saved.stored.template.title, builtin("nda-checklist-en").unwrap().0.title, "the title is kept");

    // Export from one library, import into another: the same template.
    let exported = library.export("nda-checklist-firm").unwrap();
    let other = Library::new(dir.path().join("other"));
    let imported = other.import_text(&exported, None).unwrap();
    assert_eq!(imported.stored.template, saved.stored.template);
    assert_eq!(imported.stored.text, exported, "stored verbatim");

    // A file with an error names the file.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("format = 1", "format = 1\nauthor = \"me\"")).unwrap();
    let e = library.import_file(&bad, Some("x-y")).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_UNKNOWN_FIELD");
    assert!(e.to_string().starts_with(&format!("{}: unknown field `author` at line 3", bad.display())), "{e}");
    let e = library.import_file(&dir.path().join("missing.toml"), None).unwrap_err();
    assert_eq!(e.code(), "TEMPLATE_IO");
}

#[test]
fn broken_user_files_are_listed_as_invalid() {
    let (_dir, library) = library();
    library.create(&user_template("good-one")).unwrap();
    std::fs::write(library.dir().join("broken.toml"), "format = 1\nname = \"broken\"\ntitle = ").unwrap();
    std::fs::write(library.dir().join("misnamed.toml"), user_template("other-name").to_toml().unwrap()).unwrap();
    std::fs::write(library.dir().join("notes.txt"), "not a template").unwrap();
    let listing = library.list().unwrap();
    assert_eq!(listing.templates.iter().filter(|t| t.source == Source::User).count(), 1);
    let invalid: Vec<_> = listing.invalid.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(invalid, ["TEMPLATE_SYNTAX", "TEMPLATE_NAME_MISMATCH"]);
    assert!(listing.invalid[0].message.contains("line 3"), "{}", listing.invalid[0].message);
}
