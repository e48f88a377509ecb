//! Blob reads: existence checks and downloads handed to the caller as a plain reader.

use std::io::Read;

use bytes::Bytes;
use oci_client::RegistryOperation::Pull;
use sha2::{Digest as _, Sha256};

use super::RegistryStore;
use super::download::{BlobReader, Resume};
use super::error::RegistryError;
use super::retry::Class;
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
        let resume = Resume {
            conn,
            reference,
            digest: d.clone(),
            policy: self.options.retry.clone(),
            timeout: self.options.request_timeout,
        };
        let stream = self
            .runtime
            .block_on(resume.rest(0))
            .map_err(|f| match f.class {
                Class::NotFound => ImageError::BlobNotFound {
                    reference: target.display.clone(),
                    digest: d,
                },
                _ => RegistryError::from_failure("pull blob", what.clone(), f).into(),
            })?;
        bump(&self.counters.blobs_downloaded, 1);
        let (tx, rx) = tokio::sync::mpsc::channel(8);
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
        self.call(&conn, &reference, Pull, || {
            conn.client.blob_exists(&reference, &d)
        })
        .map_err(|f| {
            RegistryError::from_failure("check blob", format!("{}@{digest}", target.display), f)
                .into()
        })
    }
}
