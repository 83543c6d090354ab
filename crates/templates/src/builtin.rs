//! The built-in templates, each in Chinese and English, embedded from `builtin/*.toml`.

use std::sync::LazyLock;

use crate::format::Template;

/// A built-in template: its name and its TOML text as shipped.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The template's name.
    pub name: &'static str,
    /// The TOML file, comments included (what `export` returns).
    pub text: &'static str,
}

macro_rules! builtins {
    ($($name:literal),* $(,)?) => {
        &[$(Builtin { name: $name, text: include_str!(concat!("../builtin/", $name, ".toml")) }),*]
    };
}

/// The built-in templates, in the order the library lists them.
pub const BUILTINS: &[Builtin] = builtins![
    "enterprise-summary-zh",
    "enterprise-summary-en",
    "customer-complaint-zh",
    "customer-complaint-en",
    "statute-qa-zh",
    "statute-qa-en",
    "contract-risk-review-zh",
    "contract-risk-review-en",
    "clause-extraction-zh",
    "clause-extraction-en",
    "case-brief-zh",
    "case-brief-en",
    "legal-memo-outline-zh",
    "legal-memo-outline-en",
    "nda-checklist-zh",
    "nda-checklist-en",
];

static PARSED: LazyLock<Vec<Template>> = LazyLock::new(|| {
    BUILTINS
        .iter()
        .map(|b| {
            // Every built-in is parsed, validated and snapshot-rendered by the tests
            // (`tests/builtin.rs`), so this cannot fail in a build that passed them.
            #[allow(clippy::expect_used)]
            Template::from_toml(b.text).expect("built-in templates are valid (checked by tests/builtin.rs)")
        })
        .collect()
});

/// All built-in templates, parsed.
#[must_use]
pub fn builtins() -> &'static [Template] {
    &PARSED
}

/// The built-in template of that name.
#[must_use]
pub fn builtin(name: &str) -> Option<(&'static Template, &'static Builtin)> {
    let i = BUILTINS.iter().position(|b| b.name == name)?;
    Some((&PARSED[i], &BUILTINS[i]))
}
