//! Exit codes and what the user is told when detection does not pass.

use crate::harness::*;

#[test]
fn no_group_passing_exits_20_and_shows_why() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "all-fail", &[]);
    assert_eq!(o.status.code(), Some(20), "{}", text(&o));
    let out = text(&o);
    // Everything is shown at info level when detection fails: each buildpack's output, then the
    // results of each group tried.
    assert!(
        out.contains("======== Output: det/fail@1 ========\nfail says why\n======== Results ========\nfail: det/fail@1"),
        "{out}"
    );
    assert!(out.contains("pass: det/pass@1"), "{out}");
    assert!(out.contains("no buildpack group passed detection"), "{out}");
    assert!(!w.layers.join("group.toml").exists());
}

#[test]
fn a_buildpack_error_makes_it_21() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "with-error", &[]);
    assert_eq!(o.status.code(), Some(21), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("error output"), "{out}");
    assert!(out.contains("bin/detect exited with 3"), "{out}");
    assert!(out.contains("err:  det/error@1"), "{out}");
}

#[test]
fn an_unsupported_buildpack_api_exits_12_before_anything_runs() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "bad-api", &[]);
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    assert!(
        text(&o).contains("buildpack 'det/bad-api@1'") && text(&o).contains("buildpack api '0.2'"),
        "{}",
        text(&o)
    );
}

#[test]
fn running_as_root_is_refused_with_exit_1() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let bps = fixtures();
    let o = PhaseRun::new(env!("CARGO_BIN_EXE_detector"), "0.15")
        .arg("-layers")
        .arg(&w.layers)
        .arg("-buildpacks")
        .arg(&bps)
        .arg("-order")
        .arg(bps.join("orders/optional-fail.toml"))
        .run();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("refusing to run as root"), "{}", text(&o));
    assert!(!w.layers.join("group.toml").exists());
}

#[test]
fn input_errors_exit_1_2_or_3() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let bps = fixtures();
    let missing = w.dir.path().join("no-order.toml");
    let o = command(&w, "0.15", &bps, &missing).run();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("failed to initialize detector: reading order"),
        "{}",
        text(&o)
    );
    let o = det(&w, "0.15", "optional-fail", &["an-argument"]);
    assert_eq!(o.status.code(), Some(3), "no arguments: {}", text(&o));
    let system = bps.join("system.toml");
    let o = det(
        &w,
        "0.14",
        "optional-fail",
        &["-system", system.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "-system is 0.15+: {}", text(&o));
    let o = det(&w, "0.3", "optional-fail", &[]);
    assert_eq!(o.status.code(), Some(11), "{}", text(&o));
}

#[test]
fn a_missing_buildpack_exits_1_before_and_22_during_detection() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let order = w.dir.path().join("order.toml");
    std::fs::write(
        &order,
        "[[order]]\n[[order.group]]\nid = \"det/nowhere\"\nversion = \"1\"\n",
    )
    .unwrap();
    let o = command(&w, "0.15", &fixtures(), &order).run();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("buildpack 'det/nowhere@1' not found"),
        "{}",
        text(&o)
    );
    // Inside a composite a buildpack is looked up only when its group is tried.
    let bps = w.dir.path().join("buildpacks");
    let meta = bps.join("det_meta-missing/1");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("buildpack.toml"),
        "api = \"0.10\"\n[buildpack]\nid = \"det/meta-missing\"\nversion = \"1\"\n[[order]]\n[[order.group]]\nid = \"det/nowhere\"\nversion = \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        &order,
        "[[order]]\n[[order.group]]\nid = \"det/meta-missing\"\nversion = \"1\"\n",
    )
    .unwrap();
    chown(w.dir.path());
    let o = command(&w, "0.15", &bps, &order).run();
    assert_eq!(o.status.code(), Some(22), "{}", text(&o));
}

/// Arguments and environment are read once, as OS strings (`std::env::args` and `vars` panic on
/// bytes that are not UTF-8): such bytes in a path argument, in a flag and in unrelated
/// variables give a clean error and exit code, never a panic (exit 101). The entry is shared by
/// every phase but the launcher, which has its own test.
#[test]
fn non_utf8_arguments_and_environment_fail_cleanly() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let order = std::path::Path::new(OsStr::from_bytes(b"/nope-\xff/order.toml"));
    let odd_env = |run: PhaseRun| {
        run.env("ODD", OsStr::from_bytes(b"\xff"))
            .env(OsStr::from_bytes(b"\xfeKEY"), "1")
    };
    let o = odd_env(command(&w, "0.15", &fixtures(), order)).run();
    o.assert_exit(1);
    o.error_line(&["reading order", "/nope-\u{fffd}/order.toml"]);
    assert!(!o.text().contains("panicked"), "{}", o.text());

    let o = odd_env(command(&w, "0.15", &fixtures(), order))
        .arg(OsStr::from_bytes(b"-layers\xff"))
        .run();
    o.assert_exit(2);
    o.error_line(&["-layers\u{fffd}", "no such flag"]);
    assert!(!o.text().contains("panicked"), "{}", o.text());
}
