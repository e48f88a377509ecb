//! zstd layers: digests that do not depend on the worker count, frames any zstd reader takes.

use std::io::Read;

use cnb_archive::{Compression, ExtractOptions, LayerBuilder, Owner, extract, sha256_hex};

/// Mixed data (text and pseudo-random words) larger than several libzstd jobs, so the workers
/// really split it.
fn mixed(len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(len + 16);
    let mut x: u32 = 11;
    let mut i = 0u32;
    while data.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        if i.is_multiple_of(3) {
            data.extend_from_slice(&x.to_le_bytes());
        } else {
            data.extend_from_slice(b"a line of log text ");
        }
        i += 1;
    }
    data
}

fn layer(data: &[u8], threads: usize) -> (Vec<u8>, cnb_archive::LayerDigests) {
    let mut b = LayerBuilder::with_threads(Vec::new(), Compression::Zstd(1), threads);
    b.add_bytes("/data/blob", data, 0o644, Owner::ROOT).unwrap();
    b.finish().unwrap()
}

#[test]
fn zstd_output_does_not_depend_on_the_thread_count() {
    let data = mixed(12 << 20);
    let (one, d1) = layer(&data, 1);
    let (two, d2) = layer(&data, 2);
    let (four, d4) = layer(&data, 4);
    assert_eq!(d1, d2);
    assert_eq!(d1, d4);
    assert!(
        one == two && one == four,
        "same bytes for 1, 2 and 4 workers"
    );
    assert_eq!(d1.digest, sha256_hex(&one));
    assert_eq!(d1.size, one.len() as u64);
    assert!(d1.size < d1.uncompressed_size / 2, "{d1:?}");
    // Any zstd reader takes the whole stream back.
    let mut tar_bytes = Vec::new();
    zstd::stream::read::Decoder::new(&one[..])
        .unwrap()
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert_eq!(sha256_hex(&tar_bytes), d1.diff_id);
    assert_eq!(tar_bytes.len() as u64, d1.uncompressed_size);
}

#[test]
fn zstd_and_gzip_layers_of_one_tree_share_the_diff_id_and_both_extract() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("layers/bp/layer");
    crate::sample_tree(&src);
    let build = |c| {
        let mut b = LayerBuilder::new(Vec::new(), c);
        b.add_tree(&src, "/layers/bp/layer", Owner::ROOT).unwrap();
        b.finish().unwrap()
    };
    let (gz, g) = build(Compression::Gzip(1));
    let (zst, z) = build(Compression::Zstd(1));
    // Reuse goes by diffID, so a layer compressed either way is the same layer.
    assert_eq!(g.diff_id, z.diff_id);
    assert_ne!(g.digest, z.digest);
    let opts = ExtractOptions {
        prefix: Some("/layers".into()),
        owner: None,
    };
    for blob in [&gz, &zst] {
        let target = tempfile::tempdir().unwrap();
        let out = extract(&blob[..], target.path(), &opts).unwrap();
        assert_eq!(out.diff_id, g.diff_id);
        assert_eq!(
            std::fs::read_to_string(target.path().join("bp/layer/a.txt")).unwrap(),
            "a"
        );
    }
}

#[test]
fn a_truncated_zstd_layer_is_refused() {
    let (blob, _) = layer(&mixed(200_000), 2);
    let target = tempfile::tempdir().unwrap();
    let err = extract(
        &blob[..blob.len() / 2],
        target.path(),
        &ExtractOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.is_empty());
}
