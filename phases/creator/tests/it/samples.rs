//! The samples built in one process into an OCI layout, as pack's trusted-builder flow runs it.

use cnb_formats::labels::BuildMetadata;
use cnb_formats::report::Report;
use cnb_image::{LayoutStore, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::phase::{PhaseOutput, PhaseRun};
use cnb_test_support::testdata_dir;

fn creator(dir: &std::path::Path, args: &[&str]) -> PhaseOutput {
    creator_env(dir, args, &[])
}

fn creator_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> PhaseOutput {
    let d = |p: &str| dir.join(p).display().to_string();
    PhaseRun::new(env!("CARGO_BIN_EXE_creator"), "0.15")
        .args(["-layout", "-layout-dir", &d("repo")])
        .args(["-layers", &d("layers"), "-app", &d("workspace")])
        .args(["-platform", &d("platform")])
        .args([
            "-buildpacks",
            testdata_dir().join("buildpacks").to_str().unwrap(),
            "-order",
            testdata_dir()
                .join("buildpacks/order.toml")
                .to_str()
                .unwrap(),
        ])
        .args(["-launcher", &d("launcher"), "-uid", "1000", "-gid", "1000"])
        .args(args)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .envs(env.iter().copied())
        .run()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    save_run_index(
        &LayoutStore::new(dir.path().join("repo")),
        "r.test/run:multi",
        &four_platforms(),
        "r",
    );
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::create_dir_all(dir.path().join("platform")).unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    for f in ["run.sh", "README.txt"] {
        std::fs::copy(
            testdata_dir().join("apps/bash-script").join(f),
            dir.path().join("workspace").join(f),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("launcher"), "launcher").unwrap();
    cnb_os::ensure_owner(1000, 1000, &[dir.path()]).unwrap();
    dir
}

#[test]
fn builds_the_samples_for_arm64_in_one_process() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = setup();
    let out = creator(
        dir.path(),
        &[
            "-arch",
            "arm64",
            "-run-image",
            "r.test/run:multi",
            "-tag",
            "r.test/app:v1",
            "r.test/app:latest",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "===> ANALYZING",
        "===> DETECTING",
        "===> BUILDING",
        "---> Hello World buildpack",
        "target: linux/arm64",
        "===> EXPORTING",
        "Adding layer 'samples/hello-world:hello'",
    ] {
        assert!(stdout.contains(step), "missing {step}: {stdout}");
    }
    let store = LayoutStore::new(dir.path().join("repo"));
    let req = TargetRequest::new(Target::new("linux", "arm64", None), TargetSource::Flags);
    let img = open(&store, "r.test/app:latest", &req)
        .unwrap()
        .required("app")
        .unwrap();
    assert_eq!(img.target().to_string(), "linux/arm64/v8");
    let build =
        BuildMetadata::from_label(img.label("io.buildpacks.build.metadata").unwrap()).unwrap();
    let types: Vec<&str> = build.processes.iter().map(|p| p.r#type.as_str()).collect();
    assert_eq!(types, ["app", "sys-info", "web"]);
    assert_eq!(
        img.config.config.entrypoint.as_deref(),
        Some(&["/cnb/process/web".to_string()][..])
    );
    let tagged = open(&store, "r.test/app:v1", &req)
        .unwrap()
        .required("v1")
        .unwrap();
    assert_eq!(tagged.digest(), img.digest(), "-tag names the same image");
    let report: Report = cnb_formats::read_toml(&dir.path().join("layers/report.toml")).unwrap();
    assert_eq!(report.image.tags, ["r.test/app:latest", "r.test/app:v1"]);
}

#[test]
fn each_step_keeps_its_exit_code() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = setup();
    let out = creator(
        dir.path(),
        &[
            "-arch",
            "s390x",
            "-run-image",
            "r.test/run:multi",
            "r.test/app:latest",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(32),
        "analyze: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = creator(
        dir.path(),
        &[
            "-arch",
            "arm64",
            "-run-image",
            "r.test/run:multi",
            "-order",
            testdata_dir()
                .join("buildpacks/detector/orders/all-fail.toml")
                .to_str()
                .unwrap(),
            "-buildpacks",
            testdata_dir().join("buildpacks/detector").to_str().unwrap(),
            "r.test/app:latest",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(20),
        "detect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = creator(
        dir.path(),
        &[
            "-arch",
            "arm64",
            "-run-image",
            "r.test/run:multi",
            "-process-type",
            "nope",
            "r.test/app:latest",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(62),
        "export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = creator(
        dir.path(),
        &["-run-image", "r.test/run:multi", "a.test/x", "b.test/y"],
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn an_order_with_extensions_builds_unless_an_extension_passes_detection() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = setup();
    let samples = std::fs::read_to_string(testdata_dir().join("buildpacks/order.toml")).unwrap();
    let extensions = testdata_dir().join("extensions");
    let env = [("CNB_EXTENSIONS_DIR", extensions.to_str().unwrap())];
    let with = |ext: &str, version: &str| {
        let path = dir
            .path()
            .join(format!("order-{}.toml", ext.replace('/', "_")));
        std::fs::write(
            &path,
            format!(
                "[[order-extensions]]\n[[order-extensions.group]]\nid = \"{ext}\"\nversion = \"{version}\"\n\n{samples}"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let args = |order: &str| -> Vec<String> {
        [
            "-arch",
            "arm64",
            "-run-image",
            "r.test/run:multi",
            "-order",
            order,
            "r.test/app:latest",
        ]
        .map(String::from)
        .to_vec()
    };

    // Extensions are optional: one that fails detection leaves a group of buildpacks, which the
    // creator builds, as upstream's does.
    let order = with("ext/fail", "1");
    let a = args(&order);
    let out = creator_env(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &env,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One that passes: the creator cannot apply Dockerfiles, exit 22 after writing group.toml.
    let order = with("samples/hello-extension", "0.0.1");
    let a = args(&order);
    let out = creator_env(
        dir.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(22), "{stderr}");
    assert!(
        stderr.contains("detected order contains extensions which is not supported by the creator"),
        "{stderr}"
    );
    let group = std::fs::read_to_string(dir.path().join("layers/group.toml")).unwrap();
    assert!(group.contains("samples/hello-extension"), "{group}");
}
