//! Stage 3: completed documents (and failed files' records) written to the store in batches.

use lexdesk_core::store::{ChunkStore, DocumentRecord, DocumentWrite, StoreError};

use super::IngestEvent;

#[derive(Default)]
pub(super) struct Pending {
    pub(super) writes: Vec<DocumentWrite>,
    pub(super) failed: Vec<DocumentRecord>,
    pub(super) chunks: usize,
}

pub(super) async fn flush<S: ChunkStore>(
    store: &S,
    pending: &mut Pending,
    on_event: &mut impl FnMut(IngestEvent),
) -> Result<(), StoreError> {
    let failed = std::mem::take(&mut pending.failed);
    if !failed.is_empty() {
        store.record_failed(failed).await?;
    }
    let writes = std::mem::take(&mut pending.writes);
    let chunks = std::mem::take(&mut pending.chunks);
    if !writes.is_empty() {
        let documents = writes.len();
        store.write(writes).await?;
        on_event(IngestEvent::Committed { documents, chunks });
    }
    Ok(())
}
