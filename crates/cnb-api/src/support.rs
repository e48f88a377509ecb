//! Which API versions this lifecycle supports and deprecates.

use crate::Version;

/// Whether a requested version is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Supported and current.
    Supported,
    /// Supported but deprecated: callers warn or fail according to [`crate::DeprecationMode`].
    Deprecated,
    /// Not served at all.
    Unsupported,
}

/// The supported and deprecated versions of one API.
#[derive(Debug, Clone, Copy)]
pub struct Apis {
    /// Versions served, ascending.
    pub supported: &'static [Version],
    /// Versions served but deprecated (a subset of `supported`).
    pub deprecated: &'static [Version],
}

/// Platform API 0.7 to 0.15.
pub const PLATFORM: Apis = Apis {
    supported: &PLATFORM_SUPPORTED,
    deprecated: &[],
};
const PLATFORM_SUPPORTED: [Version; 9] = minors(7);

/// Buildpack API 0.7 to 0.12 (also used for image extensions).
pub const BUILDPACK: Apis = Apis {
    supported: &BUILDPACK_SUPPORTED,
    deprecated: &[],
};
const BUILDPACK_SUPPORTED: [Version; 6] = minors(7);

/// `N` consecutive versions from `0.<first>` on, ascending: both APIs are served as an unbroken
/// run of minor versions.
const fn minors<const N: usize>(first: u32) -> [Version; N] {
    let mut out = [Version::new(0, 0); N];
    let mut i = 0;
    while i < N {
        out[i] = Version::new(0, first + i as u32);
        i += 1;
    }
    out
}

impl Apis {
    /// How `requested` is served: some supported version must be a superset of it.
    pub fn support(&self, requested: Version) -> Support {
        let served = |list: &[Version]| list.iter().any(|v| v.is_superset_of(requested));
        if served(self.deprecated) {
            Support::Deprecated
        } else if served(self.supported) {
            Support::Supported
        } else {
            Support::Unsupported
        }
    }

    /// The newest supported version.
    pub fn latest(&self) -> Version {
        self.supported
            .iter()
            .copied()
            .max()
            .unwrap_or(Version::new(0, 0))
    }

    /// The supported versions as `0.7, 0.8, ...` for messages.
    pub fn supported_list(&self) -> String {
        let names: Vec<String> = self.supported.iter().map(Version::to_string).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_range() {
        assert_eq!(PLATFORM.support(Version::new(0, 7)), Support::Supported);
        assert_eq!(PLATFORM.support(Version::new(0, 15)), Support::Supported);
        assert_eq!(PLATFORM.support(Version::new(0, 6)), Support::Unsupported);
        assert_eq!(PLATFORM.support(Version::new(0, 16)), Support::Unsupported);
        assert_eq!(PLATFORM.support(Version::new(1, 0)), Support::Unsupported);
        assert_eq!(PLATFORM.latest(), Version::new(0, 15));
        assert_eq!(
            PLATFORM.supported_list(),
            "0.7, 0.8, 0.9, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15"
        );
    }

    #[test]
    fn buildpack_range() {
        assert_eq!(BUILDPACK.support(Version::new(0, 12)), Support::Supported);
        assert_eq!(BUILDPACK.support(Version::new(0, 2)), Support::Unsupported);
        assert_eq!(BUILDPACK.latest(), Version::new(0, 12));
    }

    #[test]
    fn deprecated_versions_are_reported() {
        const APIS: Apis = Apis {
            supported: &[Version::new(0, 7), Version::new(0, 8)],
            deprecated: &[Version::new(0, 7)],
        };
        let apis = APIS;
        assert_eq!(apis.support(Version::new(0, 7)), Support::Deprecated);
        assert_eq!(apis.support(Version::new(0, 8)), Support::Supported);
    }
}
