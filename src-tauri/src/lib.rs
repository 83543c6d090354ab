//! The LexDesk desktop shell: Tauri commands as thin adapters over [`lexdesk_desk::Desk`].
//!
//! Each command forwards to one `Desk` method and converts its error to [`IpcError`] (stable
//! code + message). Token streams and ingestion progress travel over `tauri::ipc::Channel`,
//! batched by [`stream::Throttle`] so that a fast model does not flood the webview. The
//! TypeScript bindings in `ui/src/bindings.ts` are generated from these signatures
//! ([`bindings_builder`]); a test fails when the checked-in file is stale.

mod commands;
pub mod events;
mod stream;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use lexdesk_core::generate::CancelToken;
use lexdesk_desk::{Desk, DeskError, DeskOptions};
use serde::Serialize;
use tauri::Manager;

pub use commands::AnswerStreamEvent;

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/bindings.ts";

/// An error as the UI receives it: a kind to branch on, the stable code and a message to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct IpcError {
    /// What kind of failure it is (the same kind gives the server's HTTP status and the CLI's
    /// exit code).
    pub kind: lexdesk_core::ErrorKind,
    /// Stable code, e.g. `MATTER_EXISTS`, `NOT_GGUF`, `PASSWORD_PROTECTED`.
    pub code: String,
    /// What happened, for people.
    pub message: String,
}

impl From<DeskError> for IpcError {
    fn from(e: DeskError) -> Self {
        use lexdesk_core::ErrorCode as _;
        Self { kind: e.kind(), code: e.code().to_string(), message: e.to_string() }
    }
}

/// The app state: the one core handle, running jobs (cancellable by id), the demo folder.
#[derive(Debug)]
pub struct Shell {
    desk: Arc<Desk>,
    jobs: Mutex<HashMap<String, CancelToken>>,
    demo_dir: Option<PathBuf>,
}

impl Shell {
    /// Register a job so that `cancel_job` can stop it; the guard removes it again. A job
    /// cancelled before it started (Stop pressed while the command was still on its way) starts
    /// cancelled.
    fn job(&self, id: &str) -> JobGuard<'_> {
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let token = jobs.entry(id.to_string()).or_default().clone();
        JobGuard { shell: self, id: id.to_string(), token }
    }

    /// Cancel a job; an id not seen yet is remembered as cancelled. `false` if it was unknown.
    fn cancel(&self, id: &str) -> bool {
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = jobs.contains_key(id);
        // Bounded: ids cancelled early are few, and each is removed when its job ends.
        if known || jobs.len() < 1024 {
            jobs.entry(id.to_string()).or_default().cancel();
        }
        known
    }
}

struct JobGuard<'a> {
    shell: &'a Shell,
    id: String,
    token: CancelToken,
}

impl Drop for JobGuard<'_> {
    fn drop(&mut self) {
        self.shell.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
}

/// The command set and types the UI sees, for the invoke handler and the TypeScript export.
#[must_use]
pub fn bindings_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::app_info,
            commands::prepare_demo,
            commands::demo_matter_id,
            commands::list_matters,
            commands::create_matter,
            commands::rename_matter,
            commands::delete_matter,
            commands::list_documents,
            commands::add_documents,
            commands::retry_document,
            commands::remove_document,
            commands::matter_embedder,
            commands::reembed_matter,
            commands::get_page,
            commands::ask,
            commands::cancel_job,
            commands::list_sessions,
            commands::get_session,
            commands::rename_session,
            commands::delete_session,
            commands::export_session,
            commands::session_text,
            commands::get_settings,
            commands::update_settings,
            commands::hardware,
            commands::model_catalog,
            commands::download_model,
            commands::list_templates,
            commands::get_template,
            commands::check_template,
            commands::save_template,
            commands::duplicate_template,
            commands::delete_template,
            commands::import_template,
            commands::export_template,
            commands::render_template,
            commands::compare_templates,
            commands::list_comparisons,
            commands::get_comparison,
            commands::delete_comparison,
            commands::export_comparison,
            commands::comparison_text,
            commands::diff_runs,
            commands::discover_models,
            commands::import_model,
            commands::hub_token_status,
            commands::set_hub_token,
            commands::eval_sets,
            commands::eval_set,
            commands::eval_check_set,
            commands::eval_import_set,
            commands::eval_export_set,
            commands::eval_remove_set,
            commands::eval_run,
            commands::eval_resume,
            commands::eval_runs,
            commands::eval_report,
            commands::eval_compare,
            commands::eval_charts,
            commands::eval_export,
            commands::eval_delete,
            commands::eval_judge,
        ])
        .events(tauri_specta::collect_events![
            events::MattersChanged,
            events::DocumentsChanged,
            events::SessionsChanged,
            events::SettingsChanged,
            events::EvalsChanged,
        ])
        .error_handling(tauri_specta::ErrorHandlingMode::Throw)
        // One type per Rust type (what the commands send), not separate serialize/deserialize shapes.
        .disable_serde_phases()
        // Millisecond timestamps, byte sizes and token counts stay far below 2^53.
        .dangerously_cast_bigints_to_number()
}

/// Write the TypeScript bindings to `path`.
///
/// # Errors
/// The export failed (a type cannot be expressed, or the file cannot be written).
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    bindings_builder()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated from src-tauri by tauri-specta (cargo test -p lexdesk-desktop): do not edit.\n"),
            path,
        )
        .map_err(|e| e.to_string())
}

/// The demo documents: `LEXDESK_DEMO_DIR`, else the bundled `demo/` resource folder, else the
/// checkout's `assets/demo` (development builds).
fn demo_dir(app: &tauri::App) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("LEXDESK_DEMO_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let bundled = app.path().resource_dir().ok().map(|d| d.join("demo")).filter(|d| d.is_dir());
    bundled.or_else(|| {
        let dev = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
        dev.is_dir().then_some(dev)
    })
}

static STARTED: OnceLock<Instant> = OnceLock::new();
static REPORTED: OnceLock<()> = OnceLock::new();

/// Note the process start (call first thing in `main`).
pub fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

/// The first time the UI reports itself ready: log the start-up time, and write it to
/// `LEXDESK_STARTUP_REPORT` when set.
fn report_startup() {
    if REPORTED.set(()).is_err() {
        return;
    }
    let ms = STARTED.get().map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
    tracing::info!(ms, "window interactive");
    if let Some(path) = std::env::var_os("LEXDESK_STARTUP_REPORT") {
        let report = serde_json::json!({ "ui_ready_ms": ms, "pid": std::process::id() });
        if let Err(e) = std::fs::write(&path, report.to_string()) {
            tracing::warn!("cannot write the start-up report: {e}");
        }
    }
}

/// Start the desktop app.
///
/// # Errors
/// The data directory cannot be opened or the window cannot be created.
pub fn run(worker_program: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let home = std::env::var_os(lexdesk_core::config::ENV_HOME).filter(|h| !h.is_empty()).map(PathBuf::from);
    let desk = Arc::new(Desk::open(DeskOptions { home, worker_program })?);
    let builder = bindings_builder();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let demo_dir = demo_dir(app);
            app.manage(Shell { desk, jobs: Mutex::new(HashMap::new()), demo_dir });
            Ok(())
        })
        .run(tauri::generate_context!())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in bindings are what the Rust signatures generate. To update them:
    /// `LEXDESK_UPDATE_BINDINGS=1 cargo test -p lexdesk-desktop bindings`.
    #[test]
    fn bindings_are_fresh() {
        let checked_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        if std::env::var_os("LEXDESK_UPDATE_BINDINGS").is_some() {
            export_bindings(&checked_in).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("bindings.ts");
        export_bindings(&fresh).unwrap();
        let fresh = std::fs::read_to_string(&fresh).unwrap();
        let current = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            fresh == current,
            "ui/src/bindings.ts is stale: run `LEXDESK_UPDATE_BINDINGS=1 cargo test -p lexdesk-desktop bindings`"
        );
    }

    /// The commands live in three lists: the invoke handler (`collect_commands!`), the build
    /// script's `COMMANDS` (one permission each) and the main window's capability. They agree.
    #[test]
    fn the_three_command_lists_agree() {
        use std::collections::BTreeSet;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bindings.ts");
        export_bindings(&path).unwrap();
        let bindings = std::fs::read_to_string(&path).unwrap();
        let invoked: BTreeSet<String> = bindings
            .split("__TAURI_INVOKE<")
            .skip(1)
            .filter_map(|rest| {
                rest.split_once(">(\"").and_then(|(_, name)| name.split_once('"')).map(|(n, _)| n.to_owned())
            })
            .collect();
        let build_rs = include_str!("../build.rs");
        let listed = build_rs.split_once("const COMMANDS: &[&str] = &[").unwrap().1.split_once("];").unwrap().0;
        let built: BTreeSet<String> =
            listed.split(',').map(|s| s.trim().trim_matches('"').to_owned()).filter(|s| !s.is_empty()).collect();
        let capability: serde_json::Value = serde_json::from_str(include_str!("../capabilities/main.json")).unwrap();
        let allowed: BTreeSet<String> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect();
        assert!(invoked.len() >= 40 && invoked.contains("ask"), "{invoked:?}");
        assert_eq!(invoked, built, "collect_commands! and build.rs's COMMANDS differ");
        assert_eq!(invoked, allowed, "collect_commands! and capabilities/main.json differ");
    }

    /// The UI's tests run against a mocked shell (ui/src/test/fixtures.ts) that announces
    /// changes as the commands here do: the two tables name the same events for the same
    /// commands, so a command that starts (or stops) announcing a change fails here until the
    /// mock does too.
    #[test]
    fn the_ui_mock_announces_what_the_commands_announce() {
        use std::collections::{BTreeMap, BTreeSet};
        let kebab = |name: &str| {
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        };
        // Every function of commands.rs with the events it announces; a command also announces
        // what the private helpers it calls announce.
        let mut functions: Vec<(String, bool, String)> = Vec::new();
        for line in include_str!("commands.rs").lines() {
            let public = line.starts_with("pub ");
            let rest = line.strip_prefix("pub ").unwrap_or(line);
            if let Some(sig) = rest.strip_prefix("async fn ").or_else(|| rest.strip_prefix("fn ")) {
                functions.push((sig.split(['(', '<']).next().unwrap().to_owned(), public, String::new()));
            } else if let Some((_, _, body)) = functions.last_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
        let announced = |body: &str| -> BTreeSet<String> {
            body.split("announce(")
                .skip(1)
                .filter_map(|call| call.split_once(", &").map(|(_, e)| kebab(e.split([' ', '{', ')']).next().unwrap())))
                .collect()
        };
        let mut shell: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, _, body) in functions.iter().filter(|(_, public, _)| *public) {
            let mut events = announced(body);
            for (helper, _, helper_body) in functions.iter().filter(|(_, public, _)| !*public) {
                if body.contains(&format!("{helper}(")) {
                    events.extend(announced(helper_body));
                }
            }
            if !events.is_empty() {
                shell.insert(name.clone(), events);
            }
        }
        let fixtures = include_str!("../../ui/src/test/fixtures.ts");
        let table = fixtures.split_once("const announcements").unwrap().1.split_once("\n};").unwrap().0;
        let helpers = [
            ("documentsOf", "documents-changed"),
            ("sessionsOf", "sessions-changed"),
            ("matters", "matters-changed"),
            ("settings", "settings-changed"),
            ("evals", "evals-changed"),
        ];
        let mut mock: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in table.lines().skip(1) {
            let Some((name, handler)) = line.trim().split_once(':') else { continue };
            let events: BTreeSet<String> =
                helpers.iter().filter(|(h, _)| handler.contains(h)).map(|(_, e)| (*e).to_owned()).collect();
            mock.insert(name.trim().to_owned(), events);
        }
        assert!(shell.len() >= 12 && shell.contains_key("ask"), "{shell:?}");
        assert_eq!(shell, mock, "src-tauri/src/commands.rs and ui/src/test/fixtures.ts announce differently");
    }

    #[test]
    fn errors_reach_the_ui_with_their_kind() {
        let e = IpcError::from(DeskError::DocumentNotFound("a.pdf".into()));
        assert_eq!((e.kind, e.code.as_str()), (lexdesk_core::ErrorKind::NotFound, "DOCUMENT_NOT_FOUND"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "not_found");
    }

    #[test]
    fn a_job_cancelled_before_it_starts_starts_cancelled() {
        let home = tempfile::tempdir().unwrap();
        let desk = Desk::open(DeskOptions { home: Some(home.path().into()), worker_program: "x".into() }).unwrap();
        let shell = Shell { desk: Arc::new(desk), jobs: Mutex::new(HashMap::new()), demo_dir: None };
        assert!(!shell.cancel("early"), "not running yet");
        {
            let job = shell.job("early");
            assert!(job.token.is_cancelled());
            let other = shell.job("later");
            assert!(!other.token.is_cancelled());
            assert!(shell.cancel("later"));
            assert!(other.token.is_cancelled());
        }
        assert!(shell.jobs.lock().unwrap().is_empty(), "finished jobs are forgotten");
    }

    #[test]
    fn errors_keep_their_code() {
        let e = IpcError::from(DeskError::EmptyQuestion);
        assert_eq!(e.code, "EMPTY_QUERY");
        assert_eq!(e.message, "the question is empty");
    }
}
