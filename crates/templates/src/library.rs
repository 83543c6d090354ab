//! The template library: the read-only built-ins and the user's templates, one TOML file each
//! (`<name>.toml`) in a folder the caller chooses (the app uses `LEXDESK_HOME/templates`).
//!
//! Writes are atomic (a temporary file in the same folder, then a rename). Text is kept as the
//! user wrote it where possible: importing or editing TOML text stores it verbatim, and renaming
//! on import or duplication edits only the `name` (and `title`) line when that provably leaves
//! the rest unchanged; otherwise the template is written out afresh.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use lexdesk_core::ErrorCode;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::builtin::builtin;
use crate::error::{TemplateError, Warning};
use crate::format::{Language, Template, parse_unvalidated};
use crate::validate::check_name;

/// Where a template comes from.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
// The container name only names the type (in the TypeScript bindings).
#[serde(rename = "TemplateSource", rename_all = "snake_case")]
pub enum Source {
    /// Shipped with LexDesk; read-only.
    Builtin,
    /// The user's own, in the library folder.
    User,
}

/// A line of the library's listing.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSummary {
    /// Name (id).
    pub name: String,
    /// Title.
    pub title: String,
    /// Language.
    pub language: Language,
    /// Category.
    pub category: String,
    /// Description.
    pub description: String,
    /// Whether it runs over retrieved evidence.
    pub evidence: bool,
    /// Whether it can shape a chat answer (it has a `question` variable).
    #[serde(default)]
    pub answers_questions: bool,
    /// Built-in or user.
    pub source: Source,
    /// The file, for user templates.
    pub path: Option<PathBuf>,
}

impl TemplateSummary {
    fn of(template: &Template, source: Source, path: Option<PathBuf>) -> Self {
        Self {
            name: template.name.clone(),
            title: template.title.clone(),
            language: template.language,
            category: template.category.clone(),
            description: template.description.clone(),
            evidence: template.evidence,
            answers_questions: template.answers_questions(),
            source,
            path,
        }
    }
}

/// A file in a folder that could not be read as what it should hold.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidFile {
    /// The file.
    pub path: PathBuf,
    /// The error's code.
    pub code: String,
    /// The error.
    pub message: String,
}

impl InvalidFile {
    pub(crate) fn new(path: PathBuf, error: &TemplateError) -> Self {
        Self { path, code: error.code().to_owned(), message: error.innermost().to_string() }
    }
}

/// The library's contents.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Built-ins (in their fixed order), then user templates by name.
    pub templates: Vec<TemplateSummary>,
    /// User files that are not valid templates (shown so that they can be fixed).
    pub invalid: Vec<InvalidFile>,
}

/// A template with where it lives and its text.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTemplate {
    /// The template.
    pub template: Template,
    /// Built-in or user.
    pub source: Source,
    /// The file, for user templates.
    pub path: Option<PathBuf>,
    /// Its TOML text as stored (comments included).
    pub text: String,
}

/// The result of a write: the stored template and its warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// What was stored.
    pub stored: StoredTemplate,
    /// Validation warnings (unused variables, …).
    pub warnings: Vec<Warning>,
}

/// The built-in templates and the user's templates in one folder.
#[derive(Debug, Clone)]
pub struct Library {
    dir: PathBuf,
}

impl Library {
    /// A library whose user templates live in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The user templates' folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Built-ins and user templates, and the user files that are invalid.
    ///
    /// # Errors
    /// [`TemplateError::Io`] when the folder exists but cannot be read.
    pub fn list(&self) -> Result<Listing, TemplateError> {
        let mut listing = Listing {
            templates: crate::builtins().iter().map(|t| TemplateSummary::of(t, Source::Builtin, None)).collect(),
            invalid: Vec::new(),
        };
        for path in self.user_files()? {
            match read_user(&path) {
                Ok(stored) => listing.templates.push(TemplateSummary::of(&stored.template, Source::User, stored.path)),
                Err(e) => listing.invalid.push(InvalidFile::new(path, &e)),
            }
        }
        Ok(listing)
    }

    /// The template of that name, built-in or user.
    ///
    /// # Errors
    /// [`TemplateError::NotFound`], or the user file's problem.
    pub fn get(&self, name: &str) -> Result<StoredTemplate, TemplateError> {
        if let Some((template, b)) = builtin(name) {
            return Ok(StoredTemplate {
                template: template.clone(),
                source: Source::Builtin,
                path: None,
                text: b.text.to_owned(),
            });
        }
        let path = self.user_path(name).map_err(|_| TemplateError::NotFound { name: name.to_owned() })?;
        if !path.is_file() {
            return Err(TemplateError::NotFound { name: name.to_owned() });
        }
        read_user(&path)
    }

    /// The TOML text of a template (built-ins as shipped, with their comments).
    ///
    /// # Errors
    /// As [`Library::get`].
    pub fn export(&self, name: &str) -> Result<String, TemplateError> {
        Ok(self.get(name)?.text)
    }

    /// Store a new user template.
    ///
    /// # Errors
    /// Validation errors, [`TemplateError::AlreadyExists`], [`TemplateError::Io`].
    pub fn create(&self, template: &Template) -> Result<Saved, TemplateError> {
        template.validate()?;
        let text = template.to_toml()?;
        self.write_new(&text)
    }

    /// Import a template from TOML text, under `new_name` if given (needed when the name is
    /// taken). The text is validated and, unless renamed, stored verbatim.
    ///
    /// # Errors
    /// Parse and validation errors, [`TemplateError::AlreadyExists`], [`TemplateError::Io`].
    pub fn import_text(&self, text: &str, new_name: Option<&str>) -> Result<Saved, TemplateError> {
        let template = Template::from_toml(text)?;
        match new_name {
            Some(name) if name != template.name => {
                check_name(name)?;
                let mut renamed = template.clone();
                renamed.name = name.to_owned();
                self.write_new(&edited_text(text, &template, &renamed)?)
            }
            _ => self.write_new(text),
        }
    }

    /// Import a template file; see [`Library::import_text`].
    ///
    /// # Errors
    /// As [`Library::import_text`]; problems of the file's content name the file.
    pub fn import_file(&self, path: &Path, new_name: Option<&str>) -> Result<Saved, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(TemplateError::io(path))?;
        self.import_text(&text, new_name).map_err(|e| match e {
            e @ (TemplateError::AlreadyExists { .. } | TemplateError::Io { .. }) => e,
            e => e.in_file(path),
        })
    }

    /// Replace a user template; the new version may carry a new name (a rename).
    ///
    /// # Errors
    /// [`TemplateError::BuiltinReadOnly`], [`TemplateError::NotFound`], validation errors,
    /// [`TemplateError::AlreadyExists`] for a rename onto a taken name, [`TemplateError::Io`].
    pub fn update(&self, name: &str, template: &Template) -> Result<Saved, TemplateError> {
        template.validate()?;
        let text = template.to_toml()?;
        self.replace(name, template, &text)
    }

    /// Replace a user template with TOML text (stored verbatim, comments kept).
    ///
    /// # Errors
    /// As [`Library::update`], plus parse errors.
    pub fn update_text(&self, name: &str, text: &str) -> Result<Saved, TemplateError> {
        let template = Template::from_toml(text)?;
        self.replace(name, &template, text)
    }

    /// Copy a template (built-in or user) to a new user template `new_name`; the title gets a
    /// "(copy)" suffix.
    ///
    /// # Errors
    /// [`TemplateError::NotFound`], [`TemplateError::InvalidName`],
    /// [`TemplateError::AlreadyExists`], [`TemplateError::Io`].
    pub fn duplicate(&self, from: &str, new_name: &str) -> Result<Saved, TemplateError> {
        check_name(new_name)?;
        let original = self.get(from)?;
        let mut copy = original.template.clone();
        copy.name = new_name.to_owned();
        copy.title = match copy.language {
            Language::Zh => format!("{}（副本）", copy.title),
            Language::En => format!("{} (copy)", copy.title),
        };
        self.write_new(&edited_text(&original.text, &original.template, &copy)?)
    }

    /// Delete a user template.
    ///
    /// # Errors
    /// [`TemplateError::BuiltinReadOnly`], [`TemplateError::NotFound`], [`TemplateError::Io`].
    pub fn delete(&self, name: &str) -> Result<(), TemplateError> {
        if builtin(name).is_some() {
            return Err(TemplateError::BuiltinReadOnly { name: name.to_owned(), action: "deleted" });
        }
        let path = self.user_path(name).map_err(|_| TemplateError::NotFound { name: name.to_owned() })?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(TemplateError::NotFound { name: name.to_owned() })
            }
            Err(e) => Err(TemplateError::Io { path, source: e }),
        }
    }

    fn user_path(&self, name: &str) -> Result<PathBuf, TemplateError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.toml")))
    }

    fn user_files(&self) -> Result<Vec<PathBuf>, TemplateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TemplateError::Io { path: self.dir.clone(), source: e }),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(TemplateError::io(&self.dir))?.path();
            let visible = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.'));
            if visible && path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Write a template that must not exist yet (user or built-in).
    fn write_new(&self, text: &str) -> Result<Saved, TemplateError> {
        let template = parse_unvalidated(text)?;
        let warnings = template.validate()?;
        let name = &template.name;
        if builtin(name).is_some() {
            return Err(TemplateError::AlreadyExists { name: name.clone(), builtin: true });
        }
        let path = self.user_path(name)?;
        write_atomic(&self.dir, &path, text, false).map_err(|e| match e {
            WriteError::Exists => TemplateError::AlreadyExists { name: name.clone(), builtin: false },
            WriteError::Io(e) => e,
        })?;
        Ok(Saved {
            stored: StoredTemplate { template, source: Source::User, path: Some(path), text: text.to_owned() },
            warnings,
        })
    }

    fn replace(&self, name: &str, template: &Template, text: &str) -> Result<Saved, TemplateError> {
        if builtin(name).is_some() {
            return Err(TemplateError::BuiltinReadOnly { name: name.to_owned(), action: "edited" });
        }
        let old = self.user_path(name).map_err(|_| TemplateError::NotFound { name: name.to_owned() })?;
        if !old.is_file() {
            return Err(TemplateError::NotFound { name: name.to_owned() });
        }
        if template.name != name {
            // A rename: write the new file first, then remove the old one.
            let saved = self.write_new(text)?;
            std::fs::remove_file(&old).map_err(TemplateError::io(&old))?;
            return Ok(saved);
        }
        let warnings = template.validate()?;
        write_atomic(&self.dir, &old, text, true).map_err(|e| match e {
            WriteError::Exists => TemplateError::AlreadyExists { name: name.to_owned(), builtin: false },
            WriteError::Io(e) => e,
        })?;
        Ok(Saved {
            stored: StoredTemplate {
                template: template.clone(),
                source: Source::User,
                path: Some(old),
                text: text.to_owned(),
            },
            warnings,
        })
    }
}

fn read_user(path: &Path) -> Result<StoredTemplate, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(TemplateError::io(path))?;
    let template = Template::from_toml(&text).map_err(|e| e.in_file(path))?;
    if path.file_stem().and_then(|s| s.to_str()) != Some(template.name.as_str()) {
        return Err(TemplateError::NameMismatch { path: path.to_owned(), name: template.name });
    }
    if builtin(&template.name).is_some() {
        return Err(TemplateError::AlreadyExists { name: template.name, builtin: true }.in_file(path));
    }
    Ok(StoredTemplate { template, source: Source::User, path: Some(path.to_owned()), text })
}

enum WriteError {
    Exists,
    Io(TemplateError),
}

/// Write `text` to `path` through a temporary file in `dir`; without `overwrite`, an existing
/// file is an error (checked atomically by the rename).
fn write_atomic(dir: &Path, path: &Path, text: &str, overwrite: bool) -> Result<(), WriteError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |e| WriteError::Io(TemplateError::Io { path: p, source: e })
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").suffix(".toml").tempfile_in(dir).map_err(io(dir))?;
    tmp.write_all(text.as_bytes()).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    if overwrite {
        tmp.persist(path).map_err(|e| WriteError::Io(TemplateError::Io { path: path.to_owned(), source: e.error }))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists
            } else {
                WriteError::Io(TemplateError::Io { path: path.to_owned(), source: e.error })
            }
        })?;
    }
    Ok(())
}

/// `text` (the TOML of `original`) changed to hold `edited`, which differs only in its name
/// and title: the two top-level lines are rewritten when that yields exactly `edited`, so that
/// comments and layout survive; otherwise `edited` is serialised afresh.
fn edited_text(text: &str, original: &Template, edited: &Template) -> Result<String, TemplateError> {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r#"(?m)^(name|title)[ \t]*=[ \t]*("(?:[^"\\\n]|\\.)*"|'[^'\n]*')[ \t]*$"#).expect("valid regex")
    });
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    let mut done = (false, false);
    for caps in KEY.captures_iter(text) {
        let (Some(whole), Some(key)) = (caps.get(0), caps.get(1)) else { continue };
        let value = match key.as_str() {
            "name" if !done.0 => {
                done.0 = true;
                &edited.name
            }
            "title" if !done.1 => {
                done.1 = true;
                &edited.title
            }
            _ => continue,
        };
        out.push_str(&text[last..whole.start()]);
        out.push_str(&format!("{} = {}", key.as_str(), toml::Value::String(value.clone())));
        last = whole.end();
    }
    out.push_str(&text[last..]);
    let unchanged_title = original.title == edited.title;
    if (done.0 || original.name == edited.name)
        && (done.1 || unchanged_title)
        && parse_unvalidated(&out).is_ok_and(|t| t == *edited)
    {
        return Ok(out);
    }
    edited.to_toml()
}
