//! After dropping to the build user the creator gives buildpacks that user's HOME, from the user
//! database, as upstream's creator does.

use std::process::Output;

use cnb_test_support::phase::PhaseRun;

use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::save_run_image;
use cnb_test_support::testdata_dir;

/// The creator as root, building the user-env sample for `uid`:`gid` into a layout.
fn create_as(uid: u32, gid: u32, home: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    save_run_image(
        &LayoutStore::new(dir.path().join("repo")),
        "r.test/run:amd64",
        &Target::new("linux", "amd64", None),
        "r",
    );
    for d in ["layers", "platform", "workspace"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    std::fs::write(dir.path().join("workspace/index.html"), "hi").unwrap();
    std::fs::write(dir.path().join("launcher"), "launcher").unwrap();
    cnb_os::ensure_owner(uid, gid, &[dir.path()]).unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let (uid, gid) = (uid.to_string(), gid.to_string());
    let out = PhaseRun::new(env!("CARGO_BIN_EXE_creator"), "0.15")
        .args([
            "-layout",
            "-layout-dir",
            &d("repo"),
            "-layers",
            &d("layers"),
        ])
        .args(["-app", &d("workspace"), "-platform", &d("platform")])
        .args(["-launcher", &d("launcher"), "-uid", &uid, "-gid", &gid])
        .args([
            "-buildpacks",
            testdata_dir().join("buildpacks").to_str().unwrap(),
            "-order",
            testdata_dir()
                .join("buildpacks/order-user-env.toml")
                .to_str()
                .unwrap(),
        ])
        .args(["-arch", "amd64", "-run-image", "r.test/run:amd64"])
        .arg("r.test/app:latest")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("USER", "root")
        .run()
        .output;
    (out, dir)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn buildpacks_get_the_build_users_home() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    // nobody (65534) is in every Debian-based user database; its home is /nonexistent.
    let (home, _) = cnb_os::user_home(65534).expect("nobody in /etc/passwd");
    let (out, _dir) = create_as(65534, 65534, "/root");
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("---> User Env buildpack"), "{all}");
    assert!(all.contains("uid: 65534"), "{all}");
    assert!(
        all.contains(&format!("HOME={}\n", home.display())),
        "HOME is the build user's, not root's: {all}"
    );
    // The build environment keeps HOME but not USER, as upstream's allow-list.
    assert!(all.contains("USER=<unset>"), "{all}");
    assert!(!all.contains("not in the user database"), "{all}");
}

#[test]
fn a_uid_without_a_user_database_entry_keeps_the_environment_with_a_warning() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    // Pick a uid the user database does not know (upstream fails here; we warn).
    let uid = (4242..5000)
        .find(|u| cnb_os::user_home(*u).is_none())
        .unwrap();
    let (out, _dir) = create_as(uid, uid, "/home/from-the-platform");
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(&format!("uid {uid} is not in the user database")),
        "{all}"
    );
    assert!(all.contains("HOME=/home/from-the-platform\n"), "{all}");
}
