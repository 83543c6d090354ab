//! Gold sets: the questions a firm's answers are scored on, written by a paralegal as JSONL, CSV
//! or XLSX.
//!
//! Columns (JSONL keys): `id`; `question` — or `instruction` plus optional `input`, the
//! fine-tuning format, joined by a blank line —; optional `expected` (a reference answer),
//! `keywords` (with `keyword_rule` `all`, the default, or `any`), `sources` (expected documents,
//! optionally with a page and/or an article or section label), `should_abstain`, `tags`.
//! In CSV and XLSX cells, lists are separated by `;` (or `；`, or new lines) and a source is
//! `file | p. 3 | 第五十七条` (parts after the file name in any order); in JSONL they may also be
//! arrays, and a source an object `{"doc", "page", "label"}`. Every problem is reported with its
//! row (the line of a JSONL file, the spreadsheet row of CSV and XLSX, the header being row 1)
//! and column; a set with any problem is refused whole.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::EvalError;

/// How an item's keywords decide whether the answer passes.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeywordRule {
    /// Every keyword must appear.
    #[default]
    All,
    /// One keyword is enough.
    Any,
}

/// A document an answer is expected to cite.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedSource {
    /// File name (or a path suffix: `社会法/民法典.md`).
    pub doc: String,
    /// The page the passage is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// An article or section label: `第五十七条`, `Article 5`, `Section 2.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl fmt::Display for ExpectedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.doc)?;
        if let Some(p) = self.page {
            write!(f, " | p. {p}")?;
        }
        if let Some(l) = &self.label {
            write!(f, " | {l}")?;
        }
        Ok(())
    }
}

/// One question of a gold set.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldItem {
    /// Unique within the set.
    pub id: String,
    /// The question as asked (`instruction` and `input` joined by a blank line).
    pub question: String,
    /// A reference answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// Words or phrases the answer should contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Whether all keywords or any one must appear.
    #[serde(default)]
    pub keyword_rule: KeywordRule,
    /// Documents (pages, articles) a correct answer cites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ExpectedSource>,
    /// The documents cannot answer it: abstaining is the right result.
    #[serde(default)]
    pub should_abstain: bool,
    /// Free labels for breakdowns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A validated gold set.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldSet {
    /// The set's name (its file name without extension).
    pub name: String,
    /// The items in file order.
    pub items: Vec<GoldItem>,
}

impl GoldSet {
    /// SHA-256 of the set's canonical JSONL form: a run records it, and a comparison or a resumed
    /// run refuses a set that has changed since.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.to_jsonl().as_bytes());
        format!("{:x}", h.finalize())
    }

    /// The set as JSONL (one item per line, the canonical form sets are stored in).
    #[must_use]
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            out.push_str(&serde_json::to_string(item).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Item tags with their counts.
    #[must_use]
    pub fn tag_counts(&self) -> BTreeMap<String, usize> {
        let mut tags = BTreeMap::new();
        for t in self.items.iter().flat_map(|i| &i.tags) {
            *tags.entry(t.clone()).or_insert(0) += 1;
        }
        tags
    }
}

/// The columns a set is written with (CSV and XLSX).
const WRITTEN: [&str; 8] =
    ["id", "question", "expected", "keywords", "keyword_rule", "sources", "should_abstain", "tags"];

fn written_row(item: &GoldItem) -> [String; 8] {
    [
        item.id.clone(),
        item.question.clone(),
        item.expected.clone().unwrap_or_default(),
        item.keywords.join("; "),
        if item.keywords.is_empty() { String::new() } else { format!("{:?}", item.keyword_rule).to_lowercase() },
        item.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        if item.should_abstain { "true".into() } else { String::new() },
        item.tags.join("; "),
    ]
}

/// A set in a file format that [`parse`] reads back to the same set.
///
/// # Errors
/// [`EvalError::Export`] when the writer fails.
pub fn write_set(set: &GoldSet, format: GoldFormat) -> Result<Vec<u8>, EvalError> {
    let fail = |format: &'static str, e: &dyn fmt::Display| EvalError::Export { format, message: e.to_string() };
    match format {
        GoldFormat::Jsonl => Ok(set.to_jsonl().into_bytes()),
        GoldFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(WRITTEN).map_err(|e| fail("csv", &e))?;
            for item in &set.items {
                w.write_record(written_row(item)).map_err(|e| fail("csv", &e))?;
            }
            w.into_inner().map_err(|e| fail("csv", &e))
        }
        GoldFormat::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, h) in WRITTEN.iter().enumerate() {
                sheet.write_string_with_format(0, c as u16, *h, &bold).map_err(|e| fail("xlsx", &e))?;
            }
            for (r, item) in set.items.iter().enumerate() {
                for (c, v) in written_row(item).iter().enumerate() {
                    sheet
                        .write_string(u32::try_from(r + 1).unwrap_or(u32::MAX), c as u16, v)
                        .map_err(|e| fail("xlsx", &e))?;
                }
            }
            book.save_to_buffer().map_err(|e| fail("xlsx", &e))
        }
    }
}

/// A problem in a gold set file.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The line (JSONL) or spreadsheet row (CSV, XLSX; the header is row 1); 0 for the file.
    pub row: usize,
    /// The column, when one is at fault.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.column, self.row) {
            (Some(c), 0) => write!(f, "column {c}: {}", self.message),
            (Some(c), r) => write!(f, "row {r}, column {c}: {}", self.message),
            (None, 0) => f.write_str(&self.message),
            (None, r) => write!(f, "row {r}: {}", self.message),
        }
    }
}

/// A gold set file's format.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GoldFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated, with a header row.
    Csv,
    /// An Excel workbook: the first worksheet, with a header row.
    Xlsx,
}

impl GoldFormat {
    /// The format a file name's extension names.
    #[must_use]
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }
}

/// The columns a gold set may have.
pub const COLUMNS: [&str; 10] = [
    "id",
    "question",
    "instruction",
    "input",
    "expected",
    "keywords",
    "keyword_rule",
    "sources",
    "should_abstain",
    "tags",
];

/// Read and validate a gold set file; its name is the file name without extension.
///
/// # Errors
/// Unreadable file, unknown extension, or a set with problems (every one of them).
pub fn read_set(path: &Path) -> Result<GoldSet, EvalError> {
    let format =
        GoldFormat::of(path).ok_or_else(|| EvalError::UnsupportedFormat { path: path.display().to_string() })?;
    let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("set").to_owned();
    parse(&bytes, format, &name)
}

/// Parse and validate a gold set from bytes.
///
/// # Errors
/// [`EvalError::InvalidSet`] with every problem found, row and column named.
pub fn parse(bytes: &[u8], format: GoldFormat, name: &str) -> Result<GoldSet, EvalError> {
    let rows = match format {
        GoldFormat::Jsonl => jsonl_rows(bytes),
        GoldFormat::Csv => csv_rows(bytes),
        GoldFormat::Xlsx => xlsx_rows(bytes),
    };
    let (rows, mut problems) = match rows {
        Ok(read) => read,
        Err(p) => return Err(invalid(name, p)),
    };
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let before = problems.len();
        let item = item_of(&row, &mut problems);
        if problems.len() > before {
            continue;
        }
        if let Some(first) = seen.get(&item.id) {
            problems.push(Problem {
                row: row.number,
                column: Some("id".into()),
                message: format!("the id {:?} is also on row {first}; ids must be unique", item.id),
            });
            continue;
        }
        seen.insert(item.id.clone(), row.number);
        items.push(item);
    }
    if items.is_empty() && problems.is_empty() {
        problems.push(Problem { row: 0, column: None, message: "the set has no items".into() });
    }
    problems.sort_by_key(|p| p.row);
    if problems.is_empty() { Ok(GoldSet { name: name.to_owned(), items }) } else { Err(invalid(name, problems)) }
}

/// Rows read, and the problems found reading them (the rows around a bad one are still checked,
/// so that one pass names every problem); `Err` when the file itself is unreadable.
type ReadRows = Result<(Vec<Row>, Vec<Problem>), Vec<Problem>>;

fn invalid(name: &str, problems: Vec<Problem>) -> EvalError {
    EvalError::InvalidSet { set: name.to_owned(), problems }
}

/// A cell's value before typing.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    List(Vec<Cell>),
    Bool(bool),
    Number(f64),
    Object(serde_json::Map<String, serde_json::Value>),
}

impl Cell {
    fn of_json(v: serde_json::Value) -> Option<Self> {
        Some(match v {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => Self::Bool(b),
            serde_json::Value::Number(n) => Self::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Self::Text(s),
            serde_json::Value::Array(a) => Self::List(a.into_iter().filter_map(Self::of_json).collect()),
            serde_json::Value::Object(o) => Self::Object(o),
        })
    }

    fn is_blank(&self) -> bool {
        match self {
            Self::Text(s) => s.trim().is_empty(),
            Self::List(l) => l.iter().all(Self::is_blank),
            _ => false,
        }
    }
}

struct Row {
    number: usize,
    cells: BTreeMap<String, Cell>,
    /// The columns were checked on the header row (CSV, XLSX).
    header_checked: bool,
}

fn jsonl_rows(bytes: &[u8]) -> ReadRows {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| vec![Problem { row: 0, column: None, message: format!("the file is not UTF-8 text ({e})") }])?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(o)) => {
                let mut cells = BTreeMap::new();
                for (k, v) in o {
                    if let Some(c) = Cell::of_json(v) {
                        cells.insert(k, c);
                    }
                }
                rows.push(Row { number, cells, header_checked: false });
            }
            Ok(_) => {
                problems.push(Problem { row: number, column: None, message: "a line must be a JSON object".into() })
            }
            Err(e) => problems.push(Problem { row: number, column: None, message: format!("not valid JSON: {e}") }),
        }
    }
    Ok((rows, problems))
}

fn header_problems(header: &[String]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for h in header {
        if h.is_empty() {
            continue;
        }
        if seen.contains(h) {
            problems.push(Problem { row: 1, column: Some(h.clone()), message: "the column appears twice".into() });
        }
        if let Some(message) = unknown_column(h) {
            problems.push(Problem { row: 1, column: Some(h.clone()), message });
        }
        seen.push(h.clone());
    }
    problems
}

/// Why a column name is not one of [`COLUMNS`] (columns starting with `_` and `notes` are the
/// author's own and ignored).
fn unknown_column(column: &str) -> Option<String> {
    if COLUMNS.contains(&column) || column.starts_with('_') || column == "notes" {
        return None;
    }
    let hint =
        COLUMNS.iter().find(|c| strsim_close(c, column)).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
    Some(format!("unknown column{hint}; the columns are {}", COLUMNS.join(", ")))
}

fn normalise_header(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_lowercase().replace([' ', '-'], "_")
}

fn csv_rows(bytes: &[u8]) -> ReadRows {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(normalise_header).collect(),
        Err(e) => return Err(vec![Problem { row: 1, column: None, message: format!("unreadable header: {e}") }]),
    };
    let mut problems = header_problems(&header);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i + 2;
        match record {
            Ok(r) => {
                let mut cells = BTreeMap::new();
                for (j, value) in r.iter().enumerate() {
                    place(&header, j, Cell::Text(value.to_owned()), number, &mut cells, &mut problems);
                }
                push_row(&mut rows, number, cells);
            }
            Err(e) => problems.push(Problem { row: number, column: None, message: format!("unreadable row: {e}") }),
        }
    }
    Ok((rows, problems))
}

fn xlsx_rows(bytes: &[u8]) -> ReadRows {
    use calamine::{Data, Reader, Xlsx};
    let file = |message: String| vec![Problem { row: 0, column: None, message }];
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|e| file(format!("not a readable XLSX workbook: {e}")))?;
    let first = book.sheet_names().first().cloned().ok_or_else(|| file("the workbook has no worksheet".into()))?;
    let range =
        book.worksheet_range(&first).map_err(|e| file(format!("the worksheet {first:?} is unreadable: {e}")))?;
    let (start_row, _) = range.start().unwrap_or((0, 0));
    let mut lines = range.rows();
    let header: Vec<String> = match lines.next() {
        Some(h) => h.iter().map(|c| normalise_header(&c.to_string())).collect(),
        None => return Err(file(format!("the worksheet {first:?} is empty"))),
    };
    let mut problems = header_problems(&header);
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let number = start_row as usize + i + 2;
        let mut cells = BTreeMap::new();
        for (j, value) in line.iter().enumerate() {
            let cell = match value {
                Data::Empty => continue,
                Data::String(s) => Cell::Text(s.clone()),
                Data::Bool(b) => Cell::Bool(*b),
                Data::Int(n) => Cell::Number(*n as f64),
                Data::Float(f) => Cell::Number(*f),
                Data::Error(e) => {
                    problems.push(Problem {
                        row: number,
                        column: header.get(j).cloned(),
                        message: format!("the cell holds a spreadsheet error ({e})"),
                    });
                    continue;
                }
                other => Cell::Text(other.to_string()),
            };
            place(&header, j, cell, number, &mut cells, &mut problems);
        }
        push_row(&mut rows, number, cells);
    }
    Ok((rows, problems))
}

/// Put a spreadsheet cell under its column's header; a value in a column without one is a
/// problem (an empty one is not).
fn place(
    header: &[String],
    j: usize,
    cell: Cell,
    row: usize,
    cells: &mut BTreeMap<String, Cell>,
    problems: &mut Vec<Problem>,
) {
    match header.get(j) {
        Some(h) if !h.is_empty() => {
            cells.insert(h.clone(), cell);
        }
        _ if cell.is_blank() => {}
        _ => problems.push(Problem {
            row,
            column: Some(format!("#{}", j + 1)),
            message: "a value in a column without a header".into(),
        }),
    }
}

/// Keep a spreadsheet row unless every cell is blank (rows left empty between items).
fn push_row(rows: &mut Vec<Row>, number: usize, cells: BTreeMap<String, Cell>) {
    if !cells.values().all(Cell::is_blank) {
        rows.push(Row { number, cells, header_checked: true });
    }
}

/// Splits a list cell: `;`, `；` or new lines.
fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', '\n']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

struct Typer<'a> {
    row: &'a Row,
    problems: &'a mut Vec<Problem>,
}

impl Typer<'_> {
    fn problem(&mut self, column: &str, message: impl Into<String>) {
        self.problems.push(Problem { row: self.row.number, column: Some(column.into()), message: message.into() });
    }

    fn text(&mut self, column: &str) -> Option<String> {
        match self.row.cells.get(column)? {
            Cell::Text(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{n:.0}")),
            Cell::Number(n) => Some(n.to_string()),
            _ => {
                self.problem(column, "expected text");
                None
            }
        }
    }

    fn list(&mut self, column: &str) -> Vec<String> {
        match self.row.cells.get(column) {
            None => Vec::new(),
            Some(Cell::Text(s)) => split_list(s),
            Some(Cell::List(items)) => {
                let mut out = Vec::new();
                for c in items {
                    match c {
                        Cell::Text(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
                        Cell::Text(_) => {}
                        Cell::Number(n) => out.push(n.to_string()),
                        _ => {
                            self.problem(column, "expected a list of texts");
                            return Vec::new();
                        }
                    }
                }
                out
            }
            Some(Cell::Number(n)) => vec![n.to_string()],
            Some(_) => {
                self.problem(column, "expected a list (texts separated by `;`)");
                Vec::new()
            }
        }
    }

    fn flag(&mut self, column: &str) -> bool {
        match self.row.cells.get(column) {
            None => false,
            Some(Cell::Bool(b)) => *b,
            Some(Cell::Number(n)) if *n == 0.0 || *n == 1.0 => *n == 1.0,
            Some(Cell::Text(s)) => match s.trim().to_lowercase().as_str() {
                "" | "false" | "no" | "n" | "0" | "否" | "不" => false,
                "true" | "yes" | "y" | "1" | "是" => true,
                other => {
                    self.problem(column, format!("expected true or false, not {other:?}"));
                    false
                }
            },
            Some(_) => {
                self.problem(column, "expected true or false");
                false
            }
        }
    }

    fn sources(&mut self) -> Vec<ExpectedSource> {
        let column = "sources";
        let cells: Vec<Cell> = match self.row.cells.get(column) {
            None => return Vec::new(),
            Some(Cell::Text(s)) => split_list(s).into_iter().map(Cell::Text).collect(),
            Some(Cell::List(l)) => l.clone(),
            Some(Cell::Object(o)) => vec![Cell::Object(o.clone())],
            Some(_) => {
                self.problem(column, "expected sources as `file | p. 3 | label` separated by `;`");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for cell in cells {
            match cell {
                Cell::Text(s) => match parse_source(&s) {
                    Ok(src) => out.push(src),
                    Err(m) => self.problem(column, m),
                },
                Cell::Object(o) => match source_of_object(&o) {
                    Ok(src) => out.push(src),
                    Err(m) => self.problem(column, m),
                },
                _ => self.problem(column, "a source is a text or an object {doc, page, label}"),
            }
        }
        out
    }
}

/// A page part of a source: `p. 3`, `p3`, `page 3`, `pp. 3`, `第3页`.
fn page_part(part: &str) -> Option<Result<u32, String>> {
    let lower = part.trim().to_lowercase();
    let digits = if let Some(rest) = lower.strip_prefix("第").and_then(|r| r.strip_suffix('页')) {
        rest.trim().to_owned()
    } else if let Some(rest) = ["page", "pp.", "pp", "p.", "p"].iter().find_map(|p| lower.strip_prefix(p)) {
        let rest = rest.trim();
        if rest.is_empty() || !rest.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        rest.to_owned()
    } else {
        return None;
    };
    Some(match digits.parse::<u32>() {
        Ok(0) => Err("pages are numbered from 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{part:?} is not a page number")),
    })
}

fn parse_source(s: &str) -> Result<ExpectedSource, String> {
    let mut parts = s.split('|').map(str::trim);
    let doc = parts.next().unwrap_or_default().to_owned();
    if doc.is_empty() {
        return Err(format!("the source {s:?} names no document (the file name comes first)"));
    }
    let mut src = ExpectedSource { doc, page: None, label: None };
    for part in parts.filter(|p| !p.is_empty()) {
        match page_part(part) {
            Some(Ok(p)) if src.page.is_none() => src.page = Some(p),
            Some(Ok(_)) => return Err(format!("the source {s:?} has two pages")),
            Some(Err(m)) => return Err(m),
            None if src.label.is_none() => src.label = Some(part.to_owned()),
            None => return Err(format!("the source {s:?} has two labels")),
        }
    }
    Ok(src)
}

fn source_of_object(o: &serde_json::Map<String, serde_json::Value>) -> Result<ExpectedSource, String> {
    for k in o.keys() {
        if !["doc", "page", "label"].contains(&k.as_str()) {
            return Err(format!("a source object has `doc`, `page` and `label`, not {k:?}"));
        }
    }
    let doc = o.get("doc").and_then(|d| d.as_str()).map(str::trim).filter(|d| !d.is_empty());
    let Some(doc) = doc else { return Err("a source object needs a `doc` (file name)".into()) };
    let page = match o.get("page") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(0) | None => return Err(format!("`page` must be a page number from 1, not {v}")),
            Some(n) => Some(n),
        },
    };
    let label = o.get("label").and_then(|l| l.as_str()).map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned);
    Ok(ExpectedSource { doc: doc.to_owned(), page, label })
}

fn item_of(row: &Row, problems: &mut Vec<Problem>) -> GoldItem {
    let mut t = Typer { row, problems };
    for column in row.cells.keys() {
        // Spreadsheet headers were checked once, on row 1.
        if !row.header_checked
            && let Some(message) = unknown_column(column)
        {
            t.problem(column, message);
        }
    }
    let id = t.text("id");
    if id.is_none() {
        t.problem("id", "every item needs an id");
    }
    let question = t.text("question");
    let instruction = t.text("instruction");
    let input = t.text("input");
    let question = match (question, instruction) {
        (Some(_), Some(_)) => {
            t.problem("instruction", "give either `question` or `instruction` (+ `input`), not both");
            String::new()
        }
        (Some(q), None) => {
            if input.is_some() {
                t.problem("input", "`input` goes with `instruction`, not with `question`");
            }
            q
        }
        (None, Some(i)) => match input {
            Some(inp) => format!("{i}\n\n{inp}"),
            None => i,
        },
        (None, None) => {
            t.problem("question", "every item needs a question (or an instruction)");
            String::new()
        }
    };
    let expected = t.text("expected");
    let keywords = t.list("keywords");
    let keyword_rule = match t.text("keyword_rule").map(|r| r.to_lowercase()) {
        None => KeywordRule::All,
        Some(r) if r == "all" || r == "全部" => KeywordRule::All,
        Some(r) if r == "any" || r == "任一" => KeywordRule::Any,
        Some(r) => {
            t.problem("keyword_rule", format!("expected `all` or `any`, not {r:?}"));
            KeywordRule::All
        }
    };
    let sources = t.sources();
    let should_abstain = t.flag("should_abstain");
    let tags = t.list("tags");
    if should_abstain && (!sources.is_empty() || expected.is_some() || !keywords.is_empty()) {
        t.problem(
            "should_abstain",
            "an item that should be abstained on cannot also expect an answer, keywords or sources",
        );
    }
    if !should_abstain && expected.is_none() && keywords.is_empty() && sources.is_empty() {
        t.problem("expected", "nothing to score: give `expected`, `keywords`, `sources` or `should_abstain`");
    }
    GoldItem { id: id.unwrap_or_default(), question, expected, keywords, keyword_rule, sources, should_abstain, tags }
}

/// Whether two column names are at most two edits apart (a neighbour swap is one): a typo's hint.
fn strsim_close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut prev2 = prev.clone();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()] <= 2 && a != b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(bytes: &[u8], format: GoldFormat) -> Vec<String> {
        match parse(bytes, format, "t") {
            Err(EvalError::InvalidSet { problems, .. }) => problems.iter().map(ToString::to_string).collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn jsonl_items_take_every_column_form() {
        let text = r#"{"id": 1, "question": "试用期多长？", "keywords": ["三个月"], "sources": ["劳动合同示例.md | 第一条"], "tags": "zh; contract"}
{"id": "b", "instruction": "Summarise clause 3.", "input": "3.1 The Receiving Party shall keep...", "expected": "Keep it secret.", "keywords": "secret; Purpose", "keyword_rule": "any", "sources": [{"doc": "nda.pdf", "page": 2, "label": "Section 3.1"}]}

{"id": "c", "question": "What is the capital of Mars?", "should_abstain": true}
"#;
        let set = parse(text.as_bytes(), GoldFormat::Jsonl, "demo").unwrap();
        assert_eq!(set.items.len(), 3);
        let a = &set.items[0];
        assert_eq!(a.id, "1");
        assert_eq!(
            a.sources,
            vec![ExpectedSource { doc: "劳动合同示例.md".into(), page: None, label: Some("第一条".into()) }]
        );
        assert_eq!(a.tags, vec!["zh", "contract"]);
        assert_eq!(a.keyword_rule, KeywordRule::All);
        let b = &set.items[1];
        assert_eq!(b.question, "Summarise clause 3.\n\n3.1 The Receiving Party shall keep...");
        assert_eq!(b.keywords, vec!["secret", "Purpose"]);
        assert_eq!(b.keyword_rule, KeywordRule::Any);
        assert_eq!(b.sources[0].page, Some(2));
        assert!(set.items[2].should_abstain);
        // The canonical form reads back to the same set.
        let again = parse(set.to_jsonl().as_bytes(), GoldFormat::Jsonl, "demo").unwrap();
        assert_eq!(again, set);
        assert_eq!(again.fingerprint(), set.fingerprint());
    }

    #[test]
    fn every_problem_is_named_by_row_and_column() {
        let text = "{\"id\": \"a\", \"question\": \"q\", \"keywords\": \"x\"}\n\
                    {\"id\": \"a\", \"question\": \"q2\", \"keywords\": \"y\"}\n\
                    {\"question\": \"no id\", \"keywords\": \"k\"}\n\
                    not json\n\
                    {\"id\": \"d\", \"question\": \"q\", \"keywrods\": \"k\"}\n\
                    {\"id\": \"e\", \"question\": \"q\", \"keywords\": \"k\", \"should_abstain\": \"maybe\"}\n\
                    {\"id\": \"f\", \"question\": \"q\", \"sources\": \"x.pdf | p. 0\"}\n\
                    {\"id\": \"g\", \"question\": \"q\"}\n";
        let p = problems(text.as_bytes(), GoldFormat::Jsonl);
        assert!(p.contains(&"row 4: not valid JSON: expected ident at line 1 column 2".to_owned()), "{p:?}");
        let text = text.replace("not json\n", "");
        let p = problems(text.as_bytes(), GoldFormat::Jsonl);
        assert!(p.contains(&"row 2, column id: the id \"a\" is also on row 1; ids must be unique".to_owned()), "{p:?}");
        assert!(p.contains(&"row 3, column id: every item needs an id".to_owned()), "{p:?}");
        assert!(
            p.iter().any(|m| m.starts_with("row 4, column keywrods: unknown column (did you mean `keywords`?)")),
            "{p:?}"
        );
        assert!(p.contains(&"row 5, column should_abstain: expected true or false, not \"maybe\"".to_owned()), "{p:?}");
        assert!(p.contains(&"row 6, column sources: pages are numbered from 1".to_owned()), "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("row 7, column expected: nothing to score")), "{p:?}");
    }

    #[test]
    fn csv_rows_are_numbered_as_the_spreadsheet_shows_them() {
        let csv = "ID,Question,Keywords,Sources,Should abstain,Tags\n\
                   q1,乙方的试用期是多长时间？,三个月,劳动合同示例.md | p. 1 | 第1条,,zh\n\
                   ,,,,,\n\
                   q2,火星的首都是哪里？,,,是,off-corpus\n\
                   q3,Who signs?,Harbour;Qinghe,mutual-nda-sample.md,yes,en\n";
        let p = problems(csv.as_bytes(), GoldFormat::Csv);
        assert_eq!(
            p,
            vec![
                "row 5, column should_abstain: an item that should be abstained on cannot also expect an answer, keywords or sources"
            ]
        );
        let csv = csv.replace(",yes,en", ",no,en");
        let set = parse(csv.as_bytes(), GoldFormat::Csv, "t").unwrap();
        assert_eq!(set.items.len(), 3);
        assert_eq!(
            set.items[0].sources[0],
            ExpectedSource { doc: "劳动合同示例.md".into(), page: Some(1), label: Some("第1条".into()) }
        );
        assert!(set.items[1].should_abstain);
        assert_eq!(set.items[2].keywords, vec!["Harbour", "Qinghe"]);
    }

    #[test]
    fn xlsx_sets_are_read_from_the_first_worksheet() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["id", "question", "keywords", "should_abstain", "tags"].iter().enumerate() {
            sheet.write_string(0, u16::try_from(c).unwrap(), *h).unwrap();
        }
        sheet.write_number(1, 0, 7).unwrap();
        sheet.write_string(1, 1, "试用期月工资是多少？").unwrap();
        sheet.write_string(1, 2, "一万六千元").unwrap();
        sheet.write_string(2, 0, "x").unwrap();
        sheet.write_string(2, 1, "谁是火星总统？").unwrap();
        sheet.write_boolean(2, 3, true).unwrap();
        sheet.write_string(3, 0, "y").unwrap();
        sheet.write_string(3, 1, "bad").unwrap();
        sheet.write_number(3, 3, 3).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let p = problems(&bytes, GoldFormat::Xlsx);
        assert_eq!(
            p,
            vec![
                "row 4, column should_abstain: expected true or false",
                "row 4, column expected: nothing to score: give `expected`, `keywords`, `sources` or `should_abstain`"
            ]
        );
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "id").unwrap();
        sheet.write_string(0, 1, "question").unwrap();
        sheet.write_string(0, 2, "should_abstain").unwrap();
        sheet.write_number(1, 0, 7).unwrap();
        sheet.write_string(1, 1, "谁是火星总统？").unwrap();
        sheet.write_boolean(1, 2, true).unwrap();
        let set = parse(&book.save_to_buffer().unwrap(), GoldFormat::Xlsx, "t").unwrap();
        assert_eq!(set.items[0].id, "7");
        assert!(set.items[0].should_abstain);
        assert!(matches!(
            parse(b"PK\x03\x04 not really", GoldFormat::Xlsx, "t"),
            Err(EvalError::InvalidSet { problems, .. }) if problems[0].message.starts_with("not a readable XLSX")
        ));
    }

    #[test]
    fn a_set_written_in_any_format_reads_back_the_same() {
        let text = r#"{"id":"1","question":"试用期多长？","expected":"三个月","keywords":["三个月","试用期"],"keyword_rule":"any","sources":["劳动合同示例.md | p. 1 | 第一条"],"tags":["zh","contract"]}
{"id":"2","question":"Who is the Receiving Party?","sources":[{"doc":"nda.pdf"}]}
{"id":"3","question":"火星的首都？","should_abstain":true}
"#;
        let set = parse(text.as_bytes(), GoldFormat::Jsonl, "s").unwrap();
        for format in [GoldFormat::Jsonl, GoldFormat::Csv, GoldFormat::Xlsx] {
            let bytes = write_set(&set, format).unwrap();
            assert_eq!(parse(&bytes, format, "s").unwrap(), set, "{format:?}");
        }
    }

    #[test]
    fn an_empty_set_is_refused() {
        assert_eq!(problems(b"\n\n", GoldFormat::Jsonl), vec!["the set has no items"]);
        assert_eq!(problems(b"id,question\n", GoldFormat::Csv), vec!["the set has no items"]);
    }
}
