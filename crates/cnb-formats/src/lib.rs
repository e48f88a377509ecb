//! Serde types for every CNB platform and buildpack file and label.
