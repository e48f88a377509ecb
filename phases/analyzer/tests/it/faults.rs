//! The analyzer through a fault proxy: transient faults are retried and analyzed.toml records
//! the same previous and run images as without faults; permanent ones exit 32 with one line
//! naming the registry, the request and what to check. `CNB_FAULT_SEED` replays a run;
//! `CNB_FAULT_ROUNDS` runs more seeds (`make faults`).

use std::process::{Command, Output};

use cnb_formats::analyzed::Analyzed;
use cnb_image::Target;
use cnb_image::registry::{RegistryOptions, RegistryStore};
use cnb_test_support::fault_proxy::{
    Fault, FaultPlan, FaultProxy, Kind, record, rounds, seed_from_env, transient,
};
use cnb_test_support::fixtures::{four_platforms, image, save_run_index};
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::{request, walk_all};

/// A registry with a run index and a previous app image, a proxy in front of it.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy) {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    save_run_index(&store, &reg.image("cnb/run:multi"), &four_platforms(), "r");
    image(
        &Target::new("linux", "amd64", None),
        &[("/workspace/app.txt", "app")],
        &[("io.buildpacks.lifecycle.metadata", "{}")],
    )
    .save(&store, &[reg.image("cnb/app:latest")])
    .unwrap();
    let proxy = FaultProxy::start(reg.host(), plan);
    (reg, proxy)
}

fn analyze(layers: &std::path::Path, proxy: &FaultProxy) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(["-layers", layers.to_str().unwrap(), "-log-level", "debug"])
        .args(["-arch", "amd64"])
        .args(["-run-image", &format!("{}/cnb/run:multi", proxy.host())])
        .arg(format!("{}/cnb/app:latest", proxy.host()))
        .env_clear()
        .env("CNB_PLATFORM_API", "0.13")
        .env("CNB_INSECURE_REGISTRIES", proxy.host())
        .env("CNB_REGISTRY_TIMEOUT", "2")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn transient_faults_are_retried_and_the_analysis_is_the_same() {
    let seed = seed_from_env();
    for round in 0..rounds() {
        let seed = seed.wrapping_add(round);
        let (reg, proxy) = setup(transient(seed));
        let layers = tempfile::tempdir().unwrap();
        let out = analyze(layers.path(), &proxy);
        let stats = proxy.stats();
        record(
            "analyzer",
            &stats,
            if out.status.success() { "ok" } else { "failed" },
        );
        assert!(
            out.status.success(),
            "CNB_FAULT_SEED={seed}; faults {:?}\n{}",
            stats.log,
            text(&out)
        );
        let an = Analyzed::read(&layers.path().join("analyzed.toml")).unwrap();
        let app = request(reg.host(), "GET", "/v2/cnb/app/manifests/latest", None);
        assert_eq!(
            an.image.unwrap().reference,
            format!(
                "{}/cnb/app@{}",
                proxy.host(),
                cnb_image::Digest::of(&app.body)
            ),
            "CNB_FAULT_SEED={seed}"
        );
        assert_eq!(an.run_image.unwrap().target.unwrap().arch, "amd64");
        assert!(
            walk_all(reg.host(), None, reg.storage_dir())
                .problems
                .is_empty()
        );
    }
}

fn permanent(kind: Option<Kind>, fault: Fault, request: &str, hint: &str) {
    let (_reg, proxy) = setup(FaultPlan::Always { kind, fault });
    let layers = tempfile::tempdir().unwrap();
    let out = analyze(layers.path(), &proxy);
    record("analyzer-permanent", &proxy.stats(), "refused");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(32), "{all}");
    let line = all.lines().rev().find(|l| l.contains("ERROR")).unwrap();
    eprintln!("{line}"); // the message, for --no-capture
    for part in [proxy.host(), request, hint] {
        assert!(line.contains(part), "'{part}' not in: {line}");
    }
}

#[test]
fn every_manifest_get_failing_exits_32_naming_the_registry() {
    permanent(
        Some(Kind::ManifestGet),
        Fault::Status(503),
        "pull manifest",
        "check that the registry",
    );
}

#[test]
fn a_registry_refusing_every_request_exits_32_naming_the_credentials() {
    permanent(
        None,
        Fault::Unauthorized,
        "unauthorized",
        "check the credentials for",
    );
}

#[test]
fn a_registry_that_stalls_every_manifest_get_exits_32_naming_the_timeout() {
    permanent(
        Some(Kind::ManifestGet),
        Fault::Stall,
        "timed out",
        "check that the registry",
    );
}
