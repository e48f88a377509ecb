//! The legacy bill of materials (`[[bom]]` of launch.toml and build.toml): from Platform API 0.9
//! `<layers>/sbom/{launch,build}/sbom.legacy.json`, always; below it metadata.toml's `[[bom]]`.

use std::path::Path;

use cnb_formats::metadata::LaunchMetadata;

use crate::samples::{UID, builder, text, world};

const GROUP: &str = "[[group]]\nid = \"bom/bp\"\nversion = \"1\"\n";

/// A buildpack whose /bin/build runs `script`, in a buildpacks dir owned by the build user.
fn buildpack(dir: &Path, script: &str) {
    let bp = dir.join("bom_bp/1");
    std::fs::create_dir_all(bp.join("bin")).unwrap();
    std::fs::write(
        bp.join("buildpack.toml"),
        "api = \"0.10\"\n[buildpack]\nid = \"bom/bp\"\nversion = \"1\"\nsbom-formats = [\"application/vnd.cyclonedx+json\"]\n",
    )
    .unwrap();
    std::fs::write(
        bp.join("bin/build"),
        format!("#!/usr/bin/env bash\nset -eu\n{script}\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        bp.join("bin/build"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    cnb_os::ensure_owner(UID, UID, &[dir]).unwrap();
}

/// launch.toml and build.toml each with one `[[bom]]` entry.
const WITH_BOM: &str = r#"cat > $1/launch.toml <<'TOML'
[[bom]]
name = "runtime"
[bom.metadata]
version = "1.2.3"
url = "https://example.test/?a=1&b=<2>"

[[processes]]
type = "web"
command = ["true"]
TOML
cat > $1/build.toml <<'TOML'
[[bom]]
name = "compiler"
TOML"#;

const DEPRECATED: &str = "Warning: BOM table is deprecated in this buildpack api version";

#[test]
fn from_platform_api_0_9_the_legacy_bom_goes_to_sbom_legacy_json() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    buildpack(dir.path(), WITH_BOM);
    let w = world(GROUP, "");
    let out = builder(&w, "0.9", dir.path(), false);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Byte for byte what upstream's Go JSON encoder writes (key order, HTML escapes, newline).
    assert_eq!(
        std::fs::read_to_string(w.layers.join("sbom/launch/sbom.legacy.json")).unwrap(),
        "[{\"name\":\"runtime\",\"metadata\":{\"url\":\"https://example.test/?a=1\\u0026b=\\u003c2\\u003e\",\"version\":\"1.2.3\"},\"buildpack\":{\"id\":\"bom/bp\",\"version\":\"1\"}}]\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.layers.join("sbom/build/sbom.legacy.json")).unwrap(),
        "[{\"name\":\"compiler\",\"metadata\":null,\"buildpack\":{\"id\":\"bom/bp\",\"version\":\"1\"}}]\n"
    );
    let md = std::fs::read_to_string(w.layers.join("config/metadata.toml")).unwrap();
    assert!(!md.contains("[[bom]]"), "no [[bom]] from 0.9: {md}");
    assert_eq!(stderr.matches(DEPRECATED).count(), 2, "{stderr}");
}

#[test]
fn the_legacy_files_are_written_even_when_no_buildpack_has_a_bom() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    buildpack(dir.path(), "echo no bom");
    let w = world(GROUP, "");
    let out = builder(&w, "0.15", dir.path(), false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for kind in ["launch", "build"] {
        assert_eq!(
            std::fs::read_to_string(w.layers.join(format!("sbom/{kind}/sbom.legacy.json")))
                .unwrap(),
            "null\n",
            "{kind}: a Go nil slice"
        );
    }
    assert!(!text(&out.stderr).contains(DEPRECATED));
}

#[test]
fn below_platform_api_0_9_the_launch_bom_goes_to_metadata_toml() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    buildpack(dir.path(), WITH_BOM);
    let w = world(GROUP, "");
    let out = builder(&w, "0.8", dir.path(), false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!w.layers.join("sbom").exists(), "no legacy files below 0.9");
    let md = LaunchMetadata::read(&w.layers.join("config/metadata.toml")).unwrap();
    assert_eq!(md.bom.len(), 1, "launch entries only: {md:?}");
    let e = &md.bom[0];
    assert_eq!(e.name, "runtime");
    assert_eq!(
        (e.buildpack.id.as_str(), e.buildpack.version.as_str()),
        ("bom/bp", "1")
    );
    assert_eq!(
        e.metadata.as_ref().unwrap()["version"].as_str(),
        Some("1.2.3")
    );
}

#[test]
fn sbom_files_silence_the_warning_and_a_top_level_version_fails() {
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    buildpack(
        dir.path(),
        &format!("{WITH_BOM}\necho '{{}}' > $1/launch.sbom.cdx.json"),
    );
    let w = world(GROUP, "");
    let out = builder(&w, "0.15", dir.path(), false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains(DEPRECATED),
        "{}",
        text(&out.stderr)
    );
    assert!(w.layers.join("sbom/launch/bom_bp/sbom.cdx.json").is_file());
    assert!(w.layers.join("sbom/launch/sbom.legacy.json").is_file());

    let dir = tempfile::tempdir().unwrap();
    buildpack(
        dir.path(),
        "printf '[[bom]]\\nname = \"dep\"\\nversion = \"1\"\\n' > $1/build.toml",
    );
    let w = world(GROUP, "");
    let out = builder(&w, "0.15", dir.path(), false);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(52), "{stderr}");
    assert!(
        stderr.contains("bom entry 'dep' has a top level version which is not allowed"),
        "{stderr}"
    );
}
