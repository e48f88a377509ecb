//! The inputs of every lifecycle phase, as the Platform API defines them: one table of flags,
//! `CNB_*` environment variables and defaults per phase and Platform API version, a parser that
//! accepts Go-style single-dash flags, the spec's exit codes, and the phases' logger.
//!
//! It does not read files or images and holds no phase logic; the process environment is an input
//! value ([`Env`]), read from the real environment only by [`Env::from_process`] and
//! [`parse_from_process`] (as OS strings: bytes that are not UTF-8 never panic). The registry
//! and daemon settings the image crate needs (`DOCKER_CONFIG`, `SSL_CERT_FILE`, `DOCKER_HOST`,
//! ...) are resolved here too, so no library crate reads the environment itself.
#![deny(missing_docs)]

mod docs;
mod env;
mod error;
mod exit;
mod inputs;
mod log;
mod parse;
mod phase;
mod process;
mod table;
mod version;

pub use docs::inputs_markdown;
pub use env::{Env, parse_go_bool};
pub use error::InputError;
pub use exit::{ExitClass, ExitCode};
pub use inputs::{Inputs, Target};
pub use log::{LogLevel, Logger};
pub use parse::parse;
pub use phase::Phase;
pub use process::{lossy_args, parse_from_process};
pub use table::{
    Availability, ENV_AT_EVERY_API, INPUTS, InputDef, Key, Kind, availability, def_of, inputs_of,
};
pub use version::{SCM_COMMIT, VERSION, build_version};
