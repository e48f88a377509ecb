//! The layers the exporter adds on top of the run image. Each is first hashed without being
//! compressed (the buildpacks' layer dirs all at once, one per core); when the previous image has
//! that diffID it is reused by reference (no compression, no upload), else it is compressed into a
//! scratch file once, added, and handed to the early upload (`upload.rs`) while the next layers
//! are built.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use cnb_api::Version;
use cnb_archive::{ArchiveError, Compression, LayerBuilder, LayerDigests, Owner, Tree};
use cnb_formats::FormatError;
use cnb_formats::group::Group;
use cnb_formats::labels::{
    BuildpackLayerMetadata, BuildpackLayersMetadata, LayerSha, LayersMetadata, StoreMetadata,
};
use cnb_formats::layer::LayerMetadataFile;
use cnb_formats::metadata::{LaunchMetadata, Slice};
use cnb_formats::store::Store;
use cnb_image::oci::{History, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD};

use crate::launch_cache::LaunchCache;
use cnb_image::{Blob, BlobData, Digest, Image, ImageBuilder, ImageError};
use cnb_platform::{Inputs, Logger};

use super::memo::{Known, LayerMemo};
use super::prebuild::Prebuilt;
use super::upload::EarlyUpload;

/// zstd level of new layers: 1, the fastest, still smaller than gzip -1 on typical layers.
const ZSTD_LEVEL: i32 = 1;

/// Where the launcher lives in every app image.
pub const LAUNCHER_PATH: &str = "/cnb/lifecycle/launcher";

/// A layer that could not be built or reused.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// A file system error.
    #[error(transparent)]
    Io(#[from] cnb_os::IoError),
    /// Writing a layer tar failed.
    #[error("layer '{layer}': {source}")]
    Archive {
        /// The layer (`<buildpack>:<name>`).
        layer: String,
        /// Why.
        #[source]
        source: ArchiveError,
    },
    /// A layer's metadata file is invalid.
    #[error(transparent)]
    Metadata(#[from] FormatError),
    /// A launch layer without contents that the previous image cannot supply.
    #[error("layer '{layer}' has no contents to export and cannot be reused: {reason}")]
    CannotReuse {
        /// The layer.
        layer: String,
        /// Why.
        reason: String,
    },
    /// Reusing a previous layer failed.
    #[error(transparent)]
    Image(#[from] ImageError),
}

impl LayerError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LayerError::Io(cnb_os::IoError::at(action, path)(source))
    }
}

/// What every layer function needs.
pub(crate) struct Context<'a> {
    pub inputs: &'a Inputs,
    pub log: &'a Logger,
    pub scratch: PathBuf,
    pub previous: Option<&'a Image>,
    pub previous_md: &'a LayersMetadata,
    pub image: &'a mut ImageBuilder,
    pub history: bool,
    /// Write new layers as plain tars (for the daemon) instead of gzip'd.
    pub uncompressed: bool,
    /// Compress new layers with zstd instead of gzip (`CNB_LAYER_COMPRESSION=zstd`).
    pub zstd: bool,
    /// With -daemon: new layers are staged here, reused ones kept.
    pub launch_cache: Option<&'a LaunchCache>,
    /// DiffIDs hashed ahead, and the blobs stored, per layer dir (for the cache export too).
    pub memo: &'a mut LayerMemo,
    /// New layers' blobs are stored as soon as they are written (not with the daemon).
    pub upload: Option<&'a EarlyUpload>,
    /// New buildpack layers built ahead, several at once.
    pub prebuilt: Prebuilt,
}

/// What is known of a layer before it is added.
enum Ahead {
    Nothing,
    /// Its diffID, hashed ahead.
    Hashed(String),
    /// The layer itself, built ahead (and already handed to the early upload).
    Built(PathBuf, LayerDigests),
}

type Fill<'f> = dyn Fn(&mut LayerBuilder<File>) -> Result<(), ArchiveError> + 'f;
type FillHash<'f> = dyn Fn(&mut LayerBuilder<std::io::Sink>) -> Result<(), ArchiveError> + 'f;

impl Context<'_> {
    fn owner(&self) -> Owner {
        Owner {
            uid: self.inputs.uid(),
            gid: self.inputs.gid(),
        }
    }

    pub(crate) fn history(&self, created_by: &str, comment: &str) -> Option<History> {
        self.history.then(|| History {
            created_by: Some(created_by.to_string()),
            comment: (!comment.is_empty()).then(|| comment.to_string()),
            ..Default::default()
        })
    }

    /// The file extension, compression and media type of new layers.
    pub(crate) fn new_layer_format(&self) -> (&'static str, Compression, &'static str) {
        if self.uncompressed {
            ("tar", Compression::None, OCI_LAYER_TAR)
        } else if self.zstd {
            ("tar.zst", Compression::Zstd(ZSTD_LEVEL), OCI_LAYER_ZSTD)
        } else {
            ("tar.gz", Compression::Gzip(1), OCI_LAYER_GZIP)
        }
    }

    /// Adds a layer, or reuses the previous image's when the diffID is the one recorded there.
    fn add_or_reuse(
        &mut self,
        id: &str,
        previous_sha: Option<&str>,
        ahead: Ahead,
        hash: &FillHash,
        fill: &Fill,
        history: Option<History>,
    ) -> Result<Known, LayerError> {
        let (known, ahead) = match ahead {
            Ahead::Nothing => (None, None),
            Ahead::Hashed(d) => (Some(d), None),
            Ahead::Built(path, d) => (Some(d.diff_id.clone()), Some((path, d))),
        };
        let known = known.as_deref();
        let archive_err = |source| LayerError::Archive {
            layer: id.to_string(),
            source,
        };
        if let (Some(prev), Some(sha)) = (self.previous, previous_sha.filter(|s| !s.is_empty())) {
            let diff = match known {
                Some(d) => d.to_string(),
                None => {
                    let mut b = LayerBuilder::hash_only();
                    hash(&mut b).map_err(archive_err)?;
                    b.finish().map_err(archive_err)?.1.diff_id
                }
            };
            if diff == sha {
                let diff_id: Digest = sha.parse()?;
                if let Some(layer) = prev.layer(&diff_id) {
                    if let Some(lc) = self.launch_cache {
                        lc.keep(sha)
                            .map_err(|e| LayerError::io("keep in the launch cache", sha, e))?;
                    }
                    self.image.reuse_layer(prev, &diff_id, history)?;
                    self.log.info(format!("Reusing layer '{id}'"));
                    return Ok(Known {
                        diff_id: diff,
                        blob: Some((layer.digest, layer.size, layer.media_type)),
                    });
                }
            }
        }
        let (ext, compression, media_type) = self.new_layer_format();
        let built_ahead = ahead.is_some();
        let (path, d) = match ahead {
            Some(built) => built,
            None => {
                let path = self
                    .scratch
                    .join(format!("{}.{ext}", self.image.diff_ids().len()));
                let file = File::create(&path).map_err(|e| LayerError::io("create", &path, e))?;
                let mut b = LayerBuilder::new(file, compression);
                fill(&mut b).map_err(archive_err)?;
                let (_, d) = b.finish().map_err(archive_err)?;
                (path, d)
            }
        };
        if let Some(lc) = self.launch_cache.filter(|_| self.uncompressed) {
            lc.stage(&path, &d.diff_id)
                .map_err(|e| LayerError::io("stage in the launch cache", &path, e))?;
        }
        let digest: Digest = d.digest.parse()?;
        let blob = Blob {
            digest: digest.clone(),
            size: d.size,
            data: BlobData::Path(path),
        };
        if let Some(upload) = self.upload.filter(|_| !built_ahead) {
            upload.send(&blob);
        }
        self.image
            .add_layer(d.diff_id.parse()?, blob, media_type, history);
        self.log.info(format!("Adding layer '{id}'"));
        Ok(Known {
            diff_id: d.diff_id,
            blob: Some((digest, d.size, media_type.to_string())),
        })
    }

    /// A directory as a layer at the same absolute path in the image.
    fn dir_layer(
        &mut self,
        id: &str,
        dir: &Path,
        previous_sha: Option<&str>,
        history: Option<History>,
    ) -> Result<String, LayerError> {
        let tree = self.tree(dir);
        let hash = |b: &mut LayerBuilder<std::io::Sink>| b.add_tree(dir, &tree.dest, tree.owner);
        let fill = |b: &mut LayerBuilder<File>| b.add_tree(dir, &tree.dest, tree.owner);
        let known = self.memo.diff_id(&tree).map(str::to_string);
        let ahead = match (self.prebuilt.take(&tree), known) {
            (Some(Err(source)), _) => {
                return Err(LayerError::Archive {
                    layer: id.to_string(),
                    source,
                });
            }
            (Some(Ok((path, d))), _) => Ahead::Built(path, d),
            (None, Some(d)) => Ahead::Hashed(d),
            (None, None) => Ahead::Nothing,
        };
        let placed = self.add_or_reuse(id, previous_sha, ahead, &hash, &fill, history)?;
        let diff_id = placed.diff_id.clone();
        self.memo.set(tree, placed);
        Ok(diff_id)
    }

    /// A layer dir as [`Self::dir_layer`] writes it.
    pub(crate) fn tree(&self, dir: &Path) -> Tree {
        Tree {
            src: dir.to_path_buf(),
            dest: dir.to_string_lossy().into_owned(),
            owner: self.owner(),
        }
    }
}

fn json(t: &toml::Table) -> serde_json::Value {
    if t.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(t).unwrap_or(serde_json::Value::Null)
    }
}

/// The launch layers of every buildpack in group order, each buildpack's sorted by name.
pub(crate) fn buildpack_layers(
    ctx: &mut Context,
    group: &Group,
) -> Result<Vec<BuildpackLayersMetadata>, LayerError> {
    prehash(ctx, group);
    super::prebuild::prebuild(ctx, group);
    let mut out = Vec::new();
    for bp in &group.group {
        let dir = ctx
            .inputs
            .layers_dir()
            .join(cnb_formats::id::dir_name(&bp.id));
        let names = crate::layer_files::layer_names(&dir);
        let previous = ctx.previous_md.buildpack(&bp.id).cloned();
        let mut layers = BTreeMap::new();
        for name in names {
            let md = LayerMetadataFile::read(&dir.join(format!("{name}.toml")))?;
            let types = md.types();
            if !types.launch {
                continue;
            }
            let id = format!("{}:{name}", bp.id);
            let prev_sha = previous
                .as_ref()
                .and_then(|p| p.layers.get(&name))
                .map(|l| l.sha.clone());
            let layer_dir = dir.join(&name);
            let history = ctx.history(
                &format!("Layer: '{name}', Created by buildpack: {}", bp.name()),
                "",
            );
            let sha = if layer_dir.is_dir() {
                ctx.dir_layer(&id, &layer_dir, prev_sha.as_deref(), history)?
            } else {
                // Launch layer kept from the previous image without contents (a "launch only" reuse).
                let reason = |r: &str| LayerError::CannotReuse {
                    layer: id.clone(),
                    reason: r.to_string(),
                };
                let sha = prev_sha
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| reason("the previous image does not have it"))?;
                if types.cache {
                    return Err(reason("a cache=true layer needs contents"));
                }
                let prev = ctx
                    .previous
                    .ok_or_else(|| reason("there is no previous image"))?;
                ctx.image.reuse_layer(prev, &sha.parse()?, history)?;
                ctx.log.info(format!("Reusing layer '{id}'"));
                sha
            };
            layers.insert(
                name,
                BuildpackLayerMetadata {
                    sha,
                    data: json(&md.metadata),
                    build: types.build,
                    launch: types.launch,
                    cache: types.cache,
                },
            );
        }
        let store = cnb_formats::read_toml_if_exists::<Store>(&dir.join("store.toml"))?.map(|s| {
            StoreMetadata {
                metadata: json(&s.metadata),
            }
        });
        out.push(BuildpackLayersMetadata {
            key: bp.id.clone(),
            version: bp.version.clone(),
            layers,
            store,
        });
    }
    Ok(out)
}

/// Hashes, one per core, every launch layer dir the previous image may have (a new layer is not
/// hashed ahead: it is hashed while it is compressed).
fn prehash(ctx: &mut Context, group: &Group) {
    if ctx.previous.is_none() {
        return;
    }
    let mut trees = Vec::new();
    for bp in &group.group {
        let Some(previous) = ctx.previous_md.buildpack(&bp.id) else {
            continue;
        };
        for (name, layer_dir) in launch_layer_dirs(ctx.inputs, &bp.id) {
            if previous.layers.contains_key(&name) {
                trees.push(ctx.tree(&layer_dir));
            }
        }
    }
    ctx.memo.hash_missing(trees);
}

/// The launch layers a buildpack left (`<name>.toml` says `launch = true` and `<name>/` is a
/// directory), as (name, directory).
pub(crate) fn launch_layer_dirs(inputs: &Inputs, bp_id: &str) -> Vec<(String, PathBuf)> {
    let dir = inputs.layers_dir().join(cnb_formats::id::dir_name(bp_id));
    crate::layer_files::layer_names(&dir)
        .into_iter()
        .filter(|name| {
            LayerMetadataFile::read(&dir.join(format!("{name}.toml")))
                .is_ok_and(|md| md.types().launch)
        })
        .map(|name| {
            let layer_dir = dir.join(&name);
            (name, layer_dir)
        })
        .filter(|(_, layer_dir)| layer_dir.is_dir())
        .collect()
}

/// `<layers>/sbom/launch` as one layer (Platform API 0.8+), when the builder wrote one.
pub(crate) fn sbom_layer(ctx: &mut Context) -> Result<Option<LayerSha>, LayerError> {
    let dir = ctx.inputs.layers_dir().join("sbom").join("launch");
    if ctx.inputs.platform_api < Version::new(0, 8) || !dir.is_dir() {
        return Ok(None);
    }
    let prev = ctx.previous_md.sbom.as_ref().map(|s| s.sha.clone());
    let history = ctx.history(
        "buildpacksio/lifecycle:launch.sbom",
        "Software Bill-of-Materials",
    );
    let sha = ctx.dir_layer(
        "buildpacksio/lifecycle:launch.sbom",
        &dir,
        prev.as_deref(),
        history,
    )?;
    Ok(Some(LayerSha { sha }))
}

/// The app directory: one layer per slice (files matching its globs, relative to the app dir; a
/// matched directory takes everything below it; a file goes to the first slice that matches), then
/// one layer with the rest. Each slice makes a layer even when empty, as upstream.
pub(crate) fn app_layers(ctx: &mut Context, slices: &[Slice]) -> Result<Vec<LayerSha>, LayerError> {
    let dir = ctx.inputs.app_dir().to_path_buf();
    let root = dir.to_string_lossy().into_owned();
    let mut entries: Vec<PathBuf> = Vec::new();
    for e in walkdir::WalkDir::new(&dir)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let e = e.map_err(|e| {
            LayerError::io(
                "walk",
                &dir,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        entries.push(
            e.path()
                .strip_prefix(&dir)
                .unwrap_or(e.path())
                .to_path_buf(),
        );
    }
    let mut taken = vec![false; entries.len()];
    let previous: Vec<String> = ctx.previous_md.app.iter().map(|a| a.sha.clone()).collect();
    let mut out = Vec::new();
    let opts = glob::MatchOptions {
        require_literal_separator: true,
        ..Default::default()
    };
    for (n, slice) in slices.iter().enumerate() {
        let patterns: Vec<glob::Pattern> = slice
            .paths
            .iter()
            .filter_map(|p| glob::Pattern::new(p.trim_start_matches("./")).ok())
            .collect();
        let mut matched_dirs: Vec<PathBuf> = Vec::new();
        let mut picked = Vec::new();
        for (i, rel) in entries.iter().enumerate() {
            if taken[i] {
                continue;
            }
            let hit = patterns.iter().any(|p| p.matches_path_with(rel, opts))
                || matched_dirs.iter().any(|d| rel.starts_with(d));
            if hit {
                if dir.join(rel).is_dir() {
                    matched_dirs.push(rel.clone());
                }
                taken[i] = true;
                picked.push(rel.clone());
            }
        }
        let history = ctx.history(&format!("Application Slice: {}", n + 1), "");
        let sha = entries_layer(
            ctx,
            &format!("slice-{}", n + 1),
            &dir,
            &root,
            &picked,
            &previous,
            history,
        )?;
        out.push(LayerSha { sha });
    }
    let rest: Vec<PathBuf> = entries
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(e, _)| e.clone())
        .collect();
    let history = ctx.history("Application Layer", "");
    let sha = entries_layer(ctx, "app", &dir, &root, &rest, &previous, history)?;
    out.push(LayerSha { sha });
    Ok(out)
}

/// A layer of the given app entries (with their parent dirs), reused when the previous image has
/// one with the same diffID.
fn entries_layer(
    ctx: &mut Context,
    id: &str,
    dir: &Path,
    root: &str,
    entries: &[PathBuf],
    previous: &[String],
    history: Option<History>,
) -> Result<String, LayerError> {
    let owner = ctx.owner();
    let fill_any =
        |add_dir: &mut dyn FnMut(&str, &Path) -> Result<(), ArchiveError>,
         add: &mut dyn FnMut(&Path, &str) -> Result<(), ArchiveError>| {
            // The app dir's own ancestors, as they are on disk.
            let mut ancestors: Vec<&Path> = dir
                .ancestors()
                .skip(1)
                .filter(|a| a.parent().is_some())
                .collect();
            ancestors.reverse();
            for a in ancestors {
                add_dir(&a.to_string_lossy(), a)?;
            }
            add_dir(root, dir)?;
            for rel in entries {
                let mut prefix = PathBuf::new();
                for c in rel.parent().into_iter().flat_map(|p| p.components()) {
                    prefix.push(c);
                    add_dir(
                        &format!("{root}/{}", prefix.to_string_lossy()),
                        &dir.join(&prefix),
                    )?;
                }
                add(&dir.join(rel), &format!("{root}/{}", rel.to_string_lossy()))?;
            }
            Ok(())
        };
    let hash = |b: &mut LayerBuilder<std::io::Sink>| {
        let b = std::cell::RefCell::new(b);
        fill_any(
            &mut |dest, src| b.borrow_mut().add_path(src, dest, owner),
            &mut |src, dest| b.borrow_mut().add_path(src, dest, owner),
        )
    };
    let fill = |b: &mut LayerBuilder<File>| {
        let b = std::cell::RefCell::new(b);
        fill_any(
            &mut |dest, src| b.borrow_mut().add_path(src, dest, owner),
            &mut |src, dest| b.borrow_mut().add_path(src, dest, owner),
        )
    };
    // Any previous app layer with the same diffID can be reused.
    let reusable = {
        let mut h = LayerBuilder::hash_only();
        hash(&mut h).map_err(|source| LayerError::Archive {
            layer: id.to_string(),
            source,
        })?;
        let (_, d) = h.finish().map_err(|source| LayerError::Archive {
            layer: id.to_string(),
            source,
        })?;
        previous.iter().find(|p| **p == d.diff_id).cloned()
    };
    ctx.add_or_reuse(
        id,
        reusable.as_deref(),
        Ahead::Nothing,
        &hash,
        &fill,
        history,
    )
    .map(|k| k.diff_id)
}

/// The launcher at /cnb/lifecycle/launcher, owned by root.
pub(crate) fn launcher_layer(ctx: &mut Context) -> Result<String, LayerError> {
    let src = ctx
        .inputs
        .launcher_path()
        .map(Path::to_path_buf)
        .unwrap_or_else(cnb_os::default_launcher_path);
    if !src.is_file() {
        return Err(LayerError::io(
            "read launcher",
            &src,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let prev = ctx.previous_md.launcher.sha.clone();
    let history = ctx.history(
        "buildpacksio/lifecycle:launcher",
        "Buildpacks Application Launcher",
    );
    let hash = |b: &mut LayerBuilder<std::io::Sink>| {
        b.add_parents(LAUNCHER_PATH, 0o755, Owner::ROOT)?;
        b.add_file(&src, LAUNCHER_PATH, Some(0o755), Owner::ROOT)
    };
    let fill = |b: &mut LayerBuilder<File>| {
        b.add_parents(LAUNCHER_PATH, 0o755, Owner::ROOT)?;
        b.add_file(&src, LAUNCHER_PATH, Some(0o755), Owner::ROOT)
    };
    ctx.add_or_reuse(
        "buildpacksio/lifecycle:launcher",
        Some(&prev),
        Ahead::Nothing,
        &hash,
        &fill,
        history,
    )
    .map(|k| k.diff_id)
}

/// `<layers>/config` (metadata.toml for the launcher).
pub(crate) fn config_layer(ctx: &mut Context) -> Result<String, LayerError> {
    let dir = ctx.inputs.layers_dir().join("config");
    let prev = ctx.previous_md.config.sha.clone();
    let history = ctx.history(
        "buildpacksio/lifecycle:config",
        "Buildpacks Launcher Config",
    );
    ctx.dir_layer("buildpacksio/lifecycle:config", &dir, Some(&prev), history)
}

/// `/cnb/process/<type>` links to the launcher, when there are processes.
pub(crate) fn process_types_layer(
    ctx: &mut Context,
    md: &LaunchMetadata,
) -> Result<Option<String>, LayerError> {
    if md.processes.is_empty() {
        return Ok(None);
    }
    let mut types: Vec<&str> = md.processes.iter().map(|p| p.r#type.as_str()).collect();
    types.sort();
    let prev = ctx.previous_md.process_types.sha.clone();
    let history = ctx.history(
        "buildpacksio/lifecycle:process-types",
        "Buildpacks Process Types",
    );
    let hash = |b: &mut LayerBuilder<std::io::Sink>| {
        b.add_parents("/cnb/process/x", 0o755, Owner::ROOT)?;
        types.iter().try_for_each(|t| {
            b.add_symlink(&format!("/cnb/process/{t}"), LAUNCHER_PATH, Owner::ROOT)
        })
    };
    let fill = |b: &mut LayerBuilder<File>| {
        b.add_parents("/cnb/process/x", 0o755, Owner::ROOT)?;
        types.iter().try_for_each(|t| {
            b.add_symlink(&format!("/cnb/process/{t}"), LAUNCHER_PATH, Owner::ROOT)
        })
    };
    ctx.add_or_reuse(
        "buildpacksio/lifecycle:process-types",
        Some(&prev),
        Ahead::Nothing,
        &hash,
        &fill,
        history,
    )
    .map(|k| Some(k.diff_id))
}
