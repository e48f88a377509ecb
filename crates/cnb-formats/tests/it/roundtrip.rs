//! Files the lifecycle writes read back to the same values; shapes that changed across APIs.

use cnb_api::Version;
use cnb_formats::analyzed::{Analyzed, ImageIdentifier, RunImage};
use cnb_formats::group::{Group, GroupElement};
use cnb_formats::labels::{
    BuildMetadata, BuildpackLayerMetadata, BuildpackLayersMetadata, LayerSha, LayersMetadata,
    RunImageForRebase,
};
use cnb_formats::metadata::{LaunchMetadata, Process};
use cnb_formats::plan::{Plan, PlanEntry, Require};
use cnb_formats::report::Report;
use cnb_formats::target::{Distro, TargetMetadata};
use cnb_formats::{read_toml, write_toml};

use crate::formats_dir;

fn layers_metadata() -> LayersMetadata {
    let mut layers = std::collections::BTreeMap::new();
    layers.insert(
        "hello".to_string(),
        BuildpackLayerMetadata {
            sha: "sha256:bb".into(),
            // Free-form metadata that uses the words we rename must survive untouched.
            data: serde_json::json!({"data": 1, "metadata": {"topLayer": "x"}}),
            launch: true,
            cache: true,
            build: false,
        },
    );
    LayersMetadata {
        app: vec![LayerSha {
            sha: "sha256:aa".into(),
        }],
        buildpacks: vec![BuildpackLayersMetadata {
            key: "bp".into(),
            version: "1".into(),
            layers,
            store: None,
        }],
        run_image: RunImageForRebase {
            top_layer: "sha256:cc".into(),
            reference: "r@sha256:dd".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn analyzed_round_trips_with_toml_key_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("analyzed.toml");
    let a = Analyzed {
        image: Some(ImageIdentifier {
            reference: "r/app@sha256:11".into(),
        }),
        build_image: None,
        run_image: Some(RunImage {
            reference: "r/run@sha256:22".into(),
            image: "r/run:1".into(),
            extend: false,
            target: Some(TargetMetadata {
                id: "base".into(),
                os: "linux".into(),
                arch: "arm64".into(),
                arch_variant: "v8".into(),
                distro: Some(Distro {
                    name: "ubuntu".into(),
                    version: "22.04".into(),
                }),
            }),
        }),
        metadata: layers_metadata(),
    };
    a.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("arch-variant = \"v8\""), "{text}");
    assert!(text.contains("top-layer"), "{text}");
    assert!(text.contains("[metadata.run-image]"), "{text}");
    assert!(
        !text.contains("runImage") && !text.contains("topLayer = \"sha256"),
        "{text}"
    );
    assert_eq!(Analyzed::read(&path).unwrap(), a);
    // No temp file is left next to it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn analyzed_fixture_reads_toml_metadata_as_the_label_shape() {
    let a = Analyzed::read(&formats_dir().join("analyzed/valid/papi-0.15.toml")).unwrap();
    let bp = a.metadata.buildpack("samples/hello-world").unwrap();
    assert_eq!(bp.layers["hello"].data["greeting"], "hi");
    assert_eq!(a.metadata.run_image.top_layer, "sha256:cccc");
    assert_eq!(a.target().unwrap().arch_variant, "v8");
    let spec = Analyzed::read(&formats_dir().join("analyzed/valid/spec-variant-key.toml")).unwrap();
    assert_eq!(spec.target().unwrap().arch_variant, "v7");
}

#[test]
fn lifecycle_label_round_trips() {
    let md = layers_metadata();
    let json = md.to_label().unwrap();
    assert!(
        json.contains("\"runImage\":{\"topLayer\":\"sha256:cc\""),
        "{json}"
    );
    assert_eq!(LayersMetadata::from_label(&json).unwrap(), md);
    assert_eq!(md.to_label().unwrap(), json, "deterministic");
}

#[test]
fn group_and_plan_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let g = Group {
        group: vec![GroupElement {
            id: "a".into(),
            version: "1".into(),
            api: "0.10".into(),
            ..Default::default()
        }],
        group_extensions: vec![],
    };
    g.write(&dir.path().join("group.toml")).unwrap();
    assert_eq!(Group::read(&dir.path().join("group.toml")).unwrap(), g);

    let mut metadata = toml::Table::new();
    metadata.insert("v".into(), toml::Value::String("1".into()));
    let p = Plan {
        entries: vec![PlanEntry {
            providers: vec![GroupElement {
                id: "a".into(),
                version: "1".into(),
                ..Default::default()
            }],
            requires: vec![Require {
                name: "dep".into(),
                version: String::new(),
                metadata,
            }],
        }],
    };
    write_toml(&dir.path().join("plan.toml"), &p).unwrap();
    assert_eq!(read_toml::<Plan>(&dir.path().join("plan.toml")).unwrap(), p);
    assert_eq!(p.for_buildpack("a").entries[0].name, "dep");
    assert!(p.for_buildpack("b").entries.is_empty());
}

#[test]
fn metadata_command_shape_follows_the_platform_api() {
    let md = LaunchMetadata {
        processes: vec![Process {
            r#type: "web".into(),
            command: vec!["hello".into(), "--loud".into()],
            args: vec!["world".into()],
            direct: true,
            buildpack_id: "bp".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.toml");
    md.write_for(&new, Version::new(0, 10)).unwrap();
    let text = std::fs::read_to_string(&new).unwrap();
    assert!(text.contains("command = [\"hello\", \"--loud\"]"), "{text}");
    assert_eq!(LaunchMetadata::read(&new).unwrap(), md);

    let old = dir.path().join("old.toml");
    md.write_for(&old, Version::new(0, 9)).unwrap();
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(text.contains("command = \"hello\""), "{text}");
    assert!(text.contains("args = [\"--loud\", \"world\"]"), "{text}");
    // Read back as a 0.9 launcher would: one command word, the rest are args.
    let back = LaunchMetadata::read_for(&old, Version::new(0, 9)).unwrap();
    assert_eq!(back.processes[0].command, ["hello"]);
    assert_eq!(back.processes[0].args, ["--loud", "world"]);
    // A 0.10 array file read by a 0.9 launcher moves extra words too.
    let back = LaunchMetadata::read_for(&new, Version::new(0, 9)).unwrap();
    assert_eq!(back.processes[0].args, ["--loud", "world"]);
}

#[test]
fn build_metadata_label_uses_json_names() {
    let md =
        LaunchMetadata::read(&formats_dir().join("metadata/valid/papi-0.10-array.toml")).unwrap();
    let label = BuildMetadata::from_launch_metadata(&md, Default::default())
        .to_label()
        .unwrap();
    assert!(
        label.contains("\"buildpackID\":\"samples/hello-world\""),
        "{label}"
    );
    assert!(
        label.contains("\"working-dir\":\"/workspace/sub\""),
        "{label}"
    );
    assert!(!label.contains("\"api\""), "{label}");
    assert_eq!(
        BuildMetadata::from_label(&label).unwrap().processes[0].command,
        ["hello", "--loud"]
    );
}

#[test]
fn buildpack_descriptor_accepts_both_exec_env_and_variant_forms() {
    use cnb_formats::descriptor::BuildpackDescriptor;
    let d =
        BuildpackDescriptor::read(&formats_dir().join("buildpack/valid/targets-and-exec-env.toml"))
            .unwrap();
    assert_eq!(d.buildpack.exec_env, ["production", "test"]);
    assert!(d.buildpack.clear_env);
    assert_eq!(d.targets[0].arch_variant, "v8");
    assert_eq!(d.targets[0].distros[0].version, "22.04");
    let s =
        BuildpackDescriptor::read(&formats_dir().join("buildpack/valid/spec-forms.toml")).unwrap();
    assert_eq!(s.buildpack.exec_env, ["test"]);
    assert_eq!(s.targets[0].arch_variant, "v7");
    let c =
        BuildpackDescriptor::read(&formats_dir().join("buildpack/valid/composite.toml")).unwrap();
    assert!(c.is_composite());
    assert!(c.order[0].group[1].optional);
}

#[test]
fn report_omits_empty_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.toml");
    let mut r = Report::default();
    r.image.tags = vec!["r/app".into()];
    write_toml(&path, &r).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("digest") && !text.contains("manifest-size") && !text.contains("image-id"),
        "{text}"
    );
    assert_eq!(read_toml::<Report>(&path).unwrap(), r);
}

#[test]
fn missing_optional_files_read_as_none_and_missing_required_files_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("run.toml");
    assert!(
        cnb_formats::read_toml_if_exists::<cnb_formats::run::RunMetadata>(&missing)
            .unwrap()
            .is_none()
    );
    let err = Group::read(&dir.path().join("group.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("group.toml"), "{err}");
}
