//! `buildpack.toml` and `extension.toml`: a buildpack's or extension's descriptor.

use serde::{Deserialize, Serialize};

use crate::order::OrderGroup;
use crate::serde_helpers::exec_env;
use crate::target::BuildpackTarget;

/// `[buildpack]` (or `[extension]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModuleInfo {
    /// The id.
    pub id: String,
    /// A display name.
    #[serde(default)]
    pub name: String,
    /// The version.
    #[serde(default)]
    pub version: String,
    /// The homepage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub homepage: String,
    /// Run with only the platform's env (no lifecycle env passed through).
    #[serde(default)]
    pub clear_env: bool,
    /// Execution environments it is for (`exec-env = [..]` or the spec's `[[buildpack.exec-env]]`).
    #[serde(
        default,
        deserialize_with = "exec_env",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exec_env: Vec<String>,
    /// SBOM media types it writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbom_formats: Vec<String>,
}

/// A `[[stacks]]` entry (kept for target inference of older buildpacks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// The stack id, `*` for any.
    pub id: String,
    /// Mixins.
    #[serde(default)]
    pub mixins: Vec<String>,
}

/// The whole buildpack.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildpackDescriptor {
    /// The Buildpack API it is written for.
    pub api: String,
    /// Identity and options.
    pub buildpack: ModuleInfo,
    /// For a composite buildpack: the groups it stands for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<OrderGroup>,
    /// Targets it runs on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<BuildpackTarget>,
    /// Stacks it runs on (older buildpacks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<Stack>,
}

impl BuildpackDescriptor {
    /// Reads buildpack.toml.
    pub fn read(path: &std::path::Path) -> crate::Result<Self> {
        crate::read_toml(path)
    }

    /// Whether it is a composite (meta) buildpack.
    pub fn is_composite(&self) -> bool {
        !self.order.is_empty()
    }
}

/// The whole extension.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionDescriptor {
    /// The Buildpack API it is written for.
    pub api: String,
    /// Identity and options.
    pub extension: ModuleInfo,
    /// Targets it runs on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<BuildpackTarget>,
}

impl ExtensionDescriptor {
    /// Reads extension.toml.
    pub fn read(path: &std::path::Path) -> crate::Result<Self> {
        crate::read_toml(path)
    }
}
