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
