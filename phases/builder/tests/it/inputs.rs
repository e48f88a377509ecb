//! The builder's input files: what must exist before any buildpack runs.

use cnb_test_support::testdata_dir;

use crate::samples::{SAMPLES_GROUP, SAMPLES_PLAN, builder, text, world};

#[test]
fn a_missing_plan_fails_before_any_buildpack_runs() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(SAMPLES_GROUP, SAMPLES_PLAN);
    let plan = w.layers.join("plan.toml");
    std::fs::remove_file(&plan).unwrap();
    let out = builder(&w, "0.15", &testdata_dir().join("buildpacks"), false);
    let stderr = text(&out.stderr);
    // Upstream: `failed to read plan file: open <path>: no such file or directory`, exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed to read plan file"), "{stderr}");
    assert!(stderr.contains(plan.to_str().unwrap()), "{stderr}");
    assert!(
        !text(&out.stdout).contains("---> Hello World buildpack"),
        "no buildpack ran"
    );
    assert!(!w.layers.join("config/metadata.toml").exists());
}

#[test]
fn a_missing_group_fails_with_exit_1() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(SAMPLES_GROUP, SAMPLES_PLAN);
    std::fs::remove_file(w.layers.join("group.toml")).unwrap();
    let out = builder(&w, "0.15", &testdata_dir().join("buildpacks"), false);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed to read group file"), "{stderr}");
}
