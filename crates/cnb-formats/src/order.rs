//! `order.toml`: the groups a detector tries (also the `[[order]]` of a composite buildpack).

use serde::{Deserialize, Serialize};

use crate::group::GroupElement;

/// One `[[order]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderGroup {
    /// The buildpacks (or extensions) of this group, in order.
    #[serde(default)]
    pub group: Vec<GroupElement>,
}

/// The whole order.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Order {
    /// Buildpack groups, tried first to last.
    #[serde(default)]
    pub order: Vec<OrderGroup>,
    /// Extension groups, prepended to every buildpack group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_extensions: Vec<OrderGroup>,
}

impl Order {
    /// Reads order.toml; extension entries are marked as optional extensions.
    pub fn read(path: &std::path::Path) -> crate::Result<Self> {
        let mut o: Order = crate::read_toml(path)?;
        for g in &mut o.order_extensions {
            for e in &mut g.group {
                e.extension = true;
                e.optional = true;
            }
        }
        Ok(o)
    }
}
