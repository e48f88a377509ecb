//! Helpers for tests only (a dev-dependency of the other crates): where testdata lives, the
//! phase harness the phases' black-box tests run their binary with ([`phase`]), tiny
//! multi-arch image fixtures built with our own crates, and a real OCI registry (Debian's
//! `docker-registry`) started on a free loopback port and a real Docker daemon, each stopped when
//! dropped; an HTTP fault proxy to put in front of the registry and a walker that checks what it
//! holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod chaos;
pub mod dockerd;
pub mod fault_proxy;
pub mod faults;
pub mod fixtures;
pub mod idle_proxy;
pub mod phase;
pub mod registry;
pub mod registry_walk;
pub mod tmpfs;
pub mod token_gateway;
pub mod tools;

use std::path::PathBuf;

/// `<repo>/testdata`.
pub fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Writes `content` to `path`, creating its parent directories: how tests lay out layers,
/// app and platform trees.
pub fn write_file(path: &std::path::Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// Every file below `dir` (none when it does not exist), links not followed.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
