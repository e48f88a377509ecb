//! The restorer and the run image (Platform API 0.12+): read again only when analyzed.toml leaves a
//! question (no target, a tag, flags naming another target); one it cannot read then only warns.

use cnb_formats::analyzed::Analyzed;
use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};
use cnb_test_support::phase::{api_at_least, platform_apis_since};

use crate::harness::{GROUP, PhaseOutput, PhaseRun, platform_apis, write};

/// The restorer on the layout `<dir>/repo`, restoring into `<dir>/layers`.
fn command(dir: &std::path::Path, papi: &str) -> PhaseRun {
    crate::harness::restorer(papi, &dir.join("layers")).layout(dir.join("repo"))
}

fn restorer(dir: &std::path::Path, papi: &str, args: &[&str]) -> PhaseOutput {
    command(dir, papi).args(args).run()
}

fn setup(analyzed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path().join("repo"));
    save_run_index(&store, "r.test/run:multi", &four_platforms(), "r");
    save_run_image(
        &store,
        "r.test/run:amd64",
        &Target::new("linux", "amd64", None),
        "a",
    );
    write(&dir.path().join("layers/group.toml"), GROUP);
    write(&dir.path().join("layers/analyzed.toml"), analyzed);
    dir
}

/// At every Platform API with layouts (0.12 on).
#[test]
fn an_index_reference_becomes_the_recorded_targets_child() {
    for papi in platform_apis_since("0.12") {
        an_index_reference_becomes_the_child_at(&papi);
    }
}

fn an_index_reference_becomes_the_child_at(papi: &str) {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/run:multi\"\n[run-image.target]\nos = \"linux\"\narch = \"arm\"\narch-variant = \"v6\"\n",
    );
    restorer(dir.path(), papi, &[]).assert_ok();
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    let run = a.run_image.unwrap();
    assert!(
        run.reference.contains("@sha256:"),
        "{papi}: {}",
        run.reference
    );
    let t = run.target.unwrap();
    assert_eq!(
        (t.arch.as_str(), t.arch_variant.as_str()),
        ("arm", "v6"),
        "{papi}"
    );
    assert_eq!(
        t.distro.unwrap().name,
        "ubuntu",
        "labels read from the child"
    );
}

#[test]
fn a_missing_target_is_filled_in() {
    let dir =
        setup("[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/run:multi\"\n");
    let out = restorer(dir.path(), "0.12", &["-arch", "arm64"]);
    out.assert_ok();
    let t = Analyzed::read(&dir.path().join("layers/analyzed.toml"))
        .unwrap()
        .target()
        .cloned()
        .unwrap();
    assert_eq!(t.arch, "arm64");
}

#[test]
fn a_run_image_of_another_platform_fails_clearly() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:amd64\"\nimage = \"r.test/run:amd64\"\n[run-image.target]\nos = \"linux\"\narch = \"arm64\"\n",
    );
    let out = restorer(dir.path(), "0.12", &[]);
    out.assert_exit(1);
    out.assert_output_has("is for linux/amd64, but the build is for linux/arm64/v8");
    // Below 0.12 the run image is not touched, at any of those Platform APIs.
    let analyzed = std::fs::read_to_string(dir.path().join("layers/analyzed.toml")).unwrap();
    for papi in platform_apis()
        .into_iter()
        .filter(|papi| !api_at_least(papi, "0.12"))
    {
        crate::harness::restorer(&papi, &dir.path().join("layers"))
            .run()
            .assert_ok();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("layers/analyzed.toml")).unwrap(),
            analyzed,
            "{papi}"
        );
    }
}

#[test]
fn with_run_toml_the_selected_run_image_must_be_readable() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/gone:1\"\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n",
    );
    let run_toml = dir.path().join("run.toml");
    std::fs::write(&run_toml, "[[images]]\nimage = \"r.test/gone:1\"\n").unwrap();
    let out = restorer(dir.path(), "0.14", &["-run", run_toml.to_str().unwrap()]);
    out.assert_exit(1);
    out.assert_output_has("selected run image 'r.test/gone:1' is not accessible");
}

/// The restorer as pack runs it at Platform API 0.12+: with a registry, a cache dir and no
/// credentials for the run image (pack hands it the cache image's only).
fn registry_restorer(dir: &std::path::Path, papi: &str, env: &[(&str, &str)]) -> PhaseOutput {
    crate::harness::restorer(papi, &dir.join("layers"))
        .flag("-cache-dir", dir.join("cache"))
        // Read from 0.14 only (the -run flag is refused before).
        .env("CNB_RUN_PATH", dir.join("run.toml"))
        .envs(env.iter().copied())
        .run()
}

fn layers_with(analyzed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cache")).unwrap();
    write(&dir.path().join("layers/group.toml"), GROUP);
    write(&dir.path().join("layers/analyzed.toml"), analyzed);
    dir
}

fn analyzed_text(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("layers/analyzed.toml")).unwrap()
}

#[test]
fn a_run_image_it_may_not_read_is_not_read_when_analyzed_toml_has_the_target() {
    let reg = cnb_test_support::registry::Registry::builder()
        .basic_auth("cnb", "s3cret")
        .start();
    let auth = format!(r#"{{"{}":"{}"}}"#, reg.host(), reg.basic_header().unwrap());
    let name = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&reg.store(), &name, &four_platforms(), "r");
    let child = format!("{}/cnb/run@{}", reg.host(), children[1].digest);
    let with_target = format!(
        "[run-image]\nreference = \"{child}\"\nimage = \"{name}\"\n[run-image.target]\nos = \"linux\"\narch = \"arm64\"\narch-variant = \"v8\"\n"
    );
    let dir = layers_with(&with_target);
    let insecure = [("CNB_INSECURE_REGISTRIES", reg.host())];
    let reads = || reg.count_requests("GET", "/v2/cnb/run/");
    let before = reads();
    for papi in ["0.12", "0.14", "0.15"] {
        let out = registry_restorer(dir.path(), papi, &insecure);
        out.assert_ok();
        assert!(!out.text().contains("run image"), "{papi}: {}", out.text());
        assert_eq!(analyzed_text(dir.path()), with_target, "{papi}");
    }
    assert_eq!(reads(), before, "the run image was not read");

    // Without a target it must read the image: refused, it warns and goes on.
    let without_target = format!("[run-image]\nreference = \"{child}\"\nimage = \"{name}\"\n");
    let dir = layers_with(&without_target);
    let out = registry_restorer(dir.path(), "0.12", &insecure);
    out.assert_ok();
    out.assert_output_has("could not read the run image to find its target");
    assert_eq!(analyzed_text(dir.path()), without_target);
    // With the credentials it fills the target in.
    let out = registry_restorer(
        dir.path(),
        "0.12",
        &[insecure[0], ("CNB_REGISTRY_AUTH", &auth)],
    );
    out.assert_ok();
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    assert_eq!(a.target().unwrap().arch, "arm64");

    // From 0.14 a selected run image that run.toml lists must be readable, as upstream.
    let dir = layers_with(&with_target);
    std::fs::write(
        dir.path().join("run.toml"),
        format!("[[images]]\nimage = \"other.test/run:multi\"\nmirrors = [\"{name}\"]\n"),
    )
    .unwrap();
    let out = registry_restorer(dir.path(), "0.14", &insecure);
    out.assert_exit(1);
    assert!(
        out.text()
            .contains(&format!("selected run image '{name}' is not accessible")),
        "{}",
        out.text()
    );
}

#[test]
fn a_run_image_in_a_registry_that_is_down_is_not_needed_when_analyzed_toml_has_the_target() {
    let host = format!("127.0.0.1:{}", cnb_test_support::registry::free_port());
    let child = format!(
        "{host}/cnb/run@{}",
        cnb_test_support::fixtures::some_digest("child")
    );
    let with_target = format!(
        "[run-image]\nreference = \"{child}\"\nimage = \"{host}/cnb/run:1\"\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n"
    );
    let insecure = [("CNB_INSECURE_REGISTRIES", host.as_str())];
    let dir = layers_with(&with_target);
    let out = registry_restorer(dir.path(), "0.13", &insecure);
    out.assert_ok();
    assert_eq!(analyzed_text(dir.path()), with_target);

    let without_target =
        format!("[run-image]\nreference = \"{child}\"\nimage = \"{host}/cnb/run:1\"\n");
    let dir = layers_with(&without_target);
    let out = registry_restorer(dir.path(), "0.13", &insecure);
    out.assert_ok();
    out.assert_output_has("could not read the run image to find its target");
    assert_eq!(analyzed_text(dir.path()), without_target);
}

#[test]
fn flags_naming_another_target_resolve_a_pinned_index_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path().join("repo"));
    let (index, _) = save_run_index(&store, "r.test/run:multi", &four_platforms(), "r");
    let pinned = format!(
        "{}@{}",
        dir.path().join("repo/r.test/run/multi").display(),
        index.digest
    );
    let analyzed = format!(
        "[run-image]\nreference = \"{pinned}\"\nimage = \"r.test/run:multi\"\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n"
    );
    write(&dir.path().join("layers/group.toml"), GROUP);
    write(&dir.path().join("layers/analyzed.toml"), &analyzed);
    // The recorded target and a digest: nothing to resolve, analyzed.toml stays as it is.
    let out = restorer(dir.path(), "0.12", &[]);
    out.assert_ok();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("layers/analyzed.toml")).unwrap(),
        analyzed
    );
    // -arch arm64 asks for another target: the index is read again and its arm64 child recorded.
    let out = restorer(dir.path(), "0.12", &["-arch", "arm64"]);
    out.assert_ok();
    let run = Analyzed::read(&dir.path().join("layers/analyzed.toml"))
        .unwrap()
        .run_image
        .unwrap();
    assert_eq!(run.target.unwrap().arch, "arm64");
    assert_ne!(run.reference, pinned);
}

#[test]
fn an_extended_run_image_is_always_read_and_recorded_by_digest_with_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path().join("repo"));
    let saved = save_run_image(
        &store,
        "r.test/run:amd64",
        &Target::new("linux", "amd64", None),
        "a",
    );
    write(&dir.path().join("layers/group.toml"), GROUP);
    // A digest reference and a target: without extension nothing would be read (the target
    // keeps its missing distro); with extend = true it is read and recorded as upstream does.
    let analyzed = |extend: bool| {
        format!(
            "[run-image]\nreference = \"{}\"\nimage = \"r.test/run:amd64\"\nextend = {extend}\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n",
            saved.identifier
        )
    };
    let path = dir.path().join("layers/analyzed.toml");
    std::fs::write(&path, analyzed(false)).unwrap();
    let out = restorer(dir.path(), "0.13", &[]);
    out.assert_ok();
    assert!(
        Analyzed::read(&path)
            .unwrap()
            .target()
            .unwrap()
            .distro
            .is_none()
    );

    std::fs::write(&path, analyzed(true)).unwrap();
    let out = restorer(dir.path(), "0.13", &[]);
    out.assert_ok();
    let run = Analyzed::read(&path).unwrap().run_image.unwrap();
    assert!(run.extend);
    assert_eq!(run.reference, saved.identifier, "the digest reference");
    let t = run.target.unwrap();
    assert_eq!((t.os.as_str(), t.arch.as_str()), ("linux", "amd64"));
    assert_eq!(t.distro.unwrap().name, "ubuntu", "read from the image");

    // A tag is pinned to the digest.
    std::fs::write(
        &path,
        "[run-image]\nreference = \"r.test/run:amd64\"\nimage = \"r.test/run:amd64\"\nextend = true\n",
    )
    .unwrap();
    let out = restorer(dir.path(), "0.12", &[]);
    out.assert_ok();
    let run = Analyzed::read(&path).unwrap().run_image.unwrap();
    assert_eq!(run.reference, saved.identifier);
    assert_eq!(run.target.unwrap().arch, "amd64");
}

#[test]
fn an_extended_run_image_that_cannot_be_read_is_an_error() {
    let missing = "[run-image]\nreference = \"r.test/gone:1\"\nimage = \"r.test/gone:1\"\n";
    // Without extension the restorer only warns and keeps analyzed.toml (ours).
    let dir = setup(missing);
    let out = restorer(dir.path(), "0.13", &[]);
    out.assert_ok();
    out.assert_output_has("could not read the run image");
    // With extend = true it fails, as upstream.
    let dir = setup(&format!("{missing}extend = true\n"));
    let out = restorer(dir.path(), "0.13", &[]);
    out.assert_exit(1);
    out.assert_output_has("r.test/gone:1");
}

#[test]
fn an_extended_run_image_is_copied_to_the_kaniko_dir() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path().join("repo"));
    let saved = save_run_image(
        &store,
        "r.test/run:amd64",
        &Target::new("linux", "amd64", None),
        "a",
    );
    write(&dir.path().join("layers/group.toml"), GROUP);
    write(
        &dir.path().join("layers/analyzed.toml"),
        "[run-image]\nreference = \"r.test/run:amd64\"\nimage = \"r.test/run:amd64\"\nextend = true\n",
    );
    let kaniko = dir.path().join("kaniko");
    std::fs::create_dir_all(&kaniko).unwrap();
    command(dir.path(), "0.13")
        .env("CNB_KANIKO_DIR_FOR_TESTS", &kaniko)
        .run()
        .assert_ok();
    // Upstream's shape: cache/base/<manifest digest>/, an OCI layout with the manifest and config.
    let copy = kaniko.join("cache/base").join(saved.digest.to_string());
    let blobs = copy.join("blobs/sha256");
    assert_eq!(
        std::fs::read(blobs.join(saved.digest.hex())).unwrap(),
        saved.manifest.bytes,
        "the manifest, byte for byte"
    );
    assert!(blobs.join(saved.image_id.hex()).is_file(), "the config");
    let files = std::fs::read_dir(&blobs).unwrap().count();
    assert_eq!(files, 2, "no layers");
    let image = cnb_image::open(
        &LayoutStore::new(copy.parent().unwrap()),
        &format!("{}@{}", copy.display(), saved.digest),
        &cnb_image::TargetRequest::new(
            Target::new("linux", "amd64", None),
            cnb_image::TargetSource::Flags,
        ),
    )
    .unwrap()
    .required("copy")
    .unwrap();
    assert_eq!(image.digest(), &saved.digest);
}

/// analyzed.toml as the detector leaves it when an extension's run.Dockerfile switched the run
/// image to `image` (a tag, the build's platform kept), and a group with that extension.
fn switched_by_an_extension(image: &str) -> tempfile::TempDir {
    let dir = setup(&format!(
        "[run-image]\nreference = \"{image}\"\nimage = \"{image}\"\n[run-image.target]\nos = \"linux\"\narch = \"arm\"\narch-variant = \"v7\"\n"
    ));
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[group-extensions]]\nid = \"ext/switch\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn a_run_image_switched_by_an_extension_resolves_to_the_builds_platform() {
    let dir = switched_by_an_extension("r.test/run:multi");
    let out = restorer(dir.path(), "0.13", &[]);
    out.assert_ok();
    let run = Analyzed::read(&dir.path().join("layers/analyzed.toml"))
        .unwrap()
        .run_image
        .unwrap();
    assert!(run.reference.contains("@sha256:"), "{}", run.reference);
    let t = run.target.unwrap();
    assert_eq!(
        (t.arch.as_str(), t.arch_variant.as_str()),
        ("arm", "v7"),
        "the build's platform, not the host's"
    );
    assert!(t.distro.is_some(), "the new image's distro is filled in");
}

#[test]
fn a_switched_run_image_without_the_builds_platform_fails_naming_it() {
    let dir = switched_by_an_extension("r.test/run:amd64");
    let out = restorer(dir.path(), "0.13", &[]);
    out.assert_exit(1);
    assert!(
        out.text().contains("linux/arm/v7") && out.text().contains("linux/amd64"),
        "{}",
        out.text()
    );
}
