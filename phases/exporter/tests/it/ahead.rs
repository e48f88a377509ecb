//! New buildpack layers are built ahead, several at once: the image must be the one that
//! building them one by one gives, in the same order, whichever layer finishes first.

use cnb_archive::{Compression, LayerBuilder, Owner};

use crate::layout::{app_image, exporter, ok, world, write};

#[test]
fn layers_built_ahead_are_the_layers_built_one_by_one_in_order() {
    let w = world();
    let bp = w.layers.join("samples_hello-world");
    // Sizes that make the first layers finish last.
    let sizes = [("a-big", 3_000_000), ("b-mid", 600_000), ("c-small", 10)];
    for (name, size) in sizes {
        let body: String = (0..size)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        write(&bp.join(name).join("data.txt"), &body);
        write(&bp.join(format!("{name}.toml")), "[types]\nlaunch = true\n");
    }
    ok(&exporter(&w, &w.root, &[], &["registry.test/app:ahead"]));
    let img = app_image(&w.root, "registry.test/app:ahead", "arm64");
    let got: Vec<(String, String)> = img
        .layers()
        .iter()
        .map(|l| (l.diff_id.to_string(), l.digest.to_string()))
        .collect();
    let expected: Vec<(String, String)> = ["a-big", "b-mid", "c-small", "hello"]
        .iter()
        .map(|name| {
            let dir = bp.join(name);
            let mut b = LayerBuilder::with_threads(Vec::new(), Compression::Gzip(1), 1);
            b.add_tree(&dir, dir.to_str().unwrap(), Owner::ROOT)
                .unwrap();
            let d = b.finish().unwrap().1;
            (d.diff_id, d.digest)
        })
        .collect();
    let start = got
        .iter()
        .position(|l| l == &expected[0])
        .expect("the first buildpack layer is in the image");
    assert_eq!(got[start..start + expected.len()], expected[..]);
}
