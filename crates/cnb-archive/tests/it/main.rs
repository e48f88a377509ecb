//! Tests of layer writing and extraction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod extract;
mod hostile;
mod parallel;
mod write;
mod zstd;

use std::path::Path;

/// A small app-like tree: files, an executable, a nested dir, an empty dir, a symlink, a hard link.
pub fn sample_tree(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::create_dir_all(root.join("lib/deep/er")).unwrap();
    std::fs::write(root.join("bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
    std::fs::set_permissions(
        root.join("bin/hello"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(root.join("lib/deep/er/data.txt"), "x".repeat(10_000)).unwrap();
    std::fs::write(root.join("a.txt"), "a").unwrap();
    std::os::unix::fs::symlink("bin/hello", root.join("link")).unwrap();
    std::fs::hard_link(root.join("a.txt"), root.join("a-hard.txt")).unwrap();
}
