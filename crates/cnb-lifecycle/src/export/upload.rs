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
            // After a failure the rest is left to the save, so that a registry that refuses or
            // hangs costs its retries and timeouts once, not once per layer before the save.
            let mut failed = None;
            for blob in rx {
                if failed.is_none()
                    && let Err(e) = store.put_blobs(name, std::slice::from_ref(&blob))
                {
                    failed = Some(format!("{}: {e}", blob.digest));
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
        if let Some(why) = failed {
            log.debug(format!(
                "early upload stopped, the save stores the rest: {why}"
            ));
        }
        out
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cnb_image::{BlobData, Digest, LayoutStore};

    use super::*;

    const NAME: &str = "local.test/app:latest";

    fn bytes(b: &[u8]) -> Blob {
        Blob {
            digest: Digest::of(b),
            size: b.len() as u64,
            data: BlobData::Bytes(b.into()),
        }
    }

    #[test]
    fn blobs_are_stored_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::new(dir.path());
        let blobs = [bytes(b"one"), bytes(b"two")];
        let out = with_early_upload(&store, Some(NAME), &Logger::default(), |up| {
            blobs.iter().for_each(|b| up.unwrap().send(b));
            7
        });
        assert_eq!(out, 7);
        for b in &blobs {
            assert!(store.has_blob(NAME, &b.digest).unwrap());
        }
    }

    #[test]
    fn after_a_failure_the_rest_is_left_to_the_save() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::new(dir.path());
        let missing = Blob {
            digest: Digest::of(b"gone"),
            size: 4,
            data: BlobData::Path(dir.path().join("no-such-file")),
        };
        let later = bytes(b"later");
        with_early_upload(&store, Some(NAME), &Logger::default(), |up| {
            up.unwrap().send(&missing);
            up.unwrap().send(&later);
        });
        assert!(!store.has_blob(NAME, &later.digest).unwrap());
    }

    #[test]
    fn without_a_name_nothing_is_started() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::new(dir.path());
        assert!(with_early_upload(&store, None, &Logger::default(), |up| up.is_none()));
    }
}
