//! Everything that differs between operating systems, behind one API: the current user, refusing
//! to run as root, ownership of volumes, dropping privileges to the build user, symlinks and the
//! lifecycle's default paths.
//!
//! The implementation lives in `unix.rs` and `windows.rs`; no other crate uses `cfg(unix)` or
//! `cfg(windows)`. The build's *target* platform is data elsewhere, never decided here.

mod error;
mod paths;
mod text;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use error::{IoError, OsError};
pub use paths::{PATH_LIST_SEPARATOR, default_launcher_path, default_lifecycle_dir};
pub use text::one_line;

use std::path::Path;

/// The current user and group id (0, 0 on Windows).
pub fn current_ids() -> (u32, u32) {
    imp::current_ids()
}

/// Whether the process runs as root (never on Windows, which has no such user to refuse).
pub fn is_root() -> bool {
    imp::is_root()
}

/// Fails when running as root: the detector and builder run buildpacks and must not (upstream
/// refuses the same way).
pub fn refuse_root(phase: &str) -> Result<(), OsError> {
    if is_root() {
        return Err(OsError::RefusingRoot {
            phase: phase.to_string(),
        });
    }
    Ok(())
}

/// Makes sure `uid:gid` can write each path, as upstream does: a path that `uid:gid` can already
/// write (it owns it, its group is `gid` with group write, or it is world-writable) is left alone
/// with everything below it; otherwise it and everything below it are chowned to `uid:gid`,
/// touching only entries owned by someone else. Symlinks below a path are chowned themselves,
/// never followed. Missing paths are skipped. So a phase that runs as the build user (kpack)
/// never needs to chown a volume the platform made writable for it.
pub fn ensure_owner(uid: u32, gid: u32, paths: &[&Path]) -> Result<(), OsError> {
    imp::ensure_owner(uid, gid, paths)
}

/// Switches the process to `uid:gid` (groups first, then the user) for good. A no-op when the
/// process already runs as that user; an error when it is neither that user nor root.
pub fn drop_privileges(uid: u32, gid: u32) -> Result<(), OsError> {
    imp::drop_privileges(uid, gid)
}

/// The home directory and name of `uid`, when the user database knows it (for `HOME`/`USER`).
pub fn user_home(uid: u32) -> Option<(std::path::PathBuf, String)> {
    imp::user_home(uid)
}

/// Replaces the current process with `cmd` (same pid on unix; on Windows the child runs and this
/// process exits with its code). Returns only when that could not be done.
pub fn exec(cmd: std::process::Command) -> std::io::Error {
    imp::exec(cmd)
}

/// Runs `cmd` with a pipe on file descriptor 3 (its stdout and stderr are inherited) and returns
/// how it ended and what it wrote to fd 3 (the exec.d protocol).
pub fn output_with_fd3(
    cmd: std::process::Command,
) -> std::io::Result<(std::process::ExitStatus, Vec<u8>)> {
    imp::output_with_fd3(cmd)
}

/// Creates a symlink at `link` pointing to `target`.
pub fn symlink(target: &Path, link: &Path) -> Result<(), OsError> {
    imp::symlink(target, link)
        .map_err(IoError::at("create symlink", link))
        .map_err(OsError::from)
}

/// Makes `cmd` start as `uid:gid` (the extender runs a Dockerfile's `RUN` as its `USER`); a no-op
/// on Windows, which has no such ids.
pub fn run_as(cmd: &mut std::process::Command, uid: u32, gid: u32) {
    imp::run_as(cmd, uid, gid)
}

/// What the extender compares to tell whether a file changed, and the owner and mode it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (with setuid, setgid, sticky).
    pub mode: u32,
    /// Status change time (seconds, nanoseconds): moves on any write, chmod or chown.
    pub ctime: (i64, i64),
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
    /// The device the entry is on.
    pub dev: u64,
}

/// The [`FileStat`] of `md` (taken with `symlink_metadata`).
pub fn stat_of(md: &std::fs::Metadata) -> FileStat {
    imp::stat_of(md)
}

/// Sets the owner of `path` itself (a symlink is not followed).
pub fn lchown(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    imp::lchown(path, uid, gid)
}

/// Removes the `<prefix><pid>-*` entries of `dir` whose process is gone (temp files and scratch
/// dirs a killed writer left): a process is known gone when procfs is there and has no entry
/// for its pid; without procfs (or on Windows) nothing is removed, since a live writer's entry
/// must never go. `remove` removes one entry. Best effort: what cannot go stays.
pub fn remove_stale_pid_entries(
    dir: &Path,
    prefix: &str,
    remove: impl Fn(&Path) -> std::io::Result<()>,
) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = remove(&entry.path());
        }
    }
}

/// Sets the permission bits of `path` (`0o7777` at most); nothing on Windows.
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    imp::set_mode(path, mode)
}
