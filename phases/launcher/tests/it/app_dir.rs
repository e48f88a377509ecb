//! The launcher works from the app dir (`CNB_APP_DIR`) and warns about `CNB_PROCESS_TYPE`.

use crate::processes::{app, out, run_in, write};

#[test]
fn exec_d_and_user_commands_run_in_the_app_dir() {
    let a = app();
    write(
        &a.layers.join("samples_hello/hello/exec.d/where"),
        "#!/bin/sh\necho \"EXECD_CWD = \\\"$(pwd)\\\"\" >&3\n",
        0o755,
    );
    // Started elsewhere on purpose: only the launcher's own chdir puts exec.d in the app dir.
    let o = run_in(
        &a,
        None,
        &["--", "sh", "-c", "echo execd-cwd=$EXECD_CWD cwd=$(pwd)"],
        "0.15",
        &[],
        a.dir.path(),
    );
    let s = out(&o);
    let app = a.app.display();
    assert!(s.contains(&format!("execd-cwd={app} cwd={app}")), "{s}");
}

#[test]
fn profiles_run_in_the_app_dir_then_the_process_in_its_working_dir() {
    let a = app();
    write(
        &a.layers.join("samples_hello/hello/profile.d/02-cwd.sh"),
        "export PROFILE_CWD=$(pwd)\n",
        0o644,
    );
    let s = out(&run_in(
        &a,
        Some("shell-in-sub"),
        &[],
        "0.15",
        &[],
        a.dir.path(),
    ));
    assert_eq!(
        s.lines().last().unwrap(),
        format!(
            "profile-cwd={} cwd={}",
            a.app.display(),
            a.app.join("sub").display()
        ),
        "{s}"
    );
}

#[test]
fn a_missing_app_dir_is_a_launch_error() {
    let a = app();
    std::fs::rename(&a.app, a.dir.path().join("elsewhere")).unwrap();
    let o = run_in(&a, Some("web"), &[], "0.15", &[], a.dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(82), "{err}");
    assert!(err.contains("change to app directory"), "{err}");
}

#[test]
fn cnb_process_type_is_warned_about_and_ignored() {
    let a = app();
    let o = run_in(
        &a,
        Some("web"),
        &[],
        "0.13",
        &[("CNB_PROCESS_TYPE", "worker")],
        a.dir.path(),
    );
    let s = out(&o);
    assert!(
        s.contains("greet: default-arg") && !s.contains("--as-worker"),
        "{s}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Warning: CNB_PROCESS_TYPE is not supported in Platform API 0.13\n"),
        "{err}"
    );
    assert!(
        err.contains("Warning: Run with ENTRYPOINT 'worker' to invoke the 'worker' process type\n"),
        "{err}"
    );
}
