//! Reading and validating a GGUF file's header before llama.cpp's model loader sees it.
//!
//! Two layers: a byte-level check of the magic number and version (so a PDF, a zip or a
//! safetensors file dragged into the model picker is named for what it is), then llama.cpp's own
//! GGUF reader (`gguf_init_from_file` with `no_alloc`, which reads metadata and tensor
//! descriptions but no weights) for the key/value metadata and a bounds check of every tensor
//! against the file's length (a truncated download is reported as such).
//!
//! ggml's typed getters abort the process on a type mismatch, so every read checks the
//! stored type first.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use lexdesk_core::EngineError;
use lexdesk_core::model::{ModelMetadata, Pooling, classify, file_type_name};
use llama_cpp_sys_2 as sys;

/// Inspect `path`: validate the header and read the metadata LexDesk needs.
///
/// # Errors
/// A typed [`EngineError`] for a missing, unreadable, non-GGUF, unsupported, damaged or truncated
/// file.
pub fn read_metadata(path: &Path) -> Result<ModelMetadata, EngineError> {
    let file_size = check_header(path)?;
    let gguf = GgufFile::open(path)?;
    gguf.check_bounds(path, file_size)?;

    let architecture = gguf
        .string("general.architecture")
        .ok_or_else(|| corrupt(path, "no general.architecture key: not a llama.cpp model"))?;
    let arch_key = |suffix: &str| format!("{architecture}.{suffix}");
    let int = |suffix: &str| gguf.uint(&arch_key(suffix));

    let embedding_length = int("embedding_length").unwrap_or(0);
    let head_count = int("attention.head_count").unwrap_or(0);
    let head_dim = embedding_length.checked_div(head_count).unwrap_or(0);
    let causal_attention = gguf.boolean(&arch_key("attention.causal")).unwrap_or(true);
    let pooling = int("pooling_type").and_then(|v| Pooling::from_gguf(u32::try_from(v).ok()?));
    let vocab_size =
        gguf.array_len("tokenizer.ggml.tokens").map(|n| n as u64).or_else(|| int("vocab_size")).unwrap_or(0);
    let quantization = gguf
        .uint("general.file_type")
        .map(|t| file_type_name(u32::try_from(t).unwrap_or(u32::MAX)).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());

    Ok(ModelMetadata {
        path: path.to_path_buf(),
        file_size,
        gguf_version: gguf.version(),
        kind: classify(&architecture, causal_attention),
        name: gguf.string("general.name"),
        parameter_count: gguf.parameter_count(),
        quantization,
        context_length: int("context_length").unwrap_or(0),
        embedding_length,
        block_count: int("block_count").unwrap_or(0),
        head_count,
        head_count_kv: int("attention.head_count_kv").unwrap_or(head_count),
        key_length: int("attention.key_length").unwrap_or(head_dim),
        value_length: int("attention.value_length").unwrap_or(head_dim),
        vocab_size,
        pooling,
        has_chat_template: gguf.string("tokenizer.chat_template").is_some(),
        causal_attention,
        architecture,
    })
}

fn corrupt(path: &Path, reason: impl Into<String>) -> EngineError {
    EngineError::CorruptModel { path: path.to_path_buf(), reason: reason.into() }
}

/// Byte-level check: exists, is a file, starts with `GGUF`, has a supported version. Returns the
/// file size.
fn check_header(path: &Path) -> Result<u64, EngineError> {
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EngineError::ModelNotFound { path: path.to_path_buf() }
        } else {
            EngineError::Io { path: path.to_path_buf(), source }
        }
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(EngineError::NotGguf { path: path.to_path_buf(), detected: "it is a directory".into() });
    }
    let mut head = [0u8; 24];
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    if !head.starts_with(b"GGUF") {
        return Err(EngineError::NotGguf { path: path.to_path_buf(), detected: sniff(head).into() });
    }
    if head.len() < 24 {
        return Err(EngineError::Truncated { path: path.to_path_buf(), expected: 24, actual: meta.len() });
    }
    let version = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    if !(2..=3).contains(&version) {
        return Err(EngineError::UnsupportedGgufVersion { path: path.to_path_buf(), version });
    }
    Ok(meta.len())
}

/// A short description of what a non-GGUF file looks like.
fn sniff(head: &[u8]) -> &'static str {
    if head.is_empty() {
        "the file is empty"
    } else if head.starts_with(b"%PDF") {
        "it looks like a PDF document"
    } else if head.starts_with(b"PK\x03\x04") {
        "it looks like a zip archive (a .docx, .whl or zipped model?)"
    } else if head.starts_with(b"ggml") || head.starts_with(b"ggjt") || head.starts_with(b"ggmf") {
        "it is an old GGML file; convert it to GGUF with llama.cpp"
    } else if head.len() > 8 && head[8] == b'{' {
        "it looks like a safetensors file; convert it to GGUF with llama.cpp's convert_hf_to_gguf.py"
    } else if head.starts_with(b"<") || head.starts_with(b"{") {
        "it looks like an HTML, XML or JSON text file (a failed download?)"
    } else if head.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        "it looks like a text file"
    } else {
        "unknown format: the first four bytes are not `GGUF`"
    }
}

/// Owned `gguf_context` (metadata only).
struct GgufFile {
    ctx: NonNull<sys::gguf_context>,
}

impl Drop for GgufFile {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from gguf_init_from_file and is freed exactly once.
        unsafe { sys::gguf_free(self.ctx.as_ptr()) }
    }
}

impl GgufFile {
    fn open(path: &Path) -> Result<Self, EngineError> {
        let c_path = path
            .to_str()
            .and_then(|s| CString::new(s).ok())
            .ok_or_else(|| corrupt(path, "the path is not valid UTF-8"))?;
        let params = sys::gguf_init_params { no_alloc: true, ctx: std::ptr::null_mut() };
        // SAFETY: a valid NUL-terminated path; with no_alloc and a null ctx, ggml allocates
        // nothing but the returned context, which we own.
        let ptr = unsafe { sys::gguf_init_from_file(c_path.as_ptr(), params) };
        NonNull::new(ptr)
            .map(|ctx| Self { ctx })
            .ok_or_else(|| corrupt(path, "llama.cpp's GGUF reader rejected the metadata (damaged or truncated header)"))
    }

    fn ptr(&self) -> *const sys::gguf_context {
        self.ctx.as_ptr()
    }

    fn version(&self) -> u32 {
        // SAFETY: valid context.
        unsafe { sys::gguf_get_version(self.ptr()) }
    }

    fn key(&self, key: &str) -> Option<(i64, sys::gguf_type)> {
        let c_key = CString::new(key).ok()?;
        // SAFETY: valid context and NUL-terminated key.
        let id = unsafe { sys::gguf_find_key(self.ptr(), c_key.as_ptr()) };
        // SAFETY: `id` was returned by gguf_find_key for this context.
        (id >= 0).then(|| (id, unsafe { sys::gguf_get_kv_type(self.ptr(), id) }))
    }

    /// An unsigned or non-negative signed integer of any width.
    fn uint(&self, key: &str) -> Option<u64> {
        let (id, ty) = self.key(key)?;
        // SAFETY: each getter is called only for the type the file declares (ggml aborts otherwise).
        unsafe {
            match ty {
                sys::GGUF_TYPE_UINT8 => Some(u64::from(sys::gguf_get_val_u8(self.ptr(), id))),
                sys::GGUF_TYPE_UINT16 => Some(u64::from(sys::gguf_get_val_u16(self.ptr(), id))),
                sys::GGUF_TYPE_UINT32 => Some(u64::from(sys::gguf_get_val_u32(self.ptr(), id))),
                sys::GGUF_TYPE_UINT64 => Some(sys::gguf_get_val_u64(self.ptr(), id)),
                sys::GGUF_TYPE_INT8 => u64::try_from(sys::gguf_get_val_i8(self.ptr(), id)).ok(),
                sys::GGUF_TYPE_INT16 => u64::try_from(sys::gguf_get_val_i16(self.ptr(), id)).ok(),
                sys::GGUF_TYPE_INT32 => u64::try_from(sys::gguf_get_val_i32(self.ptr(), id)).ok(),
                sys::GGUF_TYPE_INT64 => u64::try_from(sys::gguf_get_val_i64(self.ptr(), id)).ok(),
                _ => None,
            }
        }
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        let (id, ty) = self.key(key)?;
        // SAFETY: type checked.
        (ty == sys::GGUF_TYPE_BOOL).then(|| unsafe { sys::gguf_get_val_bool(self.ptr(), id) })
    }

    fn string(&self, key: &str) -> Option<String> {
        let (id, ty) = self.key(key)?;
        if ty != sys::GGUF_TYPE_STRING {
            return None;
        }
        // SAFETY: type checked; the string lives as long as the context and is NUL-terminated.
        let s = unsafe { CStr::from_ptr(sys::gguf_get_val_str(self.ptr(), id)) };
        Some(s.to_string_lossy().into_owned())
    }

    fn array_len(&self, key: &str) -> Option<usize> {
        let (id, ty) = self.key(key)?;
        // SAFETY: type checked.
        (ty == sys::GGUF_TYPE_ARRAY).then(|| unsafe { sys::gguf_get_arr_n(self.ptr(), id) })
    }

    fn n_tensors(&self) -> i64 {
        // SAFETY: valid context.
        unsafe { sys::gguf_get_n_tensors(self.ptr()) }
    }

    /// Sum over tensors of their element counts.
    fn parameter_count(&self) -> u64 {
        (0..self.n_tensors())
            .map(|i| {
                // SAFETY: `i` < n_tensors; ne points at GGML_MAX_DIMS (4) int64 values.
                let ne = unsafe { std::slice::from_raw_parts(sys::gguf_get_tensor_ne(self.ptr(), i), 4) };
                ne.iter().map(|&d| u64::try_from(d).unwrap_or(0).max(1)).product::<u64>()
            })
            .sum()
    }

    /// Every tensor's data must lie inside the file.
    fn check_bounds(&self, path: &Path, file_size: u64) -> Result<(), EngineError> {
        // SAFETY: valid context.
        let data_offset = unsafe { sys::gguf_get_data_offset(self.ptr()) } as u64;
        let end = (0..self.n_tensors())
            .map(|i| {
                // SAFETY: `i` < n_tensors.
                let (off, size) =
                    unsafe { (sys::gguf_get_tensor_offset(self.ptr(), i), sys::gguf_get_tensor_size(self.ptr(), i)) };
                data_offset.saturating_add(off as u64).saturating_add(size as u64)
            })
            .max()
            .unwrap_or(data_offset);
        if end > file_size {
            return Err(EngineError::Truncated { path: PathBuf::from(path), expected: end, actual: file_size });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_impostors() {
        assert_eq!(sniff(b""), "the file is empty");
        assert!(sniff(b"%PDF-1.7\n").contains("PDF"));
        assert!(sniff(b"PK\x03\x04rest").contains("zip"));
        assert!(sniff(b"<!DOCTYPE html>").contains("HTML"));
        assert!(sniff(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\"").contains("safetensors"));
        assert!(sniff(b"hello world").contains("text"));
    }

    #[test]
    fn header_errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let missing = dir.path().join("missing.gguf");
        assert!(matches!(read_metadata(&missing), Err(EngineError::ModelNotFound { .. })));
        assert!(matches!(read_metadata(dir.path()), Err(EngineError::NotGguf { .. })));
        let empty = write("empty.gguf", b"");
        assert!(
            matches!(read_metadata(&empty), Err(EngineError::NotGguf { detected, .. }) if detected.contains("empty"))
        );
        let pdf = write("x.gguf", b"%PDF-1.4 not a model at all");
        assert!(matches!(read_metadata(&pdf), Err(EngineError::NotGguf { detected, .. }) if detected.contains("PDF")));
        let short = write("short.gguf", b"GGUF\x03\x00\x00\x00");
        assert!(matches!(read_metadata(&short), Err(EngineError::Truncated { .. })));
        let mut v9 = b"GGUF\x09\x00\x00\x00".to_vec();
        v9.extend([0u8; 16]);
        let v9 = write("v9.gguf", &v9);
        assert!(matches!(read_metadata(&v9), Err(EngineError::UnsupportedGgufVersion { version: 9, .. })));
        // Valid header, absurd counts: ggml's reader must reject it without aborting.
        let mut junk = b"GGUF\x03\x00\x00\x00".to_vec();
        junk.extend(u64::MAX.to_le_bytes());
        junk.extend(u64::MAX.to_le_bytes());
        let junk = write("junk.gguf", &junk);
        assert!(matches!(read_metadata(&junk), Err(EngineError::CorruptModel { .. })));
    }
}
