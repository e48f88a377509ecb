//! The unix implementation.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use crate::OsError;

pub(crate) fn current_ids() -> (u32, u32) {
    (Uid::current().as_raw(), Gid::current().as_raw())
}

pub(crate) fn is_root() -> bool {
    Uid::current().is_root()
}

pub(crate) fn ensure_owner(uid: u32, gid: u32, paths: &[&Path]) -> Result<(), OsError> {
    for root in paths {
        if std::fs::symlink_metadata(root).is_err() {
            continue;
        }
        for entry in walkdir::WalkDir::new(root).follow_links(false) {
            let entry = entry.map_err(|e| OsError::Io {
                action: "walk",
                path: e.path().unwrap_or(root).to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            })?;
            let md = entry.metadata().map_err(|e| OsError::Io {
                action: "stat",
                path: entry.path().to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("stat failed")),
            })?;
            if md.uid() != uid || md.gid() != gid {
                std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid)).map_err(
                    |source| OsError::Io {
                        action: "chown",
                        path: entry.path().to_path_buf(),
                        source,
                    },
                )?;
            }
        }
    }
    Ok(())
}

pub(crate) fn drop_privileges(uid: u32, gid: u32) -> Result<(), OsError> {
    let (cur_uid, cur_gid) = current_ids();
    if cur_uid == uid && cur_gid == gid {
        return Ok(());
    }
    let fail = |reason: String| OsError::DropPrivileges { uid, gid, reason };
    if cur_uid != 0 {
        return Err(fail(format!(
            "running as {cur_uid}:{cur_gid}, which is neither that user nor root"
        )));
    }
    let g = Gid::from_raw(gid);
    let u = Uid::from_raw(uid);
    nix::unistd::setgroups(&[g]).map_err(|e| fail(format!("setgroups: {e}")))?;
    nix::unistd::setresgid(g, g, g).map_err(|e| fail(format!("setresgid: {e}")))?;
    nix::unistd::setresuid(u, u, u).map_err(|e| fail(format!("setresuid: {e}")))?;
    Ok(())
}

pub(crate) fn user_home(uid: u32) -> Option<(std::path::PathBuf, String)> {
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten()?;
    Some((user.dir, user.name))
}

pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

pub(crate) fn exec(mut cmd: std::process::Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    cmd.exec()
}

pub(crate) fn output_with_fd3(
    mut cmd: std::process::Command,
) -> std::io::Result<(std::process::ExitStatus, Vec<u8>)> {
    use command_fds::{CommandFdExt, FdMapping};
    use std::io::Read;
    let (mut reader, writer) = std::io::pipe()?;
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: writer.into(),
        child_fd: 3,
    }])
    .map_err(|_| std::io::Error::other("file descriptor 3 is mapped twice"))?;
    let mut child = cmd.spawn()?;
    // The command holds our copy of the write end: drop it so the read sees EOF when the child is done.
    drop(cmd);
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok((child.wait()?, out))
}
