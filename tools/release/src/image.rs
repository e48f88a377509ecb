//! Lifecycle images as OCI layouts: a scratch image for one platform whose one layer holds the
//! binaries and `lifecycle.toml` under `/cnb/lifecycle/`, with upstream's labels; and an index
//! over several of them.

use std::path::Path;

use cnb_archive::{Compression, LayerBuilder, Owner};
use cnb_image::{
    Blob, BlobData, BlobStore, ImageBuilder, LayoutStore, NORMALIZED_CREATED, Opened, Target,
    TargetRequest, TargetSource, oci, open, save_index,
};

use crate::descriptor;

/// Builds the image for `platform` (`linux/amd64`) from `bin_dir` as `name` in the layout `root`.
pub fn build(bin_dir: &Path, platform: &str, root: &Path, name: &str) -> Result<(), String> {
    let (os, arch) = platform
        .split_once('/')
        .ok_or_else(|| format!("platform '{platform}': expected <os>/<arch>"))?;
    let target = Target::new(os, arch, None);
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let layer_path = scratch.path().join("layer.tar.gz");
    let file = std::fs::File::create(&layer_path).map_err(|e| e.to_string())?;
    let mut layer = LayerBuilder::new(file, Compression::Gzip(6));
    let e = |e: cnb_archive::ArchiveError| e.to_string();
    layer.add_dir("/cnb", 0o755, Owner::ROOT).map_err(e)?;
    layer
        .add_dir("/cnb/lifecycle", 0o755, Owner::ROOT)
        .map_err(e)?;
    for p in crate::package::binaries(bin_dir)? {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        layer
            .add_file(
                &p,
                &format!("/cnb/lifecycle/{name}"),
                Some(0o755),
                Owner::ROOT,
            )
            .map_err(e)?;
    }
    let toml = descriptor::toml();
    layer
        .add_bytes(
            "/cnb/lifecycle/lifecycle.toml",
            toml.as_bytes(),
            0o644,
            Owner::ROOT,
        )
        .map_err(e)?;
    let (_, d) = layer.finish().map_err(e)?;
    let mut image = ImageBuilder::scratch(&target);
    let parse = |s: &str| s.parse().map_err(|e: cnb_image::ImageError| e.to_string());
    image.add_layer(
        parse(&d.diff_id)?,
        Blob {
            digest: parse(&d.digest)?,
            size: d.size,
            data: BlobData::Path(layer_path),
        },
        oci::OCI_LAYER_GZIP,
        None,
    );
    image.set_label("io.buildpacks.lifecycle.version", descriptor::VERSION);
    image.set_label("io.buildpacks.lifecycle.apis", &descriptor::apis_label());
    image.set_working_dir("/layers");
    image.set_created(NORMALIZED_CREATED);
    let store = LayoutStore::new(root);
    let saved = image
        .save(&store, &[name.to_string()])
        .map_err(|e| e.to_string())?;
    println!("{name} ({platform}): {}", saved.digest);
    Ok(())
}

/// Opens `name` in `store` whatever its platform.
pub fn open_any(store: &dyn BlobStore, name: &str) -> Result<cnb_image::Image, String> {
    let any = TargetRequest::or_host(None, TargetSource::Host);
    match open(store, name, &any).map_err(|e| e.to_string())? {
        Opened::Found(i) | Opened::PlatformMismatch { image: i, .. } => Ok(*i),
        Opened::NotFound => Err(format!("image '{name}' not found")),
    }
}

/// Copies one image's blobs and manifest from a layout to `dst` (stored under `dst_name`).
pub fn copy(
    src: &LayoutStore,
    image: &cnb_image::Image,
    dst: &dyn BlobStore,
    dst_name: &str,
) -> Result<(), String> {
    let dir = src.dir_of(&image.name).map_err(|e| e.to_string())?;
    let path = |d: &cnb_image::Digest| dir.join("blobs/sha256").join(d.hex());
    let mut blobs = vec![Blob {
        digest: image.manifest.config.digest.clone(),
        size: image.manifest.config.size,
        data: BlobData::Path(path(&image.manifest.config.digest)),
    }];
    for l in &image.manifest.layers {
        blobs.push(Blob {
            digest: l.digest.clone(),
            size: l.size,
            data: BlobData::Path(path(&l.digest)),
        });
    }
    dst.put_blobs(dst_name, &blobs).map_err(|e| e.to_string())?;
    dst.put_manifest(dst_name, &image.raw)
        .map_err(|e| e.to_string())
}

/// Saves an index `name` over the images `children` of the layout `root` (copied into its dir).
pub fn index(root: &Path, name: &str, children: &[&str]) -> Result<(), String> {
    let store = LayoutStore::new(root);
    let mut entries = Vec::new();
    for child in children {
        let image = open_any(&store, child)?;
        // `repo:tag@digest` in a layout root: by digest inside the index's own layout.
        copy(
            &store,
            &image,
            &store,
            &format!("{name}@{}", image.digest()),
        )?;
        entries.push((image.raw.clone(), image.target()));
    }
    let raw = save_index(&store, name, &entries).map_err(|e| e.to_string())?;
    println!("{name} (index of {}): {}", children.len(), raw.digest);
    Ok(())
}
