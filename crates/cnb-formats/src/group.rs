//! `group.toml` and the group elements shared by order.toml, plan.toml and metadata.toml.

use serde::{Deserialize, Serialize};

use crate::serde_helpers::is_false;

/// A buildpack or extension in a group or order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupElement {
    /// The id, e.g. `samples/hello-world`.
    pub id: String,
    /// The version; may be empty in an order (resolved from the buildpacks dir).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The Buildpack API it declares.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api: String,
    /// Its homepage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub homepage: String,
    /// Whether the group passes without it (orders only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Whether it is an image extension (never written in group.toml).
    #[serde(default, skip_serializing_if = "is_false")]
    pub extension: bool,
}

impl GroupElement {
    /// `id@version`, as logs name it.
    pub fn name(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// The directory its id names ([`crate::id::dir_name`]).
    pub fn dir_name(&self) -> String {
        crate::id::dir_name(&self.id)
    }
}

/// The whole group.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Group {
    /// The buildpacks that passed detection, in order.
    #[serde(default)]
    pub group: Vec<GroupElement>,
    /// The extensions that passed detection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_extensions: Vec<GroupElement>,
}

impl Group {
    /// Reads group.toml; every group extension is marked as such.
    pub fn read(path: &std::path::Path) -> crate::Result<Self> {
        let mut g: Group = crate::read_toml(path)?;
        for e in &mut g.group_extensions {
            e.extension = true;
            e.optional = true;
        }
        Ok(g)
    }

    /// Writes group.toml atomically, without the `optional`/`extension` markers.
    pub fn write(&self, path: &std::path::Path) -> crate::Result<()> {
        let strip = |v: &[GroupElement]| -> Vec<GroupElement> {
            v.iter()
                .map(|e| GroupElement {
                    optional: false,
                    extension: false,
                    ..e.clone()
                })
                .collect()
        };
        let out = Group {
            group: strip(&self.group),
            group_extensions: strip(&self.group_extensions),
        };
        crate::write_toml(path, &out)
    }
}
