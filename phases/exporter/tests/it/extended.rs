//! The app image on an extended run image (`<extended>/run`, as upstream's `extender -kind run`
//! writes it): run image layers, extension layers, buildpack layers; the extended config; reuse;
//! the failures and the Platform API gates.

use std::path::PathBuf;
use std::process::Command;

use cnb_formats::labels::LayersMetadata;
use cnb_image::{BlobStore, Image, LayoutStore, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{EXTENSION_FILE, save_extended_run_image, save_run_image};
use cnb_test_support::registry::Registry;

use crate::harness::{PhaseOutput, run_image};

const EXT_LAYER: &str = "ext/hello:extended-layer-1";

fn amd64() -> TargetRequest {
    TargetRequest::new(Target::new("linux", "amd64", None), TargetSource::Flags)
}

struct Build {
    build: crate::harness::Build,
    layers: PathBuf,
    run: Image,
}

/// A built app (one launch layer, one process) on `run_name` in `store`, and analyzed.toml
/// saying the run image is extended.
fn build(store: &dyn BlobStore, run_name: &str) -> Build {
    let saved = save_run_image(store, run_name, &Target::new("linux", "amd64", None), "r");
    let run = open(store, &saved.identifier, &amd64())
        .unwrap()
        .required("run")
        .unwrap();
    let build = crate::harness::Build::new("hi");
    let b = Build {
        layers: build.layers.clone(),
        build,
        run,
    };
    analyzed(&b, true, "", LayersMetadata::default());
    b
}

fn analyzed(b: &Build, extend: bool, previous: &str, md: LayersMetadata) {
    let mut run = run_image(&b.run.identifier, "registry.test/run:amd64", None);
    run.extend = extend;
    b.build.analyzed(previous, run, md);
}

fn exporter(b: &Build, papi: &str, env: &[(&str, &str)], args: &[&str]) -> PhaseOutput {
    b.build
        .exporter(papi)
        .envs(env.iter().copied())
        .args(args)
        .run()
}

/// What every extended app image must be: run layer, extension layer, then ours; the extended
/// config under ours; not rebasable; the metadata naming the original run image.
fn check_extended(app: &Image, run: &Image, ext_diff: &cnb_image::Digest) {
    let layers = app.layers();
    assert_eq!(
        layers[0].diff_id,
        run.layers()[0].diff_id,
        "run layer first"
    );
    assert_eq!(&layers[1].diff_id, ext_diff, "then the extension layer");
    assert!(layers.len() > 3, "then the buildpack layers");
    assert_eq!(app.env("EXTENDED"), Some("yes"), "the extended env");
    assert_eq!(app.label("io.example.extended"), Some("yes"));
    assert_eq!(app.label("io.buildpacks.base.distro.name"), Some("ubuntu"));
    assert_eq!(app.label("io.buildpacks.rebasable"), Some("false"));
    assert_eq!(app.env("CNB_PLATFORM_API"), Some("0.13"));
    let md =
        LayersMetadata::from_label(app.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    assert_eq!(
        md.run_image.top_layer,
        run.top_layer().unwrap().to_string(),
        "topLayer is the run image's, so a rebase cuts below the extension layer"
    );
    assert_eq!(md.run_image.reference, run.identifier);
    assert!(
        app.config.history.iter().any(|h| h.created_by.as_deref()
            == Some("Layer: 'RUN install hello', Created by extension: ext/hello")),
        "the extender's history entry"
    );
}

#[test]
fn a_layout_export_is_built_on_the_extended_run_image_and_reuses_its_layer() {
    let root = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(root.path());
    let b = build(&store, "registry.test/run:amd64");
    let (_, ext_diff) = save_extended_run_image(&b.run, &b.layers.join("extended"), "ext/hello");
    let layout = ["-layout", "-layout-dir", root.path().to_str().unwrap()];
    let args = [&layout[..], &["registry.test/app:1"]].concat();
    let out = exporter(&b, "0.13", &[("CNB_EXPERIMENTAL_MODE", "warn")], &args);
    out.assert_ok();
    assert!(
        out.text().contains(&format!("Adding layer '{EXT_LAYER}'")),
        "{}",
        out.text()
    );
    let app = open(&store, "registry.test/app:1", &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    check_extended(&app, &b.run, &ext_diff);

    // The next build: the extension layer comes from the previous image, not the layout.
    let md =
        LayersMetadata::from_label(app.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    analyzed(&b, true, &app.identifier, md);
    let out = exporter(&b, "0.13", &[("CNB_EXPERIMENTAL_MODE", "warn")], &args);
    out.assert_ok();
    assert!(
        out.text().contains(&format!("Reusing layer '{EXT_LAYER}'")),
        "{}",
        out.text()
    );
    let again = open(&store, "registry.test/app:1", &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    assert_eq!(again.digest(), app.digest(), "same inputs, same image");
}

#[test]
fn extend_without_an_extended_run_image_fails_naming_the_path() {
    let root = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(root.path());
    let b = build(&store, "registry.test/run:amd64");
    let layout = ["-layout", "-layout-dir", root.path().to_str().unwrap()];
    let args = [&layout[..], &["registry.test/app:1"]].concat();
    let out = exporter(&b, "0.13", &[("CNB_EXPERIMENTAL_MODE", "warn")], &args);
    out.assert_exit(1);
    let stderr = out.stderr();
    let path = b.layers.join("extended/run");
    let line = stderr
        .lines()
        .find(|l| l.contains("extended run image"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains(&path.display().to_string()), "{line}");
    assert!(store.manifest("registry.test/app:1").unwrap().is_none());

    // A layout that is not built on the run image is refused too.
    let other = open(
        &store,
        &save_run_image(
            &store,
            "registry.test/other:1",
            &Target::new("linux", "amd64", None),
            "o",
        )
        .identifier,
        &amd64(),
    )
    .unwrap()
    .required("other")
    .unwrap();
    save_extended_run_image(&other, &b.layers.join("extended"), "ext/hello");
    let out = exporter(&b, "0.13", &[("CNB_EXPERIMENTAL_MODE", "warn")], &args);
    out.assert_exit(1);
    out.assert_output_has("is not built on the run image");
}

#[test]
fn a_registry_export_on_the_extended_run_image_uploads_the_extension_layer_once() {
    let reg = Registry::start();
    let store = reg.store();
    let b = build(&store, &reg.image("cnb/run:amd64"));
    let (_, ext_diff) = save_extended_run_image(&b.run, &b.layers.join("extended"), "ext/hello");
    let name = reg.image("cnb/app:latest");
    let insecure = ("CNB_INSECURE_REGISTRIES", reg.host());

    // Platform API 0.12: experimental, as upstream.
    let out = exporter(&b, "0.12", &[insecure], &[&name]);
    out.assert_exit(1);
    out.assert_output_has("experimental feature 'Dockerfiles' is disabled");

    let out = exporter(&b, "0.13", &[insecure], &[&name]);
    out.assert_ok();
    let app = open(&store, &name, &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    check_extended(&app, &b.run, &ext_diff);
    let sk = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{name}")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sk.stdout).contains(&app.digest().to_string()),
        "{}",
        String::from_utf8_lossy(&sk.stderr)
    );

    // A rebuild with the first export as previous image uploads no layer.
    let md =
        LayersMetadata::from_label(app.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    analyzed(&b, true, &app.identifier, md);
    let before = reg.count_requests("PUT", "/blobs/uploads/");
    let out = exporter(&b, "0.13", &[insecure], &[&name]);
    out.assert_ok();
    assert!(
        out.text().contains(&format!("Reusing layer '{EXT_LAYER}'")),
        "{}",
        out.text()
    );
    assert!(!out.text().contains("Adding layer"), "{}", out.text());
    assert_eq!(reg.count_requests("PUT", "/blobs/uploads/"), before);

    // Platform API 0.11 has no run image extension: the dir is ignored, as upstream ignores it.
    analyzed(&b, true, "", LayersMetadata::default());
    let old = reg.image("cnb/app:old");
    let out = exporter(&b, "0.11", &[insecure], &[&old]);
    out.assert_ok();
    let app = open(&store, &old, &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    assert!(app.layers().iter().all(|l| l.diff_id != ext_diff));
    assert_eq!(app.env("EXTENDED"), None);

    // extend = false: the extended image is not used (a leftover is only warned about).
    analyzed(&b, false, "", LayersMetadata::default());
    let out = exporter(&b, "0.13", &[insecure], &[&old]);
    out.assert_ok();
    out.assert_output_has("ignoring");
    let app = open(&store, &old, &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    assert!(app.layers().iter().all(|l| l.diff_id != ext_diff));
    assert_eq!(app.label("io.buildpacks.rebasable"), Some("true"));
}

#[test]
fn the_extension_file_is_in_the_extension_layer() {
    // The fixture's layer is what the app image carries: its blob holds the file.
    let root = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(root.path());
    let b = build(&store, "registry.test/run:amd64");
    save_extended_run_image(&b.run, &b.layers.join("extended"), "ext/hello");
    let layout = ["-layout", "-layout-dir", root.path().to_str().unwrap()];
    let args = [&layout[..], &["registry.test/app:1"]].concat();
    let out = exporter(&b, "0.13", &[("CNB_EXPERIMENTAL_MODE", "warn")], &args);
    out.assert_ok();
    let app = open(&store, "registry.test/app:1", &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    let blob = store
        .blob("registry.test/app:1", &app.layers()[1].digest)
        .unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    cnb_archive::extract(
        blob,
        unpacked.path(),
        &cnb_archive::ExtractOptions::default(),
    )
    .unwrap();
    let file = unpacked
        .path()
        .join(EXTENSION_FILE.0.trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(file).unwrap(), EXTENSION_FILE.1);
}
