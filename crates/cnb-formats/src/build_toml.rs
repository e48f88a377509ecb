//! `build.toml`: build plan entries a buildpack left unmet, and the legacy bill of materials.

use serde::{Deserialize, Serialize};

/// An unmet plan entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmet {
    /// The entry's name.
    pub name: String,
}

/// The whole build.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildToml {
    /// Entries handed on to later buildpacks.
    #[serde(default)]
    pub unmet: Vec<Unmet>,
    /// Legacy bill of materials.
    #[serde(default)]
    pub bom: Vec<crate::bom::BomEntry>,
}
