//! A throwaway layers/app/platform tree owned by the build user, and the detector run in it.

use std::path::{Path, PathBuf};
use std::process::Output;

use cnb_formats::group::Group;
use cnb_formats::plan::Plan;
use cnb_test_support::phase::{BUILD_UID, chown_tree};
pub use cnb_test_support::phase::{PhaseOutput, PhaseRun};
use cnb_test_support::testdata_dir;

/// The unprivileged user the detector runs as.
pub const UID: u32 = BUILD_UID;

pub struct World {
    pub dir: tempfile::TempDir,
    pub layers: PathBuf,
    pub app: PathBuf,
    pub platform: PathBuf,
}

/// A tree with `<platform>/env/FROM_PLATFORM`; `with_run_sh` puts the `run.sh` the sample
/// hello-processes looks for in the app.
pub fn world(with_run_sh: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    let app = dir.path().join("workspace");
    let platform = dir.path().join("platform");
    std::fs::create_dir_all(&layers).unwrap();
    std::fs::create_dir_all(platform.join("env")).unwrap();
    std::fs::write(platform.join("env/FROM_PLATFORM"), "platform-value").unwrap();
    std::fs::create_dir_all(&app).unwrap();
    if with_run_sh {
        std::fs::write(app.join("run.sh"), "#!/bin/sh\n").unwrap();
    }
    chown(dir.path());
    World {
        dir,
        layers,
        app,
        platform,
    }
}

/// Hands a path and everything below it to the build user.
pub fn chown(path: &Path) {
    chown_tree(path, UID, UID);
}

/// The detector's buildpacks dir of fixtures.
pub fn fixtures() -> PathBuf {
    testdata_dir().join("buildpacks/detector")
}

/// The detector with the world's dirs, `buildpacks` and `order`, a clean environment (plus a
/// secret that must not reach buildpacks), as the build user.
pub fn command(w: &World, papi: &str, buildpacks: &Path, order: &Path) -> PhaseRun {
    PhaseRun::new(env!("CARGO_BIN_EXE_detector"), papi)
        .arg("-layers")
        .arg(&w.layers)
        .arg("-app")
        .arg(&w.app)
        .arg("-platform")
        .arg(&w.platform)
        .arg("-buildpacks")
        .arg(buildpacks)
        .arg("-order")
        .arg(order)
        .env("CNB_SECRET", "do not pass")
        .user(UID, UID)
}

/// Runs the fixture order `orders/<order>.toml` with `extra` flags.
pub fn det(w: &World, papi: &str, order: &str, extra: &[&str]) -> PhaseOutput {
    let bps = fixtures();
    command(
        w,
        papi,
        &bps,
        &bps.join("orders").join(format!("{order}.toml")),
    )
    .args(extra)
    .run()
}

/// stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `id@version` of each buildpack in `<layers>/group.toml`.
pub fn group(w: &World) -> Vec<String> {
    Group::read(&w.layers.join("group.toml"))
        .unwrap()
        .group
        .iter()
        .map(|e| e.name())
        .collect()
}

/// `<layers>/plan.toml`.
pub fn plan(w: &World) -> Plan {
    cnb_formats::read_toml(&w.layers.join("plan.toml")).unwrap()
}

/// Writes `<layers>/analyzed.toml` with a run image target, owned by the build user.
pub fn analyzed(w: &World, target: &str) {
    let path = w.layers.join("analyzed.toml");
    std::fs::write(
        &path,
        format!("[run-image]\nreference = \"r@sha256:00\"\n[run-image.target]\n{target}"),
    )
    .unwrap();
    chown(&path);
}

/// Whether the tests can switch users (they must run as root).
pub fn can_switch_user() -> bool {
    cnb_os::is_root()
}
