//! Each detection rule with the buildpacks in testdata/buildpacks/detector (and the samples).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use cnb_formats::group::Group;
use cnb_formats::plan::Plan;
use cnb_test_support::testdata_dir;

const UID: u32 = 1000;

struct World {
    _dir: tempfile::TempDir,
    layers: PathBuf,
    app: PathBuf,
}

fn world(with_run_sh: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    let app = dir.path().join("workspace");
    std::fs::create_dir_all(&layers).unwrap();
    std::fs::create_dir_all(dir.path().join("platform/env")).unwrap();
    std::fs::write(
        dir.path().join("platform/env/FROM_PLATFORM"),
        "platform-value",
    )
    .unwrap();
    std::fs::create_dir_all(&app).unwrap();
    if with_run_sh {
        std::fs::write(app.join("run.sh"), "#!/bin/sh\n").unwrap();
    }
    cnb_os::ensure_owner(UID, UID, &[dir.path()]).unwrap();
    World {
        _dir: dir,
        layers,
        app,
    }
}

fn detector(
    w: &World,
    papi: &str,
    buildpacks: &Path,
    order: &Path,
    extra: &[&str],
    root: bool,
) -> Output {
    let platform = w.layers.parent().unwrap().join("platform");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detector"));
    cmd.args([
        "-layers",
        w.layers.to_str().unwrap(),
        "-app",
        w.app.to_str().unwrap(),
        "-platform",
        platform.to_str().unwrap(),
    ])
    .args([
        "-buildpacks",
        buildpacks.to_str().unwrap(),
        "-order",
        order.to_str().unwrap(),
    ])
    .args(extra)
    .env_clear()
    .env("CNB_PLATFORM_API", papi)
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("CNB_SECRET", "do not pass");
    if !root {
        cmd.uid(UID).gid(UID);
    }
    cmd.output().unwrap()
}

fn det(w: &World, papi: &str, order: &str, extra: &[&str]) -> Output {
    let bps = testdata_dir().join("buildpacks/detector");
    detector(
        w,
        papi,
        &bps,
        &bps.join("orders").join(format!("{order}.toml")),
        extra,
        false,
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn group(w: &World) -> Vec<String> {
    Group::read(&w.layers.join("group.toml"))
        .unwrap()
        .group
        .iter()
        .map(|e| e.name())
        .collect()
}

#[test]
fn the_samples_detect_through_the_composite() {
    if !cnb_os::is_root() {
        return;
    }
    let bps = testdata_dir().join("buildpacks");
    let w = world(true);
    let o = detector(&w, "0.15", &bps, &bps.join("order.toml"), &[], false);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        group(&w),
        ["samples/hello-world@0.0.1", "samples/hello-processes@0.0.1"]
    );
    let g = Group::read(&w.layers.join("group.toml")).unwrap();
    assert_eq!(g.group[0].api, "0.10");
    let plan: Plan = cnb_formats::read_toml(&w.layers.join("plan.toml")).unwrap();
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(plan.entries[0].providers[0].id, "samples/hello-world");
    assert_eq!(
        plan.entries[0].requires[0].metadata["greeting"].as_str(),
        Some("hello from the build plan")
    );
    // Without run.sh the optional hello-processes fails and is left out.
    let w = world(false);
    let o = detector(&w, "0.15", &bps, &bps.join("order.toml"), &[], false);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["samples/hello-world@0.0.1"]);
}

#[test]
fn exit_codes_20_21_12_and_root() {
    if !cnb_os::is_root() {
        return;
    }
    let w = world(false);
    let o = det(&w, "0.15", "all-fail", &[]);
    assert_eq!(o.status.code(), Some(20), "{}", text(&o));
    assert!(text(&o).contains("fail: det/fail@1"), "{}", text(&o));
    assert!(
        text(&o).contains("fail says why"),
        "the output of failed detects is shown: {}",
        text(&o)
    );
    let o = det(&w, "0.15", "with-error", &[]);
    assert_eq!(o.status.code(), Some(21), "{}", text(&o));
    assert!(text(&o).contains("error output"), "{}", text(&o));
    let o = det(&w, "0.15", "bad-api", &[]);
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    let bps = testdata_dir().join("buildpacks/detector");
    let o = detector(
        &w,
        "0.15",
        &bps,
        &bps.join("orders/optional-fail.toml"),
        &[],
        true,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refusing to run as root"), "{}", text(&o));
}

#[test]
fn optional_buildpacks_composites_and_plan_rules() {
    if !cnb_os::is_root() {
        return;
    }
    let w = world(false);
    assert!(det(&w, "0.15", "optional-fail", &[]).status.success());
    assert_eq!(group(&w), ["det/pass@1"]);
    let o = det(&w, "0.15", "plan", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan: Plan = cnb_formats::read_toml(&w.layers.join("plan.toml")).unwrap();
    assert_eq!(plan.entries[0].providers[0].id, "det/provides-x");
    assert_eq!(plan.entries[0].requires[0].name, "x");
    let o = det(&w, "0.15", "requires-first", &[]);
    assert_eq!(
        o.status.code(),
        Some(20),
        "a require before its provide does not resolve: {}",
        text(&o)
    );
    let o = det(&w, "0.15", "or", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan: Plan = cnb_formats::read_toml(&w.layers.join("plan.toml")).unwrap();
    assert_eq!(
        plan.entries[0].requires[0].name, "y",
        "the `or` alternative was used"
    );
    // The composite's first group fails; its second passes without its optional member.
    let o = det(&w, "0.15", "composite", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/pass@1"]);
}

#[test]
fn detects_run_in_parallel_and_are_cached_across_groups() {
    if !cnb_os::is_root() {
        return;
    }
    let w = world(false);
    let start = Instant::now();
    assert!(det(&w, "0.15", "parallel", &[]).status.success());
    assert!(
        start.elapsed().as_millis() < 1800,
        "two 1 s detects took {:?}",
        start.elapsed()
    );
    let o = det(&w, "0.15", "cached", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(w.app.join("detect-counter")).unwrap(),
        "ran\n",
        "detect ran once for two groups"
    );
}

#[test]
fn environment_and_targets() {
    if !cnb_os::is_root() {
        return;
    }
    let w = world(false);
    std::fs::write(
        w.layers.join("analyzed.toml"),
        "[run-image]\nreference = \"r@sha256:00\"\n[run-image.target]\nos = \"linux\"\narch = \"arm64\"\narch-variant = \"v8\"\n[run-image.target.distro]\nname = \"ubuntu\"\nversion = \"22.04\"\n",
    )
    .unwrap();
    std::os::unix::fs::chown(w.layers.join("analyzed.toml"), Some(UID), Some(UID)).unwrap();
    assert!(det(&w, "0.15", "env", &[]).status.success());
    let seen = std::fs::read_to_string(w.app.join("detect-env")).unwrap();
    for line in [
        "CNB_TARGET_OS=linux",
        "CNB_TARGET_ARCH=arm64",
        "CNB_TARGET_ARCH_VARIANT=v8",
        "CNB_TARGET_DISTRO_NAME=ubuntu",
        "CNB_TARGET_DISTRO_VERSION=22.04",
        "FROM_PLATFORM=platform-value",
        "CNB_EXEC_ENV=production",
    ] {
        assert!(
            seen.lines().any(|l| l == line),
            "missing {line} in:\n{seen}"
        );
    }
    assert!(!seen.contains("CNB_SECRET"), "{seen}");
    assert!(
        seen.contains("CNB_BUILD_PLAN_PATH=") && seen.contains("CNB_BUILDPACK_DIR="),
        "{seen}"
    );

    // The arm64-only buildpack matches the arm64 run image, and not an amd64 one (exit 21).
    assert!(det(&w, "0.15", "arm64", &[]).status.success());
    std::fs::write(w.layers.join("analyzed.toml"), "[run-image]\nreference = \"r@sha256:00\"\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n").unwrap();
    let o = det(&w, "0.15", "arm64", &[]);
    assert_eq!(o.status.code(), Some(21), "{}", text(&o));
    assert!(
        text(&o).contains("unable to satisfy target os/arch constraints"),
        "{}",
        text(&o)
    );
    // Below Platform API 0.12 targets are not checked.
    assert!(det(&w, "0.11", "arm64", &[]).status.success());
}

#[test]
fn exec_env_and_system_buildpacks() {
    if !cnb_os::is_root() {
        return;
    }
    let w = world(false);
    // The test-only buildpack is skipped in production, kept in test.
    assert!(det(&w, "0.15", "exec-env", &[]).status.success());
    assert_eq!(group(&w), ["det/pass@1"]);
    let bps = testdata_dir().join("buildpacks/detector");
    let mut o = Command::new(env!("CARGO_BIN_EXE_detector"));
    o.args([
        "-layers",
        w.layers.to_str().unwrap(),
        "-app",
        w.app.to_str().unwrap(),
        "-buildpacks",
        bps.to_str().unwrap(),
        "-order",
        bps.join("orders/exec-env.toml").to_str().unwrap(),
    ])
    .env_clear()
    .env("CNB_PLATFORM_API", "0.15")
    .env("CNB_EXEC_ENV", "test")
    .env("PATH", "/usr/bin:/bin")
    .uid(UID)
    .gid(UID);
    assert!(o.output().unwrap().status.success());
    assert_eq!(group(&w), ["det/test-only@1", "det/pass@1"]);

    let system = bps.join("system.toml");
    assert!(
        det(
            &w,
            "0.15",
            "optional-fail",
            &["-system", system.to_str().unwrap()]
        )
        .status
        .success()
    );
    assert_eq!(
        group(&w),
        ["det/system-pre@1", "det/pass@1", "det/system-post@1"]
    );
    let o = det(
        &w,
        "0.14",
        "optional-fail",
        &["-system", system.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "-system is 0.15+: {}", text(&o));
}

#[test]
fn image_extensions_are_refused_clearly() {
    if !cnb_os::is_root() {
        return;
    }
    let w = world(false);
    let order = w.layers.join("order-with-ext.toml");
    std::fs::write(&order, "[[order]]\n[[order.group]]\nid = \"det/pass\"\nversion = \"1\"\n\n[[order-extensions]]\n[[order-extensions.group]]\nid = \"ext/curl\"\nversion = \"1\"\n").unwrap();
    let o = detector(
        &w,
        "0.15",
        &testdata_dir().join("buildpacks/detector"),
        &order,
        &[],
        false,
    );
    assert_eq!(o.status.code(), Some(22), "{}", text(&o));
    assert!(
        text(&o).contains("image extensions are not supported yet"),
        "{}",
        text(&o)
    );
}
