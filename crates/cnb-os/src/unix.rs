//! The unix implementation.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use crate::{IoError, OsError};

pub(crate) fn current_ids() -> (u32, u32) {
    (Uid::current().as_raw(), Gid::current().as_raw())
}

pub(crate) fn is_root() -> bool {
    Uid::current().is_root()
}

pub(crate) fn ensure_owner(uid: u32, gid: u32, paths: &[&Path]) -> Result<(), OsError> {
    for root in paths {
        let md = match std::fs::metadata(root) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(IoError::at("stat", *root)(source).into());
            }
        };
        // Upstream's rule (priv.EnsureOwner): a root the build user can already write is left
        // alone with everything below it. This is what lets a non-root phase use a volume a
        // platform made group-writable for it (kpack: root-owned, the pod's fsGroup, 2775).
        if writable_by(md.uid(), md.gid(), md.mode(), uid, gid) {
            continue;
        }
        chown_tree(root, uid, gid)?;
    }
    Ok(())
}

/// Whether `uid:gid` may write an entry with this owner and mode: as its owner (assumed to have
/// write permission, as upstream), through its group's write bit, or because anyone may.
pub(crate) fn writable_by(owner: u32, group: u32, mode: u32, uid: u32, gid: u32) -> bool {
    const GROUP_WRITE: u32 = 0o020;
    const WORLD_WRITE: u32 = 0o002;
    owner == uid || (group == gid && mode & GROUP_WRITE != 0) || mode & WORLD_WRITE != 0
}

/// Chowns `root` and everything below it, touching only entries owned by someone else; symlinks
/// are chowned themselves, never followed.
fn chown_tree(root: &Path, uid: u32, gid: u32) -> Result<(), OsError> {
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| IoError::walk("walk", root, e))?;
        let md = entry
            .metadata()
            .map_err(|e| IoError::walk("stat", entry.path(), e))?;
        if md.uid() != uid || md.gid() != gid {
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))
                .map_err(IoError::at("chown", entry.path()))?;
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

pub(crate) fn run_as(cmd: &mut std::process::Command, uid: u32, gid: u32) {
    use std::os::unix::process::CommandExt;
    // std clears the supplementary groups before setuid when the parent is root.
    cmd.uid(uid).gid(gid);
}

pub(crate) fn stat_of(md: &std::fs::Metadata) -> crate::FileStat {
    crate::FileStat {
        uid: md.uid(),
        gid: md.gid(),
        mode: md.mode() & 0o7777,
        ctime: (md.ctime(), md.ctime_nsec()),
        mtime: (md.mtime(), md.mtime_nsec()),
        dev: md.dev(),
    }
}

pub(crate) fn lchown(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::writable_by;

    #[test]
    fn writable_as_owner_through_the_group_write_bit_or_by_anyone() {
        // (owner, group, mode, uid, gid, writable)
        let cases = [
            (1000, 0, 0o700, 1000, 1000, true),
            (0, 1000, 0o2775, 1000, 1000, true),
            (0, 1000, 0o770, 2000, 1000, true),
            (0, 1000, 0o755, 1000, 1000, false),
            (0, 0, 0o1777, 1000, 1000, true),
            (0, 0, 0o775, 1000, 1000, false),
            (0, 2000, 0o775, 1000, 1000, false),
        ];
        for (owner, group, mode, uid, gid, want) in cases {
            assert_eq!(
                writable_by(owner, group, mode, uid, gid),
                want,
                "{owner}:{group} {mode:o} for {uid}:{gid}"
            );
        }
    }
}
