//! The restorer's `-build-image` (Platform API 0.10+): the build image is looked up in its registry
//! and its digest reference recorded in analyzed.toml `[build-image]`, for the extender, as
//! upstream. Tekton's buildpacks-phases task passes it on every build, extensions or not.

use cnb_formats::analyzed::{Analyzed, ImageIdentifier};
use cnb_image::{BlobStore, ImageError, Opened, TargetRequest, TargetSource, open};
use cnb_platform::{Inputs, Logger};

/// Whether this restorer run records a build image.
pub(crate) fn wanted(inputs: &Inputs) -> bool {
    inputs.platform_api >= cnb_api::Version::new(0, 10) && inputs.build_image().is_some()
}

/// Resolves `-build-image` (an index to the child for the build's target) and records it.
pub(crate) fn record(
    inputs: &Inputs,
    store: &dyn BlobStore,
    analyzed: &mut Analyzed,
    log: &Logger,
) -> Result<(), ImageError> {
    let Some(name) = inputs.build_image() else {
        return Ok(());
    };
    let request = crate::target::from_flags(inputs)
        .or_else(|| {
            analyzed
                .target()
                .filter(|t| !t.os.is_empty())
                .map(crate::target::from_recorded)
        })
        .unwrap_or_else(|| TargetRequest::or_host(None, TargetSource::Host));
    let image = match open(store, name, &request)? {
        Opened::Found(image) => image,
        Opened::NotFound => return Err(ImageError::NotFound(name.to_string())),
        Opened::PlatformMismatch { found, wanted, .. } => {
            return Err(ImageError::PlatformMismatch {
                reference: name.to_string(),
                found: Box::new(found),
                wanted: Box::new(wanted),
            });
        }
    };
    log.debug(format!("build image '{name}' is {}", image.identifier));
    analyzed.build_image = Some(ImageIdentifier {
        reference: image.identifier.clone(),
    });
    Ok(())
}
