//! The analyzer binary as a platform runs it, against OCI layouts with multi-arch run images.

use std::path::PathBuf;

use cnb_formats::analyzed::Analyzed;
use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};
use cnb_test_support::phase::platform_apis_since;

use crate::harness::{PhaseOutput, PhaseRun};

struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    layers: PathBuf,
    store: LayoutStore,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("layout-repo");
    let layers = dir.path().join("layers");
    std::fs::create_dir_all(&layers).unwrap();
    let store = LayoutStore::new(&root);
    save_run_index(
        &store,
        "registry.test/run:multi",
        &four_platforms(),
        "run-v1",
    );
    World {
        root,
        layers,
        store,
        _dir: dir,
    }
}

/// The analyzer on the world's layout, not yet run.
fn command(w: &World, papi: &str) -> PhaseRun {
    crate::harness::analyzer(papi, &w.layers).layout(&w.root)
}

fn analyzer(w: &World, papi: &str, args: &[&str]) -> PhaseOutput {
    command(w, papi).args(args).run()
}

fn analyzed(w: &World) -> Analyzed {
    crate::harness::analyzed(&w.layers)
}

/// At every Platform API with layouts (0.12 on).
#[test]
fn records_the_child_of_the_run_index_for_the_requested_arch() {
    for papi in platform_apis_since("0.12") {
        records_the_child_at(&papi);
    }
}

fn records_the_child_at(papi: &str) {
    let w = world();
    for (args, arch, variant) in [
        (vec!["-arch", "arm64"], "arm64", "v8"),
        (vec!["-arch", "arm", "-arch-variant", "v6"], "arm", "v6"),
        (vec!["-arch", "arm", "-arch-variant", "v7"], "arm", "v7"),
        (vec!["-arch", "x86_64"], "amd64", ""),
    ] {
        let mut a = args.clone();
        a.extend([
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ]);
        analyzer(&w, papi, &a).assert_ok();
        let an = analyzed(&w);
        let run = an.run_image.unwrap();
        let t = run.target.unwrap();
        assert_eq!(
            (t.os.as_str(), t.arch.as_str(), t.arch_variant.as_str()),
            ("linux", arch, variant),
            "{args:?} at {papi}"
        );
        assert_eq!(t.distro.unwrap().name, "ubuntu");
        assert_eq!(t.id, "io.example.run");
        assert_eq!(run.image, "registry.test/run:multi");
        // The reference is the child's identifier: opening it gives that platform.
        let child = cnb_image::open(
            &w.store,
            &run.reference,
            &cnb_image::TargetRequest::new(
                Target::new("linux", arch, Some(variant)),
                cnb_image::TargetSource::Flags,
            ),
        )
        .unwrap()
        .required("x")
        .unwrap();
        assert_eq!(child.target().arch, arch);
        assert_eq!(an.image.unwrap().reference, "", "no previous image");
    }
}

#[test]
fn the_target_can_come_from_the_environment() {
    let w = world();
    command(&w, "0.12")
        .args(["-run-image", "registry.test/run:multi", "registry.test/app"])
        .env("CNB_TARGET_ARCH", "arm64")
        .run()
        .assert_ok();
    assert_eq!(analyzed(&w).target().unwrap().arch, "arm64");
}

#[test]
fn without_a_target_the_host_is_used_and_said() {
    let w = world();
    let out = analyzer(
        &w,
        "0.15",
        &["-run-image", "registry.test/run:multi", "registry.test/app"],
    );
    out.assert_ok();
    out.assert_output_has("host platform");
    assert_eq!(analyzed(&w).target().unwrap().arch, Target::host().arch);
}

#[test]
fn no_child_for_the_target_exits_32_naming_wanted_and_available() {
    let w = world();
    let out = analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "s390x",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app",
        ],
    );
    out.assert_exit(32);
    let err = out.stderr();
    assert!(
        err.contains("no image for linux/s390x in index 'registry.test/run:multi'"),
        "{err}"
    );
    assert!(
        err.contains("available: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("ERROR")).count(),
        1,
        "{err}"
    );
}

#[test]
fn a_single_arch_run_image_defines_the_target_unless_flags_disagree() {
    let w = world();
    save_run_image(
        &w.store,
        "registry.test/run:arm64",
        &Target::new("linux", "arm64", None),
        "x",
    );
    analyzer(
        &w,
        "0.15",
        &["-run-image", "registry.test/run:arm64", "registry.test/app"],
    )
    .assert_ok();
    assert_eq!(analyzed(&w).target().unwrap().arch, "arm64");
    let out = analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "amd64",
            "-run-image",
            "registry.test/run:arm64",
            "registry.test/app",
        ],
    );
    out.assert_exit(32);
    out.assert_output_has("is for linux/arm64/v8, but the build is for linux/amd64");
}

#[test]
fn previous_image_of_another_arch_is_skipped_with_a_warning() {
    let w = world();
    // A previous app image: arm64 only, with lifecycle metadata.
    let mut prev =
        cnb_test_support::fixtures::run_image(&Target::new("linux", "arm64", None), "prev");
    prev.set_label(
        "io.buildpacks.lifecycle.metadata",
        r#"{"buildpacks":[{"key":"bp","version":"1","layers":{}}]}"#,
    );
    prev.save(&w.store, &["registry.test/app:latest".into()])
        .unwrap();
    let out = analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "amd64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    );
    out.assert_ok();
    let err = out.stderr();
    assert!(err.contains("previous image 'registry.test/app:latest' is for linux/arm64/v8 but the build is for linux/amd64"), "{err}");
    let an = analyzed(&w);
    assert_eq!(an.image.unwrap().reference, "");
    assert!(an.metadata.buildpacks.is_empty());

    // The same previous image is used for an arm64 build.
    analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    )
    .assert_ok();
    let an = analyzed(&w);
    assert!(an.image.unwrap().reference.contains("@sha256:"));
    assert_eq!(an.metadata.buildpacks[0].key, "bp");
}

#[test]
fn a_multi_arch_previous_image_resolves_to_the_matching_child() {
    let w = world();
    save_run_index(
        &w.store,
        "registry.test/app:latest",
        &four_platforms(),
        "previous",
    );
    analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm",
            "-arch-variant",
            "v6",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    )
    .assert_ok();
    let reference = analyzed(&w).image.unwrap().reference;
    let img = cnb_image::open(
        &w.store,
        &reference,
        &cnb_image::TargetRequest::new(
            Target::new("linux", "arm", Some("v6")),
            cnb_image::TargetSource::Flags,
        ),
    )
    .unwrap()
    .required("x")
    .unwrap();
    assert_eq!(img.target().variant.as_deref(), Some("v6"));
}

#[test]
fn run_image_from_run_toml_or_stack_toml_by_platform_api() {
    let w = world();
    let run_toml = w.layers.join("run.toml");
    std::fs::write(
        &run_toml,
        "[[images]]\nimage = \"registry.test/run:multi\"\nmirrors = [\"other.test/run:multi\"]\n",
    )
    .unwrap();
    analyzer(
        &w,
        "0.12",
        &[
            "-arch",
            "arm64",
            "-run",
            run_toml.to_str().unwrap(),
            "registry.test/app",
        ],
    )
    .assert_ok();
    assert_eq!(
        analyzed(&w).run_image.unwrap().image,
        "registry.test/run:multi"
    );

    // Below 0.12 there is no layout support (nor -run): stack.toml is covered by unit tests.
    let out = analyzer(
        &w,
        "0.11",
        &["-run", run_toml.to_str().unwrap(), "registry.test/app"],
    );
    out.assert_exit(2);

    let out = analyzer(
        &w,
        "0.12",
        &[
            "-run",
            w.layers.join("none.toml").to_str().unwrap(),
            "registry.test/app",
        ],
    );
    out.assert_exit(3);
    out.assert_output_has("-run-image is required");
}

#[test]
fn analyzed_path_flag_and_argument_errors() {
    let w = world();
    let custom = w.layers.join("custom/analyzed.toml");
    analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm64",
            "-analyzed",
            custom.to_str().unwrap(),
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app",
        ],
    )
    .assert_ok();
    assert!(custom.is_file());
    let out = analyzer(&w, "0.15", &["-run-image", "registry.test/run:multi"]);
    out.assert_exit(3);
    let out = analyzer(
        &w,
        "0.15",
        &["-run-image", "registry.test/run:multi", "Not/A/Valid:Ref:"],
    );
    out.assert_exit(3);
    out.assert_output_has("invalid image reference");
    let out = analyzer(
        &w,
        "0.15",
        &[
            "-run-image",
            "registry.test/run:missing",
            "registry.test/app",
        ],
    );
    out.assert_exit(32);
    out.assert_output_has("run image 'registry.test/run:missing' not found");
}

#[test]
fn layout_needs_a_dir_and_the_experimental_mode() {
    let w = world();
    let args = ["-run-image", "registry.test/run:multi", "registry.test/app"];
    crate::harness::analyzer("0.15", &w.layers)
        .arg("-layout")
        .args(args)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .run()
        .assert_exit(3)
        .assert_output_has("-layout needs -layout-dir");
    // The layout without the experimental mode.
    command(&w, "0.15")
        .env("CNB_EXPERIMENTAL_MODE", "error")
        .args(args)
        .run()
        .assert_exit(1)
        .assert_output_has("CNB_EXPERIMENTAL_MODE=warn");
}

#[test]
fn missing_platform_api_exits_11() {
    let mut run = PhaseRun::new(env!("CARGO_BIN_EXE_analyzer"), "").arg("registry.test/app");
    run.command().env_remove("CNB_PLATFORM_API");
    run.run().assert_exit(11);
}

#[test]
fn restores_the_previous_sbom_layer_unless_skipped() {
    let w = world();
    let t = Target::new("linux", "arm64", None);
    let sbom = cnb_test_support::fixtures::image(
        &t,
        &[(
            "/layers/sbom/launch/samples_hello/sbom.cdx.json",
            "{\"bomFormat\":\"CycloneDX\"}",
        )],
        &[],
    );
    let diff_id = sbom.diff_ids()[0].to_string();
    let mut prev = sbom;
    prev.set_label(
        "io.buildpacks.lifecycle.metadata",
        &format!(r#"{{"sbom":{{"sha":"{diff_id}"}}}}"#),
    );
    prev.save(&w.store, &["registry.test/app:latest".into()])
        .unwrap();
    let restored = w.layers.join("sbom/launch/samples_hello/sbom.cdx.json");
    analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    )
    .assert_ok();
    assert_eq!(
        std::fs::read_to_string(&restored).unwrap(),
        "{\"bomFormat\":\"CycloneDX\"}"
    );
    std::fs::remove_dir_all(w.layers.join("sbom")).unwrap();
    analyzer(
        &w,
        "0.15",
        &[
            "-skip-layers",
            "-arch",
            "arm64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    )
    .assert_ok();
    assert!(!restored.exists());
    // A previous image of another arch has its SBOM ignored along with everything else.
    analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "amd64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    )
    .assert_ok();
    assert!(!restored.exists());
}

#[test]
fn launch_cache_without_daemon_is_ignored_with_a_warning() {
    let w = world();
    let lc = w.layers.join("launch-cache");
    let out = analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm64",
            "-launch-cache",
            lc.to_str().unwrap(),
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app",
        ],
    );
    out.assert_ok();
    out.assert_output_has("ignoring -launch-cache");
}
