//! The chat and embedding engines a desk answers with: a local GGUF model on its own engine
//! thread, or a remote OpenAI-compatible endpoint (`[remote.chat]`, `[remote.embed]`).

use lexdesk_core::EngineError;
use lexdesk_core::embed::{EmbedRole, Embedder, Embedding};
use lexdesk_core::generate::{GenerateRequest, GenerationStream, Generator, Prompt, RenderedPrompt};
use lexdesk_core::model::EmbedLanguages;
use lexdesk_engine::{BenchSample, ChatModel, EmbeddingModel, LoadedModel};
use lexdesk_remote::{RemoteEmbedder, RemoteGenerator};

/// A chat model: local or remote.
#[derive(Debug, Clone)]
pub enum ChatEngine {
    /// A GGUF model through llama.cpp.
    Local(ChatModel),
    /// An OpenAI-compatible endpoint.
    Remote(RemoteGenerator),
}

impl ChatEngine {
    /// The id clients name it by: the GGUF file name without `.gguf`, or the remote model name.
    #[must_use]
    pub fn id(&self) -> String {
        match self {
            Self::Local(m) => file_id(&m.info().metadata.path),
            Self::Remote(r) => r.options().model.clone(),
        }
    }

    /// For people: the file name, or `model @ url`.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::Local(m) => {
                m.info().metadata.path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned())
            }
            Self::Remote(r) => r.name(),
        }
    }
}

impl ChatEngine {
    /// A local model's file, architecture, context and threads; `None` for a remote engine.
    #[must_use]
    pub fn info(&self) -> Option<&LoadedModel> {
        match self {
            Self::Local(m) => Some(m.info()),
            Self::Remote(_) => None,
        }
    }

    /// One llama-bench style measurement: prompt processing of `prompt_tokens` and generation
    /// of `generated_tokens` tokens.
    ///
    /// # Errors
    /// A remote engine (benchmarks measure this machine), or the engine failed.
    pub async fn bench(&self, prompt_tokens: u32, generated_tokens: u32) -> Result<BenchSample, crate::DeskError> {
        match self {
            Self::Local(m) => Ok(m.bench(prompt_tokens, generated_tokens).await?),
            Self::Remote(r) => Err(crate::DeskError::InvalidArgument(format!(
                "benchmarks measure a local model; the chat model is the remote {}",
                r.name()
            ))),
        }
    }

    /// Forget the prompt cache (local models), so the next generation evaluates its whole
    /// prompt; remote engines keep their own cache and are left alone.
    ///
    /// # Errors
    /// The local engine thread is gone.
    pub fn clear_cache(&self) -> Result<(), EngineError> {
        match self {
            Self::Local(m) => m.clear_cache(),
            Self::Remote(_) => Ok(()),
        }
    }
}

impl Generator for ChatEngine {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, EngineError> {
        match self {
            Self::Local(m) => m.generate(request),
            Self::Remote(r) => r.generate(request),
        }
    }

    async fn render(&self, prompt: &Prompt) -> Result<RenderedPrompt, EngineError> {
        match self {
            Self::Local(m) => m.render(prompt).await,
            Self::Remote(r) => r.render(prompt).await,
        }
    }

    fn context_length(&self) -> u32 {
        match self {
            Self::Local(m) => m.context_length(),
            Self::Remote(r) => r.context_length(),
        }
    }
}

/// An embedding model: local or remote.
#[derive(Debug, Clone)]
pub enum EmbedEngine {
    /// A GGUF model through llama.cpp.
    Local(EmbeddingModel),
    /// An OpenAI-compatible endpoint.
    Remote(RemoteEmbedder),
}

impl EmbedEngine {
    /// The id clients name it by.
    #[must_use]
    pub fn id(&self) -> String {
        match self {
            Self::Local(m) => file_id(&m.info().metadata.path),
            Self::Remote(r) => r.id(),
        }
    }
}

impl Embedder for EmbedEngine {
    fn dimensions(&self) -> usize {
        match self {
            Self::Local(m) => m.dimensions(),
            Self::Remote(r) => r.dimensions(),
        }
    }

    fn languages(&self) -> EmbedLanguages {
        match self {
            Self::Local(m) => m.languages(),
            Self::Remote(r) => r.languages(),
        }
    }

    fn relevance_floor(&self) -> f32 {
        match self {
            Self::Local(m) => m.relevance_floor(),
            Self::Remote(r) => r.relevance_floor(),
        }
    }

    async fn embed(&self, texts: Vec<String>, role: EmbedRole) -> Result<Vec<Embedding>, EngineError> {
        match self {
            Self::Local(m) => m.embed(texts, role).await,
            Self::Remote(r) => r.embed(texts, role).await,
        }
    }
}

/// A GGUF file's id: its name without `.gguf`.
#[must_use]
pub fn file_id(path: &std::path::Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_suffix(".gguf").map(str::to_owned).unwrap_or(name)
}
