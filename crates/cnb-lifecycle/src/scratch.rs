//! Scratch directories for a phase's intermediate files (layer tars), named
//! `<prefix><pid>-<random>` in the temp dir (`Inputs::temp_dir`) so that the next run can remove those of a phase that
//! was killed (SIGKILL, or SIGTERM/SIGINT, which no phase traps, as upstream) before it could.

use std::path::Path;

/// A fresh scratch dir in `temp_dir`; stale ones with the same prefix whose process is gone are
/// removed first.
pub(crate) fn scratch_dir(temp_dir: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    remove_stale(temp_dir, prefix);
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir_in(temp_dir)
}

/// Removes `<prefix><pid>-*` dirs under `dir` whose process is gone.
pub(crate) fn remove_stale(dir: &Path, prefix: &str) {
    cnb_os::remove_stale_pid_entries(dir, prefix, |p| std::fs::remove_dir_all(p));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn removes_dirs_of_gone_processes_only() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("cnb-export-999999999-abc");
        let live = dir
            .path()
            .join(format!("cnb-export-{}-abc", std::process::id()));
        let other = dir.path().join("cnb-cache-999999999-abc");
        for d in [&gone, &live, &other] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
        }
        remove_stale(dir.path(), "cnb-export-");
        assert!(!gone.exists());
        assert!(live.exists() && other.exists());
    }
}
