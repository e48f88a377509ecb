//! Errors of the image crate.

/// Result alias of this crate.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

/// Everything that can go wrong reading or writing an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A reference that does not parse.
    #[error("invalid image reference '{reference}': {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A manifest, index or config that is not what it claims to be.
    #[error("invalid {what} for '{reference}': {reason}")]
    Invalid {
        /// Which document ("manifest", "index", "config", ...).
        what: &'static str,
        /// The image it belongs to.
        reference: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A local file system error, with the path involved.
    #[error("{action} '{path}': {source}")]
    Io {
        /// What was being done ("read", "write", ...).
        action: &'static str,
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
