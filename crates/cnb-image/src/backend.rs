//! The storage interface every backend implements: manifests and blobs addressed by image
//! name and digest. Image logic (target resolution, editing, saving) is written once on top of
//! it, so the OCI layout and the registry behave the same way.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use crate::{Digest, Result};

/// A manifest or index exactly as stored: its digest is the sha256 of `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// The exact bytes (never re-serialised: the digest we report must match what is stored).
    pub bytes: Vec<u8>,
    /// The media type (OCI or Docker, image or index).
    pub media_type: String,
    /// `sha256:` digest of `bytes`.
    pub digest: Digest,
}

/// Where the bytes of a blob to store come from.
#[derive(Debug, Clone)]
pub enum BlobData {
    /// A file on disk (a compressed layer written once, read once for upload).
    Path(PathBuf),
    /// Small in-memory content (a config, an empty layer).
    Bytes(Arc<[u8]>),
    /// Already stored under another image name of the same store: linked (a layout) or mounted
    /// (a registry) when possible, else copied.
    Remote {
        /// The image name that holds it.
        from: String,
    },
}

/// A blob whose digest and size are already known.
#[derive(Debug, Clone)]
pub struct Blob {
    /// `sha256:` digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// The content.
    pub data: BlobData,
}

/// Storage of manifests and blobs under image names.
///
/// `name` is an image reference as a platform gives it (`host[:port]/repo[:tag|@digest]`). Each
/// backend maps it to its own addressing: a registry repository, or a path inside a layout
/// directory as platform.md describes.
pub trait BlobStore: Send + Sync {
    /// The manifest or index that `name` points at, or `None` when the name does not exist.
    fn manifest(&self, name: &str) -> Result<Option<RawManifest>>;

    /// A manifest of the same repository addressed by digest (a child of an index).
    fn manifest_by_digest(&self, name: &str, digest: &Digest) -> Result<RawManifest>;

    /// A reader over the blob's content, verified against `digest` by the time it reaches EOF.
    fn blob(&self, name: &str, digest: &Digest) -> Result<Box<dyn Read + Send>>;

    /// Whether the repository/layout behind `name` already holds the blob.
    fn has_blob(&self, name: &str, digest: &Digest) -> Result<bool>;

    /// Stores blobs whose digests are known, skipping any that already exist. Backends may
    /// transfer them concurrently.
    fn put_blobs(&self, name: &str, blobs: &[Blob]) -> Result<()>;

    /// Stores a blob whose digest is not known in advance, hashing it while it streams, and
    /// returns its digest and size.
    fn put_blob_stream(&self, name: &str, data: &mut dyn Read) -> Result<(Digest, u64)>;

    /// Stores a manifest (or index) under `name`: its tag, or only by digest when `name` has
    /// none. Called last, after every blob it refers to is stored.
    fn put_manifest(&self, name: &str, manifest: &RawManifest) -> Result<()>;

    /// Fails when `name` cannot be written with the credentials at hand, before any real work is
    /// done (the analyzer checks every output name this way). The default writes nothing.
    fn check_write(&self, name: &str) -> Result<()> {
        let _ = name;
        Ok(())
    }

    /// Exclusive access to the index under `name` until the returned lock is dropped, for
    /// backends that can give it (a layout: a file lock). `None` means the backend has no lock
    /// (a registry has no compare-and-swap on tags), so callers verify their writes instead.
    fn lock(&self, name: &str) -> Result<Option<NameLock>> {
        let _ = name;
        Ok(None)
    }

    /// The identifier a platform records for an image of this store (`repo@sha256:...` for a
    /// registry, `<path>@sha256:...` for a layout).
    fn identifier(&self, name: &str, digest: &Digest) -> Result<String>;
}

/// Held exclusive access to one name of a store; released on drop.
pub struct NameLock {
    _held: Box<dyn Send>,
}

impl NameLock {
    /// A lock that lasts as long as `held` lives (a locked file, ...).
    pub fn new(held: impl Send + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for NameLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NameLock")
    }
}
