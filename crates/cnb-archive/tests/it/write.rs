//! Reproducible layers and their digests.

use std::io::Read;

use cnb_archive::{Compression, LayerBuilder, NORMALIZED_MTIME, Owner, sha256_hex};

use crate::sample_tree;

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1001,
};

fn gzip_layer(src: &std::path::Path) -> (Vec<u8>, cnb_archive::LayerDigests) {
    let mut b = LayerBuilder::new(Vec::new(), Compression::Gzip(1));
    b.add_tree(src, "/layers/bp/layer", OWNER).unwrap();
    b.finish().unwrap()
}

fn entries(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, u64, u64, u64, String)> {
    let mut ar = tar::Archive::new(tar_bytes);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                h.entry_type(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                String::from_utf8_lossy(h.username_bytes().unwrap_or_default()).into_owned(),
            )
        })
        .collect()
}

#[test]
fn same_directory_gives_the_same_diff_id_and_digest() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("layers/bp/layer");
    sample_tree(&src);
    let (blob1, d1) = gzip_layer(&src);
    // Timestamps and owners of the sources do not matter.
    let f = std::fs::File::options()
        .write(true)
        .open(src.join("a.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
        .unwrap();
    if cnb_os::is_root() {
        std::os::unix::fs::lchown(src.join("lib/deep/er/data.txt"), Some(4242), Some(4242))
            .unwrap();
    }
    let (blob2, d2) = gzip_layer(&src);
    assert_eq!(d1, d2);
    assert_eq!(blob1, blob2);
    // A copy of the tree elsewhere gives the same layer too (same parents' owners and modes).
    let other = tempfile::tempdir().unwrap();
    let src2 = other.path().join("layers/bp/layer");
    sample_tree(&src2);
    let (_, d3) = gzip_layer(&src2);
    assert_eq!(d1.diff_id, d3.diff_id);
}

#[test]
fn digests_describe_the_streams() {
    let dir = tempfile::tempdir().unwrap();
    sample_tree(dir.path());
    let (gz, d) = gzip_layer(dir.path());
    assert_eq!(d.digest, sha256_hex(&gz));
    assert_eq!(d.size, gz.len() as u64);
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert_eq!(d.diff_id, sha256_hex(&tar_bytes));
    assert_eq!(d.uncompressed_size, tar_bytes.len() as u64);

    let mut hash_only = LayerBuilder::hash_only();
    hash_only
        .add_tree(dir.path(), "/layers/bp/layer", OWNER)
        .unwrap();
    let (_, h) = hash_only.finish().unwrap();
    assert_eq!(h.diff_id, d.diff_id);
    assert_eq!(h.digest, h.diff_id);

    let mut plain = LayerBuilder::new(Vec::new(), Compression::None);
    plain
        .add_tree(dir.path(), "/layers/bp/layer", OWNER)
        .unwrap();
    let (bytes, p) = plain.finish().unwrap();
    assert_eq!(bytes, tar_bytes);
    assert_eq!(p.digest, d.diff_id);
}

#[test]
fn headers_are_normalised_and_entries_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("l");
    sample_tree(&src);
    let mut b = LayerBuilder::new(Vec::new(), Compression::None);
    b.add_tree(&src, "/layers/bp/layer", OWNER).unwrap();
    let (bytes, _) = b.finish().unwrap();
    let list = entries(&bytes);
    let names: Vec<&str> = list.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "/layers/",
            "/layers/bp/",
            "/layers/bp/layer/",
            "/layers/bp/layer/a-hard.txt",
            "/layers/bp/layer/a.txt",
            "/layers/bp/layer/bin/",
            "/layers/bp/layer/bin/hello",
            "/layers/bp/layer/empty/",
            "/layers/bp/layer/lib/",
            "/layers/bp/layer/lib/deep/",
            "/layers/bp/layer/lib/deep/er/",
            "/layers/bp/layer/lib/deep/er/data.txt",
            "/layers/bp/layer/link",
        ]
    );
    for (name, kind, mtime, uid, gid, uname) in &list {
        assert_eq!(*mtime, NORMALIZED_MTIME, "{name}");
        assert!(uname.is_empty(), "{name}");
        if name.starts_with("/layers/bp/layer/") || name == "/layers/bp/layer/" {
            assert_eq!((*uid, *gid), (1000, 1001), "{name}");
        }
        match name.as_str() {
            "/layers/bp/layer/link" => assert_eq!(*kind, tar::EntryType::Symlink),
            // Hard links are stored as regular files, as upstream.
            "/layers/bp/layer/a-hard.txt" => assert_eq!(*kind, tar::EntryType::Regular),
            n if n.ends_with('/') => assert_eq!(*kind, tar::EntryType::Directory),
            _ => assert_eq!(*kind, tar::EntryType::Regular),
        }
    }
}

#[test]
fn explicit_entries_for_launcher_layers() {
    let mut b = LayerBuilder::new(Vec::new(), Compression::None);
    b.add_parents("/cnb/lifecycle/launcher", 0o755, Owner::ROOT)
        .unwrap();
    b.add_bytes("/cnb/lifecycle/launcher", b"\x7fELF", 0o755, Owner::ROOT)
        .unwrap();
    b.add_dir("/cnb/process", 0o755, Owner::ROOT).unwrap();
    b.add_symlink("/cnb/process/web", "/cnb/lifecycle/launcher", Owner::ROOT)
        .unwrap();
    // The same dir twice is written once.
    b.add_dir("/cnb", 0o755, Owner::ROOT).unwrap();
    let (bytes, _) = b.finish().unwrap();
    let names: Vec<String> = entries(&bytes).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            "/cnb/",
            "/cnb/lifecycle/",
            "/cnb/lifecycle/launcher",
            "/cnb/process/",
            "/cnb/process/web"
        ]
    );
    let err = LayerBuilder::hash_only()
        .add_dir("relative", 0o755, Owner::ROOT)
        .unwrap_err();
    assert!(err.to_string().contains("'relative'"), "{err}");
}

#[test]
fn long_names_survive() {
    let dir = tempfile::tempdir().unwrap();
    let long = "d".repeat(120);
    std::fs::create_dir_all(dir.path().join(&long)).unwrap();
    std::fs::write(dir.path().join(&long).join("f".repeat(90)), "x").unwrap();
    let mut b = LayerBuilder::new(Vec::new(), Compression::None);
    b.add_tree(dir.path(), "/workspace", OWNER).unwrap();
    let (bytes, _) = b.finish().unwrap();
    let names: Vec<String> = entries(&bytes).into_iter().map(|e| e.0).collect();
    assert!(
        names.contains(&format!("/workspace/{long}/{}", "f".repeat(90))),
        "{names:?}"
    );
}

#[test]
fn parallel_gzip_output_does_not_depend_on_the_thread_count() {
    // Several compression blocks' worth of mixed data, so the threads really split the work.
    let mut data = Vec::new();
    let mut x: u32 = 7;
    for i in 0..200_000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        if i % 3 == 0 {
            data.extend_from_slice(&x.to_le_bytes());
        } else {
            data.extend_from_slice(b"line of text ");
        }
    }
    let layer = |threads| {
        let mut b = LayerBuilder::with_threads(Vec::new(), Compression::Gzip(1), threads);
        b.add_bytes("/data/blob", &data, 0o644, OWNER).unwrap();
        b.finish().unwrap()
    };
    let (one, d1) = layer(1);
    let (four, d4) = layer(4);
    assert_eq!(d1, d4);
    assert_eq!(one, four);
    // One gzip stream a plain gzip reader takes whole.
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&one[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert_eq!(sha256_hex(&tar_bytes), d1.diff_id);
}

#[test]
fn an_unhashed_plain_tar_is_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    crate::sample_tree(&src);
    let owner = Owner { uid: 0, gid: 0 };
    let mut hashed = LayerBuilder::new(Vec::new(), Compression::None);
    hashed.add_tree(&src, "/layers/bp/layer", owner).unwrap();
    let (want, d) = hashed.finish().unwrap();
    let mut plain = LayerBuilder::unhashed(Vec::new());
    plain.add_tree(&src, "/layers/bp/layer", owner).unwrap();
    let (got, u) = plain.finish().unwrap();
    assert_eq!(got, want);
    assert_eq!(u.diff_id, "", "nothing hashed");
    assert_eq!(u.uncompressed_size, d.uncompressed_size);
}

/// Files are copied in large reads (not through tar's own copy) on a separate thread: the
/// bytes must still be exactly those of `tar::Builder::append_data`, padding and long names
/// included, whether the stream is offloaded (`new`) or hashed inline (`hash_only`).
#[test]
fn files_are_written_exactly_as_tar_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("/layers/bp/{}/file", "n".repeat(150));
    let sizes = [0usize, 1, 511, 512, 513, 700_000, 3 * 1024 * 1024 + 7];
    let mut expected = tar::Builder::new(Vec::new());
    expected.preserve_absolute(true);
    let mut b = LayerBuilder::new(Vec::new(), Compression::None);
    for (i, size) in sizes.iter().enumerate() {
        let src = dir.path().join(format!("f{i}"));
        let data: Vec<u8> = (0..*size).map(|j| (j * 7 + i) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let dest = if i == 3 {
            long.clone()
        } else {
            format!("/f{i}")
        };
        b.add_file(&src, &dest, Some(0o640), OWNER).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o640);
        h.set_uid(OWNER.uid.into());
        h.set_gid(OWNER.gid.into());
        h.set_mtime(NORMALIZED_MTIME);
        h.set_size(*size as u64);
        expected.append_data(&mut h, &dest, &data[..]).unwrap();
    }
    let expected = expected.into_inner().unwrap();
    let (written, d) = b.finish().unwrap();
    assert_eq!(written.len(), expected.len());
    assert!(written == expected, "the tar bytes differ");
    assert_eq!(d.diff_id, sha256_hex(&expected));

    let mut h = LayerBuilder::hash_only();
    for (i, _) in sizes.iter().enumerate() {
        let dest = if i == 3 {
            long.clone()
        } else {
            format!("/f{i}")
        };
        h.add_file(&dir.path().join(format!("f{i}")), &dest, Some(0o640), OWNER)
            .unwrap();
    }
    assert_eq!(h.finish().unwrap().1.diff_id, d.diff_id);
}
