//! Why a process could not be launched (exit 82, or 11/12 for API problems).

use std::path::PathBuf;

/// A launch failure.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// `CNB_PLATFORM_API` missing or unsupported (exit 11).
    #[error("{0}")]
    PlatformApi(String),
    /// A buildpack in metadata.toml has an unsupported API (exit 12).
    #[error("buildpack '{buildpack}': buildpack api '{api}' is not supported by this launcher")]
    BuildpackApi {
        /// The buildpack.
        buildpack: String,
        /// Its API.
        api: String,
    },
    /// metadata.toml could not be read.
    #[error(transparent)]
    Metadata(#[from] cnb_formats::FormatError),
    /// No default process and no command given.
    #[error("when there is no default process a command is required")]
    NoCommand,
    /// The selected process type does not exist.
    #[error("process type '{0}' was not found")]
    NoSuchProcess(String),
    /// The process is not for this execution environment (Platform API 0.15).
    #[error("process type '{process}' is not eligible for execution environment '{exec_env}'")]
    NotForExecEnv {
        /// The process.
        process: String,
        /// `CNB_EXEC_ENV`.
        exec_env: String,
    },
    /// A direct command that is not on PATH.
    #[error("command '{0}' not found on PATH")]
    NotFound(String),
    /// An exec.d executable failed or wrote something that is not `NAME = "value"` TOML.
    #[error("exec.d '{path}': {reason}")]
    ExecD {
        /// The executable.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file system error.
    #[error(transparent)]
    Io(#[from] cnb_os::IoError),
    /// The exec itself failed.
    #[error("exec: {0}")]
    Exec(std::io::Error),
}

impl LaunchError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LaunchError::Io(cnb_os::IoError::at(action, path)(source))
    }

    /// The exit code: an API problem's, else the launch error's.
    pub fn exit_code(&self) -> cnb_api::ExitCode {
        match self {
            LaunchError::PlatformApi(_) => cnb_api::ExitCode::IncompatiblePlatformApi,
            LaunchError::BuildpackApi { .. } => cnb_api::ExitCode::IncompatibleBuildpackApi,
            _ => cnb_api::ExitCode::LaunchError,
        }
    }
}
