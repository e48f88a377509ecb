//! `system.toml` (Platform API 0.15): buildpacks run before and after every group.

use serde::{Deserialize, Serialize};

use crate::group::GroupElement;

/// The buildpacks of `[system.pre]` or `[system.post]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemBuildpacks {
    /// The buildpacks, with `optional` honoured (upstream ignores it).
    #[serde(default)]
    pub buildpacks: Vec<GroupElement>,
}

/// `[system]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemTable {
    /// Prepended to each group.
    #[serde(default)]
    pub pre: SystemBuildpacks,
    /// Appended to each group.
    #[serde(default)]
    pub post: SystemBuildpacks,
}

/// The whole system.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// `[system]`.
    #[serde(default)]
    pub system: SystemTable,
}
