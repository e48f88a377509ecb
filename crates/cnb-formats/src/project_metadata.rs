//! `project-metadata.toml`, also the `io.buildpacks.project.metadata` label.

use serde::{Deserialize, Serialize};

/// `[source]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSource {
    /// e.g. `git`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub r#type: String,
    /// Free-form version data.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub version: toml::Table,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub metadata: toml::Table,
}

/// The whole file; the label is the same shape in JSON (`{}` when there is none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectMetadata {
    /// The project's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ProjectSource>,
}

impl ProjectMetadata {
    /// The label value.
    pub fn to_label(&self) -> crate::Result<String> {
        serde_json::to_string(self).map_err(|e| crate::FormatError::Encode {
            what: crate::labels::PROJECT_METADATA.into(),
            message: e.to_string(),
        })
    }

    /// Parses the label value.
    pub fn from_label(json: &str) -> crate::Result<Self> {
        crate::parse_json(json, crate::labels::PROJECT_METADATA)
    }
}
