//! Why a phase's inputs were rejected.

use crate::{ExitClass, ExitCode};
use cnb_os::one_line;

/// An input problem, with the exit code the spec gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// `CNB_PLATFORM_API` missing, malformed or unsupported (exit 11).
    #[error("{}", one_line(.0))]
    PlatformApi(String),
    /// A flag the phase does not know at this Platform API, or a command line Go's `flag` package
    /// cannot parse (bad syntax, a missing value) (exit 2).
    #[error("{}", one_line(.0))]
    UnknownFlag(String),
    /// A bad value or a wrong number of arguments (exit 3).
    #[error("{}", one_line(.0))]
    InvalidArgs(String),
    /// Not an error: `-version` or `-help` was asked for; the text is what to print (exit 0).
    #[error("{0}")]
    Info(String),
}

impl ExitClass for InputError {
    fn exit_code(&self) -> ExitCode {
        match self {
            InputError::PlatformApi(_) => ExitCode::IncompatiblePlatformApi,
            InputError::UnknownFlag(_) => ExitCode::InvalidFlag,
            InputError::InvalidArgs(_) => ExitCode::InvalidArgs,
            InputError::Info(_) => ExitCode::Success,
        }
    }
}
