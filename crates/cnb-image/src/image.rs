//! Reading an image through any backend, with multi-arch references resolved to one child.

use std::collections::BTreeMap;

use crate::backend::{BlobStore, RawManifest};
use crate::oci::{self, ConfigFile, Index, Manifest};
use crate::target::{self, Target, TargetRequest};
use crate::{Digest, ImageError, Result};

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Digest of the stored blob.
    pub digest: Digest,
    /// Size of the stored blob.
    pub size: u64,
    /// The blob's media type.
    pub media_type: String,
}

/// An image read from a store: one platform's manifest and config.
#[derive(Debug, Clone)]
pub struct Image {
    /// The name it was opened by.
    pub name: String,
    /// The manifest, exactly as stored.
    pub raw: RawManifest,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The config.
    pub config: ConfigFile,
    /// The index it was picked from, if the name pointed at one.
    pub index_digest: Option<Digest>,
    /// What a platform records for it (`repo@sha256:...`, `<layout>@sha256:...`).
    pub identifier: String,
}

/// The result of opening a name.
#[derive(Debug)]
pub enum Opened {
    /// The image for the target.
    Found(Box<Image>),
    /// Nothing under that name.
    NotFound,
    /// A single-platform image of another platform: the caller decides (a previous image is
    /// skipped with a warning; a run image is an error).
    PlatformMismatch {
        /// The image as found.
        image: Box<Image>,
        /// Its platform.
        found: Target,
        /// The target asked for.
        wanted: Target,
    },
}

impl Opened {
    /// The image, treating a platform mismatch as an error (for run images).
    pub fn required(self, name: &str) -> Result<Image> {
        match self {
            Opened::Found(i) => Ok(*i),
            Opened::NotFound => Err(ImageError::NotFound(name.to_string())),
            Opened::PlatformMismatch { found, wanted, .. } => Err(ImageError::PlatformMismatch {
                reference: name.to_string(),
                found: Box::new(found),
                wanted: Box::new(wanted),
            }),
        }
    }
}

fn invalid(what: &'static str, name: &str, e: impl ToString) -> ImageError {
    ImageError::Invalid {
        what,
        reference: name.to_string(),
        reason: e.to_string(),
    }
}

/// Opens `name` for `request.target`: an index resolves to its matching child (an error naming
/// the wanted and available platforms when none matches); a single manifest of another platform
/// comes back as [`Opened::PlatformMismatch`].
pub fn open(store: &dyn BlobStore, name: &str, request: &TargetRequest) -> Result<Opened> {
    let Some(raw) = store.manifest(name)? else {
        return Ok(Opened::NotFound);
    };
    open_manifest(store, name, raw, request)
}

/// As [`open`], for a caller that already holds what `name` points at (`store.manifest(name)`),
/// so the manifest is not fetched twice.
pub fn open_manifest(
    store: &dyn BlobStore,
    name: &str,
    raw: RawManifest,
    request: &TargetRequest,
) -> Result<Opened> {
    let (raw, index_digest) = if oci::is_index(&raw.media_type) {
        let index: Index =
            serde_json::from_slice(&raw.bytes).map_err(|e| invalid("index", name, e))?;
        let children: Vec<Option<Target>> = index
            .manifests
            .iter()
            .map(|m| m.platform.as_ref().map(oci::Platform::target))
            .collect();
        let i = target::pick(&children, &request.target).map_err(|available| {
            ImageError::NoMatchingPlatform {
                reference: name.to_string(),
                wanted: Box::new(request.target.clone()),
                available,
            }
        })?;
        let child = store.manifest_by_digest(name, &index.manifests[i].digest)?;
        (child, Some(raw.digest))
    } else {
        (raw, None)
    };
    let image = read_image(store, name, raw, index_digest)?;
    let found = image.target();
    if image.index_digest.is_none() && !request.target.matches(&found) {
        return Ok(Opened::PlatformMismatch {
            image: Box::new(image),
            found,
            wanted: request.target.clone(),
        });
    }
    Ok(Opened::Found(Box::new(image)))
}

/// Reads the child `digest` of the index `index_digest` stored under `name`, whatever its
/// platform: for callers that walk every child of an index rather than pick one.
pub fn open_child(
    store: &dyn BlobStore,
    name: &str,
    digest: &Digest,
    index_digest: &Digest,
) -> Result<Image> {
    let raw = store.manifest_by_digest(name, digest)?;
    if oci::is_index(&raw.media_type) {
        return Err(invalid(
            "index",
            name,
            format!("child {digest} is itself an index"),
        ));
    }
    read_image(store, name, raw, Some(index_digest.clone()))
}

fn read_image(
    store: &dyn BlobStore,
    name: &str,
    raw: RawManifest,
    index_digest: Option<Digest>,
) -> Result<Image> {
    let manifest: Manifest =
        serde_json::from_slice(&raw.bytes).map_err(|e| invalid("manifest", name, e))?;
    let mut config_bytes = Vec::new();
    store
        .blob(name, &manifest.config.digest)?
        .read_to_end(&mut config_bytes)
        .map_err(|e| invalid("config", name, e))?;
    let config: ConfigFile =
        serde_json::from_slice(&config_bytes).map_err(|e| invalid("config", name, e))?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(invalid(
            "manifest",
            name,
            format!(
                "{} layers but {} diff_ids in the config",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let identifier = store.identifier(name, &raw.digest)?;
    Ok(Image {
        name: name.to_string(),
        raw,
        manifest,
        config,
        index_digest,
        identifier,
    })
}

use std::io::Read as _;

impl Image {
    /// The manifest digest.
    pub fn digest(&self) -> &Digest {
        &self.raw.digest
    }

    /// The image ID: the config digest.
    pub fn id(&self) -> &Digest {
        &self.manifest.config.digest
    }

    /// The normalised platform of its config.
    pub fn target(&self) -> Target {
        self.config.target()
    }

    /// All labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config.config.labels.clone().unwrap_or_default()
    }

    /// One label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config
            .config
            .labels
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// One environment variable.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.config.config.env_var(key)
    }

    /// Layers, base first.
    pub fn layers(&self) -> Vec<Layer> {
        self.manifest
            .layers
            .iter()
            .zip(&self.config.rootfs.diff_ids)
            .map(|(d, diff_id)| Layer {
                diff_id: diff_id.clone(),
                digest: d.digest.clone(),
                size: d.size,
                media_type: d.media_type.clone(),
            })
            .collect()
    }

    /// The layer with this diffID.
    pub fn layer(&self, diff_id: &Digest) -> Option<Layer> {
        self.layers().into_iter().find(|l| &l.diff_id == diff_id)
    }

    /// The diffID of the top layer.
    pub fn top_layer(&self) -> Option<&Digest> {
        self.config.rootfs.diff_ids.last()
    }
}
