//! The restorer and the run image (Platform API 0.12+): read again only when analyzed.toml leaves a
//! question (no target, a tag, flags naming another target); one it cannot read then only warns.

use std::process::{Command, Output};

use cnb_formats::analyzed::Analyzed;
use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};

fn restorer(dir: &std::path::Path, papi: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args([
            "-layers",
            dir.join("layers").to_str().unwrap(),
            "-layout",
            "-layout-dir",
            dir.join("repo").to_str().unwrap(),
        ])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", papi)
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .output()
        .unwrap()
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
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("layers/analyzed.toml"), analyzed).unwrap();
    dir
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn an_index_reference_becomes_the_recorded_targets_child() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/run:multi\"\n[run-image.target]\nos = \"linux\"\narch = \"arm\"\narch-variant = \"v6\"\n",
    );
    let out = restorer(dir.path(), "0.12", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let a = Analyzed::read(&dir.path().join("layers/analyzed.toml")).unwrap();
    let run = a.run_image.unwrap();
    assert!(run.reference.contains("@sha256:"), "{}", run.reference);
    let t = run.target.unwrap();
    assert_eq!((t.arch.as_str(), t.arch_variant.as_str()), ("arm", "v6"));
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
    assert!(out.status.success(), "{}", text(&out));
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is for linux/amd64, but the build is for linux/arm64/v8"),
        "{}",
        text(&out)
    );
    // Below 0.12 the run image is not touched.
    let out = Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", dir.path().join("layers").to_str().unwrap()])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.11")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn with_run_toml_the_selected_run_image_must_be_readable() {
    let dir = setup(
        "[run-image]\nreference = \"r.test/run:multi\"\nimage = \"r.test/gone:1\"\n[run-image.target]\nos = \"linux\"\narch = \"amd64\"\n",
    );
    let run_toml = dir.path().join("run.toml");
    std::fs::write(&run_toml, "[[images]]\nimage = \"r.test/gone:1\"\n").unwrap();
    let out = restorer(dir.path(), "0.14", &["-run", run_toml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("selected run image 'r.test/gone:1' is not accessible"),
        "{}",
        text(&out)
    );
}

/// The restorer as pack runs it at Platform API 0.12+: with a registry, a cache dir and no
/// credentials for the run image (pack hands it the cache image's only).
fn registry_restorer(dir: &std::path::Path, papi: &str, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", dir.join("layers").to_str().unwrap()])
        .args(["-cache-dir", dir.join("cache").to_str().unwrap()])
        .env_clear()
        .env("CNB_PLATFORM_API", papi)
        // Read from 0.14 only (the -run flag is refused before).
        .env("CNB_RUN_PATH", dir.join("run.toml"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn layers_with(analyzed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::create_dir_all(dir.path().join("cache")).unwrap();
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("layers/analyzed.toml"), analyzed).unwrap();
    dir
}

fn analyzed_text(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("layers/analyzed.toml")).unwrap()
}

#[test]
fn a_run_image_it_may_not_read_is_not_read_when_analyzed_toml_has_the_target() {
    use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
    let reg = cnb_test_support::registry::Registry::builder()
        .basic_auth("cnb", "s3cret")
        .start();
    let auth = format!(r#"{{"{}":"{}"}}"#, reg.host(), reg.basic_header().unwrap());
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().to_string()],
        auth: AuthSource::new(Some(&auth), None).unwrap(),
        ..Default::default()
    })
    .unwrap();
    let name = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &name, &four_platforms(), "r");
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
        assert!(out.status.success(), "{papi}: {}", text(&out));
        assert!(!text(&out).contains("run image"), "{papi}: {}", text(&out));
        assert_eq!(analyzed_text(dir.path()), with_target, "{papi}");
    }
    assert_eq!(reads(), before, "the run image was not read");

    // Without a target it must read the image: refused, it warns and goes on.
    let without_target = format!("[run-image]\nreference = \"{child}\"\nimage = \"{name}\"\n");
    let dir = layers_with(&without_target);
    let out = registry_restorer(dir.path(), "0.12", &insecure);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("could not read the run image to find its target"),
        "{}",
        text(&out)
    );
    assert_eq!(analyzed_text(dir.path()), without_target);
    // With the credentials it fills the target in.
    let out = registry_restorer(
        dir.path(),
        "0.12",
        &[insecure[0], ("CNB_REGISTRY_AUTH", &auth)],
    );
    assert!(out.status.success(), "{}", text(&out));
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("selected run image '{name}' is not accessible")),
        "{}",
        text(&out)
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
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(analyzed_text(dir.path()), with_target);

    let without_target =
        format!("[run-image]\nreference = \"{child}\"\nimage = \"{host}/cnb/run:1\"\n");
    let dir = layers_with(&without_target);
    let out = registry_restorer(dir.path(), "0.13", &insecure);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("could not read the run image to find its target"),
        "{}",
        text(&out)
    );
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
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("layers/analyzed.toml"), &analyzed).unwrap();
    // The recorded target and a digest: nothing to resolve, analyzed.toml stays as it is.
    let out = restorer(dir.path(), "0.12", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("layers/analyzed.toml")).unwrap(),
        analyzed
    );
    // -arch arm64 asks for another target: the index is read again and its arm64 child recorded.
    let out = restorer(dir.path(), "0.12", &["-arch", "arm64"]);
    assert!(out.status.success(), "{}", text(&out));
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
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
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
    assert!(out.status.success(), "{}", text(&out));
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
    assert!(out.status.success(), "{}", text(&out));
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
    assert!(out.status.success(), "{}", text(&out));
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
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("could not read the run image"),
        "{}",
        text(&out)
    );
    // With extend = true it fails, as upstream.
    let dir = setup(&format!("{missing}extend = true\n"));
    let out = restorer(dir.path(), "0.13", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("r.test/gone:1"), "{}", text(&out));
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
    std::fs::create_dir_all(dir.path().join("layers")).unwrap();
    std::fs::write(
        dir.path().join("layers/group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("layers/analyzed.toml"),
        "[run-image]\nreference = \"r.test/run:amd64\"\nimage = \"r.test/run:amd64\"\nextend = true\n",
    )
    .unwrap();
    let kaniko = dir.path().join("kaniko");
    std::fs::create_dir_all(&kaniko).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", dir.path().join("layers").to_str().unwrap()])
        .args([
            "-layout",
            "-layout-dir",
            dir.path().join("repo").to_str().unwrap(),
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.13")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .env("CNB_KANIKO_DIR_FOR_TESTS", &kaniko)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
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
    assert!(out.status.success(), "{}", text(&out));
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("linux/arm/v7") && text(&out).contains("linux/amd64"),
        "{}",
        text(&out)
    );
}
