//! Several layers at once: each layer is one sequential stream, so layers are the unit of
//! parallelism. Results come back in input order whatever the thread count, so what is built
//! from them does not depend on it.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{LayerBuilder, Owner, Result};

/// One directory to turn into a layer: the dir on disk, its absolute in-image path, the owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tree {
    /// The directory on disk.
    pub src: PathBuf,
    /// Its absolute path in the image.
    pub dest: String,
    /// Owner of every entry.
    pub owner: Owner,
}

/// Threads for layer work: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over every item on up to `threads` threads (items taken in order, one at a time, so a
/// large item keeps one thread while the others work through the rest); results in input order.
pub fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().ok().flatten())
        .collect::<Option<Vec<R>>>()
        // A worker that panicked re-raises its panic when the scope ends, so every slot is
        // filled here; this fallback only satisfies the type.
        .unwrap_or_default()
}

/// The diffID of each tree (as [`LayerBuilder::add_tree`] writes it), hashed on up to `threads`
/// threads, in input order.
pub fn hash_trees(trees: &[Tree], threads: usize) -> Vec<Result<String>> {
    map_ordered(trees, threads, |t| {
        let mut b = LayerBuilder::hash_only();
        b.add_tree(&t.src, &t.dest, t.owner)?;
        Ok(b.finish()?.1.diff_id)
    })
}
