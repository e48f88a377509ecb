//! Errors of layer writing and extraction.

use cnb_os::one_line;
use std::path::PathBuf;

/// A layer that could not be written or extracted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading a source or writing the stream failed.
    #[error("{action} '{}': {source}", one_line(&path.to_string_lossy()))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An entry of a tar stream that extraction refuses, with the reason.
    #[error("unsafe layer entry '{}': {}", one_line(entry), one_line(reason))]
    Unsafe {
        /// The entry's name in the tar.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A tar stream that cannot be read.
    #[error("invalid layer tar: {}", one_line(.0))]
    Corrupt(String),
    /// An in-image path that is not absolute.
    #[error("layer path '{0}' must be absolute")]
    RelativeDestination(String),
}

impl From<cnb_os::IoError> for ArchiveError {
    fn from(e: cnb_os::IoError) -> Self {
        ArchiveError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.into();
    move |source| ArchiveError::Io {
        action,
        path,
        source,
    }
}
