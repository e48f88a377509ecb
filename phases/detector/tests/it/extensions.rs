//! Image extensions: `[[order-extensions]]` before every group, their detection, and the
//! generate step the detector runs after a group with extensions passed.

use std::path::{Path, PathBuf};

use cnb_formats::analyzed::Analyzed;
use cnb_formats::group::Group;
use cnb_test_support::testdata_dir;

use crate::harness::*;

fn extensions_dir() -> PathBuf {
    testdata_dir().join("extensions")
}

/// Runs the detector at `papi` with an order of `extensions` (one group) before `buildpacks`
/// (one group), the fixture extensions dir and `env`.
fn run(
    w: &World,
    papi: &str,
    extensions: &[&str],
    buildpacks: &[&str],
    env: &[(&str, &str)],
) -> PhaseOutput {
    let mut text = String::from("[[order]]\n");
    for id in buildpacks {
        text.push_str(&format!(
            "[[order.group]]\nid = \"{id}\"\nversion = \"1\"\n"
        ));
    }
    text.push_str("[[order-extensions]]\n");
    for id in extensions {
        text.push_str(&format!(
            "[[order-extensions.group]]\nid = \"{id}\"\nversion = \"1\"\n"
        ));
    }
    let order = w.dir.path().join("order.toml");
    std::fs::write(&order, text).unwrap();
    chown(&order);
    let mut cmd = command(w, papi, &fixtures(), &order);
    if papi != "0.9" {
        cmd = cmd.arg("-extensions").arg(extensions_dir());
    }
    cmd.envs(env.iter().copied()).run()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_run_dockerfile_that_is_only_from_switches_the_run_image() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    analyzed(&w, "os = \"linux\"\narch = \"amd64\"\n");
    let o = run(
        &w,
        "0.13",
        &["ext/fail", "ext/switch-run"],
        &["det/pass"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The failing extension is skipped, the group still passes; extensions get their own table.
    let g = Group::read(&w.layers.join("group.toml")).unwrap();
    assert_eq!(group(&w), ["det/pass@1"]);
    let exts: Vec<(String, &str, &str)> = g
        .group_extensions
        .iter()
        .map(|e| (e.name(), e.api.as_str(), e.homepage.as_str()))
        .collect();
    assert_eq!(
        exts,
        [(
            "ext/switch-run@1".to_string(),
            "0.10",
            "https://example.com/ext/switch-run"
        )]
    );
    // As upstream, neither `optional` nor `extension` is written.
    let raw = read(&w.layers.join("group.toml"));
    assert!(raw.contains("[[group-extensions]]"), "{raw}");
    assert!(
        !raw.contains("optional") && !raw.contains("extension ="),
        "{raw}"
    );

    // Platform API 0.13+: the extension wrote straight into <generated>/<id>/.
    let generated = w.layers.join("generated");
    assert_eq!(
        read(&generated.join("ext_switch-run/run.Dockerfile")),
        "FROM example.com/other-run:2\n"
    );
    let a = Analyzed::read(&w.layers.join("analyzed.toml")).unwrap();
    let run = a.run_image.unwrap();
    assert_eq!(run.image, "example.com/other-run:2");
    assert_eq!(run.reference, "example.com/other-run:2");
    assert!(!run.extend);
    // The build's platform stays (the restorer resolves the new image's child for it); the old
    // image's id and distro go.
    let t = run.target.expect("the build's platform stays recorded");
    assert_eq!((t.os.as_str(), t.arch.as_str()), ("linux", "amd64"));
    assert!(t.distro.is_none() && t.id.is_empty(), "{t:?}");
    assert!(text(&o).contains("switching the run image"), "{}", text(&o));
}

#[test]
fn a_run_dockerfile_with_instructions_extends_the_run_image_and_meets_requires() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    analyzed(&w, "os = \"linux\"\narch = \"amd64\"\n");
    let o = run(&w, "0.14", &["ext/extend"], &["det/requires-x"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let generated = w.layers.join("generated");
    let dir = generated.join("ext_extend");
    assert!(
        read(&dir.join("build.Dockerfile")).starts_with("ARG base_image\nFROM ${base_image}\n")
    );
    assert!(read(&dir.join("run.Dockerfile")).contains("RUN apt-get update"));
    assert!(read(&dir.join("extend-config.toml")).contains("tree_version"));

    let a = Analyzed::read(&w.layers.join("analyzed.toml")).unwrap();
    let run = a.run_image.unwrap();
    assert!(run.extend);
    assert_eq!(run.reference, "r@sha256:00", "the run image itself is kept");
    assert!(run.target.is_some());

    // What the extension provided is met: the buildpacks' plan no longer has it.
    assert!(
        plan(&w)
            .entries
            .iter()
            .all(|e| e.requires.iter().all(|r| r.name != "x"))
    );

    // Upstream's inputs: args, cwd, env.
    let env = read(&generated.join("ext-extend.env"));
    let ext = extensions_dir().join("ext_extend/1");
    for want in [
        format!("args={} {} ", dir.display(), w.platform.display()),
        format!("pwd={}", w.app.display()),
        format!("CNB_EXTENSION_DIR={}", ext.display()),
        format!("CNB_OUTPUT_DIR={}", dir.display()),
        format!("CNB_PLATFORM_DIR={}", w.platform.display()),
        "CNB_TARGET_OS=linux".into(),
        "FROM_PLATFORM=platform-value".into(),
        "name = \"x\"".into(),
    ] {
        assert!(env.contains(&want), "missing {want:?} in\n{env}");
    }
}

#[test]
fn the_last_run_image_switch_wins_and_earlier_run_dockerfiles_are_ignored() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    analyzed(&w, "os = \"linux\"\narch = \"amd64\"\n");
    let o = run(
        &w,
        "0.13",
        &["ext/extend", "ext/switch-run"],
        &["det/requires-x"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let generated = w.layers.join("generated");
    // ext/extend's run.Dockerfile comes before the switch: it has no effect.
    assert!(generated.join("ext_extend/run.Dockerfile.ignore").is_file());
    assert!(!generated.join("ext_extend/run.Dockerfile").exists());
    assert!(generated.join("ext_extend/build.Dockerfile").is_file());
    assert!(generated.join("ext_switch-run/run.Dockerfile").is_file());
    let run = Analyzed::read(&w.layers.join("analyzed.toml"))
        .unwrap()
        .run_image
        .unwrap();
    assert_eq!(run.image, "example.com/other-run:2");
    assert!(!run.extend, "the ignored run.Dockerfile does not extend");
    let names: Vec<String> = Group::read(&w.layers.join("group.toml"))
        .unwrap()
        .group_extensions
        .iter()
        .map(|e| e.name())
        .collect();
    assert_eq!(names, ["ext/extend@1", "ext/switch-run@1"]);
}

#[test]
fn below_platform_api_0_13_dockerfiles_go_to_the_older_layout_when_experimental_is_allowed() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    let o = run(&w, "0.12", &["ext/extend"], &["det/requires-x"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("experimental features are disabled by CNB_EXPERIMENTAL_MODE=error"),
        "{}",
        text(&o)
    );

    let o = run(
        &w,
        "0.12",
        &["ext/extend"],
        &["det/requires-x"],
        &[("CNB_EXPERIMENTAL_MODE", "warn")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("experimental feature 'Dockerfiles'"),
        "{}",
        text(&o)
    );
    let generated = w.layers.join("generated");
    assert!(read(&generated.join("build/ext_extend/Dockerfile")).contains("RUN echo built"));
    assert!(read(&generated.join("run/ext_extend/Dockerfile")).contains("RUN apt-get"));
    assert!(
        generated
            .join("build/ext_extend/extend-config.toml")
            .is_file()
    );
    assert!(!generated.join("ext_extend").exists());
}

#[test]
fn an_invalid_build_dockerfile_fails_with_exit_92_and_one_line() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    let o = run(&w, "0.13", &["ext/bad-build"], &["det/pass"], &[]);
    assert_eq!(o.status.code(), Some(92), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("build.Dockerfile did not start with required ARG command"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("ext/bad-build@1"), "{line}");

    let o = run(&w, "0.13", &["ext/generate-fails"], &["det/pass"], &[]);
    assert_eq!(o.status.code(), Some(91), "{}", text(&o));
    assert!(
        text(&o).contains("bin/generate exited with 3"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_shared_build_context_with_an_image_specific_one_is_refused_with_exit_92() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    let o = run(&w, "0.13", &["ext/both-contexts"], &["det/pass"], &[]);
    assert_eq!(o.status.code(), Some(92), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("'context.build' is provided together with a shared context"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("ext/both-contexts@1"), "{line}");
}

#[test]
fn below_platform_api_0_10_extensions_are_refused() {
    assert!(can_switch_user(), "this test needs root: it switches users");
    let w = world(false);
    let o = run(
        &w,
        "0.9",
        &["ext/switch-run"],
        &["det/pass"],
        &[("CNB_EXPERIMENTAL_MODE", "warn")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("image extensions need platform api 0.10"),
        "{}",
        text(&o)
    );
    assert!(!w.layers.join("group.toml").exists());
}
