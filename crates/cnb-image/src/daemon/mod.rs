//! The Docker daemon as a [`BlobStore`], through the Engine API (`DOCKER_HOST`).
//!
//! Reading an image costs one inspect: its config and manifest are rebuilt from the answer (see
//! [`synth`]), with each layer's blob being its uncompressed tar named by its diffID. Layer bytes
//! are exported (`docker save`) only when a caller reads a layer the daemon alone holds.
//!
//! Writing an image is one `docker load`, manifest-last by nature: the daemon tags the image only
//! once every layer is in. Layers whose whole stack (chain ID) the daemon already holds are sent
//! as empty placeholders, so a rebuild on an unchanged base sends only new layers, and an
//! unchanged image is only tagged. If the daemon refuses the placeholders, the image is sent in
//! full. A lookup (the exporter's launch cache) can supply layer files by diffID so that reused
//! layers need no export.
//!
//! The daemon keeps one platform per image and identifies images by ID, which is what
//! [`BlobStore::identifier`] returns (its hex, as upstream records it).

mod archive;
mod connection;
mod synth;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use sha2::Digest as _;

pub use connection::Endpoint;

use crate::backend::{Blob, BlobData, BlobStore, RawManifest};
use crate::oci::{self, ConfigFile, Manifest};
use crate::verify::VerifyingReader;
use crate::{Digest, ImageError, Result};
use archive::LayerFile;

/// A function that finds a layer file by diffID (the launch cache), or `None`.
pub type LayerLookup = Box<dyn Fn(&Digest) -> Option<PathBuf> + Send + Sync>;

/// Why the daemon could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `DOCKER_HOST` is not a form we can use.
    #[error("DOCKER_HOST '{host}': {reason}")]
    Host {
        /// The value.
        host: String,
        /// Why.
        reason: String,
    },
    /// The daemon could not be reached.
    #[error("cannot connect to the Docker daemon at {endpoint}: {reason}")]
    Connect {
        /// Where we tried.
        endpoint: String,
        /// Why it failed.
        reason: String,
    },
    /// An API call failed.
    #[error("docker daemon: {action} '{name}': {reason}")]
    Api {
        /// What was being done.
        action: &'static str,
        /// The image.
        name: String,
        /// The daemon's answer.
        reason: String,
    },
}

fn api(action: &'static str, name: &str, e: impl ToString) -> ImageError {
    ImageError::Daemon(DaemonError::Api {
        action,
        name: name.to_string(),
        reason: e.to_string(),
    })
}

#[derive(Default)]
struct State {
    /// Manifests by digest (rebuilt from inspect, or written by us), with the image's daemon ID.
    manifests: HashMap<Digest, (String, RawManifest)>,
    configs: HashMap<Digest, Arc<[u8]>>,
    /// Chain IDs of layer stacks the daemon is known to hold.
    chains: HashSet<Digest>,
    /// A daemon image holding each known layer.
    holders: HashMap<Digest, String>,
    /// Images exported to scratch: their layer files by diffID.
    saved: HashMap<String, HashMap<Digest, PathBuf>>,
    /// Blobs handed to `put_blobs` / `put_blob_stream`, by digest.
    staged: HashMap<Digest, BlobData>,
    /// Where the scratch dir is made (the caller's temp dir).
    scratch_parent: PathBuf,
    scratch: Option<tempfile::TempDir>,
    counter: usize,
}

impl State {
    fn learn(&mut self, image_id: &str, diff_ids: &[Digest]) {
        for c in synth::chain_ids(diff_ids) {
            self.chains.insert(c);
        }
        for d in diff_ids {
            self.holders
                .entry(d.clone())
                .or_insert_with(|| image_id.to_string());
        }
    }

    /// A fresh path in the scratch dir, created lazily: after the phase dropped privileges, so
    /// the build user owns it.
    fn scratch_path(&mut self, what: &str) -> Result<PathBuf> {
        if self.scratch.is_none() {
            crate::layout::remove_stale_scratch(&self.scratch_parent, "cnb-daemon-");
            let dir = tempfile::Builder::new()
                .prefix(&format!("cnb-daemon-{}-", std::process::id()))
                .tempdir_in(&self.scratch_parent)
                .map_err(crate::error::io("create temp dir", &self.scratch_parent))?;
            self.scratch = Some(dir);
        }
        self.counter += 1;
        let Some(dir) = self.scratch.as_ref() else {
            return Err(ImageError::Unsupported("no scratch dir".into()));
        };
        Ok(dir.path().join(format!("{what}-{}", self.counter)))
    }
}

/// The Docker daemon behind `DOCKER_HOST`.
pub struct DaemonStore {
    runtime: tokio::runtime::Runtime,
    docker: Docker,
    state: Mutex<State>,
    lookup: Option<LayerLookup>,
}

impl std::fmt::Debug for DaemonStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonStore").finish_non_exhaustive()
    }
}

/// Seconds any one API call may take (a load of a large image included).
const API_TIMEOUT_SECS: u64 = 1800;

/// How often an otherwise idle connection to the daemon is pinged: well under the idle timeouts
/// of common proxies (a minute and more).
pub const KEEPALIVE: Duration = Duration::from_secs(30);

impl DaemonStore {
    /// Connects to the daemon now (before a phase drops privileges) and keeps the connection,
    /// pinging it every [`KEEPALIVE`] so it is never idle for long. Layer tars exported from the
    /// daemon go to a scratch dir made in `temp_dir`.
    pub fn connect(
        endpoint: Endpoint,
        temp_dir: PathBuf,
    ) -> std::result::Result<Self, DaemonError> {
        Self::connect_with_keepalive(endpoint, temp_dir, Some(KEEPALIVE))
    }

    /// [`Self::connect`] with another keep-alive interval (`None`: no pings between requests).
    pub fn connect_with_keepalive(
        endpoint: Endpoint,
        temp_dir: PathBuf,
        keepalive: Option<Duration>,
    ) -> std::result::Result<Self, DaemonError> {
        // One worker, so the keep-alive pings (and the connection's reads) go on while the
        // phase is busy elsewhere; a current-thread runtime only runs inside `block_on`.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cnb-daemon")
            .enable_all()
            .build()
            .map_err(|e| DaemonError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?;
        let shown = endpoint.to_string();
        let docker = runtime.block_on(async {
            let docker = connection::connect(endpoint, API_TIMEOUT_SECS).await?;
            docker.ping().await.map_err(|e| DaemonError::Connect {
                endpoint: shown.clone(),
                reason: e.to_string(),
            })?;
            Ok::<_, DaemonError>(docker)
        })?;
        if let Some(every) = keepalive.filter(|d| !d.is_zero()) {
            runtime.spawn(connection::keep_alive(docker.clone(), every));
        }
        Ok(Self {
            runtime,
            docker,
            state: Mutex::new(State {
                scratch_parent: temp_dir,
                ..State::default()
            }),
            lookup: None,
        })
    }

    /// Layer files found by `lookup` are used instead of exporting them from the daemon.
    pub fn with_layer_lookup(mut self, lookup: LayerLookup) -> Self {
        self.lookup = Some(lookup);
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn inspect(&self, name: &str) -> Result<Option<bollard::models::ImageInspect>> {
        match self.runtime.block_on(self.docker.inspect_image(name)) {
            Ok(i) => Ok(Some(i)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(api("inspect", name, e)),
        }
    }

    /// Exports `image_id` into scratch once and returns its layer files by diffID.
    fn saved_layers(&self, image_id: &str) -> Result<HashMap<Digest, PathBuf>> {
        if let Some(s) = self.state().saved.get(image_id) {
            return Ok(s.clone());
        }
        let (tar_path, dir) = {
            let mut st = self.state();
            (st.scratch_path("save")?, st.scratch_path("saved")?)
        };
        let mut file = File::create(&tar_path).map_err(crate::error::io("create", &tar_path))?;
        self.runtime.block_on(async {
            let mut stream = self.docker.export_image(image_id);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| api("save", image_id, e))?;
                file.write_all(&chunk)
                    .map_err(crate::error::io("write", &tar_path))?;
            }
            Ok::<_, ImageError>(())
        })?;
        drop(file);
        std::fs::create_dir_all(&dir).map_err(crate::error::io("create", &dir))?;
        let reader = File::open(&tar_path).map_err(crate::error::io("read", &tar_path))?;
        let (config_path, files) = archive::unpack_saved(io::BufReader::new(reader), &dir)
            .map_err(|e| api("read the export of", image_id, e))?;
        let _ = std::fs::remove_file(&tar_path);
        // The exported config names the layers' diffIDs in the order of the layer files.
        let config: ConfigFile = std::fs::read(&config_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| api("read the export of", image_id, e))?;
        let diff_ids = config.rootfs.diff_ids;
        if diff_ids.len() != files.len() {
            return Err(api(
                "read the export of",
                image_id,
                format!("{} layer files for {} layers", files.len(), diff_ids.len()),
            ));
        }
        let map: HashMap<Digest, PathBuf> = diff_ids.into_iter().zip(files).collect();
        self.state().saved.insert(image_id.to_string(), map.clone());
        Ok(map)
    }

    /// The file of a layer the daemon holds, from the lookup or an export.
    fn layer_file(&self, name: &str, diff_id: &Digest) -> Result<PathBuf> {
        if let Some(p) = self.lookup.as_ref().and_then(|l| l(diff_id)) {
            return Ok(p);
        }
        let holder = self.state().holders.get(diff_id).cloned();
        let image_id = match holder {
            Some(h) => h,
            None => self
                .inspect(name)?
                .and_then(|i| i.id)
                .ok_or_else(|| ImageError::NotFound(name.to_string()))?,
        };
        self.saved_layers(&image_id)?
            .remove(diff_id)
            .ok_or_else(|| ImageError::BlobNotFound {
                reference: name.to_string(),
                digest: diff_id.to_string(),
            })
    }

    /// Where the bytes of layer `i` come from for a load.
    fn layer_source(&self, name: &str, blob: &Digest, diff_id: &Digest) -> Result<LayerFile> {
        let staged = self.state().staged.get(blob).cloned();
        match staged {
            Some(BlobData::Path(p)) => return Ok(LayerFile::Path(p)),
            Some(BlobData::Bytes(b)) => return Ok(LayerFile::Bytes(b)),
            _ => {}
        }
        Ok(LayerFile::Path(self.layer_file(name, diff_id)?))
    }

    fn config_bytes(&self, name: &str, digest: &Digest) -> Result<Arc<[u8]>> {
        let st = self.state();
        if let Some(b) = st.configs.get(digest) {
            return Ok(Arc::clone(b));
        }
        match st.staged.get(digest) {
            Some(BlobData::Bytes(b)) => Ok(Arc::clone(b)),
            Some(BlobData::Path(p)) => std::fs::read(p)
                .map(Arc::from)
                .map_err(crate::error::io("read", p)),
            _ => Err(ImageError::BlobNotFound {
                reference: name.to_string(),
                digest: digest.to_string(),
            }),
        }
    }

    fn load(
        &self,
        name: &str,
        config: &Arc<[u8]>,
        config_hex: &str,
        tags: &[String],
        layers: Vec<LayerFile>,
    ) -> Result<()> {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        let config = Arc::clone(config);
        let config_hex = config_hex.to_string();
        let tags = tags.to_vec();
        let writer = std::thread::spawn(move || {
            let out = io::BufWriter::with_capacity(1 << 20, ChannelWriter(tx.clone()));
            let result = archive::write_load_archive(out, &config, &config_hex, &tags, &layers);
            if let Err(e) = &result {
                // The daemon must not take a truncated archive for a complete one.
                let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            result
        });
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let answer = self.runtime.block_on(async {
            let options = bollard::query_parameters::ImportImageOptions {
                quiet: true,
                ..Default::default()
            };
            let mut stream = self.docker.import_image_stream(options, body, None);
            let mut first_error = None;
            while let Some(message) = stream.next().await {
                if let Err(e) = message {
                    first_error.get_or_insert(e);
                }
            }
            first_error
        });
        let written = writer
            .join()
            .map_err(|_| api("load", name, "the archive writer panicked"))?;
        if let Some(e) = answer {
            return Err(api("load", name, e));
        }
        written.map_err(|e| api("load", name, e))
    }

    fn tag(&self, image_id: &str, tag: &str) -> Result<()> {
        let (repo, t) = split_tag(tag);
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(t.to_string()),
        };
        self.runtime
            .block_on(self.docker.tag_image(image_id, Some(options)))
            .map_err(|e| api("tag", tag, e))
    }
}

/// The `repo:tag` the daemon should give `name`, or `None` for a by-digest name.
fn docker_tag(name: &str) -> Option<String> {
    if name.contains('@') {
        return None;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    Some(if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    })
}

fn split_tag(tag: &str) -> (&str, &str) {
    let slash = tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    match tag[slash..].rfind(':') {
        Some(i) => (&tag[..slash + i], &tag[slash + i + 1..]),
        None => (tag, "latest"),
    }
}

struct ChannelWriter(tokio::sync::mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the daemon stopped reading"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobStore for DaemonStore {
    fn manifest(&self, name: &str) -> Result<Option<RawManifest>> {
        let Some(inspect) = self.inspect(name)? else {
            return Ok(None);
        };
        let s = synth::synthesize(name, inspect)?;
        let raw = RawManifest {
            digest: Digest::of(&s.manifest),
            bytes: s.manifest,
            media_type: oci::OCI_MANIFEST.into(),
        };
        let mut st = self.state();
        st.learn(&s.image_id, &s.diff_ids);
        st.configs
            .insert(Digest::of(&s.config), Arc::from(s.config));
        st.manifests
            .insert(raw.digest.clone(), (s.image_id, raw.clone()));
        Ok(Some(raw))
    }

    fn manifest_by_digest(&self, name: &str, digest: &Digest) -> Result<RawManifest> {
        self.state()
            .manifests
            .get(digest)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| ImageError::NotFound(format!("{name}@{digest}")))
    }

    fn blob(&self, name: &str, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        if let Some(b) = self.state().configs.get(digest) {
            return Ok(Box::new(io::Cursor::new(b.to_vec())));
        }
        let staged = self.state().staged.get(digest).cloned();
        let path = match staged {
            Some(BlobData::Bytes(b)) => return Ok(Box::new(io::Cursor::new(b.to_vec()))),
            Some(BlobData::Path(p)) => p,
            _ => self.layer_file(name, digest)?,
        };
        let file = File::open(&path).map_err(crate::error::io("read", &path))?;
        Ok(Box::new(VerifyingReader::new(
            io::BufReader::new(file),
            digest.clone(),
            name.to_string(),
        )))
    }

    fn has_blob(&self, _name: &str, digest: &Digest) -> Result<bool> {
        let st = self.state();
        Ok(st.configs.contains_key(digest)
            || matches!(
                st.staged.get(digest),
                Some(BlobData::Path(_) | BlobData::Bytes(_))
            ))
    }

    fn put_blobs(&self, _name: &str, blobs: &[Blob]) -> Result<()> {
        let mut st = self.state();
        for b in blobs {
            match &b.data {
                BlobData::Remote { .. } => {
                    st.staged
                        .entry(b.digest.clone())
                        .or_insert_with(|| b.data.clone());
                }
                data => {
                    st.staged.insert(b.digest.clone(), data.clone());
                }
            }
        }
        Ok(())
    }

    fn put_blob_stream(&self, _name: &str, data: &mut dyn Read) -> Result<(Digest, u64)> {
        let path = self.state().scratch_path("blob")?;
        let mut file = File::create(&path).map_err(crate::error::io("create", &path))?;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = data
                .read(&mut buf)
                .map_err(crate::error::io("read", &path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(crate::error::io("write", &path))?;
            size += n as u64;
        }
        let digest: Digest = format!("sha256:{}", hex::encode(hasher.finalize())).parse()?;
        self.state()
            .staged
            .insert(digest.clone(), BlobData::Path(path));
        Ok((digest, size))
    }

    fn put_manifest(&self, name: &str, manifest: &RawManifest) -> Result<()> {
        if oci::is_index(&manifest.media_type) {
            return Err(ImageError::Unsupported(format!(
                "the Docker daemon keeps one platform per image: cannot save an index as '{name}'"
            )));
        }
        let parsed: Manifest =
            serde_json::from_slice(&manifest.bytes).map_err(|e| ImageError::Invalid {
                what: "manifest",
                reference: name.to_string(),
                reason: e.to_string(),
            })?;
        let config = self.config_bytes(name, &parsed.config.digest)?;
        let config_file: ConfigFile =
            serde_json::from_slice(&config).map_err(|e| ImageError::Invalid {
                what: "config",
                reference: name.to_string(),
                reason: e.to_string(),
            })?;
        let diff_ids = config_file.rootfs.diff_ids;
        let tags: Vec<String> = docker_tag(name).into_iter().collect();
        let wanted_id = parsed.config.digest.to_string();

        let existing = self.inspect(&wanted_id)?.and_then(|i| i.id);
        let image_id = if let Some(id) = existing {
            // Same config, same layers: the image is there already; only the name is new.
            for t in &tags {
                self.tag(&id, t)?;
            }
            id
        } else {
            let chains = synth::chain_ids(&diff_ids);
            let present = {
                let st = self.state();
                chains
                    .iter()
                    .rposition(|c| st.chains.contains(c))
                    .map_or(0, |i| i + 1)
            };
            // Layers below `present` travel as placeholders; the rest with their bytes.
            let layer_files = |present: usize| -> Result<Vec<LayerFile>> {
                parsed
                    .layers
                    .iter()
                    .zip(&diff_ids)
                    .enumerate()
                    .map(|(i, (desc, diff_id))| {
                        if i < present {
                            Ok(LayerFile::Present)
                        } else {
                            self.layer_source(name, &desc.digest, diff_id)
                        }
                    })
                    .collect()
            };
            let hex = parsed.config.digest.hex();
            if let Err(e) = self.load(name, &config, hex, &tags, layer_files(present)?) {
                if present == 0 {
                    return Err(e);
                }
                // The daemon did not take the placeholders (another storage backend): send all.
                self.load(name, &config, hex, &tags, layer_files(0)?)?;
            }
            // The daemon's own ID for what it loaded (the config digest with the classic
            // storage; the manifest digest with containerd's).
            let lookup = tags.first().cloned().unwrap_or(wanted_id);
            self.inspect(&lookup)?
                .and_then(|i| i.id)
                .ok_or_else(|| api("load", name, "the loaded image is not in the daemon"))?
        };
        let mut st = self.state();
        st.learn(&image_id, &diff_ids);
        st.configs.insert(parsed.config.digest.clone(), config);
        st.manifests
            .insert(manifest.digest.clone(), (image_id, manifest.clone()));
        Ok(())
    }

    fn identifier(&self, name: &str, digest: &Digest) -> Result<String> {
        let known = self.state().manifests.get(digest).map(|(id, _)| id.clone());
        let id = match known {
            Some(id) => id,
            None => self
                .inspect(name)?
                .and_then(|i| i.id)
                .ok_or_else(|| ImageError::NotFound(name.to_string()))?,
        };
        Ok(id.trim_start_matches("sha256:").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_completed_and_split_like_the_docker_cli() {
        assert_eq!(docker_tag("app").as_deref(), Some("app:latest"));
        assert_eq!(
            docker_tag("127.0.0.1:5000/app").as_deref(),
            Some("127.0.0.1:5000/app:latest")
        );
        assert_eq!(docker_tag("a/b:v1").as_deref(), Some("a/b:v1"));
        assert_eq!(docker_tag("a@sha256:00"), None);
        assert_eq!(
            split_tag("127.0.0.1:5000/app:v1"),
            ("127.0.0.1:5000/app", "v1")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", "latest")
        );
    }

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            Endpoint::parse("unix:///tmp/d.sock").unwrap(),
            Endpoint::Unix("/tmp/d.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert!(Endpoint::parse("ssh://host").is_err());
    }
}
