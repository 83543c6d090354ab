//! PDF text extraction that cannot take the application down.
//!
//! `pdf-extract` panics on many real PDFs and can overflow the stack on some Chinese ones, so it
//! never runs in the application's process. [`extract_pdf`] starts a worker process (the
//! `lexdesk` binary's hidden `worker extract-pdf` command, which calls [`run_worker`]) with a
//! timeout; the worker caps its own address space, runs the extraction on a thread with a large
//! stack, extracts each page separately (a panic on one page loses only that page) and writes
//! one JSON document to stdout. A crash, an abort, a stack overflow, a timeout or an exhausted
//! memory cap fails that one file with a clear reason.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a PDF yields no text. Each variant has a stable code ([`PdfError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum PdfError {
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The file is not a PDF at all.
    #[error("not a PDF: {detected}")]
    NotAPdf {
        /// What it looks like.
        detected: String,
    },
    /// The file ends early (an interrupted download or copy).
    #[error("the PDF is truncated (no end-of-file marker) and could not be read: {reason}")]
    Truncated {
        /// The parser's message.
        reason: String,
    },
    /// The PDF is encrypted with a password.
    #[error("the PDF is password-protected; remove the password (print to PDF) and add it again")]
    PasswordProtected,
    /// The PDF has no pages.
    #[error("the PDF has no pages")]
    NoPages,
    /// The PDF structure is damaged.
    #[error("the PDF is damaged: {reason}")]
    Damaged {
        /// The parser's message.
        reason: String,
    },
    /// The extractor crashed (panic outside a page, abort, stack overflow).
    #[error("the PDF extractor crashed on this file ({detail})")]
    Crashed {
        /// Exit status and the end of the worker's stderr.
        detail: String,
    },
    /// The extractor took longer than allowed.
    #[error("text extraction took longer than {seconds} s and was stopped")]
    Timeout {
        /// The limit.
        seconds: u64,
    },
    /// The worker could not be started.
    #[error("cannot start the PDF extraction worker: {reason}")]
    Worker {
        /// Why.
        reason: String,
    },
}

// Stable codes, recorded on a failed document and shown with its reason.
lexdesk_core::error_codes!(PdfError {
    Self::Empty => "EMPTY", InvalidData;
    Self::NotAPdf { .. } => "NOT_A_PDF", InvalidData;
    Self::Truncated { .. } => "TRUNCATED", InvalidData;
    Self::PasswordProtected => "PASSWORD_PROTECTED", InvalidData;
    Self::NoPages => "NO_PAGES", InvalidData;
    Self::Damaged { .. } => "DAMAGED", InvalidData;
    Self::Crashed { .. } => "EXTRACTOR_CRASHED", InvalidData;
    Self::Timeout { .. } => "TIMEOUT", Resources;
    Self::Worker { .. } => "WORKER_FAILED", Unavailable;
});

/// One page as the text layer gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPage {
    /// 1-based page number.
    pub number: u32,
    /// Extracted text (empty for image-only pages).
    pub text: String,
    /// Why this page failed, if it did (the rest of the document is unaffected).
    pub error: Option<String>,
}

/// How to start the worker and what it may use.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The program (the `lexdesk` binary).
    pub program: PathBuf,
    /// Arguments before the file (`["worker", "extract-pdf"]`).
    pub args: Vec<String>,
    /// Wall-clock limit per file.
    pub timeout: Duration,
    /// Address-space cap for the worker, in MiB.
    pub memory_mib: u64,
}

impl WorkerConfig {
    /// The `lexdesk` binary at `program`, 120 s and 4 GiB per file.
    #[must_use]
    pub fn lexdesk(program: PathBuf) -> Self {
        Self {
            program,
            args: vec!["worker".into(), "extract-pdf".into()],
            timeout: Duration::from_secs(120),
            memory_mib: 4096,
        }
    }
}

/// Extract `path` page by page in a worker process.
///
/// # Errors
/// A [`PdfError`] for this file; other files are unaffected.
pub fn extract_pdf(worker: &WorkerConfig, path: &Path) -> Result<Vec<RawPage>, PdfError> {
    precheck(path)?;
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .arg("--max-memory-mib")
        .arg(worker.memory_mib.to_string())
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PdfError::Worker { reason: format!("{}: {e}", worker.program.display()) })?;
    // Drain both pipes on threads so a chatty worker cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).map(|_| buf)
    });
    let status = match wait_timeout::ChildExt::wait_timeout(&mut child, worker.timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            child.kill().ok();
            child.wait().ok();
            return Err(PdfError::Timeout { seconds: worker.timeout.as_secs() });
        }
        Err(e) => return Err(PdfError::Worker { reason: e.to_string() }),
    };
    let stdout = out.join().ok().and_then(Result::ok).unwrap_or_default();
    let stderr = err.join().ok().and_then(Result::ok).unwrap_or_default();
    if let Ok(result) = serde_json::from_slice::<Result<Vec<RawPage>, PdfError>>(&stdout) {
        return result;
    }
    let tail: String = String::from_utf8_lossy(&stderr).lines().rev().take(3).collect::<Vec<_>>().join(" | ");
    let detail = if tail.contains("overflowed its stack") {
        "stack overflow".to_owned()
    } else if tail.contains("memory allocation") || tail.contains("out of memory") {
        format!("memory cap of {} MiB exceeded", worker.memory_mib)
    } else {
        format!("{status}: {tail}")
    };
    Err(PdfError::Crashed { detail })
}

/// Cheap checks before starting a process: empty, not a PDF, truncated.
fn precheck(path: &Path) -> Result<(), PdfError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| PdfError::Worker { reason: format!("{}: {e}", path.display()) })?;
    let mut head = [0u8; 1024];
    let n = file.read(&mut head).map_err(|e| PdfError::Worker { reason: e.to_string() })?;
    if n == 0 {
        return Err(PdfError::Empty);
    }
    if !head[..n].windows(5).any(|w| w == b"%PDF-") {
        return Err(PdfError::NotAPdf { detected: crate::detect::describe(&head[..n]).to_owned() });
    }
    Ok(())
}

/// The worker's entry point (`lexdesk worker extract-pdf`): cap memory, extract, print JSON.
/// Returns the process exit code.
pub fn run_worker(path: &Path, max_memory_mib: u64, mut out: impl Write) -> i32 {
    cap_memory(max_memory_mib);
    let path = path.to_path_buf();
    // Deeply nested content streams recurse; give the extractor a large stack.
    let handle = std::thread::Builder::new()
        .name("pdf-extract".into())
        .stack_size(512 << 20)
        .spawn(move || extract_in_process(&path));
    let result = match handle.map(std::thread::JoinHandle::join) {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(PdfError::Crashed { detail: panic_message(&panic) }),
        Err(e) => Err(PdfError::Crashed {
            detail: format!("cannot start extraction within the memory cap of {max_memory_mib} MiB: {e}"),
        }),
    };
    match serde_json::to_writer(&mut out, &result) {
        Ok(()) => i32::from(result.is_err()),
        Err(_) => 2,
    }
}

#[cfg(unix)]
fn cap_memory(mib: u64) {
    let bytes = mib.saturating_mul(1 << 20);
    // Failure only means no cap: the timeout still applies.
    rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes).ok();
}

#[cfg(not(unix))]
fn cap_memory(_mib: u64) {}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Runs inside the worker: load once, then each page on its own, catching panics per page.
fn extract_in_process(path: &Path) -> Result<Vec<RawPage>, PdfError> {
    let bytes = std::fs::read(path).map_err(|e| PdfError::Damaged { reason: e.to_string() })?;
    let has_eof = bytes[bytes.len().saturating_sub(2048)..].windows(5).any(|w| w == b"%%EOF");
    let mut doc = match std::panic::catch_unwind(|| pdf_extract::Document::load_mem(&bytes)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) if !has_eof => return Err(PdfError::Truncated { reason: e.to_string() }),
        Ok(Err(e)) => return Err(damaged_or_encrypted(&e.to_string())),
        Err(panic) => return Err(PdfError::Damaged { reason: panic_message(&panic) }),
    };
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(PdfError::PasswordProtected);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(if has_eof {
            PdfError::NoPages
        } else {
            PdfError::Truncated { reason: "no pages could be read".into() }
        });
    }
    // Silence the default panic message per failing page; the page records the reason instead.
    std::panic::set_hook(Box::new(|_| {}));
    let doc = &doc;
    Ok(pages
        .keys()
        .map(|&number| {
            // The document is only read here; a page that panics leaves it usable for the next.
            let page = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut text = String::new();
                let mut output = pdf_extract::PlainTextOutput::new(&mut text);
                pdf_extract::output_doc_page(doc, &mut output, number).map(|()| text)
            }));
            match page {
                Ok(Ok(text)) => RawPage { number, text, error: None },
                Ok(Err(e)) => RawPage { number, text: String::new(), error: Some(e.to_string()) },
                Err(panic) => RawPage {
                    number,
                    text: String::new(),
                    error: Some(format!("extractor panicked: {}", panic_message(&panic))),
                },
            }
        })
        .collect())
}

fn damaged_or_encrypted(reason: &str) -> PdfError {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("decrypt") || lower.contains("password") || lower.contains("encrypt") {
        PdfError::PasswordProtected
    } else {
        PdfError::Damaged { reason: reason.to_owned() }
    }
}
