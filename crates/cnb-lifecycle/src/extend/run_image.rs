//! `extender -kind run`'s output: the run image plus a layer per instruction that changed files, with
//! the config the Dockerfiles left, saved as upstream's sparse OCI layout at
//! `<extended>/run/<manifest digest>/` (only the new layers' blobs; the base layers stay in the
//! registry, where the exporter finds them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cnb_image::oci::{self, History};
use cnb_image::{Blob, BlobData, Digest, Image, ImageBuilder};

use super::ExtendError;
use super::apply::State;

/// A layer written to a file, waiting to join the image.
pub(crate) struct NewLayer {
    pub file: PathBuf,
    pub diff_id: Digest,
    pub digest: Digest,
    pub size: u64,
    pub created_by: String,
    pub extension: String,
}

fn fail(path: &Path, e: impl std::fmt::Display) -> ExtendError {
    ExtendError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// One history entry per base layer, as upstream normalises it: the non-empty entries when
/// they match the layers one to one, else blank ones.
fn normalized_history(base: &Image) -> Vec<History> {
    let n = base.layers().len();
    let real: Vec<History> = base
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer.unwrap_or(false))
        .cloned()
        .collect();
    if real.len() == n {
        real
    } else {
        vec![History::default(); n]
    }
}

/// Saves the extended image under `extended/run/` and returns its layout dir.
pub(crate) fn save(
    base: &Image,
    state: &State,
    rebasable: Option<bool>,
    layers: &[NewLayer],
    extended: &Path,
) -> Result<PathBuf, ExtendError> {
    let mut b = ImageBuilder::from_base(base);
    b.config_mut().history = normalized_history(base);
    let mut blobs: Vec<(Digest, PathBuf)> = Vec::new();
    for l in layers {
        b.add_layer(
            l.diff_id.clone(),
            Blob {
                digest: l.digest.clone(),
                size: l.size,
                // The blob is copied from its file below; the builder only needs its descriptor.
                data: BlobData::Bytes(Arc::from(Vec::new())),
            },
            oci::OCI_LAYER_GZIP,
            Some(History {
                created_by: Some(format!(
                    "Layer: '{}', Created by extension: {}",
                    l.created_by, l.extension
                )),
                ..Default::default()
            }),
        );
        blobs.push((l.digest.clone(), l.file.clone()));
    }
    let config = b.config_mut();
    config.config.env = Some(state.env.iter().map(|(k, v)| format!("{k}={v}")).collect());
    config.config.user = Some(state.user.clone()).filter(|u| !u.is_empty());
    config.config.working_dir = Some(state.workdir.clone()).filter(|w| !w.is_empty());
    let mut labels = state.labels.clone();
    // Without any Dockerfile upstream leaves the run image's labels as they are.
    if let Some(r) = rebasable {
        labels.insert(cnb_formats::labels::REBASABLE.to_string(), r.to_string());
    }
    config.config.labels = Some(labels.into_iter().collect());
    let (manifest, config_blob) = b.manifest().map_err(|e| fail(extended, e))?;
    let run = extended.join("run");
    if run.exists() {
        // A retried extender replaces what an earlier attempt left: the exporter wants one image.
        std::fs::remove_dir_all(&run).map_err(|e| fail(&run, e))?;
    }
    let dir = run.join(manifest.digest.to_string());
    let blob_dir = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blob_dir).map_err(|e| fail(&blob_dir, e))?;
    for (digest, file) in blobs {
        let to = blob_dir.join(digest.hex());
        std::fs::rename(&file, &to)
            .or_else(|_| std::fs::copy(&file, &to).map(|_| ()))
            .map_err(|e| fail(&to, e))?;
    }
    let BlobData::Bytes(config_bytes) = &config_blob.data else {
        return Err(fail(extended, "config is not in memory"));
    };
    let write = |path: PathBuf, bytes: &[u8]| -> Result<(), ExtendError> {
        std::fs::write(&path, bytes).map_err(|e| fail(&path, e))
    };
    write(blob_dir.join(config_blob.digest.hex()), config_bytes)?;
    write(blob_dir.join(manifest.digest.hex()), &manifest.bytes)?;
    write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_INDEX,
        "manifests": [{
            "mediaType": manifest.media_type,
            "size": manifest.bytes.len(),
            "digest": manifest.digest.to_string(),
        }],
    });
    // index.json last: a layout without it is not an image yet.
    write(dir.join("index.json"), index.to_string().as_bytes())?;
    Ok(dir)
}
