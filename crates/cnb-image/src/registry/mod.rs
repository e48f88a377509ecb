//! The registry backend: [`RegistryStore`] implements [`BlobStore`] over the OCI distribution
//! API with `oci-client`.
//!
//! The public API is blocking. The store owns a private multi-thread tokio runtime with two
//! workers: blob downloads are handed to the caller as a plain [`Read`] fed by a task that keeps
//! running on the runtime while the caller's thread waits on a bounded channel, which a
//! current-thread runtime could not do (it only makes progress inside `block_on`). Uploads of
//! several blobs run concurrently inside one `block_on`, bounded by
//! [`RegistryOptions::max_concurrent_uploads`]. The methods must not be called from inside
//! another tokio runtime.
//!
//! Manifests travel as exact bytes in both directions (`pull_manifest_raw`,
//! `push_manifest_raw`), so the digests we report are the digests the registry stores.

mod auth;
mod conn;
mod docker_config;
mod download;
mod error;
mod identity;
mod manifest;
mod options;
mod ping;
mod pull;
mod push;
mod retry;
mod stats;
mod target;
mod upload;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use oci_client::client::{Certificate, CertificateEncoding};

pub use auth::{AuthSource, Credential};
use conn::{Conn, ConnKey};
pub use error::RegistryError;
pub(crate) use error::{chain, one_line};
pub use options::RegistryOptions;
pub use retry::RetryPolicy;
use stats::Counters;
pub use stats::TransferStats;

use crate::backend::{Blob, BlobStore, RawManifest};
use crate::{Digest, ImageRef};

/// A [`BlobStore`] over OCI registries.
pub struct RegistryStore {
    runtime: Arc<tokio::runtime::Runtime>,
    options: RegistryOptions,
    certificates: Vec<Certificate>,
    conns: Mutex<HashMap<ConnKey, Arc<Conn>>>,
    /// Insecure registry -> whether it answered HTTPS (asked once per registry).
    https: Mutex<HashMap<String, bool>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RegistryStore {
    /// A store with its own runtime. CA files are read now.
    pub fn new(options: RegistryOptions) -> Result<Self, RegistryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cnb-registry")
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Runtime(one_line(&e.to_string())))?;
        let mut certificates = Vec::new();
        for path in &options.ca_certificates {
            let data = std::fs::read(path).map_err(|e| {
                RegistryError::Tls(format!(
                    "read ca certificate '{}': {}",
                    path.display(),
                    one_line(&e.to_string())
                ))
            })?;
            certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        Ok(Self {
            runtime: Arc::new(runtime),
            options,
            certificates,
            conns: Mutex::new(HashMap::new()),
            https: Mutex::new(HashMap::new()),
            counters: Arc::new(Counters::default()),
        })
    }

    /// What this store has transferred so far.
    pub fn stats(&self) -> TransferStats {
        self.counters.snapshot()
    }
}

impl BlobStore for RegistryStore {
    fn manifest(&self, name: &str) -> crate::Result<Option<RawManifest>> {
        let target = self.target(name)?;
        let reference = target.reference();
        self.fetch_manifest(&target, &reference)
    }

    fn manifest_by_digest(&self, name: &str, digest: &Digest) -> crate::Result<RawManifest> {
        let target = self.target(name)?;
        let reference = target.by_digest(digest);
        self.fetch_manifest(&target, &reference)?
            .ok_or_else(|| crate::ImageError::NotFound(target.image.with_digest(digest)))
    }

    fn blob(&self, name: &str, digest: &Digest) -> crate::Result<Box<dyn Read + Send>> {
        self.open_blob(name, digest)
    }

    fn has_blob(&self, name: &str, digest: &Digest) -> crate::Result<bool> {
        self.blob_exists(name, digest)
    }

    fn put_blobs(&self, name: &str, blobs: &[Blob]) -> crate::Result<()> {
        self.push_blobs(name, blobs)
    }

    /// Pushes the empty blob (the standard empty layer, harmless in any repository): a push that
    /// the registry refuses means no write access, found before the build rather than after it.
    fn check_write(&self, name: &str) -> crate::Result<()> {
        self.put_blob_stream(name, &mut std::io::empty())
            .map(|_| ())
    }

    fn put_blob_stream(&self, name: &str, data: &mut dyn Read) -> crate::Result<(Digest, u64)> {
        self.upload_stream(name, data)
    }

    fn put_manifest(&self, name: &str, manifest: &RawManifest) -> crate::Result<()> {
        self.push_manifest(name, manifest)
    }

    fn identifier(&self, name: &str, digest: &Digest) -> crate::Result<String> {
        Ok(ImageRef::parse(name)?.with_digest(digest))
    }
}
