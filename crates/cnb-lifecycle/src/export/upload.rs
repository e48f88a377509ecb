//! Early upload: each new layer's blob is stored (sent to the registry, or copied into the
//! layout) as soon as it is written, on a thread of its own, while the next layers are built
//! (before, storing started once every layer was written). The save that follows stores every blob as before, finding these already
//! there, then the manifests: nothing is tagged before every blob is stored, and a blob whose early
//! upload failed is sent again there, with the same retries and timeouts, and its error reported.

use std::sync::mpsc;

use cnb_image::{Blob, BlobStore};
use cnb_platform::Logger;

/// Hands blobs to the upload thread.
pub(crate) struct EarlyUpload {
    tx: mpsc::Sender<Blob>,
}

impl EarlyUpload {
    /// Queues `blob` (its file stays until the export ends); uploads go one at a time, in order.
    pub(crate) fn send(&self, blob: &Blob) {
        // The thread only stops when this side is gone.
        let _ = self.tx.send(blob.clone());
    }
}

/// Runs `f` with an [`EarlyUpload`] to `name` in `store` when `name` is given, and waits for the
/// uploads to end before returning what `f` returned.
pub(crate) fn with_early_upload<R>(
    store: &dyn BlobStore,
    name: Option<&str>,
    log: &Logger,
    f: impl FnOnce(Option<&EarlyUpload>) -> R,
) -> R {
    let Some(name) = name else {
        return f(None);
    };
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<Blob>();
        let worker = s.spawn(move || {
            let mut failed = Vec::new();
            for blob in rx {
                if let Err(e) = store.put_blobs(name, std::slice::from_ref(&blob)) {
                    failed.push(format!("{}: {e}", blob.digest));
                }
            }
            failed
        });
        let upload = EarlyUpload { tx };
        let out = f(Some(&upload));
        drop(upload);
        let failed = match worker.join() {
            Ok(f) => f,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        for why in failed {
            log.debug(format!("early upload failed, retried when saving: {why}"));
        }
        out
    })
}
