//! Uploads of blobs the caller already knows (digest and size): skipped when the repository has
//! them, mounted from another repository of the same registry when possible, else sent, several
//! at once.

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use oci_client::Reference;
use oci_client::RegistryOperation::{Pull, Push};
use oci_client::errors::OciDistributionError;

use super::RegistryStore;
use super::conn::Conn;
use super::error::RegistryError;
use super::retry::{Class, Failure, with_retry};
use super::stats::bump;
use super::target::Target;
use crate::backend::{Blob, BlobData};

const PUSH: &str = "push blob";

impl RegistryStore {
    /// Uploads `blobs` to the repository of `name`, at most
    /// [`super::RegistryOptions::max_concurrent_uploads`] at a time.
    pub(super) fn push_blobs(&self, name: &str, blobs: &[Blob]) -> crate::Result<()> {
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let limit = self.options.max_concurrent_uploads.max(1);
        let results: Vec<Result<(), RegistryError>> = self.runtime.block_on(
            futures_util::stream::iter(blobs.iter().map(|b| self.put_one(&conn, &target, b)))
                .buffer_unordered(limit)
                .collect(),
        );
        for r in results {
            r?;
        }
        Ok(())
    }

    /// Uploads one blob unless the repository has it; mounts it when it lives in another
    /// repository of the same registry.
    async fn put_one(
        &self,
        conn: &Conn,
        target: &Target,
        blob: &Blob,
    ) -> Result<(), RegistryError> {
        let reference = target.reference();
        let digest = blob.digest.to_string();
        let what = || format!("{}@{digest}", target.display);
        let exists = with_retry(
            &self.options.retry,
            self.options.request_timeout,
            || conn.client.blob_exists(&reference, &digest),
            || conn.renew(&reference, Pull),
        )
        .await
        .map_err(|f| RegistryError::from_failure("check blob", what(), f))?;
        if exists {
            bump(&self.counters.blobs_skipped, 1);
            return Ok(());
        }
        let result = match &blob.data {
            BlobData::Bytes(data) => {
                let data = Bytes::copy_from_slice(data);
                let stream = || bytes_stream(data.clone());
                self.send(conn, &reference, &digest, blob.size, stream)
                    .await
            }
            BlobData::Path(path) => {
                let stream = || file_stream(path.clone());
                self.send(conn, &reference, &digest, blob.size, stream)
                    .await
            }
            BlobData::Remote { from } => {
                let source = self.target(from).map_err(|e| RegistryError::Failed {
                    op: PUSH,
                    reference: what(),
                    reason: format!("source image: {e}"),
                })?;
                let source_ref = source.by_digest(&blob.digest);
                if self
                    .try_mount(conn, target, &source, &source_ref, &digest)
                    .await?
                {
                    bump(&self.counters.blobs_mounted, 1);
                    return Ok(());
                }
                let source_conn = if self.conn_key(&source)? == self.conn_key(target)? {
                    None
                } else {
                    Some(self.conn_async(&source).await?)
                };
                let src = source_conn.as_deref().unwrap_or(conn);
                self.copy(src, &source_ref, conn, &reference, &digest, blob.size)
                    .await
            }
        };
        result.map_err(|f| RegistryError::from_failure(PUSH, what(), f))?;
        bump(&self.counters.blobs_uploaded, 1);
        bump(&self.counters.bytes_uploaded, blob.size);
        Ok(())
    }

    /// Sends the content `stream` makes (a fresh stream per attempt).
    async fn send<S>(
        &self,
        conn: &Conn,
        reference: &Reference,
        digest: &str,
        size: u64,
        stream: impl Fn() -> S,
    ) -> Result<String, Failure>
    where
        S: Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static,
    {
        with_retry(
            &self.options.retry,
            self.options.transfer_timeout,
            || {
                conn.client
                    .push_blob_stream(reference, stream(), digest, Some(size))
            },
            || conn.renew(reference, Push),
        )
        .await
    }

    /// Links the blob from `source` when it is another repository of the same registry: true
    /// when mounted, false when it should be copied instead.
    async fn try_mount(
        &self,
        conn: &Conn,
        target: &Target,
        source: &Target,
        source_ref: &Reference,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        if source.image.registry != target.image.registry || source.insecure != target.insecure {
            return Ok(false);
        }
        let reference = target.reference();
        let mounted = with_retry(
            &self.options.retry,
            self.options.request_timeout,
            || conn.client.mount_blob(&reference, source_ref, digest),
            || conn.renew(&reference, Push),
        )
        .await;
        match mounted {
            Ok(()) => Ok(true),
            // 202 (not mounted) or a source we may not read: copy instead
            Err(f) if f.class != Class::Transient => Ok(false),
            Err(f) => Err(RegistryError::from_failure(
                "mount blob",
                format!("{}@{digest}", target.display),
                f,
            )),
        }
    }

    /// Streams a blob from `src` into `dst` (another registry, or one that would not mount).
    async fn copy(
        &self,
        src: &Conn,
        source_ref: &Reference,
        dst: &Conn,
        reference: &Reference,
        digest: &str,
        size: u64,
    ) -> Result<String, Failure> {
        with_retry(
            &self.options.retry,
            self.options.transfer_timeout,
            || async {
                let stream = src.client.pull_blob_stream(source_ref, digest).await?;
                let stream = stream.stream.map_err(OciDistributionError::IoError);
                dst.client
                    .push_blob_stream(reference, stream, digest, Some(size))
                    .await
            },
            || async {
                src.renew(source_ref, Pull).await;
                dst.renew(reference, Push).await;
            },
        )
        .await
    }
}

/// The content of a file as a stream of 1 MiB pieces, opened lazily so a retry starts over.
fn file_stream(
    path: PathBuf,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    use tokio::io::AsyncReadExt as _;
    futures_util::stream::try_unfold((path, None::<tokio::fs::File>), |(path, file)| async move {
        let mut file = match file {
            Some(f) => f,
            None => tokio::fs::File::open(&path).await?,
        };
        let mut buf = vec![0u8; 1 << 20];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), (path, Some(file)))))
    })
}

/// In-memory content as a stream (no item at all when empty: oci-client and the registry
/// accept an empty monolithic upload, but not an empty chunk).
pub(super) fn bytes_stream(
    data: Bytes,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    futures_util::stream::iter((!data.is_empty()).then_some(Ok(data)))
}
