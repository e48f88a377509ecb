//! Buildpack and extension ids, and the one rule that turns an id into a directory name: the
//! spec escapes `/` as `_` (`paketo-buildpacks/node` lives in `paketo-buildpacks_node`), for the
//! buildpacks and extensions dirs, the layers dir, the cache and the SBOM paths alike.

/// The directory name of the buildpack or extension `id`.
pub fn dir_name(id: &str) -> String {
    id.replace('/', "_")
}

#[cfg(test)]
mod tests {
    #[test]
    fn slashes_become_underscores() {
        assert_eq!(
            super::dir_name("paketo-buildpacks/node"),
            "paketo-buildpacks_node"
        );
        assert_eq!(super::dir_name("a/b/c"), "a_b_c");
        assert_eq!(super::dir_name("plain"), "plain");
    }
}
