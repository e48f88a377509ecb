//! What every phase binary does around its phase function: parse inputs, warn, run, map the error
//! to its exit code and print it once.

use std::process::ExitCode;

use cnb_platform::{ExitClass, InputError, Inputs, Logger, Phase};

/// Runs `phase` with the process's arguments and environment.
pub fn main<E>(phase: Phase, run: impl FnOnce(&Inputs, &Logger) -> Result<(), E>) -> ExitCode
where
    E: std::fmt::Display + ExitClass,
{
    // Not `std::env::args`, which panics on an argument that is not UTF-8.
    let inputs = match cnb_platform::parse_from_process(phase) {
        Ok(i) => i,
        Err(InputError::Info(text)) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{text}");
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            Logger::default().error(&e);
            return e.exit_code().into();
        }
    };
    let log = Logger::new(inputs.log_level, inputs.no_color);
    for w in &inputs.warnings {
        log.warn(w);
    }
    match run(&inputs, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log.error(&e);
            e.exit_code().into()
        }
    }
}
