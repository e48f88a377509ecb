//! The analyzer as kpack and Tekton run it: `-flag=value` forms, the build user, group-writable
//! volumes and empty parameter values.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use cnb_formats::analyzed::Analyzed;
use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::save_run_index;
use cnb_test_support::phase::{BUILD_UID, PhaseRun, require_root};

const UID: u32 = BUILD_UID;
const GID: u32 = 1234;

/// A layout with a run image, readable by anyone, and a layers dir as kpack's volumes are:
/// root-owned, group `GID` (the pod's fsGroup), mode 2775.
fn world(dir: &Path) -> (String, String) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.join("layout-repo");
    save_run_index(
        &LayoutStore::new(&root),
        "registry.test/run:v1",
        &[Target::new("linux", "amd64", None)],
        "run-v1",
    );
    let layers = dir.join("layers");
    std::fs::create_dir_all(&layers).unwrap();
    std::os::unix::fs::chown(&layers, Some(0), Some(GID)).unwrap();
    std::fs::set_permissions(&layers, std::fs::Permissions::from_mode(0o2775)).unwrap();
    (
        root.to_str().unwrap().to_string(),
        layers.to_str().unwrap().to_string(),
    )
}

#[test]
fn kpack_runs_it_as_the_build_user_on_a_group_writable_layers_volume() {
    require_root("it chowns and switches users");
    let dir = tempfile::tempdir().unwrap();
    let (layout, layers) = world(dir.path());
    // The container runs as the build user; CNB_USER_ID/CNB_GROUP_ID come from the builder's env.
    PhaseRun::new(env!("CARGO_BIN_EXE_analyzer"), "0.12")
        .user(UID, GID)
        .args([
            "-layout",
            &format!("-layout-dir={layout}"),
            &format!("-layers={layers}"),
            &format!("-analyzed={layers}/analyzed.toml"),
            "-run-image=registry.test/run:v1",
            "-arch=amd64",
            "registry.test/app:latest",
        ])
        .env("CNB_USER_ID", UID.to_string())
        .env("CNB_GROUP_ID", GID.to_string())
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .run()
        .assert_ok();
    let analyzed = Path::new(&layers).join("analyzed.toml");
    let md = std::fs::metadata(&analyzed).unwrap();
    assert_eq!((md.uid(), md.gid()), (UID, GID));
    let layers_md = std::fs::metadata(&layers).unwrap();
    assert_eq!(
        (layers_md.uid(), layers_md.gid()),
        (0, GID),
        "the volume is left as the platform made it"
    );
    assert_eq!(
        Analyzed::read(&analyzed).unwrap().run_image.unwrap().image,
        "registry.test/run:v1"
    );
}

#[test]
fn tekton_passes_empty_tags_and_insecure_registries() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, layers) = world(dir.path());
    // buildpacks-phases 0.3's analyze step with TAGS, CNB_CACHE_IMAGE and CNB_INSECURE_REGISTRIES
    // left at their empty defaults.
    let (uid, gid) = cnb_os::current_ids();
    PhaseRun::new(env!("CARGO_BIN_EXE_analyzer"), "0.13")
        .args([
            "-layout",
            &format!("-layout-dir={layout}"),
            "-log-level=info",
            &format!("-layers={layers}"),
            "-run-image=registry.test/run:v1",
            "-cache-image=",
            &format!("-uid={uid}"),
            &format!("-gid={gid}"),
            "-insecure-registry=",
            "-tag=",
            "-skip-layers=false",
            "-arch=amd64",
            "registry.test/app:latest",
        ])
        .env("CNB_INSECURE_REGISTRIES", "")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .run()
        .assert_ok();
    let analyzed = Analyzed::read(&Path::new(&layers).join("analyzed.toml")).unwrap();
    assert_eq!(analyzed.run_image.unwrap().image, "registry.test/run:v1");
}
