//! The legacy bill of materials of launch.toml and build.toml (`[[bom]]`): checked, tagged with
//! its buildpack, and handed on as upstream does: from Platform API 0.9 as
//! `<layers>/sbom/{launch,build}/sbom.legacy.json` (written even when empty), before that as
//! metadata.toml's `[[bom]]` (launch entries only).

use std::path::Path;

use cnb_api::Version;
use cnb_formats::bom::{BomBuildpack, BomEntry, legacy_json};
use cnb_formats::{FormatError, write_atomic};
use cnb_platform::Logger;

/// A `[[bom]]` entry that cannot be accepted.
#[derive(Debug, thiserror::Error)]
#[error(
    "buildpack '{buildpack}': bom entry '{name}' has a top level version which is not allowed; the buildpack should set metadata.version instead"
)]
pub struct BomError {
    /// The buildpack.
    pub buildpack: String,
    /// The entry.
    pub name: String,
}

/// Upstream's words, so that platforms and users see the same deprecation notice.
const DEPRECATED: &str = "BOM table is deprecated in this buildpack api version, though it remains supported for backwards compatibility. Buildpack authors should write BOM information to <layer>.sbom.<ext>, launch.sbom.<ext>, or build.sbom.<ext>.";

/// Whether the buildpack wrote any `*.sbom.*.json` file at the top of its layers dir: then its
/// `[[bom]]` is taken as a migration aid and not warned about, as upstream.
fn has_sbom_files(bp_layers: &Path) -> bool {
    std::fs::read_dir(bp_layers).is_ok_and(|rd| {
        rd.filter_map(|e| e.ok()).any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            // Go's `*.sbom.*.json`: either `*` may be empty, but `.sbom.` and `.json` may not overlap.
            name.ends_with(".json")
                && name
                    .find(".sbom.")
                    .is_some_and(|i| i + ".sbom.".len() + ".json".len() <= name.len())
        })
    })
}

/// One buildpack's `[[bom]]` of one file: refused with a top-level version, warned about unless
/// it has SBOM files too, and tagged with the buildpack's id and version from buildpack.toml.
pub fn accept(
    entries: Vec<BomEntry>,
    buildpack: &BomBuildpack,
    bp_layers: &Path,
    log: &Logger,
) -> Result<Vec<BomEntry>, BomError> {
    if entries.is_empty() {
        return Ok(entries);
    }
    if !has_sbom_files(bp_layers) {
        log.warn(DEPRECATED);
    }
    entries
        .into_iter()
        .map(|e| match e.version.is_empty() {
            true => Ok(BomEntry {
                buildpack: buildpack.clone(),
                ..e
            }),
            false => Err(BomError {
                buildpack: format!("{}@{}", buildpack.id, buildpack.version),
                name: e.name,
            }),
        })
        .collect()
}

/// After all buildpacks: from Platform API 0.9 the two legacy files (and nothing for
/// metadata.toml), before that the launch entries for metadata.toml.
pub fn finish(
    layers: &Path,
    platform_api: Version,
    launch: Vec<BomEntry>,
    build: &[BomEntry],
) -> Result<Vec<BomEntry>, FormatError> {
    if platform_api < Version::new(0, 9) {
        return Ok(launch);
    }
    for (kind, entries) in [("launch", launch.as_slice()), ("build", build)] {
        let path = layers.join("sbom").join(kind).join("sbom.legacy.json");
        let dir = layers.join("sbom").join(kind);
        std::fs::create_dir_all(&dir).map_err(|source| FormatError::Write {
            path: dir.clone(),
            source,
        })?;
        write_atomic(&path, legacy_json(entries)?.as_bytes())?;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_files_are_recognised_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_sbom_files(dir.path()));
        std::fs::write(dir.path().join("launch.toml"), "").unwrap();
        std::fs::write(dir.path().join("x.sbom.json"), "").unwrap();
        assert!(!has_sbom_files(dir.path()), ".sbom. and .json overlap");
        std::fs::write(dir.path().join("layer.sbom.cdx.json"), "{}").unwrap();
        assert!(has_sbom_files(dir.path()));
    }

    #[test]
    fn entries_get_their_buildpack_and_a_top_level_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bp = BomBuildpack {
            id: "a/b".into(),
            version: "1".into(),
        };
        let e = BomEntry {
            name: "dep".into(),
            ..Default::default()
        };
        let out = accept(vec![e.clone()], &bp, dir.path(), &Logger::default()).unwrap();
        assert_eq!(out[0].buildpack, bp);
        let bad = BomEntry {
            version: "2".into(),
            ..e
        };
        let err = accept(vec![bad], &bp, dir.path(), &Logger::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("bom entry 'dep' has a top level version")
        );
    }
}
