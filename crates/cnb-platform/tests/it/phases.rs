//! Which flags each phase takes at each Platform API, driven through the parser.

use cnb_platform::Phase::{self, *};

use crate::{fails, run};

/// Positional arguments each phase needs to parse at all.
fn positionals(phase: Phase) -> &'static [&'static str] {
    match phase {
        Analyzer | Creator | Exporter | Rebaser => &["reg/app"],
        _ => &[],
    }
}

fn accepts(phase: Phase, api: &str, flag: &[&str]) -> Result<(), (u8, String)> {
    let mut args: Vec<&str> = flag.to_vec();
    args.extend_from_slice(positionals(phase));
    run(phase, api, &args, &[])
        .map(|_| ())
        .map_err(|e| (cnb_platform::ExitClass::exit_code(&e).code(), e.to_string()))
}

/// (phase, flag with a value, first Platform API that accepts it)
const SINCE: &[(Phase, &[&str], &str)] = &[
    (Analyzer, &["-launch-cache", "/lc"], "0.9"),
    (Analyzer, &["-skip-layers"], "0.9"),
    (Analyzer, &["-layout"], "0.12"),
    (Analyzer, &["-layout-dir", "/ld"], "0.12"),
    (Analyzer, &["-run", "/run.toml"], "0.12"),
    (Analyzer, &["-insecure-registry", "r.io"], "0.13"),
    (Detector, &["-analyzed", "/a.toml"], "0.10"),
    (Detector, &["-extensions", "/ext"], "0.10"),
    (Detector, &["-generated", "/gen"], "0.10"),
    (Detector, &["-build-config", "/bc"], "0.11"),
    (Detector, &["-run", "/run.toml"], "0.12"),
    (Detector, &["-system", "/system.toml"], "0.15"),
    (Restorer, &["-build-image", "reg/build"], "0.10"),
    (Restorer, &["-daemon"], "0.12"),
    (Restorer, &["-generated", "/gen"], "0.12"),
    (Restorer, &["-layout"], "0.12"),
    (Restorer, &["-insecure-registry", "r.io"], "0.13"),
    (Restorer, &["-run", "/run.toml"], "0.14"),
    (Builder, &["-build-config", "/bc"], "0.11"),
    (Builder, &["-analyzed", "/a.toml"], "0.12"),
    (Exporter, &["-launcher-sbom", "/sbom"], "0.11"),
    (Exporter, &["-extended", "/ext"], "0.12"),
    (Exporter, &["-layout"], "0.12"),
    (Exporter, &["-run", "/run.toml"], "0.12"),
    (Exporter, &["-insecure-registry", "r.io"], "0.13"),
    (Creator, &["-build-config", "/bc"], "0.11"),
    (Creator, &["-launcher-sbom", "/sbom"], "0.11"),
    (Creator, &["-layout-dir", "/ld"], "0.12"),
    (Creator, &["-run", "/run.toml"], "0.12"),
    (Creator, &["-insecure-registry", "r.io"], "0.13"),
    (Creator, &["-system", "/system.toml"], "0.15"),
    (Rebaser, &["-previous-image", "reg/old"], "0.11"),
    (Rebaser, &["-force"], "0.12"),
    (Rebaser, &["-insecure-registry", "r.io"], "0.13"),
];

fn previous(api: &str) -> String {
    let minor: u32 = api.trim_start_matches("0.").parse().unwrap();
    format!("0.{}", minor - 1)
}

#[test]
fn flags_appear_at_the_platform_api_that_added_them() {
    for (phase, flag, since) in SINCE {
        assert_eq!(
            accepts(*phase, since, flag),
            Ok(()),
            "{phase} {flag:?} at {since}"
        );
        assert_eq!(
            accepts(*phase, "0.15", flag),
            Ok(()),
            "{phase} {flag:?} at 0.15"
        );
        if *since != "0.7" {
            let before = previous(since);
            let (code, msg) = accepts(*phase, &before, flag).unwrap_err();
            assert_eq!(code, 2, "{phase} {flag:?} at {before}: {msg}");
            assert!(msg.contains(flag[0]), "{msg}");
            assert!(msg.contains(&format!("from platform api {since}")), "{msg}");
        }
    }
}

#[test]
fn stack_is_only_below_0_12_except_in_the_creator() {
    for phase in [Analyzer, Exporter] {
        assert_eq!(
            accepts(phase, "0.11", &["-stack", "/s.toml"]),
            Ok(()),
            "{phase}"
        );
        let (code, msg) = accepts(phase, "0.12", &["-stack", "/s.toml"]).unwrap_err();
        assert_eq!(code, 2);
        assert!(msg.contains("below platform api 0.12"), "{msg}");
    }
    assert_eq!(accepts(Creator, "0.15", &["-stack", "/s.toml"]), Ok(()));
}

#[test]
fn every_phase_takes_its_common_flags_at_every_api() {
    let common: &[(Phase, &[&[&str]])] = &[
        (
            Analyzer,
            &[
                &["-analyzed", "/a"],
                &["-cache-image", "r/c"],
                &["-daemon"],
                &["-layers", "/l"],
                &["-previous-image", "r/p"],
                &["-run-image", "r/r"],
                &["-tag", "r/t"],
                &["-uid", "1"],
                &["-gid", "1"],
            ],
        ),
        (
            Detector,
            &[
                &["-app", "/w"],
                &["-buildpacks", "/b"],
                &["-group", "/g"],
                &["-order", "/o"],
                &["-plan", "/p"],
                &["-platform", "/pl"],
            ],
        ),
        (
            Restorer,
            &[
                &["-analyzed", "/a"],
                &["-cache-dir", "/c"],
                &["-cache-image", "r/c"],
                &["-group", "/g"],
                &["-skip-layers"],
                &["-uid", "1"],
            ],
        ),
        (
            Builder,
            &[
                &["-app", "/w"],
                &["-buildpacks", "/b"],
                &["-group", "/g"],
                &["-plan", "/p"],
                &["-platform", "/pl"],
            ],
        ),
        (
            Exporter,
            &[
                &["-app", "/w"],
                &["-cache-dir", "/c"],
                &["-daemon"],
                &["-launch-cache", "/lc"],
                &["-launcher", "/l"],
                &["-parallel"],
                &["-process-type", "web"],
                &["-project-metadata", "/pm"],
                &["-report", "/r"],
            ],
        ),
        (
            Creator,
            &[
                &["-skip-restore"],
                &["-previous-image", "r/p"],
                &["-run-image", "r/r"],
                &["-tag", "r/t"],
                &["-order", "/o"],
                &["-stack", "/s"],
            ],
        ),
        (
            Rebaser,
            &[
                &["-daemon"],
                &["-image", "r/r"],
                &["-run-image", "r/r"],
                &["-report", "/r"],
                &["-uid", "1"],
            ],
        ),
    ];
    for minor in 7..=15 {
        let api = format!("0.{minor}");
        for (phase, flags) in common {
            for flag in *flags {
                assert_eq!(
                    accepts(*phase, &api, flag),
                    Ok(()),
                    "{phase} {flag:?} at {api}"
                );
            }
            for flag in [&["-log-level", "debug"][..], &["-no-color"][..]] {
                assert_eq!(
                    accepts(*phase, &api, flag),
                    Ok(()),
                    "{phase} {flag:?} at {api}"
                );
            }
        }
    }
}

#[test]
fn target_flags_are_ours_on_the_connected_phases_only() {
    for phase in [Analyzer, Restorer, Exporter, Creator, Rebaser] {
        for api in ["0.7", "0.12", "0.15"] {
            let mut args = vec!["-arch", "arm64", "-arch-variant", "v8", "-os", "linux"];
            args.extend_from_slice(positionals(phase));
            let t = run(phase, api, &args, &[]).unwrap().target();
            assert_eq!(
                (
                    t.os.as_deref(),
                    t.arch.as_deref(),
                    t.arch_variant.as_deref()
                ),
                (Some("linux"), Some("arm64"), Some("v8"))
            );
        }
        let t = run(
            phase,
            "0.12",
            positionals(phase),
            &[("CNB_TARGET_ARCH", "amd64")],
        )
        .unwrap()
        .target();
        assert_eq!(t.arch.as_deref(), Some("amd64"));
    }
    for phase in [Detector, Builder] {
        let (code, _) = accepts(phase, "0.12", &["-arch", "arm64"]).unwrap_err();
        assert_eq!(code, 2, "{phase}");
    }
}

#[test]
fn flags_of_other_phases_are_unknown() {
    let cases: &[(Phase, &[&str])] = &[
        (Detector, &["-daemon"]),
        (Builder, &["-cache-dir", "/c"]),
        (Analyzer, &["-app", "/w"]),
        (Restorer, &["-tag", "r/t"]),
        (Rebaser, &["-layers", "/l"]),
        (Exporter, &["-order", "/o"]),
        (Creator, &["-analyzed", "/a"]),
    ];
    for (phase, flag) in cases {
        let (code, msg) = accepts(*phase, "0.15", flag).unwrap_err();
        assert_eq!(code, 2, "{phase} {flag:?}");
        assert!(msg.contains("has no such flag"), "{msg}");
    }
}

#[test]
fn positional_counts() {
    for (phase, ok, bad) in [
        (Analyzer, &["a"][..], &[&[][..], &["a", "b"][..]][..]),
        (Creator, &["a"][..], &[&[][..], &["a", "b"][..]][..]),
        (Exporter, &["a", "b", "c"][..], &[&[][..]][..]),
        (Rebaser, &["a", "b"][..], &[&[][..]][..]),
        (Detector, &[][..], &[&["a"][..]][..]),
        (Restorer, &[][..], &[&["a"][..]][..]),
        (Builder, &[][..], &[&["a"][..]][..]),
    ] {
        assert!(run(phase, "0.12", ok, &[]).is_ok(), "{phase} {ok:?}");
        for args in bad {
            let (code, msg) = fails(phase, "0.12", args, &[]);
            assert_eq!(code, 3, "{phase} {args:?}");
            assert!(msg.starts_with(phase.name()), "{msg}");
        }
    }
}

#[test]
fn exporter_rejects_run_image_flags() {
    let (code, msg) = fails(Exporter, "0.12", &["-run-image", "r/run", "r/app"], &[]);
    assert_eq!(code, 3);
    assert_eq!(msg, "-run-image is unsupported");
    // Tolerated when it only repeats CNB_RUN_IMAGE, as upstream.
    assert!(
        run(
            Exporter,
            "0.12",
            &["-run-image", "r/run", "r/app"],
            &[("CNB_RUN_IMAGE", "r/run")]
        )
        .is_ok()
    );
    let (code, msg) = fails(Exporter, "0.12", &["-image", "r/run", "r/app"], &[]);
    assert_eq!(code, 3);
    assert_eq!(msg, "-image is unsupported");
}
