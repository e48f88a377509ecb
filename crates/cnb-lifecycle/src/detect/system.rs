//! `system.toml` (Platform API 0.15+): buildpacks put before and after every top-level group.

use std::path::Path;

use cnb_api::Version;
use cnb_formats::group::GroupElement;
use cnb_formats::order::OrderGroup;
use cnb_formats::system::System;
use cnb_formats::{FormatError, read_toml_if_exists};
use cnb_platform::Logger;

/// The system buildpacks for Platform API `papi`: none below 0.15 or when the file is missing
/// (said at debug level with upstream's words, as platforms grep detector logs for them).
pub fn load(path: Option<&Path>, papi: Version, log: &Logger) -> Result<System, FormatError> {
    match path {
        Some(p) if papi >= Version::new(0, 15) => match read_toml_if_exists(p)? {
            Some(system) => Ok(system),
            None => {
                log.debug(format!(
                    "No system buildpacks found at path {:?}",
                    p.display().to_string()
                ));
                Ok(System::default())
            }
        },
        _ => Ok(System::default()),
    }
}

/// Each top-level group with the `pre` buildpacks before it and the `post` ones after it, leaving
/// out those whose id the group already names (the version is not compared, as upstream). Unlike
/// upstream, a system buildpack's `optional` is kept. Logs upstream's debug line per group for
/// each side that adds something.
pub fn merge(order: &[OrderGroup], system: &System, log: &Logger) -> Vec<Vec<GroupElement>> {
    order
        .iter()
        .map(|g| {
            let absent = |s: &&GroupElement| !g.group.iter().any(|e| e.id == s.id);
            let pre: Vec<&GroupElement> =
                system.system.pre.buildpacks.iter().filter(absent).collect();
            let post: Vec<&GroupElement> = system
                .system
                .post
                .buildpacks
                .iter()
                .filter(absent)
                .collect();
            if !pre.is_empty() {
                log.debug(format!(
                    "Prepending {} system buildpack(s) to group",
                    pre.len()
                ));
            }
            if !post.is_empty() {
                log.debug(format!(
                    "Appending {} system buildpack(s) to group",
                    post.len()
                ));
            }
            pre.into_iter()
                .chain(&g.group)
                .chain(post)
                .cloned()
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::order::tests::el;

    fn names(groups: &[Vec<GroupElement>]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|e| format!("{}{}", e.id, if e.optional { "?" } else { "" }))
                    .collect()
            })
            .collect()
    }

    fn system() -> System {
        let mut s = System::default();
        s.system.pre.buildpacks = vec![el("pre", false), el("b", false)];
        s.system.post.buildpacks = vec![el("post", true)];
        s
    }

    #[test]
    fn pre_and_post_join_every_group_unless_already_there() {
        let order = vec![
            OrderGroup {
                group: vec![el("a", false)],
            },
            OrderGroup {
                group: vec![
                    GroupElement {
                        version: "2".into(),
                        ..el("b", false)
                    },
                    el("c", true),
                ],
            },
        ];
        let merged = merge(&order, &system(), &Logger::default());
        assert_eq!(
            names(&merged),
            [
                vec!["pre", "b", "a", "post?"],
                vec!["pre", "b", "c?", "post?"]
            ]
        );
        assert_eq!(merged[1][1].version, "2", "the group's own b is kept");
    }

    #[test]
    fn system_toml_is_read_from_platform_api_0_15_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.toml");
        std::fs::write(
            &path,
            "[system.pre]\n[[system.pre.buildpacks]]\nid = \"pre\"\nversion = \"1\"\noptional = true\n",
        )
        .unwrap();
        let s = load(Some(&path), Version::new(0, 15), &Logger::default()).unwrap();
        assert_eq!(s.system.pre.buildpacks, [el("pre", true)]);
        assert_eq!(
            load(Some(&path), Version::new(0, 14), &Logger::default()).unwrap(),
            System::default()
        );
        let missing = dir.path().join("none.toml");
        assert_eq!(
            load(Some(&missing), Version::new(0, 15), &Logger::default()).unwrap(),
            System::default()
        );
        std::fs::write(&path, "[system.pre]\nbuildpacks = 3\n").unwrap();
        assert!(load(Some(&path), Version::new(0, 15), &Logger::default()).is_err());
    }
}
