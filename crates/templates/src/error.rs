//! Errors and warnings, each with a stable code.

use std::path::PathBuf;

use lexdesk_core::EngineError;

/// Everything that can go wrong reading, validating, storing, rendering or comparing templates.
///
/// Every variant has a stable [`ErrorCode::code`]; the messages name the field, variable or
/// file concerned and, for values, what was expected and what was given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The text is not valid TOML.
    #[error("TOML syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A field the format does not know (often a typo).
    #[error("unknown field `{field}` at line {line}, column {column}{}", expected_suffix(expected))]
    UnknownField {
        /// The field as written.
        field: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The fields allowed there, as the parser lists them (may be empty).
        expected: String,
    },
    /// A required field is absent.
    #[error("missing required field `{field}`{}", at_line(*line))]
    MissingField {
        /// The field.
        field: String,
        /// Line of the table that lacks it, when known.
        line: Option<usize>,
    },
    /// A field has a value of the wrong type or an unknown variant (e.g. `language = "fr"`).
    #[error("invalid value at line {line}, column {column}: {message}")]
    InvalidValue {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// The `format` version is not one this build reads.
    #[error("unsupported template format `{found}`: this version of LexDesk reads format {supported}")]
    UnsupportedFormat {
        /// The value found (as written).
        found: String,
        /// The version supported.
        supported: u32,
    },
    /// The template name is not a valid id.
    #[error("invalid template name `{name}`: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A required text field is empty.
    #[error("field `{field}` must not be empty")]
    EmptyField {
        /// The field (`role`, `requirements[2]`, …).
        field: String,
    },
    /// A model parameter is out of range.
    #[error("parameter `{parameter}` {message}")]
    InvalidParameter {
        /// `temperature` or `max_tokens`.
        parameter: String,
        /// What is wrong.
        message: String,
    },
    /// A `{{` that does not open a valid placeholder.
    #[error(
        "malformed placeholder in `{location}` near `{snippet}`: write `{{{{name}}}}` for a variable or `{{{{{{{{` for a literal `{{{{`"
    )]
    MalformedPlaceholder {
        /// Where (`task`, `inputs[1].content`, …).
        location: String,
        /// The text around it.
        snippet: String,
    },
    /// A `{{variable}}` is used but not declared in `[[variables]]`.
    #[error("variable `{variable}` is used in `{location}` but not declared in [[variables]]")]
    UndeclaredVariable {
        /// The variable.
        variable: String,
        /// Where it is used first.
        location: String,
    },
    /// The same variable is declared twice.
    #[error("variable `{variable}` is declared twice")]
    DuplicateVariable {
        /// The variable.
        variable: String,
    },
    /// A variable declaration is inconsistent (bad name, choice without options, min > max, …).
    #[error("variable `{variable}`: {message}")]
    InvalidVariable {
        /// The variable.
        variable: String,
        /// What is wrong.
        message: String,
    },
    /// A variable's default does not satisfy its own type.
    #[error("default of variable `{variable}` must be {expected}, got {got}")]
    InvalidDefault {
        /// The variable.
        variable: String,
        /// What its type allows (e.g. "a number between 1 and 5").
        expected: String,
        /// The default as written.
        got: String,
    },
    /// The evidence settings are inconsistent (`evidence_query` without `evidence = true`).
    #[error("{message}")]
    InvalidEvidence {
        /// What is wrong.
        message: String,
    },
    /// Render time: a required variable has no value and no default.
    #[error("missing required variable `{variable}`{}", describe(description))]
    MissingVariable {
        /// The variable.
        variable: String,
        /// Its description, to say what is expected.
        description: String,
    },
    /// Render time: a value was given for a variable the template does not declare.
    #[error("unknown variable `{variable}`: the template declares {}", list_or_none(declared))]
    UnknownInput {
        /// The variable given.
        variable: String,
        /// The variables the template declares.
        declared: Vec<String>,
    },
    /// Render time: a value does not fit the variable's type.
    #[error("variable `{variable}` is {expected}, got `{got}`")]
    TypeMismatch {
        /// The variable.
        variable: String,
        /// What its type allows (e.g. "a number between 1 and 5").
        expected: String,
        /// The value given.
        got: String,
    },
    /// Render time: a value is not among a choice variable's options.
    #[error("variable `{variable}` must be one of {}; got `{got}`", quoted(options))]
    InvalidChoice {
        /// The variable.
        variable: String,
        /// The value given.
        got: String,
        /// The allowed values.
        options: Vec<String>,
    },
    /// Render time: an evidence template was rendered without evidence.
    #[error("template `{template}` runs over retrieved evidence: retrieve passages first (evidence query: {query})")]
    MissingEvidence {
        /// The template.
        template: String,
        /// Its rendered evidence query, or a note that it has none.
        query: String,
    },
    /// Render time: evidence was given to a template that does not use it.
    #[error("template `{template}` does not run over evidence (`evidence = false`), but {count} passages were given")]
    EvidenceNotAccepted {
        /// The template.
        template: String,
        /// How many passages were given.
        count: usize,
    },
    /// A template without a `question` variable was asked to shape a chat answer.
    #[error(
        "template `{template}` cannot shape a chat answer: it has no `question` variable (run it with `templates render` or `templates compare`)"
    )]
    NotForQuestions {
        /// The template.
        template: String,
    },
    /// Render time: two evidence passages carry the same label.
    #[error("evidence label `{label}` is used twice")]
    DuplicateEvidenceLabel {
        /// The label.
        label: String,
    },
    /// No template of that name.
    #[error("no template named `{name}`")]
    NotFound {
        /// The name.
        name: String,
    },
    /// A built-in template cannot be changed.
    #[error("`{name}` is a built-in template and cannot be {action}; duplicate it to a new name first")]
    BuiltinReadOnly {
        /// The template.
        name: String,
        /// What was attempted (`edited`, `deleted`).
        action: &'static str,
    },
    /// A template of that name exists already.
    #[error("a {} template named `{name}` already exists; choose another name", if *builtin { "built-in" } else { "user" })]
    AlreadyExists {
        /// The name.
        name: String,
        /// Whether the existing one is built in.
        builtin: bool,
    },
    /// A user template file holds a template of another name.
    #[error("{path} holds template `{name}`; its file must be named `{name}.toml`")]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// The name inside.
        name: String,
    },
    /// A problem in a particular file.
    #[error("{path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// The problem.
        #[source]
        error: Box<TemplateError>,
    },
    /// Reading or writing failed.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serialising a template or a comparison failed.
    #[error("cannot serialise: {message}")]
    Serialize {
        /// The serialiser's message.
        message: String,
    },
    /// A comparison needs at least one candidate.
    #[error("a comparison needs at least one template")]
    EmptyComparison,
    /// No saved comparison with that id.
    #[error("no saved comparison `{id}`")]
    ComparisonNotFound {
        /// The id asked for.
        id: String,
    },
    /// A saved comparison cannot be read.
    #[error("saved comparison {path} is unreadable: {message}")]
    CorruptComparison {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The model failed (token counting for a preview).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn expected_suffix(expected: &str) -> String {
    if expected.is_empty() { String::new() } else { format!(" ({expected})") }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (in the table at line {l})")).unwrap_or_default()
}

fn describe(description: &str) -> String {
    if description.is_empty() { String::new() } else { format!(" ({description})") }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "no variables".into() } else { quoted(items) }
}

impl TemplateError {
    /// Attach the file this error was found in.
    #[must_use]
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            e @ (Self::File { .. } | Self::Io { .. }) => e,
            e => Self::File { path: path.into(), error: Box::new(e) },
        }
    }

    /// The error itself, without the file it was found in.
    #[must_use]
    pub fn innermost(&self) -> &Self {
        match self {
            Self::File { error, .. } => error.innermost(),
            e => e,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

lexdesk_core::error_codes!(TemplateError {
    Self::Syntax { .. } => "TEMPLATE_SYNTAX", InvalidData;
    Self::UnknownField { .. } => "TEMPLATE_UNKNOWN_FIELD", InvalidData;
    Self::MissingField { .. } => "TEMPLATE_MISSING_FIELD", InvalidData;
    Self::InvalidValue { .. } => "TEMPLATE_INVALID_VALUE", InvalidData;
    Self::UnsupportedFormat { .. } => "TEMPLATE_UNSUPPORTED_FORMAT", InvalidData;
    Self::InvalidName { .. } => "TEMPLATE_INVALID_NAME", InvalidInput;
    Self::EmptyField { .. } => "TEMPLATE_EMPTY_FIELD", InvalidData;
    Self::InvalidParameter { .. } => "TEMPLATE_INVALID_PARAMETER", InvalidData;
    Self::MalformedPlaceholder { .. } => "TEMPLATE_MALFORMED_PLACEHOLDER", InvalidData;
    Self::UndeclaredVariable { .. } => "TEMPLATE_UNDECLARED_VARIABLE", InvalidData;
    Self::DuplicateVariable { .. } => "TEMPLATE_DUPLICATE_VARIABLE", InvalidData;
    Self::InvalidVariable { .. } => "TEMPLATE_INVALID_VARIABLE", InvalidData;
    Self::InvalidDefault { .. } => "TEMPLATE_INVALID_DEFAULT", InvalidData;
    Self::InvalidEvidence { .. } => "TEMPLATE_INVALID_EVIDENCE", InvalidData;
    Self::MissingVariable { .. } => "TEMPLATE_MISSING_VARIABLE", InvalidInput;
    Self::UnknownInput { .. } => "TEMPLATE_UNKNOWN_INPUT", InvalidInput;
    Self::TypeMismatch { .. } => "TEMPLATE_TYPE_MISMATCH", InvalidInput;
    Self::InvalidChoice { .. } => "TEMPLATE_INVALID_CHOICE", InvalidInput;
    Self::MissingEvidence { .. } => "TEMPLATE_EVIDENCE_REQUIRED", InvalidInput;
    Self::EvidenceNotAccepted { .. } => "TEMPLATE_EVIDENCE_NOT_ACCEPTED", InvalidInput;
    Self::DuplicateEvidenceLabel { .. } => "TEMPLATE_DUPLICATE_EVIDENCE_LABEL", InvalidData;
    Self::NotForQuestions { .. } => "TEMPLATE_NOT_FOR_QUESTIONS", InvalidInput;
    Self::NotFound { .. } => "TEMPLATE_NOT_FOUND", NotFound;
    Self::BuiltinReadOnly { .. } => "TEMPLATE_BUILTIN_READ_ONLY", Conflict;
    Self::AlreadyExists { .. } => "TEMPLATE_EXISTS", Conflict;
    Self::NameMismatch { .. } => "TEMPLATE_NAME_MISMATCH", InvalidData;
    Self::Io { .. } => "TEMPLATE_IO", Io;
    Self::Serialize { .. } => "TEMPLATE_SERIALIZE", Internal;
    Self::EmptyComparison => "COMPARISON_EMPTY", InvalidInput;
    Self::ComparisonNotFound { .. } => "COMPARISON_NOT_FOUND", NotFound;
    Self::CorruptComparison { .. } => "COMPARISON_CORRUPT", InvalidData;
} wraps {
    Self::File { error, .. } => error,
    Self::Engine(e) => e,
});

/// Something suspicious in a template that does not stop it from being used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Warning {
    /// A declared variable appears nowhere in the template's text.
    #[error("variable `{variable}` is declared but never used")]
    UnusedVariable {
        /// The variable.
        variable: String,
    },
    /// A document variable is placed outside an input slot, so it is not delimited as data.
    #[error(
        "document variable `{variable}` is used in `{location}`, outside an input slot: it will not be delimited as data"
    )]
    DocumentOutsideInput {
        /// The variable.
        variable: String,
        /// Where.
        location: String,
    },
}

// A warning is no failure; as an error it would be a template file's content.
lexdesk_core::error_codes!(Warning {
    Self::UnusedVariable { .. } => "UNUSED_VARIABLE", InvalidData;
    Self::DocumentOutsideInput { .. } => "DOCUMENT_OUTSIDE_INPUT", InvalidData;
});
