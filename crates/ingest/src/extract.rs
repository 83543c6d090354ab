//! From a file on disk to normalised, page-addressed text with provenance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::{FileKind, detect};
use crate::normalize::{normalize_page, strip_running_lines};
use crate::ocr::{Ocr, Provenance};
use crate::pdf::{PdfError, WorkerConfig, extract_pdf};

/// A page whose text layer has fewer visible characters than this is treated as scanned.
const OCR_BELOW_CHARS: usize = 20;
/// Pages with fewer visible characters than this are also OCR'd; the OCR text is kept when it
/// finds more than twice as much (scans with a stamped docket line in their text layer).
const OCR_CHECK_BELOW_CHARS: usize = 200;

/// What extraction may use.
#[derive(Debug, Clone)]
pub struct ExtractConfig {
    /// The PDF worker.
    pub worker: WorkerConfig,
    /// OCR, when the tools are installed and it is wanted.
    pub ocr: Option<Ocr>,
}

/// One page of extracted, normalised text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedPage {
    /// 1-based page number (text files are one page).
    pub number: u32,
    /// Normalised text: what is stored and what citations are checked against.
    pub text: String,
    /// Text layer or OCR.
    pub provenance: Provenance,
    /// What produced the text: `pdf-extract`, `poppler` (pdftotext, when pdf-extract failed on
    /// the page), `tesseract`, or the format for DOCX, HTML, Markdown and text files.
    pub extractor: String,
    /// A page-level problem (the page's text may be empty).
    pub error: Option<String>,
}

/// An extracted document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedDocument {
    /// The file.
    pub path: PathBuf,
    /// `pdf`, `docx`, `html`, `markdown` or `text`.
    pub format: String,
    /// A title for display and heading paths: the Markdown `#` title, else a short first line
    /// that reads like a title, else the file name.
    pub title: String,
    /// Pages in order.
    pub pages: Vec<ExtractedPage>,
}

/// Why a file could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// A PDF problem.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// A format LexDesk does not read (yet).
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The file is not UTF-8 text.
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Io(String),
}

// Stable codes, recorded on a failed document and shown with its reason.
lexdesk_core::error_codes!(ExtractError {
    Self::Unsupported(_) => "UNSUPPORTED_FORMAT", InvalidInput;
    Self::Empty => "EMPTY", InvalidData;
    Self::NotUtf8 => "NOT_UTF8", InvalidData;
    Self::Io(_) => "IO", Io;
} wraps {
    Self::Pdf(e) => e,
});

/// Extract `path`.
///
/// # Errors
/// The file as a whole cannot be read; page-level problems are reported on the pages.
pub fn extract(path: &Path, config: &ExtractConfig) -> Result<ExtractedDocument, ExtractError> {
    let kind = detect(path).map_err(|e| ExtractError::Io(e.to_string()))?;
    if std::fs::metadata(path).map_err(|e| ExtractError::Io(e.to_string()))?.len() == 0 {
        return Err(ExtractError::Empty);
    }
    let says_pdf = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    if says_pdf && kind != FileKind::Pdf {
        // Content decides the format, but a ".pdf" that is not one is a broken file, not text.
        let head: Vec<u8> = std::fs::read(path).map(|b| b.into_iter().take(1024).collect()).unwrap_or_default();
        return Err(PdfError::NotAPdf { detected: crate::detect::describe(&head).to_owned() }.into());
    }
    match kind {
        FileKind::Pdf => extract_pdf_document(path, config),
        FileKind::Markdown | FileKind::Text => {
            let bytes = std::fs::read(path).map_err(|e| ExtractError::Io(e.to_string()))?;
            let text = String::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let (format, text) =
                if kind == FileKind::Markdown { ("markdown", strip_html_comments(&text)) } else { ("text", text) };
            Ok(single_page(path, format, &text))
        }
        FileKind::Zip | FileKind::Html => {
            let bytes = std::fs::read(path).map_err(|e| ExtractError::Io(e.to_string()))?;
            let (format, text) = if kind == FileKind::Zip {
                ("docx", crate::office::docx_text(&bytes).map_err(ExtractError::Unsupported)?)
            } else {
                ("html", crate::office::html_text(&bytes).map_err(ExtractError::Unsupported)?)
            };
            Ok(single_page(path, format, &text))
        }
        FileKind::Unknown => Err(ExtractError::Unsupported("not a PDF or UTF-8 text file".into())),
    }
}

/// Formats without pages are one page.
fn single_page(path: &Path, format: &str, text: &str) -> ExtractedDocument {
    let pages = vec![ExtractedPage {
        number: 1,
        text: normalize_page(text),
        provenance: Provenance::TextLayer,
        extractor: format.into(),
        error: None,
    }];
    ExtractedDocument { path: path.to_path_buf(), format: format.into(), title: title(path, &pages), pages }
}

/// The document's title (see [`ExtractedDocument::title`]).
fn title(path: &Path, pages: &[ExtractedPage]) -> String {
    let first = pages.iter().flat_map(|p| p.text.lines()).map(str::trim).find(|l| !l.is_empty());
    let from_text = first.and_then(|line| {
        if let Some(t) = line.strip_prefix("# ") {
            return Some(t.trim().to_owned());
        }
        let reads_like_title = line.chars().count() <= 60
            && !line.ends_with(['.', '。', ';', '；', ',', '，', ':', '：'])
            && crate::structure::classify(line) == crate::structure::LineKind::Text
            && line.chars().any(char::is_alphabetic);
        reads_like_title.then(|| line.to_owned())
    });
    from_text.unwrap_or_else(|| path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned()))
}

fn extract_pdf_document(path: &Path, config: &ExtractConfig) -> Result<ExtractedDocument, ExtractError> {
    let raw = extract_pdf(&config.worker, path)?;
    let texts: Vec<String> = raw.iter().map(|p| normalize_page(&p.text)).collect();
    let visible = |t: &str| t.chars().filter(|c| !c.is_whitespace()).count();
    let mut pages = Vec::with_capacity(raw.len());
    for (page, text) in raw.into_iter().zip(texts) {
        let number = page.number;
        let mut best = ExtractedPage {
            number,
            text,
            provenance: Provenance::TextLayer,
            extractor: "pdf-extract".into(),
            error: page.error,
        };
        // pdf-extract found little or nothing (or failed on the page, e.g. an unsupported CJK
        // CMap): poppler's pdftotext reads many such pages.
        if visible(&best.text) < OCR_BELOW_CHARS
            && let Some(t) =
                pdftotext_page(path, number).map(|t| normalize_page(&t)).filter(|t| visible(t) > visible(&best.text))
        {
            best = ExtractedPage {
                number,
                text: t,
                provenance: Provenance::TextLayer,
                extractor: "poppler".into(),
                error: None,
            };
        }
        // A page with little text may be a scan with a stamped line or two in its text layer:
        // OCR it and keep the OCR text when it finds clearly more.
        let have = visible(&best.text);
        if have < OCR_CHECK_BELOW_CHARS {
            match &config.ocr {
                Some(ocr) => match ocr.page(path, number) {
                    Ok((ocr_text, confidence)) => {
                        let ocr_text = normalize_page(&ocr_text);
                        if visible(&ocr_text) > (2 * have).max(OCR_BELOW_CHARS) {
                            best = ExtractedPage {
                                number,
                                text: ocr_text,
                                provenance: Provenance::Ocr { confidence },
                                extractor: "tesseract".into(),
                                error: None,
                            };
                        }
                    }
                    Err(e) if have < OCR_BELOW_CHARS => best.error = Some(e.to_string()),
                    Err(_) => {}
                },
                None if have < OCR_BELOW_CHARS => {
                    best.error =
                        Some("no text layer and OCR is not available (install tesseract-ocr and poppler-utils)".into());
                }
                None => {}
            }
        }
        pages.push(best);
    }
    // Running headers and footers across pages, whatever extracted them.
    let mut texts: Vec<String> = pages.iter().map(|p| p.text.clone()).collect();
    strip_running_lines(&mut texts);
    for (p, t) in pages.iter_mut().zip(texts) {
        p.text = t;
    }
    Ok(ExtractedDocument { path: path.to_path_buf(), format: "pdf".into(), title: title(path, &pages), pages })
}

/// One page through poppler's `pdftotext` (UTF-8, reading order), if it is installed.
fn pdftotext_page(path: &Path, number: u32) -> Option<String> {
    let n = number.to_string();
    let out = std::process::Command::new("pdftotext")
        .args(["-q", "-enc", "UTF-8", "-f", &n, "-l", &n])
        .arg(path)
        .arg("-")
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).replace('\u{000C}', ""))
}

/// Markdown files may carry `<!-- … -->` metadata markers; they are not content.
fn strip_html_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Vec<ExtractedPage> {
        vec![ExtractedPage {
            number: 1,
            text: text.into(),
            provenance: Provenance::TextLayer,
            extractor: "t".into(),
            error: None,
        }]
    }

    #[test]
    fn titles_from_markdown_first_lines_or_file_names() {
        let p = Path::new("/docs/nda-acme.pdf");
        assert_eq!(title(p, &page("# 中华人民共和国民法典\n# 合同编")), "中华人民共和国民法典");
        assert_eq!(
            title(p, &page("\nMUTUAL NON-DISCLOSURE AGREEMENT\nThis Agreement…")),
            "MUTUAL NON-DISCLOSURE AGREEMENT"
        );
        assert_eq!(title(p, &page("This Agreement is made on 1 May 2024 between the parties.")), "nda-acme");
        assert_eq!(title(p, &page("第一条 为了保护民事主体的合法权益")), "nda-acme");
        assert_eq!(title(p, &page("")), "nda-acme");
    }

    #[test]
    fn comments_are_removed_from_markdown() {
        assert_eq!(strip_html_comments("a<!-- INFO END -->b<!--x"), "ab");
    }
}
