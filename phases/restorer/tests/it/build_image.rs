//! `-build-image` (Platform API 0.10+), as Tekton's buildpacks-phases task passes it on every build:
//! the build image is read from its registry with the restorer's credentials and its digest
//! reference for the recorded target is written to analyzed.toml `[build-image]`.

use cnb_formats::analyzed::Analyzed;
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::phase::platform_apis_since;
use cnb_test_support::registry::Registry;

use crate::harness::{GROUP, PhaseOutput, write};

fn setup(target_arch: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    write(&layers.join("group.toml"), GROUP);
    write(
        &layers.join("analyzed.toml"),
        format!(
            "[run-image]\nreference = \"\"\n[run-image.target]\nos = \"linux\"\narch = \"{target_arch}\"\n"
        ),
    );
    dir
}

/// The restorer with the registry's credentials, as the platform passes them.
fn restorer(dir: &std::path::Path, reg: &Registry, papi: &str, args: &[&str]) -> PhaseOutput {
    let auth = format!(r#"{{"{}":"{}"}}"#, reg.host(), reg.basic_header().unwrap());
    crate::harness::restorer(papi, &dir.join("layers"))
        .insecure_registry(reg.host())
        .env("CNB_REGISTRY_AUTH", auth)
        .args(args)
        .run()
}

fn registry_with_builder() -> (Registry, String, Vec<String>) {
    let reg = Registry::builder().basic_auth("tekton", "secret").start();
    let builder = reg.image("cnb/builder:latest");
    let (_, children) = save_run_index(&reg.store(), &builder, &four_platforms(), "b");
    let digests = children.iter().map(|c| c.digest.to_string()).collect();
    (reg, builder, digests)
}

/// At every Platform API with `-build-image` (0.10 on).
#[test]
fn records_the_build_images_child_for_the_recorded_target() {
    let (reg, builder, digests) = registry_with_builder();
    for papi in platform_apis_since("0.10") {
        let dir = setup("arm64");
        restorer(dir.path(), &reg, &papi, &["-build-image", &builder]).assert_ok();
        let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
        let recorded = a.build_image.unwrap().reference;
        assert_eq!(
            recorded,
            format!("{}/cnb/builder@{}", reg.host(), digests[1]),
            "{papi}: the arm64 child, by digest"
        );
        assert!(
            a.run_image.is_some(),
            "{papi}: the rest of analyzed.toml is kept"
        );
    }
}

#[test]
fn a_missing_build_image_fails_naming_it() {
    let (reg, _, _) = registry_with_builder();
    let dir = setup("amd64");
    let missing = reg.image("cnb/nothing:here");
    let out = restorer(
        dir.path(),
        &reg,
        "0.13",
        &["-build-image", &missing, "-insecure-registry", reg.host()],
    );
    out.assert_exit(1);
    out.assert_output_has("cnb/nothing:here");
}

#[test]
fn is_not_a_flag_before_platform_api_0_10() {
    let (reg, builder, _) = registry_with_builder();
    let dir = setup("amd64");
    let out = restorer(dir.path(), &reg, "0.9", &["-build-image", &builder]);
    assert_ne!(out.status.code(), Some(0), "{}", out.text());
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    assert!(a.build_image.is_none());
}
