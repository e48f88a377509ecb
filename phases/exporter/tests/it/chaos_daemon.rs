//! Kill loop (issue #17) for the exporter into a Docker daemon (cnb-test-support's dockerd) with
//! a launch cache: after each SIGKILL the app tag names a complete image (the old or the new one,
//! `docker save` reads every layer), the launch cache is the old or the new one, and a rerun
//! succeeds. `CNB_CHAOS_RUNS` kills (5 by default, 50 in `make chaos`).

use std::path::Path;
use std::process::Command;

use cnb_formats::analyzed::{Analyzed, ImageIdentifier, RunImage};
use cnb_formats::labels::LayersMetadata;
use cnb_formats::target::TargetMetadata;
use cnb_test_support::chaos::{self, Rng, Signal, Snapshot, Tally};
use cnb_test_support::dockerd::Dockerd;

use crate::chaos::{big_layer, scratch_left, scratch_tmp};
use crate::layout::{World, ok, world};

const APP: &str = "cnb/app:latest";

fn daemon_exporter(w: &World, d: &Dockerd, lc: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_exporter"));
    c.arg("-daemon")
        .arg("-launch-cache")
        .arg(lc)
        .arg("-layers")
        .arg(&w.layers)
        .arg("-app")
        .arg(&w.app)
        .arg("-launcher")
        .arg(w.dir.path().join("launcher"))
        .arg(APP)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("TMPDIR", scratch_tmp(w))
        .env("DOCKER_HOST", d.host());
    c
}

/// The launch cache as the next export reads it: `committed`, or the backup a cut-short commit left.
fn launch_cache_state(lc: &Path) -> Snapshot {
    let committed = lc.join("committed");
    let dir = if committed.is_dir() {
        committed
    } else {
        lc.join("committed-backup")
    };
    chaos::snapshot(&dir, &|_| false)
}

/// The app image's ID, after checking that the daemon can write out all of it.
fn app_image(d: &Dockerd, scratch: &Path) -> String {
    let tar = scratch.join("app-save.tar");
    d.docker(&["save", "-o", tar.to_str().unwrap(), APP]);
    std::fs::remove_file(&tar).unwrap();
    d.docker(&["image", "inspect", "--format", "{{.Id}}", APP])
        .trim()
        .to_string()
}

#[test]
fn killed_exports_to_a_daemon_with_a_launch_cache_lose_nothing() {
    let d = Dockerd::start();
    let w = world();
    d.load_layout(
        &w.root.join("registry.test/run/multi"),
        "multi",
        "amd64",
        "cnb/run:v1",
    );
    let id = d.docker(&["image", "inspect", "--format", "{{.Id}}", "cnb/run:v1"]);
    Analyzed {
        image: Some(ImageIdentifier {
            reference: String::new(),
        }),
        build_image: None,
        run_image: Some(RunImage {
            reference: id.trim().trim_start_matches("sha256:").to_string(),
            image: "cnb/run:v1".into(),
            extend: false,
            target: Some(TargetMetadata {
                os: "linux".into(),
                arch: "amd64".into(),
                ..Default::default()
            }),
        }),
        metadata: LayersMetadata::default(),
    }
    .write(&w.layers.join("analyzed.toml"))
    .unwrap();
    let lc = w.dir.path().join("launch-cache");
    let mut rng = Rng::from_env("exporter-daemon");
    let took = (0..3)
        .map(|v| {
            big_layer(&w, 1000 + v, 4);
            chaos::time_run(&mut daemon_exporter(&w, &d, &lc))
        })
        .min()
        .unwrap();
    println!("chaos exporter-daemon: an uninterrupted export takes {took:?}");
    let mut tally = Tally::default();
    for i in 1.. {
        if tally.done(chaos::runs()) {
            break;
        }
        let old = (app_image(&d, w.dir.path()), launch_cache_state(&lc));
        big_layer(&w, i, 4);
        let at = took.mul_f64(rng.fraction());
        let run = chaos::interrupt_at(&mut daemon_exporter(&w, &d, &lc), at, Signal::SIGKILL);
        tally.kills += usize::from(run.signalled);
        tally.finished += usize::from(!run.signalled);
        let killed = (app_image(&d, w.dir.path()), launch_cache_state(&lc));
        let t = std::time::Instant::now();
        ok(&daemon_exporter(&w, &d, &lc).output().unwrap());
        println!("run {i}: kill at {at:?}, rerun {:?}", t.elapsed());
        let new = (app_image(&d, w.dir.path()), launch_cache_state(&lc));
        assert!(
            killed.0 == old.0 || killed.0 == new.0,
            "run {i} (kill at {at:?}): {APP} is {}, neither the old {} nor the new {}",
            killed.0,
            old.0,
            new.0
        );
        assert!(
            killed.1 == old.1 || killed.1 == new.1,
            "run {i} (kill at {at:?}): the launch cache is a mix: {:#?}",
            chaos::diff(&killed.1, &new.1)
        );
        assert!(!new.1.is_empty(), "run {i}: the launch cache is empty");
        let left = scratch_left(&w);
        assert!(left.is_empty(), "run {i}: scratch dirs left: {left:?}");
        tally.record(&[killed.0 == new.0, killed.1 == new.1]);
    }
    tally.report("exporter-daemon");
    assert_eq!(
        tally.kills,
        chaos::runs(),
        "too many runs ended before their signal"
    );
}
