//! `analyzed.toml`: what the analyzer found (platform.md "analyzed.toml").

use serde::{Deserialize, Serialize};

use crate::labels::LayersMetadata;
use crate::target::TargetMetadata;
use crate::{FormatError, Result};

/// An image by identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageIdentifier {
    /// A digest reference, a daemon image ID or a layout `path@digest`; empty when none.
    #[serde(default)]
    pub reference: String,
}

/// `[run-image]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImage {
    /// The run image's identifier.
    #[serde(default)]
    pub reference: String,
    /// The name as given (Platform API 0.12+).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Whether extensions extend the run image.
    #[serde(default, skip_serializing_if = "crate::serde_helpers::is_false")]
    pub extend: bool,
    /// The target the build is for (Platform API 0.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetMetadata>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analyzed {
    /// `[image]`: the previous image (always written by the analyzer, possibly empty).
    pub image: Option<ImageIdentifier>,
    /// `[build-image]`.
    pub build_image: Option<ImageIdentifier>,
    /// `[run-image]`.
    pub run_image: Option<RunImage>,
    /// `[metadata]`: the previous image's lifecycle metadata label.
    pub metadata: LayersMetadata,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct Raw {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<ImageIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    build_image: Option<ImageIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_image: Option<RunImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<toml::Table>,
}

impl Analyzed {
    /// Reads analyzed.toml.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let raw: Raw = crate::read_toml(path)?;
        let metadata = match raw.metadata {
            Some(t) => {
                LayersMetadata::from_toml_table(t).map_err(|message| FormatError::Invalid {
                    path: path.to_path_buf(),
                    key: "metadata".into(),
                    message,
                    line: None,
                })?
            }
            None => LayersMetadata::default(),
        };
        Ok(Self {
            image: raw.image,
            build_image: raw.build_image,
            run_image: raw.run_image,
            metadata,
        })
    }

    /// Writes analyzed.toml atomically.
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        crate::write_atomic(path, self.to_toml()?.as_bytes())
    }

    /// The TOML text.
    pub fn to_toml(&self) -> Result<String> {
        let metadata = self.metadata.to_toml_table()?;
        let raw = Raw {
            image: self.image.clone(),
            build_image: self.build_image.clone(),
            run_image: self.run_image.clone(),
            metadata: (!metadata.is_empty()).then_some(metadata),
        };
        crate::to_toml_string(&raw)
    }

    /// The recorded target, if any.
    pub fn target(&self) -> Option<&TargetMetadata> {
        self.run_image.as_ref().and_then(|r| r.target.as_ref())
    }
}
