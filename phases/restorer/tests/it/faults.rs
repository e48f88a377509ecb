//! Restores a cache image through a fault proxy: transient faults (resets in the middle of a
//! layer download included) are retried or resumed and every byte comes back; a cache image
//! that cannot be read at all is skipped with one warning naming the registry, the request and
//! what to check. `CNB_FAULT_SEED` replays a run; `CNB_FAULT_ROUNDS` runs more seeds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cnb_formats::group::Group;
use cnb_image::registry::{RegistryOptions, RegistryStore};
use cnb_lifecycle::cache::ImageCache;
use cnb_test_support::fault_proxy::{
    Fault, FaultPlan, FaultProxy, Kind, record, rounds, seed_from_env, transient,
};
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::walk_all;

const GROUP: &str = "[[group]]\nid = \"samples/bp\"\nversion = \"1\"\napi = \"0.10\"\n";

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A big layer's content, so a reset in the middle of its download cuts real bytes.
fn big() -> String {
    (0..200_000).map(|i| format!("{i:x}\n")).collect()
}

/// A registry holding a cache image with one cached layer; a cleaned layers dir.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy, tempfile::TempDir, PathBuf) {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    write(&layers.join("group.toml"), GROUP);
    let bp = layers.join("samples_bp");
    write(&bp.join("deps/big"), &big());
    write(
        &bp.join("deps.toml"),
        "[types]\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    let g = Group::read(&layers.join("group.toml")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    ImageCache::new(&store, &reg.image("cnb/cache:latest"))
        .export(
            &layers,
            &g,
            cnb_archive::Owner::ROOT,
            scratch.path(),
            &cnb_lifecycle::export::LayerMemo::default(),
            &cnb_platform::Logger::default(),
        )
        .unwrap();
    std::fs::remove_dir_all(&bp).unwrap();
    let proxy = FaultProxy::start(reg.host(), plan);
    (reg, proxy, dir, layers)
}

fn restore(layers: &Path, proxy: &FaultProxy) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", layers.to_str().unwrap(), "-log-level", "debug"])
        .args([
            "-cache-image",
            &format!("{}/cnb/cache:latest", proxy.host()),
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
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
fn transient_faults_are_retried_and_every_byte_comes_back() {
    let seed = seed_from_env();
    for round in 0..rounds() {
        let seed = seed.wrapping_add(round);
        let (reg, proxy, _dir, layers) = setup(transient(seed));
        let out = restore(&layers, &proxy);
        let stats = proxy.stats();
        record(
            "restorer",
            &stats,
            if out.status.success() { "ok" } else { "failed" },
        );
        assert!(
            out.status.success(),
            "CNB_FAULT_SEED={seed}; faults {:?}\n{}",
            stats.log,
            text(&out)
        );
        let restored = std::fs::read_to_string(layers.join("samples_bp/deps/big")).unwrap();
        assert!(
            restored == big(),
            "CNB_FAULT_SEED={seed}: the layer came back different"
        );
        assert!(
            walk_all(reg.host(), None, reg.storage_dir())
                .problems
                .is_empty()
        );
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
    assert!(out.status.success(), "{}", text(&out));
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
    let all = text(&out);
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
