//! The layers a buildpack left in its layers dir, named by their `<layer>.toml` files.

use std::path::Path;

/// The names of `<dir>/<name>.toml` layer files (not launch.toml, build.toml or store.toml),
/// sorted; none when the dir does not exist.
pub(crate) fn layer_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".toml"))
                        .map(str::to_string)
                })
                .filter(|n| !matches!(n.as_str(), "launch" | "build" | "store"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
