//! The analyzer against a real registry (Debian's docker-registry on loopback).

use cnb_image::{Digest, IndexOptions, Target, TargetRequest, TargetSource, add_to_index};
use cnb_test_support::fixtures::{eight_platforms, four_platforms, image, save_run_index};
use cnb_test_support::phase::require_root;
use cnb_test_support::registry::Registry;

use crate::harness::{PhaseOutput, analyzed, api_at_least, platform_apis};

fn analyzer(layers: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> PhaseOutput {
    crate::harness::analyzer("0.13", layers)
        .args(args)
        .envs(env.iter().copied())
        .run()
}

#[test]
fn records_the_arm64_child_of_a_registry_index() {
    let reg = Registry::start();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&reg.store(), &run, &four_platforms(), "r");
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
    out.assert_ok();
    let an = analyzed(layers.path());
    let r = an.run_image.unwrap();
    assert_eq!(
        r.reference,
        format!("{}/cnb/run@{}", reg.host(), children[1].digest)
    );
    assert_eq!(r.target.unwrap().arch, "arm64");
    // What was recorded opens to the same child through the registry.
    let img = cnb_image::open(
        &reg.store(),
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
    save_run_index(&reg.store(), &run, &four_platforms(), "r");
    let layers = tempfile::tempdir().unwrap();
    let insecure = [("CNB_INSECURE_REGISTRIES", reg.host())];
    let out = analyzer(
        layers.path(),
        &insecure,
        &["-arch", "amd64", "-run-image", &run, &reg.image("cnb/app")],
    );
    out.assert_exit(32);
    out.assert_output_has("unauthorized");
    let auth = format!(r#"{{"{}":"{}"}}"#, reg.host(), reg.basic_header().unwrap());
    let out = analyzer(
        layers.path(),
        &[insecure[0], ("CNB_REGISTRY_AUTH", &auth)],
        &["-arch", "amd64", "-run-image", &run, &reg.image("cnb/app")],
    );
    out.assert_ok();
    assert_eq!(analyzed(layers.path()).target().unwrap().arch, "amd64");
    let out = analyzer(
        layers.path(),
        &[insecure[0], ("CNB_REGISTRY_AUTH", "not json")],
        &["-run-image", &run, &reg.image("cnb/app")],
    );
    out.assert_exit(1);
    out.assert_output_has("CNB_REGISTRY_AUTH");
}

#[test]
fn output_names_must_be_writable_before_anything_is_built() {
    let open_reg = Registry::start();
    let locked = Registry::builder().basic_auth("cnb", "s3cret").start();
    let run = open_reg.image("cnb/run:multi");
    save_run_index(&open_reg.store(), &run, &four_platforms(), "r");
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
    out.assert_exit(32);
    let err = out.stderr();
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
    out.assert_exit(32);
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
    out.assert_exit(32);
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
    out.assert_ok();
}

/// At every Platform API: the run image from stack.toml (below 0.12, recorded by digest only)
/// or run.toml (with its name and target), and the previous image's metadata.
#[test]
fn every_platform_api_records_the_run_image_and_the_previous_image() {
    let reg = Registry::start();
    let run = reg.image("cnb/run:multi");
    save_run_index(&reg.store(), &run, &four_platforms(), "r");
    image(
        &Target::new("linux", "arm64", None),
        &[("/workspace/app.txt", "app")],
        &[(
            "io.buildpacks.lifecycle.metadata",
            r#"{"buildpacks":[{"key":"bp","version":"1","layers":{}}]}"#,
        )],
    )
    .save(&reg.store(), &[reg.image("cnb/app:latest")])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.toml");
    std::fs::write(&stack, format!("[run-image]\nimage = \"{run}\"\n")).unwrap();
    let run_toml = dir.path().join("run.toml");
    std::fs::write(&run_toml, format!("[[images]]\nimage = \"{run}\"\n")).unwrap();
    for papi in platform_apis() {
        let layers = dir.path().join(format!("layers-{papi}"));
        let run_images = match api_at_least(&papi, "0.12") {
            true => ("-run", &run_toml),
            false => ("-stack", &stack),
        };
        crate::harness::analyzer(&papi, &layers)
            .insecure_registry(reg.host())
            .flag(run_images.0, run_images.1)
            .args(["-arch", "arm64", &reg.image("cnb/app:latest")])
            .run()
            .assert_ok();
        let an = analyzed(&layers);
        let r = an.run_image.unwrap();
        assert!(
            r.reference
                .starts_with(&format!("{}/cnb/run@sha256:", reg.host())),
            "{papi}: {}",
            r.reference
        );
        match api_at_least(&papi, "0.12") {
            true => {
                assert_eq!(r.image, run, "{papi}");
                assert_eq!(r.target.unwrap().arch, "arm64", "{papi}");
            }
            false => assert!(
                r.target.is_none() && r.image.is_empty(),
                "{papi}: no target or image name below 0.12"
            ),
        }
        assert!(
            an.image
                .unwrap()
                .reference
                .starts_with(&format!("{}/cnb/app@sha256:", reg.host())),
            "{papi}"
        );
        assert_eq!(an.metadata.buildpacks[0].key, "bp", "{papi}");
    }
}

#[test]
fn docker_config_credentials_are_read_before_dropping_to_the_build_user() {
    use std::os::unix::fs::PermissionsExt;
    require_root("it chowns and switches users");
    let reg = Registry::builder().basic_auth("cnb", "s3cret").start();
    let run = reg.image("cnb/run:multi");
    save_run_index(&reg.store(), &run, &four_platforms(), "r");
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
    out.assert_ok();
}

#[test]
fn a_previous_image_that_is_an_index_written_by_index_resolves_to_the_builds_child() {
    let reg = Registry::start();
    let store = reg.store();
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
    out.assert_ok();
    let an = analyzed(layers.path());
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
