//! `[[order-extensions]]`: whether this Platform API and experimental mode allow them, and the
//! groups they make. As upstream, every extension group is put before each group of the order
//! and tried in turn, then the group alone; extensions are always optional.

use std::path::Path;

use cnb_api::Version;
use cnb_formats::group::GroupElement;
use cnb_formats::order::OrderGroup;
use cnb_platform::Logger;

use super::DetectError;

/// The extension groups of the order, each element marked as an optional extension. Refused
/// below Platform API 0.10; below 0.13 they are experimental, guarded by `CNB_EXPERIMENTAL_MODE`
/// as upstream (`error` refuses, `quiet`/`silent` say nothing, anything else warns).
pub fn groups(
    order_extensions: &[OrderGroup],
    order_path: &Path,
    papi: Version,
    experimental_mode: &str,
    log: &Logger,
) -> Result<Vec<Vec<GroupElement>>, DetectError> {
    if order_extensions.is_empty() {
        return Ok(Vec::new());
    }
    if papi < Version::new(0, 10) {
        return Err(DetectError::Extensions {
            papi,
            what: "order-extensions".into(),
            path: order_path.to_path_buf(),
        });
    }
    if papi < Version::new(0, 13) {
        match experimental_mode {
            "error" => {
                log.error("Platform requested experimental feature 'Dockerfiles'");
                return Err(DetectError::Experimental {
                    mode: experimental_mode.into(),
                });
            }
            "quiet" | "silent" => {}
            _ => log.warn("Platform requested experimental feature 'Dockerfiles'"),
        }
    }
    Ok(order_extensions
        .iter()
        .map(|g| {
            g.group
                .iter()
                .map(|e| GroupElement {
                    optional: true,
                    extension: true,
                    ..e.clone()
                })
                .collect()
        })
        .collect())
}

/// The groups to try for one group of the order: each extension group before it, then the group
/// alone.
pub fn prepend(ext_groups: &[Vec<GroupElement>], group: &[GroupElement]) -> Vec<Vec<GroupElement>> {
    ext_groups
        .iter()
        .map(|exts| exts.iter().chain(group).cloned().collect())
        .chain(std::iter::once(group.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(id: &str) -> GroupElement {
        GroupElement {
            id: id.into(),
            version: "1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_extension_group_goes_before_the_group_then_the_group_alone() {
        let log = Logger::new(cnb_platform::LogLevel::Info, true);
        let order = [
            OrderGroup {
                group: vec![el("e1")],
            },
            OrderGroup {
                group: vec![el("e2"), el("e3")],
            },
        ];
        let exts = groups(
            &order,
            Path::new("order.toml"),
            Version::new(0, 13),
            "error",
            &log,
        )
        .unwrap();
        assert!(exts.iter().flatten().all(|e| e.extension && e.optional));
        let tries = prepend(&exts, &[el("bp")]);
        let ids: Vec<Vec<&str>> = tries
            .iter()
            .map(|g| g.iter().map(|e| e.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["e1", "bp"], vec!["e2", "e3", "bp"], vec!["bp"]]);
    }

    #[test]
    fn platform_api_and_experimental_mode_gate_extensions() {
        let log = Logger::new(cnb_platform::LogLevel::Info, true);
        let order = [OrderGroup {
            group: vec![el("e1")],
        }];
        let at = |papi, mode| groups(&order, Path::new("order.toml"), papi, mode, &log);
        assert!(matches!(
            at(Version::new(0, 9), "warn"),
            Err(DetectError::Extensions { .. })
        ));
        assert!(matches!(
            at(Version::new(0, 12), "error"),
            Err(DetectError::Experimental { .. })
        ));
        assert!(at(Version::new(0, 12), "warn").is_ok());
        assert!(at(Version::new(0, 13), "error").is_ok());
    }
}
