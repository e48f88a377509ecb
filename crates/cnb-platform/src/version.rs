//! Which lifecycle this is: the version platforms gate features on, and what `-version` prints.

/// This lifecycle's version: the workspace's, which is the upstream `buildpacks/lifecycle` release
/// whose platform contract we implement. Platforms compare it (pack: the creator from 0.7.4, the
/// lifecycle image from 0.7.5, the creator with extensions from 0.19.0), so it must stay plain
/// `major.minor.patch`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit the binaries were built from, when the build gave one in `LIFECYCLE_SCM_COMMIT`
/// (`make build-*` does); `None` for developer builds.
pub const SCM_COMMIT: Option<&str> = match option_env!("LIFECYCLE_SCM_COMMIT") {
    Some(c) if !c.is_empty() => Some(c),
    _ => None,
};

/// What `-version` prints: `<version>+<commit>` when the commit is known, else `<version>`, the
/// semver build-metadata form upstream prints.
pub fn build_version() -> String {
    display(VERSION, SCM_COMMIT)
}

fn display(version: &str, commit: Option<&str>) -> String {
    match commit {
        Some(c) if !version.contains(c) => format!("{version}+{c}"),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_is_build_metadata_once() {
        assert_eq!(display("0.21.17", None), "0.21.17");
        assert_eq!(display("0.21.17", Some("4bd4b13e")), "0.21.17+4bd4b13e");
        assert_eq!(
            display("0.21.17+4bd4b13e", Some("4bd4b13e")),
            "0.21.17+4bd4b13e"
        );
    }
}
