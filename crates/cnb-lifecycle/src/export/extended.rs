//! The extended run image (Platform API 0.12+, experimental below 0.13): what `extender -kind run`
//! leaves in `<extended>/run/<digest>/`, an OCI layout holding one image — the run image's
//! manifest and config plus the extension layers, with only the extension layers' blobs present.
//! The app image takes its config (env, user, labels, ...) and, above the run image's layers, its
//! extension layers (`<extension>:extended-layer-<n>`), each reused from the previous image when it
//! has the same diffID.

use std::path::{Path, PathBuf};

use cnb_api::Version;
use cnb_formats::analyzed::Analyzed;
use cnb_formats::labels::REBASABLE;
use cnb_image::oci::{self, History};
use cnb_image::{
    Blob, BlobData, Digest, Image, ImageBuilder, LayoutStore, Opened, TargetRequest, TargetSource,
    open,
};
use cnb_platform::{Inputs, Logger};

use super::ExportError;
use super::layers::Context;

/// One layer an extension added.
#[derive(Debug)]
pub(crate) struct ExtensionLayer {
    /// `<extension id>:extended-layer-<n>`, `n` counting every layer of the extended image.
    pub id: String,
    pub diff_id: Digest,
    pub blob: Blob,
    pub media_type: String,
    pub created_by: String,
}

/// The extended run image and the layers the extensions added to it.
#[derive(Debug)]
pub(crate) struct Extended {
    pub image: Image,
    pub layers: Vec<ExtensionLayer>,
}

fn fail(path: &Path, reason: impl std::fmt::Display) -> ExportError {
    ExportError::Extended {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The extended run image when analyzed.toml says the run image is extended, checked against
/// the run image it must be built on.
pub(crate) fn open_extended(
    inputs: &Inputs,
    analyzed: &Analyzed,
    run: &Image,
    log: &Logger,
) -> Result<Option<Extended>, ExportError> {
    // Run image extension starts at Platform API 0.12; below it the dir means nothing.
    if inputs.platform_api < Version::new(0, 12) {
        return Ok(None);
    }
    let dir = inputs.extended_dir().join("run");
    let entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    if !entries.is_empty() && inputs.platform_api < Version::new(0, 13) {
        match inputs.experimental_mode.as_str() {
            "warn" => log.warn("using experimental feature: Dockerfiles (extended run image)"),
            "quiet" | "silent" => {}
            _ => return Err(ExportError::ExperimentalDockerfiles),
        }
    }
    let extend = analyzed.run_image.as_ref().is_some_and(|r| r.extend);
    if !extend {
        // Upstream adds these layers without the extended config; a dir the run image was not
        // extended for is a leftover, and half of an image is worse than none.
        if !entries.is_empty() {
            log.warn(format!(
                "ignoring '{}': analyzed.toml does not say the run image is extended",
                dir.display()
            ));
        }
        return Ok(None);
    }
    let layout = only_layout(&dir, &entries)?;
    let name = layout.to_string_lossy().into_owned();
    let store = LayoutStore::new(&dir);
    let image = open_on_run_image(&store, &name, &layout, run)?;
    let layers = extension_layers(&store, &name, &layout, &image, run.layers().len())?;
    log.debug(format!(
        "extended run image {} with {} extension layer(s)",
        image.identifier,
        layers.len()
    ));
    Ok(Some(Extended { image, layers }))
}

/// The one image layout the extender leaves in `dir`.
fn only_layout(dir: &Path, entries: &[PathBuf]) -> Result<PathBuf, ExportError> {
    match entries {
        [one] => Ok(one.clone()),
        [] => Err(fail(
            dir,
            "missing, but analyzed.toml says the run image is extended",
        )),
        many => Err(fail(
            dir,
            format!("expected one image layout, found {} entries", many.len()),
        )),
    }
}

/// The extended image in `layout` for the run image's platform, which must have the run image's
/// layers at its base.
fn open_on_run_image(
    store: &LayoutStore,
    name: &str,
    layout: &Path,
    run: &Image,
) -> Result<Image, ExportError> {
    let request = TargetRequest::new(run.target(), TargetSource::Image);
    let image = match open(store, name, &request).map_err(|e| fail(layout, e))? {
        Opened::Found(i) => *i,
        Opened::NotFound => return Err(fail(layout, "no image in the layout")),
        Opened::PlatformMismatch { found, wanted, .. } => {
            return Err(fail(
                layout,
                format!("it is for {found} but the run image is for {wanted}"),
            ));
        }
    };
    let all = image.layers();
    let base = run.layers();
    let on_run =
        all.len() >= base.len() && all.iter().zip(&base).all(|(a, b)| a.diff_id == b.diff_id);
    if !on_run {
        return Err(fail(
            layout,
            format!("it is not built on the run image '{}'", run.identifier),
        ));
    }
    Ok(image)
}

/// The layers of `image` above the run image's `base_len`, each named after the extension that
/// added it, their blobs in the layout.
fn extension_layers(
    store: &LayoutStore,
    name: &str,
    layout: &Path,
    image: &Image,
    base_len: usize,
) -> Result<Vec<ExtensionLayer>, ExportError> {
    let mut layers = Vec::new();
    for (n, l) in image.layers().iter().enumerate().skip(base_len) {
        let file = store
            .blob_file(name, &l.digest)
            .map_err(|e| fail(layout, e))?
            .ok_or_else(|| fail(layout, format!("extension layer {} is missing", l.digest)))?;
        let created_by = non_empty_history(&image.config.history, n)
            .and_then(|h| h.created_by.clone())
            .unwrap_or_default();
        layers.push(ExtensionLayer {
            id: format!("{}:extended-layer-{n}", extension_of(&created_by)),
            diff_id: l.diff_id.clone(),
            blob: Blob {
                digest: l.digest.clone(),
                size: l.size,
                data: BlobData::Path(file),
            },
            media_type: oci_media_type(&l.media_type),
            created_by,
        });
    }
    Ok(layers)
}

/// The history entry of the `n`th layer (entries of empty layers do not count), as upstream
/// pairs them.
fn non_empty_history(history: &[History], n: usize) -> Option<&History> {
    history
        .iter()
        .filter(|h| h.empty_layer != Some(true))
        .nth(n)
}

/// The extension id in upstream's history text `Layer: '<created by>', Created by extension:
/// <id>`; upstream's fallback when the text has another shape.
fn extension_of(created_by: &str) -> &str {
    created_by
        .rsplit_once(", Created by extension: ")
        .map(|(_, id)| id.trim())
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .unwrap_or("from extensions")
}

/// Our manifests are OCI: a Docker layer type becomes the OCI type of the same bytes.
fn oci_media_type(media_type: &str) -> String {
    match media_type {
        oci::DOCKER_LAYER_GZIP => oci::OCI_LAYER_GZIP.into(),
        "application/vnd.docker.image.rootfs.diff.tar" => oci::OCI_LAYER_TAR.into(),
        other => other.into(),
    }
}

impl Extended {
    /// The extended image's container config (env, user, working dir, labels, ...) replaces the
    /// run image's, as upstream builds the app image with it.
    pub(crate) fn apply_config(&self, image: &mut ImageBuilder) {
        image.config_mut().config = self.image.config.config.clone();
    }

    /// Appends the extension layers above the run image's, reusing the previous image's.
    pub(crate) fn add_layers(&self, ctx: &mut Context) -> Result<(), ExportError> {
        for l in &self.layers {
            let history = ctx.history(&l.created_by, "");
            if let Some(prev) = ctx.previous.filter(|p| p.layer(&l.diff_id).is_some()) {
                ctx.image
                    .reuse_layer(prev, &l.diff_id, history)
                    .map_err(super::LayerError::from)?;
                ctx.log.info(format!("Reusing layer '{}'", l.id));
            } else {
                ctx.image
                    .add_layer(l.diff_id.clone(), l.blob.clone(), &l.media_type, history);
                ctx.log.info(format!("Adding layer '{}'", l.id));
            }
        }
        Ok(())
    }

    /// With extension layers the image is rebasable only when the extended image says so (the
    /// extender marks it `false` unless every extension declared itself rebasable); an image
    /// without the label is not, as upstream's extender reads it.
    pub(crate) fn set_rebasable(&self, image: &mut ImageBuilder) {
        if self.layers.is_empty() {
            return;
        }
        let yes = matches!(
            self.image.label(REBASABLE),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        );
        image.set_label(REBASABLE, if yes { "true" } else { "false" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_ids_come_from_upstreams_history_text() {
        assert_eq!(
            extension_of("Layer: 'RUN apt-get install -y curl', Created by extension: curl"),
            "curl"
        );
        assert_eq!(extension_of("RUN something"), "from extensions");
        assert_eq!(extension_of(""), "from extensions");
    }

    #[test]
    fn history_of_empty_layers_is_skipped() {
        let h = |c: &str, empty: bool| History {
            created_by: Some(c.into()),
            empty_layer: empty.then_some(true),
            ..Default::default()
        };
        let history = [h("a", false), h("env", true), h("b", false)];
        assert_eq!(
            non_empty_history(&history, 1).and_then(|h| h.created_by.as_deref()),
            Some("b")
        );
        assert!(non_empty_history(&history, 2).is_none());
    }
}
