//! A daemon image seen through the OCI model: the daemon's inspect answer rebuilt as a config,
//! and a manifest whose layers are the uncompressed tars named by their diffIDs. Nothing is
//! exported from the daemon to read an image's metadata; layer bytes are fetched only when a
//! caller reads one.

use std::collections::BTreeMap;

use bollard::models::ImageInspect;
use serde_json::Value;

use crate::oci::{self, ConfigFile, Descriptor, Manifest, RootFs, RunConfig};
use crate::{Digest, ImageError, Result};

/// An image as the daemon describes it.
pub struct Synthesized {
    /// The daemon's image ID (`sha256:...`).
    pub image_id: String,
    /// The rebuilt config, serialised.
    pub config: Vec<u8>,
    /// The manifest over it, serialised.
    pub manifest: Vec<u8>,
    /// The layers' diffIDs, base first.
    pub diff_ids: Vec<Digest>,
}

fn set_map(extra: &mut BTreeMap<String, Value>, key: &str, list: Option<Vec<String>>) {
    if let Some(list) = list.filter(|l| !l.is_empty()) {
        let map = list
            .into_iter()
            .map(|k| (k, Value::Object(Default::default())))
            .collect();
        extra.insert(key.into(), Value::Object(map));
    }
}

/// Rebuilds the config and manifest of an inspected image.
pub fn synthesize(name: &str, inspect: ImageInspect) -> Result<Synthesized> {
    let invalid = |reason: String| ImageError::Invalid {
        what: "daemon image",
        reference: name.to_string(),
        reason,
    };
    let image_id = inspect
        .id
        .clone()
        .ok_or_else(|| invalid("the daemon reported no image ID".into()))?;
    let diff_ids = inspect
        .root_fs
        .and_then(|r| r.layers)
        .unwrap_or_default()
        .iter()
        .map(|l| l.parse::<Digest>())
        .collect::<Result<Vec<_>>>()?;
    let c = inspect.config.unwrap_or_default();
    let mut extra = BTreeMap::new();
    set_map(&mut extra, "ExposedPorts", c.exposed_ports);
    set_map(&mut extra, "Volumes", c.volumes);
    if let Some(s) = c.stop_signal {
        extra.insert("StopSignal".into(), Value::String(s));
    }
    let config = ConfigFile {
        architecture: inspect.architecture.unwrap_or_default(),
        os: inspect.os.unwrap_or_default(),
        os_version: inspect.os_version.filter(|v| !v.is_empty()),
        variant: inspect.variant.filter(|v| !v.is_empty()),
        created: inspect.created.map(|c| c.to_string()),
        config: RunConfig {
            user: c.user.filter(|u| !u.is_empty()),
            env: c.env,
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            working_dir: c.working_dir.filter(|w| !w.is_empty()),
            labels: c.labels.map(|l| l.into_iter().collect()),
            extra,
        },
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: diff_ids.clone(),
        },
        // The daemon's history cannot be tied to layers reliably; an image without history is
        // valid, and the exporter adds its own entries.
        history: Vec::new(),
        extra: BTreeMap::new(),
    };
    let config = serde_json::to_vec(&config).map_err(|e| invalid(e.to_string()))?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.into()),
        config: Descriptor::new(oci::OCI_CONFIG, Digest::of(&config), config.len() as u64),
        // The daemon keeps layers uncompressed: the blob of a layer is its diffID's tar. Its
        // size is not known without exporting it.
        layers: diff_ids
            .iter()
            .map(|d| Descriptor::new(oci::OCI_LAYER_TAR, d.clone(), 0))
            .collect(),
        annotations: BTreeMap::new(),
        extra: BTreeMap::new(),
    };
    let manifest = serde_json::to_vec(&manifest).map_err(|e| invalid(e.to_string()))?;
    Ok(Synthesized {
        image_id,
        config,
        manifest,
        diff_ids,
    })
}

/// The chain IDs of every prefix of `diff_ids` (the daemon's key for a stack of layers).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let b: Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
        let chains = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chains[0], a);
        assert_eq!(chains[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn inspect_becomes_config_and_manifest() {
        let inspect: ImageInspect = serde_json::from_value(serde_json::json!({
            "Id": format!("sha256:{}", "c".repeat(64)),
            "Architecture": "arm64",
            "Variant": "v8",
            "Os": "linux",
            "Config": {"Env": ["A=1"], "Labels": {"k": "v"}, "ExposedPorts": {"8080/tcp": {}}},
            "RootFS": {"Type": "layers", "Layers": [format!("sha256:{}", "d".repeat(64))]}
        }))
        .unwrap();
        let s = synthesize("x", inspect).unwrap();
        let config: ConfigFile = serde_json::from_slice(&s.config).unwrap();
        assert_eq!(config.target().to_string(), "linux/arm64/v8");
        assert_eq!(config.config.labels.unwrap()["k"], "v");
        assert!(config.config.extra.contains_key("ExposedPorts"));
        let manifest: Manifest = serde_json::from_slice(&s.manifest).unwrap();
        assert_eq!(manifest.layers[0].digest, s.diff_ids[0]);
        assert_eq!(manifest.layers[0].media_type, oci::OCI_LAYER_TAR);
    }
}
