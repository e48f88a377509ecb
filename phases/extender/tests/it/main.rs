//! Black-box tests of the extender binary: each runs it as root inside a tiny busybox root file
//! system with bubblewrap, as pack runs it inside the build or run image.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod build;
mod run;
mod sandbox;
