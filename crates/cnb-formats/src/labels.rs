//! The `io.buildpacks.*` image labels (JSON), and the TOML form of the lifecycle metadata that
//! analyzed.toml embeds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::metadata::{LaunchMetadata, Process};
use crate::{FormatError, Result};

/// `io.buildpacks.lifecycle.metadata`
pub const LIFECYCLE_METADATA: &str = "io.buildpacks.lifecycle.metadata";
/// `io.buildpacks.build.metadata`
pub const BUILD_METADATA: &str = "io.buildpacks.build.metadata";
/// `io.buildpacks.project.metadata`
pub const PROJECT_METADATA: &str = "io.buildpacks.project.metadata";
/// `io.buildpacks.lifecycle.cache.metadata`
pub const CACHE_METADATA: &str = "io.buildpacks.lifecycle.cache.metadata";
/// `io.buildpacks.rebasable`
pub const REBASABLE: &str = "io.buildpacks.rebasable";
/// `io.buildpacks.exec-env` (Platform API 0.15)
pub const EXEC_ENV: &str = "io.buildpacks.exec-env";
/// `io.buildpacks.base.id`
pub const BASE_ID: &str = "io.buildpacks.base.id";
/// `io.buildpacks.base.distro.name`
pub const BASE_DISTRO_NAME: &str = "io.buildpacks.base.distro.name";
/// `io.buildpacks.base.distro.version`
pub const BASE_DISTRO_VERSION: &str = "io.buildpacks.base.distro.version";
/// Prefix of every `io.buildpacks.base.*` label.
pub const BASE_PREFIX: &str = "io.buildpacks.base.";
/// `io.buildpacks.stack.id` (deprecated in Platform API 0.12)
pub const STACK_ID: &str = "io.buildpacks.stack.id";
/// `io.buildpacks.stack.mixins` (deprecated in Platform API 0.12)
pub const STACK_MIXINS: &str = "io.buildpacks.stack.mixins";
/// Prefix of every `io.buildpacks.stack.*` label.
pub const STACK_PREFIX: &str = "io.buildpacks.stack.";

/// A layer by its diffID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSha {
    /// `sha256:...` diffID; empty when there is none.
    #[serde(default)]
    pub sha: String,
}

/// One buildpack layer in the lifecycle metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackLayerMetadata {
    /// The layer's diffID.
    #[serde(default)]
    pub sha: String,
    /// The layer's `[metadata]` (called `data` in JSON, `metadata` in TOML).
    #[serde(default, skip_serializing_if = "is_empty_value")]
    pub data: Value,
    /// `types.build`.
    #[serde(default)]
    pub build: bool,
    /// `types.launch`.
    #[serde(default)]
    pub launch: bool,
    /// `types.cache`.
    #[serde(default)]
    pub cache: bool,
}

/// A buildpack's store.toml content in the label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreMetadata {
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "is_empty_value")]
    pub metadata: Value,
}

/// One buildpack's layers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackLayersMetadata {
    /// The buildpack id.
    #[serde(default)]
    pub key: String,
    /// The buildpack version.
    #[serde(default)]
    pub version: String,
    /// Layers by name.
    #[serde(default)]
    pub layers: BTreeMap<String, BuildpackLayerMetadata>,
    /// The buildpack's store.toml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreMetadata>,
}

/// The run image an app image is built on, for the rebaser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunImageForRebase {
    /// diffID of the run image's top layer.
    #[serde(default)]
    pub top_layer: String,
    /// The run image's identifier.
    #[serde(default)]
    pub reference: String,
    /// The run image name (Platform API 0.12+).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Its mirrors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
}

/// A run image name and mirrors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImageRef {
    /// The run image name.
    #[serde(default)]
    pub image: String,
    /// Its mirrors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
}

/// The deprecated `stack` key, still written for compatibility.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackMetadata {
    /// The run image.
    #[serde(default)]
    pub run_image: RunImageRef,
}

/// `io.buildpacks.lifecycle.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayersMetadata {
    /// App layers (slices then the rest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app: Vec<LayerSha>,
    /// The launch SBOM layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<LayerSha>,
    /// Buildpack layers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buildpacks: Vec<BuildpackLayersMetadata>,
    /// The launcher config layer.
    #[serde(default, skip_serializing_if = "is_empty_sha")]
    pub config: LayerSha,
    /// The launcher layer.
    #[serde(default, skip_serializing_if = "is_empty_sha")]
    pub launcher: LayerSha,
    /// The process-types layer.
    #[serde(
        default,
        rename = "process-types",
        skip_serializing_if = "is_empty_sha"
    )]
    pub process_types: LayerSha,
    /// The run image.
    #[serde(default, skip_serializing_if = "is_default")]
    pub run_image: RunImageForRebase,
    /// Deprecated stack key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackMetadata>,
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
fn is_empty_sha(s: &LayerSha) -> bool {
    s.sha.is_empty()
}
fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

/// Which way keys are renamed between the label (JSON) and analyzed.toml (TOML).
#[derive(Clone, Copy)]
enum Way {
    ToToml,
    ToJson,
}

fn rename_key(map: &mut serde_json::Map<String, Value>, json: &str, toml: &str, way: Way) {
    let (from, to) = match way {
        Way::ToToml => (json, toml),
        Way::ToJson => (toml, json),
    };
    if let Some(v) = map.remove(from) {
        map.insert(to.to_string(), v);
    }
}

/// Renames only the keys whose names differ, at their known places, so free-form metadata that
/// happens to use the same words is left alone.
fn rename_keys(v: &mut Value, way: Way) {
    let Value::Object(top) = v else { return };
    rename_key(top, "runImage", "run-image", way);
    if let Some(Value::Object(run)) = top.get_mut(match way {
        Way::ToToml => "run-image",
        Way::ToJson => "runImage",
    }) {
        rename_key(run, "topLayer", "top-layer", way);
    }
    if let Some(Value::Object(stack)) = top.get_mut("stack") {
        rename_key(stack, "runImage", "run-image", way);
    }
    if let Some(Value::Array(bps)) = top.get_mut("buildpacks") {
        for bp in bps {
            if let Some(Value::Object(layers)) = bp.get_mut("layers") {
                for layer in layers.values_mut() {
                    if let Value::Object(l) = layer {
                        rename_key(l, "data", "metadata", way);
                    }
                }
            }
        }
    }
}

impl LayersMetadata {
    /// Parses the label value.
    pub fn from_label(json: &str) -> Result<Self> {
        crate::parse_json(json, LIFECYCLE_METADATA)
    }

    /// The label value (compact JSON, keys in a fixed order).
    pub fn to_label(&self) -> Result<String> {
        to_json(self, LIFECYCLE_METADATA)
    }

    /// The TOML table analyzed.toml stores under `[metadata]`.
    pub fn to_toml_table(&self) -> Result<toml::Table> {
        let encode = |e: String| FormatError::Encode {
            what: "analyzed metadata".into(),
            message: e,
        };
        let mut v = serde_json::to_value(self).map_err(|e| encode(e.to_string()))?;
        rename_keys(&mut v, Way::ToToml);
        serde_json::from_value(v).map_err(|e| encode(e.to_string()))
    }

    /// Reads the `[metadata]` table of analyzed.toml.
    pub fn from_toml_table(table: toml::Table) -> std::result::Result<Self, String> {
        let mut v = serde_json::to_value(table).map_err(|e| e.to_string())?;
        rename_keys(&mut v, Way::ToJson);
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    /// The metadata of one buildpack's layers.
    pub fn buildpack(&self, id: &str) -> Option<&BuildpackLayersMetadata> {
        self.buildpacks.iter().find(|b| b.key == id)
    }
}

/// A buildpack in `io.buildpacks.build.metadata` (upstream leaves out `api`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildpackRef {
    /// The id.
    pub id: String,
    /// The version.
    #[serde(default)]
    pub version: String,
    /// The homepage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub homepage: String,
}

/// Where the launcher came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LauncherMetadata {
    /// The launcher's version.
    #[serde(default)]
    pub version: String,
    /// Its source.
    #[serde(default)]
    pub source: LauncherSource,
}

/// The launcher's source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LauncherSource {
    /// The git repository and commit.
    #[serde(default)]
    pub git: GitMetadata,
}

/// A git repository and commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitMetadata {
    /// The repository URL.
    #[serde(default)]
    pub repository: String,
    /// The commit.
    #[serde(default)]
    pub commit: String,
}

/// A process in `io.buildpacks.build.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessLabel {
    /// The process type.
    pub r#type: String,
    /// The command.
    #[serde(default, deserialize_with = "crate::serde_helpers::string_or_vec")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether it runs without a shell.
    #[serde(default)]
    pub direct: bool,
    /// The buildpack that declared it.
    #[serde(default, rename = "buildpackID")]
    pub buildpack_id: String,
    /// The working directory.
    #[serde(
        default,
        rename = "working-dir",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// Execution environments.
    #[serde(default, rename = "exec-env", skip_serializing_if = "Vec::is_empty")]
    pub exec_env: Vec<String>,
}

impl From<&Process> for ProcessLabel {
    fn from(p: &Process) -> Self {
        Self {
            r#type: p.r#type.clone(),
            command: p.command.clone(),
            args: p.args.clone(),
            direct: p.direct,
            buildpack_id: p.buildpack_id.clone(),
            working_dir: p.working_dir.clone(),
            exec_env: p.exec_env.clone(),
        }
    }
}

/// `io.buildpacks.build.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildMetadata {
    /// Legacy bill of materials: below Platform API 0.9 always present (`null` when there is
    /// none, as upstream's Go nil slice), from 0.9 left out (`None`). See [`crate::bom`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bom: Option<crate::bom::LegacyBom>,
    /// The group.
    #[serde(default)]
    pub buildpacks: Vec<BuildpackRef>,
    /// The extensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<BuildpackRef>,
    /// The launcher.
    #[serde(default)]
    pub launcher: LauncherMetadata,
    /// The processes.
    #[serde(default)]
    pub processes: Vec<ProcessLabel>,
    /// The default process type.
    #[serde(
        default,
        rename = "buildpack-default-process-type",
        skip_serializing_if = "String::is_empty"
    )]
    pub buildpack_default_process_type: String,
}

impl BuildMetadata {
    /// The label for an app built with `md` by `launcher`.
    pub fn from_launch_metadata(md: &LaunchMetadata, launcher: LauncherMetadata) -> Self {
        let refs = |v: &[crate::group::GroupElement]| {
            v.iter()
                .map(|b| BuildpackRef {
                    id: b.id.clone(),
                    version: b.version.clone(),
                    homepage: b.homepage.clone(),
                })
                .collect()
        };
        Self {
            bom: None,
            buildpacks: refs(&md.buildpacks),
            extensions: refs(&md.extensions),
            launcher,
            processes: md.processes.iter().map(ProcessLabel::from).collect(),
            buildpack_default_process_type: md.buildpack_default_process_type.clone(),
        }
    }

    /// Parses the label value.
    pub fn from_label(json: &str) -> Result<Self> {
        crate::parse_json(json, BUILD_METADATA)
    }

    /// The label value.
    pub fn to_label(&self) -> Result<String> {
        to_json(self, BUILD_METADATA)
    }
}

/// One cached layer set of a buildpack, in `io.buildpacks.lifecycle.cache.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheMetadata {
    /// The cache SBOM layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<LayerSha>,
    /// Cached layers per buildpack.
    #[serde(default)]
    pub buildpacks: Vec<BuildpackLayersMetadata>,
}

impl CacheMetadata {
    /// Parses the label value (or the volume cache's metadata file).
    pub fn from_label(json: &str) -> Result<Self> {
        crate::parse_json(json, CACHE_METADATA)
    }

    /// The label value.
    pub fn to_label(&self) -> Result<String> {
        to_json(self, CACHE_METADATA)
    }

    /// The cached layers of one buildpack.
    pub fn buildpack(&self, id: &str) -> Option<&BuildpackLayersMetadata> {
        self.buildpacks.iter().find(|b| b.key == id)
    }
}

fn to_json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| FormatError::Encode {
        what: what.into(),
        message: e.to_string(),
    })
}
