//! The extender and the launcher, and the named accessors phase code uses.

use std::path::Path;

use cnb_platform::{Key, Phase};

use crate::{fails, run};

#[test]
fn launcher_passes_every_argument_on() {
    let args = ["--", "-version", "-layers", "x", "web"];
    let i = run(Phase::Launcher, "0.12", &args, &[]).unwrap();
    assert_eq!(i.positionals, args);
    let i = run(Phase::Launcher, "0.12", &[], &[]).unwrap();
    assert!(i.positionals.is_empty());
}

#[test]
fn launcher_reads_the_environment_only() {
    let env = [
        ("CNB_APP_DIR", "/srv"),
        ("CNB_LAYERS_DIR", "/l"),
        ("CNB_NO_COLOR", "true"),
        ("CNB_LOG_LEVEL", "nonsense"),
    ];
    let i = run(Phase::Launcher, "0.15", &["echo"], &env).unwrap();
    assert_eq!(i.app_dir(), Path::new("/srv"));
    assert_eq!(i.layers_dir(), Path::new("/l"));
    assert!(i.no_color);
    assert!(i.warnings.is_empty());
    let i = run(Phase::Launcher, "0.15", &[], &[]).unwrap();
    assert_eq!(i.app_dir(), Path::new("/workspace"));
    assert_eq!(i.layers_dir(), Path::new("/layers"));
}

#[test]
fn launcher_warns_about_process_type_and_still_needs_the_platform_api() {
    let i = run(Phase::Launcher, "0.12", &[], &[("CNB_PROCESS_TYPE", "web")]).unwrap();
    assert_eq!(i.warnings.len(), 1);
    assert!(
        i.warnings[0].contains("entrypoint 'web'"),
        "{:?}",
        i.warnings
    );
    let (code, _) = fails(Phase::Launcher, "", &["echo"], &[]);
    assert_eq!(code, 11);
}

#[test]
fn extender_kind_and_extended_arrive_at_0_12() {
    let i = run(Phase::Extender, "0.12", &["-kind", "run"], &[]).unwrap();
    assert_eq!(i.extend_kind(), Some("run"));
    assert_eq!(i.extended_dir(), Path::new("/layers/extended"));
    assert_eq!(i.kaniko_cache_ttl(), Some("336h"));
    let i = run(Phase::Extender, "0.12", &[], &[("CNB_EXTEND_KIND", "run")]).unwrap();
    assert_eq!(i.extend_kind(), Some("run"));
    let i = run(Phase::Extender, "0.13", &[], &[]).unwrap();
    assert_eq!(i.extend_kind(), Some("build"));
    for flag in [&["-kind", "run"][..], &["-extended", "/e"][..]] {
        let (code, msg) = fails(Phase::Extender, "0.11", flag, &[]);
        assert_eq!(code, 2, "{msg}");
        assert!(msg.contains("from platform api 0.12"), "{msg}");
    }
    let (code, msg) = fails(Phase::Extender, "0.12", &["-kind", "both"], &[]);
    assert_eq!(code, 3);
    assert!(msg.contains("-kind 'both'"), "{msg}");
    let (code, _) = fails(Phase::Extender, "0.12", &["-daemon"], &[]);
    assert_eq!(code, 2);
}

#[test]
fn named_accessors_match_the_keys() {
    let i = run(
        Phase::Creator,
        "0.15",
        &[
            "-daemon",
            "-tag",
            "r/t",
            "-insecure-registry",
            "r.io",
            "-run-image",
            "r/run",
            "-cache-dir",
            "/c",
            "r/app",
        ],
        &[("CNB_SKIP_RESTORE", "1")],
    )
    .unwrap();
    assert!(i.daemon());
    assert_eq!(i.tags(), ["r/t"]);
    assert_eq!(i.insecure_registries(), ["r.io"]);
    assert_eq!(i.run_image(), Some("r/run"));
    assert_eq!(i.previous_image(), Some("r/app"));
    assert_eq!(i.cache_dir(), Some(Path::new("/c")));
    assert_eq!(i.system_path(), Some(Path::new("/cnb/system.toml")));
    assert_eq!(Some(i.report_path()), i.path(Key::Report));
    assert!(i.skip_layers());
    assert_eq!(i.output_names(), ["r/app", "r/t"]);
}

#[test]
fn paths_a_phase_takes_no_flag_for_still_have_their_defaults() {
    // The creator has no -group, -plan, -analyzed, -generated or -extensions: it uses the
    // defaults, under its -layers, as upstream fills them.
    let i = run(Phase::Creator, "0.13", &["-layers", "/l", "r/app"], &[]).unwrap();
    assert_eq!(i.group_path(), Path::new("/l/group.toml"));
    assert_eq!(i.plan_path(), Path::new("/l/plan.toml"));
    assert_eq!(i.analyzed_path(), Path::new("/l/analyzed.toml"));
    assert_eq!(i.generated_dir(), Path::new("/l/generated"));
    assert_eq!(i.extensions_dir(), Path::new("/cnb/extensions"));
    assert_eq!(i.report_path(), Path::new("/l/report.toml"));
    assert!(!i.has(Key::Group), "no -group flag for the creator");
}
