//! Tests of the spec file formats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod hostile;
mod roundtrip;

use std::path::PathBuf;

/// `<repo>/testdata/formats`.
pub fn formats_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/formats")
}
