//! SBOM files a buildpack writes (`launch.sbom.<ext>.json`, `build.sbom.<ext>.json`,
//! `<layer>.sbom.<ext>.json`), checked against its declared `sbom-formats` and copied to
//! `<layers>/sbom/{launch,build,cache}/<buildpack>/...` where the exporter and cache take them.

use std::path::Path;

use cnb_formats::layer::LayerMetadataFile;

/// An SBOM file that cannot be accepted.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// An extension that is not cdx, spdx or syft.
    #[error(
        "buildpack '{buildpack}': unsupported sbom format in '{file}' (expected .sbom.cdx.json, .sbom.spdx.json or .sbom.syft.json)"
    )]
    Unknown {
        /// The buildpack.
        buildpack: String,
        /// The file.
        file: String,
    },
    /// A format the buildpack did not declare.
    #[error(
        "buildpack '{buildpack}': '{file}' is {media_type}, which buildpack.toml does not declare in sbom-formats"
    )]
    Undeclared {
        /// The buildpack.
        buildpack: String,
        /// The file.
        file: String,
        /// Its media type.
        media_type: &'static str,
    },
    /// Copying failed.
    #[error("copy sbom '{file}': {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn media_type(ext: &str) -> Option<&'static str> {
    match ext {
        "cdx" => Some("application/vnd.cyclonedx+json"),
        "spdx" => Some("application/spdx+json"),
        "syft" => Some("application/vnd.syft+json"),
        _ => None,
    }
}

/// Checks and copies one buildpack's SBOM files.
pub fn collect(
    bp_id: &str,
    bp_layers: &Path,
    declared: &[String],
    layers: &Path,
) -> Result<(), SbomError> {
    let escaped = cnb_formats::id::dir_name(bp_id);
    let Ok(rd) = std::fs::read_dir(bp_layers) else {
        return Ok(());
    };
    let mut files: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    files.sort();
    for file in files {
        let Some(stem) = file.strip_suffix(".json") else {
            continue;
        };
        let Some((owner, ext)) = stem.split_once(".sbom.") else {
            continue;
        };
        let media = media_type(ext).ok_or_else(|| SbomError::Unknown {
            buildpack: bp_id.into(),
            file: file.clone(),
        })?;
        if !declared.iter().any(|d| d == media) {
            return Err(SbomError::Undeclared {
                buildpack: bp_id.into(),
                file: file.clone(),
                media_type: media,
            });
        }
        let name = format!("sbom.{ext}.json");
        let dests: Vec<std::path::PathBuf> = match owner {
            "launch" => vec![layers.join("sbom/launch").join(&escaped).join(&name)],
            "build" => vec![layers.join("sbom/build").join(&escaped).join(&name)],
            layer => {
                let types = LayerMetadataFile::read(&bp_layers.join(format!("{layer}.toml")))
                    .map(|m| m.types())
                    .unwrap_or_default();
                let mut d = Vec::new();
                let kind = if types.launch { "launch" } else { "build" };
                d.push(
                    layers
                        .join("sbom")
                        .join(kind)
                        .join(&escaped)
                        .join(layer)
                        .join(&name),
                );
                if types.cache {
                    d.push(
                        layers
                            .join("sbom/cache")
                            .join(&escaped)
                            .join(layer)
                            .join(&name),
                    );
                }
                d
            }
        };
        for dest in dests {
            let io = |source| SbomError::Io {
                file: file.clone(),
                source,
            };
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::copy(bp_layers.join(&file), &dest).map_err(io)?;
        }
    }
    Ok(())
}
