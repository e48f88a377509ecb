//! The files and labels of the Cloud Native Buildpacks specs as Rust types: every TOML file a
//! phase reads or writes (analyzed, group, plan, order, run, stack, system, metadata, report,
//! project metadata, buildpack and extension descriptors, launch, build, layer and store files,
//! exec.d output, extend config) and the JSON `io.buildpacks.*` labels.
//!
//! Reading accepts what upstream accepts across API versions; errors name the file, the key and
//! the problem. Writing is atomic (temp file + rename) and deterministic. This crate holds no phase
//! logic and does no I/O beyond reading and writing these files.
#![deny(missing_docs)]

mod error;
mod io;
mod serde_helpers;

pub mod analyzed;
pub mod bom;
pub mod build_toml;
pub mod descriptor;
pub mod detect_plan;
pub mod dockerfile;
pub mod exec_d;
pub mod extend_config;
pub mod group;
pub mod id;
pub mod labels;
pub mod launch;
pub mod layer;
pub mod metadata;
pub mod order;
pub mod plan;
pub mod project_metadata;
pub mod report;
pub mod run;
pub mod store;
pub mod system;
pub mod target;

pub use error::{FormatError, Result};
pub use io::{
    parse_json, parse_toml, read_json, read_toml, read_toml_if_exists, to_toml_string,
    write_atomic, write_toml,
};
