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
mod docker_config;
mod download;
mod error;
mod identity;
mod options;
mod ping;
mod retry;

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use oci_client::RegistryOperation::{self, Pull, Push};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest as _, Sha256};

pub use auth::{AuthSource, Credential};
use download::{BlobReader, Resume};
pub use error::RegistryError;
pub(crate) use error::{chain, one_line};
pub use options::RegistryOptions;
pub use retry::RetryPolicy;
use retry::{Class, Failure, with_retry};

use crate::backend::{Blob, BlobData, BlobStore, RawManifest};
use crate::{Digest, ImageError, ImageRef};

/// Manifest media types we ask registries for.
const ACCEPTED_MANIFESTS: [&str; 4] = [
    OCI_IMAGE_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

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
struct Counters {
    blobs_uploaded: AtomicU64,
    bytes_uploaded: AtomicU64,
    blobs_skipped: AtomicU64,
    blobs_mounted: AtomicU64,
    manifests_pushed: AtomicU64,
    blobs_downloaded: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A client for one registry (and one protocol), with its credentials already stored.
pub(super) struct Conn {
    client: Client,
    /// The credentials the client was given, to ask for a fresh token with.
    auth: RegistryAuth,
    /// When its access token (from an identity token) should be replaced by a fresh one: the
    /// client sends that token as is and cannot renew it.
    renew_at: Option<std::time::Instant>,
}

impl Conn {
    /// Asks for a fresh token for `reference` and `op` in place of one the registry refused (it
    /// may have expired or been revoked early); the client would keep sending the cached one.
    pub(super) async fn renew(&self, reference: &Reference, op: RegistryOperation) {
        let _ = self.client.auth(reference, &self.auth, op).await;
    }
}

/// What a [`Conn`] is shared by: the registry and whether it is insecure, and the repository
/// too when the credential is an identity token (its access token is scoped to one repository).
type ConnKey = (String, bool, Option<String>);

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

/// A parsed name with its oci-client reference.
struct Target {
    image: ImageRef,
    display: String,
    insecure: bool,
}

impl Target {
    fn reference(&self) -> Reference {
        match (&self.image.tag, &self.image.digest) {
            (Some(tag), Some(d)) => Reference::with_tag_and_digest(
                self.image.registry.clone(),
                self.image.repository.clone(),
                tag.clone(),
                d.to_string(),
            ),
            (_, Some(d)) => Reference::with_digest(
                self.image.registry.clone(),
                self.image.repository.clone(),
                d.to_string(),
            ),
            (Some(tag), None) => Reference::with_tag(
                self.image.registry.clone(),
                self.image.repository.clone(),
                tag.clone(),
            ),
            (None, None) => Reference::with_tag(
                self.image.registry.clone(),
                self.image.repository.clone(),
                "latest".into(),
            ),
        }
    }

    fn by_digest(&self, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.image.registry.clone(),
            self.image.repository.clone(),
            digest.to_string(),
        )
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

    /// A store configured from the process environment ([`RegistryOptions::from_process_env`]).
    pub fn from_process_env() -> Result<Self, RegistryError> {
        Self::new(RegistryOptions::from_process_env()?)
    }

    /// What this store has transferred so far.
    pub fn stats(&self) -> TransferStats {
        let c = &self.counters;
        TransferStats {
            blobs_uploaded: c.blobs_uploaded.load(Ordering::Relaxed),
            bytes_uploaded: c.bytes_uploaded.load(Ordering::Relaxed),
            blobs_skipped: c.blobs_skipped.load(Ordering::Relaxed),
            blobs_mounted: c.blobs_mounted.load(Ordering::Relaxed),
            manifests_pushed: c.manifests_pushed.load(Ordering::Relaxed),
            blobs_downloaded: c.blobs_downloaded.load(Ordering::Relaxed),
        }
    }

    fn target(&self, name: &str) -> Result<Target, ImageError> {
        let image = ImageRef::parse(name)?;
        let insecure =
            self.options.is_insecure(name) || self.options.is_insecure(&image.to_string());
        Ok(Target {
            display: name.to_string(),
            insecure,
            image,
        })
    }

    fn conn(&self, target: &Target) -> Result<Arc<Conn>, RegistryError> {
        self.runtime.block_on(self.conn_async(target))
    }

    fn fetch_manifest(
        &self,
        target: &Target,
        reference: &Reference,
    ) -> Result<Option<RawManifest>, ImageError> {
        const OP: &str = "pull manifest";
        let conn = self.conn(target)?;
        let auth = RegistryAuth::Anonymous; // already stored per registry; not replaced by this
        let result = self.runtime.block_on(with_retry(
            &self.options.retry,
            self.options.request_timeout,
            || {
                conn.client
                    .pull_manifest_raw(reference, &auth, &ACCEPTED_MANIFESTS)
            },
            || conn.renew(reference, Pull),
        ));
        let (bytes, _header_digest) = match result {
            Ok(v) => v,
            Err(f) if f.class == Class::NotFound => return Ok(None),
            Err(f) => return Err(RegistryError::from_failure(OP, &target.display, f).into()),
        };
        let digest = Digest::of(&bytes);
        if let Some(wanted) = reference.digest()
            && wanted != digest.as_str()
        {
            return Err(ImageError::DigestMismatch {
                reference: target.display.clone(),
                expected: wanted.to_string(),
                actual: digest.to_string(),
            });
        }
        let media_type = media_type_of(&bytes).ok_or_else(|| ImageError::Invalid {
            what: "manifest",
            reference: target.display.clone(),
            reason: "not a json object with a known media type".into(),
        })?;
        Ok(Some(RawManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest,
        }))
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
        let policy = &self.options.retry;
        let short = self.options.request_timeout;
        let exists = with_retry(
            policy,
            short,
            || conn.client.blob_exists(&reference, &digest),
            || conn.renew(&reference, Pull),
        )
        .await
        .map_err(|f| {
            RegistryError::from_failure("check blob", format!("{}@{digest}", target.display), f)
        })?;
        if exists {
            bump(&self.counters.blobs_skipped, 1);
            return Ok(());
        }
        let op = "push blob";
        let what = || format!("{}@{digest}", target.display);
        let long = self.options.transfer_timeout;
        let result = match &blob.data {
            BlobData::Bytes(data) => {
                let data = Bytes::copy_from_slice(data);
                with_retry(
                    policy,
                    long,
                    || {
                        conn.client.push_blob_stream(
                            &reference,
                            bytes_stream(data.clone()),
                            &digest,
                            Some(blob.size),
                        )
                    },
                    || conn.renew(&reference, Push),
                )
                .await
            }
            BlobData::Path(path) => {
                with_retry(
                    policy,
                    long,
                    || {
                        conn.client.push_blob_stream(
                            &reference,
                            file_stream(path.clone()),
                            &digest,
                            Some(blob.size),
                        )
                    },
                    || conn.renew(&reference, Push),
                )
                .await
            }
            BlobData::Remote { from } => {
                let source = self.target(from).map_err(|e| RegistryError::Failed {
                    op,
                    reference: what(),
                    reason: format!("source image: {e}"),
                })?;
                let source_ref = source.by_digest(&blob.digest);
                if source.image.registry == target.image.registry
                    && source.insecure == target.insecure
                {
                    let mounted = with_retry(
                        policy,
                        short,
                        || conn.client.mount_blob(&reference, &source_ref, &digest),
                        || conn.renew(&reference, Push),
                    )
                    .await;
                    match mounted {
                        Ok(()) => {
                            bump(&self.counters.blobs_mounted, 1);
                            return Ok(());
                        }
                        // 202 (not mounted) or a source we may not read: copy instead
                        Err(f) if f.class != Class::Transient => {}
                        Err(f) => return Err(RegistryError::from_failure("mount blob", what(), f)),
                    }
                }
                let source_conn = if self.conn_key(&source)? == self.conn_key(target)? {
                    None
                } else {
                    Some(self.conn_async(&source).await?)
                };
                let src = source_conn.as_deref().unwrap_or(conn);
                with_retry(
                    policy,
                    long,
                    || async {
                        let stream = src
                            .client
                            .pull_blob_stream(&source_ref, digest.as_str())
                            .await?;
                        let stream = stream.stream.map_err(OciDistributionError::IoError);
                        conn.client
                            .push_blob_stream(&reference, stream, &digest, Some(blob.size))
                            .await
                    },
                    || async {
                        src.renew(&source_ref, Pull).await;
                        conn.renew(&reference, Push).await;
                    },
                )
                .await
            }
        };
        result.map_err(|f| RegistryError::from_failure(op, what(), f))?;
        bump(&self.counters.blobs_uploaded, 1);
        bump(&self.counters.bytes_uploaded, blob.size);
        Ok(())
    }

    fn conn_key(&self, target: &Target) -> Result<ConnKey, RegistryError> {
        let identity = matches!(
            self.options.auth.resolve(&target.image.registry)?,
            Some(Credential::IdentityToken(_))
        );
        Ok((
            target.image.registry.clone(),
            target.insecure,
            identity.then(|| target.image.repository.clone()),
        ))
    }

    /// [`Self::conn`] from inside the runtime (creating a client there must not `block_on`).
    async fn conn_async(&self, target: &Target) -> Result<Arc<Conn>, RegistryError> {
        let key = self.conn_key(target)?;
        if let Some(c) = self
            .conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .filter(|c| c.renew_at.is_none_or(|t| std::time::Instant::now() < t))
        {
            return Ok(c.clone());
        }
        let registry = &target.image.registry;
        let credential = self.options.auth.resolve(registry)?;
        let identity = matches!(credential, Some(Credential::IdentityToken(_)));
        // A registry on this machine or a private network that nobody called insecure is tried
        // over verified HTTPS, then plain HTTP, as docker and upstream's transport do.
        let probe = target.insecure || target.image.is_local_registry();
        // a plain client only for the ping of such a registry and the token exchange
        let http = if probe || identity {
            Some(
                ping::http_client(
                    target.insecure,
                    &self.certificates,
                    self.options.connect_timeout,
                    self.options.request_timeout,
                )
                .map_err(RegistryError::Tls)?,
            )
        } else {
            None
        };
        let https = match (&http, probe) {
            (Some(http), true) => self.answers_https_once(http, registry).await,
            _ => true,
        };
        let mut renew_at = None;
        let auth = match credential {
            None => RegistryAuth::Anonymous,
            Some(Credential::Basic(u, p)) => RegistryAuth::Basic(u, p),
            Some(Credential::Bearer(t)) => RegistryAuth::Bearer(t),
            Some(Credential::IdentityToken(t)) => {
                let Some(http) = &http else {
                    return Err(RegistryError::Tls(
                        "no http client for the token exchange".into(),
                    ));
                };
                let base = format!("{}://{registry}", if https { "https" } else { "http" });
                let token = identity::exchange(http, &base, &target.image.repository, &t)
                    .await
                    .map_err(|reason| {
                        RegistryError::AuthConfig(format!(
                            "identity token for '{}': {}",
                            target.display,
                            one_line(&reason)
                        ))
                    })?;
                match token {
                    None => RegistryAuth::Anonymous,
                    Some(t) => {
                        // renew with a margin, so a request started near the end still gets in
                        let margin = (t.lifetime / 4).min(Duration::from_secs(30));
                        renew_at = Some(std::time::Instant::now() + t.lifetime - margin);
                        RegistryAuth::Bearer(t.token)
                    }
                }
            }
        };
        let config = ClientConfig {
            protocol: if https {
                ClientProtocol::Https
            } else {
                ClientProtocol::Http
            },
            accept_invalid_certificates: target.insecure,
            use_monolithic_push: true,
            extra_root_certificates: self.certificates.clone(),
            platform_resolver: None,
            connect_timeout: Some(self.options.connect_timeout),
            read_timeout: Some(self.options.read_timeout),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| RegistryError::Tls(chain(&e)))?;
        client.store_auth_if_needed(registry, &auth).await;
        let conn = Arc::new(Conn {
            client,
            auth,
            renew_at,
        });
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, conn.clone());
        Ok(conn)
    }

    /// Whether an insecure (unverified) or local registry speaks HTTPS, asked once per registry:
    /// HTTPS first, plain HTTP when HTTPS gets no answer at all.
    async fn answers_https_once(&self, http: &reqwest::Client, registry: &str) -> bool {
        let known = self
            .https
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(registry)
            .copied();
        if let Some(https) = known {
            return https;
        }
        let https = ping::answers_https(http, registry, self.options.connect_timeout).await;
        self.https
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(registry.to_string(), https);
        https
    }
}

/// The media type a manifest declares, or the one its shape implies.
fn media_type_of(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object()?;
    if let Some(mt) = object.get("mediaType").and_then(|v| v.as_str()) {
        return Some(mt.to_string());
    }
    if object.contains_key("manifests") {
        Some(OCI_IMAGE_INDEX_MEDIA_TYPE.to_string())
    } else if object.contains_key("config") {
        Some(OCI_IMAGE_MEDIA_TYPE.to_string())
    } else {
        None
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
fn bytes_stream(
    data: Bytes,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    futures_util::stream::iter((!data.is_empty()).then_some(Ok(data)))
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
            .ok_or_else(|| ImageError::NotFound(target.image.with_digest(digest)))
    }

    fn blob(&self, name: &str, digest: &Digest) -> crate::Result<Box<dyn Read + Send>> {
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = target.reference();
        let d = digest.to_string();
        let what = format!("{}@{digest}", target.display);
        let stream = self
            .runtime
            .block_on(with_retry(
                &self.options.retry,
                self.options.request_timeout,
                || conn.client.pull_blob_stream(&reference, d.as_str()),
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
        self.runtime.spawn(resume.feed(stream.stream, tx));
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

    fn has_blob(&self, name: &str, digest: &Digest) -> crate::Result<bool> {
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

    fn put_blobs(&self, name: &str, blobs: &[Blob]) -> crate::Result<()> {
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

    /// Pushes the empty blob (the standard empty layer, harmless in any repository): a push that
    /// the registry refuses means no write access, found before the build rather than after it.
    fn check_write(&self, name: &str) -> crate::Result<()> {
        self.put_blob_stream(name, &mut std::io::empty())
            .map(|_| ())
    }

    fn put_blob_stream(&self, name: &str, data: &mut dyn Read) -> crate::Result<(Digest, u64)> {
        const OP: &str = "push blob";
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = target.reference();
        let read_failed = |e: std::io::Error| RegistryError::Failed {
            op: OP,
            reference: target.display.clone(),
            reason: format!("read content: {}", one_line(&e.to_string())),
        };
        let Some(first) = read_chunk(data).map_err(read_failed)? else {
            // chunked uploads refuse empty content: send the empty blob in one request
            let empty = Digest::of(&[]);
            let d = empty.to_string();
            self.runtime
                .block_on(with_retry(
                    &self.options.retry,
                    self.options.request_timeout,
                    || {
                        conn.client.push_blob_stream(
                            &reference,
                            bytes_stream(Bytes::new()),
                            &d,
                            Some(0),
                        )
                    },
                    || conn.renew(&reference, Push),
                ))
                .map_err(|f| RegistryError::from_failure(OP, target.display.clone(), f))?;
            bump(&self.counters.blobs_uploaded, 1);
            return Ok((empty, 0));
        };
        // The reader lives on this thread: feed the upload through a bounded channel while
        // the runtime sends what arrives. A stream cannot be replayed, so no retry here.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, OciDistributionError>>(4);
        let conn2 = conn.clone();
        let upload = self.runtime.spawn(async move {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            conn2
                .client
                .push_blob_stream_chunked(&reference, stream)
                .await
        });
        let mut read_error = None;
        let mut next = Some(first);
        while let Some(chunk) = next.take() {
            if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                break; // the upload stopped; its error is reported below
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
        let joined = self.runtime.block_on(upload);
        if let Some(reason) = read_error {
            return Err(RegistryError::Failed {
                op: OP,
                reference: target.display,
                reason: format!("read content: {reason}"),
            }
            .into());
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

    fn put_manifest(&self, name: &str, manifest: &RawManifest) -> crate::Result<()> {
        const OP: &str = "push manifest";
        let target = self.target(name)?;
        let conn = self.conn(&target)?;
        let reference = if target.image.tag.is_some() {
            target.reference()
        } else {
            target.by_digest(&manifest.digest)
        };
        let content_type: http::HeaderValue =
            manifest
                .media_type
                .parse()
                .map_err(|_| RegistryError::Failed {
                    op: OP,
                    reference: target.display.clone(),
                    reason: format!(
                        "media type '{}' is not a valid header value",
                        manifest.media_type
                    ),
                })?;
        let body = Bytes::copy_from_slice(&manifest.bytes);
        self.runtime
            .block_on(with_retry(
                &self.options.retry,
                self.options.request_timeout,
                || {
                    conn.client
                        .push_manifest_raw(&reference, body.clone(), content_type.clone())
                },
                || conn.renew(&reference, Push),
            ))
            .map_err(|f| RegistryError::from_failure(OP, target.display.clone(), f))?;
        bump(&self.counters.manifests_pushed, 1);
        Ok(())
    }

    fn identifier(&self, name: &str, digest: &Digest) -> crate::Result<String> {
        Ok(ImageRef::parse(name)?.with_digest(digest))
    }
}
