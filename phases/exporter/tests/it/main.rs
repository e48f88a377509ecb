//! Black-box tests of the exporter binary, as a platform runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ahead;
mod bom;
mod chaos;
mod chaos_daemon;
mod extended;
mod faults;
mod full_disk;
mod harness;
mod hostile;
mod index;
mod layout;
mod registry;
mod run_image_metadata;
