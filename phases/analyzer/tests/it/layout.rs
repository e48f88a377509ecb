//! The analyzer binary as a platform runs it, against OCI layouts with multi-arch run images.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cnb_formats::analyzed::Analyzed;
use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};

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

fn analyzer(w: &World, papi: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args([
            "-layout",
            "-layout-dir",
            w.root.to_str().unwrap(),
            "-layers",
            w.layers.to_str().unwrap(),
        ])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", papi)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn analyzed(w: &World) -> Analyzed {
    Analyzed::read(&w.layers.join("analyzed.toml")).unwrap()
}

#[test]
fn records_the_child_of_the_run_index_for_the_requested_arch() {
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
        let out = analyzer(&w, "0.15", &a);
        ok(&out);
        let an = analyzed(&w);
        let run = an.run_image.unwrap();
        let t = run.target.unwrap();
        assert_eq!(
            (t.os.as_str(), t.arch.as_str(), t.arch_variant.as_str()),
            ("linux", arch, variant),
            "{args:?}"
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
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args([
            "-layout",
            "-layout-dir",
            w.root.to_str().unwrap(),
            "-layers",
            w.layers.to_str().unwrap(),
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app",
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.12")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .env("CNB_TARGET_ARCH", "arm64")
        .output()
        .unwrap();
    ok(&out);
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
    ok(&out);
    assert!(
        text(&out.stdout).contains("host platform"),
        "{}",
        text(&out.stdout)
    );
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
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    let err = text(&out.stderr);
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
    ok(&analyzer(
        &w,
        "0.15",
        &["-run-image", "registry.test/run:arm64", "registry.test/app"],
    ));
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
    assert_eq!(out.status.code(), Some(32));
    assert!(
        text(&out.stderr).contains("is for linux/arm64/v8, but the build is for linux/amd64"),
        "{}",
        text(&out.stderr)
    );
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
    ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("previous image 'registry.test/app:latest' is for linux/arm64/v8 but the build is for linux/amd64"), "{err}");
    let an = analyzed(&w);
    assert_eq!(an.image.unwrap().reference, "");
    assert!(an.metadata.buildpacks.is_empty());

    // The same previous image is used for an arm64 build.
    ok(&analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    ));
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
    ok(&analyzer(
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
    ));
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
    ok(&analyzer(
        &w,
        "0.12",
        &[
            "-arch",
            "arm64",
            "-run",
            run_toml.to_str().unwrap(),
            "registry.test/app",
        ],
    ));
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
    assert_eq!(out.status.code(), Some(2));

    let out = analyzer(
        &w,
        "0.12",
        &[
            "-run",
            w.layers.join("none.toml").to_str().unwrap(),
            "registry.test/app",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("-run-image is required"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn analyzed_path_flag_and_argument_errors() {
    let w = world();
    let custom = w.layers.join("custom/analyzed.toml");
    ok(&analyzer(
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
    ));
    assert!(custom.is_file());
    let out = analyzer(&w, "0.15", &["-run-image", "registry.test/run:multi"]);
    assert_eq!(out.status.code(), Some(3));
    let out = analyzer(
        &w,
        "0.15",
        &["-run-image", "registry.test/run:multi", "Not/A/Valid:Ref:"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("invalid image reference"),
        "{}",
        text(&out.stderr)
    );
    let out = analyzer(
        &w,
        "0.15",
        &[
            "-run-image",
            "registry.test/run:missing",
            "registry.test/app",
        ],
    );
    assert_eq!(out.status.code(), Some(32));
    assert!(
        text(&out.stderr).contains("run image 'registry.test/run:missing' not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn layout_needs_a_dir_and_the_experimental_mode() {
    let w = world();
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args([
            "-layout",
            "-layers",
            w.layers.to_str().unwrap(),
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app",
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("-layout needs -layout-dir"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args([
            "-layout",
            "-layout-dir",
            w.root.to_str().unwrap(),
            "-layers",
            w.layers.to_str().unwrap(),
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app",
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("CNB_EXPERIMENTAL_MODE=warn"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_platform_api_exits_11() {
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("registry.test/app")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11));
    let _ = Path::new("");
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
    ok(&analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "arm64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(&restored).unwrap(),
        "{\"bomFormat\":\"CycloneDX\"}"
    );
    std::fs::remove_dir_all(w.layers.join("sbom")).unwrap();
    ok(&analyzer(
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
    ));
    assert!(!restored.exists());
    // A previous image of another arch has its SBOM ignored along with everything else.
    ok(&analyzer(
        &w,
        "0.15",
        &[
            "-arch",
            "amd64",
            "-run-image",
            "registry.test/run:multi",
            "registry.test/app:latest",
        ],
    ));
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
    ok(&out);
    assert!(
        text(&out.stderr).contains("ignoring -launch-cache"),
        "{}",
        text(&out.stderr)
    );
}
