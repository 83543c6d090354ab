//! The files behind the paths a user drops or names: files as given, folders walked recursively.

use std::path::{Path, PathBuf};

/// One file to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file.
    pub path: PathBuf,
    /// Named directly (an unreadable format is then an error); else found in a folder (an
    /// unreadable format is skipped).
    pub explicit: bool,
}

/// Files the operating system or Office leave in folders; never documents.
fn is_junk(name: &str) -> bool {
    name.starts_with('.') || name.starts_with("~$") || matches!(name, "Thumbs.db" | "desktop.ini" | "Icon\r")
}

/// Expand `paths`: files as given, folders recursively in name order, hidden entries and
/// system junk skipped, symbolic links not followed, each file once.
#[must_use]
pub fn collect(paths: &[PathBuf]) -> Vec<Input> {
    let mut out: Vec<Input> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let walker = walkdir::WalkDir::new(path).follow_links(false).sort_by_file_name().into_iter();
            for entry in walker.filter_entry(|e| e.depth() == 0 || !is_junk(&e.file_name().to_string_lossy())) {
                match entry {
                    Ok(e) if e.file_type().is_file() => out.push(Input { path: e.into_path(), explicit: false }),
                    Ok(_) => {}
                    // An unreadable folder entry: report it as an explicit input so it fails visibly.
                    Err(e) => out
                        .push(Input { path: e.path().map_or_else(|| path.clone(), Path::to_path_buf), explicit: true }),
                }
            }
        } else {
            out.push(Input { path: path.clone(), explicit: true });
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(std::fs::canonicalize(&i.path).unwrap_or_else(|_| i.path.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_recursively_without_junk_and_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/nested")).unwrap();
        std::fs::create_dir_all(d.join(".git")).unwrap();
        for f in ["a.pdf", "b/c.txt", "b/nested/d.docx", ".DS_Store", "~$draft.docx", ".git/config", "Thumbs.db"] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        let inputs = collect(&[d.to_path_buf(), d.join("a.pdf")]);
        let names: Vec<String> =
            inputs.iter().map(|i| i.path.strip_prefix(d).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.pdf", "b/c.txt", "b/nested/d.docx"]);
        assert!(inputs.iter().all(|i| !i.explicit), "a.pdf was found in the folder first");
        let missing = collect(&[d.join("missing.pdf")]);
        assert!(missing[0].explicit);
    }
}
