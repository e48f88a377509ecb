//! Restoring store.toml, launch-layer metadata and cached layers (verified) into a layers dir.

use std::path::Path;
use std::process::{Command, Output};

use cnb_formats::group::Group;
use cnb_lifecycle::cache::VolumeCache;

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A layers dir after a build, its cache exported, then cleaned for the next build.
fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    let cache = dir.path().join("cache");
    let group = "[[group]]\nid = \"samples/bp\"\nversion = \"1\"\napi = \"0.10\"\n";
    write(&layers.join("group.toml"), group);
    let bp = layers.join("samples_bp");
    write(&bp.join("deps/bin/tool"), "#!/bin/sh\necho tool\n");
    write(
        &bp.join("deps.toml"),
        "[types]\nlaunch = true\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    write(&bp.join("build-cache/objects"), "compiled");
    write(&bp.join("build-cache.toml"), "[types]\ncache = true\n");
    write(&bp.join("not-cached/f"), "x");
    write(&bp.join("not-cached.toml"), "[types]\nlaunch = true\n");
    write(
        &layers.join("sbom/cache/samples_bp/deps/sbom.cdx.json"),
        "{\"cached\":true}",
    );
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
    write(&layers.join("group.toml"), group);
    write(
        &layers.join("analyzed.toml"),
        "[image]\nreference = \"r/app@sha256:00\"\n\n[[metadata.buildpacks]]\nkey = \"samples/bp\"\nversion = \"1\"\n\n[metadata.buildpacks.layers.launch-only]\nsha = \"sha256:aa\"\nlaunch = true\n\n[metadata.buildpacks.layers.launch-only.metadata]\nkept = \"yes\"\n\n[metadata.buildpacks.store.metadata]\nruns = 3\n",
    );
    (dir, layers, cache)
}

fn restorer(layers: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", layers.to_str().unwrap()])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn restores_store_metadata_and_verified_cached_layers() {
    let (_dir, layers, cache) = setup();
    let out = restorer(&layers, &["-cache-dir", cache.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let bp = layers.join("samples_bp");
    assert_eq!(
        std::fs::read_to_string(bp.join("deps/bin/tool")).unwrap(),
        "#!/bin/sh\necho tool\n"
    );
    assert_eq!(
        std::fs::read_to_string(bp.join("build-cache/objects")).unwrap(),
        "compiled"
    );
    assert!(
        std::fs::read_to_string(bp.join("deps.toml"))
            .unwrap()
            .contains("version = \"1.2.3\"")
    );
    assert!(
        !bp.join("not-cached").exists(),
        "launch-only layers are not in the cache"
    );
    assert!(
        std::fs::read_to_string(bp.join("launch-only.toml"))
            .unwrap()
            .contains("kept = \"yes\"")
    );
    assert!(
        !bp.join("launch-only").exists(),
        "only the metadata of a launch layer is restored"
    );
    assert!(
        std::fs::read_to_string(bp.join("store.toml"))
            .unwrap()
            .contains("runs = 3")
    );
    assert!(
        text(&out).contains("Restoring data for 'samples/bp:deps' from cache"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_corrupted_cached_layer_is_discarded_with_a_warning() {
    let (_dir, layers, cache) = setup();
    let md = VolumeCache::new(&cache).metadata().unwrap();
    let sha = md.buildpack("samples/bp").unwrap().layers["deps"]
        .sha
        .clone();
    let tar = VolumeCache::new(&cache).layer_path(&sha);
    // Same entries, different content: a valid tar whose diffID is not the recorded one.
    let mut bytes = std::fs::read(&tar).unwrap();
    let at = bytes.windows(4).position(|w| w == b"tool").unwrap();
    bytes[at] = b'T';
    std::fs::write(&tar, bytes).unwrap();
    let out = restorer(&layers, &["-cache-dir", cache.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not restoring cached layer 'samples/bp:deps'"),
        "{}",
        text(&out)
    );
    let bp = layers.join("samples_bp");
    assert!(!bp.join("deps").exists() && !bp.join("deps.toml").exists());
    assert!(
        bp.join("build-cache/objects").exists(),
        "other layers are still restored"
    );
}

#[test]
fn skip_layers_restores_only_store_toml() {
    let (_dir, layers, cache) = setup();
    let out = restorer(
        &layers,
        &["-skip-layers", "-cache-dir", cache.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let bp = layers.join("samples_bp");
    assert!(bp.join("store.toml").exists());
    assert!(!bp.join("deps").exists() && !bp.join("launch-only.toml").exists());
}

#[test]
fn no_cache_and_no_analyzed_toml_are_fine_and_bad_apis_exit_12() {
    let (_dir, layers, _cache) = setup();
    std::fs::remove_file(layers.join("analyzed.toml")).unwrap();
    let out = restorer(&layers, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("restoring nothing from the previous image"),
        "{}",
        text(&out)
    );
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"x\"\nversion = \"1\"\napi = \"0.2\"\n",
    );
    assert_eq!(restorer(&layers, &[]).status.code(), Some(12));
}

#[test]
fn restores_from_a_cache_image_in_a_registry() {
    use cnb_image::registry::{RegistryOptions, RegistryStore};
    use cnb_lifecycle::cache::ImageCache;
    use cnb_test_support::registry::Registry;
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let (_dir, layers, cache_dir) = setup();
    // Write the same layers again and export them as a cache image this time.
    let bp = layers.join("samples_bp");
    write(&bp.join("deps/bin/tool"), "#!/bin/sh\necho tool\n");
    write(
        &bp.join("deps.toml"),
        "[types]\nlaunch = true\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    let g = Group::read(&layers.join("group.toml")).unwrap();
    let name = reg.image("cnb/cache:latest");
    let scratch = tempfile::tempdir().unwrap();
    ImageCache::new(&store, &name)
        .export(
            &layers,
            &g,
            cnb_archive::Owner::ROOT,
            scratch.path(),
            &cnb_lifecycle::export::LayerMemo::default(),
            &cnb_platform::Logger::default(),
        )
        .unwrap();
    std::fs::remove_dir_all(&bp).unwrap();
    let _ = cache_dir;
    let out = Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args(["-layers", layers.to_str().unwrap(), "-cache-image", &name])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_INSECURE_REGISTRIES", reg.host())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(bp.join("deps/bin/tool")).unwrap(),
        "#!/bin/sh\necho tool\n"
    );
    assert!(
        std::fs::read_to_string(bp.join("deps.toml"))
            .unwrap()
            .contains("1.2.3")
    );
}

#[test]
fn sbom_files_come_back_next_to_their_layers() {
    let (_dir, layers, cache) = setup();
    // The analyzer restored the previous image's launch SBOM here.
    write(
        &layers.join("sbom/launch/samples_bp/launch-only/sbom.cdx.json"),
        "{\"launch\":true}",
    );
    let out = restorer(&layers, &["-cache-dir", cache.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let bp = layers.join("samples_bp");
    assert_eq!(
        std::fs::read_to_string(bp.join("deps.sbom.cdx.json")).unwrap(),
        "{\"cached\":true}"
    );
    assert_eq!(
        std::fs::read_to_string(bp.join("launch-only.sbom.cdx.json")).unwrap(),
        "{\"launch\":true}"
    );
    assert!(
        !layers.join("sbom").exists(),
        "the restorer removes <layers>/sbom"
    );
    // Platform API 0.7: no SBOM handling at all.
    let (_dir, layers, cache) = setup();
    let out = Command::new(env!("CARGO_BIN_EXE_restorer"))
        .args([
            "-layers",
            layers.to_str().unwrap(),
            "-cache-dir",
            cache.to_str().unwrap(),
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!layers.join("samples_bp/deps.sbom.cdx.json").exists());
    assert!(
        layers.join("samples_bp/deps/bin/tool").exists(),
        "layers are restored at 0.7 too"
    );
}
