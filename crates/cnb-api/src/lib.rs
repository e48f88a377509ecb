//! Versions of the Cloud Native Buildpacks Platform API and Buildpack API: parsing, comparison and
//! the lists of versions this lifecycle supports or deprecates.
//!
//! It knows nothing about phases or files: callers ask whether a version is supported and map the
//! answer to the spec's exit codes ([`ExitCode`], the one table of them: 11 for the Platform API,
//! 12 for a buildpack's API, ...).
#![deny(missing_docs)]

mod check;
mod deprecation;
mod exit;
mod support;
mod version;

pub use check::{Accepted, ApiError, buildpack_support, platform_support, verify_buildpack_api};
pub use deprecation::{DeprecationMode, InvalidDeprecationMode};
pub use exit::ExitCode;
pub use support::{Apis, BUILDPACK, PLATFORM, Support};
pub use version::{ParseVersionError, Version};
