//! The committed fixtures in testdata/images are what the build script makes, byte for byte.

use cnb_image::{LayoutStore, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};
use cnb_test_support::testdata_dir;

#[test]
fn committed_fixtures_are_reproducible_and_resolve() {
    let committed = testdata_dir().join("images/layout");
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    save_run_index(
        &store,
        "fixtures.test/run:multi",
        &four_platforms(),
        "run-v1",
    );
    save_run_image(
        &store,
        "fixtures.test/run:arm64",
        &Target::new("linux", "arm64", None),
        "run-v1",
    );
    for tag in ["multi", "arm64"] {
        let rel = format!("fixtures.test/run/{tag}/index.json");
        assert_eq!(
            std::fs::read(committed.join(&rel)).unwrap(),
            std::fs::read(dir.path().join(&rel)).unwrap(),
            "{rel} differs: run testdata/images/build.sh"
        );
    }
    let committed_store = LayoutStore::new(&committed);
    let req = TargetRequest::new(Target::new("linux", "arm", Some("v6")), TargetSource::Flags);
    let img = open(&committed_store, "fixtures.test/run:multi", &req)
        .unwrap()
        .required("x")
        .unwrap();
    assert_eq!(img.target().to_string(), "linux/arm/v6");
}
