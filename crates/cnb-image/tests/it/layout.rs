//! The OCI layout backend: round trips, atomic writes, reproducibility, rebase, and independent
//! readers (umoci, skopeo) agreeing with what we wrote.

use std::process::Command;

use cnb_image::{BlobStore, ImageBuilder, LayoutStore, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{image, run_image, save_run_index};

fn amd64() -> TargetRequest {
    TargetRequest::new(Target::new("linux", "amd64", None), TargetSource::Flags)
}

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn save_and_open_round_trip_with_platform_md_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let mut b = run_image(&Target::new("linux", "amd64", None), "m");
    b.set_label("k", "v");
    b.set_entrypoint(vec!["/cnb/lifecycle/launcher".into()]);
    b.set_working_dir("/workspace");
    let saved = b
        .save(
            &store,
            &[
                "registry.test/app:latest".into(),
                "registry.test/app:v1".into(),
            ],
        )
        .unwrap();
    let layout_dir = dir.path().join("registry.test/app/latest");
    assert!(layout_dir.join("oci-layout").is_file());
    assert!(dir.path().join("registry.test/app/v1/index.json").is_file());
    assert_eq!(
        saved.identifier,
        format!("{}@{}", layout_dir.display(), saved.digest)
    );

    let img = open(&store, "registry.test/app:v1", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    assert_eq!(img.digest(), &saved.digest);
    assert_eq!(img.id(), &saved.image_id);
    assert_eq!(img.label("k"), Some("v"));
    assert_eq!(
        img.config.config.entrypoint.as_deref(),
        Some(&["/cnb/lifecycle/launcher".to_string()][..])
    );
    assert_eq!(img.env("PATH"), Some("/usr/local/bin:/usr/bin:/bin"));
    assert_eq!(img.layers().len(), 1);
    assert_eq!(img.config.created.as_deref(), Some("1980-01-01T00:00:01Z"));
    // The identifier opens the same image.
    let again = open(&store, &saved.identifier, &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    assert_eq!(again.digest(), &saved.digest);
}

#[test]
fn same_inputs_give_the_same_digest() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let t = Target::new("linux", "arm64", None);
    let s1 = run_image(&t, "same")
        .save(&LayoutStore::new(a.path()), &["r.test/x:1".into()])
        .unwrap();
    let s2 = run_image(&t, "same")
        .save(&LayoutStore::new(b.path()), &["r.test/x:1".into()])
        .unwrap();
    assert_eq!(s1.digest, s2.digest);
    let s3 = run_image(&t, "different")
        .save(&LayoutStore::new(b.path()), &["r.test/x:1".into()])
        .unwrap();
    assert_ne!(s1.digest, s3.digest);
}

#[test]
fn index_json_is_replaced_last_and_no_temp_files_remain() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let t = Target::new("linux", "amd64", None);
    let first = run_image(&t, "one")
        .save(&store, &["r.test/app:1".into()])
        .unwrap();
    let layout = dir.path().join("r.test/app/1");
    let before = std::fs::read(layout.join("index.json")).unwrap();
    // A save whose blob cannot be read fails before the manifest, leaving index.json as it was.
    let mut broken = run_image(&t, "two");
    broken.add_layer(
        cnb_test_support::fixtures::some_digest("diff"),
        cnb_image::Blob {
            digest: cnb_test_support::fixtures::some_digest("blob"),
            size: 3,
            data: cnb_image::BlobData::Path(dir.path().join("missing.tar.gz")),
        },
        cnb_image::oci::OCI_LAYER_GZIP,
        None,
    );
    let err = broken.save(&store, &["r.test/app:1".into()]).unwrap_err();
    assert!(err.to_string().contains("missing.tar.gz"), "{err}");
    assert_eq!(std::fs::read(layout.join("index.json")).unwrap(), before);
    let img = open(&store, "r.test/app:1", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    assert_eq!(img.digest(), &first.digest);
    let leftovers: Vec<_> = walk(&layout)
        .into_iter()
        .filter(|p| p.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Everything is readable by other users (the build user reads layouts a root phase wrote).
    use std::os::unix::fs::PermissionsExt;
    for f in walk(&layout) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044, "{f} is {mode:o}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn corrupted_blobs_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let saved = run_image(&Target::new("linux", "amd64", None), "m")
        .save(&store, &["r.test/c:1".into()])
        .unwrap();
    let img = open(&store, "r.test/c:1", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    let layer = &img.layers()[0];
    let path = dir
        .path()
        .join("r.test/c/1/blobs/sha256")
        .join(layer.digest.hex());
    std::fs::write(&path, b"tampered").unwrap();
    let mut out = Vec::new();
    let err = std::io::copy(
        &mut store.blob("r.test/c:1", &layer.digest).unwrap(),
        &mut out,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
    let manifest = dir
        .path()
        .join("r.test/c/1/blobs/sha256")
        .join(saved.digest.hex());
    std::fs::write(&manifest, b"{}").unwrap();
    let err = open(&store, "r.test/c:1", &amd64())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match its digest"), "{err}");
}

#[test]
fn rebase_keeps_app_layers_and_takes_the_new_platform_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let t = Target::new("linux", "amd64", None);
    run_image(&t, "old")
        .save(&store, &["r.test/run:old".into()])
        .unwrap();
    run_image(&t, "new")
        .save(&store, &["r.test/run:new".into()])
        .unwrap();
    let old = open(&store, "r.test/run:old", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    let new = open(&store, "r.test/run:new", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    let app_layer = image(&t, &[("/workspace/app.txt", "app")], &[]);
    let (app_manifest, _) = app_layer.manifest().unwrap();
    app_layer
        .save(&store, &["r.test/applayer:1".into()])
        .unwrap();
    let app_img = open(&store, "r.test/applayer:1", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    let app_diff = app_img.layers()[0].diff_id.clone();
    let mut app = ImageBuilder::from_base(&old);
    app.reuse_layer(&app_img, &app_diff, None).unwrap();
    app.save(&store, &["r.test/app:1".into()]).unwrap();
    let built = open(&store, "r.test/app:1", &amd64())
        .unwrap()
        .required("x")
        .unwrap();

    let mut rebased = ImageBuilder::from_base(&built);
    rebased.rebase(old.top_layer().unwrap(), &new).unwrap();
    rebased.save(&store, &["r.test/app:1".into()]).unwrap();
    let after = open(&store, "r.test/app:1", &amd64())
        .unwrap()
        .required("x")
        .unwrap();
    let layers = after.layers();
    assert_eq!(layers[0].digest, new.layers()[0].digest);
    assert_eq!(
        layers[1].digest,
        built.layers()[1].digest,
        "the app layer is kept by digest"
    );
    assert_eq!(layers.len(), 2);
    assert!(!app_manifest.bytes.is_empty());
    let err = ImageBuilder::from_base(&built)
        .rebase(&cnb_test_support::fixtures::some_digest("nope"), &new)
        .unwrap_err();
    assert!(err.to_string().contains("no layer with diffID"), "{err}");
}

#[test]
fn umoci_and_skopeo_read_what_we_write() {
    assert!(
        tool("umoci") && tool("skopeo"),
        "umoci and skopeo must be installed (.ci/setup)"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let saved = run_image(&Target::new("linux", "arm64", None), "m")
        .save(&store, &["r.test/app:v1".into()])
        .unwrap();
    let layout = dir.path().join("r.test/app/v1");
    let out = Command::new("skopeo")
        .args(["inspect", &format!("oci:{}:v1", layout.display())])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\"Architecture\": \"arm64\""), "{text}");
    assert!(text.contains(&saved.digest.to_string()), "{text}");
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", &format!("oci:{}:v1", layout.display())])
        .output()
        .unwrap();
    assert_eq!(
        cnb_image::Digest::of(&out.stdout),
        saved.digest,
        "skopeo reads our exact manifest bytes"
    );

    let bundle = dir.path().join("rootfs");
    let out = Command::new("umoci")
        .args([
            "raw",
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:v1", layout.display()),
            bundle.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("arch")).unwrap(),
        "linux/arm64/v8"
    );

    // A multi-arch layout: skopeo picks the child we would.
    save_run_index(
        &store,
        "r.test/run:multi",
        &cnb_test_support::fixtures::four_platforms(),
        "m",
    );
    let run = dir.path().join("r.test/run/multi");
    for variant in ["v6", "v7"] {
        let out = Command::new("skopeo")
            .args([
                "inspect",
                "--config",
                "--override-arch",
                "arm",
                "--override-variant",
                variant,
                &format!("oci:{}:multi", run.display()),
            ])
            .output()
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(config["architecture"], "arm");
        assert_eq!(config["variant"], variant);
    }
}

/// imgutil's multi-platform layout: index.json lists each platform's manifest directly (with a
/// `platform`), no nested index. It must resolve like any index, by the build's target.
#[test]
fn index_json_listing_platform_manifests_is_an_index() {
    use cnb_test_support::fixtures::run_image;
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let name = "flat.test/run:multi";
    let targets = [
        Target::new("linux", "amd64", None),
        Target::new("linux", "arm64", None),
    ];
    let mut entries = Vec::new();
    let mut digests = Vec::new();
    for t in &targets {
        let s = run_image(t, "flat").save_untagged(&store, name).unwrap();
        let (arch, variant) = (t.arch.clone(), t.variant.clone());
        let mut entry = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": s.digest.to_string(),
            "size": s.manifest_size,
            "platform": {"os": "linux", "architecture": arch},
        });
        if let Some(v) = variant {
            entry["platform"]["variant"] = v.into();
        }
        entries.push(entry);
        digests.push(s.digest);
    }
    let layout = dir.path().join("flat.test/run/multi");
    let index = serde_json::json!({"schemaVersion": 2, "manifests": entries});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();

    for (t, digest) in targets.iter().zip(&digests) {
        let req = TargetRequest::new(t.clone(), TargetSource::Flags);
        let img = open(&store, name, &req).unwrap().required("x").unwrap();
        assert_eq!(img.digest(), digest, "{t}");
        assert_eq!(img.target(), *t);
        // the index it came from opens again by digest: the layout dir at index.json's digest
        let index_digest = img.index_digest.clone().unwrap();
        let again = format!("{}@{index_digest}", layout.display());
        let img = open(&store, &again, &req).unwrap().required("x").unwrap();
        assert_eq!(img.digest(), digest, "{t} via {again}");
    }

    let req = TargetRequest::new(Target::new("linux", "arm", Some("v7")), TargetSource::Flags);
    let err = open(&store, name, &req).unwrap_err().to_string();
    assert!(
        err.contains("linux/arm/v7")
            && err.contains("linux/amd64")
            && err.contains("linux/arm64/v8")
            && err.contains(name),
        "{err}"
    );
}

#[test]
fn blob_file_names_a_layer_file_another_store_can_take() {
    let dir = tempfile::tempdir().unwrap();
    let from = LayoutStore::new(dir.path().join("a"));
    let saved = run_image(&Target::new("linux", "amd64", None), "m")
        .save(&from, &["registry.test/run:1".into()])
        .unwrap();
    let run = open(&from, "registry.test/run:1", &amd64())
        .unwrap()
        .required("run")
        .unwrap();
    let layer = &run.layers()[0];
    let file = from
        .blob_file(&saved.identifier, &layer.digest)
        .unwrap()
        .expect("the layer's blob is in the layout");
    assert!(
        from.blob_file("registry.test/run:1", &cnb_image::Digest::of(b"none"))
            .unwrap()
            .is_none()
    );
    // Added to an image saved in another store, by path: same blob there.
    let to = LayoutStore::new(dir.path().join("b"));
    let mut b = ImageBuilder::scratch(&Target::new("linux", "amd64", None));
    b.add_layer(
        layer.diff_id.clone(),
        cnb_image::Blob {
            digest: layer.digest.clone(),
            size: layer.size,
            data: cnb_image::BlobData::Path(file),
        },
        &layer.media_type,
        None,
    );
    b.save(&to, &["registry.test/app:1".into()]).unwrap();
    assert!(to.has_blob("registry.test/app:1", &layer.digest).unwrap());
}
