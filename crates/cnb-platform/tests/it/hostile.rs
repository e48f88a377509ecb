//! Hostile command lines and environments: any argument vector and any `CNB_*` values, for every
//! phase and Platform API, never panic, and every rejection is one line. `parse` takes UTF-8
//! (`Env` keeps values as the OS gave them but reads one that is not UTF-8 as unset, the path
//! variables of the image backends aside; `lossy_args` converts OS strings as the binaries do),
//! so that is what is generated, plus OS strings through `lossy_args`.
//! `CNB_FUZZ_CASES` raises the case count (`make fuzz`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use cnb_platform::{Env, InputError, Phase, lossy_args, parse};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config(default: u32) -> Config {
    let cases = std::env::var("CNB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    // Failures become named regression tests, not files in the source tree.
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

/// Every flag of the input table, so arguments get past "unknown flag" into value parsing.
const FLAGS: &[&str] = &[
    "analyzed",
    "app",
    "arch",
    "arch-variant",
    "build",
    "build-config",
    "build-image",
    "buildpacks",
    "cache-dir",
    "cache-image",
    "daemon",
    "extended",
    "extensions",
    "force",
    "generated",
    "gid",
    "group",
    "image",
    "index",
    "info",
    "insecure-registry",
    "kaniko-cache-ttl",
    "kind",
    "launch-cache",
    "launcher",
    "launcher-sbom",
    "layers",
    "layout",
    "layout-dir",
    "log-level",
    "no-color",
    "order",
    "os",
    "parallel",
    "plan",
    "platform",
    "previous-image",
    "process-type",
    "project-metadata",
    "report",
    "run",
    "run-image",
    "skip-layers",
    "skip-restore",
    "stack",
    "system",
    "tag",
    "uid",
    "version",
    "help",
    "h",
];

const VARS: &[&str] = &[
    "CNB_PLATFORM_API",
    "CNB_USER_ID",
    "CNB_GROUP_ID",
    "CNB_LOG_LEVEL",
    "CNB_RUN_IMAGE",
    "CNB_PREVIOUS_IMAGE",
    "CNB_USE_DAEMON",
    "CNB_USE_LAYOUT",
    "CNB_LAYOUT_DIR",
    "CNB_TARGET_OS",
    "CNB_TARGET_ARCH",
    "CNB_TARGET_ARCH_VARIANT",
    "CNB_KANIKO_CACHE_TTL",
    "CNB_SKIP_LAYERS",
    "CNB_INSECURE_REGISTRIES",
    "CNB_EXPERIMENTAL_MODE",
    "CNB_DEPRECATION_MODE",
    "CNB_PROCESS_TYPE",
    "CNB_LAYERS_DIR",
    "CNB_APP_DIR",
    "CNB_INDEX",
    "CNB_PARALLEL_EXPORT",
    "CNB_NO_COLOR",
];

/// Values that hit parsers: Go booleans, numbers out of range, durations, API versions.
const VALUES: &[&str] = &[
    "",
    "true",
    "false",
    "1",
    "0",
    "-1",
    "4294967296",
    "99999999999999999999",
    "0x10",
    "1h",
    "-5m",
    "0.7",
    "0.15",
    "0.16",
    "1.0",
    "0.",
    ".7",
    "0.07",
    "debug",
    "warn",
    "x",
    "/abs",
    "rel/..",
    "registry.local/app:tag",
    "a@sha256:00",
    "=",
    "--",
    "é",
    "\n",
    "\u{0}",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(VALUES).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn arg() -> impl Strategy<Value = String> {
    let flag = prop::sample::select(FLAGS);
    let dashes = prop::sample::select(&["-", "--", "---"][..]);
    prop_oneof![
        2 => (dashes.clone(), flag.clone()).prop_map(|(d, f)| format!("{d}{f}")),
        2 => (dashes, flag, text()).prop_map(|(d, f, v)| format!("{d}{f}={v}")),
        2 => text(),
    ]
}

fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        4 => prop::sample::select(VARS).prop_map(str::to_string),
        1 => any::<String>(),
    ];
    let api =
        prop::sample::select(&["0.7", "0.10", "0.12", "0.13", "0.14", "0.15", "0.6", "x"][..]);
    (api, prop::collection::vec((key, text()), 0..6)).prop_map(|(api, mut vars)| {
        vars.insert(0, ("CNB_PLATFORM_API".into(), api.into()));
        vars
    })
}

fn check(phase: Phase, args: &[String], vars: &[(String, String)]) {
    let env: Env = vars.iter().cloned().collect();
    match parse(phase, args, &env, Path::new("/cwd")) {
        // Help and version text is printed as asked, many lines and all.
        Ok(_) | Err(InputError::Info(_)) => {}
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.trim_end().contains('\n'),
                "{phase} {args:?}: not one line: {msg:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn non_utf8_arguments_never_panic(
        phase in prop::sample::select(&Phase::ALL[..]),
        raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..6),
        flag in prop::sample::select(FLAGS),
    ) {
        // As the binaries get them: OS strings, here a flag and then arbitrary bytes.
        let os = std::iter::once(OsString::from(format!("-{flag}")))
            .chain(raw.into_iter().map(OsString::from_vec));
        let vars = [("CNB_PLATFORM_API".to_string(), "0.15".to_string())];
        check(phase, &lossy_args(os), &vars);
    }

    #[test]
    fn hostile_command_lines_never_panic(
        phase in prop::sample::select(&Phase::ALL[..]),
        args in prop::collection::vec(arg(), 0..8),
        vars in env(),
    ) {
        check(phase, &args, &vars);
    }
}

/// Found by `hostile_command_lines_never_panic`: a rejected value was quoted raw, so a newline
/// in it split the message.
#[test]
fn regression_a_newline_in_a_rejected_value_stays_one_line() {
    let vars = [
        ("CNB_PLATFORM_API".to_string(), "0.15".to_string()),
        ("CNB_DEPRECATION_MODE".to_string(), "\n".to_string()),
    ];
    let env: Env = vars.iter().cloned().collect();
    let msg = parse(Phase::Analyzer, &[], &env, Path::new("/cwd"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "invalid CNB_DEPRECATION_MODE '\\n': expected quiet, warn or error"
    );
}

/// Found reading the phase runner: it took `std::env::args`, which panics on an argument that is
/// not UTF-8 (a path, say); the binaries now go through `lossy_args`.
#[test]
fn regression_a_non_utf8_argument_is_parsed_not_a_panic() {
    let args = lossy_args([
        OsString::from("-layers"),
        OsString::from_vec(b"/layers-\xff".to_vec()),
    ]);
    let env: Env = [("CNB_PLATFORM_API", "0.15")].into_iter().collect();
    let inputs = parse(Phase::Detector, &args, &env, Path::new("/cwd")).unwrap();
    assert!(format!("{inputs:?}").contains("/layers-\u{fffd}"));
}
