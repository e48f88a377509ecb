//! Errors of the image crate.

use crate::target::{Target, list};

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
    /// A digest that is not `sha256:<64 hex>`.
    #[error("invalid digest '{0}': expected sha256:<64 hex digits>")]
    InvalidDigest(String),
    /// A manifest, index or config that is not what it claims to be.
    #[error("invalid {what} of '{reference}': {reason}")]
    Invalid {
        /// Which document ("manifest", "index", "config", ...).
        what: &'static str,
        /// The image it belongs to.
        reference: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The image does not exist.
    #[error("image '{0}' not found")]
    NotFound(String),
    /// A blob the image refers to is missing.
    #[error("blob {digest} of '{reference}' not found")]
    BlobNotFound {
        /// The image.
        reference: String,
        /// The blob.
        digest: String,
    },
    /// Content whose digest is not the one it was fetched by.
    #[error("content of '{reference}' does not match its digest {expected} (got {actual})")]
    DigestMismatch {
        /// The image.
        reference: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// An index with no child for the wanted platform.
    #[error("no image for {wanted} in index '{reference}' (available: {})", list(.available))]
    NoMatchingPlatform {
        /// The index.
        reference: String,
        /// The target.
        wanted: Box<Target>,
        /// What the index offers.
        available: Vec<Target>,
    },
    /// A single-platform image of another platform where that is not acceptable.
    #[error("image '{reference}' is for {found}, but the build is for {wanted}")]
    PlatformMismatch {
        /// The image.
        reference: String,
        /// Its platform.
        found: Box<Target>,
        /// The target.
        wanted: Box<Target>,
    },
    /// A layer asked for by diffID that the image does not have.
    #[error("image '{reference}' has no layer with diffID {diff_id}")]
    NoSuchLayer {
        /// The image.
        reference: String,
        /// The diffID.
        diff_id: String,
    },
    /// An index was asked for but the name holds a single image.
    #[error("'{0}' is a single image, not an index: refusing to replace it with an index")]
    NotAnIndex(String),
    /// Concurrent writers kept dropping our entry from an index.
    #[error(
        "gave up adding {platform} to index '{index}' after {attempts} attempts: concurrent writers kept replacing the index"
    )]
    IndexContention {
        /// The index.
        index: String,
        /// The platform of the entry.
        platform: String,
        /// How often it was tried.
        attempts: u32,
    },
    /// An operation a backend cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// A registry operation that failed.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// A Docker daemon operation that failed.
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
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

pub(crate) fn io(
    action: &'static str,
    path: impl Into<std::path::PathBuf>,
) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.into();
    move |source| ImageError::Io {
        action,
        path,
        source,
    }
}
