//! The Windows implementation: no uid/gid model; ownership and privilege drop are the
//! platform's business there, as upstream.

use std::path::Path;

use crate::OsError;

pub(crate) fn current_ids() -> (u32, u32) {
    (0, 0)
}

pub(crate) fn is_root() -> bool {
    false
}

pub(crate) fn ensure_owner(_uid: u32, _gid: u32, _paths: &[&Path]) -> Result<(), OsError> {
    Ok(())
}

pub(crate) fn drop_privileges(_uid: u32, _gid: u32) -> Result<(), OsError> {
    Ok(())
}

pub(crate) fn user_home(_uid: u32) -> Option<(std::path::PathBuf, String)> {
    None
}

pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    if target.is_dir() {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}

pub(crate) fn exec(mut cmd: std::process::Command) -> std::io::Error {
    match cmd.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}

pub(crate) fn output_with_fd3(
    _cmd: std::process::Command,
) -> std::io::Result<(std::process::ExitStatus, Vec<u8>)> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "exec.d is not supported on windows yet",
    ))
}

pub(crate) fn run_as(_cmd: &mut std::process::Command, _uid: u32, _gid: u32) {}

pub(crate) fn stat_of(md: &std::fs::Metadata) -> crate::FileStat {
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or((0, 0), |d| {
            (d.as_secs() as i64, i64::from(d.subsec_nanos()))
        });
    crate::FileStat {
        uid: 0,
        gid: 0,
        mode: if md.is_dir() { 0o755 } else { 0o644 },
        ctime: mtime,
        mtime,
        dev: 0,
    }
}

pub(crate) fn lchown(_path: &Path, _uid: u32, _gid: u32) -> std::io::Result<()> {
    Ok(())
}

/// Windows has no mode bits to set.
pub(crate) fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
