//! Black-box tests of the creator binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod index;
mod samples;
mod user_env;
