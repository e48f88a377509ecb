//! Black-box tests of the builder binary with the sample bash buildpacks, run as an unprivileged
//! user as a platform runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bom;
mod inputs;
mod samples;
