//! Secrets (the Hugging Face token, remote-endpoint API keys) in the OS keychain.
//!
//! The keychain is macOS Keychain Services, the Windows Credential Manager, or the Secret
//! Service (GNOME Keyring, KWallet) on Linux, through `keyring` 4 — whose store is always a real
//! platform store: it has no silent in-memory fallback. When no keychain is reachable (a Linux
//! server without a session bus or Secret Service), LexDesk uses an **encrypted file** instead,
//! only if the user gives a passphrase (`LEXDESK_SECRETS_PASSPHRASE`), and says so with a
//! warning; without one it refuses with `NO_SECRET_STORE`. `LEXDESK_SECRETS=file` chooses the
//! file even where a keychain exists (a headless server whose operators prefer it).
//!
//! The file (`$LEXDESK_HOME/secrets.json.enc`, mode 0600) holds the whole name→value map as one
//! XChaCha20-Poly1305 ciphertext under a key derived from the passphrase with Argon2id (salt
//! per file, fresh nonce per write; the KDF parameters are stored with it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{ModelsError, io};

/// The keychain service name entries are stored under.
pub const SERVICE: &str = "LexDesk";
/// The passphrase of the encrypted-file fallback.
pub const ENV_PASSPHRASE: &str = "LEXDESK_SECRETS_PASSPHRASE";
/// `file` forces the encrypted file, `keychain` forbids the fallback.
pub const ENV_BACKEND: &str = "LEXDESK_SECRETS";
/// The Hugging Face access token's secret name.
pub const HF_TOKEN: &str = "huggingface-token";

/// The Hugging Face token: `HF_TOKEN` (as Hugging Face's own tools read it), else the one
/// stored as [`HF_TOKEN`] in this home's secret store. `None` when there is none or no store is
/// usable: public models need no token, and a gated one fails with a message that says how to
/// store it.
#[must_use]
pub fn hub_token(home: &Path) -> Option<String> {
    if let Some(t) = std::env::var("HF_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        return Some(t);
    }
    let token = Secrets::open(home).ok()?.get(HF_TOKEN).ok().flatten()?;
    Some(token.as_str().to_owned())
}

/// Where secrets are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The OS keychain.
    Keychain,
    /// The encrypted file at this path.
    EncryptedFile(PathBuf),
}

/// The secret store LexDesk uses on this machine.
#[derive(Debug)]
pub struct Secrets {
    backend: Backend,
    passphrase: Option<Zeroizing<String>>,
    warning: Option<String>,
}

impl Secrets {
    /// Choose the store for `home`: the keychain if it is reachable, else the encrypted file when
    /// a passphrase is set (with a warning), else an error that says what to do.
    ///
    /// # Errors
    /// [`ModelsError::NoSecretStore`].
    pub fn open(home: &Path) -> Result<Self, ModelsError> {
        let passphrase = std::env::var(ENV_PASSPHRASE).ok().filter(|p| !p.is_empty()).map(Zeroizing::new);
        Self::open_with(home, passphrase, &std::env::var(ENV_BACKEND).unwrap_or_default())
    }

    /// [`Secrets::open`] with the passphrase and the backend choice (`file`, `keychain` or
    /// empty) given instead of read from the environment.
    ///
    /// # Errors
    /// [`ModelsError::NoSecretStore`].
    pub fn open_with(home: &Path, passphrase: Option<Zeroizing<String>>, choice: &str) -> Result<Self, ModelsError> {
        let file = lexdesk_core::config::Home::at(home).secrets_file();
        if choice == "file" {
            let passphrase = passphrase.ok_or_else(|| {
                ModelsError::NoSecretStore(format!("{ENV_BACKEND}=file needs a passphrase in {ENV_PASSPHRASE}"))
            })?;
            return Ok(Self::encrypted_file(file, passphrase));
        }
        match keychain_status() {
            Ok(()) => Ok(Self { backend: Backend::Keychain, passphrase: None, warning: None }),
            Err(why) if choice == "keychain" => {
                Err(ModelsError::NoSecretStore(format!("the OS keychain is not available: {why}")))
            }
            Err(why) => match passphrase {
                Some(p) => {
                    let mut s = Self::encrypted_file(file.clone(), p);
                    s.warning = Some(format!(
                        "the OS keychain is not available ({why}); secrets are kept in the encrypted file {}",
                        file.display()
                    ));
                    Ok(s)
                }
                None => Err(ModelsError::NoSecretStore(format!(
                    "the OS keychain is not available ({why}); start a Secret Service (e.g. GNOME Keyring) or set \
                     {ENV_PASSPHRASE} to keep secrets in the encrypted file {}",
                    file.display()
                ))),
            },
        }
    }

    /// The OS keychain, or an error if it is not reachable.
    ///
    /// # Errors
    /// [`ModelsError::NoSecretStore`].
    pub fn keychain() -> Result<Self, ModelsError> {
        keychain_status()
            .map_err(|why| ModelsError::NoSecretStore(format!("the OS keychain is not available: {why}")))?;
        Ok(Self { backend: Backend::Keychain, passphrase: None, warning: None })
    }

    /// The encrypted file at `path` with this passphrase.
    #[must_use]
    pub fn encrypted_file(path: PathBuf, passphrase: Zeroizing<String>) -> Self {
        Self { backend: Backend::EncryptedFile(path), passphrase: Some(passphrase), warning: None }
    }

    /// Which store this is.
    #[must_use]
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// A warning to show (the fallback is in use), if any.
    #[must_use]
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Store `value` under `name`.
    ///
    /// # Errors
    /// Invalid name, keychain failure, file I/O or decryption failure.
    pub fn set(&self, name: &str, value: &str) -> Result<(), ModelsError> {
        check_name(name)?;
        if value.is_empty() {
            return Err(ModelsError::Invalid("a secret cannot be empty".into()));
        }
        match &self.backend {
            Backend::Keychain => entry(name)?.set_password(value).map_err(keychain_err),
            Backend::EncryptedFile(path) => {
                let mut map = self.read_file(path)?;
                map.insert(name.to_owned(), value.to_owned());
                self.write_file(path, &map)
            }
        }
    }

    /// The value under `name`, if any.
    ///
    /// # Errors
    /// Invalid name, keychain failure, file I/O or decryption failure.
    pub fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>, ModelsError> {
        check_name(name)?;
        match &self.backend {
            Backend::Keychain => match entry(name)?.get_password() {
                Ok(v) => Ok(Some(Zeroizing::new(v))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(keychain_err(e)),
            },
            Backend::EncryptedFile(path) => Ok(self.read_file(path)?.get(name).map(|v| Zeroizing::new(v.clone()))),
        }
    }

    /// Remove `name`; whether it existed.
    ///
    /// # Errors
    /// Invalid name, keychain failure, file I/O or decryption failure.
    pub fn delete(&self, name: &str) -> Result<bool, ModelsError> {
        check_name(name)?;
        match &self.backend {
            Backend::Keychain => match entry(name)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(keychain_err(e)),
            },
            Backend::EncryptedFile(path) => {
                let mut map = self.read_file(path)?;
                let existed = map.remove(name).is_some();
                if existed {
                    self.write_file(path, &map)?;
                }
                Ok(existed)
            }
        }
    }

    /// The names stored in the encrypted file (the keychain does not list by service; `None`).
    ///
    /// # Errors
    /// File I/O or decryption failure.
    pub fn names(&self) -> Result<Option<Vec<String>>, ModelsError> {
        match &self.backend {
            Backend::Keychain => Ok(None),
            Backend::EncryptedFile(path) => Ok(Some(self.read_file(path)?.into_keys().collect())),
        }
    }

    fn passphrase(&self) -> &str {
        self.passphrase.as_deref().map_or("", String::as_str)
    }

    fn read_file(&self, path: &Path) -> Result<BTreeMap<String, String>, ModelsError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io(path)(e)),
        };
        let invalid = |reason: String| ModelsError::SecretsInvalid { path: path.to_path_buf(), reason };
        let file: SecretsFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if file.format != 1 || file.cipher != CIPHER || file.kdf.algorithm != KDF {
            return Err(invalid(format!(
                "unsupported format {} / {} / {}",
                file.format, file.cipher, file.kdf.algorithm
            )));
        }
        let decode = |s: &str| B64.decode(s).map_err(|e| invalid(e.to_string()));
        let salt = decode(&file.kdf.salt)?;
        let nonce =
            XNonce::try_from(decode(&file.nonce)?.as_slice()).map_err(|_| invalid("bad nonce length".into()))?;
        let key = derive_key(self.passphrase(), &salt, &file.kdf)?;
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new(&key)
                .decrypt(&nonce, decode(&file.ciphertext)?.as_slice())
                .map_err(|_| ModelsError::SecretsDecrypt { path: path.to_path_buf() })?,
        );
        serde_json::from_slice(&plain).map_err(|e| invalid(e.to_string()))
    }

    fn write_file(&self, path: &Path, map: &BTreeMap<String, String>) -> Result<(), ModelsError> {
        // Keep the file's salt and KDF parameters; a new file gets fresh ones.
        let kdf = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<SecretsFile>(&b).ok())
            .map(|f| f.kdf)
            .unwrap_or_else(|| KdfParams::new(&<[u8; 16]>::generate()));
        let salt = B64
            .decode(&kdf.salt)
            .map_err(|e| ModelsError::SecretsInvalid { path: path.to_path_buf(), reason: e.to_string() })?;
        let key = derive_key(self.passphrase(), &salt, &kdf)?;
        let nonce = XNonce::generate();
        let plain = Zeroizing::new(serde_json::to_vec(map).expect("a string map serialises"));
        let ciphertext = XChaCha20Poly1305::new(&key)
            .encrypt(&nonce, plain.as_slice())
            .map_err(|_| ModelsError::Invalid("encryption failed".into()))?;
        let file = SecretsFile {
            format: 1,
            cipher: CIPHER.into(),
            kdf,
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        };
        let text = serde_json::to_vec_pretty(&file).expect("secrets file serialises");
        write_private(path, &text)
    }
}

const CIPHER: &str = "xchacha20poly1305";
const KDF: &str = "argon2id";

#[derive(Serialize, Deserialize)]
struct SecretsFile {
    format: u32,
    cipher: String,
    kdf: KdfParams,
    nonce: String,
    ciphertext: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KdfParams {
    algorithm: String,
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

impl KdfParams {
    /// Argon2id with the RFC 9106 / OWASP second recommendation (19 MiB, 2 passes, 1 lane).
    fn new(salt: &[u8]) -> Self {
        Self { algorithm: KDF.into(), m_cost: 19 * 1024, t_cost: 2, p_cost: 1, salt: B64.encode(salt) }
    }
}

fn derive_key(passphrase: &str, salt: &[u8], kdf: &KdfParams) -> Result<Key, ModelsError> {
    let params = argon2::Params::new(kdf.m_cost, kdf.t_cost, kdf.p_cost, Some(32))
        .map_err(|e| ModelsError::Invalid(format!("KDF parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Key::default();
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| ModelsError::Invalid(format!("key derivation: {e}")))?;
    Ok(key)
}

/// Write `bytes` to `path` readable by the owner only, atomically (temporary file + rename).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ModelsError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn check_name(name: &str) -> Result<(), ModelsError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ModelsError::Invalid(format!(
            "`{name}` is not a valid secret name (lower-case letters, digits, `-`, `_`, `.`, `:`)"
        )))
    }
}

/// Whether the platform keychain can be used (its one-time initialisation succeeded).
fn keychain_status() -> Result<(), String> {
    keyring::Entry::store_status().as_ref().map(|_| ()).map_err(ToString::to_string)
}

fn entry(name: &str) -> Result<keyring::Entry, ModelsError> {
    keyring::Entry::new(SERVICE, name).map_err(keychain_err)
}

fn keychain_err(e: keyring::Error) -> ModelsError {
    ModelsError::Keychain(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_checked() {
        assert!(check_name("huggingface-token").is_ok());
        assert!(check_name("remote:vllm.prod").is_ok());
        for bad in ["", "Upper", "with space", "slash/name"] {
            assert_eq!(crate::ErrorCode::code(&check_name(bad).unwrap_err()), "INVALID_ARGUMENT", "{bad}");
        }
    }
}
