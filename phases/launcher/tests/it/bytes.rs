//! Arguments and variables that are not UTF-8 (`docker run -e`, file names) reach the process
//! byte for byte, as upstream passes them, instead of the launcher panicking.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use crate::processes::app;

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

#[test]
fn non_utf8_arguments_and_variables_reach_a_direct_process_unchanged() {
    let a = app();
    let script = "printf '%s|%s|%s' \"$1\" \"$RAW\" \"$PATH\"; exit 7";
    let o = Command::new(env!("CARGO_BIN_EXE_launcher"))
        .args([os(b"--"), os(b"/bin/sh"), os(b"-c"), os(script.as_bytes())])
        .args([os(b"sh"), os(b"arg-\xff\xfe-end")])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_LAYERS_DIR", &a.layers)
        .env("CNB_APP_DIR", &a.app)
        .env("RAW", os(b"val-\xc3\x28-\x80"))
        .env("PATH", os(b"/cnb/process:/usr/bin:/bin:/opt/\xff"))
        .output()
        .unwrap();
    let layer_bin = a.layers.join("samples_hello/hello/bin");
    // The app's exec.d script writes a line to stdout before the process runs.
    let mut want = b"exec.d ran on stdout\narg-\xff\xfe-end|val-\xc3\x28-\x80|".to_vec();
    want.extend_from_slice(layer_bin.as_os_str().as_bytes());
    want.extend_from_slice(b":/usr/bin:/bin:/opt/\xff");
    assert_eq!(
        o.status.code(),
        Some(7),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.stdout, want, "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn non_utf8_user_arguments_reach_a_buildpack_process_unchanged() {
    let a = app();
    let link = a.dir.path().join("process").join("web");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_launcher"), &link).unwrap();
    let o = Command::new(&link)
        .arg(os(b"x\xffy"))
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_LAYERS_DIR", &a.layers)
        .env("CNB_APP_DIR", &a.app)
        .env("PATH", "/usr/bin:/bin")
        .env("GREETING", os(b"hi-\xfe"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want: &[u8] = b"greet: x\xffy GREETING=hi-\xfe ";
    assert!(
        o.stdout.windows(want.len()).any(|w| w == want),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
