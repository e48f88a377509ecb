//! Exports to a real registry: read back by skopeo, a rebuild uploads no layer, arm64 children.

use std::path::Path;
use std::process::{Command, Output};

use cnb_formats::analyzed::{Analyzed, ImageIdentifier, RunImage};
use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_formats::target::TargetMetadata;
use cnb_image::registry::{RegistryOptions, RegistryStore};
use cnb_image::{Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn exporter(layers: &Path, app: &Path, launcher: &Path, reg: &Registry, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exporter"))
        .args([
            "-layers",
            layers.to_str().unwrap(),
            "-app",
            app.to_str().unwrap(),
            "-launcher",
            launcher.to_str().unwrap(),
        ])
        .args(args)
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_INSECURE_REGISTRIES", reg.host())
        .output()
        .unwrap()
}

#[test]
fn exports_to_a_registry_and_a_rebuild_uploads_no_layer() {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &run, &four_platforms(), "r");
    let dir = tempfile::tempdir().unwrap();
    let (layers, app, launcher) = (
        dir.path().join("layers"),
        dir.path().join("workspace"),
        dir.path().join("launcher"),
    );
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(&layers.join("bp/dep/bin/tool"), "#!/bin/sh\n");
    write(&layers.join("bp/dep.toml"), "[types]\nlaunch = true\n");
    write(
        &layers.join("config/metadata.toml"),
        "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[processes]]\ntype = \"web\"\ncommand = [\"tool\"]\nargs = []\ndirect = true\nbuildpack-id = \"bp\"\n",
    );
    write(&app.join("index.html"), "hi");
    write(&launcher, "launcher");
    let analyzed = |previous: &str, md: LayersMetadata| {
        Analyzed {
            image: Some(ImageIdentifier {
                reference: previous.into(),
            }),
            build_image: None,
            run_image: Some(RunImage {
                reference: format!("{}/cnb/run@{}", reg.host(), children[1].digest),
                image: run.clone(),
                extend: false,
                target: Some(TargetMetadata {
                    os: "linux".into(),
                    arch: "arm64".into(),
                    arch_variant: "v8".into(),
                    ..Default::default()
                }),
            }),
            metadata: md,
        }
        .write(&layers.join("analyzed.toml"))
        .unwrap()
    };
    analyzed("", LayersMetadata::default());
    let name = reg.image("cnb/app:latest");
    let out = exporter(
        &layers,
        &app,
        &launcher,
        &reg,
        &[&name, &reg.image("cnb/app:v1")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = open(
        &store,
        &name,
        &TargetRequest::new(Target::new("linux", "arm64", None), TargetSource::Flags),
    )
    .unwrap()
    .required("app")
    .unwrap();
    assert_eq!(
        img.target().to_string(),
        "linux/arm64/v8",
        "the arm64 child of the run index"
    );
    let report: Report = cnb_formats::read_toml(&layers.join("report.toml")).unwrap();
    assert_eq!(report.image.digest, img.digest().to_string());
    let sk = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{name}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&sk.stdout);
    assert!(
        text.contains("\"Architecture\": \"arm64\"") && text.contains(&img.digest().to_string()),
        "{text}"
    );

    // Rebuild with the first export as previous image: nothing changed, so no blob is uploaded.
    let md =
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    analyzed(&img.identifier, md);
    let before = reg.count_requests("PUT", "/blobs/uploads/");
    let out = exporter(&layers, &app, &launcher, &reg, &[&name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Adding layer"), "{stdout}");
    assert_eq!(
        reg.count_requests("PUT", "/blobs/uploads/"),
        before,
        "no blob uploaded on an unchanged rebuild"
    );
    let report: Report = cnb_formats::read_toml(&layers.join("report.toml")).unwrap();
    assert_eq!(
        report.image.digest,
        img.digest().to_string(),
        "same inputs, same digest"
    );
}

#[test]
fn the_cache_image_is_written_and_reused() {
    let reg = Registry::start();
    let store = RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        ..Default::default()
    })
    .unwrap();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &run, &four_platforms(), "r");
    let dir = tempfile::tempdir().unwrap();
    let (layers, app, launcher) = (
        dir.path().join("layers"),
        dir.path().join("workspace"),
        dir.path().join("launcher"),
    );
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(&layers.join("bp/deps/lib.so"), "binary");
    write(
        &layers.join("bp/deps.toml"),
        "[types]\ncache = true\nbuild = true\n",
    );
    // Launch and cache: the cache image links the app image's blob instead of compressing again.
    write(&layers.join("bp/runtime/bin/tool"), "tool");
    write(
        &layers.join("bp/runtime.toml"),
        "[types]\ncache = true\nlaunch = true\n",
    );
    write(
        &layers.join("config/metadata.toml"),
        "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(&app.join("index.html"), "hi");
    write(&launcher, "launcher");
    Analyzed {
        image: Some(ImageIdentifier {
            reference: String::new(),
        }),
        build_image: None,
        run_image: Some(RunImage {
            reference: format!("{}/cnb/run@{}", reg.host(), children[0].digest),
            image: run.clone(),
            extend: false,
            target: None,
        }),
        metadata: LayersMetadata::default(),
    }
    .write(&layers.join("analyzed.toml"))
    .unwrap();
    let cache = reg.image("cnb/cache:latest");
    let out = exporter(
        &layers,
        &app,
        &launcher,
        &reg,
        &["-cache-image", &cache, &reg.image("cnb/app")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("Adding cache layer 'bp:deps'\n")
            && stdout.contains("Adding cache layer 'bp:runtime' (the app image's blob)"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = open(
        &store,
        &cache,
        &TargetRequest::new(Target::host(), TargetSource::Host),
    )
    .unwrap();
    let img = match img {
        cnb_image::Opened::Found(i) => *i,
        other => panic!("{other:?}"),
    };
    let md = cnb_formats::labels::CacheMetadata::from_label(
        img.label("io.buildpacks.lifecycle.cache.metadata").unwrap(),
    )
    .unwrap();
    assert!(md.buildpack("bp").unwrap().layers["deps"].cache);
    // The linked blob is the app image's own: same diffID, same digest.
    let runtime: cnb_image::Digest = md.buildpack("bp").unwrap().layers["runtime"]
        .sha
        .parse()
        .unwrap();
    let app_img = match open(
        &store,
        &reg.image("cnb/app"),
        &TargetRequest::new(Target::host(), TargetSource::Host),
    )
    .unwrap()
    {
        cnb_image::Opened::Found(i) | cnb_image::Opened::PlatformMismatch { image: i, .. } => *i,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        img.layer(&runtime).unwrap().digest,
        app_img.layer(&runtime).unwrap().digest
    );
    // pack passes -cache-dir next to -cache-image: the image wins, the dir is not written.
    let cache_dir = dir.path().join("cache");
    let out = exporter(
        &layers,
        &app,
        &launcher,
        &reg,
        &[
            "-cache-dir",
            cache_dir.to_str().unwrap(),
            "-cache-image",
            &cache,
            &reg.image("cnb/app"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Reusing cache layer 'bp:deps'"),
        "{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("failed to export the cache"), "{stderr}");
    assert!(!cache_dir.exists(), "the cache dir was written");
}
