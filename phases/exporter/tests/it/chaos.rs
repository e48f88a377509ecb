//! Kill loops (issue #17): the exporter SIGKILLed at random moments while it writes an OCI layout
//! and a cache dir. After each kill the tag still names a complete image (the previous one or the
//! new one), the cache is the old or the new one, never a mix, and a rerun succeeds and reuses the
//! cache. `CNB_CHAOS_RUNS` kills per case (5 by default, 50 in `make chaos`).

use std::path::Path;
use std::process::Command;

use cnb_formats::labels::LayersMetadata;
use cnb_image::Target;
use cnb_test_support::chaos::{self, Rng, Signal, Tally};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;

use crate::harness::{PhaseOutput, PhaseRun, run_image, write_analyzed};
use crate::layout::{World, command, ok, world, write};

const TAG: &str = "registry.test/app:latest";

/// A launch + cache layer of `mib` MiB whose bytes depend on `variant` (incompressible, so the
/// export spends its time hashing, compressing and writing).
pub(crate) fn big_layer(w: &World, variant: u64, mib: usize) {
    let bp = w.layers.join("samples_hello-world");
    write(
        &bp.join("big.toml"),
        "[types]\nlaunch = true\ncache = true\n",
    );
    write(&bp.join("big/data"), chaos::noise(variant, mib));
}

/// The exporter to the world's layout and the cache dir `cache`, its temp files in the world.
pub(crate) fn cached_exporter(w: &World, cache: &Path) -> PhaseRun {
    command(w, "0.15", &w.root)
        .flag("-cache-dir", cache)
        .arg(TAG)
        .env("TMPDIR", scratch_tmp(w))
}

/// [`cached_exporter`], to be killed.
pub(crate) fn exporter_cmd(w: &World, cache: &Path) -> Command {
    cached_exporter(w, cache).into_command()
}

/// [`cached_exporter`] run to the end.
pub(crate) fn export_cached(w: &World, cache: &Path) -> PhaseOutput {
    cached_exporter(w, cache).run()
}

/// The exporter's temp dir (its layer tars), one per world, to find what a killed run left.
pub(crate) fn scratch_tmp(w: &World) -> std::path::PathBuf {
    let d = w.dir.path().join("tmp");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Scratch dirs left in the world's temp dir.
pub(crate) fn scratch_left(w: &World) -> Vec<String> {
    std::fs::read_dir(scratch_tmp(w))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn layout_dir(w: &World) -> std::path::PathBuf {
    w.root.join("registry.test/app/latest")
}

#[test]
fn killed_exports_to_a_layout_and_cache_dir_lose_nothing() {
    layout_loop(Signal::SIGKILL, chaos::runs(), "exporter-layout");
}

/// SIGTERM and SIGINT: as upstream, no phase traps them, so the exporter dies of the signal
/// (status 143/130 in a shell); its temp files go with the next run, as after a kill.
#[test]
fn interrupted_exports_die_of_the_signal_and_lose_nothing() {
    layout_loop(
        Signal::SIGTERM,
        chaos::interrupt_runs(),
        "exporter-layout-sigterm",
    );
    layout_loop(
        Signal::SIGINT,
        chaos::interrupt_runs(),
        "exporter-layout-sigint",
    );
}

fn layout_loop(signal: Signal, runs: usize, case: &str) {
    let w = world();
    let cache = w.dir.path().join("cache");
    let mut rng = Rng::from_env(case);
    // Each measured run exports new content, as each killed run does.
    let took = chaos::baseline(case, |v| {
        big_layer(&w, 1000 + v, 8);
        chaos::time_run(&mut exporter_cmd(&w, &cache))
    });
    let mut tally = Tally::default();
    for i in 1.. {
        if tally.done(runs) {
            break;
        }
        let old_image = chaos::check_layout_image(&layout_dir(&w), "latest");
        let old_cache = chaos::committed_state(&cache);
        big_layer(&w, i, 8);
        let at = took.mul_f64(rng.fraction());
        let run = chaos::interrupt_at(&mut exporter_cmd(&w, &cache), at, signal);
        run.assert_died_of(signal, i as usize);
        tally.count(&run);
        let killed_image = chaos::check_layout_image(&layout_dir(&w), "latest");
        let killed_cache = chaos::committed_state(&cache);

        let t = std::time::Instant::now();
        let out = export_cached(&w, &cache);
        println!("run {i}: kill at {at:?}, rerun {:?}", t.elapsed());
        let stdout = ok(&out);
        assert!(
            stdout.contains("Reusing cache layer 'samples/hello-world:hello'"),
            "run {i} (kill at {at:?}): the rerun did not reuse the cache:\n{stdout}"
        );
        let new_image = chaos::check_layout_image(&layout_dir(&w), "latest");
        let new_cache = chaos::committed_state(&cache);
        assert!(
            killed_image == old_image || killed_image == new_image,
            "run {i} (kill at {at:?}): the tag names {killed_image}, neither the old {old_image} nor the new {new_image}"
        );
        assert!(
            killed_cache == old_cache || killed_cache == new_cache,
            "run {i} (kill at {at:?}): the cache is a mix:\n{killed_cache:#?}\nold {old_cache:#?}\nnew {new_cache:#?}"
        );
        tally.record(&[killed_image == new_image, killed_cache == new_cache]);
        let temps: Vec<String> = [&w.root, &w.layers, &cache]
            .iter()
            .flat_map(|d| chaos::temp_files(d))
            .chain(scratch_left(&w))
            .collect();
        assert!(
            temps.is_empty(),
            "run {i}: the rerun left temp files of the killed run: {temps:?}"
        );
        assert!(!cache.join("staging").exists() && !cache.join("committed-backup").exists());
    }
    tally.report(case);
    assert_eq!(tally.kills, runs, "too many runs ended before their signal");
}

#[test]
fn a_swap_cut_short_keeps_the_old_cache_and_the_next_export_recovers() {
    let w = world();
    let cache = w.dir.path().join("cache");
    ok(&export_cached(&w, &cache));
    let old = chaos::committed_state(&cache);
    // The state a kill between the swap's two renames leaves.
    std::fs::rename(cache.join("committed"), cache.join("committed-backup")).unwrap();
    std::fs::create_dir_all(cache.join("staging")).unwrap();
    assert_eq!(chaos::committed_state(&cache), old);
    let stdout = ok(&export_cached(&w, &cache));
    assert!(
        stdout.contains("Reusing cache layer 'samples/hello-world:hello'"),
        "{stdout}"
    );
    assert!(cache.join("committed").is_dir());
    assert!(!cache.join("committed-backup").exists());
    assert!(!cache.join("staging").exists());
}

#[test]
fn stale_temp_files_of_a_killed_writer_are_removed_by_the_next_export() {
    let w = world();
    let cache = w.dir.path().join("cache");
    ok(&export_cached(&w, &cache));
    // 999999999 is above any pid_max, so no process has it; this test process's own file must stay.
    let blobs = layout_dir(&w).join("blobs/sha256");
    let stale = blobs.join(".tmp-999999999-0");
    let live = blobs.join(format!(".tmp-{}-7", std::process::id()));
    std::fs::write(&stale, b"half a blob").unwrap();
    std::fs::write(&live, b"a live writer's blob").unwrap();
    std::fs::write(layout_dir(&w).join(".tmp-999999999-1"), b"half an index").unwrap();
    big_layer(&w, 3, 1);
    ok(&export_cached(&w, &cache));
    assert!(!stale.exists());
    assert!(!layout_dir(&w).join(".tmp-999999999-1").exists());
    assert!(live.exists(), "a running process's temp file was removed");
    std::fs::remove_file(live).unwrap();
}

/// The exporter against a registry with a cache image, for the world's layers.
fn registry_exporter(w: &World, reg: &Registry) -> Command {
    crate::harness::exporter("0.15", &w.layers, &w.app, &w.dir.path().join("launcher"))
        .flag("-cache-image", reg.image("cnb/cache:latest"))
        .arg(reg.image("cnb/app:latest"))
        .env("TMPDIR", scratch_tmp(w))
        .insecure_registry(reg.host())
        .into_command()
}

/// analyzed.toml naming the arm64 child of a run index in the registry.
fn registry_world(reg: &Registry) -> World {
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&reg.store(), &run, &four_platforms(), "r");
    let w = world();
    let child = format!("{}/cnb/run@{}", reg.host(), children[1].digest);
    let arm64 = Target::new("linux", "arm64", Some("v8"));
    write_analyzed(
        &w.layers,
        "",
        run_image(&child, &run, Some(&arm64)),
        LayersMetadata::default(),
    );
    w
}

#[test]
fn killed_exports_to_a_registry_and_cache_image_lose_nothing() {
    let reg = Registry::start();
    let w = registry_world(&reg);
    let (app, cache) = (reg.image("cnb/app:latest"), reg.image("cnb/cache:latest"));
    let mut rng = Rng::from_env("exporter-registry");
    let took = chaos::baseline("exporter-registry", |v| {
        big_layer(&w, 1000 + v, 8);
        chaos::time_run(&mut registry_exporter(&w, &reg))
    });
    let mut tally = Tally::default();
    for i in 1.. {
        if tally.done(chaos::runs()) {
            break;
        }
        let old = (
            chaos::check_registry_image(&app),
            chaos::check_registry_image(&cache),
        );
        big_layer(&w, i, 8);
        let at = took.mul_f64(rng.fraction());
        let run = chaos::interrupt_at(&mut registry_exporter(&w, &reg), at, Signal::SIGKILL);
        tally.count(&run);
        let killed = (
            chaos::check_registry_image(&app),
            chaos::check_registry_image(&cache),
        );
        let stdout = ok(&registry_exporter(&w, &reg).output().unwrap());
        assert!(
            stdout.contains("Reusing cache layer 'samples/hello-world:hello'"),
            "run {i} (kill at {at:?}): the rerun did not reuse the cache image:\n{stdout}"
        );
        let new = (
            chaos::check_registry_image(&app),
            chaos::check_registry_image(&cache),
        );
        for (what, k, o, n) in [
            ("app", &killed.0, &old.0, &new.0),
            ("cache", &killed.1, &old.1, &new.1),
        ] {
            assert!(
                k == o || k == n,
                "run {i} (kill at {at:?}): the {what} tag names {k}, neither the old {o} nor the new {n}"
            );
        }
        tally.record(&[killed.0 == new.0, killed.1 == new.1]);
        let mut temps = chaos::temp_files(&w.layers);
        temps.extend(scratch_left(&w));
        assert!(temps.is_empty(), "run {i}: temp files left: {temps:?}");
    }
    tally.report("exporter-registry");
    assert_eq!(
        tally.kills,
        chaos::runs(),
        "too many runs ended before their signal"
    );
}
