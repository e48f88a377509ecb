//! `lifecycle.toml`: the supported and deprecated APIs and the version, in upstream's layout, from
//! `cnb-api` (the same lists the phases check against) and the workspace version.

use cnb_api::{Apis, BUILDPACK, PLATFORM};

/// The lifecycle version (the workspace's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn list(v: &[cnb_api::Version]) -> String {
    let items: Vec<String> = v.iter().map(|v| format!("\"{v}\"")).collect();
    format!("[{}]", items.join(", "))
}

fn min(apis: &Apis) -> String {
    apis.supported
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The descriptor's text.
pub fn toml() -> String {
    format!(
        "[apis]\n[apis.buildpack]\n  deprecated = {}\n  supported = {}\n[apis.platform]\n  deprecated = {}\n  supported = {}\n\n\
         # The minimum supported APIs, for platforms that read the older (RFC 0011) form.\n[api]\n  platform = \"{}\"\n  buildpack = \"{}\"\n\n\
         [lifecycle]\n  version = \"{VERSION}\"\n",
        list(BUILDPACK.deprecated),
        list(BUILDPACK.supported),
        list(PLATFORM.deprecated),
        list(PLATFORM.supported),
        min(&PLATFORM),
        min(&BUILDPACK),
    )
}

/// The `io.buildpacks.builder.metadata` label of the lifecycle image, in upstream's older form that
/// kpack still reads (`pkg/cnb/remote_lifecycle_reader.go`): the version, and the lowest supported
/// Buildpack and Platform API.
pub fn builder_metadata_label() -> String {
    serde_json::json!({
        "lifecycle": {"version": VERSION},
        "api": {"buildpack": min(&BUILDPACK), "platform": min(&PLATFORM)},
    })
    .to_string()
}

/// The `io.buildpacks.lifecycle.apis` label: the same lists as JSON.
pub fn apis_label() -> String {
    let set = |a: &Apis| {
        serde_json::json!({
            "deprecated": a.deprecated.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "supported": a.supported.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    };
    serde_json::json!({"buildpack": set(&BUILDPACK), "platform": set(&PLATFORM)}).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn semver(v: &str) -> (u64, u64, u64) {
        let p: Vec<u64> = v.split('.').map(|n| n.parse().unwrap()).collect();
        assert_eq!(p.len(), 3, "{v}");
        (p[0], p[1], p[2])
    }

    #[test]
    fn descriptor_version_passes_packs_gates() {
        let doc: toml::Value = toml::from_str(&toml()).unwrap();
        let version = doc["lifecycle"]["version"].as_str().unwrap();
        assert_eq!(version, VERSION);
        // pack reads this version from the builder: creator 0.7.4, image 0.7.5, extensions 0.19.0.
        for gate in ["0.7.4", "0.7.5", "0.19.0"] {
            assert!(semver(version) >= semver(gate), "{version} < {gate}");
        }
        let platform = doc["apis"]["platform"]["supported"].as_array().unwrap();
        assert_eq!(platform.last().unwrap().as_str(), Some("0.15"));
        assert_eq!(doc["api"]["platform"].as_str(), Some("0.7"));
    }
}
