//! The exporter run the way a platform runs it, and what it exports: a build's layers dir, app
//! and launcher as the builder leaves them, with analyzed.toml as the analyzer leaves it.

use std::path::{Path, PathBuf};
use std::process::Output;

use cnb_formats::analyzed::{Analyzed, ImageIdentifier, RunImage};
use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_formats::target::TargetMetadata;
use cnb_image::Target;
pub use cnb_test_support::phase::{
    PhaseOutput, PhaseRun, api_at_least, platform_apis, platform_apis_since,
};
pub use cnb_test_support::write_file as write;

/// group.toml of the one buildpack `bp` of [`Build`].
pub const GROUP: &str = "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n";
/// metadata.toml of [`Build`]: `bp` and its `web` process.
pub const METADATA: &str = "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[processes]]\ntype = \"web\"\ncommand = [\"tool\"]\nargs = []\ndirect = true\nbuildpack-id = \"bp\"\n";

/// The exporter at Platform API `papi` for the build in `layers`, `app` and `launcher`.
pub fn exporter(papi: &str, layers: &Path, app: &Path, launcher: &Path) -> PhaseRun {
    PhaseRun::new(env!("CARGO_BIN_EXE_exporter"), papi)
        .flag("-layers", layers)
        .flag("-app", app)
        .flag("-launcher", launcher)
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `[run-image]` of analyzed.toml: the `reference` the analyzer resolved, the `image` name
/// as given, the target when it recorded one (Platform API 0.12 on).
pub fn run_image(reference: &str, image: &str, target: Option<&Target>) -> RunImage {
    RunImage {
        reference: reference.into(),
        image: image.into(),
        extend: false,
        target: target.map(|t| TargetMetadata {
            os: t.os.clone(),
            arch: t.arch.clone(),
            arch_variant: t.variant.clone().unwrap_or_default(),
            ..Default::default()
        }),
    }
}

/// Writes `<layers>/analyzed.toml`: the previous image `previous` (empty: none) with its
/// `metadata`, and `run`.
pub fn write_analyzed(layers: &Path, previous: &str, run: RunImage, metadata: LayersMetadata) {
    Analyzed {
        image: Some(ImageIdentifier {
            reference: previous.into(),
        }),
        build_image: None,
        run_image: Some(run),
        metadata,
    }
    .write(&layers.join("analyzed.toml"))
    .unwrap();
}

/// A build as the builder leaves it: the buildpack `bp` with one launch layer `dep` (a tool) and
/// a `web` process, an app, a launcher; analyzed.toml is the caller's.
pub struct Build {
    pub dir: tempfile::TempDir,
    pub layers: PathBuf,
    pub app: PathBuf,
    pub launcher: PathBuf,
}

impl Build {
    /// The build, its app's index.html holding `app`.
    pub fn new(app: &str) -> Build {
        let dir = tempfile::tempdir().unwrap();
        let b = Build {
            layers: dir.path().join("layers"),
            app: dir.path().join("workspace"),
            launcher: dir.path().join("launcher"),
            dir,
        };
        write(&b.layers.join("group.toml"), GROUP);
        write(&b.layers.join("bp/dep/bin/tool"), "#!/bin/sh\n");
        write(&b.layers.join("bp/dep.toml"), "[types]\nlaunch = true\n");
        write(&b.layers.join("config/metadata.toml"), METADATA);
        write(&b.app.join("index.html"), app);
        write(&b.launcher, "launcher");
        b
    }

    /// The exporter at `papi` for this build.
    pub fn exporter(&self, papi: &str) -> PhaseRun {
        exporter(papi, &self.layers, &self.app, &self.launcher)
    }

    /// Writes analyzed.toml (see [`write_analyzed`]).
    pub fn analyzed(&self, previous: &str, run: RunImage, metadata: LayersMetadata) {
        write_analyzed(&self.layers, previous, run, metadata);
    }

    /// `<layers>/report.toml`.
    pub fn report(&self) -> Report {
        cnb_formats::read_toml(&self.layers.join("report.toml")).unwrap()
    }
}
