//! Blob reads: existence checks and downloads handed to the caller as a plain reader.

use std::io::Read;

use bytes::Bytes;
use oci_client::RegistryOperation::Pull;
use sha2::{Digest as _, Sha256};

use super::RegistryStore;
use super::download::{BlobReader, Resume};
use super::error::RegistryError;
use super::retry::{Class, with_retry};
use super::stats::bump;
use crate::{Digest, ImageError};

impl RegistryStore {
    /// Starts the download of a blob; the reader checks its digest at EOF.
    pub(super) fn open_blob(
        &self,
        name: &str,
        digest: &Digest,
    ) -> crate::Result<Box<dyn Read + Send>> {
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = target.reference();
        let d = digest.to_string();
        let what = format!("{}@{digest}", target.display);
        let empty = *digest == Digest::of(&[]);
        let stream = self
            .runtime
            .block_on(with_retry(
                &self.options.retry,
                self.options.request_timeout,
                // A range from byte 0: the registry answers 206 and oci-client leaves the digest
                // to the reader below, which checks it anyway (a resumed download has to), so
                // the blob is hashed once; a 200 is checked by both. The empty blob has no byte 0
                // (a range would get 416).
                || async {
                    if empty {
                        let s = conn.client.pull_blob_stream(&reference, d.as_str()).await?;
                        Ok(oci_client::client::BlobResponse::Full(s))
                    } else {
                        conn.client
                            .pull_blob_stream_partial(&reference, d.as_str(), 0, None)
                            .await
                    }
                },
                || conn.renew(&reference, Pull),
            ))
            .map_err(|f| match f.class {
                Class::NotFound => ImageError::BlobNotFound {
                    reference: target.display.clone(),
                    digest: d.clone(),
                },
                _ => RegistryError::from_failure("pull blob", what.clone(), f).into(),
            })?;
        bump(&self.counters.blobs_downloaded, 1);
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let resume = Resume {
            conn,
            reference,
            digest: d,
            policy: self.options.retry.clone(),
            timeout: self.options.request_timeout,
        };
        let stream = match stream {
            oci_client::client::BlobResponse::Full(s)
            | oci_client::client::BlobResponse::Partial(s) => s.stream,
        };
        self.runtime.spawn(resume.feed(stream, tx));
        Ok(Box::new(BlobReader {
            rx,
            pending: Bytes::new(),
            hasher: Sha256::new(),
            expected: digest.clone(),
            reference: what,
            finished: false,
            _runtime: self.runtime.clone(),
        }))
    }

    /// Whether the repository of `name` has the blob.
    pub(super) fn blob_exists(&self, name: &str, digest: &Digest) -> crate::Result<bool> {
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = target.reference();
        let d = digest.to_string();
        self.runtime
            .block_on(with_retry(
                &self.options.retry,
                self.options.request_timeout,
                || conn.client.blob_exists(&reference, &d),
                || conn.renew(&reference, Pull),
            ))
            .map_err(|f| {
                RegistryError::from_failure("check blob", format!("{}@{digest}", target.display), f)
                    .into()
            })
    }
}
