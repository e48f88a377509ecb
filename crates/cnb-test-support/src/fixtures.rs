//! Tiny images (a few hundred bytes) for any store: one layer with an os-release and a marker
//! file naming the platform, labels as a run image has them, and indexes over several platforms.

use std::sync::Arc;

use cnb_archive::{Compression, LayerBuilder, Owner};
use cnb_image::{
    Blob, BlobData, BlobStore, Digest, ImageBuilder, RawManifest, Saved, Target, oci, save_index,
};

/// A one-layer image for `target` with `files` (absolute path, content) and `labels`.
pub fn image(target: &Target, files: &[(&str, &str)], labels: &[(&str, &str)]) -> ImageBuilder {
    let mut layer = LayerBuilder::new(Vec::new(), Compression::Gzip(1));
    for (path, content) in files {
        layer.add_parents(path, 0o755, Owner::ROOT).unwrap();
        layer
            .add_bytes(path, content.as_bytes(), 0o644, Owner::ROOT)
            .unwrap();
    }
    let (bytes, digests) = layer.finish().unwrap();
    let mut b = ImageBuilder::scratch(target);
    b.add_layer(
        digests.diff_id.parse().unwrap(),
        Blob {
            digest: digests.digest.parse().unwrap(),
            size: bytes.len() as u64,
            data: BlobData::Bytes(Arc::from(bytes)),
        },
        oci::OCI_LAYER_GZIP,
        None,
    );
    for (k, v) in labels {
        b.set_label(k, v);
    }
    b.set_env("PATH", "/usr/local/bin:/usr/bin:/bin");
    b.set_created(cnb_image::NORMALIZED_CREATED);
    b
}

/// A run image for `target`: ubuntu 22.04 os-release, `/arch` naming the platform, base labels.
pub fn run_image(target: &Target, marker: &str) -> ImageBuilder {
    let arch = target.to_string();
    image(
        target,
        &[
            ("/etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n"),
            ("/arch", &arch),
            ("/marker", marker),
        ],
        &[
            ("io.buildpacks.base.id", "io.example.run"),
            ("io.buildpacks.base.distro.name", "ubuntu"),
            ("io.buildpacks.base.distro.version", "22.04"),
        ],
    )
}

/// Saves a single-platform run image under `name`.
pub fn save_run_image(store: &dyn BlobStore, name: &str, target: &Target, marker: &str) -> Saved {
    run_image(target, marker)
        .save(store, &[name.to_string()])
        .unwrap()
}

/// Saves a multi-arch run image under `name`: one child per target, then the index.
pub fn save_run_index(
    store: &dyn BlobStore,
    name: &str,
    targets: &[Target],
    marker: &str,
) -> (RawManifest, Vec<Saved>) {
    let mut children = Vec::new();
    let mut saved = Vec::new();
    for t in targets {
        let s = run_image(t, marker).save_untagged(store, name).unwrap();
        children.push((s.manifest.clone(), t.clone()));
        saved.push(s);
    }
    (save_index(store, name, &children).unwrap(), saved)
}

/// linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6.
pub fn four_platforms() -> Vec<Target> {
    vec![
        Target::new("linux", "amd64", None),
        Target::new("linux", "arm64", None),
        Target::new("linux", "arm", Some("v7")),
        Target::new("linux", "arm", Some("v6")),
    ]
}

/// Eight platforms a multi-arch build may cover: linux/amd64, arm64, arm/v7, arm/v6, ppc64le,
/// s390x, 386 and riscv64.
pub fn eight_platforms() -> Vec<Target> {
    let mut all = four_platforms();
    for arch in ["ppc64le", "s390x", "386", "riscv64"] {
        all.push(Target::new("linux", arch, None));
    }
    all
}

/// A digest for tests that need one.
pub fn some_digest(seed: &str) -> Digest {
    Digest::of(seed.as_bytes())
}

/// The layer [`save_extended_run_image`] adds: this file, with this content.
pub const EXTENSION_FILE: (&str, &str) = ("/opt/extension/hello", "added by an extension\n");

/// What upstream's `extender -kind run` leaves in `<extended>/run`: a sparse OCI layout in a dir
/// named after the extended image's manifest digest, whose `index.json` lists that one manifest
/// (no tag, no platform) and whose blobs are the manifest, the config and only the layers the
/// extension added. Here `run` plus one layer holding [`EXTENSION_FILE`], created by extension
/// `extension`, with `EXTENDED=yes` in the env and the labels `io.example.extended=yes` and
/// `io.buildpacks.rebasable=false` (the extender's mark for an extension not declared
/// rebasable). Returns the layout dir and the extension layer's diffID.
pub fn save_extended_run_image(
    run: &cnb_image::Image,
    extended_dir: &std::path::Path,
    extension: &str,
) -> (std::path::PathBuf, Digest) {
    let mut layer = LayerBuilder::new(Vec::new(), Compression::Gzip(1));
    layer
        .add_parents(EXTENSION_FILE.0, 0o755, Owner::ROOT)
        .unwrap();
    layer
        .add_bytes(
            EXTENSION_FILE.0,
            EXTENSION_FILE.1.as_bytes(),
            0o644,
            Owner::ROOT,
        )
        .unwrap();
    let (bytes, digests) = layer.finish().unwrap();
    let layer_digest: Digest = digests.digest.parse().unwrap();
    let diff_id: Digest = digests.diff_id.parse().unwrap();
    let mut b = ImageBuilder::from_base(run);
    // The extender keeps one history entry per layer, its own naming the extension.
    b.config_mut().history = run
        .layers()
        .iter()
        .map(|_| oci::History::default())
        .collect();
    b.add_layer(
        diff_id.clone(),
        Blob {
            digest: layer_digest.clone(),
            size: bytes.len() as u64,
            data: BlobData::Bytes(Arc::from(bytes.clone())),
        },
        oci::OCI_LAYER_GZIP,
        Some(oci::History {
            created_by: Some(format!(
                "Layer: 'RUN install hello', Created by extension: {extension}"
            )),
            ..Default::default()
        }),
    );
    b.set_env("EXTENDED", "yes");
    b.set_label("io.example.extended", "yes");
    b.set_label("io.buildpacks.rebasable", "false");
    let (manifest, config) = b.manifest().unwrap();
    let dir = extended_dir.join("run").join(manifest.digest.to_string());
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let BlobData::Bytes(config_bytes) = &config.data else {
        panic!("config is in memory")
    };
    for (digest, content) in [
        (&manifest.digest, &manifest.bytes[..]),
        (&config.digest, &config_bytes[..]),
        (&layer_digest, &bytes[..]),
    ] {
        std::fs::write(blobs.join(digest.hex()), content).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","size":{},"digest":"{}"}}]}}"#,
            oci::OCI_INDEX,
            manifest.media_type,
            manifest.bytes.len(),
            manifest.digest
        ),
    )
    .unwrap();
    (dir, diff_id)
}
