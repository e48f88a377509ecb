//! Image references (`host[:port]/repo[:tag][@digest]`) and their place in an OCI layout root.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Digest, ImageError};

/// Docker Hub, as references name it when they name no registry.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`.
    pub registry: String,
    /// `library/busybox`, `team/app`.
    pub repository: String,
    /// The tag, when given (`latest` when neither tag nor digest is).
    pub tag: Option<String>,
    /// The digest, when given.
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parses a reference the way docker does: no registry means Docker Hub, a one-part
    /// repository there gains `library/`, no tag and no digest means `latest`.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let bad = |reason: &str| ImageError::InvalidReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(bad("empty or contains white space"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (
                n,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| bad("the digest is not sha256:<64 hex>"))?,
                ),
            ),
            None => (s, None),
        };
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_string()),
            ),
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_registry(&registry) {
            return Err(bad("invalid registry host"));
        }
        if !repository.split('/').all(valid_component) {
            return Err(bad(
                "the repository must be lower-case letters, digits and . _ - separated by /, \
                 each part starting and ending with a letter or digit",
            ));
        }
        if let Some(t) = &tag {
            // docker's `[\w][\w.-]{0,127}`: no `.` or `..` tag, which would be a path in a layout.
            let ok = t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(bad("invalid tag"));
            }
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the registry is on this machine or a private network, which docker and
    /// go-containerregistry (so upstream lifecycle) reach over plain HTTP without being told:
    /// `localhost`, `127.0.0.0/8`, `[::1]`, and the RFC 1918 ranges.
    pub fn is_local_registry(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if !h.ends_with(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => self.registry.as_str(),
        };
        if host == "localhost" || host == "[::1]" || host == "::1" {
            return true;
        }
        match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => ip.is_loopback() || ip.is_private(),
            Err(_) => false,
        }
    }

    /// `registry/repository@digest` for a digest of this repository.
    pub fn with_digest(&self, digest: &Digest) -> String {
        format!("{}@{digest}", self.name())
    }

    /// The tag or digest to fetch: the digest if there is one.
    pub fn selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// platform.md's place of this image under a layout root:
    /// `<root>/<registry>/<repository>/<tag>` or `<root>/<registry>/<repository>/sha256/<hex>`.
    pub fn layout_path(&self, root: &Path) -> PathBuf {
        let base = root.join(&self.registry).join(&self.repository);
        match (&self.digest, &self.tag) {
            (Some(d), _) => base.join("sha256").join(d.hex()),
            (None, Some(t)) => base.join(t),
            (None, None) => base.join("latest"),
        }
    }
}

/// A repository part as docker's grammar has it, loosely: lower-case letters, digits and `._-`,
/// starting and ending with a letter or digit. That rules out `.` and `..`, which would climb
/// out of a layout root once the reference becomes a path (`layout_path`).
fn valid_component(part: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = part.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b"._-".contains(&b))
        }
        _ => false,
    }
}

/// `host[:port]`: dot-separated labels of letters, digits and `-`, or a bracketed IPv6 address.
/// The registry is a path component in a layout too, so `..` must not pass.
fn valid_registry(registry: &str) -> bool {
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !h.is_empty() && h != "[" => (h, Some(p)),
        _ => (registry, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_docker() {
        let r = ImageRef::parse("busybox").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            (DOCKER_HUB, "library/busybox", Some("latest"))
        );
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("v1"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("localhost/app@{d}")).unwrap();
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref(), r.selector()),
            ("localhost", None, d.clone())
        );
        assert_eq!(r.to_string(), format!("localhost/app@{d}"));
        let r = ImageRef::parse("my.reg:443/x/y:1.0").unwrap();
        assert_eq!(
            r.with_digest(&d.parse().unwrap()),
            format!("my.reg:443/x/y@{d}")
        );
    }

    #[test]
    fn local_registries_are_told_apart() {
        for local in [
            "localhost:5000/a",
            "localhost/a",
            "127.0.0.1:5000/a",
            "127.1.2.3/a",
            "[::1]:5000/a",
            "10.0.0.1:5000/a",
            "172.16.0.1/a",
            "192.168.1.1:443/a",
        ] {
            assert!(
                ImageRef::parse(local).unwrap().is_local_registry(),
                "{local}"
            );
        }
        for remote in [
            "busybox",
            "gcr.io/a/b",
            "172.32.0.1/a",
            "8.8.8.8:5000/a",
            "localhost.example.com/a",
        ] {
            assert!(
                !ImageRef::parse(remote).unwrap().is_local_registry(),
                "{remote}"
            );
        }
    }

    #[test]
    fn rejects_bad_references_with_the_reason() {
        for bad in [
            "",
            "Upper/case",
            "reg.io/app@sha256:zz",
            "a b",
            "reg.io//x",
            "reg.io/app:bad/tag:x:",
            // regression_*: found by tests/it/hostile.rs, each a path out of a layout root
            "..",
            "a.b/../../etc",
            "a.b/x:..",
            "../x",
            "x:/y",
        ] {
            let err = ImageRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn layout_paths() {
        let root = Path::new("/layout");
        assert_eq!(
            ImageRef::parse("busybox").unwrap().layout_path(root),
            Path::new("/layout/index.docker.io/library/busybox/latest")
        );
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            ImageRef::parse(&format!("127.0.0.1:5000/app@{d}"))
                .unwrap()
                .layout_path(root),
            PathBuf::from(format!(
                "/layout/127.0.0.1:5000/app/sha256/{}",
                "b".repeat(64)
            ))
        );
    }
}
