//! Hostile input: image references and the JSON of an OCI layout (index.json, manifest, config),
//! arbitrary or mutated from a valid image, never panic; a parsed reference round-trips through
//! `Display`. `CNB_FUZZ_CASES` raises the case count (`make fuzz`).

use std::path::Path;

use cnb_image::{Digest, ImageRef, LayoutStore, Opened, Target, TargetRequest, TargetSource, open};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

fn config(default: u32) -> Config {
    let cases = std::env::var("CNB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    // Failures become named regression tests, not files in the source tree.
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

/// Characters references are made of, and a few they must not contain, so generated strings
/// reach every branch of the parser rather than failing on the first character.
const REF_CHARS: &[char] = &[
    'a', 'b', 'z', 'A', '0', '9', '.', '-', '_', '/', ':', '@', ' ', 'é', '[', ']',
];

const REF_PARTS: &[&str] = &[
    "a",
    "b0",
    ".",
    "..",
    "",
    "a.b",
    "a..b",
    "-a",
    "a-",
    "_a",
    "a__b",
    "localhost",
    "a:1",
    ":1",
];

fn reference() -> impl Strategy<Value = String> {
    let digest = prop_oneof![
        Just(format!("@sha256:{}", "a".repeat(64))),
        Just("@sha256:".to_string()),
        Just("@sha512:00".to_string()),
        Just(String::new()),
    ];
    let body = prop::collection::vec(prop::sample::select(REF_CHARS), 0..40)
        .prop_map(|v| v.into_iter().collect::<String>());
    let host = prop::sample::select(vec!["", "localhost/", "a.b/", "a.b:5000/", "[::1]:5000/"]);
    // Whole path parts, so that `.`, `..` and empty parts turn up as components.
    let parts =
        prop::collection::vec(prop::sample::select(REF_PARTS), 1..5).prop_map(|v| v.join("/"));
    let tag = prop::sample::select(&["", ":t", ":.", ":..", ":-x", ":_x", ":"][..]);
    prop_oneof![
        any::<String>(),
        (host.clone(), body, digest.clone()).prop_map(|(h, b, d)| format!("{h}{b}{d}")),
        (host, parts, tag, digest).prop_map(|(h, p, t, d)| format!("{h}{p}{t}{d}")),
    ]
}

/// Any JSON value, nested a little: what a hostile document puts where a field should be.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
        Just(Value::from(format!("sha256:{}", "0".repeat(64)))),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the node that `path` walks to (object members and array elements picked by index)
/// with `value`; a structure-aware mutation that keeps the rest of the document valid.
fn replace_at(node: &mut Value, path: &[prop::sample::Index], value: Value) {
    let child = match (node, path.first()) {
        (Value::Object(m), Some(step)) if !m.is_empty() => {
            let i = step.index(m.len());
            m.values_mut().nth(i)
        }
        (Value::Array(a), Some(step)) if !a.is_empty() => {
            let i = step.index(a.len());
            a.get_mut(i)
        }
        (node, _) => {
            *node = value;
            return;
        }
    };
    if let Some(child) = child {
        replace_at(child, &path[1..], value);
    }
}

#[derive(Debug, Clone)]
enum Doc {
    /// The valid document with one node replaced.
    Mutated(Vec<prop::sample::Index>, Value),
    /// Bytes that need not be JSON at all.
    Bytes(Vec<u8>),
}

fn doc() -> impl Strategy<Value = Doc> {
    prop_oneof![
        3 => (prop::collection::vec(any::<prop::sample::Index>(), 0..5), json_value())
            .prop_map(|(p, v)| Doc::Mutated(p, v)),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Doc::Bytes),
    ]
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn render(mut valid: Value, d: &Option<Doc>) -> Vec<u8> {
    match d {
        None => serde_json::to_vec(&valid).unwrap(),
        Some(Doc::Mutated(path, value)) => {
            replace_at(&mut valid, path, value.clone());
            serde_json::to_vec(&valid).unwrap()
        }
        Some(Doc::Bytes(b)) => b.clone(),
    }
}

fn put_blob(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = Digest::of(bytes);
    std::fs::write(dir.join("blobs/sha256").join(digest.hex()), bytes).unwrap();
    (digest.to_string(), bytes.len())
}

/// Writes an OCI layout whose index.json points at a platform index that points at one image,
/// each document valid or hostile, and opens it for linux/amd64: whether it found the image.
fn open_layout(docs: &[Option<Doc>; 4]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}, "config": {"Labels": {"a": "b"}}});
    let (c, c_size) = put_blob(dir.path(), &render(config, &docs[0]));
    let manifest = json!({"schemaVersion": 2, "mediaType": MANIFEST, "layers": [],
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": c, "size": c_size}});
    let (m, m_size) = put_blob(dir.path(), &render(manifest, &docs[1]));
    let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": MANIFEST, "digest": m, "size": m_size,
            "platform": {"os": "linux", "architecture": "amd64"}}]});
    let (i, i_size) = put_blob(dir.path(), &render(index, &docs[2]));
    let index_json = json!({"schemaVersion": 2, "manifests": [{"mediaType": INDEX,
        "digest": i, "size": i_size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(dir.path().join("index.json"), render(index_json, &docs[3])).unwrap();

    let store = LayoutStore::new(dir.path());
    let request = TargetRequest::new(Target::new("linux", "amd64", None), TargetSource::Flags);
    let name = dir.path().to_string_lossy().into_owned();
    match open(&store, &name, &request) {
        Ok(opened) => matches!(opened, Opened::Found(_)),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "error is not one line: {msg:?}");
            false
        }
    }
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn image_refs_never_panic_and_round_trip(s in reference()) {
        if let Ok(r) = ImageRef::parse(&s) {
            let shown = r.to_string();
            let again = ImageRef::parse(&shown)
                .unwrap_or_else(|e| panic!("{s:?} shows as {shown:?}, which does not parse: {e}"));
            prop_assert_eq!(&again, &r, "{:?} shows as {:?}", s, shown);
            // A layout store maps names to dirs with this: it must not climb out of its root.
            let root = Path::new("/layout");
            let dir = r.layout_path(root);
            let climbs = dir.components().any(|c| c == std::path::Component::ParentDir);
            prop_assert!(dir.starts_with(root) && !climbs, "{:?} maps to {:?}", s, dir);
        }
    }

    #[test]
    fn hostile_layout_json_never_panics(
        docs in [
            prop::option::of(doc()),
            prop::option::of(doc()),
            prop::option::of(doc()),
            prop::option::of(doc()),
        ],
    ) {
        open_layout(&docs);
    }
}

#[test]
fn the_valid_layout_opens() {
    // The generator's baseline must be a real image, or mutations would only ever test errors.
    assert!(open_layout(&[None, None, None, None]));
}

/// Found by `image_refs_never_panic_and_round_trip`: `.` and `..` passed as repository parts,
/// tags and registries, and a layout store turned them into paths out of its root.
#[test]
fn regression_dot_dot_references_are_refused() {
    for bad in [
        "..",
        "a.b/../../etc",
        "a.b/x:..",
        "../x",
        "localhost/a/.",
        ".:5000/a",
    ] {
        let err = ImageRef::parse(bad).unwrap_err().to_string();
        assert!(err.contains(&format!("'{bad}'")), "{err}");
    }
}
