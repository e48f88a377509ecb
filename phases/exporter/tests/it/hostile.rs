//! Hostile buildpack output (issue #17): testdata's `samples_hostile` buildpack makes a launch +
//! cache layer with symlinks out of the layers dir, a hard link to an outside file, a FIFO, a
//! socket and a device node (root). The exporter writes links as links (never followed), a hard
//! link as the regular file it is (as upstream), skips the special files (as upstream), and puts
//! nothing outside the layer's own path into the image or the cache.

use std::io::Read;
use std::process::Command;

use cnb_test_support::testdata_dir;

use crate::chaos::export_cached;
use crate::layout::{ok, world};

/// (path, kind, link target, content) of each entry of a layer tar.
fn entries(tar: impl Read) -> Vec<(String, char, String, String)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = match e.header().entry_type() {
                tar::EntryType::Regular => 'f',
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Link => 'h',
                _ => '?',
            };
            let mut content = String::new();
            if kind == 'f' {
                e.read_to_string(&mut content).unwrap();
            }
            (path, kind, link, content)
        })
        .collect()
}

fn check(entries: &[(String, char, String, String)], layer: &str, what: &str) {
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.0 == format!("{layer}/{name}"))
            .unwrap_or_else(|| panic!("{what}: no {layer}/{name} in {entries:#?}"))
    };
    assert_eq!(find("passwd").1, 'l', "{what}");
    assert_eq!(find("passwd").2, "/etc/passwd", "{what}");
    assert_eq!(
        (find("up").1, find("up").2.as_str()),
        ('l', "../../.."),
        "{what}"
    );
    let hard = find("hard");
    assert_eq!((hard.1, hard.3.as_str()), ('f', "outside\n"), "{what}");
    assert_eq!(find("plain").3, "inside\n", "{what}");
    for special in ["fifo", "sock", "null"] {
        assert!(
            !entries
                .iter()
                .any(|e| e.0.ends_with(&format!("/{special}"))),
            "{what}: {special} was exported"
        );
    }
    for e in entries {
        let inside = e.0 == layer || e.0.starts_with(&format!("{layer}/"));
        assert!(
            inside || (e.1 == 'd' && layer.starts_with(&format!("{}/", e.0))),
            "{what}: {} is outside the layer",
            e.0
        );
        assert_ne!(e.1, '?', "{what}: {} has an unexpected type", e.0);
    }
}

#[test]
fn links_are_exported_as_links_and_special_files_are_skipped() {
    let w = world();
    let outside = w.dir.path().join("outside.txt");
    std::fs::write(&outside, "outside\n").unwrap();
    let bp_layers = w.layers.join("samples_hello-world");
    let build = testdata_dir().join("buildpacks/samples_hostile/0.0.1/bin/build");
    let out = Command::new(&build)
        .arg(&bp_layers)
        .arg(w.dir.path().join("platform"))
        .arg(w.dir.path().join("plan.toml"))
        .env("HOSTILE_OUTSIDE", &outside)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layer_dir = bp_layers.join("hostile");
    for special in ["fifo", "sock", "null"] {
        assert!(
            std::fs::symlink_metadata(layer_dir.join(special)).is_ok(),
            "the buildpack made no {special} (the device needs root)"
        );
    }
    let cache = w.dir.path().join("cache");
    ok(&export_cached(&w, &cache));
    let layer = format!("{}", layer_dir.display());

    let blobs = w.root.join("registry.test/app/latest/blobs/sha256");
    let img = crate::layout::app_image(&w.root, "registry.test/app:latest", "arm64");
    let found: Vec<_> = img
        .layers()
        .iter()
        .map(|l| {
            let f = std::fs::File::open(blobs.join(l.digest.hex())).unwrap();
            entries(flate2::read::GzDecoder::new(f))
        })
        .filter(|e| e.iter().any(|x| x.0.starts_with(&format!("{layer}/"))))
        .collect();
    assert_eq!(found.len(), 1, "one image layer holds the hostile layer");
    check(&found[0], &layer, "image");

    let md = cnb_formats::labels::CacheMetadata::from_label(
        &std::fs::read_to_string(cache.join("committed/io.buildpacks.lifecycle.cache.metadata"))
            .unwrap(),
    )
    .unwrap();
    let sha = &md.buildpack("samples/hello-world").unwrap().layers["hostile"].sha;
    let tar = std::fs::File::open(cache.join(format!("committed/{sha}.tar"))).unwrap();
    check(&entries(tar), &layer, "cache");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside\n");
}
