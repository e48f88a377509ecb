//! One call that parses a requested API version and applies the support lists and the
//! deprecation mode, for callers that map the error to exit 11 (platform) or 12 (buildpack).

use crate::{Apis, BUILDPACK, DeprecationMode, PLATFORM, Support, Version};

/// Why a requested API version is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Not a version at all.
    #[error("invalid api version '{input}' (supported: {supported})")]
    Invalid {
        /// What was given.
        input: String,
        /// The supported versions, for the message.
        supported: String,
    },
    /// A version this lifecycle does not serve.
    #[error("api version '{version}' is not supported (supported: {supported})")]
    Unsupported {
        /// The requested version.
        version: Version,
        /// The supported versions, for the message.
        supported: String,
    },
    /// A deprecated version while `CNB_DEPRECATION_MODE` is `error`.
    #[error("api version '{version}' is deprecated and CNB_DEPRECATION_MODE is 'error'")]
    Deprecated {
        /// The requested version.
        version: Version,
    },
}

/// A version that passed [`Apis::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The parsed version.
    pub version: Version,
    /// Set when the version is deprecated and the mode is `warn`: log it.
    pub warning: Option<String>,
}

impl Apis {
    /// Parses `raw`, then accepts it, warns about it or refuses it according to the lists and `mode`.
    pub fn check(&self, raw: &str, mode: DeprecationMode) -> Result<Accepted, ApiError> {
        let supported = self.supported_list();
        let version: Version = raw.trim().parse().map_err(|_| ApiError::Invalid {
            input: raw.to_string(),
            supported: supported.clone(),
        })?;
        let warning = match (self.support(version), mode) {
            (Support::Supported, _) | (Support::Deprecated, DeprecationMode::Quiet) => None,
            (Support::Deprecated, DeprecationMode::Warn) => {
                Some(format!("api version '{version}' is deprecated"))
            }
            (Support::Deprecated, DeprecationMode::Error) => {
                return Err(ApiError::Deprecated { version });
            }
            (Support::Unsupported, _) => {
                return Err(ApiError::Unsupported { version, supported });
            }
        };
        Ok(Accepted { version, warning })
    }
}

/// The one Buildpack API check, for buildpacks and extensions alike (upstream's
/// `cmd.VerifyBuildpackAPI`): `raw` parsed, refused unless supported, and when deprecated a
/// warning (`kind 'name' requests deprecated API '0.x'`), or a refusal under
/// `CNB_DEPRECATION_MODE=error`. `kind` is `Buildpack` or `Extension`, as in the warning.
pub fn verify_buildpack_api(
    kind: &str,
    name: &str,
    raw: &str,
    mode: DeprecationMode,
) -> Result<Accepted, ApiError> {
    let mut accepted = BUILDPACK.check(raw, mode)?;
    if accepted.warning.is_some() {
        accepted.warning = Some(format!(
            "{kind} '{name}' requests deprecated API '{}'",
            accepted.version
        ));
    }
    Ok(accepted)
}

/// How this lifecycle serves Platform API `version`.
pub fn platform_support(version: Version) -> Support {
    PLATFORM.support(version)
}

/// How this lifecycle serves Buildpack API `version` (also used for extensions).
pub fn buildpack_support(version: Version) -> Support {
    BUILDPACK.support(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_DEPRECATED: Apis = Apis {
        supported: &[Version::new(0, 7), Version::new(0, 8)],
        deprecated: &[Version::new(0, 7)],
    };

    #[test]
    fn supported_versions_pass_quietly() {
        let ok = BUILDPACK.check("0.10", DeprecationMode::Warn).unwrap();
        assert_eq!(ok.version, Version::new(0, 10));
        assert_eq!(ok.warning, None);
        assert_eq!(platform_support(Version::new(0, 15)), Support::Supported);
        assert_eq!(buildpack_support(Version::new(0, 13)), Support::Unsupported);
    }

    #[test]
    fn unsupported_and_invalid_name_the_input_and_the_list() {
        let err = BUILDPACK.check("0.2", DeprecationMode::Warn).unwrap_err();
        assert!(matches!(err, ApiError::Unsupported { .. }));
        assert!(err.to_string().contains("'0.2'"), "{err}");
        assert!(err.to_string().contains("0.7, 0.8"), "{err}");
        let err = PLATFORM.check("zero", DeprecationMode::Warn).unwrap_err();
        assert!(matches!(err, ApiError::Invalid { .. }));
        assert!(err.to_string().contains("'zero'"), "{err}");
    }

    #[test]
    fn the_buildpack_verifier_names_the_module() {
        let ok =
            verify_buildpack_api("Buildpack", "a/b@1", "0.12", DeprecationMode::Error).unwrap();
        assert_eq!(ok.version, Version::new(0, 12));
        let err =
            verify_buildpack_api("Extension", "e@1", "0.1", DeprecationMode::Warn).unwrap_err();
        assert!(matches!(err, ApiError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn deprecated_follows_the_mode() {
        let quiet = WITH_DEPRECATED
            .check("0.7", DeprecationMode::Quiet)
            .unwrap();
        assert_eq!(quiet.warning, None);
        let warn = WITH_DEPRECATED.check("0.7", DeprecationMode::Warn).unwrap();
        assert!(warn.warning.unwrap().contains("deprecated"));
        let err = WITH_DEPRECATED
            .check("0.7", DeprecationMode::Error)
            .unwrap_err();
        assert_eq!(
            err,
            ApiError::Deprecated {
                version: Version::new(0, 7)
            }
        );
        assert!(WITH_DEPRECATED.check("0.8", DeprecationMode::Error).is_ok());
    }
}
