//! Copies lifecycle images (single or index) from a layout to a registry under new names.

use std::path::Path;

use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
use cnb_image::{BlobStore, LayoutStore, oci};

use crate::image::{copy, open_any};

/// `pairs`: `<name in the layout>=<registry name>`; `insecure`: a registry host to reach over
/// plain HTTP (a loopback test registry), or `-`.
pub fn publish(root: &Path, insecure: &str, pairs: &[&str]) -> Result<(), String> {
    let src = LayoutStore::new(root);
    let mut options = registry_options().map_err(|e| e.to_string())?;
    if insecure != "-" {
        options.insecure_registries = vec![insecure.to_string()];
    }
    let dst = RegistryStore::new(options).map_err(|e| e.to_string())?;
    for pair in pairs {
        let (from, to) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}': expected <layout name>=<registry name>"))?;
        let raw = src
            .manifest(from)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("image '{from}' not found in {}", root.display()))?;
        let repo = to
            .rsplit_once(':')
            .filter(|(r, _)| !r.ends_with('/') && !r.contains('@'))
            .map_or(to, |(r, _)| r);
        if oci::is_index(&raw.media_type) {
            let index: oci::Index =
                serde_json::from_slice(&raw.bytes).map_err(|e| e.to_string())?;
            for child in &index.manifests {
                let image = open_any(&src, &format!("{from}@{}", child.digest))?;
                copy(&src, &image, &dst, &format!("{repo}@{}", child.digest))?;
            }
            dst.put_manifest(to, &raw).map_err(|e| e.to_string())?;
        } else {
            let image = open_any(&src, from)?;
            copy(&src, &image, &dst, to)?;
        }
        println!("{to}: {}", raw.digest);
    }
    Ok(())
}

/// Credentials and CA file as the phases take them (`CNB_REGISTRY_AUTH`, then the docker config;
/// `SSL_CERT_FILE`; `CNB_REGISTRY_TIMEOUT`).
fn registry_options() -> Result<RegistryOptions, cnb_image::registry::RegistryError> {
    let env = cnb_platform::Env::from_process();
    let mut options = RegistryOptions {
        auth: AuthSource::new(env.get("CNB_REGISTRY_AUTH"), env.docker_config_dir())?,
        ..RegistryOptions::default()
    };
    if let Some(ca) = env.get_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        options.ca_certificates.push(ca.into());
    }
    if let Some(timeout) = env.get_os("CNB_REGISTRY_TIMEOUT").and_then(|v| v.to_str()) {
        options.set_timeout(timeout)?;
    }
    Ok(options)
}
