//! Exports to OCI layouts: layer order, labels, config, reuse, reproducibility, the arch rules.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cnb_formats::analyzed::Analyzed;
use cnb_formats::labels::{BuildMetadata, LayersMetadata};
use cnb_formats::report::Report;
use cnb_formats::target::TargetMetadata;
use cnb_image::{Image, LayoutStore, Target, TargetRequest, TargetSource, open};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};
use cnb_test_support::tools::umoci_unpack;

use crate::harness::{PhaseOutput, PhaseRun, api_at_least, platform_apis_since};
pub(crate) use crate::harness::{ok, write};

pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) layers: PathBuf,
    pub(crate) app: PathBuf,
    store: LayoutStore,
    run_children: Vec<cnb_image::Saved>,
}

/// A layers dir as the builder leaves it, an app, a launcher, and a multi-arch run image.
pub(crate) fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("layout-repo");
    let layers = dir.path().join("layers");
    let app = dir.path().join("workspace");
    let store = LayoutStore::new(&root);
    let (_, run_children) = save_run_index(
        &store,
        "registry.test/run:multi",
        &four_platforms(),
        "run-v1",
    );
    write(
        &layers.join("group.toml"),
        "[[group]]\nid = \"samples/hello-world\"\nversion = \"0.0.1\"\napi = \"0.10\"\n",
    );
    let bp = layers.join("samples_hello-world");
    write(&bp.join("hello/bin/hello"), "#!/bin/sh\necho hello\n");
    std::fs::set_permissions(
        bp.join("hello/bin/hello"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    write(
        &bp.join("hello.toml"),
        "[types]\nlaunch = true\ncache = true\n\n[metadata]\ngreeting = \"hi\"\n",
    );
    write(&bp.join("build-only/f"), "x");
    write(&bp.join("build-only.toml"), "[types]\nbuild = true\n");
    write(&bp.join("store.toml"), "[metadata]\nruns = 1\n");
    write(
        &layers.join("config/metadata.toml"),
        "buildpack-default-process-type = \"web\"\n\n[[buildpacks]]\nid = \"samples/hello-world\"\nversion = \"0.0.1\"\napi = \"0.10\"\n\n[[labels]]\nkey = \"io.samples.hello\"\nvalue = \"yes\"\n\n[[processes]]\ntype = \"web\"\ncommand = [\"hello\"]\nargs = []\ndirect = true\nbuildpack-id = \"samples/hello-world\"\n\n[[processes]]\ntype = \"worker\"\ncommand = [\"hello\", \"--work\"]\nargs = []\ndirect = true\nbuildpack-id = \"samples/hello-world\"\n",
    );
    write(&app.join("run.sh"), "#!/bin/sh\necho app\n");
    write(&dir.path().join("launcher"), "#!/bin/sh\necho launcher\n");
    let w = World {
        dir,
        root,
        layers,
        app,
        store,
        run_children,
    };
    set_analyzed(&w, 1, "", LayersMetadata::default());
    w
}

/// analyzed.toml recording child `child` of the run index and the previous image `previous`.
fn set_analyzed(w: &World, child: usize, previous: &str, metadata: LayersMetadata) {
    let reference = format!(
        "{}@{}",
        w.root.join("registry.test/run/multi").display(),
        w.run_children[child].digest
    );
    crate::harness::write_analyzed(
        &w.layers,
        previous,
        crate::harness::run_image(
            &reference,
            "registry.test/run:multi",
            Some(&four_platforms()[child]),
        ),
        metadata,
    );
}

/// The exporter at `papi` for the world's build, writing to the layout `root`.
pub(crate) fn command(w: &World, papi: &str, root: &Path) -> PhaseRun {
    crate::harness::exporter(papi, &w.layers, &w.app, &w.dir.path().join("launcher")).layout(root)
}

pub(crate) fn exporter(w: &World, root: &Path, env: &[(&str, &str)], args: &[&str]) -> PhaseOutput {
    command(w, "0.15", root)
        .envs(env.iter().copied())
        .args(args)
        .run()
}

pub(crate) fn app_image(root: &Path, name: &str, arch: &str) -> Image {
    let store = LayoutStore::new(root);
    open(
        &store,
        name,
        &TargetRequest::new(Target::new("linux", arch, None), TargetSource::Flags),
    )
    .unwrap()
    .required(name)
    .unwrap()
}

/// At every Platform API with layouts (0.12 on).
#[test]
fn exports_an_app_image_on_the_recorded_arm64_child() {
    for papi in platform_apis_since("0.12") {
        exports_on_the_arm64_child_at(&papi);
    }
}

fn exports_on_the_arm64_child_at(papi: &str) {
    let w = world();
    let stdout = ok(&command(&w, papi, &w.root)
        .args(["registry.test/app:latest", "registry.test/app:v1"])
        .run());
    for line in [
        "Adding layer 'samples/hello-world:hello'",
        "Adding layer 'app'",
        "Adding layer 'buildpacksio/lifecycle:launcher'",
        "Adding layer 'buildpacksio/lifecycle:config'",
        "Adding layer 'buildpacksio/lifecycle:process-types'",
        "Saving registry.test/app:latest...",
        "*** Images (",
        "registry.test/app:v1",
        "*** Digest: sha256:",
    ] {
        assert!(
            stdout.contains(line),
            "{papi}: missing '{line}' in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("build-only"), "{stdout}");
    let img = app_image(&w.root, "registry.test/app:latest", "arm64");
    assert_eq!(img.target().to_string(), "linux/arm64/v8", "{papi}");
    let run = app_image(&w.root, "registry.test/run:multi", "arm64");
    let layers = img.layers();
    assert_eq!(
        layers.len(),
        6,
        "run + hello + app + launcher + config + process-types"
    );
    assert_eq!(
        layers[0].digest,
        run.layers()[0].digest,
        "the run image's layer is kept by digest"
    );

    let md =
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    assert_eq!(md.run_image.reference, run.identifier);
    assert_eq!(md.run_image.top_layer, run.top_layer().unwrap().to_string());
    assert_eq!(md.run_image.image, "registry.test/run:multi");
    let hello = &md.buildpack("samples/hello-world").unwrap().layers["hello"];
    assert_eq!(hello.sha, layers[1].diff_id.to_string());
    assert!(hello.launch && hello.cache && !hello.build);
    assert_eq!(hello.data["greeting"], "hi");
    assert_eq!(md.app[0].sha, layers[2].diff_id.to_string());
    assert_eq!(md.launcher.sha, layers[3].diff_id.to_string());
    assert_eq!(md.config.sha, layers[4].diff_id.to_string());
    assert_eq!(md.process_types.sha, layers[5].diff_id.to_string());
    assert_eq!(md.buildpacks[0].store.as_ref().unwrap().metadata["runs"], 1);
    let build =
        BuildMetadata::from_label(img.label("io.buildpacks.build.metadata").unwrap()).unwrap();
    assert_eq!(build.processes.len(), 2);
    assert_eq!(img.label("io.samples.hello"), Some("yes"));
    // The execution environment is recorded from Platform API 0.15 on.
    assert_eq!(
        img.label("io.buildpacks.exec-env"),
        api_at_least(papi, "0.15").then_some("production"),
        "{papi}"
    );
    assert_eq!(img.label("io.buildpacks.rebasable"), Some("true"));
    assert_eq!(img.label("io.buildpacks.project.metadata"), Some("{}"));
    assert_eq!(
        img.label("io.buildpacks.base.distro.name"),
        Some("ubuntu"),
        "run image labels are kept"
    );

    let c = &img.config.config;
    assert_eq!(
        c.entrypoint.as_deref(),
        Some(&["/cnb/process/web".to_string()][..])
    );
    assert_eq!(c.cmd.as_deref(), Some(&[][..]));
    assert_eq!(c.working_dir.as_deref(), Some(w.app.to_str().unwrap()));
    assert_eq!(img.env("CNB_LAYERS_DIR"), Some(w.layers.to_str().unwrap()));
    assert_eq!(img.env("CNB_PLATFORM_API"), Some(papi));
    assert_eq!(img.env("CNB_DEPRECATION_MODE"), Some("quiet"));
    assert_eq!(
        img.env("PATH"),
        Some("/cnb/process:/cnb/lifecycle:/usr/local/bin:/usr/bin:/bin")
    );
    assert_eq!(img.config.created.as_deref(), Some("1980-01-01T00:00:01Z"));
    assert_eq!(
        img.config.history.last().unwrap().created_by.as_deref(),
        Some("buildpacksio/lifecycle:process-types")
    );

    let report: Report = cnb_formats::read_toml(&w.layers.join("report.toml")).unwrap();
    assert_eq!(
        report.image.tags,
        ["registry.test/app:latest", "registry.test/app:v1"]
    );
    assert_eq!(report.image.digest, img.digest().to_string());
    assert_eq!(report.image.manifest_size, img.raw.bytes.len() as u64);
    assert_eq!(
        app_image(&w.root, "registry.test/app:v1", "arm64").digest(),
        img.digest()
    );
}

#[test]
fn umoci_unpacks_the_app_image_with_everything_in_place() {
    let w = world();
    exporter(&w, &w.root, &[], &["registry.test/app:latest"]).assert_ok();
    let bundle = w.dir.path().join("unpacked");
    let layout = w.root.join("registry.test/app/latest");
    umoci_unpack(&format!("{}:latest", layout.display()), &bundle);
    let rel = |p: &Path| bundle.join(p.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(bundle.join("arch")).unwrap(),
        "linux/arm64/v8"
    );
    assert!(rel(&w.layers.join("samples_hello-world/hello/bin/hello")).is_file());
    assert!(!rel(&w.layers.join("samples_hello-world/build-only")).exists());
    assert!(rel(&w.layers.join("config/metadata.toml")).is_file());
    assert!(rel(&w.app.join("run.sh")).is_file());
    assert!(bundle.join("cnb/lifecycle/launcher").is_file());
    assert_eq!(
        std::fs::read_link(bundle.join("cnb/process/worker")).unwrap(),
        Path::new("/cnb/lifecycle/launcher")
    );
}

#[test]
fn same_inputs_give_the_same_digest() {
    let w = world();
    let a = w.dir.path().join("out-a");
    let b = w.dir.path().join("out-b");
    for root in [&a, &b] {
        save_run_index(
            &LayoutStore::new(root),
            "registry.test/run:multi",
            &four_platforms(),
            "run-v1",
        );
    }
    // analyzed.toml points at the run image under w.root; both exports read it from there.
    exporter(&w, &w.root, &[], &["registry.test/app:a"]).assert_ok();
    let first: Report = cnb_formats::read_toml(&w.layers.join("report.toml")).unwrap();
    exporter(&w, &w.root, &[], &["registry.test/app:b"]).assert_ok();
    let second: Report = cnb_formats::read_toml(&w.layers.join("report.toml")).unwrap();
    assert_eq!(first.image.digest, second.image.digest);
    exporter(
        &w,
        &w.root,
        &[("SOURCE_DATE_EPOCH", "1700000000")],
        &["registry.test/app:c"],
    )
    .assert_ok();
    let img = app_image(&w.root, "registry.test/app:c", "arm64");
    assert_eq!(img.config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_ne!(img.digest().to_string(), first.image.digest);
}

#[test]
fn a_rebuild_reuses_unchanged_layers_from_the_previous_image() {
    let w = world();
    exporter(&w, &w.root, &[], &["registry.test/app:latest"]).assert_ok();
    let first = app_image(&w.root, "registry.test/app:latest", "arm64");
    let md = LayersMetadata::from_label(first.label("io.buildpacks.lifecycle.metadata").unwrap())
        .unwrap();
    set_analyzed(&w, 1, &first.identifier, md.clone());
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:latest"]));
    for id in [
        "samples/hello-world:hello",
        "app",
        "buildpacksio/lifecycle:launcher",
        "buildpacksio/lifecycle:config",
        "buildpacksio/lifecycle:process-types",
    ] {
        assert!(
            stdout.contains(&format!("Reusing layer '{id}'")),
            "{id}: {stdout}"
        );
    }
    assert!(!stdout.contains("Adding layer"), "{stdout}");
    assert_eq!(
        app_image(&w.root, "registry.test/app:latest", "arm64").digest(),
        first.digest()
    );

    // One change: only the app layer is added again.
    write(&w.app.join("run.sh"), "#!/bin/sh\necho changed\n");
    set_analyzed(&w, 1, &first.identifier, md);
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:latest"]));
    assert!(
        stdout.contains("Adding layer 'app'")
            && stdout.contains("Reusing layer 'samples/hello-world:hello'"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("Adding layer").count(), 1, "{stdout}");
}

#[test]
fn a_launch_layer_without_contents_is_reused_or_refused() {
    let w = world();
    exporter(&w, &w.root, &[], &["registry.test/app:latest"]).assert_ok();
    let first = app_image(&w.root, "registry.test/app:latest", "arm64");
    let md = LayersMetadata::from_label(first.label("io.buildpacks.lifecycle.metadata").unwrap())
        .unwrap();
    let bp = w.layers.join("samples_hello-world");
    std::fs::remove_dir_all(bp.join("hello")).unwrap();
    write(&bp.join("hello.toml"), "[types]\nlaunch = true\n");
    set_analyzed(&w, 1, &first.identifier, md);
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:latest"]));
    assert!(
        stdout.contains("Reusing layer 'samples/hello-world:hello'"),
        "{stdout}"
    );
    set_analyzed(&w, 1, "", LayersMetadata::default());
    let out = exporter(&w, &w.root, &[], &["registry.test/app:latest"]);
    out.assert_exit(62);
    out.assert_output_has(
        "layer 'samples/hello-world:hello' has no contents to export and cannot be reused",
    );
}

#[test]
fn arch_rules() {
    let w = world();
    // A flag that disagrees with the recorded child.
    let out = exporter(
        &w,
        &w.root,
        &[],
        &["-arch", "amd64", "registry.test/app:latest"],
    );
    out.assert_exit(62);
    out.assert_output_has("is for linux/arm64/v8, but the build is for linux/amd64");
    // A previous image of another arch.
    let prev = save_run_image(
        &w.store,
        "registry.test/app:old",
        &Target::new("linux", "amd64", None),
        "prev",
    );
    set_analyzed(&w, 1, &prev.identifier, LayersMetadata::default());
    let out = exporter(&w, &w.root, &[], &["registry.test/app:latest"]);
    out.assert_exit(62);
    out.assert_output_has("is for linux/amd64 but the run image is for linux/arm64/v8");
    // The recorded target resolves an index reference to the right child (arm/v6 here).
    let mut a = Analyzed::read(&w.layers.join("analyzed.toml")).unwrap();
    a.image = None;
    let run = a.run_image.as_mut().unwrap();
    run.reference = "registry.test/run:multi".into();
    run.target = Some(TargetMetadata {
        os: "linux".into(),
        arch: "arm".into(),
        arch_variant: "v6".into(),
        ..Default::default()
    });
    a.write(&w.layers.join("analyzed.toml")).unwrap();
    exporter(&w, &w.root, &[], &["registry.test/app:v6"]).assert_ok();
    let v6 = TargetRequest::new(Target::new("linux", "arm", Some("v6")), TargetSource::Flags);
    let img = open(&w.store, "registry.test/app:v6", &v6)
        .unwrap()
        .required("app")
        .unwrap();
    assert_eq!(img.target().to_string(), "linux/arm/v6");
    let run_v6 = open(&w.store, "registry.test/run:multi", &v6)
        .unwrap()
        .required("run")
        .unwrap();
    assert_eq!(run_v6.digest(), &w.run_children[3].digest);
    assert_eq!(img.layers()[0].digest, run_v6.layers()[0].digest);
}

#[test]
fn bad_inputs() {
    let w = world();
    let out = exporter(
        &w,
        &w.root,
        &[],
        &["-process-type", "nope", "registry.test/app:latest"],
    );
    out.assert_exit(62);
    out.assert_output_has("default process type 'nope'");
    let out = exporter(&w, &w.root, &[], &[]);
    out.assert_exit(3);
    std::fs::remove_file(w.layers.join("group.toml")).unwrap();
    let out = exporter(&w, &w.root, &[], &["registry.test/app:latest"]);
    out.assert_exit(62);
    out.assert_output_has("group.toml");
    let _ = &w.store;
}

#[test]
fn the_cache_dir_gets_cache_layers_and_a_broken_cache_only_warns() {
    let w = world();
    let cache = w.dir.path().join("cache");
    let stdout = ok(&exporter(
        &w,
        &w.root,
        &[],
        &[
            "-cache-dir",
            cache.to_str().unwrap(),
            "registry.test/app:latest",
        ],
    ));
    assert!(
        stdout.contains("Adding cache layer 'samples/hello-world:hello'"),
        "{stdout}"
    );
    let md =
        std::fs::read_to_string(cache.join("committed/io.buildpacks.lifecycle.cache.metadata"))
            .unwrap();
    let md = cnb_formats::labels::CacheMetadata::from_label(&md).unwrap();
    let hello = &md.buildpack("samples/hello-world").unwrap().layers["hello"];
    assert!(hello.cache && hello.launch);
    assert!(cache.join(format!("committed/{}.tar", hello.sha)).is_file());
    assert!(
        !md.buildpack("samples/hello-world")
            .unwrap()
            .layers
            .contains_key("build-only"),
        "not cache = true"
    );
    let stdout = ok(&exporter(
        &w,
        &w.root,
        &[],
        &[
            "-cache-dir",
            cache.to_str().unwrap(),
            "registry.test/app:latest",
        ],
    ));
    assert!(
        stdout.contains("Reusing cache layer 'samples/hello-world:hello'"),
        "{stdout}"
    );
    assert!(!cache.join("committed-backup").exists() && !cache.join("staging").exists());
    // A cache that cannot be written: the export still succeeds, with a warning.
    let file = w.dir.path().join("not-a-dir");
    write(&file, "x");
    let out = exporter(
        &w,
        &w.root,
        &[],
        &[
            "-cache-dir",
            file.to_str().unwrap(),
            "registry.test/app:latest",
        ],
    );
    out.assert_ok();
    out.assert_output_has("failed to export the cache");
}

#[test]
fn the_launcher_sbom_joins_the_sbom_layer() {
    let w = world();
    let sbom_dir = w.dir.path().join("lifecycle");
    write(
        &sbom_dir.join("launcher.sbom.cdx.json"),
        "{\"launcher\":true}",
    );
    write(&sbom_dir.join("lifecycle.sbom.cdx.json"), "{}");
    exporter(
        &w,
        &w.root,
        &[],
        &[
            "-launcher-sbom",
            sbom_dir.to_str().unwrap(),
            "registry.test/app:latest",
        ],
    )
    .assert_ok();
    let copied = w
        .layers
        .join("sbom/launch/buildpacksio_lifecycle/launcher/sbom.cdx.json");
    assert_eq!(
        std::fs::read_to_string(&copied).unwrap(),
        "{\"launcher\":true}"
    );
    let img = app_image(&w.root, "registry.test/app:latest", "arm64");
    let md =
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    let sbom = md.sbom.expect("an sbom layer");
    assert_eq!(
        img.layers()[2].diff_id.to_string(),
        sbom.sha,
        "after the buildpack layers, before the app"
    );
    assert_eq!(img.layers().len(), 7);
}

#[test]
fn slices_make_their_own_layers() {
    let w = world();
    write(&w.app.join("static/logo.png"), "png");
    write(&w.app.join("static/css/site.css"), "css");
    write(&w.app.join("vendor/lib.js"), "js");
    let md_path = w.layers.join("config/metadata.toml");
    let md = std::fs::read_to_string(&md_path).unwrap();
    std::fs::write(&md_path, format!("{md}\n[[slices]]\npaths = [\"static\"]\n\n[[slices]]\npaths = [\"vendor/*.js\", \"static/*\"]\n\n[[slices]]\npaths = [\"nothing/*\"]\n")).unwrap();
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:sliced"]));
    for id in ["slice-1", "slice-2", "slice-3", "app"] {
        assert!(
            stdout.contains(&format!("Adding layer '{id}'")),
            "{id}: {stdout}"
        );
    }
    let img = app_image(&w.root, "registry.test/app:sliced", "arm64");
    let md =
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    assert_eq!(md.app.len(), 4, "three slices and the rest");
    // Unpack and check which layer holds what.
    let bundle = w.dir.path().join("unpacked-sliced");
    let layout = w.root.join("registry.test/app/sliced");
    umoci_unpack(&format!("{}:sliced", layout.display()), &bundle);
    let rel = |p: &Path| bundle.join(p.strip_prefix("/").unwrap());
    for f in [
        "static/logo.png",
        "static/css/site.css",
        "vendor/lib.js",
        "run.sh",
    ] {
        assert!(rel(&w.app.join(f)).is_file(), "{f}");
    }
    // Each slice layer holds exactly its files (dirs aside).
    let files_of = |sha: &str| -> Vec<String> {
        let layer = img
            .layers()
            .into_iter()
            .find(|l| l.diff_id.to_string() == sha)
            .unwrap();
        let out = tempfile::tempdir().unwrap();
        let reader =
            cnb_image::BlobStore::blob(&w.store, "registry.test/app:sliced", &layer.digest)
                .unwrap();
        cnb_archive::extract(reader, out.path(), &cnb_archive::ExtractOptions::default()).unwrap();
        let app_in = out.path().join(w.app.strip_prefix("/").unwrap());
        let mut files: Vec<String> = walk_files(&app_in)
            .into_iter()
            .map(|p| p.strip_prefix(&app_in).unwrap().display().to_string())
            .collect();
        files.sort();
        files
    };
    assert_eq!(
        files_of(&md.app[0].sha),
        ["static/css/site.css", "static/logo.png"]
    );
    assert_eq!(files_of(&md.app[1].sha), ["vendor/lib.js"]);
    assert!(files_of(&md.app[2].sha).is_empty());
    assert_eq!(files_of(&md.app[3].sha), ["run.sh"]);
    // A rebuild with nothing changed reuses every slice.
    let first = md.clone();
    set_analyzed(&w, 1, &img.identifier, first);
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:sliced"]));
    for id in ["slice-1", "slice-2", "slice-3", "app"] {
        assert!(
            stdout.contains(&format!("Reusing layer '{id}'")),
            "{id}: {stdout}"
        );
    }
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn zstd_layers_are_opt_in_and_reuse_goes_by_diff_id_across_a_compression_change() {
    const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    let w = world();
    let run_layers = app_image(&w.root, "registry.test/run:multi", "arm64")
        .manifest
        .layers
        .len();
    let zstd = [("CNB_LAYER_COMPRESSION", "zstd")];
    exporter(&w, &w.root, &zstd, &["registry.test/app:latest"]).assert_ok();
    let first = app_image(&w.root, "registry.test/app:latest", "arm64");
    let types: Vec<&str> = first
        .manifest
        .layers
        .iter()
        .map(|l| l.media_type.as_str())
        .collect();
    assert!(types[run_layers..].iter().all(|t| *t == ZSTD), "{types:?}");
    assert!(types[..run_layers].iter().all(|t| *t != ZSTD), "{types:?}");

    // Back to gzip with the zstd image as the previous one: every layer is reused as it is.
    let md = LayersMetadata::from_label(first.label("io.buildpacks.lifecycle.metadata").unwrap())
        .unwrap();
    set_analyzed(&w, 1, &first.identifier, md.clone());
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:latest"]));
    assert!(!stdout.contains("Adding layer"), "{stdout}");
    assert_eq!(
        app_image(&w.root, "registry.test/app:latest", "arm64").digest(),
        first.digest()
    );

    // A changed app layer is written as gzip; the buildpack's layer stays the zstd one.
    write(&w.app.join("run.sh"), "#!/bin/sh\necho changed\n");
    set_analyzed(&w, 1, &first.identifier, md);
    let stdout = ok(&exporter(&w, &w.root, &[], &["registry.test/app:latest"]));
    assert_eq!(stdout.matches("Adding layer").count(), 1, "{stdout}");
    let second = app_image(&w.root, "registry.test/app:latest", "arm64");
    let (mut gzip, mut zstd_n) = (0, 0);
    for l in &second.manifest.layers[run_layers..] {
        match l.media_type.as_str() {
            GZIP => gzip += 1,
            ZSTD => zstd_n += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (gzip, zstd_n),
        (1, second.manifest.layers.len() - run_layers - 1)
    );

    let out = exporter(
        &w,
        &w.root,
        &[("CNB_LAYER_COMPRESSION", "brotli")],
        &["registry.test/app:other"],
    );
    assert!(!out.status.success());
    out.assert_output_has("invalid CNB_LAYER_COMPRESSION 'brotli'");
}
