//! The restorer: gives buildpacks back what they kept — `store.toml`, the metadata of the previous
//! image's launch layers, and cached layers from the cache dir, each verified against its diffID
//! (a mismatch discards that layer with a warning) — before the build (platform.md "restorer").
//!
//! From Platform API 0.12 it reads the run image recorded in analyzed.toml again only when
//! analyzed.toml leaves a question (no target, a tag instead of a digest, flags naming another
//! target, image extensions): an index becomes the target's child, a missing target is filled in,
//! a run image of another platform fails, and one that cannot be read only warns (except for
//! extensions). From 0.14 a selected run image that run.toml lists must be readable, as upstream.
//!
//! Cached layers come from `-cache-image` (a registry image) or `-cache-dir`.
//!
//! `-build-image` (0.10+) is resolved in its registry and recorded in analyzed.toml (`build_image`).
//!
//! With run image extension (`extend = true`) the run image is always read, as upstream reads it
//! for the extender, and its digest reference and target are recorded; with `-daemon` it is read
//! from its registry (by the name analyzed.toml recorded), since the extender needs a registry
//! digest, not a daemon image ID. As upstream, its manifest and config are also copied into the
//! kaniko dir when there is one, for the run-image extender ([`crate::kaniko`]).

use std::path::Path;

use cnb_api::{BUILDPACK, Version};
use cnb_archive::ExtractOptions;
use cnb_formats::FormatError;
use cnb_formats::analyzed::Analyzed;
use cnb_formats::group::Group;
use cnb_formats::labels::{BuildpackLayerMetadata, CacheMetadata, LayersMetadata};
use cnb_formats::layer::LayerMetadataFile;
use cnb_formats::store::Store;
use cnb_platform::{ExitClass, ExitCode, Inputs, Logger};

use crate::cache::{VolumeCache, is_full};

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// A buildpack's API is not supported.
    #[error("buildpack '{buildpack}': buildpack api '{api}' is not supported by this lifecycle (supported: {})", BUILDPACK.supported_list())]
    Api {
        /// The buildpack.
        buildpack: String,
        /// Its API.
        api: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FormatError),
    /// A file system error.
    #[error(transparent)]
    Io(#[from] cnb_os::IoError),
    /// Ownership or privileges.
    #[error(transparent)]
    Os(#[from] cnb_os::OsError),
    /// The image backend could not be set up.
    #[error(transparent)]
    Store(#[from] crate::stores::StoreError),
    /// The recorded run image cannot be used for the recorded target.
    #[error("run image: {0}")]
    RunImage(cnb_image::ImageError),
    /// `-build-image` cannot be read.
    #[error("build image: {0}")]
    BuildImage(cnb_image::ImageError),
    /// The run image analyzed.toml selected cannot be read (Platform API 0.14+ with -run).
    #[error("selected run image '{0}' is not accessible")]
    RunImageNotAccessible(String),
}

impl ExitClass for RestoreError {
    fn exit_code(&self) -> ExitCode {
        match self {
            RestoreError::Api { .. } => ExitCode::IncompatibleBuildpackApi,
            RestoreError::Os(_)
            | RestoreError::Store(_)
            | RestoreError::RunImage(_)
            | RestoreError::BuildImage(_)
            | RestoreError::RunImageNotAccessible(_) => ExitCode::Failed,
            _ => ExitCode::RestoreError,
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError {
    let io = cnb_os::IoError::at(action, path);
    move |source| RestoreError::Io(io(source))
}

/// Why the restorer reads the run image (Platform API 0.12+). Pack gives the restorer credentials
/// for the cache image only, so the run image is read only when analyzed.toml leaves a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunImageRead {
    /// Image extensions need the run image's digest and target (upstream reads it then, and a
    /// failure is an error).
    Extensions,
    /// analyzed.toml has no target (ours: upstream fills it in only for extensions).
    NoTarget,
    /// `-os`/`-arch`/`-arch-variant` name another target than the recorded one (ours).
    OtherTarget,
    /// The reference is a tag, not a digest: it may name an index (ours: it becomes the child).
    NotPinned,
}

impl RunImageRead {
    fn why(self) -> &'static str {
        match self {
            RunImageRead::Extensions => "for image extensions",
            RunImageRead::NoTarget => "to find its target",
            RunImageRead::OtherTarget => "for the target given by the flags",
            RunImageRead::NotPinned => "to pin it to a digest",
        }
    }
}

/// Whether (and why) the recorded run image must be read again.
fn run_image_read(inputs: &Inputs, analyzed: &Analyzed, group: &Group) -> Option<RunImageRead> {
    // Run image targets and extension are Platform API 0.12+ (analyzed.toml may still be read
    // below it, for -build-image).
    if inputs.platform_api < Version::new(0, 12) {
        return None;
    }
    let run = analyzed
        .run_image
        .as_ref()
        .filter(|r| !r.reference.is_empty())?;
    let recorded = run.target.as_ref().filter(|t| !t.os.is_empty());
    if run.extend || (recorded.is_none() && !group.group_extensions.is_empty()) {
        return Some(RunImageRead::Extensions);
    }
    let Some(recorded) = recorded else {
        return Some(RunImageRead::NoTarget);
    };
    if let Some(flags) = crate::target::from_flags(inputs)
        && !flags
            .target
            .matches(&crate::target::from_recorded(recorded).target)
    {
        return Some(RunImageRead::OtherTarget);
    }
    // A daemon records image IDs, which have no '@'; a registry or layout reference is pinned
    // when it carries a digest.
    if !inputs.daemon() && !run.reference.contains('@') {
        return Some(RunImageRead::NotPinned);
    }
    None
}

/// Whether the run image analyzed.toml selected must be readable (Platform API 0.14+): upstream
/// checks it when run.toml lists it (as an image or a mirror).
fn must_check_selected(inputs: &Inputs, analyzed: &Analyzed) -> Result<bool, RestoreError> {
    let Some(name) = analyzed
        .run_image
        .as_ref()
        .map(|r| r.image.as_str())
        .filter(|n| !n.is_empty())
    else {
        return Ok(false);
    };
    if inputs.platform_api < Version::new(0, 14) {
        return Ok(false);
    }
    let listed: Option<cnb_formats::run::RunMetadata> =
        cnb_formats::read_toml_if_exists(inputs.run_path())?;
    Ok(listed.is_some_and(|l| {
        l.entry_containing(name, crate::export::image_name_key)
            .is_some()
    }))
}

/// Runs the restorer.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), RestoreError> {
    use crate::privileges::{Volume, volumes};
    let mut owned = volumes(inputs, &[Volume::Layers, Volume::CacheDir]);
    let kaniko = inputs.env.get(crate::kaniko::TEST_DIR_ENV).map_or_else(
        || crate::kaniko::KANIKO_DIR.into(),
        std::path::PathBuf::from,
    );
    let kaniko = Some(kaniko).filter(|k| k.is_dir());
    if let Some(k) = &kaniko {
        owned.push(k);
    }
    cnb_os::ensure_owner(inputs.uid(), inputs.gid(), &owned)?;
    let analyzed_path = inputs.analyzed_path();
    let records_build_image = crate::build_image::wanted(inputs);
    let mut analyzed = if (inputs.platform_api >= Version::new(0, 12) || records_build_image)
        && analyzed_path.is_file()
    {
        Some(Analyzed::read(analyzed_path)?)
    } else {
        None
    };
    // restore() reads group.toml again and reports it; here it only tells about extensions.
    let group = Group::read(inputs.group_path()).unwrap_or_default();
    let read = analyzed
        .as_ref()
        .and_then(|a| run_image_read(inputs, a, &group));
    let check_selected = match &analyzed {
        Some(a) => must_check_selected(inputs, a)?,
        None => false,
    };
    let store = if read.is_some() || check_selected || inputs.cache_image().is_some() {
        Some(crate::stores::open_store(inputs, log)?)
    } else {
        None
    };
    // With -daemon the run image is read there, the cache image from its registry; an extended
    // run image from its registry too, as upstream (the extender needs a registry digest).
    let cache_store = crate::stores::open_cache_store(inputs)?;
    let extension_store = if read == Some(RunImageRead::Extensions) && inputs.daemon() {
        Some(crate::stores::registry_store(inputs)?)
    } else {
        None
    };
    let build_image_store = crate::stores::open_build_image_store(inputs)?;
    // The store (with its credentials) is built before dropping to the build user, as upstream
    // builds its keychain first: ~/.docker may not be readable afterwards.
    cnb_os::drop_privileges(inputs.uid(), inputs.gid())?;
    if let (Some(a), Some(store)) = (analyzed.as_mut(), &build_image_store) {
        crate::build_image::record(inputs, store.as_ref(), a, log)
            .map_err(RestoreError::BuildImage)?;
        a.write(analyzed_path)?;
    }
    if let (Some(a), Some(store)) = (analyzed.as_mut(), &store) {
        if check_selected {
            check_selected_run_image(inputs, store.as_ref(), a)?;
        }
        if let Some(read) = read {
            let (run_store, by_name) = match &extension_store {
                Some(s) => (s.as_ref(), true),
                None => (store.as_ref(), false),
            };
            match update_run_image(inputs, run_store, a, by_name) {
                Ok(()) => {
                    a.write(analyzed_path)?;
                    if let (RunImageRead::Extensions, Some(k)) = (read, &kaniko) {
                        save_kaniko_copy(inputs, run_store, a, k, log);
                    }
                }
                // Ours only: the build can go on with what the analyzer recorded.
                Err(RestoreError::RunImage(e))
                    if read != RunImageRead::Extensions && is_unreadable(&e) =>
                {
                    log.warn(format!(
                        "could not read the run image {}: {e}; keeping analyzed.toml as it is",
                        read.why()
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
    restore(inputs, cache_store.as_deref().or(store.as_deref()), log)
}

/// Leaves the extended run image's manifest and config in the kaniko dir; a failure only warns
/// (ours: upstream fails), since the extender can still read the registry.
fn save_kaniko_copy(
    inputs: &Inputs,
    store: &dyn cnb_image::BlobStore,
    analyzed: &Analyzed,
    kaniko: &Path,
    log: &Logger,
) {
    let Some(run) = analyzed.run_image.as_ref() else {
        return;
    };
    let saved = cnb_image::open(store, &run.reference, &run_image_request(inputs, run))
        .map_err(|e| e.to_string())
        .and_then(|o| o.required(&run.reference).map_err(|e| e.to_string()))
        .and_then(|image| crate::kaniko::save_base(store, &image, kaniko));
    match saved {
        Ok(dir) => log.debug(format!(
            "Saved the run image's metadata to {}",
            dir.display()
        )),
        Err(e) => log.warn(format!(
            "could not copy the run image to the kaniko dir '{}': {e}",
            kaniko.display()
        )),
    }
}

/// An image that could not be read (missing, refused, unreachable), as opposed to one that was
/// read and is for another platform.
fn is_unreadable(e: &cnb_image::ImageError) -> bool {
    !matches!(
        e,
        cnb_image::ImageError::NoMatchingPlatform { .. }
            | cnb_image::ImageError::PlatformMismatch { .. }
    )
}

/// The request the recorded run image is resolved with: the flags, else the recorded target.
fn run_image_request(
    inputs: &Inputs,
    run: &cnb_formats::analyzed::RunImage,
) -> cnb_image::TargetRequest {
    use cnb_image::{TargetRequest, TargetSource};
    crate::target::from_flags(inputs)
        .or_else(|| {
            run.target
                .as_ref()
                .filter(|t| !t.os.is_empty())
                .map(crate::target::from_recorded)
        })
        .unwrap_or_else(|| TargetRequest::or_host(None, TargetSource::Host))
}

/// Platform API 0.14+: the selected run image must be readable, as upstream checks it.
fn check_selected_run_image(
    inputs: &Inputs,
    store: &dyn cnb_image::BlobStore,
    analyzed: &Analyzed,
) -> Result<(), RestoreError> {
    use cnb_image::{ImageError, Opened, open};
    let Some(run) = analyzed.run_image.as_ref() else {
        return Ok(());
    };
    match open(store, &run.image, &run_image_request(inputs, run)) {
        Ok(Opened::Found(_) | Opened::PlatformMismatch { .. })
        | Err(ImageError::NoMatchingPlatform { .. }) => Ok(()),
        _ => Err(RestoreError::RunImageNotAccessible(run.image.clone())),
    }
}

/// Re-resolves the recorded run image for the recorded (or flagged) target: its reference, or
/// `by_name` the name analyzed.toml recorded (a daemon's image ID means nothing to a registry).
fn update_run_image(
    inputs: &Inputs,
    store: &dyn cnb_image::BlobStore,
    analyzed: &mut Analyzed,
    by_name: bool,
) -> Result<(), RestoreError> {
    use cnb_image::{ImageError, Opened, TargetSource, open};
    let Some(run) = analyzed.run_image.as_mut() else {
        return Ok(());
    };
    let request = run_image_request(inputs, run);
    let name = if by_name && !run.image.is_empty() {
        run.image.clone()
    } else {
        run.reference.clone()
    };
    let image = match open(store, &name, &request).map_err(RestoreError::RunImage)? {
        Opened::Found(i) => *i,
        Opened::NotFound => {
            return Err(RestoreError::RunImage(ImageError::NotFound(name)));
        }
        // Nothing recorded and nothing asked: the run image defines the target.
        Opened::PlatformMismatch { image, .. } if request.source == TargetSource::Host => *image,
        Opened::PlatformMismatch { found, wanted, .. } => {
            return Err(RestoreError::RunImage(ImageError::PlatformMismatch {
                reference: name,
                found: Box::new(found),
                wanted: Box::new(wanted),
            }));
        }
    };
    run.reference = image.identifier.clone();
    run.target = Some(crate::target::metadata_of(&image));
    Ok(())
}

fn write_layer_toml(path: &Path, layer: &BuildpackLayerMetadata) -> Result<(), RestoreError> {
    let metadata = match &layer.data {
        serde_json::Value::Object(_) => {
            serde_json::from_value(layer.data.clone()).unwrap_or_default()
        }
        _ => toml::Table::new(),
    };
    cnb_formats::write_toml(
        path,
        &LayerMetadataFile {
            types: None,
            metadata,
        },
    )?;
    Ok(())
}

/// Where cached layers come from.
enum Cache<'a> {
    Dir(VolumeCache),
    Image(
        &'a dyn cnb_image::BlobStore,
        String,
        Option<Box<cnb_image::Image>>,
    ),
}

impl Cache<'_> {
    /// A reader over a cached layer's tar (plain or gzip).
    fn layer(&self, diff_id: &str) -> Result<Box<dyn std::io::Read + Send>, String> {
        match self {
            Cache::Dir(c) => {
                let path = c.layer_path(diff_id);
                std::fs::File::open(&path)
                    .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            Cache::Image(store, name, image) => {
                let image = image.as_ref().ok_or("there is no cache image")?;
                let diff: cnb_image::Digest = diff_id
                    .parse()
                    .map_err(|e: cnb_image::ImageError| e.to_string())?;
                let layer = image
                    .layer(&diff)
                    .ok_or_else(|| format!("the cache image has no layer {diff_id}"))?;
                store.blob(name, &layer.digest).map_err(|e| e.to_string())
            }
        }
    }
}

/// Why a cached layer was not restored: a problem of the cache (the layer is skipped with a
/// warning) or a full layers dir (the restore fails).
enum Miss {
    Discard(String),
    Full(std::path::PathBuf, std::io::Error),
}

/// Restores into the layers dir; `store` holds the cache image when there is one.
pub fn restore(
    inputs: &Inputs,
    store: Option<&dyn cnb_image::BlobStore>,
    log: &Logger,
) -> Result<(), RestoreError> {
    let layers = inputs.layers_dir();
    let group = Group::read(inputs.group_path())?;
    verify_buildpack_apis(inputs, &group, log)?;
    let app_md = previous_layers(inputs, log)?;
    let (cache, cache_md) = open_cache(inputs, store, log);
    let skip = inputs.skip_layers();
    let sbom_on = inputs.platform_api >= Version::new(0, 8) && !skip;
    if sbom_on && let (Some(cache), Some(sbom)) = (&cache, &cache_md.sbom) {
        restore_cached_sbom(cache, &sbom.sha, layers, log);
    }
    for bp in &group.group {
        let dir = layers.join(cnb_formats::id::dir_name(&bp.id));
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let previous = app_md.buildpack(&bp.id);
        if let Some(store) = previous.and_then(|b| b.store.as_ref()) {
            let metadata = serde_json::from_value(store.metadata.clone()).unwrap_or_default();
            cnb_formats::write_toml(&dir.join("store.toml"), &Store { metadata })?;
        }
        if skip {
            continue;
        }
        // Launch-only layers: metadata from the previous image, so the buildpack can decide to reuse.
        for (name, layer) in previous.map(|b| &b.layers).into_iter().flatten() {
            if layer.launch && !layer.cache && !layer.build {
                write_layer_toml(&dir.join(format!("{name}.toml")), layer)?;
            }
        }
        if let Some(cache) = &cache {
            let wanted: Vec<(&String, &BuildpackLayerMetadata)> = cache_md
                .buildpack(&bp.id)
                .map(|b| &b.layers)
                .into_iter()
                .flatten()
                .filter(|(_, l)| l.cache)
                .collect();
            restore_cached_layers(cache, &bp.id, &dir, &wanted, layers, log)?;
        }
    }
    if sbom_on {
        restore_sbom_files(layers, &group)?;
    }
    Ok(())
}

/// Every buildpack's API is one this lifecycle supports (deprecated ones warn, or fail under
/// `CNB_DEPRECATION_MODE=error`).
fn verify_buildpack_apis(inputs: &Inputs, group: &Group, log: &Logger) -> Result<(), RestoreError> {
    for bp in group.group.iter().filter(|bp| !bp.api.is_empty()) {
        let accepted = cnb_api::verify_buildpack_api(
            "Buildpack",
            &bp.name(),
            &bp.api,
            inputs.deprecation_mode,
        )
        .map_err(|_| RestoreError::Api {
            buildpack: bp.name(),
            api: bp.api.clone(),
        })?;
        if let Some(w) = accepted.warning {
            log.warn(w);
        }
    }
    Ok(())
}

/// The previous image's layer metadata, as the analyzer recorded it (none without analyzed.toml).
fn previous_layers(inputs: &Inputs, log: &Logger) -> Result<LayersMetadata, RestoreError> {
    let analyzed_path = inputs.analyzed_path();
    if analyzed_path.is_file() {
        return Ok(Analyzed::read(analyzed_path)?.metadata);
    }
    log.warn(format!(
        "no {}: restoring nothing from the previous image",
        analyzed_path.display()
    ));
    Ok(LayersMetadata::default())
}

/// The cache the inputs name (the image before the dir) and its metadata; a cache that cannot be
/// read is ignored with a warning.
fn open_cache<'a>(
    inputs: &'a Inputs,
    store: Option<&'a dyn cnb_image::BlobStore>,
    log: &Logger,
) -> (Option<Cache<'a>>, CacheMetadata) {
    let ignore = |e: crate::cache::CacheError| {
        log.warn(format!("ignoring the cache: {e}"));
        CacheMetadata::default()
    };
    match (inputs.cache_image(), store, inputs.cache_dir()) {
        (Some(name), Some(store), _) => {
            let c = crate::cache::ImageCache::new(store, name);
            let image = c.open().unwrap_or_else(|e| {
                log.warn(format!("ignoring the cache image: {e}"));
                None
            });
            let md = match image
                .as_ref()
                .and_then(|i| i.label(cnb_formats::labels::CACHE_METADATA))
            {
                Some(l) => CacheMetadata::from_label(l).unwrap_or_else(|e| ignore(e.into())),
                None => CacheMetadata::default(),
            };
            (
                Some(Cache::Image(store, name.to_string(), image.map(Box::new))),
                md,
            )
        }
        (_, _, Some(dir)) => {
            let c = VolumeCache::new(dir);
            let md = c.metadata().unwrap_or_else(ignore);
            (Some(Cache::Dir(c)), md)
        }
        _ => (None, CacheMetadata::default()),
    }
}

/// Extraction of a cached layer: its paths are absolute, under the layers dir.
fn layer_extract_options(layers: &Path) -> ExtractOptions {
    ExtractOptions {
        prefix: Some(layers.to_string_lossy().into_owned()),
        owner: None,
    }
}

/// The cached SBOM layer, verified; a layer that cannot be restored is skipped with a warning.
fn restore_cached_sbom(cache: &Cache, sha: &str, layers: &Path, log: &Logger) {
    let opts = layer_extract_options(layers);
    match cache
        .layer(sha)
        .map(|r| cnb_archive::extract(r, layers, &opts))
    {
        Ok(Ok(x)) if x.diff_id == sha => {}
        Ok(Ok(x)) => log.warn(format!(
            "not restoring the cached sbom layer: diffID {} but {sha} was recorded",
            x.diff_id
        )),
        Ok(Err(e)) => log.warn(format!("not restoring the cached sbom layer: {e}")),
        Err(e) => log.warn(format!("not restoring the cached sbom layer: {e}")),
    }
}

/// One buildpack's cached layers into `dir`: metadata and contents, verified; several layers at
/// once (each is fetched, gunzipped and hashed on one thread while another writes its files). A
/// layer the cache cannot give is skipped with a warning; a full layers dir fails the restore.
fn restore_cached_layers(
    cache: &Cache,
    bp_id: &str,
    dir: &Path,
    wanted: &[(&String, &BuildpackLayerMetadata)],
    layers: &Path,
    log: &Logger,
) -> Result<(), RestoreError> {
    let opts = layer_extract_options(layers);
    let results = cnb_archive::map_ordered(wanted, cnb_archive::default_threads(), |(_, layer)| {
        let file = cache.layer(&layer.sha).map_err(Miss::Discard)?;
        match cnb_archive::extract(file, layers, &opts) {
            Ok(x) if x.diff_id == layer.sha => Ok(()),
            Ok(x) => Err(Miss::Discard(format!(
                "its contents have diffID {} but {} was recorded",
                x.diff_id, layer.sha
            ))),
            Err(cnb_archive::ArchiveError::Io { path, source, .. }) if is_full(&source) => {
                Err(Miss::Full(path, source))
            }
            Err(e) => Err(Miss::Discard(e.to_string())),
        }
    });
    // A full or over-quota layers dir is no cache problem: fail as upstream does for write
    // errors. Layers are extracted side by side, so a full disk may stop several of them:
    // none is left partial, and the first in order is the one named.
    let mut full = None;
    let results: Vec<Result<(), String>> = results
        .into_iter()
        .map(|r| match r {
            Ok(()) => Ok(()),
            Err(Miss::Discard(reason)) => Err(reason),
            Err(Miss::Full(path, source)) => {
                full.get_or_insert((path, source));
                Err(String::new())
            }
        })
        .collect();
    if let Some((path, source)) = full {
        for (name, _) in wanted {
            let _ = std::fs::remove_dir_all(dir.join(name));
            let _ = std::fs::remove_file(dir.join(format!("{name}.toml")));
        }
        return Err(io("restore cached layer into", &path)(source));
    }
    for ((name, layer), result) in wanted.iter().zip(results) {
        let id = format!("{bp_id}:{name}");
        let toml = dir.join(format!("{name}.toml"));
        match result {
            Ok(()) => {
                write_layer_toml(&toml, layer)?;
                log.info(format!("Restoring data for '{id}' from cache"));
            }
            Err(reason) => {
                log.warn(format!("not restoring cached layer '{id}': {reason}"));
                let _ = std::fs::remove_dir_all(dir.join(name));
                let _ = std::fs::remove_file(&toml);
            }
        }
    }
    Ok(())
}

/// Puts the SBOM files the analyzer (launch) and the cache (cache) restored under
/// `<layers>/sbom/{launch,cache}/<bp>/<layer>/` next to their layers as
/// `<layers>/<bp>/<layer>.sbom.<ext>.json`, for layers that exist, then removes `<layers>/sbom`.
fn restore_sbom_files(layers: &Path, group: &Group) -> Result<(), RestoreError> {
    let sbom = layers.join("sbom");
    if !sbom.is_dir() {
        return Ok(());
    }
    for bp in &group.group {
        let escaped = cnb_formats::id::dir_name(&bp.id);
        for kind in ["launch", "cache"] {
            let Ok(rd) = std::fs::read_dir(sbom.join(kind).join(&escaped)) else {
                continue;
            };
            for layer_dir in rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
            {
                let Some(layer) = layer_dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                if !layers
                    .join(&escaped)
                    .join(format!("{layer}.toml"))
                    .is_file()
                {
                    continue;
                }
                for f in std::fs::read_dir(&layer_dir)
                    .map_err(io("read", &layer_dir))?
                    .filter_map(|e| e.ok())
                {
                    let name = f.file_name().to_string_lossy().into_owned();
                    if let Some(ext) = name.strip_prefix("sbom.") {
                        let dest = layers.join(&escaped).join(format!("{layer}.sbom.{ext}"));
                        std::fs::copy(f.path(), &dest).map_err(io("copy", &dest))?;
                    }
                }
            }
        }
    }
    std::fs::remove_dir_all(&sbom).map_err(io("remove", &sbom))
}
