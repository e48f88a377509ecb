//! The analyzer against a real registry (Debian's docker-registry on loopback).

use std::process::{Command, Output};

use cnb_formats::analyzed::Analyzed;
use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
use cnb_image::{Digest, IndexOptions, Target, TargetRequest, TargetSource, add_to_index};
use cnb_test_support::fixtures::{eight_platforms, four_platforms, image, save_run_index};
use cnb_test_support::registry::Registry;

fn store(reg: &Registry) -> RegistryStore {
    let auth = AuthSource::new(
        reg.basic_header()
            .map(|h| format!(r#"{{"{}":"{h}"}}"#, reg.host()))
            .as_deref(),
        None,
    )
    .unwrap();
    RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().to_string()],
        auth,
        ..Default::default()
    })
    .unwrap()
}

fn analyzer(layers: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(["-layers", layers.to_str().unwrap()])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.13")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn records_the_arm64_child_of_a_registry_index() {
    let reg = Registry::start();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store(&reg), &run, &four_platforms(), "r");
    let layers = tempfile::tempdir().unwrap();
    let out = analyzer(
        layers.path(),
        &[],
        &[
            "-insecure-registry",
            reg.host(),
            "-arch",
            "arm64",
            "-run-image",
            &run,
            &reg.image("cnb/app"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let an = Analyzed::read(&layers.path().join("analyzed.toml")).unwrap();
    let r = an.run_image.unwrap();
    assert_eq!(
        r.reference,
        format!("{}/cnb/run@{}", reg.host(), children[1].digest)
    );
    assert_eq!(r.target.unwrap().arch, "arm64");
    // What was recorded opens to the same child through the registry.
    let img = cnb_image::open(
        &store(&reg),
        &r.reference,
        &TargetRequest::new(Target::new("linux", "arm64", None), TargetSource::Recorded),
    )
    .unwrap()
    .required("x")
    .unwrap();
    assert_eq!(img.digest(), &children[1].digest);
}

#[test]
fn credentials_come_from_cnb_registry_auth_and_a_refusal_exits_32() {
    let reg = Registry::builder().basic_auth("cnb", "s3cret").start();
    let run = reg.image("cnb/run:multi");
    save_run_index(&store(&reg), &run, &four_platforms(), "r");
    let layers = tempfile::tempdir().unwrap();
    let insecure = [("CNB_INSECURE_REGISTRIES", reg.host())];
    let out = analyzer(
        layers.path(),
        &insecure,
        &["-arch", "amd64", "-run-image", &run, &reg.image("cnb/app")],
    );
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unauthorized"),
        "{}",
        text(&out.stderr)
    );
    let auth = format!(r#"{{"{}":"{}"}}"#, reg.host(), reg.basic_header().unwrap());
    let out = analyzer(
        layers.path(),
        &[insecure[0], ("CNB_REGISTRY_AUTH", &auth)],
        &["-arch", "amd64", "-run-image", &run, &reg.image("cnb/app")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        Analyzed::read(&layers.path().join("analyzed.toml"))
            .unwrap()
            .target()
            .unwrap()
            .arch,
        "amd64"
    );
    let out = analyzer(
        layers.path(),
        &[insecure[0], ("CNB_REGISTRY_AUTH", "not json")],
        &["-run-image", &run, &reg.image("cnb/app")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("CNB_REGISTRY_AUTH"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn output_names_must_be_writable_before_anything_is_built() {
    let open_reg = Registry::start();
    let locked = Registry::builder().basic_auth("cnb", "s3cret").start();
    let run = open_reg.image("cnb/run:multi");
    save_run_index(&store(&open_reg), &run, &four_platforms(), "r");
    let layers = tempfile::tempdir().unwrap();
    let insecure = format!("{},{}", open_reg.host(), locked.host());
    let env = [("CNB_INSECURE_REGISTRIES", insecure.as_str())];
    // The app image goes to a registry we have no credentials for.
    let app = locked.image("cnb/app");
    let out = analyzer(
        layers.path(),
        &env,
        &["-arch", "arm64", "-run-image", &run, &app],
    );
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("no write access to '{app}'")) && err.contains("unauthorized"),
        "{err}"
    );
    assert!(!layers.path().join("analyzed.toml").exists());
    // A tag or cache image there is refused the same way.
    let out = analyzer(
        layers.path(),
        &env,
        &[
            "-arch",
            "arm64",
            "-run-image",
            &run,
            "-tag",
            &locked.image("cnb/app:t"),
            &open_reg.image("cnb/app"),
        ],
    );
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    let out = analyzer(
        layers.path(),
        &env,
        &[
            "-arch",
            "arm64",
            "-run-image",
            &run,
            "-cache-image",
            &locked.image("cnb/cache"),
            &open_reg.image("cnb/app"),
        ],
    );
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    // With credentials for it, it passes.
    let auth = format!(
        r#"{{"{}":"{}"}}"#,
        locked.host(),
        locked.basic_header().unwrap()
    );
    let out = analyzer(
        layers.path(),
        &[env[0], ("CNB_REGISTRY_AUTH", &auth)],
        &["-arch", "arm64", "-run-image", &run, &app],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn older_platform_apis_use_stack_toml_and_record_no_target() {
    let reg = Registry::start();
    let run = reg.image("cnb/run:multi");
    save_run_index(&store(&reg), &run, &four_platforms(), "r");
    let layers = tempfile::tempdir().unwrap();
    let stack = layers.path().join("stack.toml");
    std::fs::write(&stack, format!("[run-image]\nimage = \"{run}\"\n")).unwrap();
    for papi in ["0.7", "0.11"] {
        let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
            .args([
                "-layers",
                layers.path().to_str().unwrap(),
                "-stack",
                stack.to_str().unwrap(),
                "-arch",
                "arm64",
                &reg.image("cnb/app"),
            ])
            .env_clear()
            .env("CNB_PLATFORM_API", papi)
            .env("CNB_INSECURE_REGISTRIES", reg.host())
            .output()
            .unwrap();
        assert!(out.status.success(), "{papi}: {}", text(&out.stderr));
        let r = Analyzed::read(&layers.path().join("analyzed.toml"))
            .unwrap()
            .run_image
            .unwrap();
        assert!(
            r.target.is_none() && r.image.is_empty(),
            "{papi}: no target or image name below 0.12"
        );
        assert!(
            r.reference
                .starts_with(&format!("{}/cnb/run@sha256:", reg.host())),
            "{papi}: {}",
            r.reference
        );
    }
}

#[test]
fn docker_config_credentials_are_read_before_dropping_to_the_build_user() {
    use std::os::unix::fs::PermissionsExt;
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let reg = Registry::builder().basic_auth("cnb", "s3cret").start();
    let run = reg.image("cnb/run:multi");
    save_run_index(&store(&reg), &run, &four_platforms(), "r");
    let config = tempfile::tempdir().unwrap();
    let (user, pass) = reg.credentials().unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    std::fs::write(
        config.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    std::fs::set_permissions(config.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let layers = tempfile::tempdir().unwrap();
    let out = analyzer(
        layers.path(),
        &[
            ("CNB_INSECURE_REGISTRIES", reg.host()),
            ("DOCKER_CONFIG", config.path().to_str().unwrap()),
        ],
        &[
            "-uid",
            "1000",
            "-gid",
            "1000",
            "-arch",
            "arm64",
            "-run-image",
            &run,
            &reg.image("cnb/app"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_previous_image_that_is_an_index_written_by_index_resolves_to_the_builds_child() {
    let reg = Registry::start();
    let store = store(&reg);
    let run = reg.image("cnb/run:multi");
    let platforms = eight_platforms();
    save_run_index(&store, &run, &platforms, "r");
    let index = reg.image("cnb/app:latest");
    let mut digests = Vec::new();
    for t in &platforms[..3] {
        // Each platform's app image records its own app layer, so the metadata tells them apart.
        let label = format!(
            r#"{{"app":[{{"sha":"{}"}}]}}"#,
            Digest::of(t.to_string().as_bytes())
        );
        let name = reg.image(&format!("cnb/app:{}", t.arch));
        let saved = image(
            t,
            &[("/app", "x")],
            &[("io.buildpacks.lifecycle.metadata", &label)],
        )
        .save(&store, std::slice::from_ref(&name))
        .unwrap();
        add_to_index(
            &store,
            &index,
            &name,
            &saved.manifest,
            t,
            &IndexOptions::default(),
        )
        .unwrap();
        digests.push(saved.digest);
    }
    let layers = tempfile::tempdir().unwrap();
    let out = analyzer(
        layers.path(),
        &[],
        &[
            "-insecure-registry",
            reg.host(),
            "-arch",
            "arm64",
            "-run-image",
            &run,
            "-previous-image",
            &index,
            &reg.image("cnb/app:arm64"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let an = Analyzed::read(&layers.path().join("analyzed.toml")).unwrap();
    assert_eq!(
        an.image.unwrap().reference,
        format!("{}/cnb/app@{}", reg.host(), digests[1]),
        "the arm64 child, in the index's repository"
    );
    assert_eq!(
        an.metadata.app[0].sha,
        Digest::of(platforms[1].to_string().as_bytes()).to_string()
    );
}
