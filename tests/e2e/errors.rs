//! Bad model files and impossible settings give typed errors, and the process keeps working.

use std::io::Write;

use lexdesk_core::EngineError;
use lexdesk_core::generate::{GenerateRequest, Generator};
use lexdesk_core::model::{FreeMemory, LoadOptions};
use lexdesk_e2e::{block_on, chat_model, embed_model};
use lexdesk_engine::{ChatModel, EmbeddingModel, gguf, preflight};

fn options() -> LoadOptions {
    LoadOptions::default()
}

#[test]
fn bad_files_give_typed_errors_and_the_process_survives() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // A real model cut in half, as an interrupted download leaves it.
    let real = std::fs::read(chat_model()).unwrap();
    let half = write("half.gguf", &real[..real.len() / 2]);
    // Header intact but metadata cut off.
    let header_only = write("header.gguf", &real[..4096]);
    let pdf = write("statute.gguf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n");
    let text = write("notes.gguf", b"These are my notes, not a model.\n");
    let empty = write("empty.gguf", b"");

    block_on(async {
        let load = |p: std::path::PathBuf| ChatModel::load(p, options());
        assert!(
            matches!(load(half.clone()).await, Err(EngineError::Truncated { expected, actual, .. }) if expected > actual)
        );
        assert!(matches!(
            load(header_only).await,
            Err(EngineError::CorruptModel { .. } | EngineError::Truncated { .. })
        ));
        assert!(matches!(load(pdf).await, Err(EngineError::NotGguf { detected, .. }) if detected.contains("PDF")));
        assert!(matches!(load(text).await, Err(EngineError::NotGguf { detected, .. }) if detected.contains("text")));
        assert!(matches!(load(empty).await, Err(EngineError::NotGguf { .. })));
        assert!(matches!(load(dir.path().join("nope.gguf")).await, Err(EngineError::ModelNotFound { .. })));

        // The wrong kind of model for the job.
        let err = ChatModel::load(embed_model(), options()).await.unwrap_err();
        assert!(matches!(&err, EngineError::NotAChatModel { architecture, .. } if architecture == "bert"), "{err}");
        let err = EmbeddingModel::load(chat_model(), options()).await.unwrap_err();
        assert!(
            matches!(&err, EngineError::NotAnEmbeddingModel { architecture, .. } if architecture == "llama"),
            "{err}"
        );

        // After all that, a good model still loads and generates in this process.
        let model = ChatModel::load(chat_model(), options()).await.unwrap();
        let mut req = GenerateRequest::raw("The court held that");
        req.max_tokens = 3;
        assert_eq!(model.generate(req).unwrap().collect().await.unwrap().usage.completion_tokens, 3);
    });
}

#[test]
fn an_impossible_context_is_refused_before_loading() {
    block_on(async {
        let err = ChatModel::load(chat_model(), LoadOptions { context_length: Some(1_000_000), ..options() })
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::ContextTooLarge { requested: 1_000_000, max: 8192 }), "{err}");
    });
    // The preflight with this real model's metadata against a small machine: refused, with the
    // breakdown, before llama.cpp allocates anything.
    let meta = gguf::read_metadata(&chat_model()).unwrap();
    let small = FreeMemory { ram: 600 << 20, gpu: None };
    let err = preflight::check_memory(&meta, 8192, 512, &options(), small).unwrap_err();
    assert!(matches!(err, EngineError::InsufficientMemory { .. }), "{err}");
    assert!(err.to_string().contains("KV cache"), "{err}");
    assert!(preflight::check_memory(&meta, 2048, 512, &options(), FreeMemory { ram: 8 << 30, gpu: None }).is_ok());
}

#[test]
fn metadata_of_the_real_models() {
    let chat = gguf::read_metadata(&chat_model()).unwrap();
    assert_eq!(chat.architecture, "llama");
    assert_eq!(chat.quantization, "Q4_1");
    assert_eq!(chat.context_length, 8192);
    assert_eq!((chat.embedding_length, chat.block_count, chat.head_count, chat.head_count_kv), (576, 30, 9, 3));
    assert!(chat.has_chat_template);
    assert!((130_000_000..140_000_000).contains(&chat.parameter_count), "{}", chat.parameter_count);
    assert_eq!(chat.file_size, 98_362_432);

    let embed = gguf::read_metadata(&embed_model()).unwrap();
    assert_eq!((embed.architecture.as_str(), embed.quantization.as_str()), ("bert", "Q8_0"));
    assert_eq!((embed.embedding_length, embed.context_length), (384, 512));
    assert_eq!(embed.pooling, Some(lexdesk_core::model::Pooling::Mean));
    assert_eq!(embed.kind, lexdesk_core::model::ModelKind::Embedding);
    assert!(!embed.causal_attention);

    // The inspection API used by `lexdesk models inspect`.
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"GGUF").unwrap();
    assert!(lexdesk_engine::inspect(f.path(), &options()).is_err());
    let r = lexdesk_engine::inspect(&chat_model(), &options()).unwrap();
    assert_eq!(r.context_length, 8192);
    assert!(r.memory.kv_cache > 0);
}
