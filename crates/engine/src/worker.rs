//! Starting a model's worker thread: the thread owns the model, reports readiness once, then
//! serves jobs from a channel until every handle is dropped.

use std::path::{Path, PathBuf};

use lexdesk_core::EngineError;
use tokio::sync::{mpsc, oneshot};

/// Readiness report a worker sends once: what it loaded, or why it could not.
pub(crate) type Ready<I> = oneshot::Sender<Result<I, EngineError>>;

/// Spawn `<prefix>-<file stem>` running `main(path, ready, jobs)` and wait for its readiness.
pub(crate) async fn spawn<J, I>(
    prefix: &str,
    path: &Path,
    main: impl FnOnce(PathBuf, Ready<I>, mpsc::UnboundedReceiver<J>) + Send + 'static,
) -> Result<(mpsc::UnboundedSender<J>, I), EngineError>
where
    J: Send + 'static,
    I: Send + 'static,
{
    let path = path.to_path_buf();
    let (ready_tx, ready_rx) = oneshot::channel();
    let (jobs, jobs_rx) = mpsc::unbounded_channel();
    let name = path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    std::thread::Builder::new()
        .name(format!("{prefix}-{name}"))
        .spawn(move || main(path, ready_tx, jobs_rx))
        .map_err(|e| EngineError::Inference { message: format!("cannot start model thread: {e}") })?;
    let info = ready_rx.await.map_err(|_| EngineError::WorkerGone)??;
    Ok((jobs, info))
}
