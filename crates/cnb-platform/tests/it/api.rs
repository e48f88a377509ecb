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
    let err = run(Phase::Analyzer, "", &["-version"], &[]).unwrap_err();
    assert_eq!(cnb_platform::ExitClass::exit_code(&err).code(), 0);
    assert_eq!(err.to_string(), cnb_platform::VERSION);
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
