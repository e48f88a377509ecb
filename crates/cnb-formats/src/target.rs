//! Target data: `[run-image.target]` in analyzed.toml and `[[targets]]` in descriptors.

use serde::{Deserialize, Serialize};

/// A distribution name and version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// e.g. `ubuntu`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// e.g. `22.04`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// The run image's target as recorded in analyzed.toml (Platform API 0.12+).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetMetadata {
    /// `io.buildpacks.base.id` of the run image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Operating system, e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// Architecture, e.g. `amd64`.
    #[serde(default)]
    pub arch: String,
    /// Variant, e.g. `v8`. Written as upstream's `arch-variant`; the spec's `variant` is read too.
    #[serde(default, alias = "variant", skip_serializing_if = "String::is_empty")]
    pub arch_variant: String,
    /// The run image's distribution, when its labels say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
}

/// A `[[targets]]` entry of buildpack.toml or extension.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BuildpackTarget {
    /// Operating system; empty matches any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    /// Architecture; empty matches any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// Variant (`arch-variant`, or the spec's `variant`); empty matches any.
    #[serde(default, alias = "variant", skip_serializing_if = "String::is_empty")]
    pub arch_variant: String,
    /// Distributions the buildpack runs on; empty matches any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distros: Vec<Distro>,
}
