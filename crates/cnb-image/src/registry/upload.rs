//! Uploads of content the caller streams (digest and size unknown until the end): read on the
//! caller's thread, sent in chunks by the runtime.

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use oci_client::Reference;
use oci_client::RegistryOperation::Push;
use oci_client::client::PushBlobStreamChunkedResponse;
use oci_client::errors::OciDistributionError;

use super::RegistryStore;
use super::conn::Conn;
use super::error::{RegistryError, chain, one_line};
use super::push::bytes_stream;
use super::retry::{self, Failure};
use super::stats::bump;
use super::target::Target;
use crate::Digest;

const OP: &str = "push blob";

/// How a chunked upload ended: the join of the upload task, and the reader's error if any.
type Ended = (
    Result<Result<PushBlobStreamChunkedResponse, OciDistributionError>, tokio::task::JoinError>,
    Option<String>,
);

impl RegistryStore {
    /// Uploads what `data` yields as one blob; returns its digest and size.
    pub(super) fn upload_stream(
        &self,
        name: &str,
        data: &mut dyn Read,
    ) -> crate::Result<(Digest, u64)> {
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = target.reference();
        let first = read_chunk(data).map_err(|e| read_failed(&target, &e.to_string()))?;
        let Some(first) = first else {
            return self.push_empty(&conn, &target, &reference);
        };
        let (joined, read_error) = self.send_chunks(conn, reference, first, data);
        if let Some(reason) = read_error {
            return Err(read_failed(&target, &reason).into());
        }
        let response = match joined {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let failure = Failure {
                    class: retry::classify(&e),
                    reason: chain(&e),
                };
                return Err(RegistryError::from_failure(OP, target.display, failure).into());
            }
            Err(e) => {
                return Err(RegistryError::Failed {
                    op: OP,
                    reference: target.display,
                    reason: one_line(&e.to_string()),
                }
                .into());
            }
        };
        let digest: Digest = response.blob_digest.parse()?;
        bump(&self.counters.blobs_uploaded, 1);
        bump(&self.counters.bytes_uploaded, response.size);
        Ok((digest, response.size))
    }

    /// Chunked uploads refuse empty content: the empty blob goes in one request.
    fn push_empty(
        &self,
        conn: &Conn,
        target: &Target,
        reference: &Reference,
    ) -> crate::Result<(Digest, u64)> {
        let empty = Digest::of(&[]);
        let d = empty.to_string();
        self.call(conn, reference, Push, || {
            conn.client
                .push_blob_stream(reference, bytes_stream(Bytes::new()), &d, Some(0))
        })
        .map_err(|f| RegistryError::from_failure(OP, target.display.clone(), f))?;
        bump(&self.counters.blobs_uploaded, 1);
        Ok((empty, 0))
    }

    /// Sends `first` and the rest of `data` as one chunked upload.
    ///
    /// The reader lives on this thread: feed the upload through a bounded channel while the
    /// runtime sends what arrives. A stream cannot be replayed, so no retry here.
    fn send_chunks(
        &self,
        conn: Arc<Conn>,
        reference: Reference,
        first: Vec<u8>,
        data: &mut dyn Read,
    ) -> Ended {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, OciDistributionError>>(4);
        let upload = self.runtime.spawn(async move {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            conn.client
                .push_blob_stream_chunked(&reference, stream)
                .await
        });
        let mut read_error = None;
        let mut next = Some(first);
        while let Some(chunk) = next.take() {
            if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                break; // the upload stopped; its error is reported by the caller
            }
            match read_chunk(data) {
                Ok(c) => next = c,
                Err(e) => {
                    let text = one_line(&e.to_string());
                    let _ = tx.blocking_send(Err(OciDistributionError::IoError(e)));
                    read_error = Some(text);
                }
            }
        }
        drop(tx);
        (self.runtime.block_on(upload), read_error)
    }
}

fn read_failed(target: &Target, reason: &str) -> RegistryError {
    RegistryError::Failed {
        op: OP,
        reference: target.display.clone(),
        reason: format!("read content: {}", one_line(reason)),
    }
}

/// Up to 1 MiB of `data`, or `None` at EOF.
fn read_chunk(data: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0;
    while filled < buf.len() {
        match data.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if filled == 0 {
        return Ok(None);
    }
    buf.truncate(filled);
    Ok(Some(buf))
}
