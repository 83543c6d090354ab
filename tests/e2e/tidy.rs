//! The front-end boundary (ARCHITECTURE.md, "Invariants"): the CLI, the server and the desktop
//! shell reach the engine, the store, ingestion, the service, the model catalog and the
//! templates only through the desk. Read from the `Cargo.toml`s, so a front end that gains such
//! a dependency fails here.

use std::collections::BTreeSet;
use std::path::Path;

/// Crates that hold behaviour a front end must reach through `lexdesk-desk`.
const BEHIND_THE_DESK: &[&str] =
    &["lexdesk-engine", "lexdesk-store", "lexdesk-ingest", "lexdesk-service", "lexdesk-models", "lexdesk-templates"];

/// Dependencies a front end still has on the crates behind the desk, to be moved behind it:
/// none today. Kept so that a later exception is written down here, where it is seen.
const DEBT: &[(&str, &[&str])] = &[];

fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    doc.get("dependencies").and_then(toml::Value::as_table).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn front_ends_reach_the_lower_crates_only_through_the_desk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for front_end in ["crates/cli", "crates/server", "src-tauri"] {
        let deps = dependencies(&root.join(front_end).join("Cargo.toml"));
        assert!(deps.contains("lexdesk-desk"), "{front_end} goes through the desk");
        let debt: BTreeSet<&str> =
            DEBT.iter().find(|(f, _)| *f == front_end).map(|(_, d)| d.iter().copied().collect()).unwrap_or_default();
        let behind: BTreeSet<&str> = BEHIND_THE_DESK.iter().copied().filter(|c| deps.contains(*c)).collect();
        let gained: Vec<_> = behind.difference(&debt).collect();
        assert!(gained.is_empty(), "{front_end} depends on {gained:?}: reach them through lexdesk-desk");
        let paid: Vec<_> = debt.difference(&behind).collect();
        assert!(paid.is_empty(), "{front_end} no longer depends on {paid:?}: remove them from DEBT");
    }
    // The boundary itself: the desk is where those crates meet.
    let desk = dependencies(&root.join("crates/desk/Cargo.toml"));
    assert!(BEHIND_THE_DESK.iter().all(|c| desk.contains(*c)), "{desk:?}");
}
