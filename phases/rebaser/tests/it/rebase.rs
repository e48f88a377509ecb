//! Rebasing amd64 and arm64 app images onto new run images.

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::{
    BlobStore, Image, ImageBuilder, LayoutStore, Target, TargetRequest, TargetSource, open,
};
use cnb_test_support::fixtures::{image, run_image, save_run_index};
use cnb_test_support::phase::{PhaseOutput, PhaseRun, platform_apis, platform_apis_since};
use cnb_test_support::registry::Registry;

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

/// The rebaser at Platform API `papi` writing its report to `report`.
pub(crate) fn command(papi: &str, report: &std::path::Path) -> PhaseRun {
    PhaseRun::new(env!("CARGO_BIN_EXE_rebaser"), papi).flag("-report", report)
}

/// The rebaser at Platform API 0.15 with `args` and `env`.
pub(crate) fn rebaser(
    args: &[&str],
    env: &[(&str, &str)],
    report: &std::path::Path,
) -> PhaseOutput {
    command("0.15", report)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .envs(env.iter().copied())
        .args(args)
        .run()
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

impl Layout {
    /// The rebaser on this layout at Platform API `papi`, its report next to the layout.
    pub(crate) fn rebaser(&self, papi: &str) -> PhaseRun {
        command(papi, &self.dir.path().join("report.toml")).layout(self.dir.path().join("repo"))
    }
}

fn run_layout(l: &Layout, args: &[&str]) -> PhaseOutput {
    l.rebaser("0.15").args(args).run()
}

/// At every Platform API with layouts (0.12 on).
#[test]
fn rebases_amd64_and_arm64_apps_onto_their_own_child() {
    for papi in platform_apis_since("0.12") {
        rebases_onto_their_own_child_at(&papi);
    }
}

fn rebases_onto_their_own_child_at(papi: &str) {
    let l = layout();
    for arch in ["amd64", "arm64"] {
        let name = format!("r.test/app:{arch}");
        let before = save_app(&l.store, "r.test/run:v1", arch, &name, &[]);
        let out = l
            .rebaser(papi)
            .args(["-run-image", "r.test/run:v2", &name])
            .run();
        out.assert_ok();
        let after = get(&l.store, &name, arch);
        let v2 = get(&l.store, "r.test/run:v2", arch);
        assert_eq!(after.target(), t(arch), "{papi}");
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
            out.text().contains(&format!("({arch}")) || out.text().contains(&t(arch).to_string()),
            "{papi}: {}",
            out.text()
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
    out.assert_ok();
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
    out.assert_exit(72);
    assert!(
        out.text().contains(
            "no image for linux/arm64/v8 in index 'r.test/run:amd64-only' (available: linux/amd64)"
        ),
        "{}",
        out.text()
    );
    // A single-arch run image of another platform: refused, -force overrides.
    run_image(&t("amd64"), "single")
        .save(&l.store, &["r.test/run:single".into()])
        .unwrap();
    let out = run_layout(&l, &["-run-image", "r.test/run:single", "r.test/app:arm64"]);
    out.assert_exit(72);
    out.assert_output_has("is for linux/amd64 but the app image is for linux/arm64/v8; please provide -force to override");
    let out = run_layout(
        &l,
        &[
            "-run-image",
            "r.test/run:single",
            "-force",
            "r.test/app:arm64",
        ],
    );
    out.assert_ok();
    out.assert_output_has("rebasing anyway (-force)");
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
    out.assert_exit(72);
    out.assert_output_has("not rebasable");
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
    out.assert_exit(72);
    out.assert_output_has("distro alpine");

    // A run image that is not the recorded one (another repository).
    save_run_index(
        &l.store,
        "r.test/elsewhere:v2",
        &[t("amd64"), t("arm64")],
        "e",
    );
    let out = run_layout(&l, &["-run-image", "r.test/elsewhere:v2", "r.test/app:d"]);
    out.assert_exit(72);
    out.assert_output_has("is not the app's run image");
    let out = run_layout(
        &l,
        &[
            "-run-image",
            "r.test/elsewhere:v2",
            "-force",
            "r.test/app:d",
        ],
    );
    out.assert_ok();
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
    out.assert_exit(3);
    run_image(&t("amd64"), "plain")
        .save(&l.store, &["r.test/plain:1".into()])
        .unwrap();
    let out = run_layout(&l, &["-run-image", "r.test/run:v2", "r.test/plain:1"]);
    out.assert_exit(72);
    out.assert_output_has("has no io.buildpacks.lifecycle.metadata label");
    let out = run_layout(&l, &["-run-image", "r.test/run:v2", "r.test/missing:1"]);
    out.assert_exit(72);
    let out = rebaser(&[], &[], &l.dir.path().join("r.toml"));
    out.assert_exit(3);
}

/// At every Platform API (amd64; arm64 too at the newest), each with its own app image.
#[test]
fn a_registry_rebase_moves_no_layer_bytes() {
    let reg = Registry::start();
    let store = reg.store();
    let v1 = reg.image("cnb/run:v1");
    let v2 = reg.image("cnb/run:v2");
    save_run_index(&store, &v1, &[t("amd64"), t("arm64")], "v1");
    save_run_index(&store, &v2, &[t("amd64"), t("arm64")], "v2");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.toml");
    let mut last = None;
    let apis = platform_apis();
    let runs = apis
        .iter()
        .map(|papi| (papi.as_str(), "amd64"))
        .chain(apis.last().map(|papi| (papi.as_str(), "arm64")));
    for (papi, arch) in runs {
        let app = reg.image(&format!("cnb/app-{}:{arch}", papi.replace('.', "-")));
        let before = save_app(&store, &v1, arch, &app, &[]);
        let uploads_before = reg.count_requests("PUT", "/blobs/uploads/");
        command(papi, &report)
            .insecure_registry(reg.host())
            .args(["-run-image", &v2, &app])
            .run()
            .assert_ok();
        let uploads = reg.count_requests("PUT", "/blobs/uploads/") - uploads_before;
        assert_eq!(
            uploads, 1,
            "{papi} {arch}: only the new config blob is uploaded, no layer"
        );
        let after = get(&store, &app, arch);
        assert_eq!(after.layers()[1].digest, before.layers()[1].digest);
        assert_eq!(
            after.layers()[0].digest,
            get(&store, &v2, arch).layers()[0].digest,
            "{papi} {arch}"
        );
        let written: Report = cnb_formats::read_toml(&report).unwrap();
        assert_eq!(written.image.digest, after.digest().to_string(), "{papi}");
        assert_eq!(written.image.manifest_size, after.raw.bytes.len() as u64);
        last = Some((app, after.digest().clone()));
    }
    // skopeo agrees (on the last one: it is slow).
    let (app, digest) = last.unwrap();
    let raw = cnb_test_support::tools::skopeo_raw(&app);
    assert_eq!(cnb_image::Digest::of(raw.as_bytes()), digest);
}
