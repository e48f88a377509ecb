//! `<layers>/<buildpack>/<layer>.toml`: a layer's types and metadata.

use serde::{Deserialize, Serialize};

use crate::{FormatError, Result};

/// `[types]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerTypes {
    /// Exported into the app image.
    #[serde(default)]
    pub launch: bool,
    /// Visible to later buildpacks.
    #[serde(default)]
    pub build: bool,
    /// Kept in the cache.
    #[serde(default)]
    pub cache: bool,
}

/// The whole layer file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerMetadataFile {
    /// The layer's types; absent in restored files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<LayerTypes>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub metadata: toml::Table,
}

impl LayerMetadataFile {
    /// Reads a layer file; types at the top level (an old shape) are rejected as upstream does.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let table: toml::Table = crate::read_toml(path)?;
        if let Some(key) = ["launch", "build", "cache"]
            .into_iter()
            .find(|k| table.contains_key(*k))
        {
            return Err(FormatError::Invalid {
                path: path.to_path_buf(),
                key: key.to_string(),
                message: "the launch, cache and build flags should be in the types table".into(),
                line: None,
            });
        }
        crate::parse_toml(&crate::to_toml_string(&table)?, path)
    }

    /// The types, all false when absent.
    pub fn types(&self) -> LayerTypes {
        self.types.unwrap_or_default()
    }
}
