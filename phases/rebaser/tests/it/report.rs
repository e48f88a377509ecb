//! Where the rebaser writes report.toml when the platform does not say.

use cnb_formats::report::Report;
use cnb_image::{ImageBuilder, LayoutStore, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{image, save_run_index};
use cnb_test_support::phase::PhaseRun;

#[test]
fn the_default_report_goes_to_cnb_layers_dir() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let store = LayoutStore::new(&repo);
    let amd64 = Target::new("linux", "amd64", None);
    save_run_index(&store, "r.test/run:v1", std::slice::from_ref(&amd64), "v1");
    save_run_index(&store, "r.test/run:v2", std::slice::from_ref(&amd64), "v2");
    let want = TargetRequest::new(amd64.clone(), TargetSource::Flags);
    let get = |name: &str| open(&store, name, &want).unwrap().required(name).unwrap();

    // An app image as the exporter leaves it: the run image, one app layer, lifecycle metadata.
    let base = get("r.test/run:v1");
    image(&amd64, &[("/workspace/app.txt", "app")], &[])
        .save(&store, &["r.test/app-layer".to_string()])
        .unwrap();
    let layer = get("r.test/app-layer");
    let diff = layer.layers()[0].diff_id.clone();
    let mut app = ImageBuilder::from_base(&base);
    app.reuse_layer(&layer, &diff, None).unwrap();
    app.set_label(
        "io.buildpacks.lifecycle.metadata",
        &format!(
            r#"{{"app":[{{"sha":"{diff}"}}],"runImage":{{"topLayer":"{}","reference":"{}","image":"r.test/run:v1"}}}}"#,
            base.top_layer().unwrap(),
            base.identifier,
        ),
    );
    app.save(&store, &["r.test/app:1".to_string()]).unwrap();

    let layers = dir.path().join("layers");
    std::fs::create_dir_all(&layers).unwrap();
    PhaseRun::new(env!("CARGO_BIN_EXE_rebaser"), "0.12")
        .args([
            "-layout",
            &format!("-layout-dir={}", repo.display()),
            "-run-image=r.test/run:v2",
            "r.test/app:1",
        ])
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .env("CNB_LAYERS_DIR", &layers)
        .run()
        .assert_ok();
    let report: Report = cnb_formats::read_toml(&layers.join("report.toml")).unwrap();
    assert_eq!(report.image.tags, ["r.test/app:1"]);
    assert_eq!(
        report.image.digest,
        get("r.test/app:1").digest().to_string()
    );
}
