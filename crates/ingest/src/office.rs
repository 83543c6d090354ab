//! DOCX and HTML to plain text, with well-kept parsers (`docx-rs`, `html2text`). Both are pure
//! Rust and run in-process; a parser panic on a malformed file is caught and reported.

use docx_rs::{DocumentChild, Table, TableCellContent, TableChild, TableRowChild};

/// Paragraphs of a DOCX body, one per line; table rows as cells joined by ` | `.
///
/// # Errors
/// The bytes are not a readable DOCX (the reason from the parser).
pub fn docx_text(bytes: &[u8]) -> Result<String, String> {
    let docx = std::panic::catch_unwind(|| docx_rs::read_docx(bytes))
        .map_err(|_| "the DOCX parser crashed on this file".to_owned())?
        .map_err(|e| format!("not a readable DOCX: {e}"))?;
    let mut out = String::new();
    for child in &docx.document.children {
        match child {
            DocumentChild::Paragraph(p) => {
                out.push_str(&p.raw_text());
                out.push('\n');
            }
            DocumentChild::Table(t) => table_text(t, &mut out),
            _ => {}
        }
    }
    Ok(out)
}

fn table_text(table: &Table, out: &mut String) {
    for TableChild::TableRow(row) in &table.rows {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|TableRowChild::TableCell(cell)| {
                cell.children
                    .iter()
                    .filter_map(|c| match c {
                        TableCellContent::Paragraph(p) => Some(p.raw_text()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.push_str(&cells.join(" | "));
        out.push('\n');
    }
}

/// Visible text of an HTML page (scripts and styles dropped, links as text only).
///
/// # Errors
/// The renderer fails.
pub fn html_text(bytes: &[u8]) -> Result<String, String> {
    html2text::config::with_decorator(html2text::render::TrivialDecorator::new())
        .string_from_read(bytes, 10_000)
        .map_err(|e| format!("cannot read the HTML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docx_paragraphs_and_tables() {
        let mut buf = std::io::Cursor::new(Vec::new());
        docx_rs::Docx::new()
            .add_paragraph(docx_rs::Paragraph::new().add_run(docx_rs::Run::new().add_text("1. Definitions")))
            .add_paragraph(
                docx_rs::Paragraph::new()
                    .add_run(docx_rs::Run::new().add_text("1.1 \"Confidential Information\" means "))
                    .add_run(docx_rs::Run::new().add_text("any non-public information.")),
            )
            .add_table(docx_rs::Table::new(vec![docx_rs::TableRow::new(vec![
                docx_rs::TableCell::new()
                    .add_paragraph(docx_rs::Paragraph::new().add_run(docx_rs::Run::new().add_text("Party"))),
                docx_rs::TableCell::new()
                    .add_paragraph(docx_rs::Paragraph::new().add_run(docx_rs::Run::new().add_text("甲方"))),
            ])]))
            .build()
            .pack(&mut buf)
            .unwrap();
        let text = docx_text(buf.get_ref()).unwrap();
        assert_eq!(
            text,
            "1. Definitions\n1.1 \"Confidential Information\" means any non-public information.\nParty | 甲方\n"
        );
        assert!(docx_text(b"PK\x03\x04 not really a docx").unwrap_err().contains("DOCX"));
    }

    #[test]
    fn html_without_markup_scripts_or_styles() {
        let html = b"<html><head><style>p{color:red}</style><script>alert(1)</script></head>\
            <body><h1>Article 5</h1><p>The employer shall pay <a href='http://x'>wages</a>.</p></body></html>";
        let text = html_text(html).unwrap();
        assert!(text.contains("Article 5") && text.contains("The employer shall pay wages."), "{text}");
        assert!(!text.contains("alert") && !text.contains("color"), "{text}");
    }
}
