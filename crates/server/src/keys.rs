//! API keys: created with scopes, shown once, stored only as SHA-256 hashes in
//! `LEXDESK_HOME/server/keys.toml` (mode 0600), compared in constant time, revocable while the
//! server runs (the file is re-read when it changes).
//!
//! A key reads `lxd_<id>_<secret>`: `id` (12 hex digits) names the record, `secret` is 32 random
//! bytes (base64url). A 256-bit random secret needs no slow password hash; SHA-256 of the whole
//! key is what is stored.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// List models, matters and documents; search; job status.
    Read,
    /// Generate: chat completions, embeddings, grounded answers.
    Ask,
    /// Create matters and upload documents.
    Ingest,
    /// Everything, including deleting matters and `/metrics`.
    Admin,
    /// `/metrics` only (for Prometheus).
    Metrics,
    /// Start evaluation runs on gold sets and read their results.
    Eval,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Self; 6] = [Self::Read, Self::Ask, Self::Ingest, Self::Admin, Self::Metrics, Self::Eval];

    /// The scope's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Ask => "ask",
            Self::Ingest => "ingest",
            Self::Admin => "admin",
            Self::Metrics => "metrics",
            Self::Eval => "eval",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| KeyError::UnknownScope(s.to_string()))
    }
}

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The public part of the key (`lxd_<id>_…`).
    pub id: String,
    /// What the key is for (unique among active keys).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// SHA-256 of the whole key, hex.
    pub sha256: String,
    /// When it was revoked; a revoked key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<u64>,
}

impl KeyRecord {
    /// Whether the key grants `scope` (admin grants every scope).
    #[must_use]
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether the key has been revoked.
    #[must_use]
    pub fn is_revoked(&self) -> bool {
        self.revoked_ms.is_some()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    #[serde(default, rename = "key")]
    keys: Vec<KeyRecord>,
}

/// Errors of the key store, each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not one of read, ask, ingest, admin, metrics, eval.
    #[error("unknown scope `{0}` (expected read, ask, ingest, admin, metrics or eval)")]
    UnknownScope(String),
    /// A key needs at least one scope.
    #[error("a key needs at least one scope")]
    NoScopes,
    /// Empty name.
    #[error("a key needs a name")]
    EmptyName,
    /// Another active key has this name.
    #[error("an active key named `{0}` already exists")]
    Exists(String),
    /// No key with this id or name.
    #[error("no key named or with the id `{0}`")]
    NotFound(String),
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

lexdesk_core::error_codes!(KeyError {
    Self::UnknownScope(_) => "UNKNOWN_SCOPE", InvalidInput;
    Self::NoScopes => "NO_SCOPES", InvalidInput;
    Self::EmptyName => "EMPTY_NAME", InvalidInput;
    Self::Exists(_) => "KEY_EXISTS", Conflict;
    Self::NotFound(_) => "KEY_NOT_FOUND", NotFound;
    Self::Io { .. } => "KEYS_IO", Io;
    Self::Invalid { .. } => "KEYS_INVALID", InvalidData;
});

/// The key file, cached in memory and re-read when its modification time or size changes.
#[derive(Debug)]
pub struct KeyStore {
    path: PathBuf,
    cache: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    stamp: Option<(SystemTime, u64)>,
    keys: Vec<KeyRecord>,
}

/// The key file of a data directory.
#[must_use]
pub fn keys_file(home: &Path) -> PathBuf {
    lexdesk_core::config::Home::at(home).server_keys_file()
}

impl KeyStore {
    /// The store of the data directory `home` (the file need not exist yet).
    #[must_use]
    pub fn new(home: &Path) -> Self {
        Self { path: keys_file(home), cache: Mutex::new(Cached::default()) }
    }

    /// The key file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Vec<KeyRecord>, KeyError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => toml::from_str::<KeyFile>(&text)
                .map(|f| f.keys)
                .map_err(|e| KeyError::Invalid { path: self.path.clone(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(KeyError::Io { path: self.path.clone(), source }),
        }
    }

    fn write(&self, keys: Vec<KeyRecord>) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: self.path.clone(), source };
        let dir = self.path.parent().expect("keys file has a folder");
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = toml::to_string_pretty(&KeyFile { keys }).expect("keys always serialise");
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Every key, revoked ones included, oldest first.
    ///
    /// # Errors
    /// The file cannot be read or is invalid.
    pub fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
        self.read()
    }

    /// Create a key. Returns its record and the key itself, which is not stored anywhere.
    ///
    /// # Errors
    /// No scopes, an empty or taken name, or the file cannot be written.
    pub fn create(&self, name: &str, scopes: &[Scope]) -> Result<(KeyRecord, String), KeyError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(KeyError::EmptyName);
        }
        if scopes.is_empty() {
            return Err(KeyError::NoScopes);
        }
        let mut keys = self.read()?;
        if keys.iter().any(|k| !k.is_revoked() && k.name.eq_ignore_ascii_case(name)) {
            return Err(KeyError::Exists(name.to_string()));
        }
        let mut id_bytes = [0u8; 6];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id_bytes).and_then(|()| getrandom::fill(&mut secret)).map_err(|e| KeyError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(format!("no randomness from the OS: {e}")),
        })?;
        let id = hex::encode(id_bytes);
        let key = format!("lxd_{id}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let record = KeyRecord {
            id,
            name: name.to_string(),
            scopes,
            created_ms: now_ms(),
            sha256: hex::encode(Sha256::digest(key.as_bytes())),
            revoked_ms: None,
        };
        keys.push(record.clone());
        self.write(keys)?;
        Ok((record, key))
    }

    /// Revoke the active key with this id or name. Takes effect on the next request.
    ///
    /// # Errors
    /// No such active key, or the file cannot be written.
    pub fn revoke(&self, id_or_name: &str) -> Result<KeyRecord, KeyError> {
        let wanted = id_or_name.trim();
        let mut keys = self.read()?;
        let record = keys
            .iter_mut()
            .find(|k| !k.is_revoked() && (k.id == wanted || k.name.eq_ignore_ascii_case(wanted)))
            .ok_or_else(|| KeyError::NotFound(wanted.to_string()))?;
        record.revoked_ms = Some(now_ms());
        let revoked = record.clone();
        self.write(keys)?;
        Ok(revoked)
    }

    /// The active key that `presented` is, if any. The hash comparison takes the same time
    /// whether or not the id exists and however many bytes match.
    ///
    /// # Errors
    /// The file cannot be read or is invalid (the server then refuses every key).
    pub fn verify(&self, presented: &str) -> Result<Option<KeyRecord>, KeyError> {
        let digest = Sha256::digest(presented.as_bytes());
        let id = presented.strip_prefix("lxd_").and_then(|rest| rest.split_once('_')).map(|(id, _)| id);
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let stamp = std::fs::metadata(&self.path).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp.is_none() || cache.stamp != stamp {
            cache.keys = self.read()?;
            cache.stamp = stamp;
        }
        let record = id.and_then(|id| cache.keys.iter().find(|k| k.id == id));
        // An unknown id is still compared (against a hash nothing matches), so the time taken does
        // not tell whether an id exists.
        let unmatchable = [0u8; 32];
        let stored = record.and_then(|k| hex::decode(&k.sha256).ok()).unwrap_or_else(|| unmatchable.to_vec());
        let equal: bool = stored.ct_eq(digest.as_slice()).into();
        Ok(record.filter(|k| equal && !k.is_revoked()).cloned())
    }
}

fn now_ms() -> u64 {
    lexdesk_core::now_ms().unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_scoped_and_revocable() {
        let home = tempfile::tempdir().unwrap();
        let store = KeyStore::new(home.path());
        let (record, key) = store.create("paralegals", &[Scope::Ask, Scope::Read, Scope::Ask]).unwrap();
        assert_eq!(record.scopes, vec![Scope::Read, Scope::Ask]);
        assert!(key.starts_with(&format!("lxd_{}_", record.id)));
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(&key) && !text.contains(key.rsplit('_').next().unwrap()), "only the hash is stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(store.path()).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let found = store.verify(&key).unwrap().unwrap();
        assert!(found.allows(Scope::Ask) && found.allows(Scope::Read) && !found.allows(Scope::Ingest));
        // One changed character, a wrong id, garbage: refused.
        let mut wrong = key.clone();
        wrong.pop();
        wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
        assert!(store.verify(&wrong).unwrap().is_none());
        assert!(store.verify("lxd_000000000000_x").unwrap().is_none());
        assert!(store.verify("").unwrap().is_none());
        assert!(matches!(store.create("Paralegals", &[Scope::Read]), Err(KeyError::Exists(_))));
        assert!(matches!(store.create("x", &[]), Err(KeyError::NoScopes)));
        // Revocation is seen by a store that cached the file before.
        let other = KeyStore::new(home.path());
        assert!(other.verify(&key).unwrap().is_some());
        store.revoke("paralegals").unwrap();
        assert!(other.verify(&key).unwrap().is_none());
        assert!(matches!(store.revoke(&record.id), Err(KeyError::NotFound(_))));
        // The name is free again; admin grants everything.
        let (admin, admin_key) = store.create("paralegals", &[Scope::Admin]).unwrap();
        assert!(Scope::ALL.iter().all(|&s| admin.allows(s)));
        assert_eq!(other.verify(&admin_key).unwrap().unwrap().id, admin.id);
        assert_eq!(store.list().unwrap().len(), 2);
        assert!("ADMIN".parse::<Scope>().is_ok() && "root".parse::<Scope>().is_err());
    }
}
