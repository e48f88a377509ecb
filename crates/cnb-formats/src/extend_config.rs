//! `extend-config.toml`: build arguments an image extension passes to its Dockerfiles.

use serde::{Deserialize, Serialize};

/// A build argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildArg {
    /// Its name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// Arguments of one Dockerfile kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Args {
    /// The arguments.
    #[serde(default)]
    pub args: Vec<BuildArg>,
}

/// The whole extend-config.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendConfig {
    /// For build.Dockerfile.
    #[serde(default)]
    pub build: Args,
    /// For run.Dockerfile.
    #[serde(default)]
    pub run: Args,
}
