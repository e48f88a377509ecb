//! Several new layers at once: the buildpack layer dirs that cannot be reused (no previous image,
//! or a diffID the previous image does not record) are built ahead, one per core, each still a
//! pipeline of its own. The layers are then added in the usual order from these results, keyed by
//! directory, so the image does not depend on the thread count or on which finished first.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use cnb_archive::{ArchiveError, LayerBuilder, LayerDigests, Tree, default_threads, map_ordered};
use cnb_formats::group::Group;
use cnb_image::{Blob, BlobData};

use super::layers::{Context, launch_layer_dirs};

/// A layer built ahead: its scratch file and digests, or why it could not be built.
pub(crate) type Built = Result<(PathBuf, LayerDigests), ArchiveError>;

/// Layers built ahead, by directory.
#[derive(Default)]
pub(crate) struct Prebuilt {
    built: HashMap<Tree, Built>,
}

impl Prebuilt {
    /// The layer built ahead for `tree`, once.
    pub(crate) fn take(&mut self, tree: &Tree) -> Option<Built> {
        self.built.remove(tree)
    }
}

/// Builds ahead every new launch layer dir of the group (when there are at least two: one layer
/// gains nothing). Not for the daemon, whose layers go through the launch cache one by one.
pub(crate) fn prebuild(ctx: &mut Context, group: &Group) {
    if ctx.uncompressed {
        return;
    }
    let mut trees = Vec::new();
    for bp in &group.group {
        let previous = ctx.previous_md.buildpack(&bp.id);
        for (name, layer_dir) in launch_layer_dirs(ctx.inputs, &bp.id) {
            let tree = ctx.tree(&layer_dir);
            let recorded = previous
                .and_then(|p| p.layers.get(&name))
                .map(|l| l.sha.as_str())
                .filter(|s| !s.is_empty());
            // Reusable when the previous image records this diffID (hashed ahead by prehash).
            let reusable = ctx.previous.is_some()
                && recorded.is_some()
                && (ctx.memo.diff_id(&tree).is_none() || ctx.memo.diff_id(&tree) == recorded);
            if !reusable {
                trees.push(tree);
            }
        }
    }
    if trees.len() < 2 {
        return;
    }
    let (ext, compression, _) = ctx.new_layer_format();
    let scratch = ctx.scratch.clone();
    let upload = ctx.upload;
    let items: Vec<(usize, Tree)> = trees.into_iter().enumerate().collect();
    let results = map_ordered(&items, default_threads(), |(i, tree)| -> Built {
        let path = scratch.join(format!("ahead-{i}.{ext}"));
        let file = File::create(&path).map_err(|e| ArchiveError::Io {
            action: "create",
            path: path.clone(),
            source: e,
        })?;
        let mut b = LayerBuilder::new(file, compression);
        b.add_tree(&tree.src, &tree.dest, tree.owner)?;
        let (_, d) = b.finish()?;
        if let (Some(up), Ok(digest)) = (upload, d.digest.parse()) {
            up.send(&Blob {
                digest,
                size: d.size,
                data: BlobData::Path(path.clone()),
            });
        }
        Ok((path, d))
    });
    ctx.prebuilt.built = items.into_iter().map(|(_, t)| t).zip(results).collect();
}
