//! The restorer run the way a platform runs it, and the caches it restores from: a build's
//! layers exported to a cache dir or a cache image, then cleaned for the next build.

use std::path::Path;

use cnb_formats::group::Group;
use cnb_image::BlobStore;
use cnb_lifecycle::cache::{ImageCache, VolumeCache};
use cnb_lifecycle::export::LayerMemo;
pub use cnb_test_support::phase::{PhaseOutput, PhaseRun, platform_apis};
pub use cnb_test_support::write_file as write;

/// group.toml of one buildpack, `samples/bp`.
pub const GROUP: &str = "[[group]]\nid = \"samples/bp\"\nversion = \"1\"\napi = \"0.10\"\n";

/// The restorer at Platform API `papi` restoring into `layers`.
pub fn restorer(papi: &str, layers: &Path) -> PhaseRun {
    PhaseRun::new(env!("CARGO_BIN_EXE_restorer"), papi).flag("-layers", layers)
}

/// Exports the cache layers of `layers` (per its group.toml) to the cache dir `cache`.
pub fn export_to_dir(layers: &Path, cache: &Path) {
    let group = Group::read(&layers.join("group.toml")).unwrap();
    VolumeCache::new(cache)
        .export(
            layers,
            &group,
            cnb_archive::Owner::ROOT,
            &LayerMemo::default(),
            &cnb_platform::Logger::default(),
        )
        .unwrap();
}

/// Exports the cache layers of `layers` (per its group.toml) as the cache image `name`.
pub fn export_to_image(layers: &Path, store: &dyn BlobStore, name: &str) {
    let group = Group::read(&layers.join("group.toml")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    ImageCache::new(store, name)
        .export(
            layers,
            &group,
            cnb_archive::Owner::ROOT,
            scratch.path(),
            &LayerMemo::default(),
            &cnb_platform::Logger::default(),
        )
        .unwrap();
}
