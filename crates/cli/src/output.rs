//! Terminal and JSON output for the CLI (the JSON shapes are the CLI's own; the core has no
//! wire formats).

use std::io::Write;

use lexdesk_core::generate::Completion;
use lexdesk_desk::{BenchSample, DeviceInfo, Inspection, LoadedModel};
use serde::Serialize;

/// Buffered stdout that flushes streamed text at once.
pub struct Out {
    inner: std::io::Stdout,
}

impl Out {
    pub fn stdout() -> Self {
        Self { inner: std::io::stdout() }
    }

    /// Write streamed text and flush so it appears token by token.
    pub fn text(&mut self, text: &str) -> std::io::Result<()> {
        let mut lock = self.inner.lock();
        lock.write_all(text.as_bytes())?;
        lock.flush()
    }

    /// Write a line.
    pub fn line(&mut self, text: impl AsRef<str>) -> std::io::Result<()> {
        let mut lock = self.inner.lock();
        writeln!(lock, "{}", text.as_ref())
    }
}

/// The lines a person types at a chat prompt (or pipes in): `› ` is shown on a terminal, empty
/// lines are skipped, `/quit`, `/exit` and end of input stop; piped questions are echoed so that
/// the transcript reads like the terminal.
pub struct Prompter {
    lines: std::io::Lines<std::io::StdinLock<'static>>,
    interactive: bool,
}

impl Prompter {
    pub fn new() -> Self {
        use std::io::{BufRead, IsTerminal};
        Self { lines: std::io::stdin().lock().lines(), interactive: std::io::stdin().is_terminal() }
    }

    /// The next line, trimmed; `None` at the end.
    pub fn next(&mut self, out: &mut Out) -> std::io::Result<Option<String>> {
        loop {
            if self.interactive {
                eprint!("\n› ");
            }
            let Some(line) = self.lines.next().transpose()? else { return Ok(None) };
            let line = line.trim();
            match line {
                "" => continue,
                "/quit" | "/exit" => return Ok(None),
                _ => {}
            }
            if !self.interactive {
                out.line(format!("› {line}"))?;
            }
            return Ok(Some(line.to_string()));
        }
    }
}

/// Pretty JSON on its own line.
pub fn json(out: &mut Out, value: &impl Serialize) -> anyhow::Result<()> {
    out.line(serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Whether the error is a closed pipe (`lexdesk … | head`), which is not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

pub fn usage_line(c: &Completion) -> String {
    let u = &c.usage;
    format!(
        "[{:?}: {} prompt tokens ({} cached), {} generated, first token {:.0} ms, {:.1} tok/s]",
        c.finish_reason,
        u.prompt_tokens,
        u.cached_prompt_tokens,
        u.completion_tokens,
        u.time_to_first_token_ms,
        u.tokens_per_second
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

pub fn print_inspection(out: &mut Out, r: &Inspection) -> std::io::Result<()> {
    let m = &r.metadata;
    let rows = [
        ("file", m.path.display().to_string()),
        ("size", mib(m.file_size)),
        ("name", m.name.clone().unwrap_or_else(|| "-".into())),
        ("kind", format!("{:?}", m.kind).to_lowercase()),
        ("architecture", m.architecture.clone()),
        ("parameters", format!("{:.1} M", m.parameter_count as f64 / 1e6)),
        ("quantization", m.quantization.clone()),
        ("context length", format!("{} (trained), {} (would use)", m.context_length, r.context_length)),
        ("embedding size", m.embedding_length.to_string()),
        ("layers", m.block_count.to_string()),
        ("pooling", m.pooling.map_or_else(|| "-".into(), |p| format!("{p:?}").to_lowercase())),
        (
            "chat template",
            match (m.kind, m.has_chat_template) {
                (lexdesk_core::model::ModelKind::Embedding, _) => "- (embedding model)".into(),
                (_, true) => "yes".into(),
                (_, false) => "no (transcript fallback, see ARCHITECTURE.md)".into(),
            },
        ),
        (
            "memory",
            format!(
                "{} (weights {}, KV cache {}, compute {})",
                mib(r.memory.total()),
                mib(r.memory.weights),
                mib(r.memory.kv_cache),
                mib(r.memory.compute)
            ),
        ),
        ("fit", format!("{:?}", r.fit)),
    ];
    for (k, v) in rows {
        out.line(format!("{k:>15}  {v}"))?;
    }
    Ok(())
}

#[derive(Serialize)]
pub struct InspectJson<'a> {
    #[serde(flatten)]
    metadata: &'a lexdesk_core::model::ModelMetadata,
    context_length_used: u64,
    memory: lexdesk_core::model::MemoryEstimate,
    memory_total: u64,
    fit: lexdesk_core::model::FitVerdict,
}

impl<'a> From<&'a Inspection> for InspectJson<'a> {
    fn from(r: &'a Inspection) -> Self {
        Self {
            metadata: &r.metadata,
            context_length_used: r.context_length,
            memory: r.memory,
            memory_total: r.memory.total(),
            fit: r.fit,
        }
    }
}

#[derive(Serialize)]
pub struct DeviceJson {
    name: String,
    description: String,
    backend: String,
    gpu: bool,
    memory_total: u64,
    memory_free: u64,
}

impl From<&DeviceInfo> for DeviceJson {
    fn from(d: &DeviceInfo) -> Self {
        Self {
            name: d.name.clone(),
            description: d.description.clone(),
            backend: d.backend.clone(),
            gpu: d.is_gpu,
            memory_total: d.memory_total,
            memory_free: d.memory_free,
        }
    }
}

/// Bench results in llama-bench's terms (average and standard deviation of tokens/s).
#[derive(Serialize)]
pub struct BenchJson {
    pub model: String,
    pub quantization: String,
    pub threads: u32,
    pub n_prompt: u32,
    pub n_gen: u32,
    pub pp_mean: f64,
    pub pp_std: f64,
    pub tg_mean: f64,
    pub tg_std: f64,
    pub samples: Vec<[f64; 2]>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

impl BenchJson {
    pub fn new(info: &LoadedModel, samples: &[BenchSample]) -> Self {
        let pp: Vec<f64> = samples.iter().map(|s| f64::from(s.prompt_tokens) / s.prompt_seconds).collect();
        let tg: Vec<f64> = samples.iter().map(|s| f64::from(s.generated_tokens) / s.generation_seconds).collect();
        let (pp_mean, pp_std) = mean_std(&pp);
        let (tg_mean, tg_std) = mean_std(&tg);
        Self {
            model: info.metadata.name.clone().unwrap_or_else(|| info.metadata.architecture.clone()),
            quantization: info.metadata.quantization.clone(),
            threads: info.threads,
            n_prompt: samples.first().map_or(0, |s| s.prompt_tokens),
            n_gen: samples.first().map_or(0, |s| s.generated_tokens),
            pp_mean,
            pp_std,
            tg_mean,
            tg_std,
            samples: pp.into_iter().zip(tg).map(|(a, b)| [a, b]).collect(),
        }
    }
}
