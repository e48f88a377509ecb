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

/// The run image's target with what the build container knows filled in: os `linux`, the host's
/// arch, the distro from /etc/os-release.
pub fn effective(recorded: Option<&TargetMetadata>) -> TargetMetadata {
    let mut t = recorded.cloned().unwrap_or_default();
    if t.os.is_empty() {
        t.os = "linux".into();
    }
    if t.arch.is_empty() {
        t.arch = cnb_image::Target::host().arch;
    }
    if t.distro.is_none()
        && let Ok(text) = std::fs::read_to_string("/etc/os-release")
    {
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        if let (Some(name), Some(version)) = (field("ID"), field("VERSION_ID")) {
            t.distro = Some(cnb_formats::target::Distro { name, version });
        }
    }
    t
}

/// `CNB_TARGET_*` for buildpacks: os and arch always, variant and distro when known.
pub fn env_vars(t: &TargetMetadata) -> Vec<(String, String)> {
    let mut v = vec![
        ("CNB_TARGET_OS".to_string(), t.os.clone()),
        ("CNB_TARGET_ARCH".to_string(), t.arch.clone()),
    ];
    if !t.arch_variant.is_empty() {
        v.push(("CNB_TARGET_ARCH_VARIANT".into(), t.arch_variant.clone()));
    }
    if let Some(d) = &t.distro {
        v.push(("CNB_TARGET_DISTRO_NAME".into(), d.name.clone()));
        v.push(("CNB_TARGET_DISTRO_VERSION".into(), d.version.clone()));
    }
    v
}
