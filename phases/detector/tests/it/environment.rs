//! What a buildpack's `/bin/detect` sees, targets and execution environments.

use crate::harness::*;

const ARM64_JAMMY: &str = "os = \"linux\"\narch = \"arm64\"\narch-variant = \"v8\"\n[run-image.target.distro]\nname = \"ubuntu\"\nversion = \"22.04\"\n";
const AMD64: &str = "os = \"linux\"\narch = \"amd64\"\n";

fn lines(w: &World, file: &str) -> Vec<String> {
    std::fs::read_to_string(w.app.join(file))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn detect_gets_the_filtered_env_platform_env_build_config_and_cnb_variables() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    analyzed(&w, ARM64_JAMMY);
    let build_config = w.dir.path().join("build-config");
    std::fs::create_dir_all(build_config.join("env")).unwrap();
    std::fs::write(build_config.join("env/FROM_BUILD_CONFIG"), "bc-value").unwrap();
    chown(w.dir.path());
    let o = det(
        &w,
        "0.15",
        "env",
        &["-build-config", build_config.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let seen = lines(&w, "detect-env");
    let bp_dir = fixtures().join("det_env-dump/1");
    for line in [
        "CNB_TARGET_OS=linux".to_string(),
        "CNB_TARGET_ARCH=arm64".into(),
        "CNB_TARGET_ARCH_VARIANT=v8".into(),
        "CNB_TARGET_DISTRO_NAME=ubuntu".into(),
        "CNB_TARGET_DISTRO_VERSION=22.04".into(),
        "FROM_PLATFORM=platform-value".into(),
        "FROM_BUILD_CONFIG=bc-value".into(),
        "CNB_EXEC_ENV=production".into(),
        format!("CNB_BUILDPACK_DIR={}", bp_dir.display()),
        format!("CNB_PLATFORM_DIR={}", w.platform.display()),
        format!("PWD={}", w.app.display()),
    ] {
        assert!(seen.contains(&line), "missing {line} in:\n{seen:#?}");
    }
    assert!(
        seen.iter().any(|l| l.starts_with("CNB_BUILD_PLAN_PATH=/")),
        "{seen:#?}"
    );
    for absent in ["CNB_SECRET", "CNB_PLATFORM_API", "CNB_TARGET_ID"] {
        assert!(
            !seen.iter().any(|l| l.starts_with(absent)),
            "{absent}: {seen:#?}"
        );
    }
}

#[test]
fn older_buildpack_apis_get_fewer_variables_and_clear_env_skips_the_platform_env() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    analyzed(&w, AMD64);
    let o = det(&w, "0.15", "env-old", &[]);
    assert!(o.status.success(), "{}", text(&o));
    // Buildpack API 0.7: no CNB_PLATFORM_DIR, CNB_BUILD_PLAN_PATH, CNB_TARGET_* or CNB_EXEC_ENV.
    let old = lines(&w, "detect-env-old");
    assert!(
        old.iter().any(|l| l.starts_with("CNB_BUILDPACK_DIR=")),
        "{old:#?}"
    );
    assert!(
        old.contains(&"FROM_PLATFORM=platform-value".to_string()),
        "{old:#?}"
    );
    for absent in [
        "CNB_PLATFORM_DIR",
        "CNB_BUILD_PLAN_PATH",
        "CNB_TARGET_",
        "CNB_EXEC_ENV",
    ] {
        assert!(
            !old.iter().any(|l| l.starts_with(absent)),
            "{absent}: {old:#?}"
        );
    }
    // clear-env: everything but the platform's env.
    let clear = lines(&w, "detect-env-clear");
    assert!(
        clear.contains(&"CNB_TARGET_ARCH=amd64".to_string()),
        "{clear:#?}"
    );
    assert!(
        !clear.iter().any(|l| l.starts_with("FROM_PLATFORM")),
        "{clear:#?}"
    );
}

#[test]
fn a_run_image_without_distro_gets_the_build_containers() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    analyzed(&w, AMD64);
    let o = det(&w, "0.15", "env", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let seen = lines(&w, "detect-env");
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        release
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    if let (Some(id), Some(version)) = (field("ID"), field("VERSION_ID")) {
        assert!(
            seen.contains(&format!("CNB_TARGET_DISTRO_NAME={id}")),
            "{seen:#?}"
        );
        assert!(
            seen.contains(&format!("CNB_TARGET_DISTRO_VERSION={version}")),
            "{seen:#?}"
        );
    }
    assert!(
        seen.contains(&"CNB_TARGET_ARCH=amd64".to_string()),
        "{seen:#?}"
    );
}

#[test]
fn without_analyzed_toml_the_target_is_the_hosts() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "env", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let host = cnb_image::Target::host().arch;
    assert!(
        lines(&w, "detect-env").contains(&format!("CNB_TARGET_ARCH={host}")),
        "{:#?}",
        lines(&w, "detect-env")
    );
}

#[test]
fn targets_must_admit_the_run_image() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    analyzed(&w, ARM64_JAMMY);
    let o = det(&w, "0.15", "arm64", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/arm64-only@1"]);

    analyzed(&w, AMD64);
    let o = det(&w, "0.15", "arm64", &[]);
    assert_eq!(o.status.code(), Some(21), "{}", text(&o));
    assert!(
        text(&o).contains(r#"unable to satisfy target os/arch constraints; run image: {"os":"linux","arch":"amd64""#),
        "{}",
        text(&o)
    );
    // Below Platform API 0.12 targets are not checked.
    let o = det(&w, "0.11", "arm64", &[]);
    assert!(o.status.success(), "{}", text(&o));
    // An optional buildpack is not held back by its targets: its detect runs (as upstream).
    let o = det(&w, "0.15", "arm64-optional", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/arm64-only@1", "det/pass@1"]);
}

#[test]
fn buildpacks_for_another_exec_env_are_skipped() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "exec-env", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/pass@1"]);
    let bps = fixtures();
    let order = bps.join("orders/exec-env.toml");
    let o = command(&w, "0.15", &bps, &order)
        .env("CNB_EXEC_ENV", "test")
        .run();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/test-only@1", "det/pass@1"]);
    // Before Platform API 0.15 exec-env is not looked at.
    let o = command(&w, "0.14", &bps, &order).run();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/test-only@1", "det/pass@1"]);
}

#[test]
fn a_variable_that_is_not_utf8_does_not_stop_detection() {
    use std::os::unix::ffi::OsStrExt;
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let bps = fixtures();
    let o = command(&w, "0.15", &bps, &bps.join("orders/optional-fail.toml"))
        .env(
            std::ffi::OsStr::from_bytes(b"BAD_\xff"),
            std::ffi::OsStr::from_bytes(b"\xfe\xff"),
        )
        .env("GOOD", std::ffi::OsStr::from_bytes(b"\xc3\x28"))
        .run();
    o.assert_ok();
    assert_eq!(group(&w), ["det/pass@1"]);
}
