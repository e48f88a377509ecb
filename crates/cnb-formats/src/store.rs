//! `<layers>/<buildpack>/store.toml`: metadata a buildpack keeps across builds.

use serde::{Deserialize, Serialize};

/// The whole store.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Store {
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: toml::Table,
}
