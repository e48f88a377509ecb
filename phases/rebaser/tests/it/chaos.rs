//! Kill loop (issue #17): the rebaser SIGKILLed at random moments while it rebases an app image
//! in an OCI layout, back and forth between two run images. After each kill the tag names a
//! complete image, the previous one or the rebased one, and a rerun succeeds.
//! `CNB_CHAOS_RUNS` kills (5 by default, 50 in `make chaos`).

use std::process::Command;

use cnb_test_support::chaos::{self, Rng, Signal, Tally};

use crate::rebase::{Layout, layout, save_app};

const APP: &str = "r.test/app:latest";

fn rebaser(l: &Layout, run: &str) -> Command {
    l.rebaser("0.15")
        .args(["-run-image", run, APP])
        .into_command()
}

#[test]
fn killed_rebases_keep_a_complete_image_under_the_tag() {
    let l = layout();
    save_app(&l.store, "r.test/run:v1", "amd64", APP, &[]);
    let app_dir = l.dir.path().join("repo/r.test/app/latest");
    let run = |i: usize| {
        if i.is_multiple_of(2) {
            "r.test/run:v1"
        } else {
            "r.test/run:v2"
        }
    };
    let mut rng = Rng::from_env("rebaser");
    let took = chaos::baseline("rebaser", |i| {
        chaos::time_run(&mut rebaser(&l, run(i as usize + 1)))
    });
    let mut tally = Tally::default();
    for i in 0.. {
        if tally.done(chaos::runs()) {
            break;
        }
        let old = chaos::check_layout_image(&app_dir, "latest");
        let at = took.mul_f64(rng.fraction());
        let r = chaos::interrupt_at(&mut rebaser(&l, run(i)), at, Signal::SIGKILL);
        tally.count(&r);
        let killed = chaos::check_layout_image(&app_dir, "latest");
        let out = rebaser(&l, run(i)).output().unwrap();
        assert!(
            out.status.success(),
            "run {i} (kill at {at:?}): the rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let new = chaos::check_layout_image(&app_dir, "latest");
        assert!(
            killed == old || killed == new,
            "run {i} (kill at {at:?}): the tag names {killed}, neither the old {old} nor the new {new}"
        );
        tally.record(&[killed == new]);
        let temps = chaos::temp_files(&l.dir.path().join("repo"));
        assert!(temps.is_empty(), "run {i}: temp files left: {temps:?}");
    }
    tally.report("rebaser");
    assert_eq!(
        tally.kills,
        chaos::runs(),
        "too many runs ended before their signal"
    );
}
