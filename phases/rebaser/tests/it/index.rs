//! Rebasing an app image that is an index: every child onto the new run image's child for its
//! own platform, in a registry and in an OCI layout.

use std::path::Path;
use std::process::Command;

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::oci::Index;
use cnb_image::{BlobStore, Digest, Image, LayoutStore, RawManifest, save_index};
use cnb_test_support::fixtures::save_run_index;
use cnb_test_support::registry::Registry;
use cnb_test_support::tools::umoci_unpack;

use crate::rebase::{app_image, get, rebaser, t};

const ARCHS: [&str; 2] = ["amd64", "arm64"];

/// An app index as a multi-arch build leaves it: one app image per platform on `run`'s child for
/// that platform, then the index over them. Returns the children as stored.
fn save_app_index(store: &dyn BlobStore, run: &str, app: &str) -> Vec<Image> {
    save_app_index_with(store, run, app, None)
}

/// As `save_app_index`, with the `frozen` platform's child labelled not rebasable.
fn save_app_index_with(
    store: &dyn BlobStore,
    run: &str,
    app: &str,
    frozen: Option<&str>,
) -> Vec<Image> {
    let mut listed = Vec::new();
    for arch in ARCHS {
        let labels: &[(&str, &str)] = if frozen == Some(arch) {
            &[("io.buildpacks.rebasable", "false")]
        } else {
            &[]
        };
        let saved = app_image(store, run, arch, &format!("{app}-{arch}-layer"), labels)
            .save_untagged(store, app)
            .unwrap();
        listed.push((saved.manifest, t(arch)));
    }
    save_index(store, app, &listed).unwrap();
    ARCHS.iter().map(|a| get(store, app, a)).collect()
}

fn index_raw(store: &dyn BlobStore, name: &str) -> RawManifest {
    let raw = store.manifest(name).unwrap().unwrap();
    assert!(
        cnb_image::oci::is_index(&raw.media_type),
        "{name} is an index"
    );
    raw
}

fn platforms(raw: &RawManifest) -> Vec<String> {
    let index: Index = serde_json::from_slice(&raw.bytes).unwrap();
    index
        .manifests
        .iter()
        .map(|d| d.platform.as_ref().unwrap().target().to_string())
        .collect()
}

/// Every child: the new run image's layers below, the app layer as it was, the metadata naming
/// the new base, and the report's entry for it.
fn assert_rebased(
    store: &dyn BlobStore,
    app: &str,
    new_run: &str,
    before: &[Image],
    report: &Report,
) {
    for (arch, before) in ARCHS.iter().zip(before) {
        let after = get(store, app, arch);
        let base = get(store, new_run, arch);
        assert_eq!(after.target(), t(arch));
        assert_eq!(after.layers().len(), 2, "{arch}");
        assert_eq!(
            after.layers()[0].digest,
            base.layers()[0].digest,
            "{arch}: the new base"
        );
        assert_ne!(
            after.layers()[0].digest,
            before.layers()[0].digest,
            "{arch}"
        );
        assert_eq!(
            after.layers()[1].digest,
            before.layers()[1].digest,
            "{arch}: the app layer is kept by digest"
        );
        let md =
            LayersMetadata::from_label(after.label("io.buildpacks.lifecycle.metadata").unwrap())
                .unwrap();
        assert_eq!(
            md.run_image.top_layer,
            base.top_layer().unwrap().to_string()
        );
        assert_eq!(md.run_image.reference, base.identifier);
        let child = report
            .image
            .children
            .iter()
            .find(|c| c.platform == t(arch).to_string())
            .unwrap_or_else(|| panic!("{arch} in {:?}", report.image.children));
        assert_eq!(child.digest, after.digest().to_string());
        assert_eq!(child.manifest_size, after.raw.bytes.len() as u64);
        assert!(child.rebased);
    }
}

fn read_report(path: &Path) -> Report {
    cnb_formats::read_toml(path).unwrap()
}

#[test]
fn a_registry_index_is_rebased_child_by_child_moving_no_layer_bytes() {
    let reg = Registry::start();
    let store = reg.store();
    let (v1, v2) = (reg.image("cnb/run:v1"), reg.image("cnb/run:v2"));
    save_run_index(&store, &v1, &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, &v2, &[t("amd64"), t("arm64")], "v2");
    let app = reg.image("cnb/app:multi");
    // A second <image> in another repository: its blobs are mounted, not sent again.
    let also = reg.image("cnb/copy:multi");
    let before = save_app_index(&store, &v1, &app);
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.toml");

    let uploads = reg.count_requests("PUT", "/blobs/uploads/");
    let out = rebaser(
        &["-run-image", &v2, &app, &also],
        &[("CNB_INSECURE_REGISTRIES", reg.host())],
        &report_path,
    );
    out.assert_ok();
    assert_eq!(
        reg.count_requests("PUT", "/blobs/uploads/") - uploads,
        2,
        "only the two new configs are uploaded, no layer"
    );

    let raw = index_raw(&store, &app);
    assert_eq!(platforms(&raw), ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(
        index_raw(&store, &also).digest,
        raw.digest,
        "every name gets the same index"
    );
    let report = read_report(&report_path);
    assert_eq!(report.image.tags, [app.clone(), also.clone()]);
    assert_eq!(report.image.digest, raw.digest.to_string());
    assert_eq!(report.image.manifest_size, raw.bytes.len() as u64);
    assert_eq!(report.image.children.len(), 2);
    assert_rebased(&store, &app, &v2, &before, &report);
    for arch in ARCHS {
        assert_eq!(
            get(&store, &also, arch).digest(),
            get(&store, &app, arch).digest()
        );
    }
    let sk = cnb_test_support::tools::skopeo_raw(&app);
    assert_eq!(
        Digest::of(sk.as_bytes()),
        raw.digest,
        "skopeo reads the index we report"
    );
}

#[test]
fn a_run_image_without_a_childs_platform_is_refused_and_forced() {
    let reg = Registry::start();
    let store = reg.store();
    let v1 = reg.image("cnb/run:v1");
    let amd64_only = reg.image("cnb/run:amd64-only");
    save_run_index(&store, &v1, &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, &amd64_only, &[t("amd64")], "v2");
    let app = reg.image("cnb/app:multi");
    let before = save_app_index(&store, &v1, &app);
    let digest_before = index_raw(&store, &app).digest;
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.toml");
    let env = [("CNB_INSECURE_REGISTRIES", reg.host())];

    let puts = reg.count_requests("PUT", "/v2/");
    let out = rebaser(&["-run-image", &amd64_only, &app], &env, &report_path);
    out.assert_exit(72);
    assert!(
        out.text().contains(&format!(
            "no image for linux/arm64/v8 in new run image '{amd64_only}' (available: linux/amd64)"
        )),
        "{}",
        out.text()
    );
    out.assert_output_has("please provide -force");
    assert_eq!(
        index_raw(&store, &app).digest,
        digest_before,
        "the tag is unchanged"
    );
    assert_eq!(
        reg.count_requests("PUT", "/v2/"),
        puts,
        "nothing is written"
    );
    assert!(!report_path.exists());

    // -force: the arm64 child keeps its old base, copied into the new index as it was.
    let out = rebaser(
        &["-run-image", &amd64_only, "-force", &app],
        &env,
        &report_path,
    );
    out.assert_ok();
    out.assert_output_has("keeping the linux/arm64/v8 child");
    let raw = index_raw(&store, &app);
    assert_ne!(raw.digest, digest_before);
    assert_eq!(platforms(&raw), ["linux/amd64", "linux/arm64/v8"]);
    let report = read_report(&report_path);
    assert_eq!(report.image.digest, raw.digest.to_string());
    let arm = get(&store, &app, "arm64");
    assert_eq!(
        arm.digest(),
        before[1].digest(),
        "the arm64 child is unchanged"
    );
    let arm_report = report
        .image
        .children
        .iter()
        .find(|c| c.platform == "linux/arm64/v8")
        .unwrap();
    assert!(!arm_report.rebased, "{:?}", report.image.children);
    assert_eq!(arm_report.digest, before[1].digest().to_string());
    let amd = get(&store, &app, "amd64");
    assert_eq!(
        amd.layers()[0].digest,
        get(&store, &amd64_only, "amd64").layers()[0].digest
    );
    assert_eq!(amd.layers()[1].digest, before[0].layers()[1].digest);
    assert!(
        report
            .image
            .children
            .iter()
            .any(|c| c.platform == "linux/amd64"
                && c.rebased
                && c.digest == amd.digest().to_string())
    );
}

#[test]
fn a_layout_index_is_rebased_and_read_back_by_skopeo_and_umoci() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let store = LayoutStore::new(&root);
    save_run_index(&store, "r.test/run:v1", &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, "r.test/run:v2", &[t("amd64"), t("arm64")], "v2");
    let before = save_app_index(&store, "r.test/run:v1", "r.test/app:multi");
    let report_path = dir.path().join("report.toml");
    let out = rebaser(
        &[
            "-layout",
            "-layout-dir",
            root.to_str().unwrap(),
            "-run-image",
            "r.test/run:v2",
            "r.test/app:multi",
            "r.test/app:copy",
        ],
        &[],
        &report_path,
    );
    out.assert_ok();
    let raw = index_raw(&store, "r.test/app:multi");
    assert_eq!(platforms(&raw), ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(index_raw(&store, "r.test/app:copy").digest, raw.digest);
    let report = read_report(&report_path);
    assert_eq!(report.image.digest, raw.digest.to_string());
    assert_rebased(
        &store,
        "r.test/app:multi",
        "r.test/run:v2",
        &before,
        &report,
    );
    assert_rebased(&store, "r.test/app:copy", "r.test/run:v2", &before, &report);

    // skopeo reads the index we report from the layout.
    let layout = root.join("r.test/app/multi");
    let sk = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            &format!("oci:{}:multi", layout.display()),
        ])
        .output()
        .unwrap();
    assert!(
        sk.status.success(),
        "{}",
        String::from_utf8_lossy(&sk.stderr)
    );
    assert_eq!(Digest::of(&sk.stdout), raw.digest);

    // umoci reads one tag at a time: give each child a tag in a copy of the layout, then stat it
    // and unpack it (the new base's marker and the app's file).
    let copy = dir.path().join("copy");
    let status = Command::new("cp")
        .args(["-a", layout.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let index: Index = serde_json::from_slice(&raw.bytes).unwrap();
    let mut tagged = serde_json::json!({"schemaVersion": 2, "manifests": []});
    for (arch, d) in ARCHS.iter().zip(&index.manifests) {
        tagged["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "mediaType": d.media_type,
                "digest": d.digest.to_string(),
                "size": d.size,
                "annotations": {"org.opencontainers.image.ref.name": arch},
            }));
    }
    std::fs::write(copy.join("index.json"), tagged.to_string()).unwrap();
    for arch in ARCHS {
        let image = format!("{}:{arch}", copy.display());
        let stat = Command::new("umoci")
            .args(["stat", "--json", "--image", &image])
            .output()
            .unwrap();
        assert!(
            stat.status.success(),
            "{arch}: {}",
            String::from_utf8_lossy(&stat.stderr)
        );
        let bundle = dir.path().join(format!("bundle-{arch}"));
        umoci_unpack(&image, &bundle);
        assert_eq!(
            std::fs::read_to_string(bundle.join("marker")).unwrap(),
            "v2"
        );
        assert_eq!(
            std::fs::read_to_string(bundle.join("arch")).unwrap(),
            t(arch).to_string()
        );
        assert_eq!(
            std::fs::read_to_string(bundle.join("workspace/app.txt")).unwrap(),
            format!("app for {arch}")
        );
    }
}

#[test]
fn a_check_failing_on_one_child_refuses_the_whole_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let store = LayoutStore::new(&root);
    save_run_index(&store, "r.test/run:v1", &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, "r.test/run:v2", &[t("amd64"), t("arm64")], "v2");
    save_app_index_with(&store, "r.test/run:v1", "r.test/app:multi", Some("arm64"));
    let digest_before = index_raw(&store, "r.test/app:multi").digest;
    let args = |force: bool| {
        let mut a = vec![
            "-layout",
            "-layout-dir",
            root.to_str().unwrap(),
            "-run-image",
            "r.test/run:v2",
        ];
        if force {
            a.push("-force");
        }
        a.push("r.test/app:multi");
        a
    };
    let report_path = dir.path().join("report.toml");
    let out = rebaser(&args(false), &[], &report_path);
    out.assert_exit(72);
    out.assert_output_has("app image is not rebasable");
    assert_eq!(index_raw(&store, "r.test/app:multi").digest, digest_before);

    // -force overrides a check (unlike a missing platform, the child is still rebased).
    let out = rebaser(&args(true), &[], &report_path);
    out.assert_ok();
    out.assert_output_has("rebasing anyway (-force)");
    let report = read_report(&report_path);
    assert!(
        report.image.children.iter().all(|c| c.rebased),
        "{:?}",
        report.image.children
    );
    assert_eq!(
        get(&store, "r.test/app:multi", "arm64").layers()[0].digest,
        get(&store, "r.test/run:v2", "arm64").layers()[0].digest
    );
}

#[test]
fn a_one_child_index_takes_a_single_run_image_and_a_previous_index_is_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let store = LayoutStore::new(&root);
    save_run_index(&store, "r.test/run:v1", &[t("amd64"), t("arm64")], "v1");
    let layout = |args: &[&str]| {
        let mut a = vec!["-layout", "-layout-dir", root.to_str().unwrap()];
        a.extend_from_slice(args);
        rebaser(&a, &[], &dir.path().join("report.toml"))
    };

    // One child (arm64), a single-image run image of that platform.
    let arm = app_image(
        &store,
        "r.test/run:v1",
        "arm64",
        "r.test/app:one-layer",
        &[],
    )
    .save_untagged(&store, "r.test/app:one")
    .unwrap();
    save_index(&store, "r.test/app:one", &[(arm.manifest, t("arm64"))]).unwrap();
    cnb_test_support::fixtures::save_run_image(&store, "r.test/run:arm64", &t("arm64"), "v2");
    let out = layout(&["-run-image", "r.test/run:arm64", "r.test/app:one"]);
    out.assert_ok();
    let raw = index_raw(&store, "r.test/app:one");
    assert_eq!(platforms(&raw), ["linux/arm64/v8"]);
    assert_eq!(
        get(&store, "r.test/app:one", "arm64").layers()[0].digest,
        get(&store, "r.test/run:arm64", "arm64").layers()[0].digest
    );
    // A single image of another platform is no run image for that child.
    cnb_test_support::fixtures::save_run_image(&store, "r.test/run:amd64", &t("amd64"), "v2");
    let out = layout(&["-run-image", "r.test/run:amd64", "r.test/app:one"]);
    out.assert_exit(72);
    out.assert_output_has(
        "no image for linux/arm64/v8 in new run image 'r.test/run:amd64' (available: linux/amd64)",
    );

    // -previous-image: the index is read from one tag and written under another, which is a
    // layout of its own; a kept child is linked across.
    let before = save_app_index(&store, "r.test/run:v1", "r.test/app:old");
    let old_digest = index_raw(&store, "r.test/app:old").digest;
    let out = layout(&[
        "-run-image",
        "r.test/run:amd64",
        "-force",
        "-previous-image",
        "r.test/app:old",
        "r.test/app:new",
    ]);
    out.assert_ok();
    assert_eq!(index_raw(&store, "r.test/app:old").digest, old_digest);
    let new = index_raw(&store, "r.test/app:new");
    assert_eq!(platforms(&new), ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(
        get(&store, "r.test/app:new", "arm64").digest(),
        before[1].digest()
    );
    let amd = get(&store, "r.test/app:new", "amd64");
    assert_eq!(
        amd.layers()[0].digest,
        get(&store, "r.test/run:amd64", "amd64").layers()[0].digest
    );
    assert_eq!(amd.layers()[1].digest, before[0].layers()[1].digest);
}

#[test]
fn a_docker_manifest_list_is_rebased_into_an_oci_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let store = LayoutStore::new(&root);
    save_run_index(&store, "r.test/run:v1", &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, "r.test/run:v2", &[t("amd64"), t("arm64")], "v2");
    let before = save_app_index(&store, "r.test/run:v1", "r.test/app:list");
    // The same children behind a Docker manifest list, as `docker manifest push` would list them.
    let mut list: serde_json::Value =
        serde_json::from_slice(&index_raw(&store, "r.test/app:list").bytes).unwrap();
    list["mediaType"] = cnb_image::oci::DOCKER_MANIFEST_LIST.into();
    let bytes = serde_json::to_vec(&list).unwrap();
    store
        .put_manifest(
            "r.test/app:list",
            &RawManifest {
                digest: Digest::of(&bytes),
                bytes,
                media_type: cnb_image::oci::DOCKER_MANIFEST_LIST.into(),
            },
        )
        .unwrap();
    assert_eq!(
        index_raw(&store, "r.test/app:list").media_type,
        cnb_image::oci::DOCKER_MANIFEST_LIST
    );
    let report_path = dir.path().join("report.toml");
    let out = rebaser(
        &[
            "-layout",
            "-layout-dir",
            root.to_str().unwrap(),
            "-run-image",
            "r.test/run:v2",
            "r.test/app:list",
        ],
        &[],
        &report_path,
    );
    out.assert_ok();
    let raw = index_raw(&store, "r.test/app:list");
    assert_eq!(raw.media_type, cnb_image::oci::OCI_INDEX);
    assert_rebased(
        &store,
        "r.test/app:list",
        "r.test/run:v2",
        &before,
        &read_report(&report_path),
    );
}
