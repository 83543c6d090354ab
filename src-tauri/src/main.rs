//! `lexdesk-desktop`: the desktop app. Started as `lexdesk-desktop worker extract-pdf
//! [--max-memory-mib N] FILE` it is instead the isolated PDF extraction worker that ingestion
//! runs for each PDF (no window, no runtime), so the installed app needs no second binary.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    lexdesk_desktop::mark_start();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "worker") {
        return worker(&args[1..]);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEXDESK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lexdesk-desktop"));
    match lexdesk_desktop::run(exe) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `worker extract-pdf [--max-memory-mib N] FILE`, as `lexdesk_ingest::pdf::extract_pdf` runs it.
fn worker(args: &[std::ffi::OsString]) -> ExitCode {
    let mut rest = args.iter();
    if rest.next().is_none_or(|a| a != "extract-pdf") {
        eprintln!("usage: lexdesk-desktop worker extract-pdf [--max-memory-mib N] FILE");
        return ExitCode::from(2);
    }
    let mut max_memory_mib = 4096;
    let mut file = None;
    while let Some(a) = rest.next() {
        if a == "--max-memory-mib" {
            match rest.next().and_then(|v| v.to_str()).and_then(|v| v.parse().ok()) {
                Some(n) => max_memory_mib = n,
                None => return ExitCode::from(2),
            }
        } else {
            file = Some(PathBuf::from(a));
        }
    }
    let Some(file) = file else { return ExitCode::from(2) };
    let code = lexdesk_desk::run_pdf_worker(&file, max_memory_mib, std::io::stdout().lock());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
