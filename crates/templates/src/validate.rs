//! Validation of templates and of the values given to their variables.

use std::collections::HashSet;

use serde::Serialize;

use crate::error::{TemplateError, Warning};
use crate::format::{Template, Variable, VariableKind, number};

/// Longest template name.
pub const MAX_NAME_LEN: usize = 64;
/// Highest temperature a template may ask for.
pub const MAX_TEMPERATURE: f32 = 2.0;
/// Most answer tokens a template may reserve.
pub const MAX_TOKENS: u32 = 32_768;

/// Everything wrong with a template at once (for editors), with its warnings.
#[derive(Debug, Default)]
pub struct Report {
    /// Errors, in the order the fields appear in the format.
    pub errors: Vec<TemplateError>,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// No errors.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

impl Template {
    /// Validate; the first error, or the warnings.
    ///
    /// # Errors
    /// The first problem [`Template::check`] finds.
    pub fn validate(&self) -> Result<Vec<Warning>, TemplateError> {
        let mut report = self.check();
        if report.errors.is_empty() { Ok(report.warnings) } else { Err(report.errors.swap_remove(0)) }
    }

    /// Validate and report every problem.
    #[must_use]
    pub fn check(&self) -> Report {
        let mut report = Report::default();
        let errors = &mut report.errors;
        if self.format != crate::FORMAT_VERSION {
            errors.push(TemplateError::UnsupportedFormat {
                found: self.format.to_string(),
                supported: crate::FORMAT_VERSION,
            });
        }
        if let Err(e) = check_name(&self.name) {
            errors.push(e);
        }
        for (field, value) in [
            ("title", &self.title),
            ("category", &self.category),
            ("role", &self.role),
            ("task", &self.task),
            ("output_format", &self.output_format),
        ] {
            if value.trim().is_empty() {
                errors.push(TemplateError::EmptyField { field: field.into() });
            }
        }
        for (i, r) in self.requirements.iter().enumerate() {
            if r.trim().is_empty() {
                errors.push(TemplateError::EmptyField { field: format!("requirements[{}]", i + 1) });
            }
        }
        for (i, slot) in self.inputs.iter().enumerate() {
            if slot.content.trim().is_empty() {
                errors.push(TemplateError::EmptyField { field: format!("inputs[{}].content", i + 1) });
            }
        }
        check_parameters(self, errors);
        let mut seen = HashSet::new();
        for v in &self.variables {
            if !seen.insert(v.name.as_str()) {
                errors.push(TemplateError::DuplicateVariable { variable: v.name.clone() });
            }
            check_variable(v, errors);
        }
        if self.evidence_query.is_some() && !self.evidence {
            errors.push(TemplateError::InvalidEvidence {
                message: "`evidence_query` is set but `evidence` is false: set `evidence = true` or remove the query"
                    .into(),
            });
        }
        if self.evidence_query.as_deref().is_some_and(|q| q.trim().is_empty()) {
            errors.push(TemplateError::EmptyField { field: "evidence_query".into() });
        }

        // Placeholders: every use declared, every declaration used.
        let mut used = HashSet::new();
        let mut reported = HashSet::new();
        for (location, text) in self.texts() {
            match scan(text) {
                Err(snippet) => {
                    errors.push(TemplateError::MalformedPlaceholder { location: location.clone(), snippet })
                }
                Ok(pieces) => {
                    for name in pieces.iter().filter_map(Piece::variable) {
                        used.insert(name.to_owned());
                        match self.variable(name) {
                            None if reported.insert(name.to_owned()) => {
                                errors.push(TemplateError::UndeclaredVariable {
                                    variable: name.to_owned(),
                                    location: location.clone(),
                                });
                            }
                            Some(v) if v.kind == VariableKind::Document && !location.starts_with("inputs[") => {
                                report.warnings.push(Warning::DocumentOutsideInput {
                                    variable: name.to_owned(),
                                    location: location.clone(),
                                });
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        for v in &self.variables {
            if !used.contains(&v.name) {
                report.warnings.push(Warning::UnusedVariable { variable: v.name.clone() });
            }
        }
        report
    }

    /// Every text that may hold placeholders, with its location.
    pub(crate) fn texts(&self) -> Vec<(String, &str)> {
        let mut texts = vec![("role".to_owned(), self.role.as_str()), ("task".to_owned(), self.task.as_str())];
        for (i, r) in self.requirements.iter().enumerate() {
            texts.push((format!("requirements[{}]", i + 1), r));
        }
        texts.push(("output_format".into(), &self.output_format));
        texts.push(("output_example".into(), &self.output_example));
        for (i, slot) in self.inputs.iter().enumerate() {
            texts.push((format!("inputs[{}].label", i + 1), &slot.label));
            texts.push((format!("inputs[{}].content", i + 1), &slot.content));
        }
        if let Some(q) = &self.evidence_query {
            texts.push(("evidence_query".into(), q));
        }
        texts
    }
}

/// Check a template name: kebab-case, starting with a letter, at most [`MAX_NAME_LEN`].
///
/// # Errors
/// [`TemplateError::InvalidName`] saying why.
pub fn check_name(name: &str) -> Result<(), TemplateError> {
    let bad = |reason: &str| Err(TemplateError::InvalidName { name: name.to_owned(), reason: reason.to_owned() });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad(&format!("it is longer than {MAX_NAME_LEN} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it must start with a lower-case letter (a-z)");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return bad("use only lower-case letters, digits and hyphens (kebab-case, e.g. `contract-review-en`)");
    }
    if name.ends_with('-') || name.contains("--") {
        return bad("hyphens separate words: no trailing or doubled hyphen");
    }
    Ok(())
}

fn check_parameters(t: &Template, errors: &mut Vec<TemplateError>) {
    let p = &t.parameters;
    if !p.temperature.is_finite() || !(0.0..=MAX_TEMPERATURE).contains(&p.temperature) {
        errors.push(TemplateError::InvalidParameter {
            parameter: "temperature".into(),
            message: format!("must be between 0 and {MAX_TEMPERATURE}, got {}", p.temperature),
        });
    }
    if p.max_tokens == 0 || p.max_tokens > MAX_TOKENS {
        errors.push(TemplateError::InvalidParameter {
            parameter: "max_tokens".into(),
            message: format!("must be between 1 and {MAX_TOKENS}, got {}", p.max_tokens),
        });
    }
}

fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_variable(v: &Variable, errors: &mut Vec<TemplateError>) {
    let mut bad = |message: String| errors.push(TemplateError::InvalidVariable { variable: v.name.clone(), message });
    if !is_identifier(&v.name) || v.name.len() > 40 {
        bad("a variable name uses lower-case letters, digits and `_`, starts with a letter and has at most 40 characters"
            .into());
        return;
    }
    if v.kind != VariableKind::Choice && !v.options.is_empty() {
        bad(format!("`options` are for choice variables; this one is a {}", v.kind.as_str()));
    }
    if v.kind != VariableKind::Number && (v.min.is_some() || v.max.is_some()) {
        bad(format!("`min` and `max` are for number variables; this one is a {}", v.kind.as_str()));
    }
    if v.kind == VariableKind::Choice {
        if v.options.is_empty() {
            bad("a choice variable needs `options`".into());
        }
        let mut seen = HashSet::new();
        for o in &v.options {
            if o.trim().is_empty() {
                bad("choice options must not be empty".into());
            } else if !seen.insert(o.as_str()) {
                bad(format!("option `{o}` is listed twice"));
            }
        }
    }
    if v.kind == VariableKind::Number {
        for (field, value) in [("min", v.min), ("max", v.max)] {
            if value.is_some_and(|x| !x.is_finite()) {
                bad(format!("`{field}` must be a finite number"));
            }
        }
        if let (Some(min), Some(max)) = (v.min, v.max)
            && min > max
        {
            bad(format!("`min` ({}) is greater than `max` ({})", number(min), number(max)));
        }
    }
    if let Some(default) = &v.default
        && let Err(e) = default_value(v, default)
    {
        errors.push(e);
    }
}

/// The default of a variable as the string a value would be given as.
pub(crate) fn default_value(v: &Variable, default: &toml::Value) -> Result<String, TemplateError> {
    let invalid = || TemplateError::InvalidDefault {
        variable: v.name.clone(),
        expected: v.expectation(),
        got: default.to_string(),
    };
    match (v.kind, default) {
        (VariableKind::Number, toml::Value::Integer(i)) => check_value(v, &i.to_string()).map_err(|_| invalid()),
        (VariableKind::Number, toml::Value::Float(x)) => check_value(v, &number(*x)).map_err(|_| invalid()),
        (VariableKind::Text | VariableKind::Document | VariableKind::Choice, toml::Value::String(s)) => {
            check_value(v, s).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

/// Check a value against a variable's type; the value as it will be rendered.
///
/// Numbers are rendered canonically (`03` → `3`, `2.50` → `2.5`); text is kept as given.
///
/// # Errors
/// [`TemplateError::TypeMismatch`] or [`TemplateError::InvalidChoice`].
pub fn check_value(v: &Variable, value: &str) -> Result<String, TemplateError> {
    match v.kind {
        VariableKind::Text | VariableKind::Document => Ok(value.to_owned()),
        VariableKind::Choice => {
            let trimmed = value.trim();
            if v.options.iter().any(|o| o == trimmed) {
                Ok(trimmed.to_owned())
            } else {
                Err(TemplateError::InvalidChoice {
                    variable: v.name.clone(),
                    got: value.to_owned(),
                    options: v.options.clone(),
                })
            }
        }
        VariableKind::Number => {
            let mismatch = || TemplateError::TypeMismatch {
                variable: v.name.clone(),
                expected: v.expectation(),
                got: value.to_owned(),
            };
            let x: f64 = value.trim().parse().map_err(|_| mismatch())?;
            if !x.is_finite() || v.min.is_some_and(|min| x < min) || v.max.is_some_and(|max| x > max) {
                return Err(mismatch());
            }
            Ok(number(x))
        }
    }
}

/// A piece of a text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// `{{name}}`.
    Variable(&'a str),
}

impl<'a> Piece<'a> {
    fn variable(&self) -> Option<&'a str> {
        match self {
            Self::Variable(name) => Some(name),
            Self::Text(_) => None,
        }
    }
}

/// Split a text into literal pieces and `{{variable}}` placeholders. `{{{{` is a literal `{{`.
///
/// On a malformed placeholder, returns the text around it.
pub(crate) fn scan(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("{{{{") {
            pieces.push(Piece::Text("{{"));
            rest = tail;
            continue;
        }
        let snippet = || after.chars().take(24).collect::<String>();
        let close = after[2..].find("}}").ok_or_else(snippet)?;
        let name = after[2..2 + close].trim();
        if !is_identifier(name) {
            return Err(snippet());
        }
        pieces.push(Piece::Variable(name));
        rest = &after[2 + close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanning_placeholders_and_escapes() {
        assert_eq!(
            scan("a {{ x }} b {{{{y}} {{z}}").unwrap(),
            [
                Piece::Text("a "),
                Piece::Variable("x"),
                Piece::Text(" b "),
                Piece::Text("{{"),
                Piece::Text("y}} "),
                Piece::Variable("z")
            ]
        );
        assert_eq!(scan("{\"a\": {\"b\": 1}}").unwrap(), [Piece::Text("{\"a\": {\"b\": 1}}")]);
        assert!(scan("{{ no close").is_err());
        assert!(scan("{{Bad-Name}}").is_err());
    }

    #[test]
    fn names() {
        assert!(check_name("nda-checklist-zh").is_ok());
        for bad in ["", "NDA", "1st", "a_b", "a-", "a--b", "法律"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
