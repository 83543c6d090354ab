//! `desk.settings()`: what the user chose (models, sampling, engine), saved to `config.toml`.

use lexdesk_core::config::{self, Config};

use crate::{DeskError, Settings, SettingsUpdate};

/// The settings of a desk ([`crate::Desk::settings`]).
#[derive(Debug, Clone, Copy)]
pub struct SettingsApi<'d> {
    pub(crate) desk: &'d crate::Desk,
}

impl SettingsApi<'_> {
    /// The current settings and the models available to choose from.
    #[must_use]
    pub fn get(self) -> Settings {
        Settings::of(&self.desk.config(), &self.desk.home)
    }

    /// Change settings and save `config.toml`; the next answer loads the new model.
    ///
    /// # Errors
    /// A chosen model file does not exist, or the configuration cannot be written.
    pub fn update(self, update: SettingsUpdate) -> Result<Settings, DeskError> {
        let mut config = self.desk.config();
        update.apply(&mut config)?;
        for (kind, name) in
            [(config::ModelRole::Chat, &config.models.chat), (config::ModelRole::Embedding, &config.models.embed)]
        {
            self.desk.models().path(kind, name)?;
        }
        config.save(&self.desk.home)?;
        *self.desk.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(self.get())
    }

    /// The configuration as loaded (`config.toml` with the environment's and the front end's
    /// overrides).
    #[must_use]
    pub fn configuration(self) -> Config {
        self.desk.config()
    }
}
