//! The volume cache (`-cache-dir`): `committed/<diffID>.tar` per cached layer and
//! `committed/io.buildpacks.lifecycle.cache.metadata` (JSON), as upstream lays it out. A new cache
//! is staged next to the old one and swapped in by renames, so a failed export leaves the previous
//! cache whole. A kill between the two renames of the swap leaves only `committed-backup`: readers
//! take it as the cache, and the next export puts it back before anything else.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use cnb_archive::{Compression, LayerBuilder, Owner, Tree};
use cnb_formats::group::Group;
use cnb_formats::labels::{BuildpackLayerMetadata, BuildpackLayersMetadata, CacheMetadata};
use cnb_formats::layer::LayerMetadataFile;
use cnb_platform::Logger;

use crate::export::LayerMemo;

/// The metadata file's name.
pub const METADATA_FILE: &str = "io.buildpacks.lifecycle.cache.metadata";

/// Why the cache could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file system error.
    #[error("cache: {action} '{path}': {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A layer tar could not be written.
    #[error("cache: layer '{layer}': {reason}")]
    Layer {
        /// The layer.
        layer: String,
        /// Why.
        reason: String,
    },
    /// The metadata is unreadable.
    #[error(transparent)]
    Format(#[from] cnb_formats::FormatError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_path_buf();
    move |source| CacheError::Io {
        action,
        path,
        source,
    }
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct VolumeCache {
    root: PathBuf,
}

impl VolumeCache {
    /// The cache at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn committed(&self) -> PathBuf {
        self.root.join("committed")
    }

    fn backup(&self) -> PathBuf {
        self.root.join("committed-backup")
    }

    /// The directory holding the cache as it is: `committed`, or the backup when a swap was
    /// interrupted after moving the old cache aside (then the backup is still the whole old cache).
    fn current(&self) -> PathBuf {
        let committed = self.committed();
        let backup = self.backup();
        if !committed.is_dir() && backup.is_dir() {
            backup
        } else {
            committed
        }
    }

    /// Finishes what an interrupted export left: puts the old cache back when the swap stopped
    /// half-way, and drops the backup when the swap was done.
    fn recover(&self) -> Result<(), CacheError> {
        let (committed, backup) = (self.committed(), self.backup());
        if !backup.exists() {
            return Ok(());
        }
        if committed.is_dir() {
            std::fs::remove_dir_all(&backup).map_err(io("remove", &backup))
        } else {
            std::fs::rename(&backup, &committed).map_err(io("rename", &backup))
        }
    }

    /// One layer into `staging` as `<diffID>.tar`: linked from the old cache when its diffID
    /// (`known`, else hashed when there is an `old` one to compare) is the old one, else written.
    /// Returns the diffID and whether it was linked.
    fn stage(
        &self,
        staging: &Path,
        i: usize,
        tree: &Tree,
        known: Option<&str>,
        old: Option<&str>,
    ) -> Result<(String, bool), String> {
        let diff = match (known, old) {
            (Some(k), _) => Some(k.to_string()),
            (None, Some(_)) => {
                let mut b = LayerBuilder::hash_only();
                b.add_tree(&tree.src, &tree.dest, tree.owner)
                    .map_err(|e| e.to_string())?;
                Some(b.finish().map_err(|e| e.to_string())?.1.diff_id)
            }
            (None, None) => None,
        };
        if let Some(d) = diff.as_deref().filter(|d| old == Some(*d))
            && std::fs::hard_link(self.layer_path(d), staging.join(format!("{d}.tar"))).is_ok()
        {
            return Ok((d.to_string(), true));
        }
        let tmp = staging.join(format!("{i}.tar.tmp"));
        let file = File::create(&tmp).map_err(|e| format!("create '{}': {e}", tmp.display()))?;
        let out = BufWriter::with_capacity(WRITE_BUFFER, file);
        // A diffID the export just computed needs no second hash of the same bytes.
        let mut b = match &diff {
            Some(_) => LayerBuilder::unhashed(out),
            None => LayerBuilder::new(out, Compression::None),
        };
        // A full disk names the file written, not the one read.
        let full = |e: cnb_archive::ArchiveError| match e {
            cnb_archive::ArchiveError::Io { source, .. } if is_full(&source) => {
                format!("write '{}': {source}", tmp.display())
            }
            e => e.to_string(),
        };
        b.add_tree(&tree.src, &tree.dest, tree.owner)
            .map_err(full)?;
        let (out, d) = b.finish().map_err(full)?;
        out.into_inner()
            .map_err(|e| format!("write '{}': {}", tmp.display(), e.error()))?;
        let diff_id = diff.unwrap_or(d.diff_id);
        let dest = staging.join(format!("{diff_id}.tar"));
        std::fs::rename(&tmp, &dest).map_err(|e| format!("rename '{}': {e}", tmp.display()))?;
        Ok((diff_id, false))
    }

    /// The recorded metadata (empty for a new cache).
    pub fn metadata(&self) -> Result<CacheMetadata, CacheError> {
        let path = self.current().join(METADATA_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(CacheMetadata::from_label(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CacheMetadata::default()),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Where a cached layer's tar is.
    pub fn layer_path(&self, diff_id: &str) -> PathBuf {
        self.current().join(format!("{diff_id}.tar"))
    }

    /// Writes the `cache = true` layers of `group` under `layers` as the new cache: unchanged
    /// layers (diffID from `memo`, else hashed) are hard-linked from the old cache, others
    /// written as plain tars, several at once. On failure (a full disk) the staged files go, so
    /// the old cache is left as it was and the room is freed.
    pub fn export(
        &self,
        layers: &Path,
        group: &Group,
        owner: Owner,
        memo: &LayerMemo,
        log: &Logger,
    ) -> Result<(), CacheError> {
        self.recover()?;
        let result = self.stage_and_swap(layers, group, owner, memo, log);
        let staging = self.root.join("staging");
        if result.is_err() && staging.exists() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn stage_and_swap(
        &self,
        layers: &Path,
        group: &Group,
        owner: Owner,
        memo: &LayerMemo,
        log: &Logger,
    ) -> Result<(), CacheError> {
        let previous = self.metadata().unwrap_or_else(|e| {
            log.warn(format!("ignoring the old cache's metadata: {e}"));
            CacheMetadata::default()
        });
        let staging = self.root.join("staging");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;
        let cached = cache_layers(layers, group, log)?;
        let jobs: Vec<(usize, Tree, Option<String>, Option<&str>)> = cached
            .iter()
            .enumerate()
            .map(|(i, (bp, _, name, src, _))| {
                let tree = tree_of(src, owner);
                let known = memo.diff_id(&tree).map(str::to_string);
                let old = previous
                    .buildpack(bp)
                    .and_then(|b| b.layers.get(name))
                    .map(|l| l.sha.as_str());
                (i, tree, known, old)
            })
            .collect();
        let staged = cnb_archive::map_ordered(
            &jobs,
            cnb_archive::default_threads(),
            |(i, tree, known, old)| self.stage(&staging, *i, tree, known.as_deref(), *old),
        );
        let mut out = CacheMetadata::default();
        for ((bp, version, name, _, lm), result) in cached.into_iter().zip(staged) {
            let id = format!("{bp}:{name}");
            let (diff_id, reused) = result.map_err(|reason| CacheError::Layer {
                layer: id.clone(),
                reason,
            })?;
            if reused {
                log.info(format!("Reusing cache layer '{id}'"));
            } else {
                log.info(format!("Adding cache layer '{id}'"));
            }
            record(&mut out, &bp, &version, name, &lm, diff_id);
        }
        // The builder's <layers>/sbom/cache (Platform API 0.8+) is one more cached layer.
        let sbom_dir = layers.join("sbom").join("cache");
        if sbom_dir.is_dir() {
            let tmp = staging.join("sbom.tar.tmp");
            let file = File::create(&tmp).map_err(io("create", &tmp))?;
            let err = |e: cnb_archive::ArchiveError| CacheError::Layer {
                layer: "buildpacksio/lifecycle:cache.sbom".into(),
                reason: e.to_string(),
            };
            let mut b = LayerBuilder::new(file, Compression::None);
            let full = |e| written(e, &tmp, err);
            b.add_tree(&sbom_dir, &sbom_dir.to_string_lossy(), owner)
                .map_err(full)?;
            let (_, d) = b.finish().map_err(full)?;
            let dest = staging.join(format!("{}.tar", d.diff_id));
            std::fs::rename(&tmp, &dest).map_err(io("rename", &tmp))?;
            out.sbom = Some(cnb_formats::labels::LayerSha { sha: d.diff_id });
        }
        let md_path = staging.join(METADATA_FILE);
        std::fs::write(&md_path, out.to_label()?).map_err(io("write", &md_path))?;
        // Swap: the old cache stays whole until the new one is complete.
        let (committed, backup) = (self.committed(), self.backup());
        if committed.exists() {
            std::fs::rename(&committed, &backup).map_err(io("rename", &committed))?;
        }
        std::fs::rename(&staging, &committed).map_err(io("rename", &staging))?;
        if backup.exists() {
            std::fs::remove_dir_all(&backup).map_err(io("remove", &backup))?;
        }
        Ok(())
    }
}

/// Bytes gathered before each write to a cache tar: tar headers and small files would otherwise
/// be one system call each.
const WRITE_BUFFER: usize = 1 << 20;

/// A layer write that failed for want of room names the file written, not the file read (the
/// archive writer cannot tell which side of its copy failed); other errors go through `other`.
fn written(
    e: cnb_archive::ArchiveError,
    file: &Path,
    other: impl FnOnce(cnb_archive::ArchiveError) -> CacheError,
) -> CacheError {
    match e {
        cnb_archive::ArchiveError::Io { source, .. } if is_full(&source) => {
            io("write", file)(source)
        }
        e => other(e),
    }
}

/// Whether a write failed for want of room.
pub(crate) fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Adds a cached layer to the cache metadata, under its buildpack.
fn record(
    md: &mut CacheMetadata,
    bp: &str,
    version: &str,
    name: String,
    lm: &LayerMetadataFile,
    sha: String,
) {
    let data = if lm.metadata.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(&lm.metadata).unwrap_or_default()
    };
    let t = lm.types();
    let layer = BuildpackLayerMetadata {
        sha,
        data,
        build: t.build,
        launch: t.launch,
        cache: true,
    };
    match md.buildpacks.iter_mut().find(|b| b.key == bp) {
        Some(entry) => {
            entry.layers.insert(name, layer);
        }
        None => {
            let mut entry = BuildpackLayersMetadata {
                key: bp.to_string(),
                version: version.to_string(),
                ..Default::default()
            };
            entry.layers.insert(name, layer);
            md.buildpacks.push(entry);
        }
    }
}

/// A cached layer dir as the exporter writes it: at its own absolute path.
fn tree_of(src: &Path, owner: Owner) -> Tree {
    Tree {
        src: src.to_path_buf(),
        dest: src.to_string_lossy().into_owned(),
        owner,
    }
}

/// A `cache = true` layer of a group: buildpack id and version, layer name, dir, layer file.
type CachedLayer = (String, String, String, PathBuf, LayerMetadataFile);

/// The `cache = true` layers of a group.
fn cache_layers(
    layers: &Path,
    group: &Group,
    log: &Logger,
) -> Result<Vec<CachedLayer>, CacheError> {
    let mut out = Vec::new();
    for bp in &group.group {
        let dir = layers.join(cnb_formats::id::dir_name(&bp.id));
        let names = crate::layer_files::layer_names(&dir);
        for name in names {
            let md = LayerMetadataFile::read(&dir.join(format!("{name}.toml")))?;
            if !md.types().cache {
                continue;
            }
            let src = dir.join(&name);
            if !src.is_dir() {
                log.warn(format!(
                    "layer '{}:{name}' is cache = true but has no contents: not cached",
                    bp.id
                ));
                continue;
            }
            out.push((bp.id.clone(), bp.version.clone(), name, src, md));
        }
    }
    Ok(out)
}

/// A cache kept as an image in a registry (`-cache-image`): one gzip layer per cached layer and
/// the `io.buildpacks.lifecycle.cache.metadata` label.
pub struct ImageCache<'a> {
    store: &'a dyn cnb_image::BlobStore,
    name: String,
}

impl<'a> ImageCache<'a> {
    /// The cache image `name` in `store`.
    pub fn new(store: &'a dyn cnb_image::BlobStore, name: &str) -> Self {
        Self {
            store,
            name: name.to_string(),
        }
    }

    /// The cache image as it is now, whatever its platform (a cache holds no platform-specific
    /// base), or `None` when there is none.
    pub fn open(&self) -> Result<Option<cnb_image::Image>, CacheError> {
        let req = cnb_image::TargetRequest::or_host(None, cnb_image::TargetSource::Host);
        match cnb_image::open(self.store, &self.name, &req) {
            Ok(cnb_image::Opened::Found(i)) => Ok(Some(*i)),
            Ok(cnb_image::Opened::PlatformMismatch { image, .. }) => Ok(Some(*image)),
            Ok(cnb_image::Opened::NotFound) => Ok(None),
            Err(e) => Err(CacheError::Layer {
                layer: self.name.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Its metadata (empty when there is no cache image).
    pub fn metadata(&self) -> Result<CacheMetadata, CacheError> {
        match self.open()? {
            Some(img) => match img.label(cnb_formats::labels::CACHE_METADATA) {
                Some(l) => Ok(CacheMetadata::from_label(l)?),
                None => Ok(CacheMetadata::default()),
            },
            None => Ok(CacheMetadata::default()),
        }
    }

    /// Writes the group's cache layers as the new cache image; layers the old one has (same
    /// diffID) are reused by reference, layers whose blob the app image in the same store has
    /// (`memo`) are linked to it; only the rest is compressed.
    pub fn export(
        &self,
        layers: &Path,
        group: &Group,
        owner: Owner,
        scratch: &Path,
        memo: &LayerMemo,
        log: &Logger,
    ) -> Result<(), CacheError> {
        let previous = self.open()?;
        let mut image = cnb_image::ImageBuilder::scratch(&cnb_image::Target::host());
        let mut md = CacheMetadata::default();
        let cached = cache_layers(layers, group, log)?;
        let trees: Vec<Tree> = cached.iter().map(|c| tree_of(&c.3, owner)).collect();
        let mut memo_here = LayerMemo::default();
        for t in &trees {
            if let Some(k) = memo.get(t) {
                memo_here.set(t.clone(), k.clone());
            }
        }
        // Hashing ahead only pays when an old cache image may have the layers.
        if previous.is_some() {
            memo_here.hash_missing(trees.clone());
        }
        for (i, ((bp, version, name, src, lm), tree)) in cached.into_iter().zip(trees).enumerate() {
            let id = format!("{bp}:{name}");
            let bad = |e: cnb_image::ImageError| layer_error(&id, e);
            // Not known ahead: no old cache image to reuse from, so it is compressed (and hashed
            // while it is).
            let known = memo_here.diff_id(&tree).map(str::to_string);
            let reused = known.as_ref().and_then(|d| {
                let diff: cnb_image::Digest = d.parse().ok()?;
                let prev = previous.as_ref().filter(|p| p.layer(&diff).is_some())?;
                Some((prev, diff))
            });
            let app_blob = memo
                .blobs_in
                .as_ref()
                .zip(
                    memo.get(&tree)
                        .filter(|k| Some(&k.diff_id) == known.as_ref()),
                )
                .and_then(|(from, k)| k.blob.clone().map(|b| (from.clone(), b)));
            let diff_id = if let Some((prev, diff)) = reused {
                image.reuse_layer(prev, &diff, None).map_err(bad)?;
                log.info(format!("Reusing cache layer '{id}'"));
                diff.to_string()
            } else if let (Some(d), Some((from, (digest, size, media_type)))) = (known, app_blob) {
                let blob = cnb_image::Blob {
                    digest,
                    size,
                    data: cnb_image::BlobData::Remote { from },
                };
                image.add_layer(d.parse().map_err(bad)?, blob, &media_type, None);
                log.info(format!("Adding cache layer '{id}' (the app image's blob)"));
                d
            } else {
                let path = scratch.join(format!("cache-{i}.tar.gz"));
                let d = add_new_layer(&mut image, &path, &src, owner, &id)?;
                log.info(format!("Adding cache layer '{id}'"));
                d
            };
            record(&mut md, &bp, &version, name, &lm, diff_id);
        }
        let sbom_dir = layers.join("sbom").join("cache");
        if sbom_dir.is_dir() {
            let path = scratch.join("cache-sbom.tar.gz");
            let id = "buildpacksio/lifecycle:cache.sbom";
            let sha = add_new_layer(&mut image, &path, &sbom_dir, owner, id)?;
            md.sbom = Some(cnb_formats::labels::LayerSha { sha });
        }
        image.set_label(cnb_formats::labels::CACHE_METADATA, &md.to_label()?);
        image.set_created(cnb_image::NORMALIZED_CREATED);
        let saved = image
            .save(self.store, std::slice::from_ref(&self.name))
            .map_err(|e| CacheError::Layer {
                layer: self.name.clone(),
                reason: e.to_string(),
            })?;
        log.info(format!("*** Cache: {} {}", self.name, saved.digest));
        Ok(())
    }
}

/// A cache layer that could not be written or added.
fn layer_error(id: &str, e: impl std::fmt::Display) -> CacheError {
    CacheError::Layer {
        layer: id.to_string(),
        reason: e.to_string(),
    }
}

/// Writes the tree `src` (at the same path in the image) as a new gzip layer at `path` and adds
/// it to `image`; returns its diffID.
fn add_new_layer(
    image: &mut cnb_image::ImageBuilder,
    path: &Path,
    src: &Path,
    owner: Owner,
    id: &str,
) -> Result<String, CacheError> {
    let file = File::create(path).map_err(io("create", path))?;
    let mut b = LayerBuilder::new(file, Compression::Gzip(1));
    let full = |e| written(e, path, |e| layer_error(id, e));
    b.add_tree(src, &src.to_string_lossy(), owner)
        .map_err(full)?;
    let (_, g) = b.finish().map_err(full)?;
    let bad = |e: cnb_image::ImageError| layer_error(id, e);
    image.add_layer(
        g.diff_id.parse().map_err(bad)?,
        cnb_image::Blob {
            digest: g.digest.parse().map_err(bad)?,
            size: g.size,
            data: cnb_image::BlobData::Path(path.to_path_buf()),
        },
        cnb_image::oci::OCI_LAYER_GZIP,
        None,
    );
    Ok(g.diff_id)
}
