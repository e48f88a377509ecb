//! The analyzer run the way a platform runs it, and what it wrote.

use std::path::Path;

use cnb_formats::analyzed::Analyzed;
pub use cnb_test_support::phase::{PhaseOutput, PhaseRun, api_at_least, platform_apis};

/// The analyzer at Platform API `papi` writing into `layers`.
pub fn analyzer(papi: &str, layers: &Path) -> PhaseRun {
    PhaseRun::new(env!("CARGO_BIN_EXE_analyzer"), papi).flag("-layers", layers)
}

/// `<layers>/analyzed.toml`.
pub fn analyzed(layers: &Path) -> Analyzed {
    Analyzed::read(&layers.join("analyzed.toml")).unwrap()
}
