//! Black-box tests of the launcher: real processes started through it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app_dir;
mod bytes;
mod processes;
