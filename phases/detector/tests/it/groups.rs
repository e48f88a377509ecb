//! Which group passes and what is written: order, optional and composite buildpacks, the build
//! plan, system buildpacks, parallel runs and caching.

use std::time::Instant;

use cnb_formats::group::Group;
use cnb_test_support::testdata_dir;

use crate::harness::*;

#[test]
fn the_samples_detect_through_the_composite_at_every_platform_api() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let bps = testdata_dir().join("buildpacks");
    for api in cnb_test_support::phase::platform_apis() {
        let w = world(true);
        command(&w, &api, &bps, &bps.join("order.toml"))
            .run()
            .assert_ok();
        assert_eq!(
            group(&w),
            ["samples/hello-world@0.0.1", "samples/hello-processes@0.0.1"],
            "platform api {api}"
        );
        let plan = plan(&w);
        assert_eq!(plan.entries.len(), 1, "platform api {api}");
        assert_eq!(plan.entries[0].providers[0].id, "samples/hello-world");
        assert_eq!(
            plan.entries[0].requires[0].metadata["greeting"].as_str(),
            Some("hello from the build plan")
        );
    }
    // Without run.sh the optional hello-processes fails and is left out.
    let w = world(false);
    let o = command(&w, "0.15", &bps, &bps.join("order.toml")).run();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["samples/hello-world@0.0.1"]);
}

#[test]
fn group_toml_names_the_buildpacks_with_api_and_homepage_and_the_log_lists_them() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "optional-fail", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(w.layers.join("group.toml")).unwrap();
    let g = Group::read(&w.layers.join("group.toml")).unwrap();
    assert_eq!(g.group.len(), 1);
    assert_eq!(
        (g.group[0].id.as_str(), g.group[0].version.as_str()),
        ("det/pass", "1")
    );
    assert_eq!(g.group[0].api, "0.10");
    assert_eq!(g.group[0].homepage, "https://example.com/det/pass");
    assert!(!written.contains("optional"), "{written}");
    assert!(plan(&w).entries.is_empty());
    // Info level: the group, not the detect results.
    let out = text(&o);
    assert!(out.contains("det/pass 1"), "{out}");
    assert!(!out.contains("======== Results"), "{out}");
    assert!(!out.contains("fail says why"), "{out}");
    // Debug level shows them.
    let o = det(&w, "0.15", "optional-fail", &["-log-level", "debug"]);
    assert!(text(&o).contains("skip: det/fail@1"), "{}", text(&o));
    assert!(text(&o).contains("fail says why"), "{}", text(&o));
}

#[test]
fn output_paths_come_from_flags_or_variables() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let bps = fixtures();
    let group_path = w.dir.path().join("out/my-group.toml");
    let plan_path = w.dir.path().join("out/my-plan.toml");
    std::fs::create_dir_all(w.dir.path().join("out")).unwrap();
    chown(w.dir.path());
    let o = command(&w, "0.15", &bps, &bps.join("orders/plan.toml"))
        .env("CNB_GROUP_PATH", &group_path)
        .arg("-plan")
        .arg(&plan_path)
        .run();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(Group::read(&group_path).unwrap().group.len(), 2);
    let plan: cnb_formats::plan::Plan = cnb_formats::read_toml(&plan_path).unwrap();
    assert_eq!(plan.entries.len(), 1);
    assert!(!w.layers.join("group.toml").exists());
}

#[test]
fn the_plan_connects_providers_and_requirers() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "plan", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = plan(&w);
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(plan.entries[0].providers[0].id, "det/provides-x");
    assert_eq!(plan.entries[0].providers[0].version, "1");
    assert_eq!(plan.entries[0].requires[0].name, "x");
    assert_eq!(
        plan.entries[0].requires[0].metadata["from"].as_str(),
        Some("requires-x")
    );

    let o = det(&w, "0.15", "requires-first", &[]);
    assert_eq!(
        o.status.code(),
        Some(20),
        "require before provide: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("fail: det/requires-x@1 requires x"),
        "{}",
        text(&o)
    );
    let o = det(&w, "0.15", "unused-provide", &[]);
    assert_eq!(o.status.code(), Some(20), "unused provide: {}", text(&o));
    assert!(
        text(&o).contains("fail: det/provides-x@1 provides unused x"),
        "{}",
        text(&o)
    );

    let o = det(&w, "0.15", "or", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = crate::harness::plan(&w);
    assert_eq!(
        plan.entries[0].requires[0].name, "y",
        "the `or` alternative was used"
    );
    assert_eq!(plan.entries[0].providers[0].id, "det/x-or-y");
}

#[test]
fn optional_buildpacks_that_fail_are_left_out() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "optional-fail", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/pass@1"]);
}

#[test]
fn composites_try_each_of_their_groups_and_optional_ones_may_be_left_out() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    // det/meta's first group fails; its second passes without its optional member.
    let o = det(&w, "0.15", "composite", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/pass@1"]);
    // det/meta-fails cannot pass; being optional, the rest of the group passes without it.
    let o = det(&w, "0.15", "composite-optional", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/provides-x@1", "det/requires-x@1"]);
    let o = det(&w, "0.15", "composite-required", &[]);
    assert_eq!(o.status.code(), Some(20), "{}", text(&o));
}

#[test]
fn detects_of_a_group_run_in_parallel() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let start = Instant::now();
    let o = det(&w, "0.15", "parallel", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        start.elapsed().as_millis() < 1800,
        "two 1 s detects took {:?}",
        start.elapsed()
    );
    assert_eq!(group(&w), ["det/sleep@1", "det/sleep-too@1"]);
}

#[test]
fn results_are_reused_across_groups() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let o = det(&w, "0.15", "cached", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/counter@1"]);
    assert_eq!(
        std::fs::read_to_string(w.app.join("detect-counter")).unwrap(),
        "ran\n",
        "detect ran once for two groups"
    );
}

#[test]
fn system_buildpacks_join_every_group_from_0_15() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let system = fixtures().join("system.toml");
    let o = det(
        &w,
        "0.15",
        "optional-fail",
        &["-system", system.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        group(&w),
        ["det/system-pre@1", "det/pass@1", "det/system-post@1"]
    );
    // Below 0.15 system.toml is not read, even when named by CNB_SYSTEM_PATH.
    let bps = fixtures();
    let o = command(&w, "0.14", &bps, &bps.join("orders/optional-fail.toml"))
        .env("CNB_SYSTEM_PATH", &system)
        .run();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(group(&w), ["det/pass@1"]);
}

#[test]
fn an_optional_system_buildpack_may_fail() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    let system = fixtures().join("system-optional.toml");
    let o = det(&w, "0.15", "plan", &["-system", system.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        group(&w),
        ["det/system-pre@1", "det/provides-x@1", "det/requires-x@1"]
    );
}

#[test]
fn merging_system_buildpacks_is_logged_at_debug_level_as_upstream() {
    assert!(
        can_switch_user(),
        "this test needs root: it chowns and switches users"
    );
    let w = world(false);
    // Two groups: the second already names the pre buildpack, so only the first gets it.
    let order = w.dir.path().join("order.toml");
    std::fs::write(
        &order,
        "[[order]]\n[[order.group]]\nid = \"det/fail\"\nversion = \"1\"\n\n[[order]]\n[[order.group]]\nid = \"det/system-pre\"\nversion = \"1\"\n[[order.group]]\nid = \"det/pass\"\nversion = \"1\"\n",
    )
    .unwrap();
    chown(&order);
    let system = fixtures().join("system.toml");
    let o = command(&w, "0.15", &fixtures(), &order)
        .args(["-system", system.to_str().unwrap(), "-log-level", "debug"])
        .run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    let count = |line: &str| out.lines().filter(|l| *l == line).count();
    assert_eq!(
        count("Prepending 1 system buildpack(s) to group"),
        1,
        "{out}"
    );
    assert_eq!(
        count("Appending 1 system buildpack(s) to group"),
        2,
        "{out}"
    );
    assert_eq!(
        group(&w),
        ["det/system-pre@1", "det/pass@1", "det/system-post@1"]
    );

    // A missing system.toml is no error, only said at debug level.
    let missing = w.dir.path().join("no-system.toml");
    let o = command(&w, "0.15", &fixtures(), &order)
        .args(["-system", missing.to_str().unwrap(), "-log-level", "debug"])
        .run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out.lines().any(|l| l
            == format!(
                "No system buildpacks found at path \"{}\"",
                missing.display()
            )),
        "{out}"
    );
    assert!(!out.contains("system buildpack(s) to group"), "{out}");
    // Not at info level.
    let o = command(&w, "0.15", &fixtures(), &order)
        .args(["-system", system.to_str().unwrap()])
        .run();
    assert!(!text(&o).contains("system buildpack(s)"), "{}", text(&o));
}
