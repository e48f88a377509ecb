//! Blob downloads handed to the caller as a plain [`Read`]: a task on the store's runtime feeds a
//! bounded channel and picks the download up where a broken connection left it; the reader
//! hashes what passes and fails at EOF when the digest differs.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::Reference;
use sha2::{Digest as _, Sha256};

use super::chain;
use super::conn::Conn;
use super::retry::{Failure, RetryPolicy, with_retry};
use crate::Digest;

/// What a blob download needs to pick up where a broken connection left it.
pub(super) struct Resume {
    pub(super) conn: Arc<Conn>,
    pub(super) reference: Reference,
    pub(super) digest: String,
    pub(super) policy: RetryPolicy,
    pub(super) timeout: Duration,
}

type ByteStream = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

impl Resume {
    /// Sends the blob's bytes to `tx`; when the connection breaks, asks for the rest (a range
    /// from the bytes already sent, or the whole blob again, skipping them) with retries.
    pub(super) async fn feed(
        self,
        first: ByteStream,
        tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    ) {
        let mut stream = first;
        let mut sent: u64 = 0;
        let mut resumes = 1;
        loop {
            match stream.next().await {
                None => return,
                Some(Ok(chunk)) => {
                    sent += chunk.len() as u64;
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) if resumes < self.policy.attempts => {
                    resumes += 1;
                    let wait = self.policy.initial_backoff * resumes;
                    tokio::time::sleep(wait.min(self.policy.max_backoff)).await;
                    match self.rest(sent).await {
                        Ok(s) => stream = s,
                        Err(_) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    }

    /// The blob from byte `from` on, with retries. The whole blob is asked for as a range from
    /// byte 0 too: the registry answers 206 and oci-client leaves the digest to [`BlobReader`],
    /// which checks it anyway (a resumed download has to), so the blob is hashed once (a 200 is
    /// checked by both). The empty blob has no byte 0 (a range would get 416).
    pub(super) async fn rest(&self, from: u64) -> Result<ByteStream, Failure> {
        let whole_empty = from == 0 && self.digest == Digest::of(&[]).to_string();
        let answer = with_retry(
            &self.policy,
            self.timeout,
            || async move {
                let client = &self.conn.client;
                let digest = self.digest.as_str();
                if whole_empty {
                    let s = client.pull_blob_stream(&self.reference, digest).await?;
                    Ok(oci_client::client::BlobResponse::Full(s))
                } else {
                    client
                        .pull_blob_stream_partial(&self.reference, digest, from, None)
                        .await
                }
            },
            || {
                self.conn
                    .renew(&self.reference, oci_client::RegistryOperation::Pull)
            },
        )
        .await?;
        Ok(match answer {
            oci_client::client::BlobResponse::Partial(s) => s.stream,
            // the registry ignored the range: skip what was already sent
            oci_client::client::BlobResponse::Full(s) => {
                let mut skip = from;
                s.stream
                    .filter_map(move |item| {
                        let out = match item {
                            Ok(mut chunk) if skip > 0 => {
                                let n = skip.min(chunk.len() as u64);
                                skip -= n;
                                let rest = chunk.split_off(n as usize);
                                (!rest.is_empty()).then_some(Ok(rest))
                            }
                            other => Some(other),
                        };
                        std::future::ready(out)
                    })
                    .boxed()
            }
        })
    }
}

/// A blob download as a [`Read`]: a task on the store's runtime feeds a bounded channel, the
/// reader hashes what passes and fails at EOF when the digest differs.
pub(super) struct BlobReader {
    pub(super) rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    pub(super) pending: Bytes,
    pub(super) hasher: Sha256,
    pub(super) expected: Digest,
    pub(super) reference: String,
    pub(super) finished: bool,
    pub(super) _runtime: Arc<tokio::runtime::Runtime>,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pending.is_empty() {
            if self.finished {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.hasher.update(&chunk);
                    self.pending = chunk;
                }
                Some(Err(e)) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("pull blob '{}': {}", self.reference, chain(&e)),
                    ));
                }
                None => {
                    self.finished = true;
                    let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
                    if actual != self.expected.hex() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "pull blob '{}': content does not match its digest {} (got sha256:{actual})",
                                self.reference, self.expected
                            ),
                        ));
                    }
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}
