//! Black-box tests of the rebaser binary: multi-arch run images, refusals, registry and layout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chaos;
mod faults;
mod index;
mod rebase;
mod report;
