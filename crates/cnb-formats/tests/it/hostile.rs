//! Hostile input: arbitrary text and mutations of the valid cases, read as every file kind and
//! label, never panic, and every error is one line naming the file (or the label).
//!
//! The case count is small so the normal test run stays fast; `CNB_FUZZ_CASES` raises it
//! (`make fuzz`).

use std::path::Path;

use cnb_formats::{FormatError, dockerfile, exec_d, labels, metadata, read_toml};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::cases::{KINDS, files};

fn config(default: u32) -> Config {
    let cases = std::env::var("CNB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    // Failures become named regression tests below, not files in the source tree.
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

/// Pieces of TOML and JSON syntax that mutations splice in, so mutated files get past the
/// tokenizer into the typed parsers.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    ",",
    ".",
    ":",
    "\n",
    "\\",
    "\\u",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "true",
    "null",
    "nan",
    "inf",
    "1979-05-27T07:32:00Z",
    "\u{0}",
    "\u{feff}",
    "é",
    "[a]\n",
    "[[a]]\n",
    "a.b.c = 1\n",
    "x = []\n",
    "x = {}\n",
    "\"\" = 1\n",
    "{\"a\":",
    "[[",
    "]]",
    // Dockerfile syntax, for the extension Dockerfiles read as the same text
    "FROM ",
    "ARG ",
    "RUN ",
    "COPY --from=",
    "${",
    "$",
    "\\\n",
    "# syntax=",
    " AS ",
    "USER ",
];

/// Valid extension Dockerfiles (there is no testdata folder of them) to mutate alongside the
/// valid spec files.
const DOCKERFILES: &[&str] = &[
    "ARG base_image\nFROM ${base_image}\nRUN echo hi\n",
    "FROM registry.local/run:1\n",
    "ARG base_image=x\nARG build_id=0\nFROM ${base_image}\nUSER root\nRUN --mount=type=cache,target=/c true\nUSER 1000\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
    Flip(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..64usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), 1..256usize).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        let at = |a: usize| if len == 0 { 0 } else { a % (len + 1) };
        match *m {
            Mutation::Delete(a, n) => {
                let s = at(a);
                bytes.drain(s..(s + n).min(len));
            }
            Mutation::Insert(a, t) => {
                let s = at(a);
                bytes.splice(s..s, TOKENS[t].bytes());
            }
            Mutation::Duplicate(a, n) => {
                let s = at(a);
                let piece = bytes[s..(s + n).min(len)].to_vec();
                bytes.splice(s..s, piece);
            }
            Mutation::Flip(a, b) if len > 0 => bytes[a % len] ^= b,
            Mutation::Flip(..) => {}
        }
    }
    bytes
}

fn valid_cases() -> &'static [Vec<u8>] {
    static CASES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CASES.get_or_init(|| {
        KINDS
            .iter()
            .flat_map(|(kind, _)| files(kind, "valid"))
            .map(|f| std::fs::read(f).unwrap())
            .chain(DOCKERFILES.iter().map(|d| d.as_bytes().to_vec()))
            .collect()
    })
}

/// Reads `text` as every kind; none may panic, and each error is one line naming the input.
fn check_every_kind(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile-input.toml");
    std::fs::write(&file, text).unwrap();
    for (kind, parse) in KINDS {
        if let Err(e) = parse(&file) {
            check_error(kind, &e);
        }
    }
    match dockerfile::Dockerfile::parse(&file, text) {
        Ok(d) => {
            for e in [d.validate_build().err(), d.validate_run().err()]
                .into_iter()
                .flatten()
            {
                check_error("dockerfile", &e);
            }
        }
        Err(e) => check_error("dockerfile", &e),
    }
    for api in ["0.7", "0.9", "0.10", "0.15"] {
        let api: cnb_api::Version = api.parse().unwrap();
        if let Err(e) = metadata::LaunchMetadata::read_for(&file, api) {
            check_error("metadata", &e);
        }
    }
    // The cache's metadata.toml holds the lifecycle label as a table.
    if let Ok(table) = text.parse::<toml::Table>() {
        let _ = labels::LayersMetadata::from_toml_table(table);
    }
}

fn check_error(kind: &str, e: &FormatError) {
    let msg = e.to_string();
    assert!(
        !msg.contains('\n'),
        "{kind}: error is not one line: {msg:?}"
    );
    let named = if kind.ends_with("-label") {
        msg.contains("io.buildpacks.")
    } else {
        msg.contains("hostile-input.toml")
    };
    assert!(named, "{kind}: error does not name its input: {msg}");
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_every_kind(&text);
    }

    #[test]
    fn mutated_valid_cases_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let valid = valid_cases();
        let bytes = apply(valid[pick.index(valid.len())].clone(), &mutations);
        check_every_kind(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_bytes_name_the_file(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hostile-input.toml");
        std::fs::write(&file, &bytes).unwrap();
        if let Err(e) = read_toml::<toml::Table>(&file) {
            check_error("toml", &e);
        }
        if let Err(e) = dockerfile::Dockerfile::read(&file) {
            check_error("dockerfile", &e);
        }
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Err(e) = exec_d::parse(text, Path::new("hostile-input.toml"))
        {
            check_error("exec-d", &e);
        }
    }
}

#[test]
fn the_dockerfiles_mutated_are_valid() {
    // Else mutations of them would only ever test the error path.
    for d in DOCKERFILES {
        let parsed = dockerfile::Dockerfile::parse(Path::new("Dockerfile"), d).unwrap();
        parsed.validate_run().unwrap();
    }
}
