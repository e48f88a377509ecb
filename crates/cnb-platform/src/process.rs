//! The only place that touches the real process: arguments, environment and working directory,
//! read once as OS strings. Phase binaries call these; library code and tests use
//! [`crate::parse`] directly.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::{Env, InputError, Inputs, Phase, parse};

/// Parses the process's own arguments (without the program name) and environment for `phase`,
/// resolving relative paths against the current directory.
pub fn parse_from_process(phase: Phase) -> Result<Inputs, InputError> {
    let args = lossy_args(std::env::args_os().skip(1));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    parse(phase, &args, &Env::from_process(), &cwd)
}

/// Arguments as the parser takes them. `std::env::args` panics on one that is not UTF-8; a
/// path given as such bytes is made lossy instead, and then fails as a path that does not exist.
pub fn lossy_args(args: impl IntoIterator<Item = OsString>) -> Vec<String> {
    args.into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}
