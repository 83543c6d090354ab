//! The one llama.cpp backend of the process, its logging, threads and devices.

use std::sync::OnceLock;

use lexdesk_core::EngineError;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{LlamaBackendDeviceType, LogOptions, list_llama_ggml_backend_devices, send_logs_to_tracing};

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The process-wide backend, initialised on first use.
///
/// OpenMP's wait policy is not set here: libgomp reads `OMP_WAIT_POLICY` when the library is
/// loaded, before `main`, so only the environment of the process decides it (ARCHITECTURE.md,
/// "OpenMP wait policy").
///
/// # Errors
/// [`EngineError::LoadFailed`] if llama.cpp cannot initialise (it was initialised outside the
/// engine, which the workspace's clippy configuration forbids).
pub fn backend() -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            send_logs_to_tracing(LogOptions::default());
            #[allow(clippy::disallowed_methods, reason = "this is the one place the backend is created")]
            let backend = LlamaBackend::init();
            backend.map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| EngineError::LoadFailed { path: "<llama.cpp backend>".into(), reason: reason.clone() })
}

/// Default CPU threads: the physical cores (hyper-threads slow llama.cpp down).
#[must_use]
pub fn default_threads() -> u32 {
    sysinfo::System::physical_core_count()
        .ok()
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .map_or(4, |n| u32::try_from(n).unwrap_or(4))
        .max(1)
}

/// Compute devices llama.cpp sees (CPU, and GPUs when built with `cuda`, `metal` or `vulkan`).
///
/// # Errors
/// The backend cannot initialise.
pub fn devices() -> Result<Vec<DeviceInfo>, EngineError> {
    backend()?;
    Ok(list_llama_ggml_backend_devices()
        .into_iter()
        .map(|d| DeviceInfo {
            index: d.index,
            name: d.name,
            description: d.description,
            backend: d.backend,
            is_gpu: matches!(d.device_type, LlamaBackendDeviceType::Gpu | LlamaBackendDeviceType::IntegratedGpu),
            memory_total: d.memory_total as u64,
            memory_free: d.memory_free as u64,
        })
        .collect())
}

/// A compute device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// llama.cpp's device index.
    pub index: usize,
    /// Short name, e.g. `CUDA0`.
    pub name: String,
    /// Description, e.g. the GPU's marketing name.
    pub description: String,
    /// Backend, e.g. `CPU`, `CUDA`, `Metal`, `Vulkan`.
    pub backend: String,
    /// A discrete or integrated GPU.
    pub is_gpu: bool,
    /// Total memory in bytes.
    pub memory_total: u64,
    /// Free memory in bytes.
    pub memory_free: u64,
}
