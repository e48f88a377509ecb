//! Every command line pack, kpack and Tekton give the phases, at the Platform APIs they use,
//! parses. Argument lists are read from their sources (see /work/shared/reference/platform-calls.md):
//! pack v0.40 internal/build/lifecycle_execution.go, kpack pkg/apis/build/v1alpha2/build_pod.go,
//! Tekton catalog task/buildpacks-phases/0.3 and task/buildpacks/0.6.

use cnb_platform::Phase::{self, *};
use cnb_platform::{Inputs, Key};

use crate::run;

fn parses(who: &str, phase: Phase, api: &str, args: &[&str], env: &[(&str, &str)]) -> Inputs {
    run(phase, api, args, env)
        .unwrap_or_else(|e| panic!("{who}: {phase} at {api} rejects {args:?}: {e}"))
}

fn minors(from: u32, to: u32) -> Vec<String> {
    (from..=to).map(|m| format!("0.{m}")).collect()
}

fn minor(api: &str) -> u32 {
    api.trim_start_matches("0.").parse().unwrap()
}

#[test]
fn pack_five_phases_and_creator() {
    for api in minors(7, 15) {
        let m = minor(&api);
        let mut insecure: Vec<&str> = Vec::new();
        if m >= 13 {
            insecure = vec!["-insecure-registry", "r.io"];
        }
        let stack_or_run: &[&str] = if m < 12 {
            &["-stack", "/layers/stack.toml"]
        } else {
            &["-run", "/layers/run.toml"]
        };

        let mut creator = vec![
            "-log-level",
            "debug",
            "-app",
            "/workspace",
            "-cache-dir",
            "/cache",
            "-run-image",
            "r/run",
            "-skip-restore",
            "-gid",
            "1000",
            "-uid",
            "1000",
        ];
        creator.extend(&insecure);
        creator.extend([
            "-previous-image",
            "r/prev",
            "-process-type",
            "web",
            "-cache-image",
            "r/cache",
            "-tag",
            "r/app:t",
            "-daemon",
            "-launch-cache",
            "/launch-cache",
            "r/app",
        ]);
        let i = parses("pack", Creator, &api, &creator, &[]);
        assert_eq!(i.output_names(), ["r/app", "r/app:t"]);
        assert!(i.skip_layers() && i.daemon());

        let mut analyzer = vec!["-log-level", "debug", "-daemon"];
        if m >= 9 {
            analyzer.extend(["-launch-cache", "/launch-cache", "-skip-layers"]);
        }
        analyzer.extend(["-cache-image", "r/cache", "-gid", "1000", "-uid", "1000"]);
        analyzer.extend(&insecure);
        analyzer.extend(stack_or_run);
        analyzer.extend([
            "-run-image",
            "r/run",
            "-tag",
            "r/app:t",
            "-previous-image",
            "r/prev",
        ]);
        analyzer.push("r/app");
        parses("pack", Analyzer, &api, &analyzer, &[]);

        parses(
            "pack",
            Detector,
            &api,
            &["-log-level", "debug", "-app", "/workspace"],
            &[],
        );
        parses(
            "pack",
            Builder,
            &api,
            &["-log-level", "debug", "-app", "/workspace"],
            &[],
        );

        let mut restorer = vec![
            "-log-level",
            "debug",
            "-skip-layers",
            "-cache-dir",
            "/cache",
        ];
        restorer.extend(["-gid", "1000", "-uid", "1000"]);
        restorer.extend(&insecure);
        if m >= 10 {
            // With extensions for the build image.
            restorer.extend(["-build-image", "r/builder"]);
        }
        if m >= 12 {
            restorer.push("-daemon");
        }
        parses("pack", Restorer, &api, &restorer, &[]);

        if m >= 10 {
            parses(
                "pack",
                Extender,
                &api,
                &["-log-level", "debug", "-app", "/workspace"],
                &[],
            );
        }
        if m >= 12 {
            parses(
                "pack",
                Extender,
                &api,
                &["-app", "/workspace", "-kind", "run"],
                &[],
            );
        }

        let mut exporter = vec![
            "-log-level",
            "debug",
            "-app",
            "/workspace",
            "-cache-dir",
            "/cache",
        ];
        exporter.extend(stack_or_run);
        exporter.extend(["-process-type", "web", "-gid", "1000", "-uid", "1000"]);
        exporter.extend(&insecure);
        exporter.extend([
            "-cache-image",
            "r/cache",
            "-daemon",
            "-launch-cache",
            "/launch-cache",
        ]);
        exporter.extend(["r/app", "r/app:t"]);
        parses(
            "pack",
            Exporter,
            &api,
            &exporter,
            &[("SOURCE_DATE_EPOCH", "1700000000")],
        );
    }
}

#[test]
fn kpack_build_pod() {
    for api in ["0.7", "0.8", "0.9"] {
        let i = parses(
            "kpack",
            Analyzer,
            api,
            &[
                "-layers=/layers",
                "-analyzed=/layers/analyzed.toml",
                "-run-image=r/run@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "-cache-image=r/cache",
                "-tag=r/app:2",
                "-previous-image=r/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                "r/app",
            ],
            &[("CNB_USER_ID", "1001"), ("CNB_GROUP_ID", "1002")],
        );
        assert_eq!((i.uid(), i.gid()), (1001, 1002));
        assert_eq!(i.output_names(), ["r/app", "r/app:2"]);
        parses(
            "kpack",
            Analyzer,
            api,
            &[
                "-layers=/layers",
                "-analyzed=/layers/analyzed.toml",
                "-run-image=r/run",
                "r/app",
            ],
            &[],
        );
        parses(
            "kpack",
            Detector,
            api,
            &[
                "-app=/workspace",
                "-group=/layers/group.toml",
                "-plan=/layers/plan.toml",
            ],
            &[],
        );
        for cache in ["-cache-dir=/cache", "-cache-image=r/cache"] {
            parses(
                "kpack",
                Restorer,
                api,
                &[
                    "-group=/layers/group.toml",
                    "-layers=/layers",
                    cache,
                    "-analyzed=/layers/analyzed.toml",
                ],
                &[],
            );
        }
        parses(
            "kpack",
            Builder,
            api,
            &[
                "-layers=/layers",
                "-app=/workspace",
                "-group=/layers/group.toml",
                "-plan=/layers/plan.toml",
            ],
            &[],
        );
        let i = parses(
            "kpack",
            Exporter,
            api,
            &[
                "-layers=/layers",
                "-app=/workspace",
                "-group=/layers/group.toml",
                "-analyzed=/layers/analyzed.toml",
                "-project-metadata=/layers/project-metadata.toml",
                "-cache-image=r/cache",
                "-process-type=web",
                "-report=/var/report/report.toml",
                "r/app",
                "r/app:2",
            ],
            &[("SOURCE_DATE_EPOCH", "1700000000")],
        );
        assert_eq!(i.report_path().to_str(), Some("/var/report/report.toml"));
    }
}

#[test]
fn tekton_buildpacks_phases_0_3_with_empty_defaults() {
    let env = [
        ("CNB_INSECURE_REGISTRIES", ""),
        ("CNB_SKIP_LAYERS", "false"),
        ("CNB_CACHE_IMAGE", ""),
        ("CNB_BUILD_IMAGE", ""),
        ("CNB_EXPERIMENTAL_MODE", "silent"),
        ("CNB_LOG_LEVEL", "info"),
    ];
    let api = "0.13";
    let i = parses(
        "tekton",
        Analyzer,
        api,
        &[
            "-log-level=info",
            "-layers=/layers",
            "-run-image=",
            "-cache-image=",
            "-uid=1000",
            "-gid=1000",
            "-insecure-registry=",
            "-tag=",
            "-skip-layers=false",
            "r/app",
        ],
        &env,
    );
    assert!(i.insecure_registries().is_empty() && i.tags().is_empty());
    assert_eq!(
        (i.run_image(), i.cache_image(), i.skip_layers()),
        (None, None, false)
    );
    parses(
        "tekton",
        Detector,
        api,
        &[
            "-log-level=info",
            "-app=/workspace/source/",
            "-group=/layers/group.toml",
            "-plan=/layers/plan.toml",
            "-layers=/layers",
            "-platform=/platform",
        ],
        &env,
    );
    // The restore script passes ${CNB_LAYERS_DIR}, which its step does not set.
    let i = parses(
        "tekton",
        Restorer,
        api,
        &[
            "-log-level=info",
            "-build-image=r/builder",
            "-group=/layers/group.toml",
            "-layers=",
            "-cache-dir=",
            "-cache-image=",
            "-uid=1000",
            "-gid=1000",
            "-insecure-registry=",
            "-skip-layers=false",
        ],
        &env,
    );
    assert_eq!(i.layers_dir().to_str(), Some("/layers"));
    assert_eq!(i.cache_dir(), None);
    parses(
        "tekton",
        Extender,
        api,
        &[
            "-log-level=info",
            "-app=/workspace/source/",
            "-generated=/layers/generated",
            "-uid=1000",
            "-gid=1000",
            "-platform=/platform",
        ],
        &env,
    );
    parses(
        "tekton",
        Builder,
        api,
        &[
            "-log-level=info",
            "-app=/workspace/source/",
            "-layers=/layers",
            "-group=/layers/group.toml",
            "-plan=/layers/plan.toml",
            "-platform=/platform",
        ],
        &env,
    );
    let i = parses(
        "tekton",
        Exporter,
        api,
        &[
            "-log-level=info",
            "-app=/workspace/source/",
            "-layers=/layers",
            "-group=/layers/group.toml",
            "-cache-dir=",
            "-cache-image=",
            "-report=/layers/report.toml",
            "-process-type=web",
            "-uid=1000",
            "-gid=1000",
            "-insecure-registry=",
            "r/app",
        ],
        &env,
    );
    assert_eq!(i.output_names(), ["r/app"]);
    assert!(i.has(Key::Report));
}

#[test]
fn tekton_buildpacks_0_6_creator() {
    let i = parses(
        "tekton",
        Creator,
        "0.9",
        &[
            "-app=/workspace/source/",
            "-cache-dir=",
            "-cache-image=",
            "-uid=1000",
            "-gid=1000",
            "-layers=/layers",
            "-platform=/platform",
            "-report=/layers/report.toml",
            "-process-type=web",
            "-skip-restore=false",
            "-previous-image=r/app",
            "-run-image=",
            "r/app",
        ],
        &[("DOCKER_CONFIG", "/workspace/dockerconfig")],
    );
    assert_eq!(
        (i.cache_dir(), i.cache_image(), i.run_image()),
        (None, None, None)
    );
    assert!(!i.skip_layers());
}
