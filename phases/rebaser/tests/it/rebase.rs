//! Rebasing amd64 and arm64 app images onto new run images.

use std::process::{Command, Output};

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::{
    BlobStore, Image, ImageBuilder, LayoutStore, Target, TargetRequest, TargetSource, open,
};
use cnb_test_support::fixtures::{image, run_image, save_run_index};

pub(crate) fn t(arch: &str) -> Target {
    Target::new("linux", arch, None)
}

pub(crate) fn get(store: &dyn BlobStore, name: &str, arch: &str) -> Image {
    open(
        store,
        name,
        &TargetRequest::new(t(arch), TargetSource::Flags),
    )
    .unwrap()
    .required(name)
    .unwrap()
}

/// An app image as the exporter makes it: the run image's child, an app layer, lifecycle metadata.
pub(crate) fn save_app(
    store: &dyn BlobStore,
    run: &str,
    arch: &str,
    app: &str,
    labels: &[(&str, &str)],
) -> Image {
    app_image(store, run, arch, &format!("{app}-layer"), labels)
        .save(store, &[app.to_string()])
        .unwrap();
    get(store, app, arch)
}

/// The app image `save_app` saves, not yet saved; its app layer is stored under `layer_name`.
pub(crate) fn app_image(
    store: &dyn BlobStore,
    run: &str,
    arch: &str,
    layer_name: &str,
    labels: &[(&str, &str)],
) -> ImageBuilder {
    let base = get(store, run, arch);
    let app_layer = image(
        &t(arch),
        &[("/workspace/app.txt", &format!("app for {arch}"))],
        &[],
    );
    app_layer.save(store, &[layer_name.to_string()]).unwrap();
    let layer_img = get(store, layer_name, arch);
    let diff = layer_img.layers()[0].diff_id.clone();
    let mut b = ImageBuilder::from_base(&base);
    b.reuse_layer(&layer_img, &diff, None).unwrap();
    let md = format!(
        r#"{{"app":[{{"sha":"{diff}"}}],"runImage":{{"topLayer":"{}","reference":"{}","image":"{}"}},"stack":{{"runImage":{{"image":"{}"}}}}}}"#,
        base.top_layer().unwrap(),
        base.identifier,
        run,
        run
    );
    b.set_label("io.buildpacks.lifecycle.metadata", &md);
    for (k, v) in labels {
        b.set_label(k, v);
    }
    b.set_env("CNB_PLATFORM_API", "0.15");
    b
}

pub(crate) fn rebaser(args: &[&str], env: &[(&str, &str)], report: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebaser"))
        .args(["-report", report.to_str().unwrap()])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) struct Layout {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: LayoutStore,
}

pub(crate) fn layout() -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path().join("repo"));
    save_run_index(&store, "r.test/run:v1", &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, "r.test/run:v2", &[t("amd64"), t("arm64")], "v2");
    Layout { dir, store }
}

fn with_layout<'a>(l: &'a Layout, args: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "-layout".into(),
        "-layout-dir".into(),
        l.dir.path().join("repo").display().to_string(),
    ];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn run_layout(l: &Layout, args: &[&str]) -> Output {
    let a = with_layout(l, args);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    rebaser(&refs, &[], &l.dir.path().join("report.toml"))
}

#[test]
fn rebases_amd64_and_arm64_apps_onto_their_own_child() {
    let l = layout();
    for arch in ["amd64", "arm64"] {
        let name = format!("r.test/app:{arch}");
        let before = save_app(&l.store, "r.test/run:v1", arch, &name, &[]);
        let out = run_layout(&l, &["-run-image", "r.test/run:v2", &name]);
        assert!(out.status.success(), "{arch}: {}", text(&out));
        let after = get(&l.store, &name, arch);
        let v2 = get(&l.store, "r.test/run:v2", arch);
        assert_eq!(after.target(), t(arch));
        assert_eq!(
            after.layers()[0].digest,
            v2.layers()[0].digest,
            "{arch}: the new base"
        );
        assert_eq!(
            after.layers()[1].digest,
            before.layers()[1].digest,
            "{arch}: the app layer is kept by digest"
        );
        assert_eq!(after.layers().len(), 2);
        let md =
            LayersMetadata::from_label(after.label("io.buildpacks.lifecycle.metadata").unwrap())
                .unwrap();
        assert_eq!(md.run_image.top_layer, v2.top_layer().unwrap().to_string());
        assert_eq!(md.run_image.reference, v2.identifier);
        assert_eq!(
            after.config.created.as_deref(),
            Some("1980-01-01T00:00:01Z")
        );
        let report: Report = cnb_formats::read_toml(&l.dir.path().join("report.toml")).unwrap();
        assert_eq!(report.image.tags, std::slice::from_ref(&name));
        assert_eq!(report.image.digest, after.digest().to_string());
        assert!(
            text(&out).contains(&format!("({arch}")) || text(&out).contains(&t(arch).to_string()),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn the_run_image_defaults_to_the_recorded_one() {
    let l = layout();
    let before = save_app(&l.store, "r.test/run:v1", "arm64", "r.test/app:a", &[]);
    // Move the v1 tag to new content: the app's recorded run image name now resolves to it.
    save_run_index(
        &l.store,
        "r.test/run:v1",
        &[t("amd64"), t("arm64")],
        "v1-patched",
    );
    let out = run_layout(&l, &["r.test/app:a"]);
    assert!(out.status.success(), "{}", text(&out));
    let after = get(&l.store, "r.test/app:a", "arm64");
    assert_ne!(after.layers()[0].digest, before.layers()[0].digest);
    assert_eq!(after.layers()[1].digest, before.layers()[1].digest);
}

#[test]
fn refusals_and_force() {
    let l = layout();
    save_app(&l.store, "r.test/run:v1", "arm64", "r.test/app:arm64", &[]);
    // An index without the app's platform.
    save_run_index(&l.store, "r.test/run:amd64-only", &[t("amd64")], "x");
    let out = run_layout(
        &l,
        &[
            "-run-image",
            "r.test/run:amd64-only",
            "-force",
            "r.test/app:arm64",
        ],
    );
    assert_eq!(out.status.code(), Some(72), "{}", text(&out));
    assert!(
        text(&out).contains(
            "no image for linux/arm64/v8 in index 'r.test/run:amd64-only' (available: linux/amd64)"
        ),
        "{}",
        text(&out)
    );
    // A single-arch run image of another platform: refused, -force overrides.
    run_image(&t("amd64"), "single")
        .save(&l.store, &["r.test/run:single".into()])
        .unwrap();
    let out = run_layout(&l, &["-run-image", "r.test/run:single", "r.test/app:arm64"]);
    assert_eq!(out.status.code(), Some(72), "{}", text(&out));
    assert!(text(&out).contains("is for linux/amd64 but the app image is for linux/arm64/v8; please provide -force to override"), "{}", text(&out));
    let out = run_layout(
        &l,
        &[
            "-run-image",
            "r.test/run:single",
            "-force",
            "r.test/app:arm64",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("rebasing anyway (-force)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        get(&l.store, "r.test/app:arm64", "amd64").target(),
        t("amd64"),
        "the platform comes from the new base"
    );

    // Not rebasable.
    save_app(
        &l.store,
        "r.test/run:v1",
        "amd64",
        "r.test/app:frozen",
        &[("io.buildpacks.rebasable", "false")],
    );
    let out = run_layout(&l, &["-run-image", "r.test/run:v2", "r.test/app:frozen"]);
    assert_eq!(out.status.code(), Some(72));
    assert!(text(&out).contains("not rebasable"), "{}", text(&out));
    assert!(
        run_layout(
            &l,
            &["-run-image", "r.test/run:v2", "-force", "r.test/app:frozen"]
        )
        .status
        .success()
    );

    // Another distro.
    save_app(&l.store, "r.test/run:v1", "amd64", "r.test/app:d", &[]);
    let mut other = run_image(&t("amd64"), "other-distro");
    other.set_label("io.buildpacks.base.distro.name", "alpine");
    other.save(&l.store, &["r.test/run:alpine".into()]).unwrap();
    let out = run_layout(&l, &["-run-image", "r.test/run:alpine", "r.test/app:d"]);
    assert_eq!(out.status.code(), Some(72));
    assert!(text(&out).contains("distro alpine"), "{}", text(&out));

    // A run image that is not the recorded one (another repository).
    save_run_index(
        &l.store,
        "r.test/elsewhere:v2",
        &[t("amd64"), t("arm64")],
        "e",
    );
    let out = run_layout(&l, &["-run-image", "r.test/elsewhere:v2", "r.test/app:d"]);
    assert_eq!(out.status.code(), Some(72));
    assert!(
        text(&out).contains("is not the app's run image"),
        "{}",
        text(&out)
    );
    let out = run_layout(
        &l,
        &[
            "-run-image",
            "r.test/elsewhere:v2",
            "-force",
            "r.test/app:d",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let md = LayersMetadata::from_label(
        get(&l.store, "r.test/app:d", "amd64")
            .label("io.buildpacks.lifecycle.metadata")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(md.run_image.image, "r.test/elsewhere:v2");
}

#[test]
fn argument_errors() {
    let l = layout();
    save_app(&l.store, "r.test/run:v1", "amd64", "r.test/app:x", &[]);
    let out = run_layout(
        &l,
        &[
            "-run-image",
            "r.test/run:v2",
            "-image",
            "r.test/run:v1",
            "r.test/app:x",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    run_image(&t("amd64"), "plain")
        .save(&l.store, &["r.test/plain:1".into()])
        .unwrap();
    let out = run_layout(&l, &["-run-image", "r.test/run:v2", "r.test/plain:1"]);
    assert_eq!(out.status.code(), Some(72));
    assert!(
        text(&out).contains("has no io.buildpacks.lifecycle.metadata label"),
        "{}",
        text(&out)
    );
    let out = run_layout(&l, &["-run-image", "r.test/run:v2", "r.test/missing:1"]);
    assert_eq!(out.status.code(), Some(72));
    let out = rebaser(&[], &[], &l.dir.path().join("r.toml"));
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_registry_rebase_moves_no_layer_bytes() {
    use cnb_image::registry::{RegistryOptions, RegistryStore};
    use cnb_test_support::registry::Registry;
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let v1 = reg.image("cnb/run:v1");
    let v2 = reg.image("cnb/run:v2");
    save_run_index(&store, &v1, &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, &v2, &[t("amd64"), t("arm64")], "v2");
    let dir = tempfile::tempdir().unwrap();
    for arch in ["amd64", "arm64"] {
        let app = reg.image(&format!("cnb/app:{arch}"));
        let before = save_app(&store, &v1, arch, &app, &[]);
        let uploads_before = reg.count_requests("PUT", "/blobs/uploads/");
        let out = rebaser(
            &["-run-image", &v2, &app],
            &[("CNB_INSECURE_REGISTRIES", reg.host())],
            &dir.path().join("report.toml"),
        );
        assert!(out.status.success(), "{arch}: {}", text(&out));
        let uploads = reg.count_requests("PUT", "/blobs/uploads/") - uploads_before;
        assert_eq!(
            uploads, 1,
            "{arch}: only the new config blob is uploaded, no layer"
        );
        let after = get(&store, &app, arch);
        assert_eq!(after.layers()[1].digest, before.layers()[1].digest);
        assert_eq!(
            after.layers()[0].digest,
            get(&store, &v2, arch).layers()[0].digest
        );
        let report: Report = cnb_formats::read_toml(&dir.path().join("report.toml")).unwrap();
        assert_eq!(report.image.digest, after.digest().to_string());
        assert_eq!(report.image.manifest_size, after.raw.bytes.len() as u64);
        // skopeo agrees.
        let sk = Command::new("skopeo")
            .args([
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!("docker://{app}"),
            ])
            .output()
            .unwrap();
        assert_eq!(cnb_image::Digest::of(&sk.stdout), *after.digest());
    }
}
