//! Image layers as tar streams: reproducible writing (sorted entries, fixed timestamps, normalised
//! owners) that computes the diffID, and when asked the gzip or zstd digest, in the same single
//! pass; several layers hashed at once; and extraction that never writes outside its target.
//!
//! It knows tar, gzip, zstd and sha256, not images or buildpacks: callers decide what goes in a layer and
//! where a layer's blob is stored.

mod error;
mod extract;
mod hash;
mod offload;
mod parallel;
mod pipe;
mod write;

pub use error::ArchiveError;
pub use extract::{ExtractOptions, Extracted, extract, is_tar_archive};
pub use hash::{HashingReader, HashingWriter, sha256_hex};
pub use parallel::{Tree, default_threads, hash_trees, map_ordered};
pub use write::{Compression, LayerBuilder, LayerDigests, NORMALIZED_MTIME, Owner};

/// Result alias of this crate.
pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;
