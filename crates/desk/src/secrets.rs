//! `desk.secrets()`: named secrets (the Hugging Face token, remote engines' API keys) in the OS
//! keychain, or in the encrypted-file fallback where no keychain is usable. Values are never
//! listed or logged.

use lexdesk_models::secrets::{Backend, Secrets};
use zeroize::Zeroizing;

use crate::DeskError;

/// The secret store of a desk ([`crate::Desk::secrets`]).
#[derive(Debug, Clone, Copy)]
pub struct SecretsApi<'d> {
    pub(crate) desk: &'d crate::Desk,
}

impl SecretsApi<'_> {
    fn open(self) -> Result<Secrets, DeskError> {
        Ok(Secrets::open(self.desk.home.root())?)
    }

    /// Where secrets are kept, and the fallback's warning when it is the encrypted file.
    ///
    /// # Errors
    /// `NO_SECRET_STORE`: no keychain and no passphrase for the file.
    pub fn store(self) -> Result<(Backend, Option<String>), DeskError> {
        let store = self.open()?;
        Ok((store.backend().clone(), store.warning().map(str::to_owned)))
    }

    /// Store `value` under `name`.
    ///
    /// # Errors
    /// No usable store; the keychain refused.
    pub fn set(self, name: &str, value: &str) -> Result<(), DeskError> {
        Ok(self.open()?.set(name, value)?)
    }

    /// The secret `name`, if stored.
    ///
    /// # Errors
    /// No usable store; the keychain refused.
    pub fn get(self, name: &str) -> Result<Option<Zeroizing<String>>, DeskError> {
        Ok(self.open()?.get(name)?)
    }

    /// Delete `name`; `false` if it was not stored.
    ///
    /// # Errors
    /// No usable store; the keychain refused.
    pub fn delete(self, name: &str) -> Result<bool, DeskError> {
        Ok(self.open()?.delete(name)?)
    }
}
