//! Arrow schemas of the three tables and conversion between record batches and core records.

use std::sync::Arc;

use lancedb::arrow::arrow_array::builder::{ListBuilder, StringBuilder};
use lancedb::arrow::arrow_array::cast::AsArray;
use lancedb::arrow::arrow_array::types::{Float32Type, Int64Type, UInt32Type, UInt64Type};
use lancedb::arrow::arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use lancedb::arrow::arrow_schema::{DataType, Field, Schema, SchemaRef};
use lexdesk_core::store::{ChunkRecord, DocumentRecord, DocumentStatus, PageProvenance, PageRecord, StoreError};

use lexdesk_text::analyze::search_text;

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn u32f(name: &str) -> Field {
    Field::new(name, DataType::UInt32, false)
}

pub(crate) fn documents_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("file_name", false),
        utf8("source_path", false),
        utf8("title", false),
        utf8("format", false),
        Field::new("size_bytes", DataType::UInt64, false),
        u32f("page_count"),
        u32f("chunk_count"),
        u32f("ocr_pages"),
        utf8("status", false),
        utf8("error_code", true),
        utf8("error_message", true),
        utf8("extractor", false),
        Field::new("added_at_ms", DataType::Int64, false),
    ]))
}

pub(crate) fn pages_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("doc_id", false),
        u32f("number"),
        utf8("text", false),
        utf8("provenance", false),
        Field::new("ocr_confidence", DataType::Float32, true),
        utf8("extractor", false),
        utf8("error", true),
    ]))
}

fn heading_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

pub(crate) fn chunks_schema(dimensions: usize) -> SchemaRef {
    let dims = i32::try_from(dimensions).unwrap_or(i32::MAX);
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("doc_id", false),
        u32f("ordinal"),
        u32f("page_start"),
        u32f("page_end"),
        u32f("char_start"),
        u32f("char_end"),
        Field::new("heading_path", heading_type(), false),
        utf8("text", false),
        utf8("search_text", false),
        u32f("tokens"),
        utf8("language", false),
        Field::new(
            "vector",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dims),
            false,
        ),
    ]))
}

/// Columns read back for search results (no vector, no analysed text).
pub(crate) const CHUNK_READ_COLUMNS: &[&str] = &[
    "id",
    "doc_id",
    "ordinal",
    "page_start",
    "page_end",
    "char_start",
    "char_end",
    "heading_path",
    "text",
    "tokens",
    "language",
];

pub(crate) fn vector_dimensions(schema: &Schema) -> Option<usize> {
    match schema.field_with_name("vector").ok()?.data_type() {
        DataType::FixedSizeList(_, n) => usize::try_from(*n).ok(),
        _ => None,
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn col<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, StoreError> {
    batch.column_by_name(name).ok_or_else(|| StoreError::Backend(format!("column `{name}` missing")))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, StoreError> {
    col(batch, name)?.as_string_opt::<i32>().ok_or_else(|| StoreError::Backend(format!("column `{name}` is not text")))
}

fn u32s<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a UInt32Array, StoreError> {
    col(batch, name)?
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| StoreError::Backend(format!("column `{name}` is not u32")))
}

fn opt_string(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

pub(crate) fn string_column(batch: &RecordBatch, name: &str) -> Result<Vec<String>, StoreError> {
    Ok(strings(batch, name)?.iter().map(|s| s.unwrap_or_default().to_string()).collect())
}

pub(crate) fn f32_column(batch: &RecordBatch, name: &str) -> Result<Vec<f32>, StoreError> {
    let c = col(batch, name)?;
    if let Some(a) = c.as_primitive_opt::<Float32Type>() {
        return Ok(a.iter().map(Option::unwrap_or_default).collect());
    }
    let cast = lancedb::arrow::arrow_cast::cast(c, &DataType::Float32).map_err(err)?;
    Ok(cast.as_primitive::<Float32Type>().iter().map(Option::unwrap_or_default).collect())
}

pub(crate) fn u64_column(batch: &RecordBatch, name: &str) -> Result<Vec<u64>, StoreError> {
    let c = col(batch, name)?
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| StoreError::Backend(format!("column `{name}` is not u64")))?;
    Ok(c.iter().map(Option::unwrap_or_default).collect())
}

pub(crate) fn vector_column(batch: &RecordBatch) -> Result<Vec<Vec<f32>>, StoreError> {
    let list = col(batch, "vector")?
        .as_fixed_size_list_opt()
        .ok_or_else(|| StoreError::Backend("column `vector` is not a fixed-size list".into()))?;
    Ok((0..list.len()).map(|i| list.value(i).as_primitive::<Float32Type>().values().to_vec()).collect())
}

pub(crate) fn documents_batch(docs: &[DocumentRecord]) -> Result<RecordBatch, StoreError> {
    let s =
        |f: fn(&DocumentRecord) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(docs.iter().map(f))) };
    let o =
        |f: fn(&DocumentRecord) -> Option<&str>| -> ArrayRef { Arc::new(StringArray::from_iter(docs.iter().map(f))) };
    let u = |f: fn(&DocumentRecord) -> u32| -> ArrayRef { Arc::new(UInt32Array::from_iter_values(docs.iter().map(f))) };
    RecordBatch::try_new(
        documents_schema(),
        vec![
            s(|d| &d.id),
            s(|d| &d.file_name),
            s(|d| &d.source_path),
            s(|d| &d.title),
            s(|d| &d.format),
            Arc::new(UInt64Array::from_iter_values(docs.iter().map(|d| d.size_bytes))),
            u(|d| d.page_count),
            u(|d| d.chunk_count),
            u(|d| d.ocr_pages),
            s(|d| d.status.as_str()),
            o(|d| d.error_code.as_deref()),
            o(|d| d.error_message.as_deref()),
            s(|d| &d.extractor),
            Arc::new(Int64Array::from_iter_values(docs.iter().map(|d| d.added_at_ms))),
        ],
    )
    .map_err(err)
}

pub(crate) fn read_documents(b: &RecordBatch) -> Result<Vec<DocumentRecord>, StoreError> {
    let id = strings(b, "id")?;
    let file_name = strings(b, "file_name")?;
    let source_path = strings(b, "source_path")?;
    let title = strings(b, "title")?;
    let format = strings(b, "format")?;
    let size = col(b, "size_bytes")?.as_primitive_opt::<UInt64Type>().ok_or_else(|| err("size_bytes"))?;
    let page_count = u32s(b, "page_count")?;
    let chunk_count = u32s(b, "chunk_count")?;
    let ocr_pages = u32s(b, "ocr_pages")?;
    let status = strings(b, "status")?;
    let error_code = strings(b, "error_code")?;
    let error_message = strings(b, "error_message")?;
    let extractor = strings(b, "extractor")?;
    let added = col(b, "added_at_ms")?.as_primitive_opt::<Int64Type>().ok_or_else(|| err("added_at_ms"))?;
    (0..b.num_rows())
        .map(|i| {
            Ok(DocumentRecord {
                id: id.value(i).into(),
                file_name: file_name.value(i).into(),
                source_path: source_path.value(i).into(),
                title: title.value(i).into(),
                format: format.value(i).into(),
                size_bytes: size.value(i),
                page_count: page_count.value(i),
                chunk_count: chunk_count.value(i),
                ocr_pages: ocr_pages.value(i),
                status: DocumentStatus::parse(status.value(i))
                    .ok_or_else(|| err(format!("unknown document status `{}`", status.value(i))))?,
                error_code: opt_string(error_code, i),
                error_message: opt_string(error_message, i),
                extractor: extractor.value(i).into(),
                added_at_ms: added.value(i),
            })
        })
        .collect()
}

pub(crate) fn pages_batch(pages: &[PageRecord]) -> Result<RecordBatch, StoreError> {
    RecordBatch::try_new(
        pages_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(pages.iter().map(|p| p.doc_id.as_str()))),
            Arc::new(UInt32Array::from_iter_values(pages.iter().map(|p| p.number))),
            Arc::new(StringArray::from_iter_values(pages.iter().map(|p| p.text.as_str()))),
            Arc::new(StringArray::from_iter_values(pages.iter().map(|p| p.provenance.as_str()))),
            Arc::new(Float32Array::from_iter(pages.iter().map(|p| match p.provenance {
                PageProvenance::Ocr { confidence } => Some(confidence),
                PageProvenance::TextLayer => None,
            }))),
            Arc::new(StringArray::from_iter_values(pages.iter().map(|p| p.extractor.as_str()))),
            Arc::new(StringArray::from_iter(pages.iter().map(|p| p.error.as_deref()))),
        ],
    )
    .map_err(err)
}

pub(crate) fn read_pages(b: &RecordBatch) -> Result<Vec<PageRecord>, StoreError> {
    let doc_id = strings(b, "doc_id")?;
    let number = u32s(b, "number")?;
    let text = strings(b, "text")?;
    let provenance = strings(b, "provenance")?;
    let confidence =
        col(b, "ocr_confidence")?.as_primitive_opt::<Float32Type>().ok_or_else(|| err("ocr_confidence"))?;
    let extractor = strings(b, "extractor")?;
    let error = strings(b, "error")?;
    Ok((0..b.num_rows())
        .map(|i| PageRecord {
            doc_id: doc_id.value(i).into(),
            number: number.value(i),
            text: text.value(i).into(),
            provenance: if provenance.value(i) == "ocr" {
                PageProvenance::Ocr { confidence: if confidence.is_null(i) { 0.0 } else { confidence.value(i) } }
            } else {
                PageProvenance::TextLayer
            },
            extractor: extractor.value(i).into(),
            error: opt_string(error, i),
        })
        .collect())
}

pub(crate) fn chunks_batch(chunks: &[ChunkRecord], dimensions: usize) -> Result<RecordBatch, StoreError> {
    let u = |f: fn(&ChunkRecord) -> u32| -> ArrayRef { Arc::new(UInt32Array::from_iter_values(chunks.iter().map(f))) };
    let mut headings = ListBuilder::new(StringBuilder::new());
    for c in chunks {
        for h in &c.heading_path {
            headings.values().append_value(h);
        }
        headings.append(true);
    }
    // The index sees the heading path too: a question naming a law or an article finds it.
    let analysed: Vec<String> =
        chunks.iter().map(|c| search_text(&format!("{}\n{}", c.heading_path.join(" "), c.text))).collect();
    let values = Float32Array::from_iter_values(chunks.iter().flat_map(|c| c.vector.iter().copied()));
    let dims = i32::try_from(dimensions).map_err(err)?;
    let vectors = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        dims,
        Arc::new(values),
        None,
    )
    .map_err(err)?;
    RecordBatch::try_new(
        chunks_schema(dimensions),
        vec![
            Arc::new(StringArray::from_iter_values(chunks.iter().map(|c| c.id.as_str()))),
            Arc::new(StringArray::from_iter_values(chunks.iter().map(|c| c.doc_id.as_str()))),
            u(|c| c.ordinal),
            u(|c| c.page_start),
            u(|c| c.page_end),
            u(|c| c.char_start),
            u(|c| c.char_end),
            Arc::new(headings.finish()),
            Arc::new(StringArray::from_iter_values(chunks.iter().map(|c| c.text.as_str()))),
            Arc::new(StringArray::from_iter_values(analysed.iter().map(String::as_str))),
            u(|c| c.tokens),
            Arc::new(StringArray::from_iter_values(chunks.iter().map(|c| c.language.as_str()))),
            Arc::new(vectors),
        ],
    )
    .map_err(err)
}

pub(crate) fn read_chunks(b: &RecordBatch) -> Result<Vec<ChunkRecord>, StoreError> {
    let id = strings(b, "id")?;
    let doc_id = strings(b, "doc_id")?;
    let ordinal = u32s(b, "ordinal")?;
    let page_start = u32s(b, "page_start")?;
    let page_end = u32s(b, "page_end")?;
    let char_start = u32s(b, "char_start")?;
    let char_end = u32s(b, "char_end")?;
    let headings = col(b, "heading_path")?.as_list_opt::<i32>().ok_or_else(|| err("heading_path"))?;
    let text = strings(b, "text")?;
    let tokens = u32s(b, "tokens")?;
    let language = strings(b, "language")?;
    Ok((0..b.num_rows())
        .map(|i| ChunkRecord {
            id: id.value(i).into(),
            doc_id: doc_id.value(i).into(),
            ordinal: ordinal.value(i),
            page_start: page_start.value(i),
            page_end: page_end.value(i),
            char_start: char_start.value(i),
            char_end: char_end.value(i),
            heading_path: headings
                .value(i)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_string())
                .collect(),
            text: text.value(i).into(),
            tokens: tokens.value(i),
            language: language.value(i).into(),
            vector: Vec::new(),
        })
        .collect())
}
