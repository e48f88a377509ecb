//! Hostile layers: generated tars of entries that try to escape (`..`, absolute paths, symlinks
//! out and entries written through them, hard links out, duplicates, devices, very long names),
//! and arbitrary bytes. Extraction never panics and never creates or changes anything beside
//! its target: the parent dir, with a victim dir the entries aim at, must be untouched.
//! `CNB_FUZZ_CASES` raises the case count (`make fuzz`).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cnb_archive::{ExtractOptions, extract};
use proptest::prelude::*;
use proptest::test_runner::Config;

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

/// Stands for the absolute path of the victim dir beside the target, filled in when the tar is
/// written (the generator cannot know the temp dir).
const OUTSIDE: &str = "@OUTSIDE";

/// Path pieces entries are made of: names that collide, escape, or hit the prefix.
const PIECES: &[&str] = &[
    "a", "b", "layers", "..", ".", "", "/", "outside", "victim", OUTSIDE, ".wh.a", "é",
];

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
    /// Char device, block device or fifo.
    Special(u8),
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    kind: Kind,
    mode: u32,
}

fn path() -> impl Strategy<Value = String> {
    let long = (1..300usize).prop_map(|n| "l".repeat(n));
    let piece = prop_oneof![
        8 => prop::sample::select(PIECES).prop_map(str::to_string),
        1 => long,
    ];
    (
        prop::sample::select(&["", "/", "./", "/layers/", "layers/"][..]),
        prop::collection::vec(piece, 1..5),
    )
        .prop_map(|(lead, parts)| format!("{lead}{}", parts.join("/")))
}

fn entry() -> impl Strategy<Value = Entry> {
    let kind = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..16).prop_map(Kind::File),
        2 => Just(Kind::Dir),
        3 => path().prop_map(Kind::Symlink),
        2 => path().prop_map(Kind::Hardlink),
        1 => prop::sample::select(&[b'3', b'4', b'6'][..]).prop_map(Kind::Special),
    ];
    (path(), kind, any::<u32>()).prop_map(|(name, kind, mode)| Entry { name, kind, mode })
}

/// A ustar header field, or a GNU long-name entry before the header when it does not fit.
fn gnu_long(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(value.len() as u64 + 1);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    let mut data = value.to_vec();
    data.push(0);
    data.resize(data.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&data);
}

/// Writes the entries byte by byte, because `tar::Builder` refuses the names we want to test.
fn tar_of(entries: &[Entry], outside: &Path) -> Vec<u8> {
    let fill = |s: &str| s.replace(OUTSIDE, &outside.to_string_lossy());
    let mut out = Vec::new();
    for e in entries {
        let name = fill(&e.name);
        let mut h = tar::Header::new_gnu();
        let (kind, link, data): (u8, Option<String>, &[u8]) = match &e.kind {
            Kind::File(d) => (b'0', None, d),
            Kind::Dir => (b'5', None, &[]),
            Kind::Symlink(l) => (b'2', Some(fill(l)), &[]),
            Kind::Hardlink(l) => (b'1', Some(fill(l)), &[]),
            Kind::Special(k) => (*k, None, &[]),
        };
        if name.len() > 100 {
            gnu_long(&mut out, b'L', name.as_bytes());
        }
        let field = &mut h.as_gnu_mut().unwrap().name;
        let n = name.len().min(100);
        field[..n].copy_from_slice(&name.as_bytes()[..n]);
        if let Some(link) = &link {
            if link.len() > 100 {
                gnu_long(&mut out, b'K', link.as_bytes());
            }
            let field = &mut h.as_gnu_mut().unwrap().linkname;
            let n = link.len().min(100);
            field[..n].copy_from_slice(&link.as_bytes()[..n]);
        }
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_mode(e.mode & 0o7777);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(512) * 512, 0);
        out.extend_from_slice(&padded);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

/// Everything under `root` except `skip`, with what an escape would change: type, content,
/// mode, link count, link target and mtime.
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut seen = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).follow_links(false) {
        let e = e.unwrap();
        if e.path().starts_with(skip) {
            continue;
        }
        let md = e.path().symlink_metadata().unwrap();
        let detail = if md.is_file() {
            format!("{:?}", std::fs::read(e.path()).unwrap())
        } else if md.file_type().is_symlink() {
            format!("-> {:?}", std::fs::read_link(e.path()).unwrap())
        } else {
            String::new()
        };
        let line = format!(
            "{:o} nlink={} mtime={}.{} {detail}",
            md.mode(),
            md.nlink(),
            md.mtime(),
            md.mtime_nsec()
        );
        seen.insert(e.path().to_path_buf(), line);
    }
    seen
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Extracts `tar` (gzipped when asked) into `<tmp>/target` beside `<tmp>/outside` and checks nothing but the target
/// changed and no device file was made; returns the extraction's outcome.
fn extract_hostile(
    entries: &[Entry],
    raw: Option<&[u8]>,
    prefix: bool,
    gzip: bool,
) -> Result<(), String> {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("target");
    let outside = parent.path().join("outside");
    // Made up front: extraction creating it would change the parent's mtime and link count.
    std::fs::create_dir(&target).unwrap();
    std::fs::create_dir_all(outside.join("a")).unwrap();
    std::fs::write(outside.join("victim"), "keep").unwrap();
    std::fs::write(outside.join("a/victim"), "keep").unwrap();
    let before = snapshot(parent.path(), &target);
    let tar = match raw {
        Some(bytes) => bytes.to_vec(),
        None => tar_of(entries, &outside),
    };
    let tar = if gzip { gzipped(&tar) } else { tar };
    let opts = ExtractOptions {
        prefix: prefix.then(|| "/layers".to_string()),
        owner: None,
    };
    let outcome = extract(&tar[..], &target, &opts).map(|_| ());
    assert_eq!(before, snapshot(parent.path(), &target), "outside changed");
    for e in walkdir::WalkDir::new(&target).follow_links(false) {
        let ft = e.unwrap().file_type();
        assert!(
            ft.is_dir() || ft.is_file() || ft.is_symlink(),
            "a special file was made: {ft:?}"
        );
    }
    outcome.map_err(|e| {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "error is not one line: {msg:?}");
        msg
    })
}

proptest! {
    #![proptest_config(config(100))]

    #[test]
    fn hostile_tars_stay_inside(
        entries in prop::collection::vec(entry(), 1..12),
        prefix in any::<bool>(),
        gzip in any::<bool>(),
    ) {
        let _ = extract_hostile(&entries, None, prefix, gzip);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        prefix in any::<bool>(),
    ) {
        let _ = extract_hostile(&[], Some(&bytes), prefix, false);
    }

    #[test]
    fn corrupted_hostile_tars_never_panic(
        entries in prop::collection::vec(entry(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        gzip in any::<bool>(),
    ) {
        // Corrupting the gzip stream, not the tar inside it, reaches the decoder's errors.
        let tar = tar_of(&entries, Path::new("/nonexistent-outside"));
        let mut tar = if gzip { gzipped(&tar) } else { tar };
        for (at, b) in flips {
            let i = at.index(tar.len());
            tar[i] ^= b;
        }
        let _ = extract_hostile(&[], Some(&tar), false, false);
    }
}

/// Found by `arbitrary_bytes_never_panic`: the tar crate quotes a corrupt header's raw name in
/// its error, so a name with a newline made a two-line error.
#[test]
fn regression_corrupt_header_with_a_newline_in_its_name_is_one_line() {
    let mut header = [0u8; 512];
    header[..3].copy_from_slice(b"x\ny");
    header[148..156].copy_from_slice(&[0xff; 8]);
    let mut tar = header.to_vec();
    tar.extend_from_slice(&[0; 1024]);
    let err = extract_hostile(&[], Some(&tar), false, false).unwrap_err();
    assert!(err.contains("x\\ny"), "{err}");
}

/// Same, for an entry refused by name.
#[test]
fn regression_refused_entry_with_a_newline_in_its_name_is_one_line() {
    let entries = [Entry {
        name: "../a\nb".into(),
        kind: Kind::File(b"x".to_vec()),
        mode: 0o644,
    }];
    let err = extract_hostile(&entries, None, false, false).unwrap_err();
    assert!(err.contains("a\\nb"), "{err}");
}
