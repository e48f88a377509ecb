//! `extender -kind run`: each run Dockerfile instruction that changes files becomes a layer on
//! the run image (as kaniko's snapshots), saved
//! as upstream's sparse OCI layout in `<extended>/run/`, which the exporter builds the app on.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_formats::analyzed::{Analyzed, RunImage};
use cnb_image::registry::{RegistryOptions, RegistryStore};
use cnb_image::{BlobStore, LayoutStore, Saved, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::save_run_image;
use cnb_test_support::registry::Registry;

use super::sandbox::{EXTENSION, Sandbox, text, write};

const RUN_DOCKERFILE: &str = "FROM ${base_image}
USER root
RUN echo hi > /hello && rm /etc/os-release
ENV X=1
LABEL io.example.extended=yes
USER 1000:1000
RUN true
RUN id -u > /home/cnb/who
";

fn amd64() -> TargetRequest {
    TargetRequest::new(Target::new("linux", "amd64", None), TargetSource::Flags)
}

/// The one layout dir under `<extended>/run/`.
fn layout_dir(s: &Sandbox) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(s.layers.join("extended/run"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn tar_names(blob: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(blob).unwrap(),
    ));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name.ends_with("home/cnb/who") {
            assert_eq!(e.header().uid().unwrap(), 1000, "owner kept");
            let mut content = String::new();
            e.read_to_string(&mut content).unwrap();
            assert_eq!(content, "1000\n", "RUN as the current USER");
        }
        if name.ends_with("hello") {
            let mut content = String::new();
            e.read_to_string(&mut content).unwrap();
            assert_eq!(content, "hi\n");
        }
        names.push(name);
    }
    names
}

/// The exporter binary of this workspace, built now if need be (it is another package's).
fn exporter_bin() -> PathBuf {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_extender"));
    let profile_dir = ours.parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "exporter", "--bin", "exporter"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success());
    profile_dir.join("exporter")
}

#[test]
fn the_extended_run_image_is_a_layout_the_exporter_builds_on() {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let saved = save_run_image(
        &store,
        &reg.image("cnb/run:amd64"),
        &Target::new("linux", "amd64", None),
        "r",
    );
    let run = open(&store, &saved.identifier, &amd64())
        .unwrap()
        .required("run")
        .unwrap();
    let s = Sandbox::new();
    write(
        &s.layers.join("group.toml"),
        &format!(
            "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[group-extensions]]\nid = \"{EXTENSION}\"\nversion = \"1\"\napi = \"0.10\"\n"
        ),
    );
    Analyzed {
        run_image: Some(RunImage {
            reference: saved.identifier.clone(),
            image: reg.image("cnb/run:amd64"),
            extend: true,
            target: None,
        }),
        ..Default::default()
    }
    .write(&s.layers.join("analyzed.toml"))
    .unwrap();
    s.dockerfile("run", RUN_DOCKERFILE);
    let insecure = ("CNB_INSECURE_REGISTRIES", reg.host());
    let out = s.extender(
        &["-app", "/workspace", "-kind", "run", "-log-level", "debug"],
        &[("CNB_PLATFORM_API", "0.13"), insecure],
    );
    assert!(out.status.success(), "{}", text(&out));

    // A valid OCI layout: skopeo reads it, with the config the Dockerfile left.
    let dir = layout_dir(&s);
    // skopeo reads a colon in the path as the start of a tag; the dir is named `sha256:<hex>`.
    let link = s.dir.path().join("extended-layout");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let inspect = Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}", link.display()))
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", text(&inspect));
    let config: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let env: Vec<&str> = config["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"X=1"), "{env:?}");
    assert_eq!(config["config"]["User"], "1000:1000");
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["io.example.extended"], "yes");
    assert_eq!(
        labels["io.buildpacks.rebasable"], "false",
        "not declared rebasable"
    );
    let history = config["history"].as_array().unwrap();
    assert_eq!(history.len(), run.layers().len() + 2, "one entry per layer");
    let created: Vec<&str> = history[run.layers().len()..]
        .iter()
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        created,
        [
            format!(
                "Layer: 'RUN echo hi > /hello && rm /etc/os-release', Created by extension: {EXTENSION}"
            ),
            format!("Layer: 'RUN id -u > /home/cnb/who', Created by extension: {EXTENSION}"),
        ],
        "a layer per instruction that changed files (RUN true changed none), as kaniko"
    );

    // The run image's layers, then the new ones: /hello and a whiteout, then who; nothing of the
    // volumes.
    let manifest: serde_json::Value = {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let digest = index["manifests"][0]["digest"].as_str().unwrap();
        let hex = digest.trim_start_matches("sha256:");
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    };
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), run.layers().len() + 2);
    for (l, base) in layers.iter().zip(&run.manifest.layers) {
        assert_eq!(l["digest"], base.digest.to_string(), "base layers kept");
        let hex = base.digest.to_string();
        let hex = hex.trim_start_matches("sha256:");
        assert!(
            !dir.join("blobs/sha256").join(hex).exists(),
            "sparse: base blobs stay in the registry"
        );
    }
    let new: Vec<&str> = layers[run.layers().len()..]
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    let names_of = |digest: &str| {
        tar_names(
            &dir.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
    };
    assert!(
        names_of(new[1]).iter().any(|n| n.ends_with("home/cnb/who")),
        "the second RUN's layer"
    );
    let names = names_of(new[0]);
    assert!(
        names.iter().any(|n| n.trim_start_matches('/') == "hello"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches('/') == "etc/.wh.os-release"),
        "{names:?}"
    );
    for skipped in [
        "layers",
        "workspace",
        "platform",
        "proc",
        "dev",
        "usr/lib",
        "cnb",
    ] {
        assert!(
            !names
                .iter()
                .any(|n| n.trim_start_matches('/').starts_with(skipped)),
            "{skipped} is not the image's: {names:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(s.rootfs.join("hello")).unwrap(),
        "hi\n",
        "applied in place"
    );

    // The exporter builds the app image on it.
    write(&s.layers.join("bp/dep/bin/tool"), "#!/bin/sh\n");
    write(&s.layers.join("bp/dep.toml"), "[types]\nlaunch = true\n");
    write(
        &s.layers.join("config/metadata.toml"),
        "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[processes]]\ntype = \"web\"\ncommand = [\"tool\"]\nargs = []\ndirect = true\nbuildpack-id = \"bp\"\n",
    );
    write(&s.dir.path().join("launcher"), "launcher");
    let app_name = reg.image("cnb/app:latest");
    let out = Command::new(exporter_bin())
        .args(["-layers", s.layers.to_str().unwrap()])
        .args(["-app", s.workspace.to_str().unwrap()])
        .args(["-launcher", s.dir.path().join("launcher").to_str().unwrap()])
        .arg(&app_name)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.13")
        .env(insecure.0, insecure.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let app = open(&store, &app_name, &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    let app_layers = app.layers();
    assert_eq!(app_layers[..run.layers().len()], run.layers()[..]);
    let above: Vec<String> = app_layers[run.layers().len()..run.layers().len() + 2]
        .iter()
        .map(|l| l.digest.to_string())
        .collect();
    assert_eq!(above, new, "the extension layers right above the run image");
    assert_eq!(app.env("X"), Some("1"));
    assert_eq!(app.label("io.buildpacks.rebasable"), Some("false"));
}

#[test]
fn a_run_image_left_as_root_is_refused() {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let saved = save_run_image(
        &store,
        &reg.image("cnb/run:amd64"),
        &Target::new("linux", "amd64", None),
        "r",
    );
    let s = Sandbox::new();
    write(
        &s.layers.join("group.toml"),
        &format!("[[group-extensions]]\nid = \"{EXTENSION}\"\nversion = \"1\"\n"),
    );
    Analyzed {
        run_image: Some(RunImage {
            reference: saved.identifier.clone(),
            image: reg.image("cnb/run:amd64"),
            extend: true,
            target: None,
        }),
        ..Default::default()
    }
    .write(&s.layers.join("analyzed.toml"))
    .unwrap();
    s.dockerfile("run", "FROM ${base_image}\nUSER root\nRUN true\n");
    let out = s.extender(
        &["-app", "/workspace", "-kind", "run"],
        &[
            ("CNB_PLATFORM_API", "0.13"),
            ("CNB_INSECURE_REGISTRIES", reg.host()),
        ],
    );
    assert_eq!(out.status.code(), Some(102), "{}", text(&out));
    assert!(text(&out).contains("final user id is 0"), "{}", text(&out));
    assert!(
        !s.layers.join("extended/run").exists(),
        "no image to export"
    );
}

/// What the restorer leaves in `/kaniko` (see phases/restorer's kaniko test): manifest and config.
fn write_kaniko_copy(s: &Sandbox, store: &dyn BlobStore, name: &str, saved: &Saved) {
    let copy = s
        .rootfs
        .join("kaniko/cache/base")
        .join(saved.digest.to_string());
    let blobs = copy.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(saved.digest.hex()), &saved.manifest.bytes).unwrap();
    let mut config = Vec::new();
    store
        .blob(name, &saved.image_id)
        .unwrap()
        .read_to_end(&mut config)
        .unwrap();
    std::fs::write(blobs.join(saved.image_id.hex()), &config).unwrap();
    std::fs::write(copy.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        copy.join("index.json"),
        serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": saved.manifest.media_type,
                "size": saved.manifest.bytes.len(),
                "digest": saved.digest.to_string(),
            }],
        })
        .to_string(),
    )
    .unwrap();
}

#[test]
fn with_the_restorers_kaniko_copy_no_registry_is_needed_and_a_layout_export_builds_on_it() {
    // The run image lives in an OCI layout only: the extender cannot reach it but through the copy.
    let repo = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(repo.path());
    let name = "registry.test/run:amd64";
    let saved = save_run_image(&store, name, &Target::new("linux", "amd64", None), "r");
    let run = open(&store, &saved.identifier, &amd64())
        .unwrap()
        .required("run")
        .unwrap();
    let s = Sandbox::new();
    write_kaniko_copy(&s, &store, name, &saved);
    write(
        &s.layers.join("group.toml"),
        &format!(
            "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[group-extensions]]\nid = \"{EXTENSION}\"\nversion = \"1\"\napi = \"0.10\"\n"
        ),
    );
    Analyzed {
        run_image: Some(RunImage {
            reference: saved.identifier.clone(),
            image: name.into(),
            extend: true,
            target: None,
        }),
        ..Default::default()
    }
    .write(&s.layers.join("analyzed.toml"))
    .unwrap();
    s.dockerfile("run", "FROM ${base_image}\nRUN echo hi > /hello\n");
    let out = s.extender(
        &["-app", "/workspace", "-kind", "run"],
        &[("CNB_PLATFORM_API", "0.13")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let dir = layout_dir(&s);
    let manifest: serde_json::Value = {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let digest = index["manifests"][0]["digest"].as_str().unwrap();
        serde_json::from_slice(
            &std::fs::read(
                dir.join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), run.layers().len() + 1);
    let top = layers.last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let names = tar_names(
        &dir.join("blobs/sha256")
            .join(top.trim_start_matches("sha256:")),
    );
    assert!(
        names.iter().any(|n| n.trim_start_matches('/') == "hello"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("kaniko")), "{names:?}");

    // The exporter, to the layout, builds the app on the extended run image.
    write(&s.layers.join("bp/dep/bin/tool"), "#!/bin/sh\n");
    write(&s.layers.join("bp/dep.toml"), "[types]\nlaunch = true\n");
    write(
        &s.layers.join("config/metadata.toml"),
        "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[processes]]\ntype = \"web\"\ncommand = [\"tool\"]\nargs = []\ndirect = true\nbuildpack-id = \"bp\"\n",
    );
    write(&s.dir.path().join("launcher"), "launcher");
    let out = Command::new(exporter_bin())
        .args(["-layers", s.layers.to_str().unwrap()])
        .args(["-app", s.workspace.to_str().unwrap()])
        .args(["-launcher", s.dir.path().join("launcher").to_str().unwrap()])
        .args(["-layout", "-layout-dir", repo.path().to_str().unwrap()])
        .arg("registry.test/app:1")
        .env_clear()
        .env("CNB_PLATFORM_API", "0.13")
        .env("CNB_EXPERIMENTAL_MODE", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let app = open(&store, "registry.test/app:1", &amd64())
        .unwrap()
        .required("app")
        .unwrap();
    let app_layers = app.layers();
    assert_eq!(app_layers[..run.layers().len()], run.layers()[..]);
    assert_eq!(app_layers[run.layers().len()].digest.to_string(), top);
    assert_eq!(app.label("io.buildpacks.rebasable"), Some("false"));
}
