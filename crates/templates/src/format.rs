//! The template file format (TOML, `format = 1`).
//!
//! ```toml
//! format = 1
//! name = "contract-risk-review-en"        # id: kebab-case, unique in the library
//! title = "Contract risk review"
//! language = "en"                          # zh | en: the language of the fixed labels
//! category = "legal"
//! description = "Reviews a contract clause by clause for one party."
//! evidence = false                         # true: runs over passages retrieved from the matter
//! # evidence_query = "{{question}}"        # what to retrieve with (evidence templates only)
//! role = "You are a senior commercial lawyer acting for {{party}}."
//! task = "Review the contract above for {{party}}."
//! requirements = ["Cite the clause number of every risk.", "At most {{max_risks}} risks."]
//! output_format = "A Markdown table: | # | Clause | Risk | Level | Proposed change |"
//! output_example = "| 1 | 7.2 | Unlimited liability | High | Cap at fees paid |"
//!
//! [parameters]
//! temperature = 0.2
//! max_tokens = 1024
//!
//! [[variables]]
//! name = "contract"
//! kind = "document"                        # text | document | choice | number
//! required = true
//! description = "The contract text"
//!
//! [[variables]]
//! name = "max_risks"
//! kind = "number"
//! min = 1
//! max = 20
//! default = 10
//!
//! [[inputs]]                               # the user message's data slots, in order
//! label = "Contract"
//! content = "{{contract}}"
//! ```
//!
//! Placeholders are described in the crate documentation.

use serde::{Deserialize, Serialize};

use crate::error::TemplateError;

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The language of a template: it decides the fixed labels of the rendered prompt.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
// The container name only names the type (in the TypeScript bindings, apart from the answer's `Language`).
#[serde(rename = "TemplateLanguage", rename_all = "lowercase")]
pub enum Language {
    /// Chinese.
    Zh,
    /// English.
    En,
}

impl Language {
    /// `zh` or `en`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zh" => Ok(Self::Zh),
            "en" => Ok(Self::En),
            other => Err(format!("unknown language `{other}` (zh or en)")),
        }
    }
}

/// A prompt template.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Format version; [`FORMAT_VERSION`].
    pub format: u32,
    /// Id: kebab-case (`a-z`, `0-9`, `-`), at most 64 characters, unique in the library.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Language of the template (and of its fixed prompt labels).
    pub language: Language,
    /// A free grouping (`legal`, `business`, …).
    #[serde(default = "default_category")]
    pub category: String,
    /// What the template is for.
    #[serde(default)]
    pub description: String,
    /// Whether it runs over evidence retrieved from the matter (sources `[S1]…`).
    #[serde(default)]
    pub evidence: bool,
    /// What to retrieve the evidence with (placeholders allowed); evidence templates only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_query: Option<String>,
    /// Who the model is ("你是\[领域\]专家…"); opens the system prompt.
    pub role: String,
    /// What to do; closes the user message, after the inputs and evidence.
    pub task: String,
    /// Numbered requirements (format, length, style); numbered when rendered.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// The shape of the answer.
    pub output_format: String,
    /// An example answer (shown as an example of the format only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output_example: String,
    /// Model parameters.
    #[serde(default)]
    pub parameters: Parameters,
    /// Typed variables, in the order a form shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
    /// The user message's data slots, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputSlot>,
}

fn default_category() -> String {
    "general".into()
}

/// Model parameters of a template.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// Sampling temperature, 0 (greedy, deterministic) to 2.
    pub temperature: f32,
    /// Tokens reserved for the answer (1 to 32,768).
    pub max_tokens: u32,
}

impl Default for Parameters {
    fn default() -> Self {
        Self { temperature: 0.2, max_tokens: 1024 }
    }
}

impl Parameters {
    /// Sampling for these parameters: greedy at temperature 0, else the defaults with this
    /// temperature.
    #[must_use]
    pub fn sampling(&self) -> lexdesk_core::generate::Sampling {
        use lexdesk_core::generate::Sampling;
        if self.temperature <= 0.0 {
            Sampling::greedy()
        } else {
            Sampling { temperature: self.temperature, ..Sampling::default() }
        }
    }
}

/// The type of a variable.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VariableKind {
    /// A short text (a question, a party's name).
    Text,
    /// A long text: a document pasted or read from a file; belongs in an input slot.
    Document,
    /// One of `options`.
    Choice,
    /// A number, optionally between `min` and `max`.
    Number,
}

impl VariableKind {
    /// `text`, `document`, `choice` or `number`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Document => "document",
            Self::Choice => "choice",
            Self::Number => "number",
        }
    }
}

/// What a variable's default looks like in the TypeScript bindings: validation allows a string,
/// or a number for `number` variables (the TOML value itself is kept as written).
#[cfg(feature = "specta")]
#[derive(Serialize, specta::Type)]
#[serde(untagged)]
#[allow(dead_code)]
enum DefaultValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

/// A typed variable, used in the template's text as `{{name}}`.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Name: `a-z`, `0-9`, `_`, starting with a letter.
    pub name: String,
    /// Type.
    pub kind: VariableKind,
    /// What to enter (shown in forms and in errors).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether a value (or a default) must be present when rendering.
    #[serde(default)]
    pub required: bool,
    /// Value used when none is given: a string, or a number for `number` variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(type = Option<DefaultValue>))]
    pub default: Option<toml::Value>,
    /// The allowed values of a `choice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Smallest allowed `number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed `number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Variable {
    /// A variable of this kind with no default, options or bounds.
    pub fn new(name: impl Into<String>, kind: VariableKind) -> Self {
        Self {
            name: name.into(),
            kind,
            description: String::new(),
            required: false,
            default: None,
            options: Vec::new(),
            min: None,
            max: None,
        }
    }

    /// What values the variable allows, as a phrase ("a number between 1 and 5").
    #[must_use]
    pub fn expectation(&self) -> String {
        match self.kind {
            VariableKind::Text => "a text".into(),
            VariableKind::Document => "a document text".into(),
            VariableKind::Choice => {
                format!("one of {}", self.options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "))
            }
            VariableKind::Number => match (self.min, self.max) {
                (Some(min), Some(max)) => format!("a number between {} and {}", number(min), number(max)),
                (Some(min), None) => format!("a number of at least {}", number(min)),
                (None, Some(max)) => format!("a number of at most {}", number(max)),
                (None, None) => "a number".into(),
            },
        }
    }
}

/// A number as LexDesk writes it: integers without a decimal point.
pub(crate) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { format!("{value}") }
}

/// One data slot of the user message: a label and its content, delimited as data when
/// rendered. A slot whose variables are all empty is left out.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSlot {
    /// Heading of the slot (placeholders allowed).
    pub label: String,
    /// Content, usually a single `{{variable}}`.
    pub content: String,
}

impl Template {
    /// Parse a template from TOML and validate it (errors only; see
    /// [`Template::validate`] for the warnings).
    ///
    /// # Errors
    /// [`TemplateError::Syntax`] with line and column, [`TemplateError::UnsupportedFormat`],
    /// [`TemplateError::UnknownField`], [`TemplateError::MissingField`],
    /// [`TemplateError::InvalidValue`], or any validation error.
    pub fn from_toml(text: &str) -> Result<Self, TemplateError> {
        let template = parse_unvalidated(text)?;
        template.validate()?;
        Ok(template)
    }

    /// The template as TOML text.
    ///
    /// # Errors
    /// [`TemplateError::Serialize`] (not expected for a template that was parsed).
    pub fn to_toml(&self) -> Result<String, TemplateError> {
        toml::to_string_pretty(self).map_err(|e| TemplateError::Serialize { message: e.to_string() })
    }

    /// The declared variable of that name.
    #[must_use]
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// The values of `inputs` this template declares (a comparison gives every template the
    /// union of all their inputs; each renders over its own).
    #[must_use]
    pub fn own_inputs(&self, inputs: &crate::render::Inputs) -> crate::render::Inputs {
        inputs.iter().filter(|(k, _)| self.variable(k).is_some()).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Parse without validating: syntax, version, fields and types only.
pub(crate) fn parse_unvalidated(text: &str) -> Result<Template, TemplateError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = position(text, e.span().map_or(0, |s| s.start));
        TemplateError::Syntax { line, column, message: e.message().trim().to_owned() }
    })?;
    match table.get("format") {
        None => return Err(TemplateError::MissingField { field: "format".into(), line: None }),
        Some(toml::Value::Integer(v)) if *v == i64::from(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(TemplateError::UnsupportedFormat { found: other.to_string(), supported: FORMAT_VERSION });
        }
    }
    toml::from_str(text).map_err(|e| schema_error(text, &e))
}

/// Classify a serde error from the TOML deserialiser.
fn schema_error(text: &str, e: &toml::de::Error) -> TemplateError {
    let message = e.message().trim();
    let span = e.span();
    let (line, column) = position(text, span.as_ref().map_or(0, |s| s.start));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = tail.trim_start_matches(',').trim().to_owned();
        return TemplateError::UnknownField { field: field.to_owned(), line, column, expected };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split_once('`').map_or(rest, |(f, _)| f).to_owned();
        return TemplateError::MissingField { field, line: span.map(|_| line) };
    }
    TemplateError::InvalidValue { line, column, message: message.to_owned() }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut at = offset;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
