//! Black-box tests of the analyzer binary, as a platform runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod faults;
mod harness;
mod layout;
mod platforms;
mod registry;
mod secrets;
