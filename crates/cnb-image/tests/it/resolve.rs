//! Multi-arch resolution through a real store (an OCI layout), as every phase sees it.

use cnb_image::{ImageError, LayoutStore, Opened, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};

fn req(os: &str, arch: &str, v: Option<&str>) -> TargetRequest {
    TargetRequest::new(Target::new(os, arch, v), TargetSource::Flags)
}

fn found(o: Opened) -> cnb_image::Image {
    match o {
        Opened::Found(i) => *i,
        other => panic!("expected an image, got {other:?}"),
    }
}

#[test]
fn an_index_resolves_to_the_child_of_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    let (index, children) = save_run_index(&store, "registry.test/run:1", &four_platforms(), "v1");
    for (arch, variant, child) in [
        ("amd64", None, 0),
        ("x86_64", None, 0),
        ("arm64", None, 1),
        ("aarch64", Some("v8"), 1),
        ("arm", Some("v7"), 2),
        ("arm", Some("v6"), 3),
        ("armhf", None, 2),
    ] {
        let img = found(open(&store, "registry.test/run:1", &req("linux", arch, variant)).unwrap());
        assert_eq!(img.digest(), &children[child].digest, "{arch} {variant:?}");
        assert_eq!(img.index_digest.as_ref(), Some(&index.digest));
        assert_eq!(img.label("io.buildpacks.base.distro.name"), Some("ubuntu"));
        assert!(
            img.identifier
                .ends_with(&format!("@{}", children[child].digest)),
            "{}",
            img.identifier
        );
    }
}

#[test]
fn no_matching_child_names_wanted_and_available() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    save_run_index(&store, "registry.test/run:1", &four_platforms()[..3], "v1");
    let err = open(
        &store,
        "registry.test/run:1",
        &req("linux", "arm", Some("v6")),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::NoMatchingPlatform { .. }));
    assert_eq!(
        err.to_string(),
        "no image for linux/arm/v6 in index 'registry.test/run:1' (available: linux/amd64, linux/arm64/v8, linux/arm/v7)"
    );
    let err = open(&store, "registry.test/run:1", &req("linux", "s390x", None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/s390x") && err.contains("linux/amd64"),
        "{err}"
    );
}

#[test]
fn a_single_image_of_another_platform_is_a_mismatch_for_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    save_run_image(
        &store,
        "registry.test/app:arm64",
        &Target::new("linux", "arm64", None),
        "x",
    );
    match open(
        &store,
        "registry.test/app:arm64",
        &req("linux", "amd64", None),
    )
    .unwrap()
    {
        Opened::PlatformMismatch {
            found,
            wanted,
            image,
        } => {
            assert_eq!(found.to_string(), "linux/arm64/v8");
            assert_eq!(wanted.to_string(), "linux/amd64");
            assert_eq!(image.target(), found);
        }
        other => panic!("{other:?}"),
    }
    let err = open(
        &store,
        "registry.test/app:arm64",
        &req("linux", "amd64", None),
    )
    .unwrap()
    .required("registry.test/app:arm64")
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "image 'registry.test/app:arm64' is for linux/arm64/v8, but the build is for linux/amd64"
    );
    // The same platform is found.
    found(
        open(
            &store,
            "registry.test/app:arm64",
            &req("linux", "arm64", Some("v8")),
        )
        .unwrap(),
    );
    assert!(matches!(
        open(
            &store,
            "registry.test/missing:1",
            &req("linux", "amd64", None)
        )
        .unwrap(),
        Opened::NotFound
    ));
}

#[test]
fn no_target_means_the_host_and_says_so() {
    let r = TargetRequest::or_host(None, TargetSource::Flags);
    assert_eq!(r.source, TargetSource::Host);
    assert_eq!(r.target, Target::host());
    assert!(r.source.to_string().contains("host"));
    let r = TargetRequest::or_host(
        Some(Target::new("linux", "arm64", None)),
        TargetSource::Recorded,
    );
    assert_eq!(r.source, TargetSource::Recorded);
}
