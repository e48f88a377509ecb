//! OCI images for the lifecycle: read, edit and save images through one model, over
//! interchangeable backends (an OCI image layout directory, a registry), and resolve every
//! multi-architecture reference to the one child that matches the build's target.
//!
//! This crate knows OCI and Docker, not buildpacks: the `io.buildpacks.*` label schemas live in
//! `cnb-formats`. Its public API is blocking; the registry backend owns a private tokio runtime
//! and runs transfers concurrently inside it.

pub mod backend;
pub mod error;

pub use backend::{Blob, BlobData, BlobStore, RawManifest};
pub use error::{ImageError, Result};
