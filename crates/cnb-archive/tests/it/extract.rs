//! Extraction: round trips, and every way a hostile layer tries to escape.

use std::path::Path;

use cnb_archive::{Compression, ExtractOptions, LayerBuilder, Owner, extract};

use crate::sample_tree;

/// `src` as a plain (uncompressed) layer tar at `/layers/bp/layer`.
fn plain_layer(src: &Path) -> Vec<u8> {
    let mut b = LayerBuilder::new(Vec::new(), Compression::None);
    b.add_tree(src, "/layers/bp/layer", Owner::ROOT).unwrap();
    b.finish().unwrap().0
}

fn layers_opts() -> ExtractOptions {
    ExtractOptions {
        prefix: Some("/layers".into()),
        owner: None,
    }
}

#[test]
fn round_trip_restores_files_modes_links_and_the_diff_id() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample_tree(&src);
    for compression in [
        Compression::Gzip(6),
        Compression::Zstd(1),
        Compression::None,
    ] {
        let mut b = LayerBuilder::new(Vec::new(), compression);
        b.add_tree(&src, "/layers/bp/layer", Owner { uid: 0, gid: 0 })
            .unwrap();
        let (blob, d) = b.finish().unwrap();
        let target = tempfile::tempdir().unwrap();
        let out = extract(&blob[..], target.path(), &layers_opts()).unwrap();
        assert_eq!(out.diff_id, d.diff_id, "{compression:?}");
        let l = target.path().join("bp/layer");
        assert_eq!(std::fs::read_to_string(l.join("a.txt")).unwrap(), "a");
        assert_eq!(std::fs::read_to_string(l.join("a-hard.txt")).unwrap(), "a");
        assert_eq!(
            std::fs::read_link(l.join("link")).unwrap(),
            Path::new("bin/hello")
        );
        assert_eq!(
            std::fs::metadata(l.join("bin/hello"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o755
        );
        assert!(l.join("empty").is_dir());
        assert_eq!(
            std::fs::read(l.join("lib/deep/er/data.txt")).unwrap().len(),
            10_000
        );
        // Extracting again over the result works (files are replaced, not appended).
        extract(&blob[..], target.path(), &layers_opts()).unwrap();
    }
}

#[test]
fn extraction_sets_the_owner_when_asked() {
    use std::os::unix::fs::MetadataExt;
    assert!(
        cnb_os::is_root(),
        "this test needs root: it chowns and switches users"
    );
    let dir = tempfile::tempdir().unwrap();
    sample_tree(dir.path());
    let blob = plain_layer(dir.path());
    let target = tempfile::tempdir().unwrap();
    let opts = ExtractOptions {
        prefix: Some("/layers".into()),
        owner: Some(Owner {
            uid: 1234,
            gid: 1235,
        }),
    };
    extract(&blob[..], target.path(), &opts).unwrap();
    let md = std::fs::symlink_metadata(target.path().join("bp/layer/link")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1234, 1235));
}

/// An entry written raw: name, type, link target, content.
type RawEntry<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

/// A tar with raw entry names and link targets, which tar builders refuse to write.
fn hostile(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append(&h, *data).unwrap();
    }
    out.into_inner().unwrap()
}

#[test]
fn hostile_layers_are_refused_and_write_nothing_outside() {
    use tar::EntryType::{Block, Directory, Link, Regular, Symlink};
    let cases: Vec<(&str, Vec<RawEntry>, &str)> = vec![
        (
            "dot-dot",
            vec![("/layers/../escaped", Regular, "", b"x")],
            "/layers/../escaped",
        ),
        (
            "dot-dot-relative",
            vec![("layers/a/../../../escaped", Regular, "", b"x")],
            "layers/a/../../../escaped",
        ),
        (
            "outside-prefix",
            vec![("/etc/escaped", Regular, "", b"x")],
            "/etc/escaped",
        ),
        (
            "through-symlink",
            vec![
                ("/layers/evil", Symlink, "/layers/bp", b""),
                ("/layers/bp", Directory, "", b""),
                ("/layers/evil/x", Regular, "", b"x"),
            ],
            "/layers/evil/x",
        ),
        (
            "absolute-symlink-out",
            vec![("/layers/evil", Symlink, "/etc", b"")],
            "/layers/evil",
        ),
        (
            "relative-symlink-out",
            vec![("/layers/bp/evil", Symlink, "../../escaped", b"")],
            "/layers/bp/evil",
        ),
        (
            "hardlink-out",
            vec![("/layers/evil", Link, "/etc/passwd", b"")],
            "/layers/evil",
        ),
        (
            "hardlink-dot-dot",
            vec![("/layers/evil", Link, "/layers/../escaped", b"")],
            "/layers/evil",
        ),
        (
            "whiteout",
            vec![("/layers/bp/.wh.layer", Regular, "", b"")],
            "/layers/bp/.wh.layer",
        ),
        (
            "device",
            vec![("/layers/dev", Block, "", b"")],
            "/layers/dev",
        ),
    ];
    for (case, entries, bad_entry) in cases {
        let sandbox = tempfile::tempdir().unwrap();
        let target = sandbox.path().join("layers");
        let err = extract(&hostile(&entries)[..], &target, &layers_opts()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("'{bad_entry}'")), "{case}: {msg}");
        assert!(!msg.contains('\n'), "{case}: {msg}");
        assert!(!sandbox.path().join("escaped").exists(), "{case}");
        let outside: Vec<_> = std::fs::read_dir(sandbox.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            outside,
            ["layers"],
            "{case}: something was written beside the target"
        );
    }
}

#[test]
fn a_symlink_planted_in_the_target_is_not_followed() {
    let sandbox = tempfile::tempdir().unwrap();
    let target = sandbox.path().join("layers");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir(sandbox.path().join("secret")).unwrap();
    std::os::unix::fs::symlink(sandbox.path().join("secret"), target.join("bp")).unwrap();
    let tar = hostile(&[("/layers/bp/file", tar::EntryType::Regular, "", b"x")]);
    let err = extract(&tar[..], &target, &layers_opts()).unwrap_err();
    assert!(
        err.to_string().contains("goes through the symlink"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(sandbox.path().join("secret"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn links_inside_the_target_are_fine() {
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    let target = tempfile::tempdir().unwrap();
    let tar = hostile(&[
        ("/layers/bp/", Directory, "", b""),
        ("/layers/bp/f", Regular, "", b"data"),
        ("/layers/bp/abs", Symlink, "/layers/bp/f", b""),
        ("/layers/bp/rel", Symlink, "../bp/f", b""),
        ("/layers/bp/hard", Link, "/layers/bp/f", b""),
    ]);
    let out = extract(&tar[..], target.path(), &layers_opts()).unwrap();
    assert_eq!(out.entries, 5);
    assert_eq!(
        std::fs::read_to_string(target.path().join("bp/hard")).unwrap(),
        "data"
    );
    // Without a prefix the target is the image root: absolute links are root-relative.
    let root = tempfile::tempdir().unwrap();
    extract(
        &hostile(&[("etc/link", Symlink, "/usr/bin/x", b"")])[..],
        root.path(),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_link(root.path().join("etc/link")).unwrap(),
        Path::new("/usr/bin/x")
    );
}

#[test]
fn garbage_is_reported_as_a_corrupt_layer() {
    let target = tempfile::tempdir().unwrap();
    let mut junk = vec![0x1f, 0x8b];
    junk.extend_from_slice(&[7u8; 600]);
    let err = extract(&junk[..], target.path(), &ExtractOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("invalid layer tar"), "{err}");
}

#[test]
fn the_diff_id_covers_bytes_after_the_end_of_the_tar() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample_tree(&src);
    let mut blob = plain_layer(&src);
    // More than one hand-over chunk of padding after the end marker, as some tar writers leave.
    blob.extend(std::iter::repeat_n(0u8, 600 * 1024));
    let target = tempfile::tempdir().unwrap();
    let out = extract(&blob[..], target.path(), &layers_opts()).unwrap();
    assert_eq!(out.diff_id, cnb_archive::sha256_hex(&blob));
    assert!(target.path().join("bp/layer/a.txt").is_file());
}

#[test]
fn a_stream_that_fails_after_the_tar_fails_the_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample_tree(&src);
    let blob = plain_layer(&src);
    // A registry blob whose digest check fails at its end: all bytes, then an error.
    let failing = std::io::Read::chain(&blob[..], Failing);
    let target = tempfile::tempdir().unwrap();
    let err = extract(failing, target.path(), &layers_opts()).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

struct Failing;

impl std::io::Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "content does not match its digest",
        ))
    }
}
