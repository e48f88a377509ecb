//! The OCI image layout backend: `index.json`, `oci-layout` and `blobs/sha256/<hex>` per image,
//! each image in its own layout directory under a root, as platform.md maps references.
//!
//! Blobs are written to a temp file and renamed; `index.json` is replaced last, so a reader (or a
//! crash) never sees an index that points at missing content. Temp files a killed writer left
//! (`.tmp-<pid>-<n>`) are removed by the next writer once that process is gone.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::backend::{Blob, BlobData, BlobStore, NameLock, RawManifest};
use crate::error::io;
use crate::oci::{self, Descriptor, Index};
use crate::reference::ImageRef;
use crate::verify::VerifyingReader;
use crate::{Digest, ImageError, Result};

/// The file whose lock serialises edits of a layout's index.json (hidden, outside the OCI
/// layout's own names).
pub const LOCK_FILE: &str = ".index.json.lock";

/// Annotation naming a manifest in index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// OCI layouts under a root directory.
#[derive(Debug, Clone)]
pub struct LayoutStore {
    root: PathBuf,
}

/// Where a name points inside the layout root.
struct Located {
    dir: PathBuf,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl LayoutStore {
    /// Layouts under `root` (`-layout-dir`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The layout directory a name maps to.
    pub fn dir_of(&self, name: &str) -> Result<PathBuf> {
        Ok(self.locate(name)?.dir)
    }

    /// The file holding blob `digest` in the layout `name` maps to, when the layout has it: a
    /// layer another store can take as `BlobData::Path` without copying it first.
    pub fn blob_file(&self, name: &str, digest: &Digest) -> Result<Option<PathBuf>> {
        let path = Self::blob_path(&self.locate(name)?.dir, digest);
        Ok(path.is_file().then_some(path))
    }

    fn locate(&self, name: &str) -> Result<Located> {
        // An identifier we recorded earlier: `<layout dir>@sha256:...`, or a layout dir itself.
        if name.starts_with('/') {
            let (path, digest) = match name.rsplit_once('@') {
                Some((p, d)) => (p, Some(d.parse()?)),
                None => (name, None),
            };
            return Ok(Located {
                dir: PathBuf::from(path),
                tag: None,
                digest,
            });
        }
        let r = ImageRef::parse(name)?;
        let mut dir = r.layout_path(&self.root);
        // `repo:tag@digest`: the tag names the layout, the digest the manifest in it.
        if let (Some(t), Some(_)) = (&r.tag, &r.digest) {
            dir = self.root.join(&r.registry).join(&r.repository).join(t);
        }
        Ok(Located {
            dir,
            tag: r.tag.clone(),
            digest: r.digest,
        })
    }

    fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
        dir.join("blobs").join("sha256").join(digest.hex())
    }

    fn read_index(dir: &Path) -> Result<Option<Index>> {
        let path = dir.join("index.json");
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ImageError::Invalid {
                        what: "index.json",
                        reference: dir.display().to_string(),
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", path)(e)),
        }
    }

    /// The digest of index.json's bytes, when there is one.
    fn index_json_digest(dir: &Path) -> Result<Option<Digest>> {
        let path = dir.join("index.json");
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Digest::of(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", path)(e)),
        }
    }

    /// index.json's platform entries as an OCI index. When they are all of index.json, its exact
    /// bytes are the index (so its digest is stable and opens again); otherwise (some entries
    /// named by another tag) an index over just these entries.
    fn index_json_as_index(dir: &Path, entries: Vec<Descriptor>) -> Result<Option<RawManifest>> {
        let path = dir.join("index.json");
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        let whole = Self::read_index(dir)?.is_some_and(|i| i.manifests == entries);
        let bytes = if whole {
            bytes
        } else {
            let index = Index {
                schema_version: 2,
                media_type: Some(oci::OCI_INDEX.into()),
                manifests: entries,
                annotations: BTreeMap::new(),
                extra: BTreeMap::new(),
            };
            serde_json::to_vec(&index).map_err(|e| ImageError::Invalid {
                what: "index.json",
                reference: dir.display().to_string(),
                reason: e.to_string(),
            })?
        };
        Ok(Some(RawManifest {
            digest: Digest::of(&bytes),
            media_type: oci::OCI_INDEX.into(),
            bytes,
        }))
    }

    fn read_blob(dir: &Path, digest: &Digest, reference: &str) -> Result<Vec<u8>> {
        let path = Self::blob_path(dir, digest);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ImageError::BlobNotFound {
                reference: reference.to_string(),
                digest: digest.to_string(),
            },
            _ => io("read", &path)(e),
        })?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(ImageError::DigestMismatch {
                reference: reference.to_string(),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    fn ensure_layout(dir: &Path) -> Result<()> {
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(io("create", dir))?;
        remove_stale_temps(dir);
        remove_stale_temps(&blobs);
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        Ok(())
    }

    fn store_bytes(dir: &Path, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let path = Self::blob_path(dir, digest);
        if path.exists() {
            return Ok(());
        }
        write_atomic(&path, bytes)
    }
}

/// A temp file next to its destination, created with the usual permissions (readable by all, as
/// layout content must be for the build user), removed on drop unless renamed into place.
struct TempFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl TempFile {
    fn new(dir: &Path) -> Result<Self> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let file = std::fs::File::create(&path).map_err(io("create", &path))?;
        Ok(Self {
            path,
            file: Some(file),
        })
    }

    fn file(&mut self) -> Result<&mut std::fs::File> {
        let path = self.path.clone();
        self.file
            .as_mut()
            .ok_or_else(|| io("write", path)(std::io::Error::other("already closed")))
    }

    fn persist(mut self, dest: &Path) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(io("sync", &self.path))?;
        }
        std::fs::rename(&self.path, dest).map_err(io("rename into", dest))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the temp files of writers that no longer run (killed before their rename).
fn remove_stale_temps(dir: &Path) {
    remove_stale(dir, ".tmp-", |p| std::fs::remove_file(p));
}

/// Removes `<prefix><pid>-*` scratch dirs under `dir` left by processes that no longer run (the
/// daemon backend's layer tars of a killed phase).
pub(crate) fn remove_stale_scratch(dir: &Path, prefix: &str) {
    remove_stale(dir, prefix, |p| std::fs::remove_dir_all(p));
}

/// Removes `<prefix><pid>-*` entries whose process is gone: known gone when procfs is there and
/// has no entry for the pid; without procfs nothing is removed (a live writer's file must never
/// go). Best effort: what cannot go stays.
fn remove_stale(dir: &Path, prefix: &str, remove: impl Fn(&Path) -> std::io::Result<()>) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = remove(&entry.path());
        }
    }
}

/// Writes through a temp file in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let mut tmp = TempFile::new(dir)?;
    tmp.file()?.write_all(bytes).map_err(io("write", path))?;
    tmp.persist(path)
}

impl BlobStore for LayoutStore {
    fn manifest(&self, name: &str) -> Result<Option<RawManifest>> {
        let loc = self.locate(name)?;
        let Some(index) = Self::read_index(&loc.dir)? else {
            return Ok(None);
        };
        let entry = match (&loc.digest, &loc.tag) {
            (Some(d), _) => match index.manifests.iter().find(|m| &m.digest == d) {
                Some(m) => Some(m.clone()),
                // index.json itself, recorded as the index a platform manifest was picked from
                None if Self::index_json_digest(&loc.dir)?.as_ref() == Some(d) => {
                    return Self::index_json_as_index(&loc.dir, index.manifests);
                }
                // A child of a nested index is addressed by digest but not listed in index.json.
                None => Self::blob_path(&loc.dir, d)
                    .exists()
                    .then(|| Descriptor::new("", d.clone(), 0)),
            },
            (None, tag) => {
                let named: Vec<Descriptor> = index
                    .manifests
                    .iter()
                    .filter(|m| tag.is_some() && m.annotations.get(REF_NAME) == tag.as_ref())
                    .cloned()
                    .collect();
                // Without an entry named by the tag, the layout's whole index.json is the image.
                let candidates = if named.is_empty() {
                    index.manifests
                } else {
                    named
                };
                match candidates.len() {
                    1 => candidates.into_iter().next(),
                    // imgutil writes a multi-platform layout as index.json listing each platform's
                    // manifest directly: that list is an image index.
                    n if n > 1 && candidates.iter().all(|m| m.platform.is_some()) => {
                        return Self::index_json_as_index(&loc.dir, candidates);
                    }
                    _ => None,
                }
            }
        };
        let Some(entry) = entry else { return Ok(None) };
        let bytes = Self::read_blob(&loc.dir, &entry.digest, name)?;
        let media_type = if entry.media_type.is_empty() {
            sniff_media_type(&bytes)
        } else {
            entry.media_type
        };
        Ok(Some(RawManifest {
            bytes,
            media_type,
            digest: entry.digest,
        }))
    }

    fn manifest_by_digest(&self, name: &str, digest: &Digest) -> Result<RawManifest> {
        let dir = self.locate(name)?.dir;
        let bytes = Self::read_blob(&dir, digest, name)?;
        Ok(RawManifest {
            media_type: sniff_media_type(&bytes),
            bytes,
            digest: digest.clone(),
        })
    }

    fn blob(&self, name: &str, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        let path = Self::blob_path(&self.locate(name)?.dir, digest);
        let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ImageError::BlobNotFound {
                reference: name.to_string(),
                digest: digest.to_string(),
            },
            _ => io("open", &path)(e),
        })?;
        Ok(Box::new(VerifyingReader::new(
            file,
            digest.clone(),
            name.to_string(),
        )))
    }

    fn has_blob(&self, name: &str, digest: &Digest) -> Result<bool> {
        Ok(Self::blob_path(&self.locate(name)?.dir, digest).exists())
    }

    fn put_blobs(&self, name: &str, blobs: &[Blob]) -> Result<()> {
        let dir = self.locate(name)?.dir;
        Self::ensure_layout(&dir)?;
        for blob in blobs {
            let dest = Self::blob_path(&dir, &blob.digest);
            if dest.exists() {
                continue;
            }
            match &blob.data {
                BlobData::Bytes(b) => Self::store_bytes(&dir, &blob.digest, b)?,
                BlobData::Path(p) => {
                    let mut src = std::fs::File::open(p).map_err(io("open", p))?;
                    let (digest, _) = self.stream_into(&dir, &mut src)?;
                    if digest != blob.digest {
                        return Err(ImageError::DigestMismatch {
                            reference: p.display().to_string(),
                            expected: blob.digest.to_string(),
                            actual: digest.to_string(),
                        });
                    }
                }
                BlobData::Remote { from } => {
                    let src = Self::blob_path(&self.locate(from)?.dir, &blob.digest);
                    // A hard link moves no bytes; fall back to a verified copy across devices.
                    if std::fs::hard_link(&src, &dest).is_err() {
                        let mut reader = self.blob(from, &blob.digest)?;
                        self.stream_into(&dir, &mut reader)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn put_blob_stream(&self, name: &str, data: &mut dyn Read) -> Result<(Digest, u64)> {
        let dir = self.locate(name)?.dir;
        Self::ensure_layout(&dir)?;
        self.stream_into(&dir, data)
    }

    fn put_manifest(&self, name: &str, manifest: &RawManifest) -> Result<()> {
        let loc = self.locate(name)?;
        Self::ensure_layout(&loc.dir)?;
        Self::store_bytes(&loc.dir, &manifest.digest, &manifest.bytes)?;
        if loc.digest.is_some() {
            // Stored by digest (a child of an index): content only, no name in index.json.
            return Ok(());
        }
        let mut index = Self::read_index(&loc.dir)?.unwrap_or(Index {
            schema_version: 2,
            media_type: Some(oci::OCI_INDEX.into()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
            extra: BTreeMap::<String, Value>::new(),
        });
        let mut entry = Descriptor::new(
            &manifest.media_type,
            manifest.digest.clone(),
            manifest.bytes.len() as u64,
        );
        match &loc.tag {
            Some(tag) => {
                index
                    .manifests
                    .retain(|m| m.annotations.get(REF_NAME) != Some(tag));
                entry.annotations.insert(REF_NAME.into(), tag.clone());
            }
            None => index.manifests.retain(|m| m.digest != manifest.digest),
        }
        index.manifests.push(entry);
        let bytes = serde_json::to_vec(&index).map_err(|e| ImageError::Invalid {
            what: "index.json",
            reference: name.to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(&loc.dir.join("index.json"), &bytes)
    }

    /// An exclusive file lock (flock on unix) on a lock file inside the layout the name maps to.
    /// index.json itself cannot be locked: it is replaced by a rename, so a lock on it would
    /// guard an inode that is no longer the index.
    fn lock(&self, name: &str) -> Result<Option<NameLock>> {
        let dir = self.locate(name)?.dir;
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let path = dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(Some(NameLock::new(file)))
    }

    fn identifier(&self, name: &str, digest: &Digest) -> Result<String> {
        Ok(format!("{}@{digest}", self.locate(name)?.dir.display()))
    }
}

impl LayoutStore {
    fn stream_into(&self, dir: &Path, data: &mut dyn Read) -> Result<(Digest, u64)> {
        use sha2::Digest as _;
        let blobs = dir.join("blobs").join("sha256");
        let mut tmp = TempFile::new(&blobs)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = data.read(&mut buf).map_err(io("read blob for", dir))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.file()?
                .write_all(&buf[..n])
                .map_err(io("write", &blobs))?;
            size += n as u64;
        }
        let digest: Digest = format!("sha256:{}", hex::encode(hasher.finalize())).parse()?;
        let dest = Self::blob_path(dir, &digest);
        tmp.persist(&dest)?;
        Ok((digest, size))
    }
}

/// The media type a manifest blob declares (or implies).
pub(crate) fn sniff_media_type(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(m),
            ..
        }) => m,
        Ok(Probe {
            manifests: Some(_), ..
        }) => oci::OCI_INDEX.into(),
        _ => oci::OCI_MANIFEST.into(),
    }
}
