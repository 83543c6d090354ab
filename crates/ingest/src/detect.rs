//! What a file is, decided by its content (the extension only breaks ties between text formats).

use std::io::Read;
use std::path::Path;

/// Kinds of input LexDesk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `%PDF-` within the first KiB.
    Pdf,
    /// A zip container (DOCX and other Office files).
    Zip,
    /// HTML.
    Html,
    /// UTF-8 text with a Markdown extension or `#` headings.
    Markdown,
    /// Other UTF-8 text.
    Text,
    /// Anything else (images, binaries, other encodings).
    Unknown,
}

/// Detect the kind of `path` from its first KiB.
///
/// # Errors
/// The file cannot be read.
pub fn detect(path: &Path) -> std::io::Result<FileKind> {
    let mut head = Vec::with_capacity(1024);
    std::fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    Ok(kind_of(&head, &ext))
}

fn kind_of(head: &[u8], ext: &str) -> FileKind {
    if head.windows(5).any(|w| w == b"%PDF-") {
        return FileKind::Pdf;
    }
    if head.starts_with(b"PK\x03\x04") {
        return FileKind::Zip;
    }
    // A multi-byte character may be cut at the 1 KiB boundary: allow an incomplete tail.
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return FileKind::Unknown,
    };
    if text.contains('\0') {
        return FileKind::Unknown;
    }
    let lower = text.trim_start_matches('\u{FEFF}').trim_start().to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || ext == "html" || ext == "htm" {
        FileKind::Html
    } else if matches!(ext, "md" | "markdown") || text.lines().any(|l| l.starts_with("# ")) {
        FileKind::Markdown
    } else {
        FileKind::Text
    }
}

/// A short description of what a byte prefix looks like, for error messages.
#[must_use]
pub fn describe(head: &[u8]) -> &'static str {
    match kind_of(head, "") {
        FileKind::Pdf => "a PDF",
        FileKind::Zip => "a zip container (a .docx or other Office file?)",
        FileKind::Html => "an HTML page (a failed download?)",
        FileKind::Markdown | FileKind::Text => "a text file",
        FileKind::Unknown if head.starts_with(b"\x89PNG") || head.starts_with(b"\xFF\xD8\xFF") => "an image",
        FileKind::Unknown => "an unknown binary format",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_content_not_extension() {
        assert_eq!(kind_of(b"%PDF-1.7\n...", "txt"), FileKind::Pdf);
        assert_eq!(kind_of(b"PK\x03\x04...", "pdf"), FileKind::Zip);
        assert_eq!(kind_of(b"<!DOCTYPE html><html>", "pdf"), FileKind::Html);
        assert_eq!(kind_of("# 中华人民共和国民法典\n".as_bytes(), "txt"), FileKind::Markdown);
        assert_eq!(kind_of("合同是民事主体之间的协议。".as_bytes(), ""), FileKind::Text);
        assert_eq!(kind_of(b"\x89PNG\r\n\x1a\n\0\0", "pdf"), FileKind::Unknown);
        assert_eq!(describe(b"\x89PNG\r\n\x1a\n\0\0"), "an image");
        // A character cut at the 1 KiB boundary is still text.
        let cut = &"法".as_bytes()[..2];
        assert_eq!(kind_of(&[b"abc".as_slice(), cut].concat(), ""), FileKind::Text);
    }
}
