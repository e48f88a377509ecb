//! The environment buildpacks and processes run with: the lifecycle's own environment filtered,
//! then layered with each layer's `bin/`, `lib/` (and friends) and its `env/`, `env.build/`,
//! `env.launch/` files with their `.override`/`.default`/`.prepend`/`.append`/`.delim` suffixes,
//! and the platform's `env/` directory (buildpack.md "Environment").
//!
//! It neither reads the process environment nor runs anything: callers pass the environment in
//! and get the result out. It links no image code, so the launcher can use it.

mod env;
mod error;
mod launch;
mod process;

pub use env::{Action, Env, Purpose};
pub use error::LaunchError;
pub use launch::{Request, launch, prepare};
pub use process::{Selected, select};
