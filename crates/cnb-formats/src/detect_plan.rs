//! The build plan a buildpack's `/bin/detect` writes: provides, requires and `or` alternatives.

use serde::{Deserialize, Serialize};

use crate::plan::Require;

/// A provided dependency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provide {
    /// The dependency name.
    pub name: String,
}

/// One set of provides and requires.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSections {
    /// What the buildpack provides.
    #[serde(default)]
    pub provides: Vec<Provide>,
    /// What the buildpack requires.
    #[serde(default)]
    pub requires: Vec<Require>,
}

/// The whole detect output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectPlan {
    /// What the first alternative provides.
    #[serde(default)]
    pub provides: Vec<Provide>,
    /// What the first alternative requires.
    #[serde(default)]
    pub requires: Vec<Require>,
    /// Further alternatives, tried in order.
    #[serde(default)]
    pub or: Vec<PlanSections>,
}

impl DetectPlan {
    /// Every alternative, the top-level one first.
    pub fn alternatives(&self) -> Vec<PlanSections> {
        let first = PlanSections {
            provides: self.provides.clone(),
            requires: self.requires.clone(),
        };
        std::iter::once(first)
            .chain(self.or.iter().cloned())
            .collect()
    }

    /// A top-level `version` in a require is an error since Buildpack API 0.3: returns the name of
    /// the first offending requirement.
    pub fn require_with_top_level_version(&self) -> Option<&str> {
        self.requires
            .iter()
            .chain(self.or.iter().flat_map(|s| &s.requires))
            .find(|r| !r.version.is_empty())
            .map(|r| r.name.as_str())
    }
}
