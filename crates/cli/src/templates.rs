//! `templates`: the prompt-template library (`list`, `show`, `import`, `export`, `duplicate`,
//! `delete`), deterministic rendering with a token-count preview on the chat model, side-by-side
//! comparison on the local chat model over the same inputs and the same frozen evidence, and the
//! comparison history (`history list|show|diff|delete`). A thin adapter over `lexdesk-templates`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use lexdesk_core::generate::{CancelToken, FinishReason};
use lexdesk_core::store::SearchMode;
use lexdesk_desk::{
    CompareParams, CompareProgress, Comparison, EvidencePassage, EvidenceSource, Inputs, Notice, Preview, RenderParams,
    RenderView, RenderedTemplate, RunResult, Source, StoredTemplate, TemplatesApi, VariableKind, Warning, unified_diff,
};
use serde::Serialize;

use crate::output::{Out, json};
use crate::{Ctx, exit};

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List the built-in and user templates (and user files that are not valid templates)
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a template: its settings, variables and prompt texts (or its TOML)
    Show {
        /// The template
        name: String,
        /// Print the TOML file (built-ins as shipped, with their comments)
        #[arg(long, conflicts_with = "json")]
        toml: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Render a template with values for its variables (deterministic); --preview counts its tokens
    Render(RenderArgs),
    /// Run several templates over the same inputs and evidence on the local chat model and compare
    Compare(CompareArgs),
    /// Import a template file (TOML) into the library
    Import {
        /// The file
        file: PathBuf,
        /// Store it under this name (needed when its own name is taken)
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
    },
    /// Print a template's TOML (built-ins as shipped), or write it to a file
    Export {
        /// The template
        name: String,
        /// Write to this file instead of standard output
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Copy a template (built-in or user) to a new user template, to edit it
    Duplicate {
        /// The template to copy
        from: String,
        /// The new template's name (kebab-case)
        new_name: String,
    },
    /// Delete a user template
    Delete {
        /// The template
        name: String,
    },
    /// Saved comparisons: list, show or export, diff two runs' outputs, delete
    #[command(subcommand)]
    History(HistoryCommand),
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// List the saved comparisons, newest first
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a saved comparison (table and outputs), or export it as CSV, JSON or Markdown
    Show {
        /// Comparison id (or a unique prefix)
        id: String,
        /// table, csv, json or md
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file instead of standard output
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Diff two runs' outputs of a saved comparison (unified diff)
    Diff {
        /// Comparison id (or a unique prefix)
        id: String,
        /// The first run: its label or its number (1, 2, …)
        a: String,
        /// The second run: its label or its number
        b: String,
        /// Print the line diff as JSON (lines with their changed parts)
        #[arg(long)]
        json: bool,
    },
    /// Delete a saved comparison
    Delete {
        /// Comparison id (or a unique prefix)
        id: String,
    },
}

/// How a comparison is printed or exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table, then each output in full
    Table,
    /// CSV: a header row, one row per run, outputs in full
    Csv,
    /// The comparison as JSON (the history's format)
    Json,
    /// A Markdown report
    #[value(alias = "markdown")]
    Md,
}

/// Values for the template's variables.
#[derive(Debug, Args)]
pub struct VarFlags {
    /// A variable's value: `name=value`, or `name=@FILE` to read it from a file (`name=@@…` for a
    /// literal `@…`); repeatable
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
}

impl VarFlags {
    /// No `--var` was given.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}

/// Where the evidence of evidence templates comes from.
#[derive(Debug, Args)]
pub struct EvidenceFlags {
    /// Retrieve the evidence of evidence templates from this matter (name or id)
    #[arg(long, short = 'M')]
    matter: Option<String>,
    /// Only this document of the matter (file name, path or id)
    #[arg(long, requires = "matter")]
    doc: Option<String>,
    /// Passages retrieved as evidence
    #[arg(long, short = 'k', default_value_t = 6)]
    top_k: usize,
    /// Retrieval: hybrid, vector or text
    #[arg(long, default_value = "hybrid")]
    search_mode: SearchMode,
    /// Embedding model (must be the one the matter was built with)
    #[arg(long)]
    embed_model: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The template
    name: String,
    #[command(flatten)]
    vars: VarFlags,
    #[command(flatten)]
    evidence: EvidenceFlags,
    /// Render with the chat model's own template and count the tokens against its context and the
    /// tokens reserved for the answer
    #[arg(long)]
    preview: bool,
    /// Chat model for --preview (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// Print JSON (system, user, parameters, evidence and, with --preview, the token counts)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The templates, in table order (the same one twice runs it twice)
    #[arg(required = true, value_name = "TEMPLATE")]
    names: Vec<String>,
    #[command(flatten)]
    vars: VarFlags,
    /// Expected keywords, comma-separated (repeatable): each output is scored by the share it contains
    #[arg(long, value_delimiter = ',', value_name = "WORDS")]
    keywords: Vec<String>,
    #[command(flatten)]
    evidence: EvidenceFlags,
    /// Sampling seed for every run (templates at temperature 0 are greedy anyway)
    #[arg(long)]
    seed: Option<u32>,
    /// Tokens each run may generate [default: each template's max_tokens]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32_768))]
    max_tokens: Option<u32>,
    /// table, csv, json or md
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the table or export to this file instead of standard output
    #[arg(long = "out", short = 'o', value_name = "FILE")]
    file: Option<PathBuf>,
    /// A title for the history
    #[arg(long, default_value = "")]
    title: String,
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
}

/// A mistake on the command line found after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

lexdesk_core::error_codes!(UsageError {
    Self(_) => "INVALID_ARGUMENT", InvalidInput;
});

/// `name=value` of `--var`.
fn parse_var(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("expected NAME=VALUE or NAME=@FILE, got `{s}`"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("the variable's name is missing in `{s}`"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// The values of `--var`, files read.
pub(crate) fn inputs(flags: &VarFlags) -> anyhow::Result<Inputs> {
    let mut inputs = Inputs::new();
    for (name, value) in &flags.vars {
        let value = if let Some(literal) = value.strip_prefix("@@") {
            format!("@{literal}")
        } else if let Some(file) = value.strip_prefix('@') {
            std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {file} (for --var {name}): {e}"))?
        } else {
            value.clone()
        };
        if inputs.insert(name.clone(), value).is_some() {
            return Err(UsageError(format!("--var {name} is given twice")).into());
        }
    }
    Ok(inputs)
}

pub async fn templates_cmd(ctx: &Ctx, out: &mut Out, command: &TemplatesCommand) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, None)?;
    let lib = desk.templates();
    match command {
        TemplatesCommand::List { json: as_json } => list(lib, out, *as_json)?,
        TemplatesCommand::Show { name, toml, json: as_json } => {
            let view = lib.get(name)?;
            let stored = view.stored;
            if *toml {
                out.text(&stored.text)?;
            } else if *as_json {
                #[derive(Serialize)]
                struct ShowJson<'a> {
                    #[serde(flatten)]
                    stored: &'a StoredTemplate,
                    warnings: Vec<Warning>,
                }
                let warnings = stored.template.validate().unwrap_or_default();
                json(out, &ShowJson { stored: &stored, warnings })?;
            } else {
                show(out, &stored, &view.warnings)?;
            }
        }
        TemplatesCommand::Render(args) => return render(ctx, out, args).await,
        TemplatesCommand::Compare(args) => return compare(ctx, out, args).await,
        TemplatesCommand::Import { file, as_name } => {
            let saved = lib.import(file, as_name.as_deref())?;
            print_warnings(&saved.warnings);
            out.line(format!("imported template `{}`{}", saved.stored.template.name, stored_at(&saved.stored)))?;
        }
        TemplatesCommand::Export { name, file } => {
            let text = lib.export(name)?;
            match file {
                Some(path) => {
                    write_file(path, &text)?;
                    eprintln!("wrote {}", path.display());
                }
                None => out.text(&text)?,
            }
        }
        TemplatesCommand::Duplicate { from, new_name } => {
            let saved = lib.duplicate(from, new_name)?;
            print_warnings(&saved.warnings);
            out.line(format!("duplicated `{from}` as `{}`{}", saved.stored.template.name, stored_at(&saved.stored)))?;
        }
        TemplatesCommand::Delete { name } => {
            lib.delete(name)?;
            out.line(format!("deleted template `{name}`"))?;
        }
        TemplatesCommand::History(c) => return history_cmd(lib, out, c),
    }
    Ok(0)
}

fn stored_at(stored: &StoredTemplate) -> String {
    stored.path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
}

fn print_warnings(warnings: &[Notice]) {
    for w in warnings {
        eprintln!("warning[{}]: {}", w.code, w.message);
    }
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Builtin => "built-in",
        Source::User => "user",
    }
}

/// Columns padded to their widest cell (in characters); the last column is not padded.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                let pad = w.saturating_sub(cell.chars().count());
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn list(lib: TemplatesApi<'_>, out: &mut Out, as_json: bool) -> anyhow::Result<()> {
    let listing = lib.list()?;
    if as_json {
        return json(out, &listing);
    }
    let rows: Vec<Vec<String>> = listing
        .templates
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.language.to_string(),
                t.category.clone(),
                source_name(t.source).to_owned(),
                if t.evidence { "yes" } else { "no" }.to_owned(),
                t.title.clone(),
            ]
        })
        .collect();
    out.text(&table(&["NAME", "LANG", "CATEGORY", "SOURCE", "EVIDENCE", "TITLE"], &rows))?;
    if !listing.invalid.is_empty() {
        out.line("")?;
        out.line(format!("Invalid template files in {} (fix or delete them):", lib.dir().display()))?;
        for f in &listing.invalid {
            out.line(format!("  {}: error[{}]: {}", f.path.display(), f.code, f.message))?;
        }
    }
    Ok(())
}

/// A variable's default (a TOML value) as a person writes it: strings without quotes.
fn plain(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn show(out: &mut Out, stored: &StoredTemplate, warnings: &[Notice]) -> anyhow::Result<()> {
    let t = &stored.template;
    out.line(format!("{} — {}", t.name, t.title))?;
    let evidence = match (t.evidence, &t.evidence_query) {
        (false, _) => "no".to_owned(),
        (true, Some(q)) => format!("yes, retrieved with `{q}`"),
        (true, None) => "yes".to_owned(),
    };
    let mut rows = vec![
        ("language", t.language.to_string()),
        ("category", t.category.clone()),
        ("source", source_name(stored.source).to_owned()),
        ("evidence", evidence),
        ("parameters", format!("temperature {}, max_tokens {}", t.parameters.temperature, t.parameters.max_tokens)),
    ];
    if let Some(path) = &stored.path {
        rows.push(("file", path.display().to_string()));
    }
    for (k, v) in rows {
        out.line(format!("  {k:<11}{v}"))?;
    }
    if !t.description.is_empty() {
        out.line("")?;
        out.line(&t.description)?;
    }
    if !t.variables.is_empty() {
        out.line("")?;
        out.line("Variables (--var NAME=VALUE):")?;
        let rows: Vec<Vec<String>> = t
            .variables
            .iter()
            .map(|v| {
                let mut kind = v.kind.as_str().to_owned();
                match v.kind {
                    VariableKind::Choice => {
                        let _ = write!(kind, ": {}", v.options.join(" | "));
                    }
                    VariableKind::Number if v.min.is_some() || v.max.is_some() => {
                        let _ = write!(kind, " ({})", v.expectation().trim_start_matches("a number "));
                    }
                    _ => {}
                }
                let mut notes = Vec::new();
                if v.required {
                    notes.push("required".to_owned());
                }
                if let Some(d) = &v.default {
                    notes.push(format!("default {}", plain(d)));
                }
                vec![format!("  {}", v.name), kind, notes.join(", "), v.description.clone()]
            })
            .collect();
        out.text(&table(&["  NAME", "TYPE", "", "DESCRIPTION"], &rows))?;
    }
    out.line("")?;
    out.line(format!("Role: {}", t.role))?;
    out.line(format!("Task: {}", t.task))?;
    if !t.requirements.is_empty() {
        out.line("Requirements:")?;
        for (i, r) in t.requirements.iter().enumerate() {
            out.line(format!("  {}. {r}", i + 1))?;
        }
    }
    if !t.inputs.is_empty() {
        let slots: Vec<String> = t.inputs.iter().map(|s| format!("{} ({})", s.label, s.content.trim())).collect();
        out.line(format!("Inputs: {}", slots.join(", ")))?;
    }
    out.line(format!("Output format:\n{}", t.output_format.trim()))?;
    if !t.output_example.trim().is_empty() {
        out.line(format!("Output example:\n{}", t.output_example.trim()))?;
    }
    print_warnings(warnings);
    Ok(())
}

impl EvidenceFlags {
    /// The desk's evidence source, when a matter is given.
    fn source(&self) -> Option<EvidenceSource> {
        self.matter.as_ref().map(|m| EvidenceSource {
            matter_id: m.clone(),
            doc: self.doc.clone(),
            top_k: Some(u32::try_from(self.top_k).unwrap_or(u32::MAX)),
            search_mode: Some(self.search_mode),
        })
    }
}

async fn render(ctx: &Ctx, out: &mut Out, args: &RenderArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(args.model.as_deref(), args.evidence.embed_model.as_deref())?;
    let template = desk.templates().get(&args.name)?.stored.template;
    if !template.evidence && args.evidence.matter.is_some() {
        eprintln!("note: `{}` does not run over evidence; --matter is ignored", template.name);
    }
    let params = RenderParams {
        name: args.name.clone(),
        inputs: inputs(&args.vars)?,
        evidence: args.evidence.source(),
        preview: args.preview,
    };
    let RenderView { rendered, evidence_query: query, evidence, preview } = desk.templates().render(&params).await?;
    if let (Some(m), Some(q)) = (&args.evidence.matter, &query) {
        eprintln!("retrieved {} passages from `{m}` for “{q}”", evidence.len());
    }
    if args.json {
        #[derive(Serialize)]
        struct RenderJson<'a> {
            #[serde(flatten)]
            rendered: &'a RenderedTemplate,
            evidence_query: Option<&'a str>,
            evidence: &'a [EvidencePassage],
            preview: Option<&'a Preview>,
        }
        json(
            out,
            &RenderJson {
                rendered: &rendered,
                evidence_query: query.as_deref(),
                evidence: &evidence,
                preview: preview.as_ref(),
            },
        )?;
        return Ok(0);
    }
    match &preview {
        Some(p) => {
            out.line(format!("── prompt as the model sees it ({:?}) ──", p.format))?;
            out.line(&p.text)?;
            out.line("──")?;
            out.line(preview_line(p))?;
        }
        None => {
            out.line("── system ──")?;
            out.line(&rendered.system)?;
            out.line("── user ──")?;
            out.line(&rendered.user)?;
        }
    }
    Ok(0)
}

fn preview_line(p: &Preview) -> String {
    let verdict = if p.fits {
        format!("fits ({} tokens spare)", p.spare_tokens)
    } else {
        format!("does NOT fit ({} tokens over)", -p.spare_tokens)
    };
    format!(
        "{} prompt tokens + {} reserved for the answer of {} context tokens: {verdict}",
        p.prompt_tokens, p.reserved_tokens, p.context_length
    )
}

async fn compare(ctx: &Ctx, out: &mut Out, args: &CompareArgs) -> anyhow::Result<u8> {
    let inputs = inputs(&args.vars)?;
    let desk = ctx.desk(args.model.as_deref(), args.evidence.embed_model.as_deref())?;
    let mut templates = Vec::with_capacity(args.names.len());
    for name in &args.names {
        templates.push(desk.templates().get(name)?.stored.template);
    }
    // The evidence is retrieved once, for the first evidence template, and frozen: say so when
    // another one would have asked for something else.
    match templates.iter().find(|t| t.evidence) {
        Some(first) if args.evidence.matter.is_some() => {
            let query = first.evidence_query(&first.own_inputs(&inputs))?;
            for t in templates.iter().filter(|t| t.evidence) {
                if t.evidence_query(&t.own_inputs(&inputs))? != query {
                    eprintln!("note: `{}` sees the evidence retrieved for `{}`", t.name, first.name);
                }
            }
        }
        None if args.evidence.matter.is_some() => {
            eprintln!("note: none of these templates runs over evidence; --matter is ignored");
        }
        _ => {}
    }
    let params = CompareParams {
        title: args.title.clone(),
        templates: args.names.clone(),
        inputs,
        keywords: args.keywords.clone(),
        evidence: args.evidence.source(),
        seed: args.seed,
        max_tokens: args.max_tokens,
    };
    // Ctrl-C stops the running generation; the runs left are recorded as cancelled.
    let cancel = CancelToken::new();
    let on_ctrl_c = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping…");
            on_ctrl_c.cancel();
        }
    });
    let matter = args.evidence.matter.clone().unwrap_or_default();
    let mut runs = 0;
    let mut on_progress = |p: CompareProgress| match p {
        CompareProgress::Evidence { query, passages } => {
            eprintln!("retrieved {} passages from `{matter}` for “{query}”", passages.len());
        }
        CompareProgress::Started { index, total, label } => {
            runs = total;
            eprintln!("[{}/{total}] {label}…", index + 1);
        }
        CompareProgress::Text { .. } => {}
        CompareProgress::Finished { index, run } => match &run.error {
            Some(e) => eprintln!("[{}/{runs}] {}: error[{}]: {}", index + 1, run.label, e.code, e.message),
            None => eprintln!(
                "[{}/{runs}] {}: {} tokens in {:.0} ms",
                index + 1,
                run.label,
                run.completion_tokens,
                run.latency_ms
            ),
        },
    };
    let comparison = desk.templates().compare(&params, &cancel, &mut on_progress).await;
    ctrl_c.abort();
    let comparison = comparison?;
    emit(out, &export(&comparison, args.format)?, args.file.as_deref())?;
    eprintln!("saved as comparison {}: lexdesk templates history show {}", comparison.id, comparison.id);
    let all_failed = comparison.runs.iter().all(|r| r.error.is_some());
    Ok(if all_failed { exit::INFERENCE } else { 0 })
}

/// Print `text`, or write it to `file`.
fn emit(out: &mut Out, text: &str, file: Option<&Path>) -> anyhow::Result<()> {
    match file {
        Some(path) => {
            write_file(path, text)?;
            eprintln!("wrote {}", path.display());
        }
        None if text.ends_with('\n') => out.text(text)?,
        None => out.line(text)?,
    }
    Ok(())
}

fn export(c: &Comparison, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => comparison_table(c),
        Format::Csv => c.to_csv()?,
        Format::Json => c.to_json()?,
        Format::Md => c.to_markdown(),
    })
}

fn finish_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::Length => "length",
        FinishReason::ContextFull => "context_full",
        FinishReason::Cancelled => "cancelled",
    }
}

/// The comparison's table (label, output length, tokens, latency, time to first token, keyword
/// score, finish), then each output in full.
fn comparison_table(c: &Comparison) -> String {
    let rows: Vec<Vec<String>> = c
        .runs
        .iter()
        .map(|r| {
            let failed = r.error.is_some();
            let number = |v: String| if failed { "-".to_owned() } else { v };
            vec![
                r.label.clone(),
                number(r.output_chars.to_string()),
                number(r.prompt_tokens.to_string()),
                number(r.completion_tokens.to_string()),
                format!("{:.0}", r.latency_ms),
                number(format!("{:.0}", r.time_to_first_token_ms)),
                r.keyword_score.map_or_else(|| "-".to_owned(), |s| format!("{s:.2}")),
                match (&r.error, r.finish_reason) {
                    (Some(e), _) => format!("error[{}]", e.code),
                    (None, Some(f)) => finish_name(f).to_owned(),
                    (None, None) => "-".to_owned(),
                },
            ]
        })
        .collect();
    let mut text = String::new();
    if !c.title.trim().is_empty() {
        let _ = writeln!(text, "{}\n", c.title.trim());
    }
    text.push_str(&table(
        &["LABEL", "CHARS", "PROMPT TOK", "COMPLETION TOK", "LATENCY MS", "TTFT MS", "KEYWORDS", "FINISH"],
        &rows,
    ));
    for r in &c.runs {
        let _ = writeln!(text, "\n── {} ──", r.label);
        if let Some(e) = &r.error {
            let _ = writeln!(text, "error[{}]: {}", e.code, e.message);
            continue;
        }
        let _ = writeln!(text, "{}", r.output.trim_end());
        if !r.keywords_missing.is_empty() {
            let _ = writeln!(text, "(keywords missing: {})", r.keywords_missing.join(", "));
        }
    }
    text
}

/// A run of a comparison by label or 1-based number, with its 0-based position.
fn find_run<'a>(c: &'a Comparison, which: &str) -> anyhow::Result<(u32, &'a RunResult)> {
    let position = c
        .runs
        .iter()
        .position(|r| r.label == which)
        .or_else(|| which.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).filter(|&i| i < c.runs.len()));
    if let Some(i) = position {
        return Ok((u32::try_from(i)?, &c.runs[i]));
    }
    let runs: Vec<String> = c.runs.iter().enumerate().map(|(i, r)| format!("{} `{}`", i + 1, r.label)).collect();
    Err(UsageError(format!("no run `{which}` in comparison {}: its runs are {}", c.id, runs.join(", "))).into())
}

fn history_cmd(lib: TemplatesApi<'_>, out: &mut Out, command: &HistoryCommand) -> anyhow::Result<u8> {
    match command {
        HistoryCommand::List { json: as_json } => {
            let listing = lib.history_listing()?;
            if *as_json {
                json(out, &listing)?;
                return Ok(0);
            }
            if listing.comparisons.is_empty() {
                eprintln!("no saved comparisons yet: `lexdesk templates compare TEMPLATE… --var NAME=VALUE`");
            } else {
                let rows: Vec<Vec<String>> = listing
                    .comparisons
                    .iter()
                    .map(|c| {
                        let failed = if c.failed > 0 { format!(" ({} failed)", c.failed) } else { String::new() };
                        vec![
                            c.id.clone(),
                            lexdesk_desk::format_utc(c.created_ms),
                            c.model.clone().unwrap_or_else(|| "-".into()),
                            format!("{}{failed}", c.labels.join(", ")),
                            c.title.clone(),
                        ]
                    })
                    .collect();
                out.text(&table(&["ID", "RUN", "MODEL", "TEMPLATES", "TITLE"], &rows))?;
            }
            for f in &listing.invalid {
                eprintln!("unreadable: {}: error[{}]: {}", f.path.display(), f.code, f.message);
            }
        }
        HistoryCommand::Show { id, format, file } => {
            let comparison = lib.comparison(id)?;
            emit(out, &export(&comparison, *format)?, file.as_deref())?;
        }
        HistoryCommand::Diff { id, a, b, json: as_json } => {
            let comparison = lib.comparison(id)?;
            let ((i, a), (j, b)) = (find_run(&comparison, a)?, find_run(&comparison, b)?);
            if *as_json {
                json(out, &lib.diff_runs(&comparison.id, i, j)?)?;
            } else if a.output == b.output {
                eprintln!("the outputs of `{}` and `{}` are identical", a.label, b.label);
            } else {
                let diff = unified_diff(&a.output, &b.output, &a.label, &b.label);
                emit(out, &diff, None)?;
            }
        }
        HistoryCommand::Delete { id } => {
            let id = lib.resolve_comparison(id)?;
            lib.delete_comparison(&id)?;
            out.line(format!("deleted comparison {id}"))?;
        }
    }
    Ok(0)
}
