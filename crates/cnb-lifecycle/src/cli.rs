//! What every phase binary does around its phase function: parse inputs, warn, run, map the error
//! to its exit code and print it once.

use std::process::ExitCode;

use cnb_platform::{Env, ExitClass, InputError, Inputs, Logger, Phase};

/// Runs `phase` with the process's arguments and environment.
pub fn main<E>(phase: Phase, run: impl FnOnce(&Inputs, &Logger) -> Result<(), E>) -> ExitCode
where
    E: std::fmt::Display + ExitClass,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let inputs = match cnb_platform::parse(phase, &args, &Env::from_process(), &cwd) {
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
