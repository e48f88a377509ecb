//! `CNB_PLATFORM_API` is checked before anything else (exit 11).

use cnb_platform::Phase;

use crate::{fails, run};

#[test]
fn missing_platform_api_exits_11_listing_supported_versions() {
    for phase in Phase::ALL {
        let (code, msg) = fails(phase, "", &[], &[]);
        assert_eq!(code, 11, "{phase}");
        assert!(msg.contains("CNB_PLATFORM_API"), "{msg}");
        assert!(msg.contains("0.7") && msg.contains("0.15"), "{msg}");
    }
}

#[test]
fn blank_platform_api_counts_as_missing() {
    let (code, msg) = fails(Phase::Detector, "", &[], &[("CNB_PLATFORM_API", "  ")]);
    assert_eq!(code, 11);
    assert!(msg.contains("please set"), "{msg}");
}

#[test]
fn unsupported_and_garbage_platform_apis_exit_11() {
    for api in ["0.6", "0.16", "1.0", "0.3"] {
        let (code, msg) = fails(Phase::Builder, api, &[], &[]);
        assert_eq!(code, 11, "{api}");
        assert!(
            msg.contains(&format!("'{}'", api)) || msg.contains("not supported"),
            "{msg}"
        );
        assert!(msg.contains("0.15"), "{msg}");
    }
    let (code, msg) = fails(Phase::Builder, "zero.twelve", &[], &[]);
    assert_eq!(code, 11);
    assert!(msg.contains("'zero.twelve'"), "{msg}");
}

#[test]
fn platform_api_is_checked_before_flags() {
    // An unknown flag would be exit 2, but the missing API wins.
    let (code, _) = fails(Phase::Detector, "", &["-no-such-flag"], &[]);
    assert_eq!(code, 11);
}

#[test]
fn every_supported_platform_api_parses() {
    for minor in 7..=15 {
        let api = format!("0.{minor}");
        let inputs = run(Phase::Detector, &api, &[], &[]).unwrap();
        assert_eq!(inputs.platform_api.to_string(), api);
    }
    assert_eq!(
        run(Phase::Detector, "v0.12", &[], &[])
            .unwrap()
            .platform_api
            .to_string(),
        "0.12"
    );
}

#[test]
fn version_flag_answers_without_platform_api() {
    for phase in Phase::ALL.into_iter().filter(|p| p.takes_flags()) {
        let err = run(phase, "", &["-version"], &[]).unwrap_err();
        assert_eq!(cnb_platform::ExitClass::exit_code(&err).code(), 0);
        assert_eq!(err.to_string(), cnb_platform::build_version(), "{phase}");
    }
}

/// `major.minor.patch` of a plain semver version, as pack's semver parse needs it.
fn semver(v: &str) -> (u64, u64, u64) {
    let parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "{v}");
    (parts[0], parts[1], parts[2])
}

#[test]
fn version_passes_the_gates_platforms_put_on_the_lifecycle() {
    let v = semver(cnb_platform::VERSION);
    // pack: creator from 0.7.4, lifecycle image from 0.7.5, creator with extensions from 0.19.0.
    for gate in ["0.7.4", "0.7.5", "0.19.0"] {
        assert!(v >= semver(gate), "{} < {gate}", cnb_platform::VERSION);
    }
    // `-version` prints `<version>` or `<version>+<commit>`, semver build metadata.
    let shown = cnb_platform::build_version();
    let (plain, commit) = shown.split_once('+').unwrap_or((&shown, ""));
    assert_eq!(plain, cnb_platform::VERSION);
    assert!(commit.chars().all(|c| c.is_ascii_alphanumeric()), "{shown}");
    assert_eq!(commit.is_empty(), cnb_platform::SCM_COMMIT.is_none());
}

#[test]
fn version_names_the_upstream_release_with_our_platform_apis() {
    // Upstream v0.21.17 supports Platform API 0.7 to 0.15 (api/apis.go): a change to our list
    // must come with the upstream release that has the same list.
    let supported: Vec<String> = cnb_api::PLATFORM
        .supported
        .iter()
        .map(ToString::to_string)
        .collect();
    let upstream_0_21: Vec<String> = (7..=15).map(|m| format!("0.{m}")).collect();
    assert_eq!(supported, upstream_0_21);
    assert_eq!(cnb_platform::VERSION, "0.21.17");
}

#[test]
fn invalid_deprecation_mode_is_rejected() {
    let (code, msg) = fails(
        Phase::Detector,
        "0.12",
        &[],
        &[("CNB_DEPRECATION_MODE", "loud")],
    );
    assert_eq!(code, 3);
    assert!(msg.contains("'loud'"), "{msg}");
}
