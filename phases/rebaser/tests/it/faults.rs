//! Rebases through a fault proxy (with -force: the app records the run image under the
//! registry's own name, not the proxy's): transient faults are retried and the rebase succeeds; every
//! manifest PUT failing ends with exit 72 naming the registry, the request and what to check,
//! the tag keeps the old image, and a rerun without faults uploads only the new config.
//! `CNB_FAULT_SEED` replays a run; `CNB_FAULT_ROUNDS` runs more seeds (`make faults`).

use cnb_image::registry::{RegistryOptions, RegistryStore};
use cnb_test_support::fault_proxy::{
    Fault, FaultPlan, FaultProxy, Kind, record, rounds, seed_from_env, transient,
};
use cnb_test_support::fixtures::save_run_index;
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::{blobs_of, linked_blobs, walk_all};

use crate::rebase::{app_image, rebaser, t, text};

/// A registry with run images v1 and v2 and an app image on v1, and a proxy in front of it.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy) {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let (v1, v2) = (reg.image("cnb/run:v1"), reg.image("cnb/run:v2"));
    save_run_index(&store, &v1, &[t("amd64")], "v1");
    save_run_index(&store, &v2, &[t("amd64")], "v2");
    app_image(&store, &v1, "amd64", &reg.image("cnb/layer:app"), &[])
        .save(&store, &[reg.image("cnb/app:latest")])
        .unwrap();
    let proxy = FaultProxy::start(reg.host(), plan);
    (reg, proxy)
}

fn rebase(proxy: &FaultProxy, report: &std::path::Path) -> std::process::Output {
    let v2 = format!("{}/cnb/run:v2", proxy.host());
    let app = format!("{}/cnb/app:latest", proxy.host());
    rebaser(
        &["-log-level", "debug", "-force", "-run-image", &v2, &app],
        &[
            ("CNB_INSECURE_REGISTRIES", proxy.host()),
            ("CNB_REGISTRY_TIMEOUT", "2"),
        ],
        report,
    )
}

fn assert_whole(reg: &Registry, seed: u64, when: &str) {
    let w = walk_all(reg.host(), None, reg.storage_dir());
    assert!(
        w.problems.is_empty() && !w.tags.is_empty(),
        "CNB_FAULT_SEED={seed} {when}: {:?}",
        w.problems
    );
}

#[test]
fn transient_faults_are_retried_and_the_rebase_succeeds() {
    let seed = seed_from_env();
    for round in 0..rounds() {
        let seed = seed.wrapping_add(round);
        let (reg, proxy) = setup(transient(seed));
        let dir = tempfile::tempdir().unwrap();
        let out = rebase(&proxy, &dir.path().join("report.toml"));
        let stats = proxy.stats();
        record(
            "rebaser",
            &stats,
            if out.status.success() { "ok" } else { "failed" },
        );
        assert!(
            out.status.success(),
            "CNB_FAULT_SEED={seed}; faults {:?}\n{}",
            stats.log,
            text(&out)
        );
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
    record("rebaser-permanent", &stats, "refused");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(72), "{all}");
    let line = all.lines().rev().find(|l| l.contains("ERROR")).unwrap();
    eprintln!("{line}"); // the message, for --no-capture
    for part in [proxy.host(), "push manifest", "check that the registry"] {
        assert!(line.contains(part), "'{part}' not in: {line}");
    }
    assert_eq!(walk_digest(&reg), before, "the tag moved");
    assert_whole(&reg, 0, "after a permanent fault");
    let held = linked_blobs(reg.storage_dir());
    let out = rebase(&proxy, &dir.path().join("report.toml"));
    assert!(out.status.success(), "{}", text(&out));
    assert_whole(&reg, 0, "after the rerun");
    let missing: Vec<String> = blobs_of(reg.host(), None, "cnb/app", "latest")
        .into_iter()
        .filter(|d| !held.contains(&("cnb/app".to_string(), d.clone())))
        .collect();
    let mut uploaded = proxy.stats().uploaded;
    uploaded.sort();
    assert_eq!(
        uploaded, missing,
        "the rerun uploads exactly what is missing"
    );
}
