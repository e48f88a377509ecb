//! Black-box tests of the detector binary, run as an unprivileged user as a platform runs it
//! (the tests themselves run as root, which the detector refuses).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod environment;
mod extensions;
mod failures;
mod groups;
mod harness;
