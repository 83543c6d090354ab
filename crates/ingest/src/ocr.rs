//! OCR for pages without a text layer: poppler's `pdftoppm` renders the page, Tesseract reads
//! it (Chinese simplified and English when both language packs are installed), and the page
//! keeps the mean word confidence.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Where a page's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum Provenance {
    /// The PDF's text layer (or a text format).
    TextLayer,
    /// Optical character recognition.
    Ocr {
        /// Tesseract's mean word confidence, 0–100.
        confidence: f32,
    },
}

/// OCR could not run or read the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OCR failed: {0}")]
pub struct OcrError(pub String);

/// The OCR tools and languages available on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ocr {
    languages: String,
}

impl Ocr {
    /// Find `pdftoppm` and `tesseract`; `None` when either is missing.
    #[must_use]
    pub fn detect() -> Option<Self> {
        Command::new("pdftoppm").arg("-v").output().ok()?;
        let out = Command::new("tesseract").arg("--list-langs").output().ok()?;
        let listed = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        let have = |l: &str| listed.lines().any(|x| x.trim() == l);
        let languages = match (have("chi_sim"), have("eng")) {
            (true, true) => "chi_sim+eng",
            (true, false) => "chi_sim",
            _ => "eng",
        };
        Some(Self { languages: languages.to_owned() })
    }

    /// The Tesseract languages in use (`chi_sim+eng` with both packs).
    #[must_use]
    pub fn languages(&self) -> &str {
        &self.languages
    }

    /// Render page `number` of `pdf` at 300 dpi and read it. Returns the text and the mean
    /// confidence.
    ///
    /// # Errors
    /// The tools fail or produce nothing.
    pub fn page(&self, pdf: &Path, number: u32) -> Result<(String, f32), OcrError> {
        let dir = tempfile::tempdir().map_err(|e| OcrError(e.to_string()))?;
        let prefix = dir.path().join("page");
        let n = number.to_string();
        let status = Command::new("pdftoppm")
            .args(["-f", &n, "-l", &n, "-r", "300", "-gray", "-png", "-singlefile"])
            .arg(pdf)
            .arg(&prefix)
            .output()
            .map_err(|e| OcrError(format!("pdftoppm: {e}")))?;
        let image = prefix.with_extension("png");
        if !status.status.success() || !image.is_file() {
            return Err(OcrError(format!(
                "pdftoppm could not render page {number}: {}",
                String::from_utf8_lossy(&status.stderr).trim()
            )));
        }
        let out = Command::new("tesseract")
            .arg(&image)
            .arg("stdout")
            .args(["-l", &self.languages, "--psm", "3", "tsv"])
            .env("OMP_THREAD_LIMIT", "1")
            .output()
            .map_err(|e| OcrError(format!("tesseract: {e}")))?;
        if !out.status.success() {
            return Err(OcrError(format!("tesseract: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(parse_tsv(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// Tesseract TSV → text (a line per OCR line, a blank line between paragraphs) and the mean
/// confidence of the words.
fn parse_tsv(tsv: &str) -> (String, f32) {
    let mut text = String::new();
    let mut last: Option<(u32, u32, u32)> = None;
    let (mut sum, mut words) = (0.0f32, 0u32);
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue; // only word rows
        }
        let word = cols[11].trim();
        let conf: f32 = cols[10].parse().unwrap_or(-1.0);
        if word.is_empty() || conf < 0.0 {
            continue;
        }
        let key = (cols[2].parse().unwrap_or(0), cols[3].parse().unwrap_or(0), cols[4].parse().unwrap_or(0));
        match last {
            Some(prev) if prev == key => text.push(' '),
            Some(prev) if (prev.0, prev.1) == (key.0, key.1) => text.push('\n'),
            Some(_) => text.push_str("\n\n"),
            None => {}
        }
        text.push_str(word);
        last = Some(key);
        sum += conf;
        words += 1;
    }
    let confidence = if words == 0 { 0.0 } else { sum / words as f32 };
    (text, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_to_lines_and_paragraphs_with_mean_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tUNITED\n\
                   5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tSTATES\n\
                   5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tv.\n\
                   4\t1\t1\t2\t1\t0\t0\t0\t1\t1\t-1\t\n\
                   5\t1\t1\t2\t1\t1\t0\t0\t1\t1\t60\tSmith\n";
        let (text, conf) = parse_tsv(tsv);
        assert_eq!(text, "UNITED STATES\nv.\n\nSmith");
        assert!((conf - 75.0).abs() < 1e-3);
    }
}
