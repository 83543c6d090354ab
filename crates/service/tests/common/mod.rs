//! An ingestion token counter for the service's pipeline tests (the fakes of the core traits
//! are lexdesk-test-support's).

pub struct WordCounter;

impl lexdesk_ingest::TokenCounter for WordCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count() + text.chars().filter(|c| !c.is_ascii()).count()
    }
    fn overhead(&self) -> usize {
        2
    }
}
