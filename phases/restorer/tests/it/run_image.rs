//! The restorer re-resolves the recorded run image for the recorded target (Platform API 0.12+).

use std::process::{Command, Output};

use cnb_formats::analyzed::Analyzed;
use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};

fn restorer(dir: &std::path::Path, papi: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args([
            "-layers",
            dir.join("layers").to_str().unwrap(),
            "-layout",
            "-layout-dir",
            dir.join("repo").to_str().unwrap(),
        ])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", papi)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .output()
        .unwrap()
}

fn setup(analyzed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path().join("repo"));
    save_run_index(&store, "r.test/run:multi", &four_platforms(), "r");
    save_run_image(
        &store,
        "r.test/run:amd64",
        &Target::new("linux", "amd64", None),
        "a",
    );
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("layers/analyzed.toml"), analyzed).unwrap();
    dir
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn an_index_reference_becomes_the_recorded_targets_child() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/run:multi\"\n[run-image.target]\nos = \"linux\"\narch = \"arm\"\narch-variant = \"v6\"\n",
    );
    let out = restorer(dir.path(), "0.12", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    let run = a.run_image.unwrap();
    assert!(run.reference.contains("@sha256:"), "{}", run.reference);
    let t = run.target.unwrap();
    assert_eq!((t.arch.as_str(), t.arch_variant.as_str()), ("arm", "v6"));
    assert_eq!(
        t.distro.unwrap().name,
        "ubuntu",
        "labels read from the child"
    );
}

#[test]
fn a_missing_target_is_filled_in() {
    let dir =
        setup("[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/run:multi\"\n");
    let out = restorer(dir.path(), "0.12", &["-arch", "arm64"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = Analyzed::read(&dir.path().join("layers/analyzed.toml"))
        .unwrap()
        .target()
        .cloned()
        .unwrap();
    assert_eq!(t.arch, "arm64");
}

#[test]
fn a_run_image_of_another_platform_fails_clearly() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:amd64\"\nimage = \"r.test/run:amd64\"\n[run-image.target]\nos = \"linux\"\narch = \"arm64\"\n",
    );
    let out = restorer(dir.path(), "0.12", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is for linux/amd64, but the build is for linux/arm64/v8"),
        "{}",
        text(&out)
    );
    // Below 0.12 the run image is not touched.
    let out = Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", dir.path().join("layers").to_str().unwrap()])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.11")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn with_run_toml_the_selected_run_image_must_be_readable() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/gone:1\"\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n",
    );
    let run_toml = dir.path().join("run.toml");
    std::fs::write(&run_toml, "[[images]]\nimage = \"r.test/gone:1\"\n").unwrap();
    let out = restorer(dir.path(), "0.14", &["-run", run_toml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("selected run image 'r.test/gone:1' is not accessible"),
        "{}",
        text(&out)
    );
}
