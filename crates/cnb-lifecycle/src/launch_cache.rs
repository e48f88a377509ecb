//! The launch cache (`-launch-cache`, with `-daemon`): uncompressed launch layers kept in a volume
//! by diffID, `<dir>/committed/<diffID>.tar`, as upstream lays it out. The exporter stages the
//! layers of the image it saves and commits them once the daemon has the image; a later export
//! takes reused layers from here instead of exporting them from the daemon. A commit interrupted
//! between its two renames leaves only `committed-backup`; lookups read it and the next open puts
//! it back.

use std::io;
use std::path::{Path, PathBuf};

use cnb_image::Digest;
use cnb_image::daemon::LayerLookup;

/// A launch cache directory.
#[derive(Debug, Clone)]
pub struct LaunchCache {
    root: PathBuf,
}

fn file_name(diff_id: &str) -> String {
    format!("{diff_id}.tar")
}

impl LaunchCache {
    /// The cache in `root`; a staging dir left by an interrupted export is discarded and an
    /// interrupted commit finished or undone.
    pub fn open(root: &Path) -> io::Result<Self> {
        let c = Self { root: root.into() };
        let backup = c.backup();
        if backup.exists() {
            if c.committed().is_dir() {
                std::fs::remove_dir_all(&backup)?;
            } else {
                std::fs::rename(&backup, c.committed())?;
            }
        }
        let staging = c.staging();
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        std::fs::create_dir_all(c.committed())?;
        Ok(c)
    }

    fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    fn committed(&self) -> PathBuf {
        self.root.join("committed")
    }

    fn backup(&self) -> PathBuf {
        self.root.join("committed-backup")
    }

    /// Finds a layer file by diffID (staged first, then committed), for the daemon backend.
    pub fn lookup(root: &Path) -> LayerLookup {
        let root = root.to_path_buf();
        Box::new(move |diff_id: &Digest| {
            ["staging", "committed", "committed-backup"]
                .iter()
                .map(|d| root.join(d).join(file_name(diff_id.as_str())))
                .find(|p| p.is_file())
        })
    }

    /// Stages a new layer's uncompressed tar (hard-linked when possible).
    pub fn stage(&self, file: &Path, diff_id: &str) -> io::Result<()> {
        link_or_copy(file, &self.staging().join(file_name(diff_id)))
    }

    /// Keeps a committed layer for the next commit; false when the cache does not have it.
    pub fn keep(&self, diff_id: &str) -> io::Result<bool> {
        let from = self.committed().join(file_name(diff_id));
        if !from.is_file() {
            return Ok(false);
        }
        link_or_copy(&from, &self.staging().join(file_name(diff_id)))?;
        Ok(true)
    }

    /// Makes the staged layers the cache's content: layers no image uses any more go.
    pub fn commit(&self) -> io::Result<()> {
        let backup = self.backup();
        if backup.exists() {
            std::fs::remove_dir_all(&backup)?;
        }
        std::fs::rename(self.committed(), &backup)?;
        std::fs::rename(self.staging(), self.committed())?;
        std::fs::remove_dir_all(&backup)
    }
}

fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    if to.exists() {
        return Ok(());
    }
    if std::fs::hard_link(from, to).is_err() {
        // A copy left half-written by a kill sits under the temp name; the next open drops staging.
        let tmp = to.with_extension("tmp");
        std::fs::copy(from, &tmp)?;
        std::fs::rename(&tmp, to)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stage_keep_commit_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lc");
        let d1 = Digest::of(b"one");
        let d2 = Digest::of(b"two");
        let src = dir.path().join("l.tar");
        std::fs::write(&src, b"one").unwrap();
        let c = LaunchCache::open(&root).unwrap();
        c.stage(&src, d1.as_str()).unwrap();
        assert!(LaunchCache::lookup(&root)(&d1).is_some());
        c.commit().unwrap();

        // Next export: d1 reused, d2 never staged; only d1 survives the commit.
        let c = LaunchCache::open(&root).unwrap();
        assert!(c.keep(d1.as_str()).unwrap());
        assert!(!c.keep(d2.as_str()).unwrap());
        c.commit().unwrap();
        let lookup = LaunchCache::lookup(&root);
        assert_eq!(std::fs::read(lookup(&d1).unwrap()).unwrap(), b"one");
        assert!(lookup(&d2).is_none());
    }

    #[test]
    fn a_commit_cut_short_keeps_the_old_layers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lc");
        let d1 = Digest::of(b"one");
        let src = dir.path().join("l.tar");
        std::fs::write(&src, b"one").unwrap();
        let c = LaunchCache::open(&root).unwrap();
        c.stage(&src, d1.as_str()).unwrap();
        c.commit().unwrap();
        // A kill between the commit's two renames: only the backup holds the layers.
        std::fs::rename(root.join("committed"), root.join("committed-backup")).unwrap();
        assert!(LaunchCache::lookup(&root)(&d1).is_some());
        let c = LaunchCache::open(&root).unwrap();
        assert!(root.join("committed").is_dir() && !root.join("committed-backup").exists());
        assert!(c.keep(d1.as_str()).unwrap());
    }
}
