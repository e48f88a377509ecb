//! `plan.toml` (the resolved build plan) and the per-buildpack plan handed to `/bin/build`.

use serde::{Deserialize, Serialize};

use crate::group::GroupElement;

/// A required dependency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Require {
    /// The dependency name.
    pub name: String,
    /// A version (deprecated in favour of metadata).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub metadata: toml::Table,
}

/// One `[[entries]]` of plan.toml: who provides a dependency and who requires it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The buildpacks (or extensions) that provide it.
    #[serde(default)]
    pub providers: Vec<GroupElement>,
    /// The requirements on it.
    #[serde(default)]
    pub requires: Vec<Require>,
}

/// The whole plan.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// One entry per dependency.
    #[serde(default)]
    pub entries: Vec<PlanEntry>,
}

impl Plan {
    /// The requirements whose providers include `id`: the buildpack plan for that buildpack.
    pub fn for_buildpack(&self, id: &str) -> BuildpackPlan {
        let entries = self
            .entries
            .iter()
            .filter(|e| e.providers.iter().any(|p| p.id == id))
            .flat_map(|e| e.requires.iter().cloned())
            .collect();
        BuildpackPlan { entries }
    }
}

/// The plan a buildpack receives at `CNB_BP_PLAN_PATH` (`[[entries]] name, version, metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackPlan {
    /// The requirements this buildpack provides for.
    #[serde(default)]
    pub entries: Vec<Require>,
}
