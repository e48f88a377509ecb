//! `<layers>/config/metadata.toml`: what the builder hands to the exporter and the launcher.

use cnb_api::Version;
use serde::{Deserialize, Serialize};

use crate::group::GroupElement;
use crate::serde_helpers::string_or_vec;

/// A buildpack-provided label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The label key.
    pub key: String,
    /// The label value.
    pub value: String,
}

/// A process the app image can run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Process {
    /// The process type, e.g. `web`.
    pub r#type: String,
    /// The command: an array since Platform API 0.10, a single string before (both are read).
    #[serde(default, deserialize_with = "string_or_vec")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether it runs without a shell.
    #[serde(default)]
    pub direct: bool,
    /// The buildpack that declared it.
    #[serde(default, rename = "buildpack-id")]
    pub buildpack_id: String,
    /// The working directory, when not the app dir.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Execution environments it is for (Platform API 0.15); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_env: Vec<String>,
}

/// A slice of the app directory exported as its own layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Glob patterns relative to the app dir.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// The whole metadata.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LaunchMetadata {
    /// The default process type chosen by the buildpacks.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub buildpack_default_process_type: String,
    /// The group that built the app.
    #[serde(default)]
    pub buildpacks: Vec<GroupElement>,
    /// Extensions of the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<GroupElement>,
    /// Labels for the app image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    /// Processes, sorted by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
    /// App slices, in buildpack order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<Slice>,
    /// Legacy bill of materials (Platform API below 0.9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bom: Vec<crate::bom::BomEntry>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum CommandRepr<'a> {
    One(&'a str),
    Many(&'a [String]),
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ProcessOut<'a> {
    r#type: &'a str,
    command: CommandRepr<'a>,
    args: Vec<String>,
    direct: bool,
    #[serde(rename = "buildpack-id")]
    buildpack_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    working_dir: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    exec_env: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct LaunchMetadataOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    buildpack_default_process_type: &'a str,
    buildpacks: &'a [GroupElement],
    #[serde(skip_serializing_if = "<[GroupElement]>::is_empty")]
    extensions: &'a [GroupElement],
    #[serde(skip_serializing_if = "<[Label]>::is_empty")]
    labels: &'a [Label],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    processes: Vec<ProcessOut<'a>>,
    #[serde(skip_serializing_if = "<[Slice]>::is_empty")]
    slices: &'a [Slice],
    #[serde(skip_serializing_if = "<[crate::bom::BomEntry]>::is_empty")]
    bom: &'a [crate::bom::BomEntry],
}

impl LaunchMetadata {
    /// Reads metadata.toml.
    pub fn read(path: &std::path::Path) -> crate::Result<Self> {
        crate::read_toml(path)
    }

    /// Reads metadata.toml as a launcher at `platform_api` sees it: below 0.10 the command is a
    /// single string and any further command words are arguments.
    pub fn read_for(path: &std::path::Path, platform_api: Version) -> crate::Result<Self> {
        let mut md = Self::read(path)?;
        if platform_api < Version::new(0, 10) {
            for p in &mut md.processes {
                if p.command.len() > 1 {
                    let extra: Vec<String> = p.command.drain(1..).collect();
                    p.args.splice(0..0, extra);
                }
            }
        }
        Ok(md)
    }

    /// The TOML text for `platform_api`: the command is an array from 0.10 on, a string before
    /// (with further command words moved in front of the arguments).
    pub fn to_toml_for(&self, platform_api: Version) -> crate::Result<String> {
        let array = platform_api >= Version::new(0, 10);
        let processes = self
            .processes
            .iter()
            .map(|p| {
                let (command, args) = if array || p.command.len() <= 1 {
                    let c = if array {
                        CommandRepr::Many(&p.command)
                    } else {
                        CommandRepr::One(p.command.first().map(String::as_str).unwrap_or(""))
                    };
                    (c, p.args.clone())
                } else {
                    let mut args: Vec<String> = p.command[1..].to_vec();
                    args.extend(p.args.iter().cloned());
                    (CommandRepr::One(&p.command[0]), args)
                };
                ProcessOut {
                    r#type: &p.r#type,
                    command,
                    args,
                    direct: p.direct,
                    buildpack_id: &p.buildpack_id,
                    working_dir: &p.working_dir,
                    exec_env: &p.exec_env,
                }
            })
            .collect();
        crate::to_toml_string(&LaunchMetadataOut {
            buildpack_default_process_type: &self.buildpack_default_process_type,
            buildpacks: &self.buildpacks,
            extensions: &self.extensions,
            labels: &self.labels,
            processes,
            slices: &self.slices,
            bom: &self.bom,
        })
    }

    /// Writes metadata.toml for `platform_api`, atomically.
    pub fn write_for(&self, path: &std::path::Path, platform_api: Version) -> crate::Result<()> {
        crate::write_atomic(path, self.to_toml_for(platform_api)?.as_bytes())
    }

    /// The process of type `ty`.
    pub fn process(&self, ty: &str) -> Option<&Process> {
        self.processes.iter().find(|p| p.r#type == ty)
    }
}
