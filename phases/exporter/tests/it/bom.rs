//! The legacy bill of materials in the app image and report.toml, per Platform API, as upstream:
//! below 0.9 the `bom` of `io.buildpacks.build.metadata` (from metadata.toml, `null` when empty)
//! and report.toml's `[[build.bom]]` (from each buildpack's build.toml); from 0.9 neither, and
//! the builder's `sbom/launch/sbom.legacy.json` reaches the image in the SBOM layer.

use std::path::PathBuf;

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::registry::RegistryStore;
use cnb_image::{Image, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;

use crate::harness::{PhaseOutput, run_image, write, write_analyzed};

const METADATA: &str = "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.7\"\n\n[[processes]]\ntype = \"web\"\ncommand = \"tool\"\nargs = []\ndirect = true\nbuildpack-id = \"bp\"\n";
const LAUNCH_BOM: &str = "\n[[bom]]\nname = \"runtime\"\n[bom.metadata]\nversion = \"1.2.3\"\n[bom.buildpack]\nid = \"bp\"\nversion = \"1\"\n";

struct Setup {
    _dir: tempfile::TempDir,
    reg: Registry,
    store: RegistryStore,
    layers: PathBuf,
    app: PathBuf,
    launcher: PathBuf,
}

/// A layers dir as the builder leaves it, with the given metadata.toml, a build.toml with one
/// `[[bom]]` entry, and a run image in a fresh registry.
fn setup(metadata: &str) -> Setup {
    let reg = Registry::start();
    let store = reg.store();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &run, &four_platforms(), "r");
    let dir = tempfile::tempdir().unwrap();
    let (layers, app, launcher) = (
        dir.path().join("layers"),
        dir.path().join("workspace"),
        dir.path().join("launcher"),
    );
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.7\"\n",
    );
    write(&layers.join("bp/dep/bin/tool"), "#!/bin/sh\n");
    write(&layers.join("bp/dep.toml"), "[types]\nlaunch = true\n");
    write(
        &layers.join("bp/build.toml"),
        "[[bom]]\nname = \"compiler\"\n[bom.metadata]\nversion = \"9\"\n",
    );
    write(&layers.join("config/metadata.toml"), metadata);
    write(&app.join("index.html"), "hi");
    write(&launcher, "launcher");
    let child = format!("{}/cnb/run@{}", reg.host(), children[0].digest);
    write_analyzed(
        &layers,
        "",
        run_image(&child, &run, None),
        LayersMetadata::default(),
    );
    Setup {
        _dir: dir,
        reg,
        store,
        layers,
        app,
        launcher,
    }
}

fn export(s: &Setup, papi: &str) -> (PhaseOutput, Image) {
    let name = s.reg.image("cnb/app:latest");
    let out = crate::harness::exporter(papi, &s.layers, &s.app, &s.launcher)
        .insecure_registry(s.reg.host())
        .arg(&name)
        .run();
    out.assert_ok();
    let img = open(
        &s.store,
        &name,
        &TargetRequest::new(Target::host(), TargetSource::Host),
    )
    .unwrap()
    .required("app")
    .unwrap();
    (out, img)
}

#[test]
fn below_platform_api_0_9_the_bom_is_in_the_label_and_the_report() {
    let s = setup(&format!("{METADATA}{LAUNCH_BOM}"));
    let (_, img) = export(&s, "0.8");
    let label = img.label("io.buildpacks.build.metadata").unwrap();
    // Upstream's field order: `bom` first, each entry as name, metadata, buildpack.
    assert!(
        label.starts_with(
            r#"{"bom":[{"name":"runtime","metadata":{"version":"1.2.3"},"buildpack":{"id":"bp","version":"1"}}],"buildpacks":"#
        ),
        "{label}"
    );
    let report: Report = cnb_formats::read_toml(&s.layers.join("report.toml")).unwrap();
    let bom = report.build.expect("[build] below 0.9").bom;
    assert_eq!(bom.len(), 1, "{bom:?}");
    assert_eq!(bom[0].name, "compiler");
    assert_eq!(
        (
            bom[0].buildpack.id.as_str(),
            bom[0].buildpack.version.as_str()
        ),
        ("bp", "1")
    );
    assert_eq!(
        bom[0].metadata.as_ref().unwrap()["version"].as_str(),
        Some("9")
    );
}

#[test]
fn below_platform_api_0_9_an_empty_bom_is_null_in_the_label() {
    let s = setup(METADATA);
    std::fs::remove_file(s.layers.join("bp/build.toml")).unwrap();
    let (_, img) = export(&s, "0.7");
    let label = img.label("io.buildpacks.build.metadata").unwrap();
    assert!(label.starts_with(r#"{"bom":null,"buildpacks":"#), "{label}");
    let report = std::fs::read_to_string(s.layers.join("report.toml")).unwrap();
    assert!(!report.contains("[build]"), "{report}");
}

#[test]
fn from_platform_api_0_9_the_legacy_file_is_in_the_sbom_layer_only() {
    let s = setup(METADATA);
    write(&s.layers.join("sbom/launch/sbom.legacy.json"), "null\n");
    write(&s.layers.join("sbom/build/sbom.legacy.json"), "null\n");
    let (out, img) = export(&s, "0.9");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Adding layer 'buildpacksio/lifecycle:launch.sbom'"),
        "{stdout}"
    );
    let label = img.label("io.buildpacks.build.metadata").unwrap();
    assert!(!label.contains("\"bom\""), "{label}");
    let md =
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    let sbom = md.sbom.expect("the SBOM layer is recorded");
    assert!(
        img.layers()
            .iter()
            .any(|l| l.diff_id.to_string() == sbom.sha),
        "{sbom:?}"
    );
    let report = std::fs::read_to_string(s.layers.join("report.toml")).unwrap();
    assert!(!report.contains("[build]"), "{report}");
}
