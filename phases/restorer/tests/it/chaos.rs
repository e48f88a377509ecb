//! Kill loop and full disk (issue #17): the restorer SIGKILLed at random moments while it restores cached layers
//! from a cache dir. The cache is never touched, and a rerun over what the killed run left
//! restores exactly what an uninterrupted run does. `CNB_CHAOS_RUNS` kills (5 by default, 50 in
//! `make chaos`).

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_formats::group::Group;
use cnb_lifecycle::cache::VolumeCache;
use cnb_test_support::chaos::{self, Rng, Signal, Tally};

const GROUP: &str = "[[group]]\nid = \"samples/bp\"\nversion = \"1\"\napi = \"0.10\"\n";

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Incompressible bytes, so the restore spends its time reading, hashing and writing.
fn noise(mib: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut data = Vec::with_capacity(mib << 20);
    while data.len() < mib << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data
}

/// A cache dir with two cached layers (one of 8 MiB in several files), and a fresh layers dir.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let layers = dir.join("layers");
    let cache = dir.join("cache");
    write(&layers.join("group.toml"), GROUP.as_bytes());
    let bp = layers.join("samples_bp");
    let data = noise(8);
    for (i, part) in data.chunks(1 << 20).enumerate() {
        write(&bp.join(format!("deps/lib/part{i}")), part);
    }
    write(
        &bp.join("deps.toml"),
        b"[types]\nlaunch = true\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    write(&bp.join("build-cache/objects"), b"compiled");
    write(&bp.join("build-cache.toml"), b"[types]\ncache = true\n");
    let g = Group::read(&layers.join("group.toml")).unwrap();
    VolumeCache::new(&cache)
        .export(
            &layers,
            &g,
            cnb_archive::Owner::ROOT,
            &cnb_lifecycle::export::LayerMemo::default(),
            &cnb_platform::Logger::default(),
        )
        .unwrap();
    std::fs::remove_dir_all(&layers).unwrap();
    write(&layers.join("group.toml"), GROUP.as_bytes());
    (layers, cache)
}

fn restorer(layers: &Path, cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_restorer"));
    c.arg("-layers")
        .arg(layers)
        .arg("-cache-dir")
        .arg(cache)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15");
    c
}

#[test]
fn killed_restores_leave_the_cache_and_the_next_restore_works() {
    restore_loop(Signal::SIGKILL, chaos::runs(), "restorer");
}

/// SIGTERM and SIGINT: as upstream, not trapped; the restorer dies of the signal.
#[test]
fn interrupted_restores_die_of_the_signal_and_the_next_restore_works() {
    let n = chaos::runs().div_ceil(5).max(2);
    restore_loop(Signal::SIGTERM, n, "restorer-sigterm");
    restore_loop(Signal::SIGINT, n, "restorer-sigint");
}

fn restore_loop(signal: Signal, runs: usize, case: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (layers, cache) = setup(dir.path());
    let mut rng = Rng::from_env(case);
    let took = (0..3)
        .map(|_| {
            std::fs::remove_dir_all(&layers).unwrap();
            write(&layers.join("group.toml"), GROUP.as_bytes());
            chaos::time_run(&mut restorer(&layers, &cache))
        })
        .min()
        .unwrap();
    println!("chaos {case}: an uninterrupted restore takes {took:?}");
    let restored = chaos::snapshot(&layers, &|_| false);
    let cache_before = chaos::snapshot(&cache, &|_| false);
    let mut tally = Tally::default();
    for i in 1.. {
        if tally.done(runs) {
            break;
        }
        std::fs::remove_dir_all(&layers).unwrap();
        write(&layers.join("group.toml"), GROUP.as_bytes());
        let at = took.mul_f64(rng.fraction());
        let run = chaos::interrupt_at(&mut restorer(&layers, &cache), at, signal);
        if run.signalled {
            assert_eq!(
                run.status.signal(),
                Some(signal as i32),
                "run {i}: {:?}",
                run.status
            );
        }
        tally.kills += usize::from(run.signalled);
        tally.finished += usize::from(!run.signalled);
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
/// line naming the path and exit 42, without the partial layer; the cache is untouched.
#[test]
fn a_full_layers_dir_fails_naming_it_and_leaves_no_partial_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (layers, cache) = setup(dir.path());
    let before = chaos::snapshot(&cache, &|_| false);
    let _fs = cnb_test_support::tmpfs::Tmpfs::mount(&layers, "2m");
    write(&layers.join("group.toml"), GROUP.as_bytes());
    let out = restorer(&layers, &cache).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(42), "{err}");
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
