//! OCI images for the lifecycle: read, edit and save images through one model, over
//! interchangeable backends (an OCI image layout directory, a registry, the Docker daemon), and resolve every
//! multi-architecture reference to the one child that matches the build's target.
//!
//! This crate knows OCI and Docker, not buildpacks: the `io.buildpacks.*` label schemas live in
//! `cnb-formats`. Its public API is blocking; the registry backend owns a private tokio runtime
//! and runs transfers concurrently inside it; the daemon backend owns a current-thread one.

pub mod backend;
pub mod daemon;
mod digest;
pub mod edit;
pub mod error;
pub mod image;
pub mod index;
pub mod layout;
pub mod oci;
pub mod reference;
pub mod registry;
pub mod target;
mod verify;

pub use backend::{Blob, BlobData, BlobStore, NameLock, RawManifest};
pub use digest::Digest;
pub use edit::{ImageBuilder, NORMALIZED_CREATED, Saved, save_index};
pub use error::{ImageError, Result};
pub use image::{Image, Layer, Opened, open, open_child, open_manifest};
pub use index::{IndexOptions, IndexOutcome, add_to_index};
pub use layout::LayoutStore;
pub use reference::ImageRef;
pub use target::{Target, TargetRequest, TargetSource};
