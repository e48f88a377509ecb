//! Restores a cache image through a fault proxy: transient faults (resets in the middle of a
//! layer download included) are retried or resumed and every byte comes back; a cache image
//! that cannot be read at all is skipped with one warning naming the registry, the request and
//! what to check. `CNB_FAULT_SEED` replays a run; `CNB_FAULT_ROUNDS` runs more seeds.

use std::path::{Path, PathBuf};

use cnb_test_support::fault_proxy::{Fault, FaultPlan, FaultProxy, Kind, record, transient};
use cnb_test_support::faults::{assert_retried, assert_whole, seeds};
use cnb_test_support::registry::Registry;

use crate::harness::{GROUP, PhaseOutput, export_to_image, write};

/// A big layer's content, so a reset in the middle of its download cuts real bytes.
fn big() -> String {
    (0..200_000).map(|i| format!("{i:x}\n")).collect()
}

/// A registry holding a cache image with one cached layer; a cleaned layers dir.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy, tempfile::TempDir, PathBuf) {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    write(&layers.join("group.toml"), GROUP);
    let bp = layers.join("samples_bp");
    write(&bp.join("deps/big"), big());
    write(
        &bp.join("deps.toml"),
        "[types]\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    export_to_image(&layers, &reg.store(), &reg.image("cnb/cache:latest"));
    std::fs::remove_dir_all(&bp).unwrap();
    let proxy = FaultProxy::start(reg.host(), plan);
    (reg, proxy, dir, layers)
}

fn restore(layers: &Path, proxy: &FaultProxy) -> PhaseOutput {
    crate::harness::restorer("0.15", layers)
        .through(proxy)
        .flag("-cache-image", format!("{}/cnb/cache:latest", proxy.host()))
        .run()
}

#[test]
fn transient_faults_are_retried_and_every_byte_comes_back() {
    for seed in seeds() {
        let (reg, proxy, _dir, layers) = setup(transient(seed));
        let out = restore(&layers, &proxy);
        assert_retried("restorer", seed, &proxy.stats(), &out);
        let restored = std::fs::read_to_string(layers.join("samples_bp/deps/big")).unwrap();
        assert!(
            restored == big(),
            "CNB_FAULT_SEED={seed}: the layer came back different"
        );
        assert_whole(&reg, seed, "after the restore");
    }
}

#[test]
fn a_reset_in_the_middle_of_every_first_layer_download_is_resumed() {
    let (_reg, proxy, _dir, layers) = setup(FaultPlan::Seeded {
        seed: 1,
        rate: 1.0,
        faults: vec![Fault::Reset],
        kinds: vec![Kind::BlobGet],
    });
    let out = restore(&layers, &proxy);
    out.assert_ok();
    assert!(proxy.stats().total() > 0, "no fault was injected");
    let restored = std::fs::read_to_string(layers.join("samples_bp/deps/big")).unwrap();
    assert!(restored == big(), "the layer came back different");
}

#[test]
fn a_cache_image_that_cannot_be_read_is_named_with_the_registry() {
    let (_reg, proxy, _dir, layers) = setup(FaultPlan::Always {
        kind: Some(Kind::BlobGet),
        fault: Fault::Status(503),
    });
    let out = restore(&layers, &proxy);
    let stats = proxy.stats();
    record("restorer-permanent", &stats, "refused");
    let all = out.text();
    // as the local implementation decides (crates/cnb-lifecycle/src/restore.rs): a cache image
    // that cannot be opened is skipped with a warning, the build goes on without a cache
    assert!(out.status.success(), "{all}");
    assert!(!layers.join("samples_bp/deps/big").exists(), "{all}");
    let line = all
        .lines()
        .find(|l| l.starts_with("Warning") && l.contains(proxy.host()) && l.contains("pull blob"))
        .unwrap_or_else(|| panic!("no line names the registry and the request: {all}"));
    assert!(line.contains("check that the registry"), "{line}");
}
