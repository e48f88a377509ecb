//! `run.toml` (Platform API 0.12+) and `stack.toml` (below): where the run image comes from.

use serde::{Deserialize, Serialize};

use crate::labels::RunImageRef;

/// The whole run.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMetadata {
    /// Run images, the first one preferred.
    #[serde(default)]
    pub images: Vec<RunImageRef>,
}

/// The whole stack.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StackToml {
    /// The run image.
    #[serde(default)]
    pub run_image: RunImageRef,
}
