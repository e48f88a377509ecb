//! What the export learned about each layer directory, handed to the cache export that follows:
//! the diffID (so the directory is not read and hashed a second time) and the blob the app image
//! stores for it (so a cache image in the same store links that blob instead of compressing the
//! layer again).

use std::collections::HashMap;

use cnb_archive::Tree;

/// A layer's diffID and, when the export stored or reused it, its blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// sha256 of the layer tar.
    pub diff_id: String,
    /// The app image's blob for it: digest, size, media type.
    pub blob: Option<(cnb_image::Digest, u64, String)>,
}

/// Layer directories (with their in-image path and owner) to what is known about them.
#[derive(Debug, Default)]
pub struct LayerMemo {
    known: HashMap<Tree, Known>,
    /// The image the blobs are stored under (set once the app image is saved).
    pub blobs_in: Option<String>,
}

impl LayerMemo {
    /// The diffID recorded for `tree`.
    pub fn diff_id(&self, tree: &Tree) -> Option<&str> {
        self.known.get(tree).map(|k| k.diff_id.as_str())
    }

    /// Everything recorded for `tree`.
    pub fn get(&self, tree: &Tree) -> Option<&Known> {
        self.known.get(tree)
    }

    /// Records `tree`'s diffID, keeping a blob already known for the same diffID.
    pub fn set_diff_id(&mut self, tree: Tree, diff_id: String) {
        let entry = self.known.entry(tree).or_insert_with(|| Known {
            diff_id: diff_id.clone(),
            blob: None,
        });
        if entry.diff_id != diff_id {
            *entry = Known {
                diff_id,
                blob: None,
            };
        }
    }

    /// Records `tree`'s diffID and blob.
    pub fn set(&mut self, tree: Tree, known: Known) {
        self.known.insert(tree, known);
    }

    /// Hashes, on every core, the trees not recorded yet, and records them; a tree that cannot
    /// be read is left out (its layer reports the error when it is built).
    pub fn hash_missing(&mut self, trees: Vec<Tree>) {
        let missing: Vec<Tree> = trees
            .into_iter()
            .filter(|t| !self.known.contains_key(t))
            .collect();
        let hashed = cnb_archive::hash_trees(&missing, cnb_archive::default_threads());
        for (tree, diff_id) in missing.into_iter().zip(hashed) {
            if let Ok(d) = diff_id {
                self.set_diff_id(tree, d);
            }
        }
    }
}
