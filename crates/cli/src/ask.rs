//! `ask`: a grounded answer over one matter, streamed, with checked citations.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use lexdesk_core::embed::Embedder;
use lexdesk_core::generate::Sampling;
use lexdesk_core::store::SearchMode;
use lexdesk_engine::ChatModel;
use lexdesk_service::answer::{Answer, AnswerMode, AskEvent, AskOptions, AskRequest, ask};
use lexdesk_service::matters::now_ms;
use lexdesk_service::search::Searcher;
use lexdesk_service::sessions::{SessionTurn, Sessions};

use crate::Ctx;
use crate::library::{embedder, matters, open_reader, stored_dimensions};
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
    /// Shape the answer with a prompt template that has a `question` variable (e.g. statute-qa-en):
    /// its role, requirements, output format and parameters join the grounded prompt
    #[arg(long, short = 't')]
    template: Option<String>,
    #[command(flatten)]
    vars: crate::templates::VarFlags,
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// Embedding model (must be the one the matter was built with)
    #[arg(long)]
    embed_model: Option<String>,
    /// Print the answer as one JSON object (answer, abstained, citations, unsupported_claims, searched, usage, timings)
    #[arg(long)]
    json: bool,
    /// The question
    question: String,
}

pub async fn ask_cmd(ctx: &Ctx, out: &mut Out, args: &AskArgs) -> anyhow::Result<u8> {
    let matter = matters(ctx).find(&args.matter)?;
    // The template's errors come before any model loads.
    let shaped = match &args.template {
        Some(name) => {
            let template = crate::templates::library(ctx).get(name)?.template;
            Some(template.answer_instructions(&args.question, &crate::templates::inputs(&args.vars)?)?)
        }
        None if !args.vars.is_empty() => {
            return Err(crate::templates::UsageError("--var needs --template".into()).into());
        }
        None => None,
    };
    let needs_vectors = args.search_mode != SearchMode::Text;
    let embedder = if needs_vectors { Some(embedder(ctx, args.embed_model.as_deref()).await?) } else { None };
    let dims = match (&embedder, stored_dimensions(&matter).await?) {
        (Some(e), _) => e.dimensions(),
        (None, Some(d)) => d,
        (None, None) => 1,
    };
    let store = open_reader(&matter, dims).await?;
    let searcher = Searcher::new(&store, embedder.as_ref()).await?;
    let generator: Option<ChatModel> = match args.mode {
        AnswerMode::Generate => Some(ctx.chat_model(args.model.as_deref()).await?),
        AnswerMode::Extractive => None,
    };
    let defaults = AskOptions::default();
    let options = AskOptions {
        mode: args.mode,
        search_mode: args.search_mode,
        evidence: args.top_k.max(1),
        max_answer_tokens: args
            .max_tokens
            .or(shaped.as_ref().map(|s| s.parameters.max_tokens))
            .unwrap_or(defaults.max_answer_tokens)
            .max(16),
        sampling: match &shaped {
            Some(s) => Sampling { repeat_penalty: defaults.sampling.repeat_penalty, ..s.parameters.sampling() },
            None => defaults.sampling.clone(),
        },
        instructions: shaped.map(|s| s.text),
        ..defaults
    };
    let request = AskRequest {
        question: args.question.clone(),
        doc: args.doc.clone(),
        history: Vec::new(),
        ..AskRequest::default()
    };
    let stream = !args.json;
    let mut on_event = |event: AskEvent<'_>| {
        if let (true, AskEvent::Token(t)) = (stream, event) {
            let mut stdout = std::io::stdout().lock();
            write!(stdout, "{t}").ok();
            stdout.flush().ok();
        }
    };
    let answer = ask(&searcher, generator.as_ref(), &request, &options, &mut on_event).await?;
    if args.json {
        json(out, &answer)?;
    } else {
        print_answer(out, &answer, args.mode == AnswerMode::Generate)?;
    }
    Ok(0)
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
            let mark = if c.verified { "✓ verified" } else { "✗ NOT verified" };
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
    /// Embedding model (must be the one the matter was built with)
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
    let matter = matters(ctx).find(args.matter.as_deref().unwrap_or_default())?;
    let sessions = Sessions::new(&matter.dir);
    let mut session = match &args.session {
        Some(id) => sessions.load(id)?,
        None => sessions.create("")?,
    };
    let embedder = embedder(ctx, args.embed_model.as_deref()).await?;
    let store = open_reader(&matter, embedder.dimensions()).await?;
    let searcher = Searcher::new(&store, Some(&embedder)).await?;
    let (generator, model_name) = match args.mode {
        AnswerMode::Generate => {
            let m = ctx.chat_model(model).await?;
            let name = m.info().metadata.path.file_name().map(|f| f.to_string_lossy().into_owned());
            (Some(m), name)
        }
        AnswerMode::Extractive => (None, None),
    };
    let defaults = AskOptions::default();
    let options = AskOptions {
        mode: args.mode,
        evidence: args.passages.max(1),
        max_answer_tokens: max_tokens.unwrap_or(defaults.max_answer_tokens).max(16),
        ..defaults
    };
    eprintln!(
        "LexDesk — matter “{}”, chat session {} ({} earlier turns). /quit or Ctrl-D ends.",
        matter.name,
        session.id,
        session.turns.len()
    );
    let mut prompter = Prompter::new();
    while let Some(question) = prompter.next(out)? {
        let question = question.as_str();
        let request = AskRequest {
            question: question.to_string(),
            doc: args.doc.clone(),
            history: session.history(),
            ..AskRequest::default()
        };
        let mut on_event = |event: AskEvent<'_>| {
            if let AskEvent::Token(t) = event {
                let mut stdout = std::io::stdout().lock();
                write!(stdout, "{t}").ok();
                stdout.flush().ok();
            }
        };
        let answer = ask(&searcher, generator.as_ref(), &request, &options, &mut on_event).await?;
        print_answer(out, &answer, args.mode == AnswerMode::Generate)?;
        let prompt = answer.prompt.clone();
        session.push(SessionTurn {
            question: question.to_string(),
            answer,
            model: model_name.clone(),
            template: None,
            asked_at_ms: now_ms(),
            prompt,
        });
        sessions.save(&session)?;
    }
    eprintln!(
        "Saved as chat session {} — lexdesk session export --matter “{}” {}",
        session.id, matter.name, session.id
    );
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
    let matter = matters(ctx).find(matter_name)?;
    let sessions = Sessions::new(&matter.dir);
    match command {
        SessionCommand::List { json: as_json, .. } => {
            let list = sessions.list()?;
            if *as_json {
                #[derive(serde::Serialize)]
                struct Row<'a> {
                    id: &'a str,
                    title: &'a str,
                    turns: usize,
                    created_at_ms: i64,
                    updated_at_ms: i64,
                }
                let rows: Vec<Row<'_>> = list
                    .iter()
                    .map(|s| Row {
                        id: &s.id,
                        title: &s.title,
                        turns: s.turns.len(),
                        created_at_ms: s.created_at_ms,
                        updated_at_ms: s.updated_at_ms,
                    })
                    .collect();
                json(out, &rows)?;
            } else if list.is_empty() {
                eprintln!("no chat sessions in “{}”", matter.name);
            } else {
                for s in &list {
                    out.line(format!("{}  {:>3} turns  {}", s.id, s.turns.len(), s.title))?;
                }
            }
        }
        SessionCommand::Rename { id, title, .. } => {
            let s = sessions.rename(id, title)?;
            eprintln!("renamed {} to “{}”", s.id, s.title);
        }
        SessionCommand::Delete { id, .. } => {
            let s = sessions.delete(id)?;
            eprintln!("deleted chat session {} (“{}”)", s.id, s.title);
        }
        SessionCommand::Export { id, format, output, .. } => {
            let s = sessions.load(id)?;
            let text = if format == "json" { serde_json::to_string_pretty(&s)? } else { s.to_markdown() };
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
