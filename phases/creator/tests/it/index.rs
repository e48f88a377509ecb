//! `-index` through the creator against a real registry: the image joins the index, and a
//! rebuild whose previous image is that index (the analyzer resolves it to the build's child)
//! reuses every layer and uploads none.

use cnb_formats::report::Report;
use cnb_image::oci::Index;
use cnb_image::registry::{RegistryOptions, RegistryStore};
use cnb_image::{BlobStore, Digest};
use cnb_test_support::fixtures::{eight_platforms, save_run_index};
use cnb_test_support::phase::{PhaseOutput, PhaseRun};
use cnb_test_support::registry::Registry;
use cnb_test_support::testdata_dir;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for d in ["layers", "platform", "workspace"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
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

fn creator(dir: &std::path::Path, reg: &Registry, args: &[&str]) -> PhaseOutput {
    let d = |p: &str| dir.join(p).display().to_string();
    PhaseRun::new(env!("CARGO_BIN_EXE_creator"), "0.15")
        .args(["-layers", &d("layers"), "-app", &d("workspace")])
        .args(["-platform", &d("platform"), "-launcher", &d("launcher")])
        .args([
            "-buildpacks",
            testdata_dir().join("buildpacks").to_str().unwrap(),
            "-order",
            testdata_dir()
                .join("buildpacks/order.toml")
                .to_str()
                .unwrap(),
        ])
        .args(["-uid", "1000", "-gid", "1000"])
        .args(args)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .env("CNB_INSECURE_REGISTRIES", reg.host())
        .run()
}

/// Blob uploads other than the empty blob (the analyzer's write check pushes that one).
fn layer_uploads(reg: &Registry) -> usize {
    let empty = Digest::of(&[]).hex().to_string();
    reg.log()
        .lines()
        .filter(|l| l.contains("\"PUT ") && l.contains("/blobs/uploads/"))
        .filter(|l| !l.contains(&empty))
        .count()
}

#[test]
fn a_rebuild_from_the_index_reuses_every_layer() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: the creator chowns and switches users"
    );
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let platforms = eight_platforms();
    save_run_index(&store, &reg.image("cnb/run:multi"), &platforms, "r");
    let index = reg.image("cnb/app:latest");
    let build = |dir: &std::path::Path, arch: &str, previous: Option<&str>| {
        let tag = reg.image(&format!("cnb/app:{arch}"));
        let run = reg.image("cnb/run:multi");
        let mut args = vec!["-arch", arch, "-run-image", &run, "-index", &index];
        if let Some(p) = previous {
            args.extend(["-previous-image", p]);
        }
        args.push(&tag);
        let out = creator(dir, &reg, &args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Report = cnb_formats::read_toml(&dir.join("layers/report.toml")).unwrap();
        (stdout, report)
    };
    let (amd_dir, arm_dir) = (setup(), setup());
    let (_, amd) = build(amd_dir.path(), "amd64", None);
    let (_, arm) = build(arm_dir.path(), "arm64", None);
    let raw = store.manifest(&index).unwrap().unwrap();
    let listed: Index = serde_json::from_slice(&raw.bytes).unwrap();
    let digests: Vec<String> = listed
        .manifests
        .iter()
        .map(|m| m.digest.to_string())
        .collect();
    assert_eq!(
        digests,
        [amd.image.digest.clone(), arm.image.digest.clone()]
    );
    assert_eq!(arm.image.index_digest, raw.digest.to_string());

    // arm64 is built again from a clean layers dir (the same paths, as in a build pod), with
    // the index as previous image.
    let layers = arm_dir.path().join("layers");
    std::fs::remove_dir_all(&layers).unwrap();
    std::fs::create_dir_all(&layers).unwrap();
    cnb_os::ensure_owner(1000, 1000, &[&layers]).unwrap();
    let before = layer_uploads(&reg);
    let (stdout, again) = build(arm_dir.path(), "arm64", Some(&index));
    assert!(stdout.contains("Reusing layer"), "{stdout}");
    assert!(!stdout.contains("Adding layer"), "{stdout}");
    assert_eq!(layer_uploads(&reg), before, "no layer uploaded: {stdout}");
    assert_eq!(
        again.image.digest, arm.image.digest,
        "same inputs, same image"
    );
    let after: Index =
        serde_json::from_slice(&store.manifest(&index).unwrap().unwrap().bytes).unwrap();
    assert_eq!(after, listed, "the index is unchanged");
}
