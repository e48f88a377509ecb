//! `report.toml`: what the exporter or rebaser saved.

use serde::{Deserialize, Serialize};

/// `[image]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageReport {
    /// Every name the image was saved under successfully.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The daemon image ID (daemon exports).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// The manifest digest (registry exports).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The manifest size in bytes (registry exports).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub manifest_size: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `[build]` (Platform API below 0.9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// Legacy bill of materials.
    #[serde(default)]
    pub bom: Vec<crate::bom::BomEntry>,
}

/// The whole report.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The saved image.
    #[serde(default)]
    pub image: ImageReport,
    /// The build, below Platform API 0.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildReport>,
}
