//! Helpers for tests only (a dev-dependency of the other crates): where testdata lives, the
//! phase harness the phases' black-box tests run their binary with ([`phase`]), tiny
//! multi-arch image fixtures built with our own crates, and a real OCI registry (Debian's
//! `docker-registry`) started on a free loopback port and a real Docker daemon, each stopped when
//! dropped; an HTTP fault proxy to put in front of the registry and a walker that checks what it
//! holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod chaos;
pub mod dockerd;
pub mod fault_proxy;
pub mod fixtures;
pub mod idle_proxy;
pub mod phase;
pub mod registry;
pub mod registry_walk;
pub mod tmpfs;
pub mod token_gateway;

use std::path::PathBuf;

/// `<repo>/testdata`.
pub fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}
