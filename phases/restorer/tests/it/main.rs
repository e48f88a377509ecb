//! Black-box tests of the restorer binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod build_image;
mod cache;
mod chaos;
mod faults;
mod harness;
mod run_image;
