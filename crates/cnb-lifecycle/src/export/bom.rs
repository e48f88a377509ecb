//! The legacy bill of materials in the app image and report, below Platform API 0.9 only (from
//! 0.9 it travels as `sbom.legacy.json` in the SBOM layer), as upstream: the launch entries of
//! metadata.toml in the `io.buildpacks.build.metadata` label, the build entries of each
//! buildpack's build.toml in report.toml's `[build]`.

use cnb_api::Version;
use cnb_formats::bom::{BomBuildpack, BomEntry, LegacyBom};
use cnb_formats::build_toml::BuildToml;
use cnb_formats::group::Group;
use cnb_formats::metadata::LaunchMetadata;
use cnb_formats::report::BuildReport;
use cnb_formats::{FormatError, read_toml_if_exists};

fn legacy(platform_api: Version) -> bool {
    platform_api < Version::new(0, 9)
}

/// The label's `bom`: below 0.9 always there (`null` when empty), from 0.9 left out.
pub(super) fn label(platform_api: Version, metadata: &LaunchMetadata) -> Option<LegacyBom> {
    legacy(platform_api).then(|| LegacyBom(metadata.bom.clone()))
}

/// report.toml's `[build]`: below 0.9 the `[[bom]]` of every group buildpack's build.toml,
/// tagged with the group's id and version; left out when there is none, as upstream's encoder
/// leaves out an empty table.
pub(super) fn build_report(
    platform_api: Version,
    layers: &std::path::Path,
    group: &Group,
) -> Result<Option<BuildReport>, FormatError> {
    if !legacy(platform_api) {
        return Ok(None);
    }
    let mut bom: Vec<BomEntry> = Vec::new();
    for bp in &group.group {
        let path = layers
            .join(cnb_formats::id::dir_name(&bp.id))
            .join("build.toml");
        let Some(build) = read_toml_if_exists::<BuildToml>(&path)? else {
            continue;
        };
        let tag = BomBuildpack {
            id: bp.id.clone(),
            version: bp.version.clone(),
        };
        bom.extend(build.bom.into_iter().map(|e| BomEntry {
            buildpack: tag.clone(),
            ..e
        }));
    }
    Ok((!bom.is_empty()).then_some(BuildReport { bom }))
}
