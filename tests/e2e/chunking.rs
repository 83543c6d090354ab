//! Chunking real statutes with the embedding model's real tokenizer.

use lexdesk_e2e::{embed_tokenizer, shared_dir};
use lexdesk_ingest::structure::{LineKind, classify};
use lexdesk_ingest::{ChunkConfig, HfTokenCounter, PageText, TokenCounter, chunk_document};

#[test]
fn the_civil_code_contract_book_becomes_addressable_chunks_within_the_budget() {
    let text = std::fs::read_to_string(shared_dir().join("data/corpus/zh-laws/民法典/合同编.md")).unwrap();
    let counter = HfTokenCounter::from_file(&embed_tokenizer()).unwrap();
    let config = ChunkConfig::default();
    let chunks = chunk_document(None, &[PageText { number: 1, text: &text }], &counter, &config);

    // Token counts are exact for the embedder and within the budget (so nothing is truncated).
    // The file pads and truncates to 128 tokens (sentence-transformers' setting); count plainly.
    let mut raw = tokenizers::Tokenizer::from_file(embed_tokenizer()).unwrap();
    raw.with_padding(None).with_truncation(None).unwrap();
    for c in &chunks {
        let exact = raw.encode(c.embed_text(), true).unwrap().len();
        assert_eq!(c.tokens, exact, "{:?}", c.heading_path);
        assert!(c.tokens <= config.max_tokens, "{} tokens in {:?}", c.tokens, c.heading_path);
        assert_eq!(c.heading_path[0], "中华人民共和国民法典", "the law's title heads every path");
    }

    // Every article is addressable: its first line lies in a chunk whose path ends with its
    // label, or with a merged range of short articles.
    let mut articles = 0;
    for line in text.lines() {
        let LineKind::Unit { label } = classify(line) else { continue };
        articles += 1;
        let head: String = line.chars().take(30).collect();
        let holder = chunks.iter().find(|c| c.text.contains(&head)).unwrap_or_else(|| panic!("no chunk holds {label}"));
        let last = holder.heading_path.last().unwrap();
        assert!(last == &label || last.contains('–'), "{label} is in a chunk labelled {last}");
    }
    assert!(articles > 500, "合同编 has 526 articles, found {articles}");

    // Chunks of articles end at sentence or clause ends, never mid-sentence.
    for c in chunks.iter().filter(|c| c.heading_path.last().is_some_and(|l| l.ends_with('条'))) {
        let end = c.text.chars().last().unwrap();
        assert!("。；：！？”）".contains(end), "ends mid-sentence: {:?}", c.text);
    }
    // Headings: chapter paths are kept (合同编 › 第一分编 通则 › 第一章 一般规定).
    let first_article = chunks.iter().find(|c| c.text.starts_with("第四百六十三条")).unwrap();
    assert!(first_article.heading_path.iter().any(|h| h.contains("一般规定")), "{:?}", first_article.heading_path);
    let counter_ref: &dyn TokenCounter = &counter;
    assert_eq!(counter_ref.overhead(), 2, "[CLS] and [SEP]");
}
