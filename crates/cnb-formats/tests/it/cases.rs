//! Every file kind: valid cases parse, invalid cases fail naming the file, the key and the problem.

use std::path::Path;

use cnb_formats::{
    FormatError, analyzed, build_toml, descriptor, detect_plan, exec_d, extend_config, group,
    labels, launch, layer, metadata, order, plan, project_metadata, read_toml, report, run, store,
    system,
};

use crate::formats_dir;

pub(crate) type Parse = fn(&Path) -> Result<(), FormatError>;

fn toml_of<T: serde::de::DeserializeOwned>(p: &Path) -> Result<(), FormatError> {
    read_toml::<T>(p).map(|_| ())
}

fn json_label(p: &Path, parse: fn(&str) -> Result<(), FormatError>) -> Result<(), FormatError> {
    parse(&std::fs::read_to_string(p).unwrap())
}

pub(crate) const KINDS: &[(&str, Parse)] = &[
    ("analyzed", |p| analyzed::Analyzed::read(p).map(|_| ())),
    ("group", |p| group::Group::read(p).map(|_| ())),
    ("plan", toml_of::<plan::Plan>),
    ("buildpack-plan", toml_of::<plan::BuildpackPlan>),
    ("detect-plan", toml_of::<detect_plan::DetectPlan>),
    ("order", |p| order::Order::read(p).map(|_| ())),
    ("run", toml_of::<run::RunMetadata>),
    ("stack", toml_of::<run::StackToml>),
    ("system", toml_of::<system::System>),
    ("metadata", |p| {
        metadata::LaunchMetadata::read(p).map(|_| ())
    }),
    ("report", toml_of::<report::Report>),
    (
        "project-metadata",
        toml_of::<project_metadata::ProjectMetadata>,
    ),
    ("buildpack", |p| {
        descriptor::BuildpackDescriptor::read(p).map(|_| ())
    }),
    ("extension", |p| {
        descriptor::ExtensionDescriptor::read(p).map(|_| ())
    }),
    ("launch", toml_of::<launch::LaunchToml>),
    ("build", toml_of::<build_toml::BuildToml>),
    ("layer", |p| layer::LayerMetadataFile::read(p).map(|_| ())),
    ("store", toml_of::<store::Store>),
    ("exec-d", |p| {
        exec_d::parse(&std::fs::read_to_string(p).unwrap(), p).map(|_| ())
    }),
    ("extend-config", toml_of::<extend_config::ExtendConfig>),
    ("lifecycle-metadata-label", |p| {
        json_label(p, |s| labels::LayersMetadata::from_label(s).map(|_| ()))
    }),
    ("build-metadata-label", |p| {
        json_label(p, |s| labels::BuildMetadata::from_label(s).map(|_| ()))
    }),
    ("project-metadata-label", |p| {
        json_label(p, |s| {
            project_metadata::ProjectMetadata::from_label(s).map(|_| ())
        })
    }),
    ("cache-metadata-label", |p| {
        json_label(p, |s| labels::CacheMetadata::from_label(s).map(|_| ()))
    }),
];

pub(crate) fn files(kind: &str, which: &str) -> Vec<std::path::PathBuf> {
    let dir = formats_dir().join(kind).join(which);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "expect"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_kind_has_valid_and_invalid_cases() {
    let mut on_disk: Vec<String> = std::fs::read_dir(formats_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = KINDS.iter().map(|(k, _)| k.to_string()).collect();
    known.sort();
    assert_eq!(on_disk, known);
    for (kind, _) in KINDS {
        assert!(!files(kind, "valid").is_empty(), "{kind} has no valid case");
        assert!(
            !files(kind, "invalid").is_empty(),
            "{kind} has no invalid case"
        );
    }
}

#[test]
fn valid_cases_parse() {
    for (kind, parse) in KINDS {
        for f in files(kind, "valid") {
            if let Err(e) = parse(&f) {
                panic!("{kind}: {}: {e}", f.display());
            }
        }
    }
}

#[test]
fn invalid_cases_fail_naming_file_key_and_problem() {
    for (kind, parse) in KINDS {
        for f in files(kind, "invalid") {
            let expect = std::fs::read_to_string(f.with_extension(format!(
                "{}.expect",
                f.extension().unwrap().to_string_lossy()
            )))
            .unwrap();
            let field = |name: &str| {
                expect
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}=")))
                    .unwrap_or("")
                    .to_string()
            };
            let err = match parse(&f) {
                Ok(()) => panic!("{kind}: {} parsed but is invalid", f.display()),
                Err(e) => e,
            };
            let msg = err.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            let file_name = f.file_name().unwrap().to_string_lossy();
            // Labels are named by their label key, files by their path.
            if kind.ends_with("-label") {
                assert!(msg.contains("io.buildpacks."), "{kind}: {msg}");
            } else {
                assert!(msg.contains(file_name.as_ref()), "{kind}: {msg}");
            }
            let key = field("key");
            if !key.is_empty() {
                assert!(
                    msg.contains(&format!("key '{key}'")),
                    "{kind}: expected key '{key}' in: {msg}"
                );
            }
            let words = field("message");
            assert!(msg.contains(&words), "{kind}: expected '{words}' in: {msg}");
        }
    }
}
