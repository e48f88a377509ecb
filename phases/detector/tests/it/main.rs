//! Black-box tests of the detector binary, run as an unprivileged user as a platform runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rules;
