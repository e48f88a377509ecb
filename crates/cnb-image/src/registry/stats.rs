//! What a store has transferred: counters the transfers bump from any task, read as one
//! [`TransferStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// What a store has transferred so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Blobs uploaded (bytes sent).
    pub blobs_uploaded: u64,
    /// Bytes of the uploaded blobs.
    pub bytes_uploaded: u64,
    /// Blobs not sent because the repository already had them.
    pub blobs_skipped: u64,
    /// Blobs linked from another repository of the same registry.
    pub blobs_mounted: u64,
    /// Manifests and indexes pushed.
    pub manifests_pushed: u64,
    /// Blob downloads started.
    pub blobs_downloaded: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) blobs_uploaded: AtomicU64,
    pub(super) bytes_uploaded: AtomicU64,
    pub(super) blobs_skipped: AtomicU64,
    pub(super) blobs_mounted: AtomicU64,
    pub(super) manifests_pushed: AtomicU64,
    pub(super) blobs_downloaded: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> TransferStats {
        TransferStats {
            blobs_uploaded: self.blobs_uploaded.load(Ordering::Relaxed),
            bytes_uploaded: self.bytes_uploaded.load(Ordering::Relaxed),
            blobs_skipped: self.blobs_skipped.load(Ordering::Relaxed),
            blobs_mounted: self.blobs_mounted.load(Ordering::Relaxed),
            manifests_pushed: self.manifests_pushed.load(Ordering::Relaxed),
            blobs_downloaded: self.blobs_downloaded.load(Ordering::Relaxed),
        }
    }
}

pub(super) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
