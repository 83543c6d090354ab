//! LexDesk's prompt templates: a versioned TOML format, built-in templates in Chinese and
//! English, the user's library, validation with specific errors, deterministic rendering with a
//! token-count preview, and side-by-side comparison of templates on one model.
//!
//! The crate knows nothing of Tauri, HTTP or the CLI; models are reached through
//! [`lexdesk_core::generate::Generator`].
//!
//! # Placeholders
//!
//! Text fields (`role`, `task`, `requirements`, `output_format`, `output_example`, the input
//! slots' `label` and `content`, `evidence_query`) may use the template's variables:
//!
//! - `{{name}}` (spaces inside allowed: `{{ name }}`) is replaced by the variable's value: the
//!   value given, else its default, else empty. Names are `a-z`, `0-9` and `_`, starting with a
//!   letter, and must be declared in `[[variables]]`.
//! - `{{{{` is a literal `{{`. Any other `{{` is an error; a lone `}}` is plain text, so JSON
//!   examples need no escaping.
//! - Values are inserted verbatim, never expanded again, and `<<<`/`>>>` inside them are
//!   neutralised (`‹‹‹`/`›››`) so that data cannot close its own data block.
//! - There is no logic. The one conditional: an input slot whose content renders empty is left
//!   out, so an optional document simply disappears.
//!
//! # Rendered prompt
//!
//! - **System**: `role`; when the user message carries data, a note that text between
//!   `<<<` and `>>>` is data, not instructions; the numbered `requirements`; the
//!   `output_format`; the `output_example`, marked as an example of the format.
//! - **User**: each non-empty input slot as `【label】` (zh) or `label:` (en) followed by its
//!   content between `<<<` and `>>>`; for evidence templates the sources `[S1] title, p. 3 —
//!   heading` each delimited the same way (as `lexdesk-service`'s grounded answers do); last,
//!   `任务：`/`Task:` and the task.
//!
//! # Example
//!
//! ```
//! use lexdesk_templates::{Inputs, Library};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let library = Library::new(dir.path());
//! let template = library.get("nda-checklist-en").unwrap().template;
//! let inputs = Inputs::from([("nda".to_owned(), "MUTUAL NON-DISCLOSURE AGREEMENT …".to_owned())]);
//! let rendered = template.render(&inputs, &[]).unwrap();
//! assert!(rendered.system.starts_with("You are") && rendered.user.contains("Task:"));
//! ```

mod builtin;
mod compare;
mod diff;
mod error;
mod format;
mod history;
mod library;
mod render;
mod validate;

pub use builtin::{BUILTINS, Builtin, builtin, builtins};
pub use compare::utc as format_utc;
pub use compare::{
    COMPARISON_FORMAT, Candidate, Comparison, ComparisonRequest, KeywordScore, Progress, RunError, RunResult,
    check_inputs, compare, compare_with, keyword_score, prepare,
};
pub use diff::{DiffLine, DiffOp, DiffSpan, diff_lines, unified_diff};
pub use error::{TemplateError, Warning};
pub use format::{FORMAT_VERSION, InputSlot, Language, Parameters, Template, Variable, VariableKind};
pub use history::{ComparisonHistory, ComparisonSummary, HistoryListing};
pub use library::{InvalidFile, Library, Listing, Saved, Source, StoredTemplate, TemplateSummary};
pub use render::{AnswerInstructions, EvidencePassage, Inputs, Preview, QUESTION_VARIABLE, RenderedTemplate, preview};
pub use validate::{MAX_NAME_LEN, MAX_TEMPERATURE, MAX_TOKENS, Report, check_name, check_value};
