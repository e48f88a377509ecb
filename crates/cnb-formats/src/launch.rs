//! `launch.toml`: labels, processes and slices a buildpack declares.

use serde::{Deserialize, Serialize};

use crate::metadata::{Label, Slice};
use crate::serde_helpers::string_or_vec;

/// A process as a buildpack declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LaunchProcess {
    /// The process type.
    pub r#type: String,
    /// The command: a string below Buildpack API 0.9, an array from 0.9 on.
    #[serde(default, deserialize_with = "string_or_vec")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether this is the default process.
    #[serde(default)]
    pub default: bool,
    /// The working directory (Buildpack API 0.8+).
    #[serde(default)]
    pub working_dir: String,
    /// Execution environments (Buildpack API 0.12).
    #[serde(default)]
    pub exec_env: Vec<String>,
    /// Whether it runs without a shell: only below Buildpack API 0.9 (an error from 0.9 on).
    #[serde(default)]
    pub direct: Option<bool>,
}

/// The whole launch.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchToml {
    /// Image labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Processes.
    #[serde(default)]
    pub processes: Vec<LaunchProcess>,
    /// App slices.
    #[serde(default)]
    pub slices: Vec<Slice>,
    /// Legacy bill of materials.
    #[serde(default)]
    pub bom: Vec<crate::bom::BomEntry>,
}
