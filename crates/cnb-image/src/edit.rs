//! Building a new image (from a base or from scratch), reusing layers, rebasing, and saving it:
//! every blob first, the manifest last, the same bytes (and digest) for the same inputs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{Blob, BlobData, BlobStore, RawManifest};
use crate::image::Image;
use crate::oci::{self, ConfigFile, Descriptor, History, Index, Manifest, Platform};
use crate::target::Target;
use crate::{Digest, ImageError, Result};

/// The creation time of reproducible images: 1980-01-01T00:00:01Z.
pub const NORMALIZED_CREATED: &str = "1980-01-01T00:00:01Z";

#[derive(Debug, Clone)]
struct LayerEntry {
    descriptor: Descriptor,
    diff_id: Digest,
    data: BlobData,
}

/// An image being built.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    config: ConfigFile,
    layers: Vec<LayerEntry>,
}

/// What a save produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest size.
    pub manifest_size: u64,
    /// The image ID (config digest).
    pub image_id: Digest,
    /// The identifier of the first name.
    pub identifier: String,
    /// The manifest bytes.
    pub manifest: RawManifest,
}

impl ImageBuilder {
    /// Starts from `base`: its config (labels, env, ...), platform and layers.
    pub fn from_base(base: &Image) -> Self {
        let layers = base
            .layers()
            .into_iter()
            .zip(&base.manifest.layers)
            .map(|(l, d)| LayerEntry {
                descriptor: d.clone(),
                diff_id: l.diff_id,
                data: BlobData::Remote {
                    from: base.name.clone(),
                },
            })
            .collect();
        let mut config = base.config.clone();
        config.rootfs.diff_ids.clear();
        Self { config, layers }
    }

    /// Starts from nothing, for `target`.
    pub fn scratch(target: &Target) -> Self {
        Self {
            config: ConfigFile::empty(target),
            layers: Vec::new(),
        }
    }

    /// Appends a new layer whose blob is `blob` (compressed tar unless `media_type` says otherwise).
    pub fn add_layer(
        &mut self,
        diff_id: Digest,
        blob: Blob,
        media_type: &str,
        history: Option<History>,
    ) {
        self.layers.push(LayerEntry {
            descriptor: Descriptor::new(media_type, blob.digest.clone(), blob.size),
            diff_id,
            data: blob.data,
        });
        self.push_history(history);
    }

    /// Appends the layer of `previous` with this diffID: no bytes are compressed or moved.
    pub fn reuse_layer(
        &mut self,
        previous: &Image,
        diff_id: &Digest,
        history: Option<History>,
    ) -> Result<()> {
        let i = previous
            .config
            .rootfs
            .diff_ids
            .iter()
            .position(|d| d == diff_id)
            .ok_or_else(|| ImageError::NoSuchLayer {
                reference: previous.name.clone(),
                diff_id: diff_id.to_string(),
            })?;
        self.layers.push(LayerEntry {
            descriptor: previous.manifest.layers[i].clone(),
            diff_id: diff_id.clone(),
            data: BlobData::Remote {
                from: previous.name.clone(),
            },
        });
        self.push_history(history);
        Ok(())
    }

    fn push_history(&mut self, history: Option<History>) {
        if let Some(h) = history {
            self.config.history.push(h);
        }
    }

    /// Replaces the layers up to and including `old_top` with `new_base`'s layers and takes the
    /// new base's platform; the layers above stay as they are (by digest).
    pub fn rebase(&mut self, old_top: &Digest, new_base: &Image) -> Result<()> {
        let cut = self
            .layers
            .iter()
            .position(|l| &l.diff_id == old_top)
            .ok_or_else(|| ImageError::NoSuchLayer {
                reference: "the image being rebased".into(),
                diff_id: old_top.to_string(),
            })?;
        let above: Vec<LayerEntry> = self.layers.drain(cut + 1..).collect();
        self.layers = ImageBuilder::from_base(new_base).layers;
        self.layers.extend(above);
        self.config.os = new_base.config.os.clone();
        self.config.architecture = new_base.config.architecture.clone();
        self.config.variant = new_base.config.variant.clone();
        self.config.os_version = new_base.config.os_version.clone();
        Ok(())
    }

    /// The layers' diffIDs, base first.
    pub fn diff_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }

    /// The config being built.
    pub fn config(&self) -> &ConfigFile {
        &self.config
    }

    /// Mutable access to the config (for fields without a setter).
    pub fn config_mut(&mut self) -> &mut ConfigFile {
        &mut self.config
    }

    /// Sets a label.
    pub fn set_label(&mut self, key: &str, value: &str) {
        self.config
            .config
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
    }

    /// Removes a label.
    pub fn remove_label(&mut self, key: &str) {
        if let Some(l) = self.config.config.labels.as_mut() {
            l.remove(key);
        }
    }

    /// Sets an environment variable, replacing any earlier value.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let env = self.config.config.env.get_or_insert_with(Vec::new);
        env.retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(key));
        env.push(format!("{key}={value}"));
    }

    /// One environment variable of the config.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.config.config.env_var(key)
    }

    /// Sets the entrypoint.
    pub fn set_entrypoint(&mut self, entrypoint: Vec<String>) {
        self.config.config.entrypoint = Some(entrypoint);
    }

    /// Sets the default command (`Some(vec![])` for an explicit empty one).
    pub fn set_cmd(&mut self, cmd: Option<Vec<String>>) {
        self.config.config.cmd = cmd;
    }

    /// Sets the working directory.
    pub fn set_working_dir(&mut self, dir: &str) {
        self.config.config.working_dir = Some(dir.into());
    }

    /// Sets the user.
    pub fn set_user(&mut self, user: &str) {
        self.config.config.user = Some(user.into());
    }

    /// Sets the creation time (RFC 3339), and the same time on every history entry.
    pub fn set_created(&mut self, created: &str) {
        self.config.created = Some(created.into());
        for h in &mut self.config.history {
            h.created = Some(created.into());
        }
    }

    fn config_bytes(&self) -> Result<Vec<u8>> {
        let mut config = self.config.clone();
        config.rootfs.diff_ids = self.diff_ids();
        serde_json::to_vec(&config).map_err(|e| ImageError::Invalid {
            what: "config",
            reference: "new image".into(),
            reason: e.to_string(),
        })
    }

    /// The manifest and config this builder describes, without storing anything.
    pub fn manifest(&self) -> Result<(RawManifest, Blob)> {
        let config_bytes = self.config_bytes()?;
        let config_digest = Digest::of(&config_bytes);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::OCI_MANIFEST.into()),
            config: Descriptor::new(
                oci::OCI_CONFIG,
                config_digest.clone(),
                config_bytes.len() as u64,
            ),
            layers: self.layers.iter().map(|l| l.descriptor.clone()).collect(),
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::Invalid {
            what: "manifest",
            reference: "new image".into(),
            reason: e.to_string(),
        })?;
        let config = Blob {
            digest: config_digest,
            size: config_bytes.len() as u64,
            data: BlobData::Bytes(Arc::from(config_bytes)),
        };
        Ok((
            RawManifest {
                digest: Digest::of(&bytes),
                bytes,
                media_type: oci::OCI_MANIFEST.into(),
            },
            config,
        ))
    }

    /// Saves the image under every name (all in `store`): layers and config first, then the
    /// manifest of each name. Nothing is tagged until every blob is stored.
    pub fn save(&self, store: &dyn BlobStore, names: &[String]) -> Result<Saved> {
        let Some(first) = names.first() else {
            return Err(ImageError::Unsupported("no image name to save to".into()));
        };
        let (manifest, config) = self.manifest()?;
        let mut blobs: Vec<Blob> = self
            .layers
            .iter()
            .map(|l| Blob {
                digest: l.descriptor.digest.clone(),
                size: l.descriptor.size,
                data: l.data.clone(),
            })
            .collect();
        blobs.push(config.clone());
        store.put_blobs(first, &blobs)?;
        for other in &names[1..] {
            let linked: Vec<Blob> = blobs
                .iter()
                .map(|b| Blob {
                    data: BlobData::Remote {
                        from: first.clone(),
                    },
                    ..b.clone()
                })
                .collect();
            store.put_blobs(other, &linked)?;
        }
        for name in names {
            store.put_manifest(name, &manifest)?;
        }
        Ok(Saved {
            digest: manifest.digest.clone(),
            manifest_size: manifest.bytes.len() as u64,
            image_id: config.digest,
            identifier: store.identifier(first, &manifest.digest)?,
            manifest,
        })
    }
}

impl ImageBuilder {
    /// Saves the image by digest only (a child of an index): `name`'s repository or layout
    /// gets the blobs and the manifest, no tag changes.
    pub fn save_untagged(&self, store: &dyn BlobStore, name: &str) -> Result<Saved> {
        let (manifest, _) = self.manifest()?;
        let base = name.split_once('@').map(|(n, _)| n).unwrap_or(name);
        self.save(store, &[format!("{base}@{}", manifest.digest)])
    }
}

/// Saves an OCI index over images already stored under `name`'s repository (or layout), each
/// child given as (manifest, platform). Returns the index as stored.
pub fn save_index(
    store: &dyn BlobStore,
    name: &str,
    children: &[(RawManifest, Target)],
) -> Result<RawManifest> {
    let index = Index {
        schema_version: 2,
        media_type: Some(oci::OCI_INDEX.into()),
        manifests: children
            .iter()
            .map(|(m, t)| {
                let mut d = Descriptor::new(&m.media_type, m.digest.clone(), m.bytes.len() as u64);
                d.platform = Some(Platform {
                    architecture: t.arch.clone(),
                    os: t.os.clone(),
                    os_version: t.os_version.clone(),
                    variant: t.variant.clone(),
                });
                d
            })
            .collect(),
        annotations: BTreeMap::new(),
        extra: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&index).map_err(|e| ImageError::Invalid {
        what: "index",
        reference: name.into(),
        reason: e.to_string(),
    })?;
    let raw = RawManifest {
        digest: Digest::of(&bytes),
        bytes,
        media_type: oci::OCI_INDEX.into(),
    };
    store.put_manifest(name, &raw)?;
    Ok(raw)
}
