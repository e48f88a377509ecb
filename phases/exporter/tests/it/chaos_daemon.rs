//! Kill loop (issue #17) for the exporter into a Docker daemon (cnb-test-support's dockerd) with
//! a launch cache: after each SIGKILL the app tag names a complete image (the old or the new one,
//! `docker save` reads every layer), the launch cache is the old or the new one, and a rerun
//! succeeds. `CNB_CHAOS_RUNS` kills (5 by default, 50 in `make chaos`).

use std::path::Path;
use std::process::Command;

use cnb_formats::labels::LayersMetadata;
use cnb_image::Target;
use cnb_test_support::chaos::{self, Rng, Signal, Tally};
use cnb_test_support::dockerd::Dockerd;

use crate::chaos::{big_layer, scratch_left, scratch_tmp};
use crate::harness::{run_image, write_analyzed};
use crate::layout::{World, ok, world};

const APP: &str = "cnb/app:latest";

fn daemon_exporter(w: &World, d: &Dockerd, lc: &Path) -> Command {
    crate::harness::exporter("0.15", &w.layers, &w.app, &w.dir.path().join("launcher"))
        .arg("-daemon")
        .flag("-launch-cache", lc)
        .arg(APP)
        .env("TMPDIR", scratch_tmp(w))
        .env("DOCKER_HOST", d.host())
        .into_command()
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
    write_analyzed(
        &w.layers,
        "",
        run_image(
            id.trim().trim_start_matches("sha256:"),
            "cnb/run:v1",
            Some(&Target::new("linux", "amd64", None)),
        ),
        LayersMetadata::default(),
    );
    let lc = w.dir.path().join("launch-cache");
    let mut rng = Rng::from_env("exporter-daemon");
    let took = chaos::baseline("exporter-daemon", |v| {
        big_layer(&w, 1000 + v, 4);
        chaos::time_run(&mut daemon_exporter(&w, &d, &lc))
    });
    let mut tally = Tally::default();
    for i in 1.. {
        if tally.done(chaos::runs()) {
            break;
        }
        let old = (app_image(&d, w.dir.path()), chaos::committed_state(&lc));
        big_layer(&w, i, 4);
        let at = took.mul_f64(rng.fraction());
        let run = chaos::interrupt_at(&mut daemon_exporter(&w, &d, &lc), at, Signal::SIGKILL);
        tally.count(&run);
        let killed = (app_image(&d, w.dir.path()), chaos::committed_state(&lc));
        let t = std::time::Instant::now();
        ok(&daemon_exporter(&w, &d, &lc).output().unwrap());
        println!("run {i}: kill at {at:?}, rerun {:?}", t.elapsed());
        let new = (app_image(&d, w.dir.path()), chaos::committed_state(&lc));
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
