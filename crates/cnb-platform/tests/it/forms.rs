//! The Go `flag` forms platforms use, precedence, and repeatable flags.

use std::path::Path;

use cnb_platform::{Key, Phase};

use crate::{fails, run};

#[test]
fn single_and_double_dash_with_space_or_equals() {
    for args in [
        vec!["-layers", "/l"],
        vec!["-layers=/l"],
        vec!["--layers", "/l"],
        vec!["--layers=/l"],
    ] {
        let i = run(Phase::Detector, "0.12", &args, &[]).unwrap();
        assert_eq!(i.layers_dir(), Path::new("/l"), "{args:?}");
    }
}

#[test]
fn boolean_forms() {
    let img = "reg/app";
    let on = |args: &[&str]| {
        run(Phase::Analyzer, "0.12", args, &[])
            .unwrap()
            .flag(Key::Daemon)
    };
    assert!(on(&["-daemon", img]));
    assert!(on(&["--daemon", img]));
    assert!(on(&["-daemon=true", img]));
    assert!(on(&["-daemon=1", img]));
    assert!(!on(&["-daemon=false", img]));
    assert!(!on(&["-daemon=F", img]));
    assert!(!on(&[img]));
    // A boolean never takes the next argument as its value: `false` is the image here.
    let i = run(Phase::Analyzer, "0.12", &["-daemon", "false"], &[]).unwrap();
    assert!(i.flag(Key::Daemon));
    assert_eq!(i.image(), Some("false"));
    let (code, msg) = fails(Phase::Analyzer, "0.12", &["-daemon=maybe", img], &[]);
    assert_eq!(code, 3);
    assert!(msg.contains("maybe"), "{msg}");
}

#[test]
fn flag_beats_env_beats_default() {
    let env = [("CNB_LAYERS_DIR", "/from-env")];
    let i = run(Phase::Builder, "0.12", &["-layers", "/from-flag"], &env).unwrap();
    assert_eq!(i.layers_dir(), Path::new("/from-flag"));
    let i = run(Phase::Builder, "0.12", &[], &env).unwrap();
    assert_eq!(i.layers_dir(), Path::new("/from-env"));
    let i = run(Phase::Builder, "0.12", &[], &[]).unwrap();
    assert_eq!(i.layers_dir(), Path::new("/layers"));
    assert_eq!(i.path(Key::App), Some(Path::new("/workspace")));
    assert_eq!(i.path(Key::Platform), Some(Path::new("/platform")));
    assert_eq!(i.path(Key::Buildpacks), Some(Path::new("/cnb/buildpacks")));
}

#[test]
fn booleans_and_ints_from_env_parse_like_go() {
    let i = run(
        Phase::Analyzer,
        "0.12",
        &["img"],
        &[
            ("CNB_USE_DAEMON", "true"),
            ("CNB_USER_ID", "1000"),
            ("CNB_GROUP_ID", "1001"),
        ],
    )
    .unwrap();
    assert!(i.flag(Key::Daemon));
    assert_eq!((i.uid(), i.gid()), (1000, 1001));
    // Invalid values in the environment fall back as Go's parsers do: false and 0.
    let i = run(
        Phase::Analyzer,
        "0.12",
        &["img"],
        &[("CNB_USE_DAEMON", "yes"), ("CNB_USER_ID", "x")],
    )
    .unwrap();
    assert!(!i.flag(Key::Daemon));
    assert_eq!(i.uid(), 0);
    // The flag overrides an env boolean both ways.
    let i = run(
        Phase::Analyzer,
        "0.12",
        &["-daemon=false", "img"],
        &[("CNB_USE_DAEMON", "true")],
    )
    .unwrap();
    assert!(!i.flag(Key::Daemon));
}

#[test]
fn repeatable_flags_append_to_the_environment() {
    let env = [("CNB_INSECURE_REGISTRIES", "a.io, b.io")];
    let i = run(
        Phase::Analyzer,
        "0.13",
        &[
            "-insecure-registry",
            "c.io",
            "-insecure-registry=d.io",
            "-tag",
            "r/x:1",
            "-tag",
            "r/x:2",
            "r/x",
        ],
        &env,
    )
    .unwrap();
    assert_eq!(
        i.list(Key::InsecureRegistry),
        ["a.io", "b.io", "c.io", "d.io"]
    );
    assert_eq!(i.list(Key::Tag), ["r/x:1", "r/x:2"]);
    assert_eq!(i.output_names(), ["r/x", "r/x:1", "r/x:2"]);
}

#[test]
fn empty_values_of_repeatable_inputs_are_skipped() {
    // Tekton's buildpacks-phases analyze step with its empty defaults.
    for (env, args) in [
        (
            vec![("CNB_INSECURE_REGISTRIES", "")],
            vec!["-insecure-registry=", "-tag=", "r/x"],
        ),
        (
            vec![("CNB_INSECURE_REGISTRIES", ",")],
            vec!["-insecure-registry", "", "-tag", "", "-tag= ", "r/x"],
        ),
        (vec![], vec!["--tag=", "--insecure-registry=", "r/x"]),
    ] {
        let i = run(Phase::Analyzer, "0.13", &args, &env).unwrap();
        assert_eq!(i.list(Key::Tag), [] as [&str; 0], "{args:?}");
        assert_eq!(i.list(Key::InsecureRegistry), [] as [&str; 0], "{args:?}");
        assert_eq!(i.output_names(), ["r/x"], "{args:?}");
    }
    // Empty ones between real ones.
    let i = run(
        Phase::Creator,
        "0.13",
        &[
            "-tag=",
            "-tag=r/x:1",
            "-insecure-registry=",
            "-insecure-registry=a.io",
            "r/x",
        ],
        &[("CNB_INSECURE_REGISTRIES", "b.io,")],
    )
    .unwrap();
    assert_eq!(i.list(Key::Tag), ["r/x:1"]);
    assert_eq!(i.list(Key::InsecureRegistry), ["b.io", "a.io"]);
    // The variable at a Platform API without the flag.
    let i = run(
        Phase::Exporter,
        "0.12",
        &["r/x"],
        &[("CNB_INSECURE_REGISTRIES", "")],
    )
    .unwrap();
    assert!(i.list(Key::InsecureRegistry).is_empty());
}

#[test]
fn a_repeated_single_value_flag_keeps_the_last_value() {
    let i = run(
        Phase::Builder,
        "0.12",
        &["-layers", "/a", "-layers", "/b"],
        &[],
    )
    .unwrap();
    assert_eq!(i.layers_dir(), Path::new("/b"));
}

#[test]
fn parsing_stops_at_the_first_positional() {
    let i = run(
        Phase::Exporter,
        "0.12",
        &["-layers", "/l", "reg/app", "-daemon", "reg/app:2"],
        &[],
    )
    .unwrap();
    assert_eq!(i.positionals, ["reg/app", "-daemon", "reg/app:2"]);
    assert!(!i.flag(Key::Daemon));
    assert!(
        i.warnings.iter().any(|w| w.contains("'-daemon'")),
        "{:?}",
        i.warnings
    );
    // `--` ends the flags too.
    let i = run(Phase::Exporter, "0.12", &["--", "-odd-name"], &[]).unwrap();
    assert_eq!(i.positionals, ["-odd-name"]);
}

#[test]
fn values_may_start_with_a_dash() {
    let i = run(
        Phase::Creator,
        "0.12",
        &["-process-type", "-web", "img"],
        &[],
    )
    .unwrap();
    assert_eq!(i.string(Key::ProcessType), Some("-web"));
}

#[test]
fn unknown_flags_exit_2_naming_the_flag() {
    let (code, msg) = fails(Phase::Detector, "0.12", &["-no-such-flag"], &[]);
    assert_eq!(code, 2);
    assert!(msg.contains("-no-such-flag"), "{msg}");
    // A flag of another phase.
    let (code, msg) = fails(Phase::Builder, "0.12", &["-daemon"], &[]);
    assert_eq!(code, 2);
    assert!(msg.contains("-daemon") && msg.contains("builder"), "{msg}");
    let (code, _) = fails(Phase::Builder, "0.12", &["---layers", "/x"], &[]);
    assert_eq!(code, 2);
}

#[test]
fn bad_values_exit_3() {
    let (code, msg) = fails(Phase::Analyzer, "0.12", &["-uid", "abc", "img"], &[]);
    assert_eq!(code, 3);
    assert!(msg.contains("abc"), "{msg}");
    assert!(!msg.contains('\n'));
    let (code, msg) = fails(Phase::Analyzer, "0.12", &["-log-level", "loud", "img"], &[]);
    assert_eq!(code, 3);
    assert!(msg.contains("'loud'"), "{msg}");
}

#[test]
fn a_missing_value_is_a_flag_error_as_in_go() {
    let (code, msg) = fails(Phase::Builder, "0.12", &["-layers"], &[]);
    assert_eq!(code, 2);
    assert_eq!(msg, "flag needs an argument: -layers");
}

#[test]
fn messages_are_one_line_and_name_the_input() {
    let cases: &[(Phase, &str, &[&str], &str)] = &[
        (Phase::Analyzer, "0.12", &["-uid", "abc", "img"], "abc"),
        (Phase::Analyzer, "0.11", &["-run", "/r", "img"], "-run"),
        (Phase::Rebaser, "0.12", &[], "rebaser"),
        (Phase::Detector, "0.12", &["-daemon=yes"], "-daemon"),
    ];
    for (phase, api, args, needle) in cases {
        let (_, msg) = fails(*phase, api, args, &[]);
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains(needle), "{msg}");
        assert_eq!(msg, msg.trim(), "{msg}");
    }
}

#[test]
fn log_level_and_color() {
    let i = run(
        Phase::Builder,
        "0.12",
        &["-log-level=debug", "-no-color"],
        &[],
    )
    .unwrap();
    assert_eq!(i.log_level, cnb_platform::LogLevel::Debug);
    assert!(i.no_color);
    let i = run(
        Phase::Builder,
        "0.12",
        &[],
        &[("CNB_LOG_LEVEL", "warn"), ("CNB_NO_COLOR", "true")],
    )
    .unwrap();
    assert_eq!(i.log_level, cnb_platform::LogLevel::Warn);
    assert!(i.no_color);
}
