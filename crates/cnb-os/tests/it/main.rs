//! Tests of the OS layer. They run as root (as CI does); privilege drops happen in a child
//! process so the test process keeps its rights.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

const CHILD: &str = "CNB_OS_TEST_CHILD";

/// Re-runs one test of this binary in a child process, with `CHILD` set to `role`.
fn run_child(test: &str, role: &str, extra: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, role);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn ensure_owner_chowns_only_what_differs_and_never_follows_links() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("layers");
    std::fs::create_dir_all(root.join("bp/layer")).unwrap();
    std::fs::write(root.join("bp/layer/file"), "x").unwrap();
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "do not touch").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("bp/link")).unwrap();

    cnb_os::ensure_owner(1234, 2345, &[&root, &dir.path().join("missing")]).unwrap();
    for p in ["", "bp", "bp/layer", "bp/layer/file", "bp/link"] {
        let md = std::fs::symlink_metadata(root.join(p)).unwrap();
        assert_eq!((md.uid(), md.gid()), (1234, 2345), "{p}");
    }
    let md = std::fs::metadata(&outside).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (0, 0),
        "the link target is not followed"
    );
}

/// A volume as kpack mounts it: owned by root, group `gid` (the pod's fsGroup), mode 2775, with
/// a root-owned entry inside.
fn group_volume(dir: &std::path::Path, gid: u32) -> std::path::PathBuf {
    let root = dir.join("layers");
    std::fs::create_dir_all(root.join("inner")).unwrap();
    std::fs::write(root.join("inner/file"), "x").unwrap();
    std::os::unix::fs::chown(&root, Some(0), Some(gid)).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o2775)).unwrap();
    root
}

fn owner(p: &std::path::Path) -> (u32, u32) {
    let md = std::fs::symlink_metadata(p).unwrap();
    (md.uid(), md.gid())
}

#[test]
fn ensure_owner_leaves_a_root_the_user_can_write_alone() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    // Group-writable for gid 2345: nothing below is touched, as upstream.
    let group = group_volume(dir.path(), 2345);
    cnb_os::ensure_owner(1234, 2345, &[&group]).unwrap();
    assert_eq!(owner(&group), (0, 2345));
    assert_eq!(owner(&group.join("inner/file")), (0, 0));

    // World-writable (a sticky /tmp-like dir).
    let world = dir.path().join("world");
    std::fs::create_dir_all(world.join("inner")).unwrap();
    std::fs::set_permissions(&world, std::fs::Permissions::from_mode(0o1777)).unwrap();
    cnb_os::ensure_owner(1234, 2345, &[&world]).unwrap();
    assert_eq!(owner(&world.join("inner")), (0, 0));

    // Owned by the user already, whatever the group.
    let own = dir.path().join("own");
    std::fs::create_dir_all(own.join("inner")).unwrap();
    std::os::unix::fs::chown(&own, Some(1234), Some(0)).unwrap();
    cnb_os::ensure_owner(1234, 2345, &[&own]).unwrap();
    assert_eq!(owner(&own), (1234, 0));
    assert_eq!(owner(&own.join("inner")), (0, 0));

    // The group without its write bit is not enough: the whole tree is chowned.
    let read_only = dir.path().join("read-only");
    std::fs::create_dir_all(read_only.join("inner")).unwrap();
    std::os::unix::fs::chown(&read_only, Some(0), Some(2345)).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    cnb_os::ensure_owner(1234, 2345, &[&read_only]).unwrap();
    assert_eq!(owner(&read_only), (1234, 2345));
    assert_eq!(owner(&read_only.join("inner")), (1234, 2345));
}

#[test]
fn ensure_owner_as_the_build_user_on_a_group_writable_volume() {
    match std::env::var(CHILD).as_deref() {
        Ok("kpack") => {
            let volume = std::path::PathBuf::from(std::env::var("VOLUME").unwrap());
            cnb_os::drop_privileges(1234, 2345).unwrap();
            // Not root: any chown would fail with EPERM.
            cnb_os::ensure_owner(1234, 2345, &[&volume]).unwrap();
            cnb_os::drop_privileges(1234, 2345).unwrap();
            std::fs::write(volume.join("analyzed.toml"), "").unwrap();
            println!("CHILD-OK");
        }
        Ok(_) => {}
        Err(_) => {
            assert!(
                cnb_os::is_root(),
                "this test needs root: it chowns and switches users"
            );
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let volume = group_volume(dir.path(), 2345);
            let out = run_child(
                "ensure_owner_as_the_build_user_on_a_group_writable_volume",
                "kpack",
                &[("VOLUME", volume.to_str().unwrap())],
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("CHILD-OK"),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(owner(&volume.join("analyzed.toml")), (1234, 2345));
        }
    }
}

#[test]
fn drop_privileges_switches_user_for_good() {
    match std::env::var(CHILD).as_deref() {
        Ok("drop") => {
            let secret = std::env::var("SECRET").unwrap();
            cnb_os::drop_privileges(1234, 2345).unwrap();
            assert_eq!(cnb_os::current_ids(), (1234, 2345));
            assert!(!cnb_os::is_root());
            let err = std::fs::write(&secret, "overwrite").unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
            // There is no way back.
            assert!(cnb_os::drop_privileges(0, 0).is_err());
            println!("CHILD-OK");
        }
        Ok(_) => {}
        Err(_) => {
            assert!(
                cnb_os::is_root(),
                "this test needs root: it chowns and switches users"
            );
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let secret = dir.path().join("secret");
            std::fs::write(&secret, "root only").unwrap();
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
            let out = run_child(
                "drop_privileges_switches_user_for_good",
                "drop",
                &[("SECRET", secret.to_str().unwrap())],
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("CHILD-OK"),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root only");
            assert_eq!(cnb_os::current_ids(), (0, 0), "the parent is still root");
        }
    }
}

#[test]
fn dropping_to_the_current_user_is_a_no_op() {
    let (uid, gid) = cnb_os::current_ids();
    cnb_os::drop_privileges(uid, gid).unwrap();
    assert_eq!(cnb_os::current_ids(), (uid, gid));
}

#[test]
fn refuse_root_names_the_phase() {
    match std::env::var(CHILD).as_deref() {
        Ok("unprivileged") => {
            cnb_os::drop_privileges(1000, 1000).unwrap();
            cnb_os::refuse_root("detector").unwrap();
            println!("CHILD-OK");
        }
        Ok(_) => {}
        // Not root: nothing to refuse, and no child to drop privileges in.
        Err(_) if !cnb_os::is_root() => cnb_os::refuse_root("builder").unwrap(),
        Err(_) => {
            let err = cnb_os::refuse_root("builder").unwrap_err().to_string();
            assert!(
                err.contains("refusing to run as root") && err.contains("builder"),
                "{err}"
            );
            let out = run_child("refuse_root_names_the_phase", "unprivileged", &[]);
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("CHILD-OK"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn user_home_of_root_and_symlinks() {
    let (home, name) = cnb_os::user_home(0).unwrap();
    assert_eq!(name, "root");
    assert!(home.is_absolute());
    assert!(cnb_os::user_home(4_000_000).is_none());
    let dir = tempfile::tempdir().unwrap();
    cnb_os::symlink(
        std::path::Path::new("/cnb/lifecycle/launcher"),
        &dir.path().join("web"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_link(dir.path().join("web")).unwrap(),
        std::path::Path::new("/cnb/lifecycle/launcher")
    );
    let err = cnb_os::symlink(std::path::Path::new("x"), &dir.path().join("web"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("web"), "{err}");
    assert_eq!(
        cnb_os::default_launcher_path(),
        std::path::Path::new("/cnb/lifecycle/launcher")
    );
}
