//! Before a model is loaded: choose the context length and check that it fits in memory.

use lexdesk_core::EngineError;
use lexdesk_core::model::{
    DEFAULT_CONTEXT_CAP, FitVerdict, FreeMemory, GpuLayers, LoadOptions, MemoryEstimate, ModelMetadata, fit,
    ram_headroom,
};

use crate::backend::devices;

/// The context length to use: the configured one, else min(model context, 8192).
///
/// # Errors
/// [`EngineError::ContextTooLarge`] above the trained context; [`EngineError::InvalidRequest`]
/// for zero.
pub fn context_length(meta: &ModelMetadata, requested: Option<u64>) -> Result<u64, EngineError> {
    let trained = if meta.context_length == 0 { DEFAULT_CONTEXT_CAP } else { meta.context_length };
    match requested {
        None => Ok(trained.min(DEFAULT_CONTEXT_CAP)),
        Some(0) => Err(EngineError::InvalidRequest { message: "context length must be at least 1".into() }),
        Some(n) if n > trained => Err(EngineError::ContextTooLarge { requested: n, max: trained }),
        Some(n) => Ok(n),
    }
}

/// Memory free now: available RAM (sysinfo) and the largest free GPU memory (llama.cpp's devices).
///
/// # Errors
/// The backend cannot initialise.
pub fn free_memory() -> Result<FreeMemory, EngineError> {
    let gpu = devices()?.into_iter().filter(|d| d.is_gpu).map(|d| d.memory_free).max();
    let ram = sysinfo::System::new().map_or(0, |mut sys| {
        sys.refresh_memory();
        sys.available_memory()
    });
    if ram == 0 {
        // Memory cannot be read on this platform: do not refuse on a guess.
        return Ok(FreeMemory { ram: u64::MAX / 4, gpu });
    }
    Ok(FreeMemory { ram, gpu })
}

/// Estimate what `meta` needs at `n_ctx` and refuse if it cannot fit.
///
/// With `GpuLayers::Count(0)` only RAM counts; otherwise GPU memory may take part of the load.
///
/// # Errors
/// [`EngineError::InsufficientMemory`] with the estimate's breakdown.
pub fn check_memory(
    meta: &ModelMetadata,
    n_ctx: u64,
    n_ubatch: u64,
    options: &LoadOptions,
    free: FreeMemory,
) -> Result<(MemoryEstimate, FitVerdict), EngineError> {
    let estimate = MemoryEstimate::for_model(meta, n_ctx, n_ubatch);
    let free = match options.gpu_layers {
        GpuLayers::Count(0) => FreeMemory { gpu: None, ..free },
        _ => free,
    };
    let verdict = fit(&estimate, free);
    if verdict == FitVerdict::DoesNotFit && !options.skip_memory_check {
        let mib = |b: u64| b >> 20;
        let available = free.ram.saturating_sub(ram_headroom(free.ram)) + free.gpu.unwrap_or(0);
        return Err(EngineError::InsufficientMemory {
            device: if free.gpu.is_some() { "RAM + GPU".into() } else { "RAM".into() },
            needed_mib: mib(estimate.total()),
            available_mib: mib(available),
            detail: format!(
                "weights {} MiB + KV cache {} MiB for {n_ctx} tokens of context + compute {} MiB",
                mib(estimate.weights),
                mib(estimate.kv_cache),
                mib(estimate.compute)
            ),
        });
    }
    Ok((estimate, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lexdesk_core::model::ModelKind;

    fn meta(ctx: u64) -> ModelMetadata {
        ModelMetadata {
            path: "m".into(),
            file_size: 1 << 30,
            gguf_version: 3,
            architecture: "llama".into(),
            name: None,
            parameter_count: 1,
            quantization: "Q4_0".into(),
            context_length: ctx,
            embedding_length: 4096,
            block_count: 32,
            head_count: 32,
            head_count_kv: 8,
            key_length: 128,
            value_length: 128,
            vocab_size: 128_000,
            pooling: None,
            has_chat_template: true,
            causal_attention: true,
            kind: ModelKind::Chat,
        }
    }

    #[test]
    fn context_defaults_and_limits() {
        assert_eq!(context_length(&meta(131_072), None).unwrap(), 8192);
        assert_eq!(context_length(&meta(2048), None).unwrap(), 2048);
        assert_eq!(context_length(&meta(131_072), Some(32_768)).unwrap(), 32_768);
        assert!(matches!(context_length(&meta(2048), Some(4096)), Err(EngineError::ContextTooLarge { max: 2048, .. })));
        assert!(context_length(&meta(2048), Some(0)).is_err());
    }

    #[test]
    fn refusal_names_the_breakdown() {
        let free = FreeMemory { ram: 2 << 30, gpu: None };
        let err = check_memory(&meta(131_072), 131_072, 512, &LoadOptions::default(), free).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, EngineError::InsufficientMemory { .. }));
        assert!(msg.contains("KV cache") && msg.contains("131072 tokens"), "{msg}");
        let ok = check_memory(&meta(8192), 4096, 512, &LoadOptions::default(), FreeMemory { ram: 16 << 30, gpu: None });
        assert_eq!(ok.unwrap().1, FitVerdict::FitsCpu);
    }
}
