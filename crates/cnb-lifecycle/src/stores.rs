//! Choosing the image backend from the inputs, as upstream's handler does: a layout, else the
//! daemon, else a registry (credentials from `CNB_REGISTRY_AUTH`, then `DOCKER_CONFIG`). A cache
//! image always lives in a registry, even when the app image goes to the daemon.

use cnb_image::daemon::{DaemonError, DaemonStore, Endpoint};
use cnb_image::registry::{AuthSource, RegistryError, RegistryOptions, RegistryStore};
use cnb_image::{BlobStore, LayoutStore};
use cnb_platform::{Inputs, Key, Logger};

/// Why no backend could be built.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `-layout` without `-layout-dir`: upstream silently uses the registry instead; we refuse.
    #[error("-layout needs -layout-dir (CNB_LAYOUT_DIR): refusing to fall back to a registry")]
    LayoutWithoutDir,
    /// Layout is experimental upstream; `CNB_EXPERIMENTAL_MODE=error` (the default) refuses it.
    #[error(
        "experimental feature 'export to OCI layout format' is disabled: set CNB_EXPERIMENTAL_MODE=warn to use -layout"
    )]
    ExperimentalLayout,
    /// `-daemon` and `-layout` together.
    #[error("-daemon and -layout exclude each other: choose one")]
    DaemonAndLayout,
    /// The daemon could not be reached.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// The registry client could not be set up (bad CNB_REGISTRY_AUTH, unreadable CA file, ...).
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The store the inputs ask for.
pub fn open_store(inputs: &Inputs, log: &Logger) -> Result<Box<dyn BlobStore>, StoreError> {
    if inputs.flag(Key::Daemon) {
        if inputs.flag(Key::Layout) {
            return Err(StoreError::DaemonAndLayout);
        }
        // Connected now, before the phase drops privileges (the socket is usually root's).
        let host = inputs
            .docker_host
            .as_deref()
            .unwrap_or(Endpoint::DEFAULT_HOST);
        let store = DaemonStore::connect(Endpoint::parse(host)?, inputs.temp_dir.clone())?;
        return Ok(Box::new(match inputs.launch_cache_dir() {
            Some(dir) => store.with_layer_lookup(crate::launch_cache::LaunchCache::lookup(dir)),
            None => store,
        }));
    }
    if inputs.flag(Key::Layout) {
        let Some(dir) = inputs.path(Key::LayoutDir) else {
            return Err(StoreError::LayoutWithoutDir);
        };
        match inputs.experimental_mode.as_str() {
            "warn" => log.warn("using experimental feature: export to OCI layout format"),
            "quiet" | "silent" => {}
            _ => return Err(StoreError::ExperimentalLayout),
        }
        return Ok(Box::new(LayoutStore::new(dir)));
    }
    registry_store(inputs)
}

/// A separate store for `-cache-image` when the images go to the daemon: the cache image is
/// always a registry image. `None` means the cache image shares the images' store.
pub fn open_cache_store(inputs: &Inputs) -> Result<Option<Box<dyn BlobStore>>, StoreError> {
    if !inputs.flag(Key::Daemon) || inputs.cache_image().is_none() {
        return Ok(None);
    }
    registry_store(inputs).map(Some)
}

/// The registry store for `-build-image` (always a registry image, as upstream), when the
/// restorer records one.
pub fn open_build_image_store(inputs: &Inputs) -> Result<Option<Box<dyn BlobStore>>, StoreError> {
    if !crate::build_image::wanted(inputs) {
        return Ok(None);
    }
    registry_store(inputs).map(Some)
}

/// A registry store with the inputs' credentials, CA file, timeout and insecure registries.
pub(crate) fn registry_store(inputs: &Inputs) -> Result<Box<dyn BlobStore>, StoreError> {
    Ok(Box::new(RegistryStore::new(registry_options(inputs)?)?))
}

/// How to reach registries, from the inputs: credentials from `CNB_REGISTRY_AUTH`, then the
/// docker config; `SSL_CERT_FILE` as an extra CA; `CNB_REGISTRY_TIMEOUT`.
fn registry_options(inputs: &Inputs) -> Result<RegistryOptions, RegistryError> {
    let mut options = RegistryOptions {
        auth: AuthSource::new(
            inputs.registry_auth.as_deref(),
            inputs.docker_config_dir.clone(),
        )?,
        insecure_registries: inputs.insecure_registries().to_vec(),
        ..RegistryOptions::default()
    };
    options.ca_certificates.extend(inputs.ssl_cert_file.clone());
    if let Some(value) = &inputs.registry_timeout {
        options.set_timeout(value)?;
    }
    Ok(options)
}
