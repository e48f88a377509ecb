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
