//! Errors of OS operations.

use std::path::PathBuf;

/// An OS operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// The phase must not run as root.
    #[error(
        "refusing to run as root: the {phase} runs buildpacks and needs an unprivileged user (set the container user, e.g. CNB_USER_ID)"
    )]
    RefusingRoot {
        /// The phase.
        phase: String,
    },
    /// Switching user failed.
    #[error("drop privileges to {uid}:{gid}: {reason}")]
    DropPrivileges {
        /// Wanted user.
        uid: u32,
        /// Wanted group.
        gid: u32,
        /// Why it failed.
        reason: String,
    },
    /// A file operation failed.
    #[error("{action} '{path}': {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not available on this OS.
    #[error("{0} is not supported on this operating system")]
    Unsupported(&'static str),
}
