//! The kaniko dir (`/kaniko`), which pack mounts into the restorer's and both extenders'
//! containers: the restorer leaves there, as upstream, a sparse OCI layout of the run image to
//! extend (its manifest and config, no layers) under `cache/base/<manifest digest>/`, so the
//! run-image extender, which pack gives no registry credentials, needs no registry.

use std::io::Read;
use std::path::{Path, PathBuf};

use cnb_image::{BlobStore, Image};

/// Where pack mounts it.
pub const KANIKO_DIR: &str = "/kaniko";

/// Set only by tests: another dir standing for [`KANIKO_DIR`] in the restorer.
pub const TEST_DIR_ENV: &str = "CNB_KANIKO_DIR_FOR_TESTS";

/// Where the copy of the image with manifest `digest` lives under `kaniko`.
pub fn base_dir(kaniko: &Path, digest: &str) -> PathBuf {
    kaniko.join("cache").join("base").join(digest)
}

/// Writes `image`'s manifest and config (read again from `store`) as a layout under `kaniko`;
/// index.json last, so a half-written copy is never taken for an image.
pub(crate) fn save_base(
    store: &dyn BlobStore,
    image: &Image,
    kaniko: &Path,
) -> Result<PathBuf, String> {
    let dir = base_dir(kaniko, &image.digest().to_string());
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| format!("create '{}': {e}", blobs.display()))?;
    let config_digest = &image.manifest.config.digest;
    let mut config = Vec::new();
    store
        .blob(&image.name, config_digest)
        .map_err(|e| e.to_string())?
        .read_to_end(&mut config)
        .map_err(|e| format!("read config of '{}': {e}", image.name))?;
    let raw = &image.raw;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": cnb_image::oci::OCI_INDEX,
        "manifests": [{
            "mediaType": raw.media_type,
            "size": raw.bytes.len(),
            "digest": raw.digest.to_string(),
        }],
    })
    .to_string();
    for (path, bytes) in [
        (blobs.join(config_digest.hex()), &config[..]),
        (blobs.join(raw.digest.hex()), &raw.bytes[..]),
        (
            dir.join("oci-layout"),
            &br#"{"imageLayoutVersion":"1.0.0"}"#[..],
        ),
        (dir.join("index.json"), index.as_bytes()),
    ] {
        std::fs::write(&path, bytes).map_err(|e| format!("write '{}': {e}", path.display()))?;
    }
    Ok(dir)
}
