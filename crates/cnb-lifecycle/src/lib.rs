//! The phases' logic, one module per phase, each entered through one `run` function that takes
//! the parsed inputs and a logger and returns an error that knows its exit code.
//!
//! It holds no flag parsing (that is `cnb-platform`) and no image transport (that is `cnb-image`);
//! the binaries in `phases/` are glue around [`cli::main`].

pub mod analyze;
pub mod build;
mod build_image;
pub mod cache;
pub mod cli;
pub mod create;
pub mod detect;
pub mod export;
pub mod extend;
pub mod kaniko;
pub mod launch_cache;
mod layer_files;
mod privileges;
pub mod rebase;
pub mod restore;
mod scratch;
mod stores;
pub mod target;

pub use stores::open_store;
