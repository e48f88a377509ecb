//! One API version: `<major>.<minor>`.

use std::fmt;
use std::str::FromStr;

/// An API version such as `0.12`. `1` means `1.0`; a leading `v` is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major number.
    pub major: u32,
    /// The minor number.
    pub minor: u32,
}

/// A string that is not an API version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid api version '{input}': expected <major>.<minor>, e.g. 0.12")]
pub struct ParseVersionError {
    /// What was given.
    pub input: String,
}

impl Version {
    /// A version from its numbers.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Whether `self >= other`.
    pub fn at_least(self, other: Version) -> bool {
        self >= other
    }

    /// Whether `self < other`.
    pub fn less_than(self, other: Version) -> bool {
        self < other
    }

    /// Whether an implementation of `self` also serves `other`: for major 0 only the same version;
    /// from 1.0 on, the same major with a minor at least as high.
    pub fn is_superset_of(self, other: Version) -> bool {
        if self.major == 0 {
            self == other
        } else {
            self.major == other.major && self.minor >= other.minor
        }
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError {
            input: s.to_string(),
        };
        let body = s.strip_prefix('v').unwrap_or(s);
        let (major, minor) = match body.split_once('.') {
            Some((major, minor)) => (major, minor),
            None => (body, ""),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !(minor.is_empty() || digits(minor)) {
            return Err(err());
        }
        let major = major.parse().map_err(|_| err())?;
        let minor = if minor.is_empty() {
            0
        } else {
            minor.parse().map_err(|_| err())?
        };
        Ok(Version { major, minor })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_forms_upstream_accepts() {
        assert_eq!(v("0.12"), Version::new(0, 12));
        assert_eq!(v("v0.7"), Version::new(0, 7));
        assert_eq!(v("1"), Version::new(1, 0));
        assert_eq!(v("1."), Version::new(1, 0));
        assert_eq!(v("v2"), Version::new(2, 0));
    }

    #[test]
    fn rejects_garbage_naming_the_input() {
        for bad in ["", "v", "0.x", "a.1", "0.1.2", "-1", " 0.1", "0..1"] {
            let err = bad.parse::<Version>().unwrap_err();
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn compares_numerically_not_lexically() {
        assert!(v("0.10") > v("0.9"));
        assert!(v("0.9").less_than(v("0.10")));
        assert!(v("1.0").at_least(v("0.15")));
        assert_eq!(v("0.12").to_string(), "0.12");
    }

    #[test]
    fn superset_rules() {
        assert!(v("0.12").is_superset_of(v("0.12")));
        assert!(!v("0.12").is_superset_of(v("0.11")));
        assert!(v("1.3").is_superset_of(v("1.1")));
        assert!(!v("1.1").is_superset_of(v("1.3")));
        assert!(!v("2.0").is_superset_of(v("1.0")));
    }
}
