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
