//! Defaults, placeholders and the rules that tie inputs together.

use std::path::{Path, PathBuf};

use cnb_platform::{Key, Phase};

use crate::run;

#[test]
fn layers_placeholders_follow_the_layers_dir() {
    let i = run(
        Phase::Exporter,
        "0.12",
        &["-layers", "/my/layers", "r/app"],
        &[],
    )
    .unwrap();
    assert_eq!(
        i.path(Key::Analyzed),
        Some(Path::new("/my/layers/analyzed.toml"))
    );
    assert_eq!(i.path(Key::Group), Some(Path::new("/my/layers/group.toml")));
    assert_eq!(
        i.path(Key::Report),
        Some(Path::new("/my/layers/report.toml"))
    );
    assert_eq!(
        i.path(Key::ProjectMetadata),
        Some(Path::new("/my/layers/project-metadata.toml"))
    );
    assert_eq!(
        i.path(Key::Extended),
        Some(Path::new("/my/layers/extended"))
    );
    let i = run(
        Phase::Detector,
        "0.12",
        &[],
        &[("CNB_LAYERS_DIR", "/env/layers")],
    )
    .unwrap();
    assert_eq!(i.path(Key::Plan), Some(Path::new("/env/layers/plan.toml")));
    assert_eq!(
        i.path(Key::Generated),
        Some(Path::new("/env/layers/generated"))
    );
    // An explicit path is not touched by the layers dir.
    let i = run(Phase::Detector, "0.12", &["-group", "/g.toml"], &[]).unwrap();
    assert_eq!(i.path(Key::Group), Some(Path::new("/g.toml")));
}

#[test]
fn the_rebasers_report_follows_cnb_layers_dir() {
    let report = |env: &[(&str, &str)], args: &[&str]| {
        let mut a = args.to_vec();
        a.push("r/app");
        run(Phase::Rebaser, "0.12", &a, env)
            .unwrap()
            .path(Key::Report)
            .map(Path::to_path_buf)
    };
    assert_eq!(
        report(&[("CNB_LAYERS_DIR", "/env/layers")], &[]),
        Some(PathBuf::from("/env/layers/report.toml"))
    );
    assert_eq!(
        report(&[("CNB_LAYERS_DIR", "rel")], &[]),
        Some(PathBuf::from("/cwd/rel/report.toml"))
    );
    assert_eq!(report(&[], &[]), Some(PathBuf::from("/layers/report.toml")));
    assert_eq!(
        report(&[("CNB_LAYERS_DIR", "/env/layers")], &["-report=/r.toml"]),
        Some(PathBuf::from("/r.toml"))
    );
    assert_eq!(
        report(
            &[
                ("CNB_LAYERS_DIR", "/env/layers"),
                ("CNB_REPORT_PATH", "/e.toml")
            ],
            &[]
        ),
        Some(PathBuf::from("/e.toml"))
    );
    // As upstream, the rebaser has no -layers flag.
    let (code, msg) = crate::fails(Phase::Rebaser, "0.12", &["-layers=/l", "r/app"], &[]);
    assert_eq!(code, 2);
    assert!(
        msg.contains("-layers") && msg.contains("CNB_LAYERS_DIR"),
        "{msg}"
    );
}

#[test]
fn relative_paths_become_absolute() {
    let i = run(
        Phase::Builder,
        "0.12",
        &["-layers", "rel/layers", "-app", "."],
        &[],
    )
    .unwrap();
    assert_eq!(i.layers_dir(), Path::new("/cwd/rel/layers"));
    assert_eq!(
        i.path(Key::Group),
        Some(Path::new("/cwd/rel/layers/group.toml"))
    );
    assert_eq!(i.path(Key::App), Some(Path::new("/cwd/.")));
}

#[test]
fn order_defaults_to_the_layers_dir_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().to_str().unwrap();
    let i = run(Phase::Detector, "0.12", &["-layers", layers], &[]).unwrap();
    assert_eq!(i.path(Key::Order), Some(Path::new("/cnb/order.toml")));
    std::fs::write(dir.path().join("order.toml"), "").unwrap();
    let i = run(Phase::Detector, "0.12", &["-layers", layers], &[]).unwrap();
    assert_eq!(
        i.path(Key::Order),
        Some(dir.path().join("order.toml").as_path())
    );
    let i = run(
        Phase::Detector,
        "0.12",
        &["-layers", layers],
        &[("CNB_ORDER_PATH", "/o.toml")],
    )
    .unwrap();
    assert_eq!(i.path(Key::Order), Some(Path::new("/o.toml")));
    // Phases without an order input get none.
    assert!(
        run(Phase::Builder, "0.12", &[], &[])
            .unwrap()
            .path(Key::Order)
            .is_none()
    );
}

#[test]
fn previous_image_defaults_to_the_image() {
    let i = run(Phase::Analyzer, "0.12", &["r/app"], &[]).unwrap();
    assert_eq!(i.string(Key::PreviousImage), Some("r/app"));
    let i = run(
        Phase::Analyzer,
        "0.12",
        &["r/app"],
        &[("CNB_PREVIOUS_IMAGE", "r/old")],
    )
    .unwrap();
    assert_eq!(i.string(Key::PreviousImage), Some("r/old"));
    let i = run(
        Phase::Analyzer,
        "0.12",
        &["-previous-image", "r/flag", "r/app"],
        &[("CNB_PREVIOUS_IMAGE", "r/old")],
    )
    .unwrap();
    assert_eq!(i.string(Key::PreviousImage), Some("r/flag"));
}

#[test]
fn either_skip_variable_sets_the_skip_flag() {
    for var in ["CNB_SKIP_LAYERS", "CNB_SKIP_RESTORE"] {
        let i = run(Phase::Restorer, "0.12", &[], &[(var, "true")]).unwrap();
        assert!(i.flag(Key::SkipLayers), "{var}");
        let i = run(Phase::Creator, "0.12", &["r/app"], &[(var, "1")]).unwrap();
        assert!(i.flag(Key::SkipRestore), "{var}");
    }
    assert!(
        !run(Phase::Restorer, "0.12", &[], &[])
            .unwrap()
            .flag(Key::SkipLayers)
    );
}

#[test]
fn env_only_inputs() {
    let i = run(Phase::Exporter, "0.15", &["r/app"], &[]).unwrap();
    assert_eq!(i.exec_env, "production");
    assert_eq!(i.experimental_mode, "error");
    assert_eq!(i.registry_auth, None);
    let i = run(
        Phase::Exporter,
        "0.15",
        &["r/app"],
        &[
            ("CNB_EXEC_ENV", "test"),
            ("CNB_REGISTRY_AUTH", "{}"),
            ("SOURCE_DATE_EPOCH", "42"),
            ("CNB_EXPERIMENTAL_MODE", "warn"),
        ],
    )
    .unwrap();
    assert_eq!(i.exec_env, "test");
    assert_eq!(i.registry_auth.as_deref(), Some("{}"));
    assert_eq!(i.source_date_epoch.as_deref(), Some("42"));
    assert_eq!(i.experimental_mode, "warn");
}

/// What the image backends need from the environment is read here, once, and handed to the
/// image crate (which reads no environment): the same variables, defaults and precedence.
#[test]
fn registry_and_daemon_settings_come_from_the_environment() {
    let i = run(Phase::Exporter, "0.15", &["r/app"], &[("HOME", "/h")]).unwrap();
    assert_eq!(i.docker_config_dir, Some(PathBuf::from("/h/.docker")));
    assert_eq!(i.ssl_cert_file, None);
    assert_eq!(i.registry_timeout, None);
    assert_eq!(i.docker_host, None);
    let i = run(
        Phase::Exporter,
        "0.15",
        &["r/app"],
        &[
            ("HOME", "/h"),
            ("DOCKER_CONFIG", "/d"),
            ("SSL_CERT_FILE", "/ca.pem"),
            ("CNB_REGISTRY_TIMEOUT", "2"),
            ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
        ],
    )
    .unwrap();
    assert_eq!(i.docker_config_dir, Some(PathBuf::from("/d")));
    assert_eq!(i.ssl_cert_file, Some(PathBuf::from("/ca.pem")));
    assert_eq!(i.registry_timeout.as_deref(), Some("2"));
    assert_eq!(i.docker_host.as_deref(), Some("tcp://127.0.0.1:2375"));
    // set but empty: the CA file and daemon host count as unset, the timeout is kept (and
    // refused by the image crate, as before the move)
    let i = run(
        Phase::Exporter,
        "0.15",
        &["r/app"],
        &[
            ("SSL_CERT_FILE", ""),
            ("CNB_REGISTRY_TIMEOUT", ""),
            ("DOCKER_HOST", ""),
        ],
    )
    .unwrap();
    assert_eq!(i.ssl_cert_file, None);
    assert_eq!(i.registry_timeout.as_deref(), Some(""));
    assert_eq!(i.docker_host, None);
}

#[test]
fn unset_optional_inputs_stay_unset() {
    let i = run(Phase::Restorer, "0.12", &[], &[]).unwrap();
    assert!(i.path(Key::CacheDir).is_none());
    assert!(i.string(Key::CacheImage).is_none());
    assert_eq!(i.uid(), 0);
    assert!(i.target().is_empty());
    // Inputs the phase does not take are absent even if their variable is set.
    let i = run(Phase::Builder, "0.12", &[], &[("CNB_CACHE_DIR", "/c")]).unwrap();
    assert!(!i.has(Key::CacheDir));
    let i = run(
        Phase::Detector,
        "0.14",
        &[],
        &[("CNB_SYSTEM_PATH", "/s.toml")],
    )
    .unwrap();
    assert!(i.path(Key::System).is_none());
    let i = run(
        Phase::Detector,
        "0.15",
        &[],
        &[("CNB_SYSTEM_PATH", "/s.toml")],
    )
    .unwrap();
    assert_eq!(
        i.path(Key::System),
        Some(PathBuf::from("/s.toml").as_path())
    );
}

#[test]
fn some_variables_are_read_even_where_the_flag_is_gated_off() {
    let env = [("CNB_INSECURE_REGISTRIES", "a.io")];
    let i = run(Phase::Analyzer, "0.12", &["r/app"], &env).unwrap();
    assert_eq!(i.insecure_registries(), ["a.io"]);
    let (code, _) = crate::fails(
        Phase::Analyzer,
        "0.12",
        &["-insecure-registry", "b.io", "r/app"],
        &env,
    );
    assert_eq!(code, 2);
    let i = run(
        Phase::Rebaser,
        "0.10",
        &["r/app"],
        &[("CNB_PREVIOUS_IMAGE", "r/old")],
    )
    .unwrap();
    assert_eq!(i.previous_image(), Some("r/old"));
    let i = run(Phase::Rebaser, "0.10", &["r/app"], &[]).unwrap();
    assert_eq!(i.previous_image(), Some("r/app"));
    // Other gated variables stay gated.
    let i = run(
        Phase::Detector,
        "0.14",
        &[],
        &[("CNB_SYSTEM_PATH", "/s.toml")],
    )
    .unwrap();
    assert_eq!(i.system_path(), None);
}
