//! The prelude of the phases that start as root (analyzer, restorer, exporter, creator,
//! rebaser), in upstream's order: the caller opens its image store first (credentials are read
//! as root), then the volumes the build user will write are given to it, then privileges are
//! dropped to `-uid`/`-gid`. Everything after runs as the build user. The restorer alone drops
//! later than it hands over: it reads the run image as root in between, for the kaniko copy.

use std::path::Path;

use cnb_platform::{Inputs, Key};

/// A volume a phase writes as the build user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Volume {
    /// `-layers`.
    Layers,
    /// `-cache-dir`, when given.
    CacheDir,
    /// `-launch-cache`, when given.
    LaunchCache,
    /// The layout root, with `-layout`.
    Layout,
}

/// The paths of `wanted` this run has.
pub(crate) fn volumes<'a>(inputs: &'a Inputs, wanted: &[Volume]) -> Vec<&'a Path> {
    wanted
        .iter()
        .filter_map(|v| match v {
            Volume::Layers => Some(inputs.layers_dir()),
            Volume::CacheDir => inputs.cache_dir(),
            Volume::LaunchCache => inputs.path(Key::LaunchCache),
            Volume::Layout => inputs.layout().then(|| inputs.layout_dir()).flatten(),
        })
        .collect()
}

/// Gives `owned` to the build user (as upstream: only what it cannot already write), then drops
/// to it.
pub(crate) fn hand_over(inputs: &Inputs, owned: &[&Path]) -> Result<(), cnb_os::OsError> {
    cnb_os::ensure_owner(inputs.uid(), inputs.gid(), owned)?;
    cnb_os::drop_privileges(inputs.uid(), inputs.gid())
}
