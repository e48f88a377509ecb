//! Exports to a real registry: read back by skopeo, a rebuild uploads no layer, arm64 children.

use std::process::Command;

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::{Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;

use crate::harness::{Build, PhaseOutput, api_at_least, platform_apis, run_image, write};

fn exporter(b: &Build, reg: &Registry, args: &[&str]) -> PhaseOutput {
    b.exporter("0.15")
        .insecure_registry(reg.host())
        .args(args)
        .run()
}

/// At every Platform API: the app image on the arm64 child recorded in analyzed.toml (by
/// digest; the name and target from 0.12 on, as the analyzer records them), and report.toml.
#[test]
fn every_platform_api_exports_on_the_recorded_run_image() {
    let reg = Registry::start();
    let store = reg.store();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &run, &four_platforms(), "r");
    let arm64 = Target::new("linux", "arm64", Some("v8"));
    let child = format!("{}/cnb/run@{}", reg.host(), children[1].digest);
    for papi in platform_apis() {
        let b = Build::new(&papi);
        let recorded = match api_at_least(&papi, "0.12") {
            true => run_image(&child, &run, Some(&arm64)),
            false => run_image(&child, "", None),
        };
        b.analyzed("", recorded, LayersMetadata::default());
        let name = reg.image(&format!("cnb/app:{}", papi.replace('.', "-")));
        b.exporter(&papi)
            .insecure_registry(reg.host())
            .arg(&name)
            .run()
            .assert_ok();
        let img = open(
            &store,
            &name,
            &TargetRequest::new(arm64.clone(), TargetSource::Flags),
        )
        .unwrap()
        .required("app")
        .unwrap();
        assert_eq!(img.target().to_string(), "linux/arm64/v8", "{papi}");
        assert_eq!(img.env("CNB_PLATFORM_API"), Some(papi.as_str()));
        assert_eq!(b.report().image.digest, img.digest().to_string(), "{papi}");
        let md = LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap())
            .unwrap();
        assert_eq!(md.run_image.reference, children[1].identifier, "{papi}");
        assert!(
            md.buildpack("bp").unwrap().layers.contains_key("dep"),
            "{papi}"
        );
    }
}

#[test]
fn exports_to_a_registry_and_a_rebuild_uploads_no_layer() {
    let reg = Registry::start();
    let store = reg.store();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &run, &four_platforms(), "r");
    let b = Build::new("hi");
    let layers = &b.layers;
    let analyzed = |previous: &str, md: LayersMetadata| {
        b.analyzed(
            previous,
            run_image(
                &format!("{}/cnb/run@{}", reg.host(), children[1].digest),
                &run,
                Some(&Target::new("linux", "arm64", Some("v8"))),
            ),
            md,
        )
    };
    analyzed("", LayersMetadata::default());
    let name = reg.image("cnb/app:latest");
    let out = exporter(&b, &reg, &[&name, &reg.image("cnb/app:v1")]);
    out.assert_ok();
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
    let out = exporter(&b, &reg, &[&name]);
    out.assert_ok();
    let stdout = out.stdout();
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
    let store = reg.store();
    let run = reg.image("cnb/run:multi");
    let (_, children) = save_run_index(&store, &run, &four_platforms(), "r");
    let b = Build::new("hi");
    let (dir, layers) = (&b.dir, &b.layers);
    std::fs::remove_dir_all(layers.join("bp")).unwrap();
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
    b.analyzed(
        "",
        run_image(
            &format!("{}/cnb/run@{}", reg.host(), children[0].digest),
            &run,
            None,
        ),
        LayersMetadata::default(),
    );
    let cache = reg.image("cnb/cache:latest");
    let out = exporter(&b, &reg, &["-cache-image", &cache, &reg.image("cnb/app")]);
    out.assert_ok()
        .assert_output_has("Adding cache layer 'bp:deps'\n")
        .assert_output_has("Adding cache layer 'bp:runtime' (the app image's blob)");
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
        &b,
        &reg,
        &[
            "-cache-dir",
            cache_dir.to_str().unwrap(),
            "-cache-image",
            &cache,
            &reg.image("cnb/app"),
        ],
    );
    out.assert_output_has("Reusing cache layer 'bp:deps'");
    let stderr = out.stderr();
    assert!(!stderr.contains("failed to export the cache"), "{stderr}");
    assert!(!cache_dir.exists(), "the cache dir was written");
}
