//! The analyzer through a fault proxy: transient faults are retried and analyzed.toml records
//! the same previous and run images as without faults; permanent ones exit 32 with one line
//! naming the registry, the request and what to check. `CNB_FAULT_SEED` replays a run;
//! `CNB_FAULT_ROUNDS` runs more seeds (`make faults`).

use cnb_test_support::fault_proxy::{Fault, FaultPlan, FaultProxy, Kind, transient};
use cnb_test_support::faults::{assert_refused, assert_retried, assert_whole, seeds};
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::request;

use crate::harness::{PhaseOutput, analyzed};

/// A registry with a run index and a previous app image, a proxy in front of it.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy) {
    let reg = Registry::start();
    crate::harness::save_run_and_app(&reg);
    let proxy = FaultProxy::start(reg.host(), plan);
    (reg, proxy)
}

fn analyze(layers: &std::path::Path, proxy: &FaultProxy) -> PhaseOutput {
    crate::harness::analyzer("0.13", layers)
        .through(proxy)
        .args(["-arch", "amd64"])
        .args(["-run-image", &format!("{}/cnb/run:multi", proxy.host())])
        .arg(format!("{}/cnb/app:latest", proxy.host()))
        .run()
}

#[test]
fn transient_faults_are_retried_and_the_analysis_is_the_same() {
    for seed in seeds() {
        let (reg, proxy) = setup(transient(seed));
        let layers = tempfile::tempdir().unwrap();
        let out = analyze(layers.path(), &proxy);
        assert_retried("analyzer", seed, &proxy.stats(), &out);
        let an = analyzed(layers.path());
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
        assert_whole(&reg, seed, "after the analysis");
    }
}

fn permanent(kind: Option<Kind>, fault: Fault, request: &str, hint: &str) {
    let (_reg, proxy) = setup(FaultPlan::Always { kind, fault });
    let layers = tempfile::tempdir().unwrap();
    let out = analyze(layers.path(), &proxy);
    assert_refused(
        "analyzer-permanent",
        &proxy.stats(),
        &out,
        32,
        &[proxy.host(), request, hint],
    );
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
