//! The exporter: the app image = the run image (the child for the recorded target) plus, in
//! upstream's order, the buildpacks' launch layers, the launch SBOM layer, the app layer, the
//! launcher, the launcher config and the process-type links; labels, env and entrypoint as the
//! Platform API says; saved under every name, then report.toml (platform.md "exporter").

mod bom;
mod config;
mod extended;
pub(crate) mod index;
mod layers;
mod memo;
mod prebuild;
mod upload;

use cnb_api::Version;
use cnb_formats::FormatError;
use cnb_formats::analyzed::Analyzed;
use cnb_formats::group::Group;
use cnb_formats::labels::{LayerSha, LayersMetadata, RunImageForRebase};
use cnb_formats::metadata::LaunchMetadata;
use cnb_formats::report::{ImageReport, Report};
use cnb_image::{
    BlobStore, Image, ImageBuilder, ImageError, ImageRef, Opened, TargetRequest, open,
};
use cnb_platform::{ExitClass, ExitCode, Inputs, Logger};

pub use memo::{Known, LayerMemo};

use crate::stores::{StoreError, open_store};
use crate::target;

pub(crate) use config::image_name_key;
pub use layers::LayerError;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// analyzed.toml names no run image.
    #[error("run image not found in analyzed metadata ({0})")]
    NoRunImage(String),
    /// A name that does not parse.
    #[error(transparent)]
    BadReference(ImageError),
    /// The backend could not be built.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run image could not be opened for the target.
    #[error("run image: {0}")]
    RunImage(ImageError),
    /// The previous image is for another platform than the run image.
    #[error(
        "previous image '{previous}' is for {found} but the run image is for {wanted}: refusing to mix architectures"
    )]
    PreviousPlatform {
        /// The previous image.
        previous: String,
        /// Its platform.
        found: String,
        /// The run image's.
        wanted: String,
    },
    /// The previous image could not be read.
    #[error("previous image: {0}")]
    PreviousImage(ImageError),
    /// A layer could not be built or reused.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// `-process-type` names no process.
    #[error("default process type '{0}' is not one of the processes in metadata.toml")]
    NoSuchProcess(String),
    /// Saving the image failed.
    #[error("save '{name}': {source}")]
    Save {
        /// The first name.
        name: String,
        /// Why.
        #[source]
        source: ImageError,
    },
    /// `CNB_LAYER_COMPRESSION` names no compression we write.
    #[error("invalid CNB_LAYER_COMPRESSION '{0}': expected gzip or zstd")]
    BadCompression(String),
    /// `-index` with `-daemon`.
    #[error("-index cannot be used with -daemon: the docker daemon cannot hold an image index")]
    IndexWithDaemon,
    /// `-index` outside experimental mode.
    #[error(
        "experimental feature 'image index' is disabled: set CNB_EXPERIMENTAL_MODE=warn to use -index"
    )]
    ExperimentalIndex,
    /// An `-index` value that cannot name an index.
    #[error("invalid -index '{index}': {reason}")]
    BadIndex {
        /// The value.
        index: String,
        /// Why.
        reason: String,
    },
    /// The image was saved but could not be added to its index.
    #[error("add to index '{index}': {source}")]
    Index {
        /// The index.
        index: String,
        /// Why.
        #[source]
        source: ImageError,
    },
    /// `<extended>/run` is missing or unusable while analyzed.toml says the run image is extended.
    #[error("extended run image '{path}': {reason}")]
    Extended {
        /// The dir or layout.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// An extended run image below Platform API 0.13 outside experimental mode, as upstream.
    #[error(
        "experimental feature 'Dockerfiles' is disabled: set CNB_EXPERIMENTAL_MODE=warn to export an extended run image"
    )]
    ExperimentalDockerfiles,
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FormatError),
    /// Ownership or privileges could not be set up.
    #[error(transparent)]
    Os(#[from] cnb_os::OsError),
}

impl ExitClass for ExportError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ExportError::NoRunImage(_)
            | ExportError::BadReference(_)
            | ExportError::IndexWithDaemon
            | ExportError::BadCompression(_)
            | ExportError::BadIndex { .. } => ExitCode::InvalidArgs,
            ExportError::ExperimentalIndex
            | ExportError::ExperimentalDockerfiles
            | ExportError::Extended { .. } => ExitCode::Failed,
            ExportError::Store(StoreError::LayoutWithoutDir | StoreError::DaemonAndLayout) => {
                ExitCode::InvalidArgs
            }
            ExportError::Store(_) | ExportError::Os(_) => ExitCode::Failed,
            _ => ExitCode::ExportError,
        }
    }
}

/// Runs the exporter.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), ExportError> {
    let index = index::check(inputs, log)?;
    let store = open_store(inputs, log)?;
    let cache_store = crate::stores::open_cache_store(inputs)?;
    // Volumes the exporter writes as the build user: the caches and, with -layout, the layout root.
    use crate::privileges::{Volume, hand_over, volumes};
    create_launch_cache_dir(inputs)?;
    let owned = [Volume::CacheDir, Volume::LaunchCache, Volume::Layout];
    hand_over(inputs, &volumes(inputs, &owned))?;
    let mut memo = LayerMemo::default();
    let report = export(inputs, store.as_ref(), index.as_deref(), &mut memo, log)?;
    if cache_store.is_some() {
        // The app image's blobs are in another store: only the diffIDs carry over.
        memo.blobs_in = None;
    }
    export_cache(
        inputs,
        cache_store.as_deref().unwrap_or(store.as_ref()),
        &memo,
        log,
    );
    cnb_formats::write_toml(inputs.report_path(), &report)?;
    Ok(())
}

/// Writes the cache (a dir or an image); a cache that cannot be written only warns, as upstream.
/// `memo` is what the export learned (diffIDs, and blobs when they are in `store`).
pub fn export_cache(inputs: &Inputs, store: &dyn BlobStore, memo: &LayerMemo, log: &Logger) {
    if inputs.cache_dir().is_none() && inputs.cache_image().is_none() {
        return;
    }
    let layers = inputs.layers_dir();
    let group_path = inputs.group_path();
    let owner = cnb_archive::Owner {
        uid: inputs.uid(),
        gid: inputs.gid(),
    };
    let group = match Group::read(group_path) {
        Ok(g) => g,
        Err(e) => {
            log.warn(format!("failed to export the cache: {e}"));
            return;
        }
    };
    // A cache image wins over a cache dir, as upstream (pack passes -cache-dir with both).
    if let Some(dir) = inputs
        .cache_dir()
        .filter(|_| inputs.cache_image().is_none())
        && let Err(e) = crate::cache::VolumeCache::new(dir).export(layers, &group, owner, memo, log)
    {
        log.warn(format!("failed to export the cache: {e}"));
    }
    if let Some(name) = inputs.cache_image() {
        let result = crate::scratch::scratch_dir(&inputs.temp_dir, "cnb-cache-")
            .map_err(|e| crate::cache::CacheError::Layer {
                layer: name.to_string(),
                reason: e.to_string(),
            })
            .and_then(|scratch| {
                crate::cache::ImageCache::new(store, name).export(
                    layers,
                    &group,
                    owner,
                    scratch.path(),
                    memo,
                    log,
                )
            });
        if let Err(e) = result {
            log.warn(format!("failed to export the cache image: {e}"));
        }
    }
}

/// Everything read from the layers dir for one export.
struct Build {
    analyzed: Analyzed,
    group: Group,
    metadata: LaunchMetadata,
}

fn read_build(inputs: &Inputs) -> Result<Build, ExportError> {
    let layers = inputs.layers_dir();
    let analyzed_path = inputs.analyzed_path();
    let group_path = inputs.group_path();
    Ok(Build {
        analyzed: Analyzed::read(analyzed_path)?,
        group: Group::read(group_path)?,
        metadata: LaunchMetadata::read(&layers.join("config").join("metadata.toml"))?,
    })
}

/// Builds and saves the app image, adds it to `index` if given (checked by [`index::check`]);
/// returns the report. `memo` gets each layer dir's diffID and blob, for the cache export.
pub fn export(
    inputs: &Inputs,
    store: &dyn BlobStore,
    index: Option<&str>,
    memo: &mut LayerMemo,
    log: &Logger,
) -> Result<Report, ExportError> {
    let build = read_build(inputs)?;
    let zstd = match inputs.layer_compression.as_deref() {
        None | Some("" | "gzip") => false,
        Some("zstd") => true,
        Some(other) => return Err(ExportError::BadCompression(other.to_string())),
    };
    // The exporter's extra arguments, or the creator's -tag values: every name the image gets.
    let names = inputs.output_names();
    for n in &names {
        ImageRef::parse(n).map_err(ExportError::BadReference)?;
    }
    let run_reference = build
        .analyzed
        .run_image
        .as_ref()
        .map(|r| r.reference.clone())
        .unwrap_or_default();
    if run_reference.is_empty() {
        return Err(ExportError::NoRunImage(analyzed_display(inputs)));
    }
    let run = open_run_image(inputs, store, &build.analyzed, &run_reference)?;
    log.debug(format!("run image {} ({})", run.identifier, run.target()));
    let previous = open_previous(store, &build.analyzed, &run)?;
    let extended = extended::open_extended(inputs, &build.analyzed, &run, log)?;

    let launch_cache = open_launch_cache(inputs, log)?;
    // The run image's layers (by reference, so runImage.topLayer stays its top layer for a
    // rebase); the extended image, when there is one, gives the config and the layers above.
    let mut image = ImageBuilder::from_base(&run);
    if let Some(ext) = &extended {
        ext.apply_config(&mut image);
    }
    let scratch = crate::scratch::scratch_dir(&inputs.temp_dir, "cnb-export-")
        .map_err(|e| LayerError::io("create temp dir", &inputs.temp_dir, e))?;
    // New layers are stored under the first name (uploaded, or copied into the layout) while the
    // next are built; the daemon takes the image only as a whole.
    let early = (!inputs.daemon())
        .then(|| names.first().map(String::as_str))
        .flatten();
    let history = inputs.platform_api >= Version::new(0, 12);
    let built = upload::with_early_upload(store, early, log, |upload| {
        let mut ctx = layers::Context {
            inputs,
            log,
            scratch: scratch.path().to_path_buf(),
            previous: previous.as_ref(),
            previous_md: &build.analyzed.metadata,
            image: &mut image,
            history,
            // The daemon stores layers uncompressed: compressing them would only cost time.
            uncompressed: inputs.daemon(),
            zstd,
            launch_cache: launch_cache.as_ref(),
            memo,
            upload,
            prebuilt: Default::default(),
        };
        build_layers(inputs, &mut ctx, extended.as_ref(), &build)
    })?;
    let BuiltLayers {
        buildpacks,
        sbom,
        app,
        launcher,
        config,
        process_types,
    } = built;
    let mut md = LayersMetadata {
        app,
        sbom,
        buildpacks,
        config,
        launcher,
        process_types,
        run_image: RunImageForRebase {
            top_layer: run.top_layer().map(ToString::to_string).unwrap_or_default(),
            reference: run.identifier.clone(),
            ..Default::default()
        },
        stack: None,
    };
    config::apply(inputs, &build, &mut md, &mut image, log)?;
    if let Some(ext) = &extended {
        ext.set_rebasable(&mut image);
    }
    let build_report = bom::build_report(inputs.platform_api, inputs.layers_dir(), &build.group)?;

    let first = names.first().cloned().unwrap_or_default();
    log.info(format!("Saving {first}..."));
    let saved = image
        .save(store, &names)
        .map_err(|source| ExportError::Save {
            name: first.clone(),
            source,
        })?;
    // The daemon keeps no blobs another image could link.
    memo.blobs_in = (!inputs.daemon()).then(|| first.clone());
    if let Some(lc) = &launch_cache
        && let Err(e) = lc.commit()
    {
        log.warn(format!("failed to commit the launch cache: {e}"));
    }
    log.info(format!("*** Images ({}):", &saved.image_id.hex()[..12]));
    for n in &names {
        log.info(format!("      {n}"));
    }
    let mut report = image_report(inputs, names, &saved, log);
    report.build = build_report;
    if let Some(index) = index {
        let digest = index::add(store, index, &first, &saved, &run.target(), log)?;
        report.image.index_digest = digest.to_string();
    }
    Ok(report)
}

/// The layers [`export`] adds, as recorded in the image's metadata label.
struct BuiltLayers {
    buildpacks: Vec<cnb_formats::labels::BuildpackLayersMetadata>,
    sbom: Option<LayerSha>,
    app: Vec<LayerSha>,
    launcher: LayerSha,
    config: LayerSha,
    process_types: LayerSha,
}

/// Builds (or reuses) every layer above the run image, in upstream's order: each call appends
/// its layer to the image.
fn build_layers(
    inputs: &Inputs,
    ctx: &mut layers::Context,
    extended: Option<&extended::Extended>,
    build: &Build,
) -> Result<BuiltLayers, ExportError> {
    if inputs.platform_api >= Version::new(0, 11) {
        copy_launcher_sbom(inputs).map_err(|e| {
            ExportError::Layer(LayerError::io(
                "copy launcher sbom",
                inputs.layers_dir().join("sbom"),
                e,
            ))
        })?;
    }
    if let Some(ext) = extended {
        ext.add_layers(ctx)?;
    }
    Ok(BuiltLayers {
        buildpacks: layers::buildpack_layers(ctx, &build.group)?,
        sbom: layers::sbom_layer(ctx)?,
        app: layers::app_layers(ctx, &build.metadata.slices)?,
        launcher: LayerSha {
            sha: layers::launcher_layer(ctx)?,
        },
        config: LayerSha {
            sha: layers::config_layer(ctx)?,
        },
        process_types: LayerSha {
            sha: layers::process_types_layer(ctx, &build.metadata)?.unwrap_or_default(),
        },
    })
}

/// report.toml's `[image]`: a daemon image is known by its image ID, a registry or layout image
/// by its manifest digest and size (as upstream reports them).
pub(crate) fn image_report(
    inputs: &Inputs,
    tags: Vec<String>,
    saved: &cnb_image::Saved,
    log: &Logger,
) -> Report {
    let image = if inputs.daemon() {
        log.info(format!("*** Image ID: {}", saved.identifier));
        ImageReport {
            tags,
            image_id: saved.identifier.clone(),
            digest: String::new(),
            manifest_size: 0,
            index_digest: String::new(),
            children: Vec::new(),
        }
    } else {
        log.info(format!("*** Digest: {}", saved.digest));
        ImageReport {
            tags,
            image_id: String::new(),
            digest: saved.digest.to_string(),
            manifest_size: saved.manifest_size,
            index_digest: String::new(),
            children: Vec::new(),
        }
    };
    Report { image, build: None }
}

/// Creates `-launch-cache` (with -daemon) while still root, so that after `ensure_owner` the build
/// user owns it even under a root-owned parent; upstream requires it to exist.
pub(crate) fn create_launch_cache_dir(inputs: &Inputs) -> Result<(), ExportError> {
    match inputs.launch_cache_dir().filter(|_| inputs.daemon()) {
        Some(d) => std::fs::create_dir_all(d)
            .map_err(|e| ExportError::Layer(LayerError::io("create the launch cache", d, e))),
        None => Ok(()),
    }
}

/// The launch cache, with -daemon only (upstream ignores it otherwise).
fn open_launch_cache(
    inputs: &Inputs,
    log: &Logger,
) -> Result<Option<crate::launch_cache::LaunchCache>, ExportError> {
    let Some(dir) = inputs.launch_cache_dir() else {
        return Ok(None);
    };
    if !inputs.daemon() {
        log.warn("ignoring -launch-cache: it is only used with -daemon");
        return Ok(None);
    }
    crate::launch_cache::LaunchCache::open(dir)
        .map(Some)
        .map_err(|e| ExportError::Layer(LayerError::io("open the launch cache", dir, e)))
}

fn analyzed_display(inputs: &Inputs) -> String {
    inputs.analyzed_path().display().to_string()
}

/// The run image for the build's target: `-os/-arch` if given, else the target analyzed.toml
/// recorded; the recorded reference is normally a child's digest already.
fn open_run_image(
    inputs: &Inputs,
    store: &dyn BlobStore,
    analyzed: &Analyzed,
    reference: &str,
) -> Result<Image, ExportError> {
    let request = target::from_flags(inputs)
        .or_else(|| analyzed.target().map(target::from_recorded))
        .unwrap_or_else(|| TargetRequest::or_host(None, cnb_image::TargetSource::Host));
    match open(store, reference, &request).map_err(ExportError::RunImage)? {
        Opened::Found(i) => Ok(*i),
        Opened::NotFound => Err(ExportError::RunImage(ImageError::NotFound(
            reference.to_string(),
        ))),
        // Nothing recorded and no flag: the run image is the target.
        Opened::PlatformMismatch { image, .. }
            if target::from_flags(inputs).is_none() && analyzed.target().is_none() =>
        {
            Ok(*image)
        }
        Opened::PlatformMismatch { found, wanted, .. } => {
            Err(ExportError::RunImage(ImageError::PlatformMismatch {
                reference: reference.to_string(),
                found: Box::new(found),
                wanted: Box::new(wanted),
            }))
        }
    }
}

fn open_previous(
    store: &dyn BlobStore,
    analyzed: &Analyzed,
    run: &Image,
) -> Result<Option<Image>, ExportError> {
    let Some(reference) = analyzed
        .image
        .as_ref()
        .map(|i| i.reference.clone())
        .filter(|r| !r.is_empty())
    else {
        return Ok(None);
    };
    let request = TargetRequest::new(run.target(), cnb_image::TargetSource::Image);
    match open(store, &reference, &request) {
        Ok(Opened::Found(i)) => Ok(Some(*i)),
        Ok(Opened::NotFound) => Ok(None),
        Ok(Opened::PlatformMismatch { found, wanted, .. }) => Err(ExportError::PreviousPlatform {
            previous: reference,
            found: found.to_string(),
            wanted: wanted.to_string(),
        }),
        Err(e) => Err(ExportError::PreviousImage(e)),
    }
}

/// The launcher's SBOM files (`-launcher-sbom`, Platform API 0.11+) join the launch SBOM layer
/// under `<layers>/sbom/launch/buildpacksio_lifecycle/launcher/`.
fn copy_launcher_sbom(inputs: &Inputs) -> std::io::Result<()> {
    let Some(dir) = inputs.launcher_sbom_dir() else {
        return Ok(());
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let dest = inputs
        .layers_dir()
        .join("sbom/launch/buildpacksio_lifecycle/launcher");
    for f in rd.filter_map(|e| e.ok()) {
        let name = f.file_name().to_string_lossy().into_owned();
        // launcher.sbom.cdx.json -> sbom.cdx.json (the lifecycle's own SBOM stays out of the app).
        if let Some(ext) = name.strip_prefix("launcher.sbom.") {
            std::fs::create_dir_all(&dest)?;
            std::fs::copy(f.path(), dest.join(format!("sbom.{ext}")))?;
        }
    }
    Ok(())
}
