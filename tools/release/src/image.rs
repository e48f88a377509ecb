//! Lifecycle images as OCI layouts, shaped like upstream's (`tools/image`, on distroless/static):
//! a base layer with what that base gives a phase (`/etc/passwd` and `/etc/group` with root, so
//! that pack's `User: root` resolves; `/tmp`; `/root`; the CA bundle for registry TLS), a layer
//! with the binaries and `lifecycle.toml` under `/cnb/lifecycle/`, and upstream's config: user 0,
//! `PATH`, `SSL_CERT_FILE`, working dir `/layers` and the three lifecycle labels. Also an index
//! over several of them.

use std::path::{Path, PathBuf};

use cnb_archive::{Compression, LayerBuilder, Owner};
use cnb_image::{
    Blob, BlobData, BlobStore, ImageBuilder, LayoutStore, NORMALIZED_CREATED, Opened, Target,
    TargetRequest, TargetSource, oci, open, save_index,
};

use crate::descriptor;

/// Where the base layer puts the CA bundle, and what `SSL_CERT_FILE` says (as distroless).
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
                      nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";

type Built = (PathBuf, cnb_archive::LayerDigests);

fn archive_err(e: cnb_archive::ArchiveError) -> String {
    e.to_string()
}

/// The base layer; `ca_bundle` is the build host's CA bundle (PEM).
fn base_layer(dir: &Path, ca_bundle: &Path) -> Result<Built, String> {
    let path = dir.join("base.tar.gz");
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut layer = LayerBuilder::new(file, Compression::Gzip(6));
    let e = archive_err;
    let ca = std::fs::read(ca_bundle)
        .map_err(|err| format!("ca bundle '{}': {err}", ca_bundle.display()))?;
    for d in ["/etc", "/etc/ssl", "/etc/ssl/certs"] {
        layer.add_dir(d, 0o755, Owner::ROOT).map_err(e)?;
    }
    layer
        .add_bytes("/etc/group", GROUP.as_bytes(), 0o644, Owner::ROOT)
        .map_err(e)?;
    layer
        .add_bytes("/etc/passwd", PASSWD.as_bytes(), 0o644, Owner::ROOT)
        .map_err(e)?;
    layer
        .add_bytes(CA_BUNDLE, &ca, 0o644, Owner::ROOT)
        .map_err(e)?;
    layer.add_dir("/root", 0o700, Owner::ROOT).map_err(e)?;
    layer.add_dir("/tmp", 0o1777, Owner::ROOT).map_err(e)?;
    let (_, d) = layer.finish().map_err(e)?;
    Ok((path, d))
}

/// `/cnb/lifecycle/` with every binary of `bin_dir` and `lifecycle.toml`.
fn lifecycle_layer(dir: &Path, bin_dir: &Path) -> Result<Built, String> {
    let path = dir.join("lifecycle.tar.gz");
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut layer = LayerBuilder::new(file, Compression::Gzip(6));
    let e = archive_err;
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
    Ok((path, d))
}

/// Builds the image for `platform` (`linux/amd64`) from `bin_dir` as `name` in the layout `root`,
/// with `ca_bundle` as the image's CA bundle.
pub fn build(
    bin_dir: &Path,
    ca_bundle: &Path,
    platform: &str,
    root: &Path,
    name: &str,
) -> Result<(), String> {
    let (os, arch) = platform
        .split_once('/')
        .ok_or_else(|| format!("platform '{platform}': expected <os>/<arch>"))?;
    let target = Target::new(os, arch, None);
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let layers = [
        base_layer(scratch.path(), ca_bundle)?,
        lifecycle_layer(scratch.path(), bin_dir)?,
    ];
    let mut image = ImageBuilder::scratch(&target);
    let parse = |s: &str| s.parse().map_err(|e: cnb_image::ImageError| e.to_string());
    for (path, d) in layers {
        image.add_layer(
            parse(&d.diff_id)?,
            Blob {
                digest: parse(&d.digest)?,
                size: d.size,
                data: BlobData::Path(path),
            },
            oci::OCI_LAYER_GZIP,
            None,
        );
    }
    image.set_user("0");
    image.set_env("PATH", PATH);
    image.set_env("SSL_CERT_FILE", CA_BUNDLE);
    image.set_working_dir("/layers");
    image.set_label("io.buildpacks.lifecycle.apis", &descriptor::apis_label());
    image.set_label("io.buildpacks.lifecycle.version", descriptor::VERSION);
    image.set_label(
        "io.buildpacks.builder.metadata",
        &descriptor::builder_metadata_label(),
    );
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;

    /// kpack's `LifecycleDescriptor` (pkg/cnb/buildpack_metadata.go): what it reads from
    /// `io.buildpacks.builder.metadata`.
    #[derive(serde::Deserialize)]
    struct KpackDescriptor {
        lifecycle: KpackInfo,
        api: KpackApi,
    }
    #[derive(serde::Deserialize)]
    struct KpackInfo {
        version: String,
    }
    #[derive(serde::Deserialize)]
    struct KpackApi {
        buildpack: String,
        platform: String,
    }
    /// kpack's `LifecycleAPIs`: what it reads from `io.buildpacks.lifecycle.apis`.
    #[derive(serde::Deserialize)]
    struct KpackApis {
        buildpack: KpackSet,
        platform: KpackSet,
    }
    #[derive(serde::Deserialize)]
    struct KpackSet {
        deprecated: Vec<String>,
        supported: Vec<String>,
    }

    /// Path → (mode, content) of every entry of the image's layers.
    fn entries(root: &Path, image: &cnb_image::Image) -> BTreeMap<String, (u32, Vec<u8>)> {
        let store = LayoutStore::new(root);
        let dir = store.dir_of(&image.name).unwrap();
        let mut out = BTreeMap::new();
        for l in &image.manifest.layers {
            let blob = std::fs::File::open(dir.join("blobs/sha256").join(l.digest.hex())).unwrap();
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
            for e in tar.entries().unwrap() {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mode = e.header().mode().unwrap();
                let mut content = Vec::new();
                e.read_to_end(&mut content).unwrap();
                out.insert(path.trim_end_matches('/').to_string(), (mode, content));
            }
        }
        out
    }

    #[test]
    fn the_image_carries_upstreams_config_labels_and_base_files() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for p in ["analyzer", "launcher"] {
            std::fs::write(bin.join(p), b"\x7fELF fake").unwrap();
        }
        let ca = dir.path().join("ca.crt");
        std::fs::write(
            &ca,
            b"-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let root = dir.path().join("layout");
        build(&bin, &ca, "linux/arm64", &root, "lc.test/lifecycle:x").unwrap();

        let image = open_any(&LayoutStore::new(&root), "lc.test/lifecycle:x").unwrap();
        let c = &image.config;
        assert_eq!((c.os.as_str(), c.architecture.as_str()), ("linux", "arm64"));
        assert_eq!(c.config.user.as_deref(), Some("0"));
        assert_eq!(c.config.working_dir.as_deref(), Some("/layers"));
        assert_eq!(image.env("SSL_CERT_FILE"), Some(CA_BUNDLE));
        assert!(image.env("PATH").unwrap().contains("/usr/bin"));

        let md: KpackDescriptor =
            serde_json::from_str(image.label("io.buildpacks.builder.metadata").unwrap()).unwrap();
        assert_eq!(md.lifecycle.version, descriptor::VERSION);
        assert_eq!(md.lifecycle.version, "0.21.17");
        assert_eq!(
            (md.api.buildpack.as_str(), md.api.platform.as_str()),
            ("0.7", "0.7")
        );
        let apis: KpackApis =
            serde_json::from_str(image.label("io.buildpacks.lifecycle.apis").unwrap()).unwrap();
        let minors = |s: &[String]| s.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
        assert_eq!(
            minors(&apis.platform.supported),
            "0.7 0.8 0.9 0.10 0.11 0.12 0.13 0.14 0.15"
        );
        assert_eq!(
            minors(&apis.buildpack.supported),
            "0.7 0.8 0.9 0.10 0.11 0.12"
        );
        assert!(apis.platform.deprecated.is_empty() && apis.buildpack.deprecated.is_empty());
        assert_eq!(
            image.label("io.buildpacks.lifecycle.version"),
            Some(descriptor::VERSION)
        );

        let files = entries(&root, &image);
        let passwd = String::from_utf8(files["/etc/passwd"].1.clone()).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
        assert!(String::from_utf8_lossy(&files["/etc/group"].1).starts_with("root:x:0:"));
        assert_eq!(files[CA_BUNDLE].1, std::fs::read(&ca).unwrap());
        assert_eq!(files["/tmp"].0 & 0o7777, 0o1777);
        assert_eq!(files["/cnb/lifecycle/analyzer"].0 & 0o777, 0o755);
        let toml = String::from_utf8(files["/cnb/lifecycle/lifecycle.toml"].1.clone()).unwrap();
        assert!(toml.contains(&format!("version = \"{}\"", descriptor::VERSION)));
    }

    #[test]
    fn a_missing_ca_bundle_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("analyzer"), b"x").unwrap();
        let err = build(
            &bin,
            &dir.path().join("no-ca.crt"),
            "linux/amd64",
            &dir.path().join("layout"),
            "lc.test/lifecycle:y",
        )
        .unwrap_err();
        assert!(
            err.starts_with("ca bundle '") && err.contains("no-ca.crt"),
            "{err}"
        );
    }
}
