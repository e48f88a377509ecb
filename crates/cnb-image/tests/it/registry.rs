//! The registry backend against a real `docker-registry` on loopback: exact manifest bytes and
//! digests (checked with skopeo), blob skip and cross-repo mount (checked with the transfer
//! stats), credentials, TLS with a private CA, plain HTTP for insecure registries, retries.

use std::io::Read;
use std::process::Command;
use std::sync::Arc;

use cnb_image::registry::{AuthSource, RegistryError, RegistryOptions, RegistryStore, RetryPolicy};
use cnb_image::{Blob, BlobData, BlobStore, Digest, ImageError, RawManifest};
use cnb_test_support::registry::{Failure, FlakyProxy, Registry};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub(crate) fn options_for(insecure: &[&str]) -> RegistryOptions {
    RegistryOptions {
        insecure_registries: insecure.iter().map(|s| s.to_string()).collect(),
        retry: RetryPolicy {
            attempts: 5,
            initial_backoff: std::time::Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..RegistryOptions::default()
    }
}

fn insecure_store(reg: &Registry) -> RegistryStore {
    RegistryStore::new(options_for(&[reg.host()])).unwrap()
}

fn bytes_blob(data: &[u8]) -> Blob {
    Blob {
        digest: Digest::of(data),
        size: data.len() as u64,
        data: BlobData::Bytes(Arc::from(data)),
    }
}

/// A tiny image: config blob, one layer written to a file, and a pretty-printed manifest (so a
/// re-serialising client would change its digest).
pub(crate) struct TinyImage {
    config: Vec<u8>,
    layer: Vec<u8>,
    layer_file: tempfile::NamedTempFile,
    pub(crate) manifest: RawManifest,
}

impl TinyImage {
    pub(crate) fn new(arch: &str, seed: &str) -> Self {
        let layer = format!("layer content for {arch} {seed}")
            .repeat(100)
            .into_bytes();
        let config = serde_json::to_vec(&json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [Digest::of(&layer).to_string()]},
            "config": {}
        }))
        .unwrap();
        let manifest = serde_json::to_vec_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::of(&config).to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::of(&layer).to_string(), "size": layer.len()}]
        }))
        .unwrap();
        let layer_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(layer_file.path(), &layer).unwrap();
        let manifest = RawManifest {
            digest: Digest::of(&manifest),
            bytes: manifest,
            media_type: OCI_MANIFEST.into(),
        };
        TinyImage {
            config,
            layer,
            layer_file,
            manifest,
        }
    }

    fn blobs(&self) -> Vec<Blob> {
        vec![
            bytes_blob(&self.config),
            Blob {
                digest: Digest::of(&self.layer),
                size: self.layer.len() as u64,
                data: BlobData::Path(self.layer_file.path().to_path_buf()),
            },
        ]
    }

    pub(crate) fn push(&self, store: &RegistryStore, name: &str) {
        store.put_blobs(name, &self.blobs()).unwrap();
        store.put_manifest(name, &self.manifest).unwrap();
    }
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn read_all(mut r: Box<dyn Read + Send>) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn push_and_pull_an_image_with_exact_bytes() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let name = reg.image("app:latest");
    let img = TinyImage::new("amd64", "one");
    img.push(&store, &name);

    let stats = store.stats();
    assert_eq!(stats.blobs_uploaded, 2);
    assert_eq!(
        stats.bytes_uploaded,
        (img.config.len() + img.layer.len()) as u64
    );
    assert_eq!(stats.manifests_pushed, 1);

    let got = store.manifest(&name).unwrap().unwrap();
    assert_eq!(got, img.manifest);
    // skopeo sees the very bytes we pushed
    let raw = skopeo_raw(&name);
    assert_eq!(Digest::of(&raw), img.manifest.digest);
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let layer_digest = Digest::of(&img.layer);
    assert!(store.has_blob(&name, &layer_digest).unwrap());
    assert!(!store.has_blob(&name, &Digest::of(b"nothing")).unwrap());
    assert_eq!(
        read_all(store.blob(&name, &layer_digest).unwrap()),
        img.layer
    );
    assert_eq!(
        read_all(store.blob(&name, &Digest::of(&img.config)).unwrap()),
        img.config
    );
    assert_eq!(
        store.identifier(&name, &img.manifest.digest).unwrap(),
        format!("{}/app@{}", reg.host(), img.manifest.digest)
    );
    let by_digest = store
        .manifest_by_digest(&name, &img.manifest.digest)
        .unwrap();
    assert_eq!(by_digest.bytes, img.manifest.bytes);

    // a second push sends no blob bytes (the registry's access log agrees)
    let blob_puts = reg.count_requests("PUT", "/blobs/uploads/");
    assert_eq!(blob_puts, 2, "{}", reg.log());
    img.push(&store, &reg.image("app:again"));
    assert_eq!(reg.count_requests("PUT", "/blobs/uploads/"), blob_puts);
    let after = store.stats();
    assert_eq!(
        after.bytes_uploaded, stats.bytes_uploaded,
        "no layer bytes uploaded twice"
    );
    assert_eq!(after.blobs_skipped, 2);
}

#[test]
fn push_and_pull_an_index() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let repo = reg.image("multi");
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let img = TinyImage::new(arch, "idx");
        // children are pushed by digest only
        img.push(&store, &format!("{repo}@{}", img.manifest.digest));
        entries.push(
            json!({"mediaType": OCI_MANIFEST, "digest": img.manifest.digest.to_string(),
            "size": img.manifest.bytes.len(), "platform": {"architecture": arch, "os": "linux"}}),
        );
    }
    let index = serde_json::to_vec_pretty(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}),
    )
    .unwrap();
    let index = RawManifest {
        digest: Digest::of(&index),
        bytes: index,
        media_type: OCI_INDEX.into(),
    };
    let name = format!("{repo}:v1");
    store.put_manifest(&name, &index).unwrap();

    let got = store.manifest(&name).unwrap().unwrap();
    assert_eq!(got, index);
    assert_eq!(Digest::of(&skopeo_raw(&name)), index.digest);
    let child: Digest = entries[1]["digest"].as_str().unwrap().parse().unwrap();
    let child_manifest = store.manifest_by_digest(&name, &child).unwrap();
    assert_eq!(child_manifest.digest, child);
    assert_eq!(child_manifest.media_type, OCI_MANIFEST);
}

#[test]
fn cross_repo_mount_sends_no_bytes() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let img = TinyImage::new("amd64", "mount");
    let source = reg.image("base:latest");
    img.push(&store, &source);
    let uploaded = store.stats().bytes_uploaded;

    let target = reg.image("derived:latest");
    let remote: Vec<Blob> = img
        .blobs()
        .into_iter()
        .map(|b| Blob {
            data: BlobData::Remote {
                from: source.clone(),
            },
            ..b
        })
        .collect();
    store.put_blobs(&target, &remote).unwrap();
    store.put_manifest(&target, &img.manifest).unwrap();
    let stats = store.stats();
    assert_eq!(stats.blobs_mounted, 2);
    assert_eq!(stats.bytes_uploaded, uploaded);
    assert!(store.has_blob(&target, &Digest::of(&img.layer)).unwrap());
    assert_eq!(
        read_all(store.blob(&target, &Digest::of(&img.layer)).unwrap()),
        img.layer
    );
}

#[test]
fn remote_blob_from_another_registry_is_copied() {
    let a = Registry::start();
    let b = Registry::start();
    let store = RegistryStore::new(options_for(&[a.host(), b.host()])).unwrap();
    let img = TinyImage::new("amd64", "copy");
    let source = a.image("src:latest");
    img.push(&store, &source);
    let remote: Vec<Blob> = img
        .blobs()
        .into_iter()
        .map(|b| Blob {
            data: BlobData::Remote {
                from: source.clone(),
            },
            ..b
        })
        .collect();
    let target = b.image("dst:latest");
    store.put_blobs(&target, &remote).unwrap();
    assert_eq!(store.stats().blobs_mounted, 0);
    assert_eq!(
        read_all(store.blob(&target, &Digest::of(&img.layer)).unwrap()),
        img.layer
    );
}

#[test]
fn missing_things() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    assert!(store.manifest(&reg.image("nope:latest")).unwrap().is_none());
    let img = TinyImage::new("amd64", "missing");
    img.push(&store, &reg.image("there:latest"));
    assert!(store.manifest(&reg.image("there:other")).unwrap().is_none());
    let err = store
        .manifest_by_digest(&reg.image("there"), &Digest::of(b"x"))
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
    let err = store
        .blob(&reg.image("there"), &Digest::of(b"x"))
        .err()
        .unwrap();
    assert!(matches!(err, ImageError::BlobNotFound { .. }), "{err}");
}

#[test]
fn streamed_upload_hashes_on_the_fly() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let name = reg.image("stream:latest");
    // larger than one 4 MiB chunk
    let data: Vec<u8> = (0..5 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    let (digest, size) = store
        .put_blob_stream(&name, &mut std::io::Cursor::new(&data))
        .unwrap();
    assert_eq!(digest, Digest::of(&data));
    assert_eq!(size, data.len() as u64);
    assert!(store.has_blob(&name, &digest).unwrap());
    assert_eq!(read_all(store.blob(&name, &digest).unwrap()), data);
}

#[test]
fn basic_auth_from_cnb_registry_auth_and_docker_config() {
    let reg = Registry::builder()
        .basic_auth("testuser", "testpass")
        .start();
    let name = reg.image("private:latest");
    let img = TinyImage::new("amd64", "auth");

    let anonymous = insecure_store(&reg);
    let err = anonymous.manifest(&name).unwrap_err().to_string();
    eprintln!("anonymous: {err}");
    assert!(
        err.contains("unauthorized") && err.contains(&name) && err.contains("pull manifest"),
        "{err}"
    );
    let err = anonymous
        .put_blobs(&name, &img.blobs())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unauthorized"), "{err}");
    assert!(!err.contains('\n'));

    let cnb = format!(r#"{{"{}": "{}"}}"#, reg.host(), reg.basic_header().unwrap());
    let options = RegistryOptions {
        auth: AuthSource::new(Some(&cnb), None).unwrap(),
        ..options_for(&[reg.host()])
    };
    let store = RegistryStore::new(options).unwrap();
    img.push(&store, &name);
    assert_eq!(
        store.manifest(&name).unwrap().unwrap().digest,
        img.manifest.digest
    );

    let dir = tempfile::tempdir().unwrap();
    let auth = reg
        .basic_header()
        .unwrap()
        .trim_start_matches("Basic ")
        .to_string();
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let options = RegistryOptions {
        auth: AuthSource::new(None, Some(dir.path().to_path_buf())).unwrap(),
        ..options_for(&[reg.host()])
    };
    let store = RegistryStore::new(options).unwrap();
    assert_eq!(
        store.manifest(&name).unwrap().unwrap().digest,
        img.manifest.digest
    );

    let bad = RegistryOptions {
        auth: AuthSource::new(
            Some(&format!(
                r#"{{"{}": "Basic dGVzdHVzZXI6d3Jvbmc="}}"#,
                reg.host()
            )),
            None,
        )
        .unwrap(),
        ..options_for(&[reg.host()])
    };
    let err = RegistryStore::new(bad)
        .unwrap()
        .manifest(&name)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unauthorized"), "{err}");
}

#[test]
fn tls_with_private_ca() {
    let reg = Registry::builder().tls().basic_auth("u", "p").start();
    let name = reg.image("secure:latest");
    let img = TinyImage::new("amd64", "tls");
    let cnb = format!(r#"{{"{}": "{}"}}"#, reg.host(), reg.basic_header().unwrap());
    let options = RegistryOptions {
        ca_certificates: vec![reg.ca_cert().unwrap().to_path_buf()],
        auth: AuthSource::new(Some(&cnb), None).unwrap(),
        ..options_for(&[])
    };
    let store = RegistryStore::new(options).unwrap();
    img.push(&store, &name);
    assert_eq!(store.manifest(&name).unwrap().unwrap(), img.manifest);

    let started = std::time::Instant::now();
    let untrusted = RegistryStore::new(options_for(&[])).unwrap();
    let err = untrusted.manifest(&name).unwrap_err();
    let text = err.to_string();
    eprintln!("untrusted: {text}");
    assert!(
        matches!(err, ImageError::Registry(RegistryError::Failed { .. })),
        "{text}"
    );
    assert!(
        text.contains("certificate") && text.contains(&name),
        "{text}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "a trust failure is not retried"
    );
}

/// An insecure registry is tried over HTTPS without verifying its certificate first, then
/// over plain HTTP: both kinds work when marked insecure.
#[test]
fn insecure_registries_try_unverified_https_then_http() {
    let tls = Registry::builder().tls().start();
    let plain = Registry::start();
    let img = TinyImage::new("amd64", "insecure-both");
    // no CA given: the TLS registry's certificate cannot be verified
    let store = RegistryStore::new(options_for(&[tls.host(), plain.host()])).unwrap();
    for reg in [&tls, &plain] {
        let name = reg.image("either/app:latest");
        img.push(&store, &name);
        assert_eq!(
            store.manifest(&name).unwrap().unwrap().digest,
            img.manifest.digest,
            "{name}"
        );
        assert_eq!(skopeo_raw(&name), img.manifest.bytes, "{name}");
    }
    // (the TLS registry serves only HTTPS, so its push above went over unverified HTTPS)
}

#[test]
fn plain_http_only_for_insecure_prefixes() {
    let reg = Registry::start();
    let name = reg.image("team/app:latest");
    let img = TinyImage::new("amd64", "insecure");
    // a prefix longer than the registry still selects plain http for refs under it
    let store = RegistryStore::new(options_for(&[&format!("{}/team", reg.host())])).unwrap();
    img.push(&store, &name);
    assert!(store.manifest(&name).unwrap().is_some());

    // Not named insecure, a loopback registry is still reached (HTTPS first, then HTTP), as
    // docker and upstream do for local registries.
    let strict = RegistryStore::new(RegistryOptions {
        retry: RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
        ..RegistryOptions::default()
    })
    .unwrap();
    assert!(strict.manifest(&name).unwrap().is_some());
}

#[test]
fn a_local_registry_with_an_untrusted_certificate_is_refused_unless_insecure() {
    let tls = Registry::builder().tls().start();
    let name = tls.image("team/app:latest");
    let img = TinyImage::new("amd64", "untrusted");
    img.push(
        &RegistryStore::new(options_for(&[tls.host()])).unwrap(),
        &name,
    );
    let strict = RegistryStore::new(RegistryOptions {
        retry: RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
        ..RegistryOptions::default()
    })
    .unwrap();
    let err = strict.manifest(&name).unwrap_err().to_string();
    assert!(err.contains(&name) && err.contains("certificate"), "{err}");
}

#[test]
fn transient_failures_are_retried() {
    let reg = Registry::start();
    let img = TinyImage::new("amd64", "flaky");
    for failure in [Failure::ServiceUnavailable, Failure::Drop] {
        let proxy = FlakyProxy::start(reg.host(), 2, failure);
        let store = RegistryStore::new(options_for(&[proxy.host()])).unwrap();
        let name = format!("{}/flaky:latest", proxy.host());
        img.push(&store, &name);
        assert_eq!(proxy.failures(), 2, "{failure:?}");
        assert_eq!(
            store.manifest(&name).unwrap().unwrap().digest,
            img.manifest.digest
        );
    }

    // a registry that never answers properly gives up with the attempt count in the message
    let proxy = FlakyProxy::start(reg.host(), 100, Failure::ServiceUnavailable);
    let store = RegistryStore::new(options_for(&[proxy.host()])).unwrap();
    let err = store
        .manifest(&format!("{}/flaky:latest", proxy.host()))
        .unwrap_err()
        .to_string();
    eprintln!("gave up: {err}");
    assert!(
        err.contains("5 attempts") && err.contains("pull manifest"),
        "{err}"
    );
}

#[test]
fn bad_cnb_registry_auth_is_named() {
    let err = AuthSource::new(Some("not json"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("CNB_REGISTRY_AUTH"), "{err}");
}

#[test]
fn large_file_blob_and_empty_stream() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let name = reg.image("big:latest");
    let data: Vec<u8> = (0..6 * 1024 * 1024 + 3).map(|i| (i % 253) as u8).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &data).unwrap();
    let blob = Blob {
        digest: Digest::of(&data),
        size: data.len() as u64,
        data: BlobData::Path(file.path().to_path_buf()),
    };
    store.put_blobs(&name, &[blob]).unwrap();
    assert_eq!(store.stats().bytes_uploaded, data.len() as u64);
    assert_eq!(
        read_all(store.blob(&name, &Digest::of(&data)).unwrap()),
        data
    );

    let (digest, size) = store.put_blob_stream(&name, &mut std::io::empty()).unwrap();
    assert_eq!((digest.clone(), size), (Digest::of(&[]), 0));
    assert!(store.has_blob(&name, &digest).unwrap());
    // an empty in-memory blob (empty layers exist) goes through put_blobs as well
    let other = reg.image("empty:latest");
    store.put_blobs(&other, &[bytes_blob(b"")]).unwrap();
    assert!(store.has_blob(&other, &Digest::of(&[])).unwrap());
    assert!(read_all(store.blob(&other, &Digest::of(&[])).unwrap()).is_empty());
}

#[test]
fn corrupted_blob_is_detected_at_eof() {
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let name = reg.image("corrupt:latest");
    let img = TinyImage::new("amd64", "corrupt");
    img.push(&store, &name);
    let digest = Digest::of(&img.layer);
    let hex = digest.hex();
    let data = reg
        .storage_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    let mut out = Vec::new();
    let err = store
        .blob(&name, &digest)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("digest") && text.contains("corrupt"),
        "{text}"
    );
}

#[test]
fn identifiers_are_normalised() {
    let store = RegistryStore::new(RegistryOptions::default()).unwrap();
    let d = Digest::of(b"m");
    assert_eq!(
        store.identifier("busybox", &d).unwrap(),
        format!("index.docker.io/library/busybox@{d}")
    );
    assert_eq!(
        store.identifier("127.0.0.1:5000/a/b:tag", &d).unwrap(),
        format!("127.0.0.1:5000/a/b@{d}")
    );
}

#[test]
fn a_registry_index_resolves_like_a_layout_one() {
    use cnb_image::{Opened, Target, TargetRequest, TargetSource, open};
    use cnb_test_support::fixtures::{four_platforms, save_run_index};
    let reg = Registry::start();
    let store = insecure_store(&reg);
    let name = reg.image("cnb/run:multi");
    let (index, children) = save_run_index(&store, &name, &four_platforms(), "r");
    for (arch, variant, child) in [
        ("amd64", None, 0),
        ("arm64", None, 1),
        ("arm", Some("v7"), 2),
        ("arm", Some("v6"), 3),
    ] {
        let req = TargetRequest::new(Target::new("linux", arch, variant), TargetSource::Flags);
        let img = open(&store, &name, &req).unwrap().required(&name).unwrap();
        assert_eq!(img.digest(), &children[child].digest, "{arch} {variant:?}");
        assert_eq!(img.index_digest.as_ref(), Some(&index.digest));
        assert_eq!(
            img.identifier,
            format!("{}/cnb/run@{}", reg.host(), children[child].digest)
        );
    }
    let req = TargetRequest::new(Target::new("linux", "s390x", None), TargetSource::Flags);
    let err = open(&store, &name, &req).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "no image for linux/s390x in index '{name}' (available: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6)"
        )
    );
    // skopeo agrees on the arm/v6 child.
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--config",
            "--override-arch",
            "arm",
            "--override-variant",
            "v6",
            &format!("docker://{name}"),
        ])
        .output()
        .unwrap();
    let config: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(config["variant"], "v6");
    let single = reg.image("cnb/app:arm64");
    cnb_test_support::fixtures::save_run_image(
        &store,
        &single,
        &Target::new("linux", "arm64", None),
        "a",
    );
    let req = TargetRequest::new(Target::new("linux", "amd64", None), TargetSource::Flags);
    assert!(matches!(
        open(&store, &single, &req).unwrap(),
        Opened::PlatformMismatch { .. }
    ));
}
