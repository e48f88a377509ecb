//! The analyzer run the way a platform runs it, and what it wrote.

use std::path::Path;

use cnb_formats::analyzed::Analyzed;
use cnb_image::Target;
use cnb_test_support::fixtures::{four_platforms, image, save_run_index};
pub use cnb_test_support::phase::{PhaseOutput, PhaseRun, api_at_least, platform_apis};
use cnb_test_support::registry::Registry;

/// The analyzer at Platform API `papi` writing into `layers`.
pub fn analyzer(papi: &str, layers: &Path) -> PhaseRun {
    PhaseRun::new(env!("CARGO_BIN_EXE_analyzer"), papi).flag("-layers", layers)
}

/// `<layers>/analyzed.toml`.
pub fn analyzed(layers: &Path) -> Analyzed {
    Analyzed::read(&layers.join("analyzed.toml")).unwrap()
}

/// Fills `reg` with what the fault and secret tests analyze: a run index `cnb/run:multi` and an
/// amd64 previous app image `cnb/app:latest`.
pub fn save_run_and_app(reg: &Registry) {
    let store = reg.store();
    save_run_index(&store, &reg.image("cnb/run:multi"), &four_platforms(), "r");
    image(
        &Target::new("linux", "amd64", None),
        &[("/workspace/app.txt", "app")],
        &[("io.buildpacks.lifecycle.metadata", "{}")],
    )
    .save(&store, &[reg.image("cnb/app:latest")])
    .unwrap();
}
