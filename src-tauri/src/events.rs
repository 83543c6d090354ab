//! What changed, announced to the UI: typed events (tauri-specta) after which the UI's query
//! layer refetches the affected lists (`ui/src/lib/queries.ts`). The UI never refetches by
//! itself after a command; whoever changes the data (a command, an ingestion in progress, the
//! first-run demo) says so here.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime};
use tauri_specta::Event;

/// Matters were created, renamed or deleted (or the demo matter was prepared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct MattersChanged {}

/// A matter's documents changed: added, indexed, failed, retried or removed (announced after
/// each finished file of an ingestion, each committed batch, and the run's end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct DocumentsChanged {
    /// The matter.
    pub matter_id: String,
}

/// A matter's chat sessions changed: a turn was saved, a session renamed or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct SessionsChanged {
    /// The matter.
    pub matter_id: String,
}

/// Settings or the models to choose from changed (saved settings, a download, an import, the
/// hub token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct SettingsChanged {}

/// Gold sets or evaluation runs changed: a set imported or removed, a run started, an item of
/// a run finished (at most a few times a second), a run ended or was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct EvalsChanged {
    /// The run whose results changed (`None`: the sets, or the list of runs).
    pub run_id: Option<String>,
}

/// Announce `event`; a window that is gone is not an error of the command that changed the data.
pub fn announce<R: Runtime, E: Event + Serialize + Clone>(app: &AppHandle<R>, event: &E) {
    if let Err(e) = event.emit(app) {
        tracing::debug!("cannot announce a change to the UI: {e}");
    }
}
