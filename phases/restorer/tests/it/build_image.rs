//! `-build-image` (Platform API 0.10+), as Tekton's buildpacks-phases task passes it on every build:
//! the build image is read from its registry with the restorer's credentials and its digest
//! reference for the recorded target is written to analyzed.toml `[build-image]`.

use std::process::{Command, Output};

use cnb_formats::analyzed::Analyzed;
use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;

fn setup(target_arch: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    std::fs::create_dir_all(&layers).unwrap();
    std::fs::write(
        layers.join("group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    std::fs::write(
        layers.join("analyzed.toml"),
        format!("[run-image]\nreference = \"\"\n[run-image.target]\nos = \"linux\"\narch = \"{target_arch}\"\n"),
    )
    .unwrap();
    dir
}

fn restorer(dir: &std::path::Path, reg: &Registry, papi: &str, args: &[&str]) -> Output {
    let auth = format!(r#"{{"{}":"{}"}}"#, reg.host(), reg.basic_header().unwrap());
    Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", dir.join("layers").to_str().unwrap()])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", papi)
        .env("CNB_REGISTRY_AUTH", auth)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn registry_with_builder() -> (Registry, String, Vec<String>) {
    let reg = Registry::builder().basic_auth("tekton", "secret").start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().to_string()],
        auth: AuthSource::new(
            Some(&format!(
                r#"{{"{}":"{}"}}"#,
                reg.host(),
                reg.basic_header().unwrap()
            )),
            None,
        )
        .unwrap(),
        ..Default::default()
    })
    .unwrap();
    let builder = reg.image("cnb/builder:latest");
    let (_, children) = save_run_index(&store, &builder, &four_platforms(), "b");
    let digests = children.iter().map(|c| c.digest.to_string()).collect();
    (reg, builder, digests)
}

#[test]
fn records_the_build_images_child_for_the_recorded_target() {
    let (reg, builder, digests) = registry_with_builder();
    let dir = setup("arm64");
    let out = restorer(
        dir.path(),
        &reg,
        "0.13",
        &["-build-image", &builder, "-insecure-registry", reg.host()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    let recorded = a.build_image.unwrap().reference;
    assert_eq!(
        recorded,
        format!("{}/cnb/builder@{}", reg.host(), digests[1]),
        "the arm64 child, by digest"
    );
    assert!(a.run_image.is_some(), "the rest of analyzed.toml is kept");
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cnb/nothing:here"), "{}", text(&out));
}

#[test]
fn is_not_a_flag_before_platform_api_0_10() {
    let (reg, builder, _) = registry_with_builder();
    let dir = setup("amd64");
    let out = restorer(dir.path(), &reg, "0.9", &["-build-image", &builder]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    assert!(a.build_image.is_none());
}
