//! What a Dockerfile changed in the file system, as one reproducible layer: a walk before and
//! after, skipping what is not the image (kernel file systems, mounts, the lifecycle's volumes),
//! then added and changed entries (with their ancestors) and a whiteout for each removed one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use cnb_archive::{Compression, LayerBuilder, LayerDigests, Owner};
use cnb_os::FileStat;

/// One entry as seen by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    stat: FileStat,
    size: u64,
    link: Option<PathBuf>,
    dir: bool,
}

/// Every entry below the root, by its absolute path in the image.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    entries: BTreeMap<PathBuf, Seen>,
}

/// Paths the walk leaves out, in-image and absolute.
#[derive(Debug, Clone)]
pub(crate) struct Ignore {
    paths: BTreeSet<PathBuf>,
}

/// What kaniko (upstream's applier) never snapshots, besides mounts and the volumes upstream
/// adds: `/var/run` is where sockets get mounted.
const ALWAYS: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/kaniko",
    "/etc/mtab",
    "/var/run",
    "/tmp/apt-key-gpghome",
];

impl Ignore {
    /// The fixed list, `volumes`, and every mount point of `mountinfo` but `/` (mount points are
    /// only meaningful when `root` is `/`).
    pub(crate) fn new(root: &Path, volumes: &[PathBuf], mountinfo: &str) -> Self {
        let mut paths: BTreeSet<PathBuf> = ALWAYS.iter().map(PathBuf::from).collect();
        paths.extend(volumes.iter().map(|v| super::apply::normalize(v)));
        if root == Path::new("/") {
            // Field 5 is the mount point; octal escapes (\040) are rare enough to compare as is.
            for line in mountinfo.lines() {
                if let Some(mp) = line.split(' ').nth(4).filter(|m| *m != "/") {
                    paths.insert(PathBuf::from(mp.replace("\\040", " ")));
                }
            }
        }
        Ignore { paths }
    }

    fn skips(&self, p: &Path) -> bool {
        self.paths.contains(p)
    }
}

/// Walks `root`, not following symlinks and not entering ignored paths.
pub(crate) fn walk(root: &Path, ignore: &Ignore) -> std::io::Result<Walk> {
    let mut w = Walk::default();
    let mut stack = vec![PathBuf::from("/")];
    while let Some(dir) = stack.pop() {
        let on_disk = super::apply::in_root(root, &dir.to_string_lossy());
        let rd = match std::fs::read_dir(&on_disk) {
            Ok(rd) => rd,
            // Removed by someone else while walking, or unreadable: not part of the image.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            let path = dir.join(e.file_name());
            if ignore.skips(&path) {
                continue;
            }
            let md = match std::fs::symlink_metadata(e.path()) {
                Ok(md) => md,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let ft = md.file_type();
            let link = if ft.is_symlink() {
                std::fs::read_link(e.path()).ok()
            } else {
                None
            };
            if ft.is_dir() {
                stack.push(path.clone());
            }
            w.entries.insert(
                path,
                Seen {
                    stat: cnb_os::stat_of(&md),
                    size: md.len(),
                    link,
                    dir: ft.is_dir(),
                },
            );
        }
    }
    Ok(w)
}

/// What changed from `before` to `after`.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// Added or changed entries.
    pub changed: Vec<PathBuf>,
    /// Removed entries whose parent is still there (a removed dir hides its whole tree).
    pub removed: Vec<PathBuf>,
}

impl Diff {
    pub(crate) fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }
}

pub(crate) fn diff(before: &Walk, after: &Walk) -> Diff {
    let changed = after
        .entries
        .iter()
        .filter(|(p, s)| before.entries.get(*p) != Some(*s))
        .map(|(p, _)| p.clone())
        .collect();
    let removed = before
        .entries
        .keys()
        .filter(|p| !after.entries.contains_key(*p))
        .filter(|p| {
            p.parent()
                .is_none_or(|d| d == Path::new("/") || after.entries.contains_key(d))
        })
        .cloned()
        .collect();
    Diff { changed, removed }
}

/// Writes the layer for `d` (entries read from `root`, ancestors of changed entries included
/// with their own metadata) to `out`, gzip-compressed.
pub(crate) fn write_layer<W: Write + Send + 'static>(
    root: &Path,
    after: &Walk,
    d: &Diff,
    out: W,
) -> Result<(W, LayerDigests), cnb_archive::ArchiveError> {
    let mut all: BTreeSet<PathBuf> = BTreeSet::new();
    for p in &d.changed {
        all.extend(
            p.ancestors()
                .filter(|a| *a != Path::new("/"))
                .map(Path::to_path_buf),
        );
    }
    for p in &d.removed {
        all.extend(
            p.ancestors()
                .skip(1)
                .filter(|a| *a != Path::new("/"))
                .map(Path::to_path_buf),
        );
    }
    let whiteouts: BTreeMap<PathBuf, ()> = d
        .removed
        .iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy();
            Some((p.with_file_name(format!(".wh.{name}")), ()))
        })
        .collect();
    let mut layer = LayerBuilder::new(out, Compression::Gzip(1));
    // Path order puts every directory before what it holds, whiteouts among their siblings.
    let order: BTreeSet<PathBuf> = all
        .iter()
        .cloned()
        .chain(whiteouts.keys().cloned())
        .collect();
    for p in order {
        let dest = p.to_string_lossy();
        if whiteouts.contains_key(&p) {
            layer.add_bytes(&dest, &[], 0o644, Owner::ROOT)?;
            continue;
        }
        let owner = after.entries.get(&p).map_or(Owner::ROOT, |s| Owner {
            uid: s.stat.uid,
            gid: s.stat.gid,
        });
        let is_dir = after.entries.get(&p).is_some_and(|s| s.dir);
        let src = super::apply::in_root(root, &dest);
        if is_dir {
            let mode = after.entries.get(&p).map_or(0o755, |s| s.stat.mode);
            layer.add_dir(&dest, mode, owner)?;
        } else {
            layer.add_path(&src, &dest, owner)?;
        }
    }
    layer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_added_changed_and_removed_entries() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc/sub")).unwrap();
        std::fs::write(r.join("etc/os-release"), "x").unwrap();
        std::fs::write(r.join("etc/sub/a"), "x").unwrap();
        std::fs::write(r.join("keep"), "x").unwrap();
        std::fs::create_dir_all(r.join("layers")).unwrap();
        let ignore = Ignore::new(r, &[PathBuf::from("/layers")], "");
        let before = walk(r, &ignore).unwrap();
        std::fs::remove_file(r.join("etc/os-release")).unwrap();
        std::fs::remove_dir_all(r.join("etc/sub")).unwrap();
        std::fs::write(r.join("hello"), "hi").unwrap();
        std::fs::write(r.join("layers/ignored"), "hi").unwrap();
        let after = walk(r, &ignore).unwrap();
        let d = diff(&before, &after);
        assert!(d.changed.contains(&PathBuf::from("/hello")));
        assert!(!d.changed.iter().any(|p| p.starts_with("/layers")));
        assert_eq!(
            d.removed,
            vec![PathBuf::from("/etc/os-release"), PathBuf::from("/etc/sub")]
        );
        let (bytes, _) = write_layer(r, &after, &d, Vec::new()).unwrap();
        let mut names = Vec::new();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        for e in ar.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
        }
        assert!(
            names.iter().any(|n| n.ends_with("etc/.wh.os-release")),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.ends_with("etc/.wh.sub")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.ends_with("hello")), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("keep")), "{names:?}");
    }
}
