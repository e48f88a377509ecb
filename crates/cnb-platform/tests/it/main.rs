//! Black-box tests of phase input parsing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod docs;
mod forms;
mod hostile;
mod others;
mod phases;
mod platforms;
mod resolve;

use std::path::Path;

use cnb_platform::{Env, ExitClass, InputError, Inputs, Phase, parse};

/// Parses `args` for `phase` with `CNB_PLATFORM_API=api` plus `env`.
pub fn run(
    phase: Phase,
    api: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Inputs, InputError> {
    let mut e: Env = env.iter().copied().collect();
    if !api.is_empty() {
        e.set("CNB_PLATFORM_API", api);
    }
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    parse(phase, &args, &e, Path::new("/cwd"))
}

/// The exit code and message of a rejected command line.
pub fn fails(phase: Phase, api: &str, args: &[&str], env: &[(&str, &str)]) -> (u8, String) {
    match run(phase, api, args, env) {
        Ok(i) => panic!("{phase} {args:?} at {api} parsed: {:?}", i.positionals),
        Err(e) => (e.exit_code().code(), e.to_string()),
    }
}
