//! Errors reading and writing spec files.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;

/// A file that could not be read, parsed, encoded or written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read.
    #[error("read '{path}': {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML/JSON, or a key has the wrong shape.
    #[error("{}", invalid_message(.path, .key, .message, *.line))]
    Invalid {
        /// The file (or the label name).
        path: PathBuf,
        /// The dotted key path (`run-image.target.os`), empty for the whole document.
        key: String,
        /// What is wrong.
        message: String,
        /// The line, when known.
        line: Option<usize>,
    },
    /// A value could not be encoded.
    #[error("encode {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// Why it failed.
        message: String,
    },
    /// A Dockerfile could not be parsed, or breaks a rule of image extensions.
    #[error("{}: {message}", .path.display())]
    Dockerfile {
        /// The Dockerfile.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file could not be written.
    #[error("write '{path}': {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn invalid_message(
    path: &std::path::Path,
    key: &str,
    message: &str,
    line: Option<usize>,
) -> String {
    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
    let message = message.trim().replace('\n', " ");
    if key.is_empty() || key == "." {
        format!("invalid '{}'{at}: {message}", path.display())
    } else {
        format!("invalid '{}'{at}: key '{key}': {message}", path.display())
    }
}
