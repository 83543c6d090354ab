//! Hardware fit: for each catalog model and quantisation, whether it fits this machine (on the
//! GPU, with partial offload, on the CPU, or not at all), with what GPU layers and threads, and
//! which model to recommend.
//!
//! Memory per model is the same arithmetic the engine's preflight uses before loading
//! ([`MemoryEstimate::for_model`]: weights + f16 KV cache for the context + compute buffers),
//! here from the catalog's architecture numbers instead of a GGUF header. Free memory comes from
//! sysinfo (RAM) and llama.cpp's device list (GPU), which the caller collects.
//!
//! The recommendation also weighs speed: generating a token reads every weight once, so on a CPU
//! the rate is bounded by memory bandwidth ÷ weight bytes. Without a GPU, LexDesk recommends the
//! largest chat model whose weights are at most [`CPU_WEIGHT_BYTES_PER_CORE`] per physical core
//! (about 8–10 tokens/s on typical desktop memory), not merely the largest that fits in RAM.

use serde::Serialize;

use lexdesk_core::model::{
    DEFAULT_CONTEXT_CAP, FitVerdict, FreeMemory, MemoryEstimate, ModelKind, ModelMetadata, fit, ram_headroom,
};

use crate::catalog::{Catalog, CatalogFile, CatalogKind, CatalogModel};

/// Weight bytes per physical core that a CPU-only machine generates from at an interactive
/// rate (0.75 GB/core: 2 cores → ~1.5 GB, a 1.5B model at Q4; 8 cores → ~6 GB, a 7B at Q4).
pub const CPU_WEIGHT_BYTES_PER_CORE: u64 = 750_000_000;

/// Micro-batch the estimate assumes (llama.cpp's default `n_ubatch`).
const UBATCH: u64 = 512;

/// One GPU as llama.cpp reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GpuInfo {
    /// Device name.
    pub name: String,
    /// Free memory in bytes.
    pub free: u64,
    /// Total memory in bytes.
    pub total: u64,
}

/// The machine, as far as model choice is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Hardware {
    /// Total RAM.
    pub ram_total: u64,
    /// RAM available now.
    pub ram_available: u64,
    /// Physical cores.
    pub physical_cores: u32,
    /// Logical CPUs.
    pub logical_cpus: u32,
    /// CPU brand string.
    pub cpu_brand: String,
    /// SIMD features that matter to llama.cpp's CPU kernels (avx2, avx512f, fma, neon, …).
    pub cpu_features: Vec<String>,
    /// GPUs llama.cpp can use.
    pub gpus: Vec<GpuInfo>,
}

impl Hardware {
    /// This machine: RAM, cores and CPU from sysinfo; `gpus` as llama.cpp reports them (the
    /// caller asks the engine, which this crate does not link).
    #[must_use]
    pub fn detect(gpus: Vec<GpuInfo>) -> Self {
        let sys = sysinfo::System::new().ok().map(|mut sys| {
            sys.refresh_memory();
            sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
            sys
        });
        let logical = sys.as_ref().map_or(0, |s| u32::try_from(s.cpus().len()).unwrap_or(u32::MAX));
        let physical =
            sysinfo::System::physical_core_count().ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(logical).max(1);
        Self {
            ram_total: sys.as_ref().map_or(0, sysinfo::System::total_memory),
            ram_available: sys.as_ref().map_or(0, sysinfo::System::available_memory),
            physical_cores: physical,
            logical_cpus: logical,
            cpu_brand: sys
                .as_ref()
                .and_then(|s| s.cpus().first())
                .map(|c| c.brand().trim().to_owned())
                .unwrap_or_default(),
            cpu_features: cpu_features(),
            gpus,
        }
    }

    /// The largest GPU's free memory, if any.
    #[must_use]
    pub fn best_gpu_free(&self) -> Option<u64> {
        self.gpus.iter().map(|g| g.free).max()
    }

    /// Default CPU threads: the physical cores (hyper-threads slow llama.cpp's kernels down).
    #[must_use]
    pub fn default_threads(&self) -> u32 {
        self.physical_cores.max(1)
    }

    fn free(&self) -> FreeMemory {
        FreeMemory { ram: self.ram_available, gpu: self.best_gpu_free() }
    }
}

/// SIMD features of this CPU that llama.cpp's kernels use.
#[must_use]
pub fn cpu_features() -> Vec<String> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => { $( if std::arch::is_x86_feature_detected!($f) { out.push($f.to_owned()); } )* };
        }
        probe!("sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vnni", "avx512bf16");
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => { $( if std::arch::is_aarch64_feature_detected!($f) { out.push($f.to_owned()); } )* };
        }
        probe!("neon", "dotprod", "i8mm", "sve");
    }
    out
}

/// Where a model would run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FitReport {
    /// Catalog id.
    pub id: String,
    /// Quantisation.
    pub quant: String,
    /// Bytes of weights (the file size, or an estimate from the parameter count).
    pub weights: u64,
    /// Whether `weights` is the exact file size.
    pub weights_exact: bool,
    /// Context length assumed.
    pub context_length: u64,
    /// Total memory needed.
    pub need: u64,
    /// The verdict.
    pub verdict: FitVerdict,
    /// Suggested GPU layers (0 on CPU; all layers when it fits the GPU).
    pub gpu_layers: u32,
    /// Suggested CPU threads.
    pub threads: u32,
    /// Expected to generate at an interactive rate on this machine.
    pub interactive: bool,
}

/// Bits per weight of common llama.cpp quantisations (for estimates when a size is unknown).
#[must_use]
pub fn bits_per_weight(quant: &str) -> f64 {
    match quant.to_ascii_uppercase().as_str() {
        "F32" => 32.0,
        "F16" | "BF16" => 16.0,
        "Q8_0" => 8.5,
        "Q6_K" => 6.56,
        "Q5_K_M" | "Q5_1" => 5.7,
        "Q5_K_S" | "Q5_0" => 5.5,
        "Q4_K_M" => 4.85,
        "Q4_1" => 5.0,
        "Q4_K_S" | "Q4_0" | "IQ4_NL" | "IQ4_XS" => 4.5,
        "Q3_K_M" | "Q3_K_L" => 3.9,
        "Q3_K_S" => 3.5,
        "Q2_K" => 3.35,
        _ => 5.0,
    }
}

/// The model metadata the memory arithmetic needs, from a catalog entry and one of its files.
#[must_use]
pub fn metadata(model: &CatalogModel, file: &CatalogFile) -> (ModelMetadata, bool) {
    let quant = file.quant.clone().unwrap_or_default();
    let (size, exact) = match file.size {
        Some(s) => (s, true),
        None => ((model.parameters as f64 * bits_per_weight(&quant) / 8.0) as u64, false),
    };
    let kind = match model.kind {
        CatalogKind::Chat | CatalogKind::Vision => ModelKind::Chat,
        CatalogKind::Embedding | CatalogKind::Reranker => ModelKind::Embedding,
    };
    let head_count = (model.embedding_length / model.head_dim.max(1)).max(model.kv_heads);
    let meta = ModelMetadata {
        path: file.file_name().into(),
        file_size: size,
        gguf_version: 3,
        architecture: model.architecture.clone(),
        name: Some(model.name.clone()),
        parameter_count: model.parameters,
        quantization: quant,
        context_length: model.context_length,
        embedding_length: model.embedding_length,
        block_count: model.layers,
        head_count,
        head_count_kv: model.kv_heads,
        key_length: model.head_dim,
        value_length: model.head_dim,
        vocab_size: model.vocab_size,
        pooling: None,
        has_chat_template: kind == ModelKind::Chat,
        causal_attention: kind == ModelKind::Chat,
        kind,
    };
    (meta, exact)
}

/// Assess one file of one model at `context` tokens (default: the engine's default,
/// min(trained, 8192)).
#[must_use]
pub fn assess(model: &CatalogModel, file: &CatalogFile, hw: &Hardware, context: Option<u64>) -> FitReport {
    let (meta, exact) = metadata(model, file);
    let ctx = context.unwrap_or(DEFAULT_CONTEXT_CAP).min(model.context_length);
    let mut est = MemoryEstimate::for_model(&meta, ctx, UBATCH);
    if let Some(projector) = &model.projector {
        est.weights += projector.size.unwrap_or(0);
    }
    let verdict = fit(&est, hw.free());
    let need = est.total();
    let layers = u32::try_from(model.layers).unwrap_or(u32::MAX);
    let gpu_layers = match verdict {
        FitVerdict::FitsGpu => layers,
        FitVerdict::FitsPartialOffload => {
            // Whole layers that fit in the GPU after the KV cache and compute buffers of
            // those layers: weights and KV scale with the layer count.
            let gpu = hw.best_gpu_free().unwrap_or(0).saturating_mul(95) / 100;
            let per_layer = (est.weights + est.kv_cache) / model.layers.max(1);
            let n = gpu.saturating_sub(est.compute) / per_layer.max(1);
            u32::try_from(n.min(model.layers)).unwrap_or(0)
        }
        FitVerdict::FitsCpu | FitVerdict::DoesNotFit => 0,
    };
    let interactive = match verdict {
        FitVerdict::FitsGpu => true,
        FitVerdict::DoesNotFit => false,
        FitVerdict::FitsPartialOffload | FitVerdict::FitsCpu => {
            let cpu_weights = est.weights.saturating_sub(est.weights / model.layers.max(1) * u64::from(gpu_layers));
            cpu_weights <= CPU_WEIGHT_BYTES_PER_CORE * u64::from(hw.default_threads())
        }
    };
    FitReport {
        id: model.id.clone(),
        quant: file.quant.clone().unwrap_or_default(),
        weights: meta.file_size,
        weights_exact: exact,
        context_length: ctx,
        need,
        verdict,
        gpu_layers,
        threads: hw.default_threads(),
        interactive,
    }
}

/// A recommended model of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Recommendation {
    /// What it is for.
    pub kind: CatalogKind,
    /// The fit of the recommended file.
    pub fit: FitReport,
    /// Why this one.
    pub reason: String,
}

/// Recommend a model of `kind` for this machine that covers `lang` (`zh`, `en`; `None` =
/// any), open to download (not gated) and licensed for commercial use: among the files that fit and run at an interactive rate, the one with the most
/// parameters (then the higher-precision quantisation); if none is interactive, the smallest
/// that fits. `None` when nothing fits.
#[must_use]
pub fn recommend(
    catalog: &Catalog,
    hw: &Hardware,
    kind: CatalogKind,
    lang: Option<&str>,
    context: Option<u64>,
) -> Option<Recommendation> {
    let candidates: Vec<(&CatalogModel, FitReport)> = catalog
        .models
        .iter()
        .filter(|m| m.kind == kind && lang.is_none_or(|l| m.speaks(l)) && !m.gated && m.commercial_use)
        .flat_map(|m| m.files.iter().map(move |f| (m, f)))
        .map(|(m, f)| (m, assess(m, f, hw, context)))
        .filter(|(_, r)| r.verdict != FitVerdict::DoesNotFit)
        .collect();
    let best_interactive = candidates
        .iter()
        .filter(|(_, r)| r.interactive)
        .max_by_key(|(m, r)| (m.parameters, r.weights))
        .map(|(m, r)| {
            let place = match r.verdict {
                FitVerdict::FitsGpu => "entirely on the GPU".to_owned(),
                FitVerdict::FitsPartialOffload => format!("with {} of {} layers on the GPU", r.gpu_layers, m.layers),
                _ => format!("on {} CPU threads", r.threads),
            };
            (m, r, format!("the largest {} model that runs at an interactive rate here, {place}", kind.as_str()))
        });
    let chosen = best_interactive.or_else(|| {
        candidates.iter().min_by_key(|(_, r)| r.need).map(|(m, r)| {
            (m, r, format!("the smallest {} model that fits; expect slow generation on this machine", kind.as_str()))
        })
    })?;
    let (_, fit, reason) = chosen;
    Some(Recommendation { kind, fit: fit.clone(), reason })
}

/// RAM the machine keeps free for the OS and the app (shown in the hardware summary).
#[must_use]
pub fn reserved_ram(hw: &Hardware) -> u64 {
    ram_headroom(hw.ram_available)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn hw(ram_gib: u64, cores: u32, gpu_gib: Option<u64>) -> Hardware {
        Hardware {
            ram_total: ram_gib * GIB,
            ram_available: ram_gib * GIB,
            physical_cores: cores,
            logical_cpus: cores * 2,
            cpu_brand: "test".into(),
            cpu_features: vec![],
            gpus: gpu_gib.map(|g| GpuInfo { name: "gpu".into(), free: g * GIB, total: g * GIB }).into_iter().collect(),
        }
    }

    fn chat(id: &str, params: u64, layers: u64, size: u64) -> CatalogModel {
        CatalogModel {
            id: id.into(),
            name: id.into(),
            kind: CatalogKind::Chat,
            architecture: "qwen2".into(),
            publisher: "t".into(),
            license: "Apache-2.0".into(),
            license_url: None,
            gated: false,
            commercial_use: true,
            languages: vec!["zh".into(), "en".into()],
            parameters: params,
            context_length: 32768,
            layers,
            kv_heads: 4,
            head_dim: 128,
            embedding_length: 3584,
            vocab_size: 152_064,
            description: String::new(),
            sources: vec!["x".into()],
            files: vec![CatalogFile {
                quant: Some("Q4_K_M".into()),
                repo: "a/b".into(),
                file: format!("{id}.gguf"),
                revision: None,
                size: Some(size),
                sha256: None,
            }],
            projector: None,
        }
    }

    fn catalog() -> Catalog {
        Catalog {
            format: 1,
            models: vec![
                chat("small", 1_500_000_000, 28, 1_100_000_000),
                chat("mid", 7_600_000_000, 28, 4_700_000_000),
                chat("big", 14_800_000_000, 48, 9_000_000_000),
            ],
        }
    }

    #[test]
    fn kv_cache_and_weights_add_up() {
        let c = catalog();
        let m = &c.models[1];
        let r = assess(m, &m.files[0], &hw(64, 8, None), Some(8192));
        // 28 layers × 8192 ctx × 4 kv heads × (128 + 128) × 2 bytes = 469,762,048
        let kv = 28 * 8192 * 4 * 256 * 2;
        assert!(r.need > 4_700_000_000 + kv, "need {} covers weights and KV", r.need);
        assert!(r.need < 4_700_000_000 + kv + (2 << 30), "compute buffers stay modest: {}", r.need);
        assert_eq!(r.verdict, FitVerdict::FitsCpu);
        assert_eq!(r.gpu_layers, 0);
        assert!(r.weights_exact);
    }

    #[test]
    fn verdicts_across_machines() {
        let c = catalog();
        let big = &c.models[2];
        assert_eq!(assess(big, &big.files[0], &hw(64, 8, Some(24)), None).verdict, FitVerdict::FitsGpu);
        let partial = assess(big, &big.files[0], &hw(64, 8, Some(6)), None);
        assert_eq!(partial.verdict, FitVerdict::FitsPartialOffload);
        assert!(partial.gpu_layers > 0 && partial.gpu_layers < 48, "{}", partial.gpu_layers);
        assert_eq!(assess(big, &big.files[0], &hw(8, 4, None), None).verdict, FitVerdict::DoesNotFit);
    }

    #[test]
    fn recommendation_weighs_speed_on_cpus_and_size_on_gpus() {
        let c = catalog();
        // 2 cores, 24 GiB: everything fits in RAM, but only the small model is interactive.
        let r = recommend(&c, &hw(24, 2, None), CatalogKind::Chat, Some("zh"), None).unwrap();
        assert_eq!(r.fit.id, "small");
        // 8 cores: the 7B at Q4 (4.7 GB ≤ 6 GB).
        assert_eq!(recommend(&c, &hw(32, 8, None), CatalogKind::Chat, None, None).unwrap().fit.id, "mid");
        // A 24 GiB GPU: the largest.
        let g = recommend(&c, &hw(32, 8, Some(24)), CatalogKind::Chat, None, None).unwrap();
        assert_eq!(g.fit.id, "big");
        assert_eq!(g.fit.gpu_layers, 48);
        // Nothing interactive (1 core): the smallest that fits, said to be slow.
        let slow = recommend(&c, &hw(24, 1, None), CatalogKind::Chat, None, None).unwrap();
        assert_eq!(slow.fit.id, "small");
        // Nothing fits.
        assert!(recommend(&c, &hw(1, 1, None), CatalogKind::Chat, None, None).is_none());
        // Language filter.
        assert!(recommend(&c, &hw(24, 2, None), CatalogKind::Chat, Some("fr"), None).is_none());
        // A research licence is never recommended, however well it fits.
        let mut research = catalog();
        research.models[0].commercial_use = false;
        let r = recommend(&research, &hw(24, 2, None), CatalogKind::Chat, None, None).unwrap();
        assert_ne!(r.fit.id, "small");
    }

    #[test]
    fn unknown_sizes_are_estimated_from_parameters() {
        let mut m = chat("x", 7_000_000_000, 28, 0);
        m.files[0].size = None;
        let (meta, exact) = metadata(&m, &m.files[0]);
        assert!(!exact);
        assert!((4_000_000_000..4_400_000_000).contains(&meta.file_size), "{}", meta.file_size);
    }

    #[test]
    fn the_shipped_catalog_has_a_recommendation_for_small_and_large_machines() {
        let c = Catalog::builtin().unwrap();
        for machine in [hw(8, 2, None), hw(24, 2, None), hw(64, 16, Some(24))] {
            for kind in [CatalogKind::Chat, CatalogKind::Embedding] {
                assert!(recommend(&c, &machine, kind, Some("zh"), None).is_some(), "{kind:?} on {machine:?}");
            }
        }
    }
}
