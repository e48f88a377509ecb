//! The outside tools tests read our images back with (skopeo, umoci), run so that a failure
//! shows what the tool said.

use std::path::Path;
use std::process::Command;

/// Runs `cmd` (the tool `what`) to the end, asserts success naming it, and returns its stdout.
pub fn run_tool(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks the image `image` (`<OCI layout dir>:<tag>`) into the root filesystem of `bundle`
/// with `umoci raw unpack --rootless`, which reads every layer.
pub fn umoci_unpack(image: &str, bundle: &Path) {
    run_tool(
        Command::new("umoci")
            .args(["raw", "unpack", "--rootless", "--image", image])
            .arg(bundle),
        "umoci raw unpack",
    );
}

/// The manifest (or index) of `image` (host/repo:tag on a plain-HTTP registry) as skopeo reads
/// it, byte for byte.
pub fn skopeo_raw(image: &str) -> String {
    run_tool(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{image}")),
        "skopeo inspect --raw",
    )
}
