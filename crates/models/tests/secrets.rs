//! Secrets: the encrypted-file fallback, and the real OS keychain.
//!
//! `tests/run.sh` runs this file a second time inside `dbus-run-session` with an unlocked
//! `gnome-keyring-daemon` and `LEXDESK_TEST_SECRET_SERVICE=1`: there the keychain must be the
//! Secret Service and round-trip a value. Where no keychain is reachable (no session bus) the
//! test checks the other half of the contract: no silent in-memory store — without a passphrase
//! LexDesk refuses, with one it uses the encrypted file and warns.

use lexdesk_models::ErrorCode;
use lexdesk_models::secrets::{Backend, ENV_PASSPHRASE, Secrets};
use zeroize::Zeroizing;

#[test]
fn the_encrypted_file_round_trips_and_hides_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.json.enc");
    let store = Secrets::encrypted_file(path.clone(), Zeroizing::new("correct horse".into()));
    assert_eq!(store.get("huggingface-token").unwrap(), None);
    store.set("huggingface-token", "hf_SECRETVALUE123").unwrap();
    store.set("remote:vllm", "sk-other").unwrap();
    assert_eq!(store.get("huggingface-token").unwrap().as_deref().map(String::as_str), Some("hf_SECRETVALUE123"));
    assert_eq!(store.names().unwrap().unwrap(), vec!["huggingface-token".to_owned(), "remote:vllm".to_owned()]);

    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains("hf_SECRETVALUE123") && !raw.contains("huggingface-token"), "names and values are encrypted");
    assert!(raw.contains("argon2id") && raw.contains("xchacha20poly1305"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Another process with the same passphrase reads it; a wrong passphrase is told so.
    let again = Secrets::encrypted_file(path.clone(), Zeroizing::new("correct horse".into()));
    assert_eq!(again.get("remote:vllm").unwrap().as_deref().map(String::as_str), Some("sk-other"));
    let wrong = Secrets::encrypted_file(path.clone(), Zeroizing::new("wrong".into()));
    assert_eq!(wrong.get("remote:vllm").unwrap_err().code(), "SECRETS_DECRYPT");
    assert_eq!(
        wrong.set("x", "y").unwrap_err().code(),
        "SECRETS_DECRYPT",
        "a wrong passphrase never overwrites the file"
    );

    assert!(again.delete("remote:vllm").unwrap());
    assert!(!again.delete("remote:vllm").unwrap());
    assert_eq!(store.get("remote:vllm").unwrap(), None);
    assert_eq!(store.set("Bad Name", "v").unwrap_err().code(), "INVALID_ARGUMENT");

    std::fs::write(&path, "garbage").unwrap();
    assert_eq!(store.get("huggingface-token").unwrap_err().code(), "SECRETS_INVALID");
}

#[test]
fn keychain_round_trip_or_explicit_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let expect_secret_service = std::env::var("LEXDESK_TEST_SECRET_SERVICE").is_ok_and(|v| v == "1");
    match Secrets::keychain() {
        Ok(store) => {
            assert_eq!(store.backend(), &Backend::Keychain);
            let name = format!("test:{}", std::process::id());
            store.set(&name, "s3cr3t-for-the-test").unwrap();
            let fresh = Secrets::open_with(dir.path(), None, "").unwrap();
            assert_eq!(fresh.backend(), &Backend::Keychain, "the keychain is preferred when it exists");
            assert!(fresh.warning().is_none());
            assert_eq!(fresh.get(&name).unwrap().as_deref().map(String::as_str), Some("s3cr3t-for-the-test"));
            assert!(fresh.delete(&name).unwrap());
            assert_eq!(fresh.get(&name).unwrap(), None);
            assert!(!dir.path().join("secrets.json.enc").exists(), "nothing went to the fallback file");
            return;
        }
        Err(e) => assert!(!expect_secret_service, "the Secret Service started by tests/run.sh must be reachable: {e}"),
    }
    // No Secret Service here: the keychain reported itself unavailable instead of pretending.
    // Without a passphrase: refused, saying what to do.
    let err = Secrets::open_with(dir.path(), None, "").unwrap_err();
    assert_eq!(err.code(), "NO_SECRET_STORE");
    assert!(err.to_string().contains(ENV_PASSPHRASE), "{err}");
    // Insisting on the keychain: refused too.
    let pass = || Some(Zeroizing::new("pass".to_owned()));
    assert_eq!(Secrets::open_with(dir.path(), pass(), "keychain").unwrap_err().code(), "NO_SECRET_STORE");
    // With a passphrase: the encrypted file, and a warning.
    let store = Secrets::open_with(dir.path(), pass(), "").unwrap();
    assert_eq!(store.backend(), &Backend::EncryptedFile(dir.path().join("secrets.json.enc")));
    assert!(store.warning().unwrap().contains("encrypted file"));
    store.set("huggingface-token", "hf_x").unwrap();
    assert!(dir.path().join("secrets.json.enc").exists());
}

#[test]
fn the_file_can_be_chosen_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Secrets::open_with(dir.path(), None, "file").unwrap_err().code(), "NO_SECRET_STORE");
    let s = Secrets::open_with(dir.path(), Some(Zeroizing::new("p".into())), "file").unwrap();
    assert!(matches!(s.backend(), Backend::EncryptedFile(_)));
    assert!(s.warning().is_none(), "a chosen file is not a fallback");
}
