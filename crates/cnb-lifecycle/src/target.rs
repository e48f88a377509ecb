//! Target data: from the flags into a resolution request, and from an image into analyzed.toml.

use cnb_formats::labels;
use cnb_formats::target::{Distro, TargetMetadata};
use cnb_image::{Image, Target, TargetRequest, TargetSource};
use cnb_platform::Inputs;

/// The target given by `-os`/`-arch`/`-arch-variant` (or `CNB_TARGET_*`), if any.
pub fn from_flags(inputs: &Inputs) -> Option<TargetRequest> {
    let t = inputs.target();
    if t.is_empty() {
        return None;
    }
    let os = t.os.as_deref().unwrap_or("linux");
    let arch = t.arch.as_deref().unwrap_or(std::env::consts::ARCH);
    Some(TargetRequest::new(
        Target::new(os, arch, t.arch_variant.as_deref()),
        TargetSource::Flags,
    ))
}

/// The `[run-image.target]` of an image: its platform and `io.buildpacks.base.*` labels.
pub fn metadata_of(image: &Image) -> TargetMetadata {
    let t = image.target();
    let name = image.label(labels::BASE_DISTRO_NAME).unwrap_or_default();
    let version = image.label(labels::BASE_DISTRO_VERSION).unwrap_or_default();
    TargetMetadata {
        id: image.label(labels::BASE_ID).unwrap_or_default().to_string(),
        os: t.os,
        arch: t.arch,
        arch_variant: t.variant.unwrap_or_default(),
        distro: (!name.is_empty() || !version.is_empty()).then(|| Distro {
            name: name.to_string(),
            version: version.to_string(),
        }),
    }
}

/// The target recorded in analyzed.toml as a resolution request.
pub fn from_recorded(md: &TargetMetadata) -> TargetRequest {
    let variant = (!md.arch_variant.is_empty()).then_some(md.arch_variant.as_str());
    TargetRequest::new(
        Target::new(&md.os, &md.arch, variant),
        TargetSource::Recorded,
    )
}
