//! The samples in testdata/buildpacks, built for real.

use std::path::{Path, PathBuf};

use cnb_formats::metadata::LaunchMetadata;
use cnb_test_support::phase::{BUILD_UID, PhaseOutput, PhaseRun};
use cnb_test_support::testdata_dir;

pub(crate) const UID: u32 = BUILD_UID;

pub(crate) struct World {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) layers: PathBuf,
    pub(crate) app: PathBuf,
    pub(crate) platform: PathBuf,
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

pub(crate) fn world(group: &str, plan: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    let app = dir.path().join("workspace");
    let platform = dir.path().join("platform");
    std::fs::create_dir_all(&layers).unwrap();
    std::fs::create_dir_all(platform.join("env")).unwrap();
    copy_dir(&testdata_dir().join("apps/bash-script"), &app);
    std::fs::write(layers.join("group.toml"), group).unwrap();
    std::fs::write(layers.join("plan.toml"), plan).unwrap();
    std::fs::write(
        layers.join("analyzed.toml"),
        "[run-image]\nreference = \"r@sha256:00\"\n[run-image.target]\nos = \"linux\"\narch = \"arm64\"\narch-variant = \"v8\"\n[run-image.target.distro]\nname = \"ubuntu\"\nversion = \"22.04\"\n",
    )
    .unwrap();
    std::fs::write(platform.join("env/FROM_PLATFORM"), "yes").unwrap();
    cnb_os::ensure_owner(UID, UID, &[dir.path()]).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(UID), Some(UID)).unwrap();
    World {
        _dir: dir,
        layers,
        app,
        platform,
    }
}

pub(crate) const SAMPLES_GROUP: &str = "[[group]]\nid = \"samples/hello-world\"\nversion = \"0.0.1\"\napi = \"0.10\"\n\n[[group]]\nid = \"samples/hello-processes\"\nversion = \"0.0.1\"\napi = \"0.10\"\n";
pub(crate) const SAMPLES_PLAN: &str = "[[entries]]\n[[entries.providers]]\nid = \"samples/hello-world\"\nversion = \"0.0.1\"\n[[entries.requires]]\nname = \"hello\"\n[entries.requires.metadata]\ngreeting = \"hello from the build plan\"\n";

pub(crate) fn builder(w: &World, papi: &str, buildpacks: &Path, as_root: bool) -> PhaseOutput {
    let run = PhaseRun::new(env!("CARGO_BIN_EXE_builder"), papi)
        .args(["-layers", w.layers.to_str().unwrap()])
        .args(["-app", w.app.to_str().unwrap()])
        .args(["-platform", w.platform.to_str().unwrap()])
        .args(["-buildpacks", buildpacks.to_str().unwrap()])
        .env("CNB_SECRET_OF_THE_PLATFORM", "must not leak");
    match as_root {
        true => run.run(),
        false => run.user(UID, UID).run(),
    }
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn builds_the_samples_at_every_platform_api_and_writes_metadata() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    // The samples build at every Platform API; the rest is checked at the newest.
    for api in cnb_test_support::phase::platform_apis() {
        let w = world(SAMPLES_GROUP, SAMPLES_PLAN);
        builder(&w, &api, &testdata_dir().join("buildpacks"), false)
            .assert_ok()
            .assert_output_has("---> Hello Processes buildpack");
        assert!(
            w.layers.join("config/metadata.toml").is_file(),
            "platform api {api}"
        );
    }
    let w = world(SAMPLES_GROUP, SAMPLES_PLAN);
    let out = builder(&w, "0.15", &testdata_dir().join("buildpacks"), false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("---> Hello World buildpack")
            && stdout.contains("---> Hello Processes buildpack"),
        "{stdout}"
    );
    assert!(
        stdout.contains("target: linux/arm64"),
        "CNB_TARGET_* from analyzed.toml: {stdout}"
    );
    let hello = w.layers.join("samples_hello-world/hello");
    assert!(hello.join("bin/hello").is_file());
    assert_eq!(
        std::fs::read_to_string(hello.join("env/HELLO_GREETING.default")).unwrap(),
        "hello from the build plan"
    );

    let md = LaunchMetadata::read(&w.layers.join("config/metadata.toml")).unwrap();
    let types: Vec<&str> = md.processes.iter().map(|p| p.r#type.as_str()).collect();
    assert_eq!(types, ["app", "sys-info", "web"], "sorted by type");
    assert_eq!(md.buildpack_default_process_type, "web");
    let web = md.process("web").unwrap();
    assert_eq!(
        (
            web.command.as_slice(),
            web.direct,
            web.buildpack_id.as_str()
        ),
        (&["hello".to_string()][..], true, "samples/hello-world")
    );
    assert_eq!(md.process("app").unwrap().args, ["from-process-args"]);
    assert_eq!(
        md.buildpacks
            .iter()
            .map(|b| (b.id.as_str(), b.api.as_str()))
            .collect::<Vec<_>>(),
        [
            ("samples/hello-world", "0.10"),
            ("samples/hello-processes", "0.10")
        ]
    );
    assert_eq!(md.labels[0].key, "io.samples.processes");
}

#[test]
fn the_buildpack_environment_is_as_the_spec_says() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    let bps = dir.path().join("buildpacks");
    // First buildpack: a build layer with bin/ and env files; second: prints what it sees.
    let one = bps.join("env_one/1");
    std::fs::create_dir_all(one.join("bin")).unwrap();
    std::fs::write(
        one.join("buildpack.toml"),
        "api = \"0.10\"\n[buildpack]\nid = \"env/one\"\nversion = \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        one.join("bin/build"),
        "#!/usr/bin/env bash\nset -eu\nmkdir -p $1/tools/bin $1/tools/env $1/tools/env.build\nprintf '#!/bin/sh\\necho tool-ran' > $1/tools/bin/mytool\nchmod +x $1/tools/bin/mytool\nprintf 'from-env' > $1/tools/env/SHARED.override\nprintf 'build-only' > $1/tools/env.build/ONLY_BUILD\nprintf 'x' > $1/tools/env/LIST.append\nprintf ',' > $1/tools/env/LIST.delim\nprintf '[types]\\nbuild = true\\n' > $1/tools.toml\nmkdir -p $1/nothing && printf '[types]\\n' > $1/nothing.toml\n",
    )
    .unwrap();
    let two = bps.join("env_two/1");
    std::fs::create_dir_all(two.join("bin")).unwrap();
    std::fs::write(
        two.join("buildpack.toml"),
        "api = \"0.12\"\n[buildpack]\nid = \"env/two\"\nversion = \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        two.join("bin/build"),
        "#!/usr/bin/env bash\nset -eu\nmytool\necho SHARED=$SHARED ONLY_BUILD=$ONLY_BUILD LIST=${LIST:-} FROM_PLATFORM=${FROM_PLATFORM:-} SECRET=${CNB_SECRET_OF_THE_PLATFORM:-none}\necho DIRS=$CNB_BUILDPACK_DIR,$CNB_LAYERS_DIR,$CNB_PLATFORM_DIR EXEC=$CNB_EXEC_ENV ARGS=$#\n",
    )
    .unwrap();
    for f in [one.join("bin/build"), two.join("bin/build")] {
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    cnb_os::ensure_owner(UID, UID, &[dir.path()]).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(UID), Some(UID)).unwrap();
    let w = world(
        "[[group]]\nid = \"env/one\"\nversion = \"1\"\n\n[[group]]\nid = \"env/two\"\nversion = \"1\"\n",
        "",
    );
    let out = builder(&w, "0.15", &bps, false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("tool-ran"), "{stdout}");
    assert!(
        stdout
            .contains("SHARED=from-env ONLY_BUILD=build-only LIST=x FROM_PLATFORM=yes SECRET=none"),
        "{stdout}"
    );
    let two_layers = w.layers.join("env_two");
    assert!(
        stdout.contains(&format!(
            "DIRS={},{},{} EXEC=production ARGS=3",
            two.display(),
            two_layers.display(),
            w.platform.display()
        )),
        "{stdout}"
    );
    assert!(
        w.layers.join("env_one/nothing.ignore").is_dir(),
        "a layer without types is set aside"
    );
}

#[test]
fn failures_and_refusals() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(SAMPLES_GROUP, SAMPLES_PLAN);
    let out = builder(&w, "0.15", &testdata_dir().join("buildpacks"), true);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("refusing to run as root"),
        "{}",
        text(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let bp = dir.path().join("fail_bp/1");
    std::fs::create_dir_all(bp.join("bin")).unwrap();
    std::fs::write(
        bp.join("buildpack.toml"),
        "api = \"0.10\"\n[buildpack]\nid = \"fail/bp\"\nversion = \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        bp.join("bin/build"),
        "#!/bin/sh\necho failing >&2\nexit 7\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bp.join("bin/build"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    cnb_os::ensure_owner(UID, UID, &[dir.path()]).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(UID), Some(UID)).unwrap();
    let w = world("[[group]]\nid = \"fail/bp\"\nversion = \"1\"\n", "");
    let out = builder(&w, "0.15", dir.path(), false);
    assert_eq!(out.status.code(), Some(51), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("buildpack 'fail/bp@1' failed"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        bp.join("buildpack.toml"),
        "api = \"0.2\"\n[buildpack]\nid = \"fail/bp\"\nversion = \"1\"\n",
    )
    .unwrap();
    let w = world("[[group]]\nid = \"fail/bp\"\nversion = \"1\"\n", "");
    let out = builder(&w, "0.15", dir.path(), false);
    assert_eq!(out.status.code(), Some(12), "{}", text(&out.stderr));
    let out = builder(&w, "0.15", &dir.path().join("missing"), false);
    assert_eq!(out.status.code(), Some(52), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("buildpack.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sbom_files_are_collected_and_undeclared_formats_refused() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    let bp = dir.path().join("sbom_bp/1");
    std::fs::create_dir_all(bp.join("bin")).unwrap();
    std::fs::write(bp.join("buildpack.toml"), "api = \"0.10\"\n[buildpack]\nid = \"sbom/bp\"\nversion = \"1\"\nsbom-formats = [\"application/vnd.cyclonedx+json\"]\n").unwrap();
    std::fs::write(
        bp.join("bin/build"),
        "#!/usr/bin/env bash\nset -eu\necho '{}' > $1/launch.sbom.cdx.json\necho '{}' > $1/build.sbom.cdx.json\nmkdir -p $1/dep\nprintf '[types]\\nlaunch = true\\ncache = true\\n' > $1/dep.toml\necho '{\"dep\":1}' > $1/dep.sbom.cdx.json\nif [ -n \"${WRITE_SPDX:-}\" ]; then echo '{}' > $1/launch.sbom.spdx.json; fi\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bp.join("bin/build"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    cnb_os::ensure_owner(UID, UID, &[dir.path()]).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(UID), Some(UID)).unwrap();
    let w = world("[[group]]\nid = \"sbom/bp\"\nversion = \"1\"\n", "");
    let out = builder(&w, "0.15", dir.path(), false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sbom = w.layers.join("sbom");
    assert!(sbom.join("launch/sbom_bp/sbom.cdx.json").is_file());
    assert!(sbom.join("build/sbom_bp/sbom.cdx.json").is_file());
    assert_eq!(
        std::fs::read_to_string(sbom.join("launch/sbom_bp/dep/sbom.cdx.json")).unwrap(),
        "{\"dep\":1}\n"
    );
    assert!(sbom.join("cache/sbom_bp/dep/sbom.cdx.json").is_file());
    // Platform API 0.7: no SBOM handling.
    let w7 = world("[[group]]\nid = \"sbom/bp\"\nversion = \"1\"\n", "");
    assert!(builder(&w7, "0.7", dir.path(), false).status.success());
    assert!(!w7.layers.join("sbom").exists());
    // An spdx file the buildpack did not declare.
    std::fs::write(w.platform.join("env/WRITE_SPDX"), "1").unwrap();
    let out = builder(&w, "0.15", dir.path(), false);
    assert_eq!(out.status.code(), Some(52), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("does not declare in sbom-formats"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn clear_env_and_unmet_entries() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    let mk = |id: &str, extra: &str, script: &str| {
        let bp = dir.path().join(id.replace('/', "_")).join("1");
        std::fs::create_dir_all(bp.join("bin")).unwrap();
        std::fs::write(
            bp.join("buildpack.toml"),
            format!("api = \"0.10\"\n[buildpack]\nid = \"{id}\"\nversion = \"1\"\n{extra}"),
        )
        .unwrap();
        std::fs::write(
            bp.join("bin/build"),
            format!("#!/usr/bin/env bash\nset -eu\n{script}\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            bp.join("bin/build"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    };
    // The first provides both entries but leaves "later" unmet; the second gets only "later".
    mk(
        "plan/first",
        "",
        "echo FIRST_PLAN:; cat $3; printf '[[unmet]]\\nname = \"later\"\\n' > $1/build.toml; echo PLATFORM=${FROM_PLATFORM:-unset}",
    );
    mk(
        "plan/second",
        "clear-env = true",
        "echo SECOND_PLAN:; cat $3; echo PLATFORM=${FROM_PLATFORM:-unset}",
    );
    cnb_os::ensure_owner(UID, UID, &[dir.path()]).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(UID), Some(UID)).unwrap();
    let plan = "[[entries]]\n[[entries.providers]]\nid = \"plan/first\"\nversion = \"1\"\n[[entries.providers]]\nid = \"plan/second\"\nversion = \"1\"\n[[entries.requires]]\nname = \"later\"\n\n[[entries]]\n[[entries.providers]]\nid = \"plan/first\"\nversion = \"1\"\n[[entries.requires]]\nname = \"now\"\n";
    let w = world(
        "[[group]]\nid = \"plan/first\"\nversion = \"1\"\n\n[[group]]\nid = \"plan/second\"\nversion = \"1\"\n",
        plan,
    );
    let out = builder(&w, "0.15", dir.path(), false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let (first, second) = stdout.split_once("SECOND_PLAN:").unwrap();
    assert!(
        first.contains("name = \"now\"") && first.contains("name = \"later\""),
        "{first}"
    );
    assert!(
        second.contains("name = \"later\"") && !second.contains("name = \"now\""),
        "{second}"
    );
    assert!(
        first.contains("PLATFORM=yes"),
        "platform env reaches a normal buildpack: {first}"
    );
    assert!(
        second.contains("PLATFORM=unset"),
        "clear-env keeps it out: {second}"
    );
}
