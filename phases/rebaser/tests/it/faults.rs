//! Rebases through a fault proxy (with -force: the app records the run image under the
//! registry's own name, not the proxy's): transient faults are retried and the rebase succeeds; every
//! manifest PUT failing ends with exit 72 naming the registry, the request and what to check,
//! the tag keeps the old image, and a rerun without faults uploads only the new config.
//! `CNB_FAULT_SEED` replays a run; `CNB_FAULT_ROUNDS` runs more seeds (`make faults`).

use cnb_test_support::fault_proxy::{Fault, FaultPlan, FaultProxy, Kind, transient};
use cnb_test_support::faults::{
    assert_refused, assert_retried, assert_whole, missing_blobs, seeds,
};
use cnb_test_support::fixtures::save_run_index;
use cnb_test_support::phase::PhaseOutput;
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::linked_blobs;

use crate::rebase::{app_image, command, t};

/// A registry with run images v1 and v2 and an app image on v1, and a proxy in front of it.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy) {
    let reg = Registry::start();
    let store = reg.store();
    let (v1, v2) = (reg.image("cnb/run:v1"), reg.image("cnb/run:v2"));
    save_run_index(&store, &v1, &[t("amd64")], "v1");
    save_run_index(&store, &v2, &[t("amd64")], "v2");
    app_image(&store, &v1, "amd64", &reg.image("cnb/layer:app"), &[])
        .save(&store, &[reg.image("cnb/app:latest")])
        .unwrap();
    let proxy = FaultProxy::start(reg.host(), plan);
    (reg, proxy)
}

fn rebase(proxy: &FaultProxy, report: &std::path::Path) -> PhaseOutput {
    let v2 = format!("{}/cnb/run:v2", proxy.host());
    let app = format!("{}/cnb/app:latest", proxy.host());
    command("0.15", report)
        .through(proxy)
        .args(["-force", "-run-image", &v2, &app])
        .run()
}

#[test]
fn transient_faults_are_retried_and_the_rebase_succeeds() {
    for seed in seeds() {
        let (reg, proxy) = setup(transient(seed));
        let dir = tempfile::tempdir().unwrap();
        let out = rebase(&proxy, &dir.path().join("report.toml"));
        assert_retried("rebaser", seed, &proxy.stats(), &out);
        assert_whole(&reg, seed, "after the rebase");
        let report: cnb_formats::report::Report =
            cnb_formats::read_toml(&dir.path().join("report.toml")).unwrap();
        let tagged = walk_digest(&reg);
        assert_eq!(report.image.digest, tagged, "CNB_FAULT_SEED={seed}");
    }
}
/// The digest `cnb/app:latest` points at.
fn walk_digest(reg: &Registry) -> String {
    let a = cnb_test_support::registry_walk::request(
        reg.host(),
        "GET",
        "/v2/cnb/app/manifests/latest",
        None,
    );
    cnb_image::Digest::of(&a.body).to_string()
}

#[test]
fn every_manifest_put_failing_exits_72_and_keeps_the_old_image() {
    let (reg, proxy) = setup(FaultPlan::Always {
        kind: Some(Kind::ManifestPut),
        fault: Fault::Status(500),
    });
    let before = walk_digest(&reg);
    let dir = tempfile::tempdir().unwrap();
    let out = rebase(&proxy, &dir.path().join("report.toml"));
    let stats = proxy.reset(FaultPlan::None);
    assert_refused(
        "rebaser-permanent",
        &stats,
        &out,
        72,
        &[proxy.host(), "push manifest", "check that the registry"],
    );
    assert_eq!(walk_digest(&reg), before, "the tag moved");
    assert_whole(&reg, 0, "after a permanent fault");
    let held = linked_blobs(reg.storage_dir());
    rebase(&proxy, &dir.path().join("report.toml")).assert_ok();
    assert_whole(&reg, 0, "after the rerun");
    let missing = missing_blobs(&reg, &held, &["cnb/app"]);
    let mut uploaded = proxy.stats().uploaded;
    uploaded.sort();
    assert_eq!(
        uploaded, missing,
        "the rerun uploads exactly what is missing"
    );
}
