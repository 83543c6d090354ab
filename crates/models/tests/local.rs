//! Discovery over the directory layouts of Ollama, LM Studio, Jan and the Hugging Face cache
//! (built here as those apps write them), and import/list/remove of local models.

use std::path::{Path, PathBuf};

use lexdesk_models::discover::{Roots, Source, discover};
use lexdesk_models::local::{self, Origin, Removed};
use lexdesk_models::{Catalog, ErrorCode};

/// A small file with the GGUF magic (discovery reads only the magic).
fn gguf(path: &Path, tag: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("GGUF\x03\0\0\0{tag}")).unwrap();
}

fn layouts(root: &Path) -> Roots {
    // Ollama: manifests name blobs by digest.
    let ollama = root.join("ollama/models");
    let digest = "sha256-1111111111111111111111111111111111111111111111111111111111111111";
    let proj = "sha256-2222222222222222222222222222222222222222222222222222222222222222";
    gguf(&ollama.join("blobs").join(digest), "qwen");
    gguf(&ollama.join("blobs").join(proj), "proj");
    std::fs::write(ollama.join("blobs/sha256-3333"), "{\"template\": \"not a model\"}").unwrap();
    let manifest = |layers: &str| format!("{{\"schemaVersion\":2,\"layers\":[{layers}]}}");
    let layer = |media: &str, d: &str| {
        format!("{{\"mediaType\":\"{media}\",\"digest\":\"{}\",\"size\":1}}", d.replacen('-', ":", 1))
    };
    let lib = ollama.join("manifests/registry.ollama.ai/library/qwen2.5");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(
        lib.join("7b"),
        manifest(
            &[
                layer("application/vnd.ollama.image.model", digest),
                layer("application/vnd.ollama.image.projector", proj),
                layer("application/vnd.ollama.image.template", "sha256-3333"),
            ]
            .join(","),
        ),
    )
    .unwrap();
    let hf = ollama.join("manifests/hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF");
    std::fs::create_dir_all(&hf).unwrap();
    // The same blob under a second name: reported once.
    std::fs::write(hf.join("Q4_K_M"), manifest(&layer("application/vnd.ollama.image.model", digest))).unwrap();
    // A manifest whose blob is gone: skipped.
    let gone = ollama.join("manifests/registry.ollama.ai/library/gone");
    std::fs::create_dir_all(&gone).unwrap();
    std::fs::write(gone.join("latest"), manifest(&layer("application/vnd.ollama.image.model", "sha256-9999"))).unwrap();

    // LM Studio: publisher/repo/file; split parts after the first are not separate models.
    let lms = root.join("lmstudio/models");
    let repo = lms.join("lmstudio-community/Qwen2.5-7B-Instruct-GGUF");
    gguf(&repo.join("Qwen2.5-7B-Instruct-Q4_K_M.gguf"), "a");
    gguf(&repo.join("mmproj-Qwen2.5-VL-7B-f16.gguf"), "b");
    gguf(&lms.join("bartowski/big/big-Q8_0-00001-of-00002.gguf"), "c");
    gguf(&lms.join("bartowski/big/big-Q8_0-00002-of-00002.gguf"), "d");
    std::fs::write(repo.join("fake.gguf"), "not a gguf").unwrap();
    std::fs::write(repo.join("README.md"), "# readme").unwrap();

    // Jan (new layout).
    let jan = root.join("Jan/data");
    gguf(&jan.join("llamacpp/models/gemma-3-4b-it/model.gguf"), "e");

    // Hugging Face cache: snapshots hold symlinks into blobs.
    let hub = root.join("hf/hub");
    let cache = hub.join("models--Qwen--Qwen2.5-1.5B-Instruct-GGUF");
    gguf(&cache.join("blobs/abcdef"), "f");
    let snap = cache.join("snapshots/0123abc");
    std::fs::create_dir_all(&snap).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../../blobs/abcdef", snap.join("qwen2.5-1.5b-instruct-q4_k_m.gguf")).unwrap();
    #[cfg(not(unix))]
    gguf(&snap.join("qwen2.5-1.5b-instruct-q4_k_m.gguf"), "f");
    std::fs::create_dir_all(hub.join("datasets--x--y/snapshots/1")).unwrap();

    Roots { ollama: vec![ollama, root.join("missing-ollama")], lm_studio: vec![lms], jan: vec![jan], hf_hub: vec![hub] }
}

#[test]
fn discovery_reads_each_apps_layout() {
    let dir = tempfile::tempdir().unwrap();
    let found = discover(&layouts(dir.path()));
    let names: Vec<(Source, &str, bool)> = found.iter().map(|d| (d.source, d.name.as_str(), d.projector)).collect();
    assert_eq!(
        names,
        vec![
            (Source::Ollama, "hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M", false),
            (Source::Ollama, "qwen2.5:7b (projector)", true),
            (Source::LmStudio, "bartowski/big/big-Q8_0-00001-of-00002.gguf", false),
            (Source::LmStudio, "lmstudio-community/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf", false),
            (Source::LmStudio, "lmstudio-community/Qwen2.5-7B-Instruct-GGUF/mmproj-Qwen2.5-VL-7B-f16.gguf", true),
            (Source::Jan, "llamacpp/models/gemma-3-4b-it/model.gguf", false),
            (Source::HuggingFace, "Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf", false),
        ],
        "the model blob shared by two Ollama names is listed once; the template layer, the missing blob, the \
         fake .gguf and the second split part are not listed"
    );
    let ollama = &found[0];
    assert!(ollama.path.ends_with("blobs/sha256-1111111111111111111111111111111111111111111111111111111111111111"));
    assert!(found.iter().all(|d| d.size > 4));
}

#[test]
fn nothing_installed_means_nothing_found() {
    let dir = tempfile::tempdir().unwrap();
    let roots = Roots {
        ollama: vec![dir.path().join("a")],
        lm_studio: vec![dir.path().join("b")],
        jan: vec![dir.path().join("c")],
        hf_hub: vec![dir.path().join("d")],
    };
    assert!(discover(&roots).is_empty());
}

#[test]
fn imported_models_are_used_in_place_and_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("home/models");
    let other_app = dir.path().join("other/qwen.gguf");
    gguf(&other_app, "x");
    let own = models.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    gguf(&own, "y");
    std::fs::write(models.join("SmolLM2-135M-Instruct.Q4_1.gguf.part"), "partial").unwrap();
    let catalog = Catalog::builtin().unwrap();

    let e = local::import(&models, &other_app, None, Some(Source::Ollama)).unwrap();
    assert_eq!(e.name, "qwen.gguf");
    assert_eq!(e.path, std::fs::canonicalize(&other_app).unwrap());
    // The same file again: the same entry; another file under a taken name: refused.
    assert_eq!(local::import(&models, &other_app, Some("other"), None).unwrap(), e);
    let second = dir.path().join("other/second.gguf");
    gguf(&second, "z");
    let err = local::import(&models, &second, Some("qwen.gguf"), None).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "hello").unwrap();
    assert_eq!(local::import(&models, &text, None, None).unwrap_err().code(), "NOT_GGUF");

    let list = local::installed(&models, std::slice::from_ref(&models), &catalog).unwrap();
    let summary: Vec<(&str, bool)> =
        list.iter().map(|m| (m.name.as_str(), matches!(m.origin, Origin::Imported { .. }))).collect();
    assert_eq!(
        summary,
        vec![("SmolLM2-135M-Instruct.Q4_1.gguf", false), ("qwen.gguf", true)],
        "partial downloads are not listed"
    );
    assert_eq!(list[0].catalog_id.as_deref(), Some("smollm2-135m-instruct"), "recognised by its catalog file name");

    // Removing an imported model forgets it; the other app's file stays.
    assert!(matches!(local::remove(&models, "qwen.gguf").unwrap(), Removed::Unregistered { .. }));
    assert!(other_app.exists());
    // Removing a downloaded one deletes it and its partial leftovers.
    assert!(matches!(local::remove(&models, "SmolLM2-135M-Instruct.Q4_1.gguf").unwrap(), Removed::Deleted { .. }));
    assert!(!own.exists());
    assert!(!models.join("SmolLM2-135M-Instruct.Q4_1.gguf.part").exists());
    let err = local::remove(&models, "qwen.gguf").unwrap_err();
    assert_eq!(err.code(), "UNKNOWN_MODEL");
    // Never outside the models folder.
    let err = local::remove(&models, &PathBuf::from("../../other/second.gguf").display().to_string()).unwrap_err();
    assert_eq!(err.code(), "UNKNOWN_MODEL");
    assert!(second.exists());
}
