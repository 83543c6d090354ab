//! `lexdesk`: the command-line front end. A thin adapter: it parses flags, builds the
//! configuration, calls the engine and prints. Exit codes are documented in README.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use lexdesk_core::config::{self, Config, Home};
use lexdesk_core::embed::{EmbedRole, Embedder, cosine};
use lexdesk_core::generate::{ChatMessage, Completion, GenerateRequest, Generator, Prompt, Role};
use lexdesk_core::model::GpuLayers;
use lexdesk_core::{EngineError, ErrorCode};
use lexdesk_desk::ChatEngine;
use serde::Serialize;

mod ask;
mod eval;
mod library;
mod models;
mod output;
mod serve;
mod templates;
use output::{Out, json};

/// LexDesk: private legal document Q&A on local models.
#[derive(Debug, Parser)]
#[command(name = "lexdesk", version, about, max_term_width = 100)]
struct Cli {
    /// LexDesk's data directory (config, matters, models) [default: the OS app-data directory]
    #[arg(long, global = true, env = config::ENV_HOME, value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(flatten)]
    engine: EngineFlags,

    /// Log llama.cpp and engine details to stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// Engine settings; each overrides config.toml.
#[derive(Debug, Args)]
struct EngineFlags {
    /// CPU threads [default: physical cores]
    #[arg(long, global = true, value_name = "N")]
    threads: Option<u32>,
    /// Layers on the GPU: `auto`, `all` or a number
    #[arg(long, global = true, value_name = "N|auto")]
    gpu_layers: Option<GpuLayers>,
    /// Context length in tokens [default: min(model's, 8192)]
    #[arg(long = "ctx-size", global = true, value_name = "TOKENS")]
    context_length: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and manage model files
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Store the Hugging Face token and remote-engine keys in the OS keychain
    #[command(subcommand)]
    Secrets(models::SecretsCommand),
    /// Generate text from a prompt, streaming it to the terminal
    Generate(GenerateArgs),
    /// Embed texts: print vectors, or a cosine-similarity matrix
    Embed(EmbedArgs),
    /// Chat with a model in the terminal (the built-in demo when run without a model)
    Chat(ChatArgs),
    /// Measure prompt-processing and generation throughput (compare with llama.cpp's llama-bench)
    Bench(BenchArgs),
    /// Extract files and folders to normalised page text (OCR for scans) or chunks, as ingestion will
    Extract(ExtractArgs),
    /// Create, list, rename and delete matters
    #[command(subcommand)]
    Matter(library::MatterCommand),
    /// Add files and folders to a matter: extract, chunk, embed and index them
    Ingest(library::IngestArgs),
    /// List (or remove) a matter's documents
    Docs(library::DocsArgs),
    /// Search a matter (full text, vectors or both)
    Search(library::SearchArgs),
    /// Answer a question from a matter's documents, with verified citations (or say they do not answer it)
    Ask(ask::AskArgs),
    /// List, show, rename, delete and export a matter's chat sessions
    #[command(subcommand)]
    Session(ask::SessionCommand),
    /// Evaluate answers on gold sets: import sets, run them (resumable), show, compare and export results
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Prompt templates: list, show, render (with a token-count preview), compare on the local model, import, export
    #[command(subcommand)]
    Templates(templates::TemplatesCommand),
    /// Serve the OpenAI-compatible and LexDesk HTTP API for a firm (API keys, metrics, health)
    Serve(serve::ServeArgs),
    /// Create, list and revoke the server's API keys
    #[command(subcommand)]
    Keys(serve::KeysCommand),
    /// Internal: isolated worker processes
    #[command(subcommand, hide = true)]
    Worker(WorkerCommand),
    /// List the compute devices llama.cpp sees
    Devices {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ExtractArgs {
    /// Print JSON (pages with provenance)
    #[arg(long)]
    json: bool,
    /// Do not OCR pages without a text layer
    #[arg(long)]
    no_ocr: bool,
    /// Seconds allowed per PDF
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print the chunks that ingestion would embed instead of the pages
    #[arg(long)]
    chunks: bool,
    /// Files and folders (searched recursively)
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum WorkerCommand {
    /// Extract a PDF's text page by page and print JSON (run by `extract`, never by hand)
    ExtractPdf {
        /// Address-space cap in MiB
        #[arg(long, default_value_t = 4096)]
        max_memory_mib: u64,
        /// The PDF
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
struct SamplingFlags {
    /// Maximum tokens to generate [default: from config, 1024]
    #[arg(long, short = 'n')]
    max_tokens: Option<u32>,
    /// Temperature; 0 = greedy and deterministic
    #[arg(long)]
    temperature: Option<f32>,
    /// Top-k (0 = off)
    #[arg(long)]
    top_k: Option<u32>,
    /// Top-p (1 = off)
    #[arg(long)]
    top_p: Option<f32>,
    /// Min-p (0 = off)
    #[arg(long)]
    min_p: Option<f32>,
    /// Repeat penalty (1 = off)
    #[arg(long)]
    repeat_penalty: Option<f32>,
    /// Random seed
    #[arg(long)]
    seed: Option<u32>,
    /// Stop before this text (repeatable)
    #[arg(long = "stop", value_name = "TEXT")]
    stop: Vec<String>,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// System prompt
    #[arg(long)]
    system: Option<String>,
    /// Complete the prompt as raw text, without the chat template
    #[arg(long)]
    raw: bool,
    /// Print the rendered prompt (after the chat template) to stderr first
    #[arg(long)]
    show_prompt: bool,
    /// Print one JSON object with text, finish reason and usage instead of streaming
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    sampling: SamplingFlags,
    /// The prompt
    prompt: String,
}

#[derive(Debug, Args)]
struct EmbedArgs {
    /// Embedding model (path or file name) [default: config / LEXDESK_EMBED_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// Embed the texts as search queries (models with query prefixes use them)
    #[arg(long)]
    query: bool,
    /// Print the cosine-similarity matrix instead of vectors
    #[arg(long)]
    cosine: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Texts to embed
    #[arg(required = true)]
    texts: Vec<String>,
}

#[derive(Debug, Args)]
struct ChatArgs {
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// System prompt (plain chat without --matter)
    #[arg(long, default_value = DEMO_SYSTEM)]
    system: String,
    #[command(flatten)]
    sampling: SamplingFlags,
    #[command(flatten)]
    grounded: ask::GroundedChatArgs,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Chat model (path or file name) [default: config / LEXDESK_CHAT_MODEL]
    #[arg(long, short)]
    model: Option<String>,
    /// Prompt tokens (llama-bench `-p`)
    #[arg(short = 'p', long, default_value_t = 512)]
    n_prompt: u32,
    /// Generated tokens (llama-bench `-n`)
    #[arg(short = 'g', long, default_value_t = 128)]
    n_gen: u32,
    /// Repetitions (llama-bench `-r`), after one warm-up
    #[arg(short, long, default_value_t = 5)]
    repetitions: u32,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

const DEMO_SYSTEM: &str =
    "You are LexDesk, a careful assistant for lawyers. Answer briefly and say when you are not sure.";

/// Exit codes of outcomes that are not errors (README.md, "Exit codes"); an error's exit code is
/// its kind's ([`lexdesk_core::ErrorKind::exit_code`]).
pub(crate) mod exit {
    pub const ERROR: u8 = 1;
    pub const RESOURCES: u8 = 4;
    pub const INFERENCE: u8 = 5;
    pub const DOCUMENT: u8 = 6;
    /// An evaluation found a quote marked verified that is not on its cited page.
    pub const DISHONEST: u8 = 8;
    pub const CANCELLED: u8 = 130;
}

/// The first error in the chain that has a stable code and kind. The exit code and the printed
/// code both come from it ([`lexdesk_core::ErrorKind::exit_code`]); desk errors keep the code
/// and kind of the error they wrap. Besides the desk's, the CLI meets a generation stream's
/// `EngineError`, its own usage errors, configuration errors and the server's.
fn coded(e: &anyhow::Error) -> Option<&dyn ErrorCode> {
    e.chain().find_map(|c| -> Option<&dyn ErrorCode> {
        if let Some(e) = c.downcast_ref::<lexdesk_desk::DeskError>() {
            return Some(e);
        }
        if let Some(e) = c.downcast_ref::<EngineError>() {
            return Some(e);
        }
        if let Some(e) = c.downcast_ref::<templates::UsageError>() {
            return Some(e);
        }
        if let Some(e) = c.downcast_ref::<config::ConfigError>() {
            return Some(e);
        }
        if let Some(e) = c.downcast_ref::<lexdesk_server::KeyError>() {
            return Some(e);
        }
        c.downcast_ref::<lexdesk_server::ServeError>().map(|e| e as &dyn ErrorCode)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The extraction worker is a separate, minimal process: no runtime, no config, no logging.
    if let Command::Worker(WorkerCommand::ExtractPdf { max_memory_mib, file }) = &cli.command {
        let code = lexdesk_desk::run_pdf_worker(file, *max_memory_mib, std::io::stdout().lock());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().worker_threads(2).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let coded = coded(&e);
            eprintln!("error[{}]: {e:#}", coded.map_or("ERROR", ErrorCode::code));
            ExitCode::from(coded.map_or(exit::ERROR, |c| c.kind().exit_code()))
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // llama.cpp's own log (target `llama-cpp-2`) only shows its errors unless asked.
        0 => "warn,llama-cpp-2=error",
        1 => "info,llama-cpp-2=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEXDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

struct Ctx {
    home: Home,
    config: Config,
}

impl Ctx {
    fn new(cli: &Cli) -> anyhow::Result<Self> {
        let home = Home::resolve(cli.home.as_deref())?;
        let mut config = Config::load(&home)?;
        if let Some(t) = cli.engine.threads {
            config.engine.threads = Some(t);
        }
        if let Some(g) = cli.engine.gpu_layers {
            config.engine.gpu_layers = g;
        }
        if let Some(c) = cli.engine.context_length {
            config.engine.context_length = Some(c);
        }
        Ok(Self { home, config })
    }

    /// The application handle over this home, as the desktop app and the server use it, with
    /// this command's settings. A model named on the command line replaces the configured one
    /// for its role, and with it a remote engine configured for that role.
    fn desk(&self, chat: Option<&str>, embed: Option<&str>) -> anyhow::Result<lexdesk_desk::Desk> {
        let mut config = self.config.clone();
        if let Some(c) = chat {
            c.clone_into(&mut config.models.chat);
            config.remote.chat = None;
        }
        if let Some(e) = embed {
            e.clone_into(&mut config.models.embed);
            config.remote.embed = None;
        }
        let options = lexdesk_desk::DeskOptions {
            home: Some(self.home.root().to_path_buf()),
            worker_program: std::env::current_exe().context("cannot find the lexdesk executable")?,
        };
        Ok(lexdesk_desk::Desk::open(options)?.with_config(config))
    }

    fn request(&self, prompt: Prompt, flags: &SamplingFlags) -> GenerateRequest {
        let mut s = self.config.generation.sampling.clone();
        s.temperature = flags.temperature.unwrap_or(s.temperature);
        s.top_k = flags.top_k.unwrap_or(s.top_k);
        s.top_p = flags.top_p.unwrap_or(s.top_p);
        s.min_p = flags.min_p.unwrap_or(s.min_p);
        s.repeat_penalty = flags.repeat_penalty.unwrap_or(s.repeat_penalty);
        s.seed = flags.seed.or(s.seed);
        GenerateRequest {
            prompt,
            max_tokens: flags.max_tokens.unwrap_or(self.config.generation.max_tokens),
            stop: flags.stop.clone(),
            sampling: s,
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let ctx = Ctx::new(&cli)?;
    let mut out = Out::stdout();
    match &cli.command {
        Command::Models(c) => models::models_cmd(&ctx, &mut out, c).await,
        Command::Secrets(c) => models::secrets_cmd(&ctx, &mut out, c),
        Command::Generate(args) => generate(&ctx, &mut out, args).await,
        Command::Embed(args) => embed(&ctx, &mut out, args).await,
        Command::Chat(args) => chat(&ctx, &mut out, args).await,
        Command::Bench(args) => bench(&ctx, &mut out, args).await,
        Command::Extract(args) => extract(&ctx, &mut out, args).await,
        Command::Matter(c) => library::matter(&ctx, &mut out, c).await,
        Command::Ingest(args) => library::ingest_cmd(&ctx, &mut out, args).await,
        Command::Docs(args) => library::docs(&ctx, &mut out, args).await,
        Command::Search(args) => library::search(&ctx, &mut out, args).await,
        Command::Ask(args) => ask::ask_cmd(&ctx, &mut out, args).await,
        Command::Session(c) => ask::session_cmd(&ctx, &mut out, c),
        Command::Templates(c) => templates::templates_cmd(&ctx, &mut out, c).await,
        Command::Eval(c) => eval::eval_cmd(&ctx, &mut out, c).await,
        Command::Serve(args) => serve::serve(&ctx, args).await,
        Command::Keys(c) => serve::keys_cmd(&ctx, &mut out, c),
        Command::Worker(_) => unreachable!("handled in main"),
        Command::Devices { json: as_json } => {
            let devices = ctx.desk(None, None)?.models().devices()?;
            if *as_json {
                let list: Vec<_> = devices.iter().map(output::DeviceJson::from).collect();
                json(&mut out, &list)?;
            } else {
                for d in devices {
                    out.line(format!(
                        "{:<10} {:<8} {:<40} {:>8} MiB free of {} MiB",
                        d.name,
                        d.backend,
                        d.description,
                        d.memory_free >> 20,
                        d.memory_total >> 20
                    ))?;
                }
            }
            Ok(0)
        }
    }
}

pub(crate) fn inspect(ctx: &Ctx, out: &mut Out, file: &Path, as_json: bool) -> anyhow::Result<u8> {
    let report = ctx.desk(None, None)?.models().inspect(file)?;
    if as_json {
        json(out, &output::InspectJson::from(&report))?;
    } else {
        output::print_inspection(out, &report)?;
    }
    Ok(0)
}

async fn generate(ctx: &Ctx, out: &mut Out, args: &GenerateArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(args.model.as_deref(), None)?;
    let model = desk.models().chat().await?;
    let prompt = if args.raw {
        Prompt::Raw(args.prompt.clone())
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(ChatMessage::new(Role::System, system.clone()));
        }
        messages.push(ChatMessage::new(Role::User, args.prompt.clone()));
        Prompt::Chat(messages)
    };
    if args.show_prompt {
        let rendered = model.render(&prompt).await?;
        eprintln!("--- prompt ({:?}, {} tokens) ---\n{}\n---", rendered.format, rendered.tokens, rendered.text);
    }
    let request = ctx.request(prompt, &args.sampling);
    let completion = stream_completion(&model, request, out, !args.json).await?;
    if args.json {
        json(out, &completion)?;
    } else {
        out.line("")?;
        eprintln!("{}", output::usage_line(&completion));
    }
    Ok(if completion.finish_reason == lexdesk_core::generate::FinishReason::Cancelled { exit::CANCELLED } else { 0 })
}

/// Run a request, printing tokens as they come when `echo`; Ctrl-C cancels.
async fn stream_completion(
    model: &ChatEngine,
    request: GenerateRequest,
    out: &mut Out,
    echo: bool,
) -> anyhow::Result<Completion> {
    let stream = model.generate(request)?;
    let cancel = stream.cancel_token();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let mut write_error = None;
    let completion = stream
        .collect_with(|t| {
            if echo && write_error.is_none() {
                write_error = out.text(t).err();
            }
        })
        .await;
    ctrl_c.abort();
    if let Some(e) = write_error {
        return Err(e.into());
    }
    Ok(completion?)
}

async fn embed(ctx: &Ctx, out: &mut Out, args: &EmbedArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(None, args.model.as_deref())?;
    let model = desk.models().embedding().await?;
    let role = if args.query { EmbedRole::Query } else { EmbedRole::Document };
    let embeddings = model.embed(args.texts.clone(), role).await?;
    for (text, e) in args.texts.iter().zip(&embeddings) {
        if e.truncated {
            eprintln!("warning: input truncated to {} tokens: {:.40}…", e.tokens, text);
        }
    }
    if args.cosine {
        let matrix: Vec<Vec<f32>> =
            embeddings.iter().map(|a| embeddings.iter().map(|b| cosine(&a.vector, &b.vector)).collect()).collect();
        if args.json {
            json(out, &matrix)?;
        } else {
            for row in matrix {
                out.line(row.iter().map(|v| format!("{v:7.4}")).collect::<Vec<_>>().join(" "))?;
            }
        }
    } else if args.json {
        #[derive(Serialize)]
        struct Row<'a> {
            text: &'a str,
            tokens: u32,
            truncated: bool,
            embedding: &'a [f32],
        }
        let rows: Vec<_> = args
            .texts
            .iter()
            .zip(&embeddings)
            .map(|(text, e)| Row { text, tokens: e.tokens, truncated: e.truncated, embedding: &e.vector })
            .collect();
        json(out, &rows)?;
    } else {
        for e in &embeddings {
            out.line(e.vector.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(" "))?;
        }
    }
    Ok(0)
}

async fn chat(ctx: &Ctx, out: &mut Out, args: &ChatArgs) -> anyhow::Result<u8> {
    if args.grounded.matter.is_some() {
        return ask::chat_matter(ctx, out, args.model.as_deref(), args.sampling.max_tokens, &args.grounded).await;
    }
    let desk = ctx.desk(args.model.as_deref(), None)?;
    let model = desk.models().chat().await?;
    let about = match model.info() {
        Some(info) => format!(
            "{} ({} {}, {} tokens of context, {} threads)",
            info.metadata.name.as_deref().unwrap_or("model"),
            info.metadata.architecture,
            info.metadata.quantization,
            info.context_length,
            info.threads
        ),
        None => format!("{} ({} tokens of context)", model.name(), model.context_length()),
    };
    eprintln!("LexDesk demo chat — {about}. /reset starts over, /quit or Ctrl-D ends.");
    eprintln!("For answers from a matter's documents with verified citations: lexdesk chat --matter NAME.");
    let mut messages = vec![ChatMessage::new(Role::System, args.system.clone())];
    let mut prompter = output::Prompter::new();
    while let Some(line) = prompter.next(out)? {
        if line == "/reset" {
            messages.truncate(1);
            eprintln!("(conversation cleared)");
            continue;
        }
        messages.push(ChatMessage::new(Role::User, line.as_str()));
        let request = ctx.request(Prompt::Chat(messages.clone()), &args.sampling);
        match stream_completion(&model, request, out, true).await {
            Ok(c) => {
                out.line("")?;
                eprintln!("{}", output::usage_line(&c));
                messages.push(ChatMessage::new(Role::Assistant, c.text));
            }
            Err(e)
                if e.downcast_ref::<EngineError>().is_some_and(|e| matches!(e, EngineError::PromptTooLong { .. })) =>
            {
                eprintln!("The conversation no longer fits the context; starting over (/reset).");
                messages.truncate(1);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}

async fn bench(ctx: &Ctx, out: &mut Out, args: &BenchArgs) -> anyhow::Result<u8> {
    let desk = ctx.desk(args.model.as_deref(), None)?;
    let model = desk.models().chat().await?;
    let info = model.info().cloned().context("benchmarks measure a local model")?;
    model.bench(args.n_prompt.min(64), args.n_gen.min(16)).await?; // warm-up, as llama-bench does
    let mut samples = Vec::new();
    for _ in 0..args.repetitions.max(1) {
        samples.push(model.bench(args.n_prompt, args.n_gen).await?);
    }
    let report = output::BenchJson::new(&info, &samples);
    if args.json {
        json(out, &report)?;
    } else {
        out.line(format!(
            "{} {} | threads {} | pp{} {:.2} ± {:.2} t/s | tg{} {:.2} ± {:.2} t/s",
            report.model,
            report.quantization,
            report.threads,
            args.n_prompt,
            report.pp_mean,
            report.pp_std,
            args.n_gen,
            report.tg_mean,
            report.tg_std
        ))?;
    }
    Ok(0)
}

async fn extract(ctx: &Ctx, out: &mut Out, args: &ExtractArgs) -> anyhow::Result<u8> {
    use lexdesk_desk::{ExtractEvent, Provenance};
    let desk = ctx.desk(None, None)?;
    let params = lexdesk_desk::ExtractParams {
        files: args.files.clone(),
        ocr: !args.no_ocr,
        pdf_timeout: std::time::Duration::from_secs(args.timeout),
        // chunks as ingestion sizes them: with the configured embedder's tokenizer
        chunks: args.chunks,
    };
    let cancel = lexdesk_core::generate::CancelToken::new();
    let mut written = Ok(());
    let summary = desk
        .extract(&params, &cancel, &mut |event| {
            if written.is_err() {
                return;
            }
            written = match event {
                ExtractEvent::Skipped { index, total, path, reason } => {
                    eprintln!("[{}/{total}] {}: skipped ({reason})", index + 1, path.display());
                    Ok(())
                }
                ExtractEvent::Failed { index, total, path, error } => {
                    eprintln!("[{}/{total}] {}: error[{}]: {error}", index + 1, path.display(), error.code());
                    Ok(())
                }
                ExtractEvent::Extracted { index, total, document: doc, chunks, elapsed } => {
                    let ocr = doc.pages.iter().filter(|p| matches!(p.provenance, Provenance::Ocr { .. })).count();
                    eprintln!(
                        "[{}/{total}] {}: {} pages ({ocr} OCR) in {:.1} s",
                        index + 1,
                        doc.path.display(),
                        doc.pages.len(),
                        elapsed.as_secs_f64()
                    );
                    print_extracted(out, doc, chunks, args.json)
                }
            };
        })
        .await?;
    written?;
    let secs = summary.elapsed.as_secs_f64();
    eprintln!(
        "{} files: {} ok, {} failed, {} skipped; {} pages ({} OCR) in {secs:.1} s, {:.1} pages/s",
        summary.files,
        summary.extracted,
        summary.failed,
        summary.skipped,
        summary.pages,
        summary.ocr_pages,
        if secs > 0.0 { summary.pages as f64 / secs } else { 0.0 }
    );
    Ok(if summary.failed > 0 { exit::DOCUMENT } else { 0 })
}

fn print_extracted(
    out: &mut Out,
    doc: &lexdesk_desk::ExtractedDocument,
    chunks: Option<&[lexdesk_desk::Chunk]>,
    as_json: bool,
) -> anyhow::Result<()> {
    use lexdesk_desk::Provenance;
    if let Some(chunks) = chunks {
        if as_json {
            return json(out, &chunks);
        }
        for c in chunks {
            out.line(format!(
                "-- p{}–{} {} tokens | {}",
                c.page_start,
                c.page_end,
                c.tokens,
                c.heading_path.join(" › ")
            ))?;
            out.line(&c.text)?;
        }
    } else if as_json {
        json(out, doc)?;
    } else {
        out.line(format!("== {} ({}, {} pages)", doc.path.display(), doc.format, doc.pages.len()))?;
        for p in &doc.pages {
            let source = match p.provenance {
                Provenance::TextLayer => format!("text layer, {}", p.extractor),
                Provenance::Ocr { confidence } => format!("OCR {confidence:.0}%"),
            };
            out.line(format!(
                "-- page {} [{source}]{}",
                p.number,
                p.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
            ))?;
            out.line(&p.text)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap checks names, conflicts and requirements of every subcommand.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
