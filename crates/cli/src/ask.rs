//! `ask`: a grounded answer over one matter, streamed, with checked citations — and `chat
//! --matter`, the same as a saved conversation. Both go through the desk (`lexdesk-desk`), as the
//! desktop app and the server do, so local and remote engines answer alike.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::SearchMode;
use lexdesk_desk::{Answer, AnswerMode, AnswerProgress, AskParams, ExportFormat};

use crate::Ctx;
use crate::output::{Out, Prompter, json};

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The matter (name or id)
    #[arg(long, short = 'M')]
    matter: String,
    /// Only this document (file name, path or id)
    #[arg(long)]
    doc: Option<String>,
    /// generate (the chat model writes a cited answer) or extractive (the best passages, checked, no generation)
    #[arg(long, default_value = "generate")]
    mode: AnswerMode,
    /// Retrieval: hybrid, vector or text
    #[arg(long, default_value = "hybrid")]
    search_mode: SearchMode,
    /// Passages retrieved as evidence
    #[arg(long, short = 'k', default_value_t = 6)]
    top_k: usize,
    /// Tokens reserved for the answer [default: the template's, else 512]
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Rerank the retrieved passages with the language model: on or off [default: `[retrieval] rerank`]
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    rerank: Option<bool>,
    /// Shape the answer with a prompt template that has a `question` variable (e.g. statute-qa-en):
    /// its role, requirements, output format and parameters join the grounded prompt
    #[arg(long, short = 't')]
    template: Option<String>,
    #[command(flatten)]
    vars: crate::templates::VarFlags,
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// Embedding model for a matter without passages yet (a matter searches with the model it was built with)
    #[arg(long)]
    embed_model: Option<String>,
    /// Print the answer as one JSON object (answer, abstained, citations, unsupported_claims, searched, usage, timings)
    #[arg(long)]
    json: bool,
    /// The question
    question: String,
}

pub async fn ask_cmd(ctx: &Ctx, out: &mut Out, args: &AskArgs) -> anyhow::Result<u8> {
    let template_inputs = match &args.template {
        Some(_) => Some(crate::templates::inputs(&args.vars)?),
        None if !args.vars.is_empty() => {
            return Err(crate::templates::UsageError("--var needs --template".into()).into());
        }
        None => None,
    };
    let desk = ctx.desk(args.model.as_deref(), args.embed_model.as_deref())?;
    let matter = desk.matters().find(&args.matter)?;
    let params = AskParams {
        question: args.question.clone(),
        doc: args.doc.clone(),
        mode: Some(args.mode),
        template: args.template.clone(),
        template_inputs,
        top_k: Some(u32::try_from(args.top_k).unwrap_or(u32::MAX)),
        search_mode: Some(args.search_mode),
        max_tokens: args.max_tokens,
        rerank: args.rerank,
        ..AskParams::default()
    };
    let stream = !args.json;
    let mut on_progress = |event: AnswerProgress<'_>| {
        if let (true, AnswerProgress::Token(t)) = (stream, event) {
            print_token(t);
        }
    };
    let turn = desk.answers(&matter.id).answer(&params, &CancelToken::new(), &mut on_progress).await?;
    if args.json {
        json(out, &turn.answer)?;
    } else {
        print_answer(out, &turn.answer, args.mode == AnswerMode::Generate)?;
        // Which models stand behind the answer.
        let embedder = desk.matters().embedder(&matter.id).await?;
        let searched = match (&embedder.built_with, embedder.current) {
            (Some(m), true) => format!("passages found with {}", m.display_name()),
            (Some(m), false) => format!(
                "passages found with {}, the model this matter was built with (configured: {}; `lexdesk matter reembed \"{}\"` moves it)",
                m.display_name(),
                embedder.configured,
                matter.name
            ),
            (None, _) => "no passages in this matter yet".into(),
        };
        out.line("")?;
        match turn.model.as_deref().filter(|_| args.mode == AnswerMode::Generate) {
            Some(model) => out.line(format!("— answered by {model}; {searched}"))?,
            None => out.line(format!("— extractive (no chat model); {searched}"))?,
        }
    }
    Ok(0)
}

fn print_token(t: &str) {
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{t}").ok();
    stdout.flush().ok();
}

/// The answer for a terminal: (the streamed text is already there in generate mode) the
/// abstention, the citations with their check, unsupported sentences, what was searched.
pub fn print_answer(out: &mut Out, answer: &Answer, streamed: bool) -> anyhow::Result<()> {
    if streamed {
        out.line("")?;
    }
    if answer.abstained {
        if streamed {
            out.line("")?;
            out.line("── not supported by the documents ──")?;
        }
        out.line(&answer.answer)?;
    } else if !streamed {
        out.line(&answer.answer)?;
    }
    if !answer.citations.is_empty() {
        out.line("")?;
        out.line("Citations:")?;
        for c in &answer.citations {
            let mark = match (c.verified, c.attributed) {
                (true, true) => "✓ verified, attributed by LexDesk (the model did not cite it)",
                (true, false) => "✓ verified",
                _ => "✗ NOT verified",
            };
            let page = c.page.map(|p| format!(", p. {p}")).unwrap_or_default();
            let why = c.problem.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
            out.line(format!("  [{}] {mark}{why} — {}{page} — {}", c.id, c.doc, c.heading))?;
            if !c.quote.is_empty() {
                out.line(format!("      «{}»", c.quote.replace('\n', " ")))?;
            }
        }
    }
    if !answer.unsupported_claims.is_empty() {
        out.line("")?;
        out.line("Statements without verified support:")?;
        for c in &answer.unsupported_claims {
            out.line(format!("  - {c}"))?;
        }
    }
    if let Some(doc) = answer.searched.doc.as_deref().filter(|_| answer.searched.doc_named) {
        out.line("")?;
        out.line(format!(
            "Searched only {doc}, which the question names (to search the whole matter, ask without the file name)."
        ))?;
    }
    if answer.abstained {
        out.line("")?;
        out.line(format!("Searched for: {}  (terms: {})", answer.searched.query, answer.searched.terms.join(", ")))?;
        for p in &answer.searched.passages {
            let page = p.page.map(|n| format!(", p. {n}")).unwrap_or_default();
            let verdict = if p.relevant { "relevant" } else { "not relevant enough" };
            out.line(format!("  - {}{page} — {} ({verdict})", p.doc, p.heading))?;
        }
    }
    Ok(())
}

/// `lexdesk chat --matter NAME`: the flags of a grounded conversation.
#[derive(Debug, Args)]
pub struct GroundedChatArgs {
    /// Answer from this matter's documents, with verified citations; the conversation is saved
    #[arg(long, short = 'M')]
    pub matter: Option<String>,
    /// Continue this chat session (id or id prefix) instead of starting a new one
    #[arg(long, requires = "matter")]
    session: Option<String>,
    /// Only this document (file name, path or id)
    #[arg(long, requires = "matter")]
    doc: Option<String>,
    /// generate or extractive
    #[arg(long, default_value = "generate", requires = "matter")]
    mode: AnswerMode,
    /// Passages retrieved as evidence per question
    #[arg(long, default_value_t = 6, requires = "matter")]
    passages: usize,
    /// Embedding model for a matter without passages yet (a matter searches with the model it was built with)
    #[arg(long, requires = "matter")]
    embed_model: Option<String>,
}

/// An interactive conversation over a matter: each line is a question answered like `ask`, with
/// the conversation so far; every turn is saved to the session at once.
pub async fn chat_matter(
    ctx: &Ctx,
    out: &mut Out,
    model: Option<&str>,
    max_tokens: Option<u32>,
    args: &GroundedChatArgs,
) -> anyhow::Result<u8> {
    let desk = ctx.desk(model, args.embed_model.as_deref())?;
    let matter = desk.matters().find(args.matter.as_deref().unwrap_or_default())?;
    let mut session_id = None;
    match &args.session {
        Some(id) => {
            let session = desk.answers(&matter.id).session(id)?;
            eprintln!(
                "LexDesk — matter “{}”, chat session {} ({} earlier turns). /quit or Ctrl-D ends.",
                matter.name,
                session.id,
                session.turns.len()
            );
            session_id = Some(session.id);
        }
        None => eprintln!("LexDesk — matter “{}”, a new chat session. /quit or Ctrl-D ends.", matter.name),
    }
    let mut prompter = Prompter::new();
    while let Some(question) = prompter.next(out)? {
        let params = AskParams {
            question: question.clone(),
            session_id: session_id.clone(),
            doc: args.doc.clone(),
            mode: Some(args.mode),
            top_k: Some(u32::try_from(args.passages).unwrap_or(u32::MAX)),
            max_tokens,
            ..AskParams::default()
        };
        let mut on_progress = |event: AnswerProgress<'_>| {
            if let AnswerProgress::Token(t) = event {
                print_token(t);
            }
        };
        let result = desk.answers(&matter.id).ask(&params, &CancelToken::new(), &mut on_progress).await?;
        print_answer(out, &result.turn.answer, args.mode == AnswerMode::Generate)?;
        session_id = Some(result.session.id);
    }
    if let Some(id) = session_id {
        eprintln!("Saved as chat session {id} — lexdesk session export --matter “{}” {id}", matter.name);
    }
    Ok(0)
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List a matter's chat sessions, newest first
    List {
        /// The matter
        #[arg(long, short = 'M')]
        matter: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Rename a session
    Rename {
        /// The matter
        #[arg(long, short = 'M')]
        matter: String,
        /// Session id (or prefix)
        id: String,
        /// New title
        title: String,
    },
    /// Delete a session
    Delete {
        /// The matter
        #[arg(long, short = 'M')]
        matter: String,
        /// Session id (or prefix)
        id: String,
    },
    /// Export a session as Markdown or JSON, with its citations
    Export {
        /// The matter
        #[arg(long, short = 'M')]
        matter: String,
        /// md or json
        #[arg(long, default_value = "md", value_parser = ["md", "json"])]
        format: String,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Session id (or prefix)
        id: String,
    },
}

pub fn session_cmd(ctx: &Ctx, out: &mut Out, command: &SessionCommand) -> anyhow::Result<u8> {
    let matter_name = match command {
        SessionCommand::List { matter, .. }
        | SessionCommand::Rename { matter, .. }
        | SessionCommand::Delete { matter, .. }
        | SessionCommand::Export { matter, .. } => matter,
    };
    let desk = ctx.desk(None, None)?;
    let matter = desk.matters().find(matter_name)?;
    match command {
        SessionCommand::List { json: as_json, .. } => {
            let list = desk.answers(&matter.id).sessions()?;
            if *as_json {
                #[derive(serde::Serialize)]
                struct Row<'a> {
                    id: &'a str,
                    title: &'a str,
                    turns: u32,
                    created_at_ms: i64,
                    updated_at_ms: i64,
                }
                let rows: Vec<Row<'_>> = list
                    .iter()
                    .map(|s| Row {
                        id: &s.id,
                        title: &s.title,
                        turns: s.turns,
                        created_at_ms: s.created_at_ms,
                        updated_at_ms: s.updated_at_ms,
                    })
                    .collect();
                json(out, &rows)?;
            } else if list.is_empty() {
                eprintln!("no chat sessions in “{}”", matter.name);
            } else {
                for s in &list {
                    out.line(format!("{}  {:>3} turns  {}", s.id, s.turns, s.title))?;
                }
            }
        }
        SessionCommand::Rename { id, title, .. } => {
            let s = desk.answers(&matter.id).rename_session(id, title)?;
            eprintln!("renamed {} to “{}”", s.id, s.title);
        }
        SessionCommand::Delete { id, .. } => {
            let s = desk.answers(&matter.id).delete_session(id)?;
            eprintln!("deleted chat session {} (“{}”)", s.id, s.title);
        }
        SessionCommand::Export { id, format, output, .. } => {
            let format = if format == "json" { ExportFormat::Json } else { ExportFormat::Markdown };
            let text = desk.answers(&matter.id).export_session(id, format)?;
            match output {
                Some(path) => {
                    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?
                }
                None => out.line(text)?,
            }
        }
    }
    Ok(0)
}
