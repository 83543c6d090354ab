// App commands are listed so that each gets its own permission (`allow-<command>`), and the
// main window's capability (capabilities/main.json) grants exactly those the UI uses.
const COMMANDS: &[&str] = &[
    "app_info",
    "prepare_demo",
    "list_matters",
    "create_matter",
    "rename_matter",
    "delete_matter",
    "list_documents",
    "add_documents",
    "retry_document",
    "remove_document",
    "get_page",
    "ask",
    "cancel_job",
    "list_sessions",
    "get_session",
    "rename_session",
    "delete_session",
    "export_session",
    "session_text",
    "get_settings",
    "update_settings",
    "hardware",
    "model_catalog",
    "download_model",
];

fn main() {
    let attributes = tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
