//! Platform and Buildpack API versions.
