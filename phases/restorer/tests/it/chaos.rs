//! Kill loop and full disk (issue #17): the restorer SIGKILLed at random moments while it restores cached layers
//! from a cache dir. The cache is never touched, and a rerun over what the killed run left
//! restores exactly what an uninterrupted run does. `CNB_CHAOS_RUNS` kills (5 by default, 50 in
//! `make chaos`).

use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_test_support::chaos::{self, Rng, Signal, Tally};

use crate::harness::{GROUP, export_to_dir, write};

/// A cache dir with a cached layer of 8 MiB in several files (and a small one when
/// `build_cache`), and a fresh layers dir.
fn setup(dir: &Path, build_cache: bool) -> (PathBuf, PathBuf) {
    let layers = dir.join("layers");
    let cache = dir.join("cache");
    write(&layers.join("group.toml"), GROUP);
    let bp = layers.join("samples_bp");
    let data = chaos::noise(0, 8);
    for (i, part) in data.chunks(1 << 20).enumerate() {
        write(&bp.join(format!("deps/lib/part{i}")), part);
    }
    write(
        &bp.join("deps.toml"),
        "[types]\nlaunch = true\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    if build_cache {
        write(&bp.join("build-cache/objects"), "compiled");
        write(&bp.join("build-cache.toml"), "[types]\ncache = true\n");
    }
    export_to_dir(&layers, &cache);
    fresh(&layers);
    (layers, cache)
}

/// Empties the layers dir but for group.toml, as before a build.
fn fresh(layers: &Path) {
    std::fs::remove_dir_all(layers).unwrap();
    write(&layers.join("group.toml"), GROUP);
}

fn restorer(layers: &Path, cache: &Path) -> Command {
    crate::harness::restorer("0.15", layers)
        .flag("-cache-dir", cache)
        .into_command()
}

#[test]
fn killed_restores_leave_the_cache_and_the_next_restore_works() {
    restore_loop(Signal::SIGKILL, chaos::runs(), "restorer");
}

/// SIGTERM and SIGINT: as upstream, not trapped; the restorer dies of the signal.
#[test]
fn interrupted_restores_die_of_the_signal_and_the_next_restore_works() {
    restore_loop(Signal::SIGTERM, chaos::interrupt_runs(), "restorer-sigterm");
    restore_loop(Signal::SIGINT, chaos::interrupt_runs(), "restorer-sigint");
}

fn restore_loop(signal: Signal, runs: usize, case: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (layers, cache) = setup(dir.path(), true);
    let mut rng = Rng::from_env(case);
    let took = chaos::baseline(case, |_| {
        fresh(&layers);
        chaos::time_run(&mut restorer(&layers, &cache))
    });
    let restored = chaos::snapshot(&layers, &|_| false);
    let cache_before = chaos::snapshot(&cache, &|_| false);
    let mut tally = Tally::default();
    for i in 1.. {
        if tally.done(runs) {
            break;
        }
        fresh(&layers);
        let at = took.mul_f64(rng.fraction());
        let run = chaos::interrupt_at(&mut restorer(&layers, &cache), at, signal);
        run.assert_died_of(signal, i);
        tally.count(&run);
        assert_eq!(
            chaos::snapshot(&cache, &|_| false),
            cache_before,
            "run {i} (kill at {at:?}): the restorer changed the cache"
        );
        // Old: nothing restored yet; new: all of it; mixed: a part (the next run finishes it).
        let now = chaos::snapshot(&layers, &|_| false);
        let fresh = now.len() <= 1;
        tally.record(&[now == restored, now == restored || !fresh]);
        let out = restorer(&layers, &cache).output().unwrap();
        assert!(
            out.status.success(),
            "run {i} (kill at {at:?}): the rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again = chaos::snapshot(&layers, &|_| false);
        assert!(
            again == restored,
            "run {i} (kill at {at:?}): the rerun restored something else: {:#?}",
            chaos::diff(&again, &restored)
        );
    }
    tally.report(case);
    assert_eq!(tally.kills, runs, "too many runs ended before their signal");
}

/// Full disk (issue #17): a layers dir too small for a cached layer fails the restore with one
/// line naming the path and exit 42, without the partial layer; the cache is untouched. Only the
/// big layer is cached: layers are restored in parallel, and a small one could meet the full
/// disk first.
#[test]
fn a_full_layers_dir_fails_naming_it_and_leaves_no_partial_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (layers, cache) = setup(dir.path(), false);
    let before = chaos::snapshot(&cache, &|_| false);
    let _fs = cnb_test_support::tmpfs::Tmpfs::mount(&layers, "2m");
    write(&layers.join("group.toml"), GROUP);
    let out = crate::harness::restorer("0.15", &layers)
        .flag("-cache-dir", &cache)
        .run();
    out.assert_exit(42);
    let err = out.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("ERROR:"))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"));
    // Both layers are extracted at once: the big one fills the disk, and the small one may
    // be the first to find it full.
    assert!(
        ["deps", "build-cache"]
            .iter()
            .any(|l| line.contains(&layers.join("samples_bp").join(l).display().to_string()))
            && line.contains("No space left on device"),
        "{line}"
    );
    for l in ["deps", "deps.toml", "build-cache", "build-cache.toml"] {
        assert!(!layers.join("samples_bp").join(l).exists(), "{l}");
    }
    assert_eq!(chaos::temp_files(&layers), Vec::<String>::new());
    assert_eq!(chaos::snapshot(&cache, &|_| false), before);
}
