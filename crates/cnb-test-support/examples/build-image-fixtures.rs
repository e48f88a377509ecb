//! Writes the image fixtures of testdata/images into an OCI layout root: a run image index over
//! linux/amd64, linux/arm64, linux/arm/v7 and linux/arm/v6, and a single linux/arm64 run image.
//! Everything comes from text in `cnb_test_support::fixtures`; the output is byte-for-byte
//! reproducible. Usage: `build-image-fixtures <layout root>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use cnb_image::{LayoutStore, Target};
use cnb_test_support::fixtures::{four_platforms, save_run_image, save_run_index};

fn main() {
    let root = std::env::args()
        .nth(1)
        .expect("usage: build-image-fixtures <layout root>");
    let store = LayoutStore::new(&root);
    let (index, _) = save_run_index(
        &store,
        "fixtures.test/run:multi",
        &four_platforms(),
        "run-v1",
    );
    let single = save_run_image(
        &store,
        "fixtures.test/run:arm64",
        &Target::new("linux", "arm64", None),
        "run-v1",
    );
    println!("fixtures.test/run:multi {}", index.digest);
    println!("fixtures.test/run:arm64 {}", single.digest);
}
