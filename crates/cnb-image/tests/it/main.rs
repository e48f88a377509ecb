//! Tests of the image model, the backends and target resolution.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod daemon;
mod fixtures;
mod hostile;
mod layout;
mod registry;
mod resolve;
