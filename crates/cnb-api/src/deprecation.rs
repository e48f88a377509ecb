//! `CNB_DEPRECATION_MODE`: what to do when a deprecated API version is requested.

use std::str::FromStr;

/// The deprecation mode (`quiet`, `warn` or `error`; default `warn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeprecationMode {
    /// Say nothing.
    Quiet,
    /// Log a warning and go on.
    #[default]
    Warn,
    /// Fail (exit 11 for the Platform API, 12 for a buildpack API).
    Error,
}

/// A `CNB_DEPRECATION_MODE` value that is none of the modes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CNB_DEPRECATION_MODE '{0}': expected quiet, warn or error")]
pub struct InvalidDeprecationMode(pub String);

impl FromStr for DeprecationMode {
    type Err = InvalidDeprecationMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "quiet" => Ok(Self::Quiet),
            "warn" | "" => Ok(Self::Warn),
            "error" => Ok(Self::Error),
            _ => Err(InvalidDeprecationMode(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!("quiet".parse(), Ok(DeprecationMode::Quiet));
        assert_eq!("WARN".parse(), Ok(DeprecationMode::Warn));
        assert_eq!("".parse(), Ok(DeprecationMode::Warn));
        assert_eq!("error".parse(), Ok(DeprecationMode::Error));
        assert!(
            "loud"
                .parse::<DeprecationMode>()
                .unwrap_err()
                .to_string()
                .contains("'loud'")
        );
    }
}
