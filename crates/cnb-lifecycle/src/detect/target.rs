//! Whether a buildpack's `[[targets]]` admit the run image's target (Platform API 0.12+).

use cnb_formats::target::{BuildpackTarget, TargetMetadata};

/// A buildpack without targets matches anything; otherwise one of its targets must match: os,
/// arch and arch-variant equal or empty on either side, and when the target lists distros, the run
/// image must have a distro that one of them matches (name and version each empty or equal).
pub fn matches(targets: &[BuildpackTarget], run: &TargetMetadata) -> bool {
    targets.is_empty() || targets.iter().any(|t| one_matches(t, run))
}

fn one_matches(t: &BuildpackTarget, run: &TargetMetadata) -> bool {
    let eq = |a: &str, b: &str| a.is_empty() || b.is_empty() || a == b;
    if !(eq(&t.os, &run.os) && eq(&t.arch, &run.arch) && eq(&t.arch_variant, &run.arch_variant)) {
        return false;
    }
    if t.distros.is_empty() {
        return true;
    }
    run.distro.as_ref().is_some_and(|d| {
        t.distros
            .iter()
            .any(|td| eq(&td.name, &d.name) && eq(&td.version, &d.version))
    })
}

/// The error a required buildpack gets when its targets do not admit the run image's.
pub fn mismatch(targets: &[BuildpackTarget], run: &TargetMetadata) -> String {
    format!(
        "unable to satisfy target os/arch constraints; run image: {}, buildpack: {}",
        // Serializing these plain structs cannot fail.
        serde_json::to_string(run).unwrap_or_default(),
        serde_json::to_string(targets).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnb_formats::target::Distro;

    fn run(os: &str, arch: &str, variant: &str, distro: Option<(&str, &str)>) -> TargetMetadata {
        TargetMetadata {
            os: os.into(),
            arch: arch.into(),
            arch_variant: variant.into(),
            distro: distro.map(|(n, v)| Distro {
                name: n.into(),
                version: v.into(),
            }),
            ..Default::default()
        }
    }

    fn target(os: &str, arch: &str, variant: &str, distros: &[(&str, &str)]) -> BuildpackTarget {
        BuildpackTarget {
            os: os.into(),
            arch: arch.into(),
            arch_variant: variant.into(),
            distros: distros
                .iter()
                .map(|(n, v)| Distro {
                    name: n.to_string(),
                    version: v.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn no_targets_match_anything() {
        assert!(matches(&[], &run("linux", "amd64", "", None)));
    }

    #[test]
    fn empty_fields_on_either_side_match() {
        let amd64 = run("linux", "amd64", "", None);
        assert!(matches(&[target("linux", "", "", &[])], &amd64));
        assert!(matches(&[target("", "amd64", "", &[])], &amd64));
        assert!(matches(&[target("linux", "amd64", "v8", &[])], &amd64));
        assert!(matches(
            &[target("linux", "arm64", "", &[])],
            &run("linux", "", "", None)
        ));
        assert!(!matches(&[target("linux", "arm64", "", &[])], &amd64));
        assert!(!matches(&[target("windows", "", "", &[])], &amd64));
        let v7 = run("linux", "arm", "v7", None);
        assert!(!matches(&[target("linux", "arm", "v6", &[])], &v7));
    }

    #[test]
    fn any_target_may_match() {
        let arm = run("linux", "arm64", "", None);
        let both = [
            target("linux", "amd64", "", &[]),
            target("linux", "arm64", "", &[]),
        ];
        assert!(matches(&both, &arm));
    }

    #[test]
    fn listed_distros_need_a_matching_run_image_distro() {
        let jammy = run("linux", "amd64", "", Some(("ubuntu", "22.04")));
        let no_distro = run("linux", "amd64", "", None);
        let wants = |d: &[(&str, &str)]| [target("linux", "amd64", "", d)];
        assert!(matches(&wants(&[("ubuntu", "22.04")]), &jammy));
        assert!(matches(&wants(&[("debian", "12"), ("ubuntu", "")]), &jammy));
        assert!(!matches(&wants(&[("ubuntu", "20.04")]), &jammy));
        assert!(!matches(&wants(&[("ubuntu", "")]), &no_distro));
        assert!(matches(&wants(&[]), &no_distro));
    }

    #[test]
    fn the_mismatch_message_names_both_sides() {
        let msg = mismatch(
            &[target("linux", "arm64", "", &[])],
            &run("linux", "amd64", "", None),
        );
        assert_eq!(
            msg,
            r#"unable to satisfy target os/arch constraints; run image: {"os":"linux","arch":"amd64"}, buildpack: [{"os":"linux","arch":"arm64"}]"#
        );
    }
}
