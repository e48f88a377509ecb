//! The build's target platform and the one rule that picks a child of a multi-arch index.

use std::fmt;

/// An os/architecture/variant (and os.version on Windows), normalised so that the usual aliases
/// compare equal: `x86_64` = `x86-64` = `amd64`, `aarch64` = `arm64` (default variant `v8`),
/// `armhf` = `arm/v7`, `armel` = `arm/v6` (`arm` alone means `v7`), `i386` = `386`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `arm64`.
    pub arch: String,
    /// e.g. `v8`; `None` when the architecture has no variants or none was given.
    pub variant: Option<String>,
    /// Windows build, e.g. `10.0.20348.1`.
    pub os_version: Option<String>,
}

impl Target {
    /// A normalised target.
    pub fn new(os: &str, arch: &str, variant: Option<&str>) -> Self {
        let os = if os.is_empty() {
            "linux".to_string()
        } else {
            os.to_ascii_lowercase()
        };
        let (arch, implied) = normalize_arch(arch);
        let variant = variant
            .filter(|v| !v.is_empty())
            .map(|v| v.to_ascii_lowercase())
            .or(implied.map(str::to_string));
        let variant = normalize_variant(&arch, variant);
        Target {
            os,
            arch,
            variant,
            os_version: None,
        }
    }

    /// With a Windows os.version.
    pub fn with_os_version(mut self, v: Option<&str>) -> Self {
        self.os_version = v.filter(|s| !s.is_empty()).map(str::to_string);
        self
    }

    /// The platform this process runs on.
    pub fn host() -> Self {
        Target::new(std::env::consts::OS, std::env::consts::ARCH, None)
    }

    /// Whether an image of platform `other` serves this target: same os and architecture; the
    /// variant must be equal when both sides have one (arm and arm64 always have one after
    /// normalisation); os.version must be equal when this target names one.
    pub fn matches(&self, other: &Target) -> bool {
        self.os == other.os
            && self.arch == other.arch
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
            && match (&self.os_version, &other.os_version) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

fn normalize_arch(arch: &str) -> (String, Option<&'static str>) {
    match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), None),
        "aarch64" | "arm64" => ("arm64".into(), None),
        "armhf" => ("arm".into(), Some("v7")),
        "armel" => ("arm".into(), Some("v6")),
        "i386" | "i686" | "386" | "x86" => ("386".into(), None),
        other => (other.to_string(), None),
    }
}

fn normalize_variant(arch: &str, variant: Option<String>) -> Option<String> {
    let with_v = variant.map(|v| {
        if v.starts_with('v') {
            v
        } else {
            format!("v{v}")
        }
    });
    match arch {
        "arm64" => Some(with_v.unwrap_or_else(|| "v8".into())),
        "arm" => Some(with_v.unwrap_or_else(|| "v7".into())),
        // v1 is the baseline of amd64: the same as no variant.
        "amd64" => with_v.filter(|v| v != "v1"),
        _ => with_v,
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        if let Some(v) = &self.os_version {
            write!(f, " ({v})")?;
        }
        Ok(())
    }
}

/// Where the target of a resolution came from, so callers can log it and so a host default is
/// never silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSource {
    /// `-os`/`-arch`/`-arch-variant` or `CNB_TARGET_*`.
    Flags,
    /// `[run-image.target]` recorded by an earlier phase.
    Recorded,
    /// Another image's platform (the app image's, for the rebaser).
    Image,
    /// Nothing was given: the host's platform.
    Host,
}

impl fmt::Display for TargetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetSource::Flags => "from -os/-arch/-arch-variant",
            TargetSource::Recorded => "recorded in analyzed.toml",
            TargetSource::Image => "from the app image",
            TargetSource::Host => "the host platform (no target was given)",
        })
    }
}

/// The target to resolve with, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRequest {
    /// The target.
    pub target: Target,
    /// Its origin.
    pub source: TargetSource,
}

impl TargetRequest {
    /// A request for `target`.
    pub fn new(target: Target, source: TargetSource) -> Self {
        Self { target, source }
    }

    /// `target` if given, else the host platform (flagged as such).
    pub fn or_host(target: Option<Target>, source: TargetSource) -> Self {
        match target {
            Some(t) => Self::new(t, source),
            None => Self::new(Target::host(), TargetSource::Host),
        }
    }
}

/// Picks the child of an index for `wanted`: the first child whose platform matches, preferring
/// an exact variant match. Returns the index into `children`, or the list of platforms offered.
pub fn pick(children: &[Option<Target>], wanted: &Target) -> Result<usize, Vec<Target>> {
    let matching: Vec<usize> = children
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.as_ref().filter(|t| wanted.matches(t)).map(|_| i))
        .collect();
    let exact = matching.iter().copied().find(|i| {
        children[*i]
            .as_ref()
            .is_some_and(|t| t.variant == wanted.variant)
    });
    match exact.or(matching.first().copied()) {
        Some(i) => Ok(i),
        None => Err(children.iter().flatten().cloned().collect()),
    }
}

/// `linux/amd64, linux/arm/v7` for messages.
pub fn list(targets: &[Target]) -> String {
    if targets.is_empty() {
        return "none".into();
    }
    targets
        .iter()
        .map(Target::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(os: &str, arch: &str, v: Option<&str>) -> Target {
        Target::new(os, arch, v)
    }

    #[test]
    fn aliases_normalise() {
        assert_eq!(t("linux", "x86_64", None), t("linux", "amd64", None));
        assert_eq!(t("linux", "x86-64", None), t("linux", "amd64", Some("v1")));
        assert_eq!(t("linux", "aarch64", None), t("linux", "arm64", Some("v8")));
        assert_eq!(
            t("linux", "arm64", Some("8")).variant.as_deref(),
            Some("v8")
        );
        assert_eq!(t("linux", "armhf", None), t("linux", "arm", Some("v7")));
        assert_eq!(t("linux", "armel", None), t("linux", "arm", Some("v6")));
        assert_eq!(t("linux", "arm", None).variant.as_deref(), Some("v7"));
        assert_eq!(t("Linux", "i386", None), t("linux", "386", None));
        assert_eq!(t("", "ppc64le", None).to_string(), "linux/ppc64le");
        assert_eq!(t("linux", "arm64", None).to_string(), "linux/arm64/v8");
    }

    #[test]
    fn pick_respects_variants() {
        let children = vec![
            Some(t("linux", "arm", Some("v6"))),
            Some(t("linux", "arm", Some("v7"))),
            None,
            Some(t("linux", "amd64", None)),
        ];
        assert_eq!(pick(&children, &t("linux", "arm", Some("v7"))), Ok(1));
        assert_eq!(pick(&children, &t("linux", "arm", Some("v6"))), Ok(0));
        assert_eq!(pick(&children, &t("linux", "armhf", None)), Ok(1));
        assert_eq!(pick(&children, &t("linux", "x86_64", None)), Ok(3));
        let offered = pick(&children, &t("linux", "arm64", None)).unwrap_err();
        assert_eq!(list(&offered), "linux/arm/v6, linux/arm/v7, linux/amd64");
        assert!(pick(&children, &t("windows", "amd64", None)).is_err());
    }

    #[test]
    fn os_version_only_constrains_when_wanted() {
        let a = t("windows", "amd64", None).with_os_version(Some("10.0.17763.1"));
        let b = t("windows", "amd64", None).with_os_version(Some("10.0.20348.1"));
        assert!(!a.matches(&b));
        assert!(t("windows", "amd64", None).matches(&b));
    }
}
