//! Reproducible layer tars, digests and safe extraction.
