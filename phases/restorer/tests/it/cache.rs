//! Restoring store.toml, launch-layer metadata and cached layers (verified) into a layers dir.

use std::path::{Path, PathBuf};

use cnb_lifecycle::cache::VolumeCache;
use cnb_test_support::registry::Registry;

use crate::harness::{GROUP, PhaseOutput, export_to_dir, export_to_image, platform_apis, write};

/// A layers dir after a build, its cache exported, then cleaned for the next build.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    let cache = dir.path().join("cache");
    write(&layers.join("group.toml"), GROUP);
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
    export_to_dir(&layers, &cache);
    std::fs::remove_dir_all(&layers).unwrap();
    write(&layers.join("group.toml"), GROUP);
    write(
        &layers.join("analyzed.toml"),
        "[image]\nreference = \"r/app@sha256:00\"\n\n[[metadata.buildpacks]]\nkey = \"samples/bp\"\nversion = \"1\"\n\n[metadata.buildpacks.layers.launch-only]\nsha = \"sha256:aa\"\nlaunch = true\n\n[metadata.buildpacks.layers.launch-only.metadata]\nkept = \"yes\"\n\n[metadata.buildpacks.store.metadata]\nruns = 3\n",
    );
    (dir, layers, cache)
}

fn restorer(layers: &Path, args: &[&str]) -> PhaseOutput {
    crate::harness::restorer("0.15", layers).args(args).run()
}

/// At every Platform API.
#[test]
fn restores_store_metadata_and_verified_cached_layers() {
    for papi in platform_apis() {
        restores_store_metadata_and_cached_layers_at(&papi);
    }
}

fn restores_store_metadata_and_cached_layers_at(papi: &str) {
    let (_dir, layers, cache) = setup();
    let out = crate::harness::restorer(papi, &layers)
        .flag("-cache-dir", &cache)
        .run();
    out.assert_ok();
    let bp = layers.join("samples_bp");
    assert_eq!(
        std::fs::read_to_string(bp.join("deps/bin/tool")).unwrap(),
        "#!/bin/sh\necho tool\n",
        "{papi}"
    );
    assert_eq!(
        std::fs::read_to_string(bp.join("build-cache/objects")).unwrap(),
        "compiled",
        "{papi}"
    );
    assert!(
        std::fs::read_to_string(bp.join("deps.toml"))
            .unwrap()
            .contains("version = \"1.2.3\""),
        "{papi}"
    );
    assert!(
        !bp.join("not-cached").exists(),
        "{papi}: launch-only layers are not in the cache"
    );
    assert!(
        std::fs::read_to_string(bp.join("launch-only.toml"))
            .unwrap()
            .contains("kept = \"yes\""),
        "{papi}"
    );
    assert!(
        !bp.join("launch-only").exists(),
        "{papi}: only the metadata of a launch layer is restored"
    );
    assert!(
        std::fs::read_to_string(bp.join("store.toml"))
            .unwrap()
            .contains("runs = 3"),
        "{papi}"
    );
    out.assert_output_has("Restoring data for 'samples/bp:deps' from cache");
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
    out.assert_ok();
    out.assert_output_has("not restoring cached layer 'samples/bp:deps'");
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
    out.assert_ok();
    let bp = layers.join("samples_bp");
    assert!(bp.join("store.toml").exists());
    assert!(!bp.join("deps").exists() && !bp.join("launch-only.toml").exists());
}

#[test]
fn no_cache_and_no_analyzed_toml_are_fine_and_bad_apis_exit_12() {
    let (_dir, layers, _cache) = setup();
    std::fs::remove_file(layers.join("analyzed.toml")).unwrap();
    let out = restorer(&layers, &[]);
    out.assert_ok();
    out.assert_output_has("restoring nothing from the previous image");
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"x\"\nversion = \"1\"\napi = \"0.2\"\n",
    );
    restorer(&layers, &[]).assert_exit(12);
}

#[test]
fn restores_from_a_cache_image_in_a_registry() {
    let reg = Registry::start();
    let (_dir, layers, _cache_dir) = setup();
    // Write the same layers again and export them as a cache image this time.
    let bp = layers.join("samples_bp");
    write(&bp.join("deps/bin/tool"), "#!/bin/sh\necho tool\n");
    write(
        &bp.join("deps.toml"),
        "[types]\nlaunch = true\ncache = true\n\n[metadata]\nversion = \"1.2.3\"\n",
    );
    let name = reg.image("cnb/cache:latest");
    export_to_image(&layers, &reg.store(), &name);
    std::fs::remove_dir_all(&bp).unwrap();
    crate::harness::restorer("0.15", &layers)
        .flag("-cache-image", &name)
        .insecure_registry(reg.host())
        .run()
        .assert_ok();
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
    out.assert_ok();
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
    crate::harness::restorer("0.7", &layers)
        .flag("-cache-dir", &cache)
        .run()
        .assert_ok();
    assert!(!layers.join("samples_bp/deps.sbom.cdx.json").exists());
    assert!(
        layers.join("samples_bp/deps/bin/tool").exists(),
        "layers are restored at 0.7 too"
    );
}
