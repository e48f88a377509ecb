//! Errors of OS operations.

use std::path::{Path, PathBuf};

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
    #[error(transparent)]
    Io(#[from] IoError),
    /// Not available on this OS.
    #[error("{0} is not supported on this operating system")]
    Unsupported(&'static str),
}

/// A file system operation that failed, naming what was being done and to which path: the one
/// shape of every crate's `Io` error (cnb-image, which may not depend on cnb-os, has its own).
#[derive(Debug, thiserror::Error)]
#[error("{action} '{path}': {source}")]
pub struct IoError {
    /// What was being done.
    pub action: &'static str,
    /// The path.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// For `map_err`: the failure of `action` on `path`.
    pub fn at(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| IoError {
            action,
            path,
            source,
        }
    }

    /// A failure of `action` while walking a tree: at the entry walkdir names, else at `at`.
    pub fn walk(action: &'static str, at: &Path, err: walkdir::Error) -> Self {
        let path = err.path().unwrap_or(at).to_path_buf();
        let source = err
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other(format!("{action} failed")));
        IoError {
            action,
            path,
            source,
        }
    }
}
