//! Extraction of real PDFs (../shared/data/pdfs) and of broken files the test makes itself,
//! through the real worker process (the `lexdesk` binary), poppler and Tesseract.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lexdesk_e2e::{lexdesk_bin, shared_dir};
use lexdesk_ingest::extract::{ExtractConfig, ExtractError, ExtractedDocument, extract};
use lexdesk_ingest::ocr::{Ocr, Provenance};
use lexdesk_ingest::pdf::{PdfError, WorkerConfig};

fn config() -> ExtractConfig {
    ExtractConfig {
        worker: WorkerConfig::lexdesk(lexdesk_bin()),
        ocr: Some(Ocr::detect().expect("tesseract-ocr and poppler-utils are installed by installers/dev/setup.sh")),
    }
}

fn pdfs(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(shared_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    v.sort();
    v
}

fn text(doc: &ExtractedDocument) -> String {
    doc.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n")
}

#[test]
fn every_shared_pdf_is_extracted_and_scans_are_ocrd() {
    let config = config();
    assert_eq!(config.ocr.as_ref().unwrap().languages(), "chi_sim+eng");
    let mut files = pdfs("data/pdfs/court");
    files.extend(pdfs("data/pdfs/generated"));
    assert!(files.len() >= 25, "{files:?}");
    for file in &files {
        let doc = extract(file, &config).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!doc.pages.is_empty(), "{}", file.display());
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let ocr_pages = doc.pages.iter().filter(|p| matches!(p.provenance, Provenance::Ocr { .. })).count();
        // The image-only PDFs named in ../shared/README.md get their text from OCR.
        if ["image-pdf.pdf", "image-pdf-2.pdf", "recap_documents__ca4_17.pdf"].contains(&name.as_str()) {
            assert_eq!(ocr_pages, doc.pages.len(), "{name} is scanned");
            for p in &doc.pages {
                let Provenance::Ocr { confidence } = p.provenance else { unreachable!() };
                assert!(confidence > 60.0, "{name} p{}: confidence {confidence}", p.number);
                assert!(p.text.split_whitespace().count() > 20, "{name} p{}: {:?}", p.number, p.text);
            }
        }
        if name == "recap_documents__ca4_17.pdf" {
            assert!(text(&doc).contains("FOURTH CIRCUIT"), "{}", text(&doc));
        }
        for p in &doc.pages {
            assert!(!p.text.contains('\0') && !p.text.starts_with('\n'), "{name} p{}", p.number);
        }
    }
}

#[test]
fn a_chinese_pdf_with_an_unembedded_cid_font_reads_cleanly() {
    let doc = extract(&shared_dir().join("data/pdfs/generated/zh_contract_law.pdf"), &config()).unwrap();
    assert_eq!(doc.pages.len(), 9);
    let all = text(&doc);
    // pdf-extract cannot decode this CMap; poppler's text layer takes over, not OCR.
    assert!(doc.pages.iter().all(|p| p.extractor == "poppler" && p.error.is_none()), "{:?}", doc.pages[0]);
    assert!(all.contains("第四百六十四条 合同是民事主体之间设立、变更、终止民事法律关系的协议。"), "{all}");
    assert!(all.lines().any(|l| l == "第一章 一般规定"), "headings stay on their own lines");
    // No spaces between Han characters, no line wrapped inside a sentence.
    let label = regex::Regex::new(r"^第[一二三四五六七八九十百千零]+(条|分编|编|章|节) ").unwrap();
    for line in all.lines() {
        let body = label.replace(line, "");
        let chars: Vec<char> = body.chars().collect();
        assert!(!chars.windows(3).any(|w| w[1] == ' ' && is_han(w[0]) && is_han(w[2])), "spaces between Han: {line}");
    }
    assert!(all.contains("没有规定的，可以根据其性质参照适用本编规定。"), "a wrapped line is joined");
}

fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

#[test]
fn broken_files_fail_alone_with_their_own_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let source = shared_dir().join("data/pdfs/court/missouri.pdf");
    let bytes = std::fs::read(&source).unwrap();
    let write = |name: &str, data: &[u8]| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let encrypted = dir.path().join("encrypted.pdf");
    let qpdf =
        Command::new("qpdf").args(["--encrypt", "secret", "owner", "256", "--"]).arg(&source).arg(&encrypted).status();
    assert!(qpdf.unwrap().success(), "qpdf is installed by installers/dev/setup.sh");
    let restricted = dir.path().join("restricted.pdf");
    assert!(
        Command::new("qpdf")
            .args(["--encrypt", "", "owner", "256", "--"])
            .arg(&source)
            .arg(&restricted)
            .status()
            .unwrap()
            .success()
    );

    let config = config();
    let err = |p: &Path| extract(p, &config).unwrap_err();
    assert_eq!(err(&encrypted), ExtractError::Pdf(PdfError::PasswordProtected));
    assert!(matches!(
        err(&write("truncated.pdf", &bytes[..bytes.len() * 4 / 10])),
        ExtractError::Pdf(PdfError::Truncated { .. })
    ));
    assert_eq!(err(&write("empty.pdf", b"")), ExtractError::Empty);
    assert!(
        matches!(err(&write("notes.pdf", b"my notes, not a PDF\n")), ExtractError::Pdf(PdfError::NotAPdf { detected }) if detected.contains("text"))
    );
    assert!(
        matches!(err(&write("photo.pdf", b"\x89PNG\r\n\x1a\n\0\0\0")), ExtractError::Pdf(PdfError::NotAPdf { detected }) if detected.contains("image"))
    );
    assert!(matches!(
        err(&write("damaged.pdf", b"%PDF-1.7\n1 0 obj garbage\n%%EOF\n")),
        ExtractError::Pdf(PdfError::Damaged { .. } | PdfError::NoPages)
    ));

    // A PDF with only an owner password (printing restrictions) opens normally.
    assert!(text(&extract(&restricted, &config).unwrap()).contains("Missouri Court of Appeals"));

    // A worker that dies (an abort, as GGML_ASSERT or a stack overflow end a process; an
    // address-space cap too small to work in) or runs too long fails that file only; the next
    // file extracts normally.
    let aborting = WorkerConfig {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "kill -ABRT $$".into(), "sh".into()],
        ..config.worker.clone()
    };
    let crashed = extract(&source, &ExtractConfig { worker: aborting, ocr: None }).unwrap_err();
    assert!(
        matches!(&crashed, ExtractError::Pdf(PdfError::Crashed { detail }) if detail.contains("signal")),
        "{crashed:?}"
    );
    let starved = ExtractConfig { worker: WorkerConfig { memory_mib: 8, ..config.worker.clone() }, ocr: None };
    let crashed = extract(&source, &starved).unwrap_err();
    assert!(
        matches!(&crashed, ExtractError::Pdf(PdfError::Crashed { detail }) if detail.contains("memory")),
        "{crashed:?}"
    );
    let hurried = ExtractConfig {
        worker: WorkerConfig { timeout: Duration::from_millis(1), ..config.worker.clone() },
        ocr: None,
    };
    assert_eq!(extract(&source, &hurried).unwrap_err(), ExtractError::Pdf(PdfError::Timeout { seconds: 0 }));
    assert_eq!(extract(&source, &config).unwrap().pages.len(), 5);
}

#[test]
fn text_and_markdown_files_are_one_page_of_normalised_text() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("law.txt");
    std::fs::write(
        &md,
        "# 中华人民共和国民法典\n<!-- INFO END -->\n第一条 为了保护民事主体的合法权益，\n调整民事关系。\n",
    )
    .unwrap();
    let doc = extract(&md, &config()).unwrap();
    assert_eq!(doc.format, "markdown", "decided by content");
    assert_eq!(doc.pages[0].text, "# 中华人民共和国民法典\n\n第一条 为了保护民事主体的合法权益，调整民事关系。");
}

#[test]
fn docx_and_html_files_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let docx = dir.path().join("nda.docx");
    let para = |t: &str| docx_rs::Paragraph::new().add_run(docx_rs::Run::new().add_text(t));
    let file = std::fs::File::create(&docx).unwrap();
    docx_rs::Docx::new()
        .add_paragraph(para("2. Obligations"))
        .add_paragraph(para("2.1 The Recipient shall not reverse engineer any prototype."))
        .build()
        .pack(file)
        .unwrap();
    let doc = extract(&docx, &config()).unwrap();
    assert_eq!(doc.format, "docx");
    assert_eq!(doc.pages[0].text, "2. Obligations\n2.1 The Recipient shall not reverse engineer any prototype.");

    // An HTML page saved with a misleading extension is read as HTML.
    let html = dir.path().join("judgment.txt");
    std::fs::write(&html, "<!DOCTYPE html><html><body><p>[1] The appeal is <b>dismissed</b>.</p></body></html>")
        .unwrap();
    let doc = extract(&html, &config()).unwrap();
    assert_eq!((doc.format.as_str(), doc.pages[0].text.as_str()), ("html", "[1] The appeal is dismissed."));
}

#[test]
fn two_column_pages_are_read_column_by_column() {
    let doc = extract(&shared_dir().join("data/pdfs/generated/en_two_column.pdf"), &config()).unwrap();
    let page = &doc.pages[0].text;
    // The left column ends with "agrees as follows:"; the right column starts with clause 1.
    let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s:?} missing from {page}"));
    assert!(at("WHEREAS, the Recipient desires") < at("NOW THEREFORE"));
    assert!(at("NOW THEREFORE") < at("1. Definition of Confidential Information"));
    assert!(at("1. Definition of Confidential Information") < at("For purposes of this Agreement"));
    // No line mixes the two columns.
    assert!(!page.lines().any(|l| l.contains("WHEREAS") && l.contains("Confidential Information\" means")));
}
