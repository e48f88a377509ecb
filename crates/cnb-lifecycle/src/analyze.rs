//! The analyzer: finds the run image (and the child of it that matches the build's target), the
//! previous image and its layer metadata, restores the previous SBOM layer, and records it all in
//! analyzed.toml (platform.md "analyzer").

use cnb_api::Version;
use cnb_archive::ExtractOptions;
use cnb_formats::analyzed::{Analyzed, ImageIdentifier, RunImage};
use cnb_formats::labels::{self, LayersMetadata};
use cnb_formats::run::{RunMetadata, StackToml};
use cnb_formats::{FormatError, read_toml_if_exists};
use cnb_image::{
    BlobStore, Digest, ImageError, ImageRef, Opened, Target, TargetRequest, TargetSource, open,
};
use cnb_platform::{ExitClass, ExitCode, Inputs, Key, Logger};

use crate::stores::{StoreError, open_store};
use crate::target;

/// Why analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// No run image given and none in run.toml/stack.toml.
    #[error("-run-image is required when there is no run metadata available ({0})")]
    NoRunImage(String),
    /// A reference that does not parse.
    #[error(transparent)]
    BadReference(ImageError),
    /// The backend could not be built.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run image could not be resolved for the target.
    #[error("run image: {0}")]
    RunImage(ImageError),
    /// The run image does not exist.
    #[error("run image '{0}' not found")]
    RunImageNotFound(String),
    /// An output image (or tag, or the cache image) cannot be written with the credentials given.
    #[error("no write access to '{name}': {source}")]
    WriteAccess {
        /// The image.
        name: String,
        /// What the registry said.
        #[source]
        source: ImageError,
    },
    /// Reading the previous image failed (other than not existing or another platform).
    #[error("previous image: {0}")]
    PreviousImage(ImageError),
    /// Restoring the previous image's SBOM layer failed.
    #[error("restore sbom layer of previous image '{image}': {reason}")]
    Sbom {
        /// The previous image.
        image: String,
        /// Why.
        reason: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FormatError),
    /// Ownership or privileges could not be set up.
    #[error(transparent)]
    Os(#[from] cnb_os::OsError),
}

impl ExitClass for AnalyzeError {
    fn exit_code(&self) -> ExitCode {
        match self {
            AnalyzeError::NoRunImage(_) | AnalyzeError::BadReference(_) => ExitCode::InvalidArgs,
            AnalyzeError::Store(StoreError::LayoutWithoutDir | StoreError::DaemonAndLayout) => {
                ExitCode::InvalidArgs
            }
            AnalyzeError::Store(_) | AnalyzeError::Os(_) => ExitCode::Failed,
            _ => ExitCode::AnalyzeError,
        }
    }
}

/// Runs the analyzer.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), AnalyzeError> {
    let store = open_store(inputs, log)?;
    let cache_store = crate::stores::open_cache_store(inputs)?;
    use crate::privileges::{Volume, hand_over, volumes};
    hand_over(
        inputs,
        &volumes(inputs, &[Volume::Layers, Volume::LaunchCache]),
    )?;
    let analyzed = analyze(
        inputs,
        store.as_ref(),
        cache_store.as_deref().unwrap_or(store.as_ref()),
        log,
    )?;
    let path = inputs.analyzed_path();
    analyzed.write(path)?;
    log.debug(format!("wrote {}", path.display()));
    Ok(())
}

/// The run image name: `-run-image`, else run.toml (Platform API 0.12+) or stack.toml (below),
/// preferring a mirror on the output image's registry as upstream does.
fn run_image_name(inputs: &Inputs) -> Result<String, AnalyzeError> {
    if let Some(name) = inputs.string(Key::RunImage) {
        return Ok(name.to_string());
    }
    let (candidates, source) = if inputs.platform_api >= Version::new(0, 12) {
        let path = inputs.run_path();
        let run: Option<RunMetadata> = read_toml_if_exists(path)?;
        let first = run.and_then(|r| r.images.into_iter().next());
        (
            first.map(|i| (i.image, i.mirrors)),
            path.display().to_string(),
        )
    } else {
        let path = inputs.stack_path();
        let stack: Option<StackToml> = read_toml_if_exists(path)?;
        (
            stack.map(|s| (s.run_image.image, s.run_image.mirrors)),
            path.display().to_string(),
        )
    };
    let Some((image, mirrors)) = candidates.filter(|(i, _)| !i.is_empty()) else {
        return Err(AnalyzeError::NoRunImage(format!("nothing in {source}")));
    };
    let registry = inputs
        .image()
        .and_then(|i| ImageRef::parse(i).ok())
        .map(|r| r.registry);
    let same_registry = std::iter::once(&image)
        .chain(&mirrors)
        .find(|c| ImageRef::parse(c).ok().map(|r| r.registry) == registry);
    Ok(same_registry.cloned().unwrap_or(image))
}

/// Everything the analyzer finds, as analyzed.toml records it. `cache_store` holds the cache
/// image (a registry even when `store` is the daemon).
pub fn analyze(
    inputs: &Inputs,
    store: &dyn BlobStore,
    cache_store: &dyn BlobStore,
    log: &Logger,
) -> Result<Analyzed, AnalyzeError> {
    let papi = inputs.platform_api;
    let image_name = inputs.image().unwrap_or_default().to_string();
    let run_name = run_image_name(inputs)?;
    let previous_name = inputs
        .string(Key::PreviousImage)
        .unwrap_or(&image_name)
        .to_string();
    for name in std::iter::once(&image_name)
        .chain([&run_name, &previous_name])
        .chain(inputs.list(Key::Tag))
    {
        ImageRef::parse(name).map_err(AnalyzeError::BadReference)?;
    }
    check_write_access(inputs, &image_name, store, cache_store)?;
    if inputs.launch_cache_dir().is_some() && !inputs.daemon() {
        log.warn("ignoring -launch-cache: it is only used with -daemon");
    }

    let run = open_run_image(inputs, store, &run_name, log)?;
    let target = run.target();
    let previous = open_previous_image(store, &previous_name, &target, log)?;
    let metadata = previous_metadata(previous.as_ref(), log);
    if papi >= Version::new(0, 8)
        && !inputs.flag(Key::SkipLayers)
        && let (Some(prev), Some(sbom)) = (&previous, &metadata.sbom)
    {
        restore_sbom(store, prev, &sbom.sha, inputs.layers_dir())?;
    }

    let run_image = RunImage {
        reference: run.identifier.clone(),
        image: if papi >= Version::new(0, 12) {
            run_name.clone()
        } else {
            String::new()
        },
        extend: false,
        target: (papi >= Version::new(0, 12)).then(|| target::metadata_of(&run)),
    };
    Ok(Analyzed {
        image: Some(ImageIdentifier {
            reference: previous
                .as_ref()
                .map(|p| p.identifier.clone())
                .unwrap_or_default(),
        }),
        build_image: None,
        run_image: Some(run_image),
        metadata,
    })
}

/// Checks now rather than after the build that every name the exporter will write (the image,
/// its tags, the cache image) is writable with the credentials given.
fn check_write_access(
    inputs: &Inputs,
    image_name: &str,
    store: &dyn BlobStore,
    cache_store: &dyn BlobStore,
) -> Result<(), AnalyzeError> {
    if inputs.layout() {
        return Ok(());
    }
    let cache = inputs.cache_image().map(|c| (c.to_string(), cache_store));
    let images = std::iter::once(image_name)
        .chain(inputs.list(Key::Tag).iter().map(String::as_str))
        .map(|n| (n.to_string(), store));
    for (name, store) in images.chain(cache) {
        store
            .check_write(&name)
            .map_err(|source| AnalyzeError::WriteAccess {
                name: name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// The run image, resolved for the target the flags ask for, or else for the host's platform
/// when it is multi-arch; a single-platform run image defines the target unless the flags ask
/// for another.
fn open_run_image(
    inputs: &Inputs,
    store: &dyn BlobStore,
    run_name: &str,
    log: &Logger,
) -> Result<cnb_image::Image, AnalyzeError> {
    let flags = target::from_flags(inputs);
    let request = flags
        .clone()
        .unwrap_or_else(|| TargetRequest::or_host(None, TargetSource::Host));
    let run = match open(store, run_name, &request).map_err(AnalyzeError::RunImage)? {
        Opened::Found(i) => *i,
        Opened::NotFound => return Err(AnalyzeError::RunImageNotFound(run_name.to_string())),
        // A single-platform run image defines the target unless the platform asked for another.
        Opened::PlatformMismatch {
            image,
            found,
            wanted,
        } => {
            if flags.is_some() {
                return Err(AnalyzeError::RunImage(ImageError::PlatformMismatch {
                    reference: run_name.to_string(),
                    found: Box::new(found),
                    wanted: Box::new(wanted),
                }));
            }
            *image
        }
    };
    if run.index_digest.is_some() && flags.is_none() {
        log.info(format!(
            "run image '{run_name}' is multi-arch; building for {} ({}); pass -arch to choose",
            run.target(),
            TargetSource::Host
        ));
    }
    log.debug(format!(
        "run image '{run_name}' resolved to {} ({})",
        run.identifier,
        run.target()
    ));
    Ok(run)
}

/// The previous image for `target`, or `None` when there is none: also when it is for another
/// platform (warned about; no layer reuse).
fn open_previous_image(
    store: &dyn BlobStore,
    previous_name: &str,
    target: &Target,
    log: &Logger,
) -> Result<Option<cnb_image::Image>, AnalyzeError> {
    let previous_request = TargetRequest::new(target.clone(), TargetSource::Image);
    let previous = match open(store, previous_name, &previous_request) {
        Ok(Opened::Found(i)) => Some(*i),
        Ok(Opened::NotFound) => None,
        Ok(Opened::PlatformMismatch { found, wanted, .. }) => {
            log.warn(format!(
                "previous image '{previous_name}' is for {found} but the build is for {wanted}: ignoring it (no layer reuse)"
            ));
            None
        }
        Err(ImageError::NoMatchingPlatform {
            available, wanted, ..
        }) => {
            log.warn(format!(
                "previous image '{previous_name}' has no image for {wanted} (available: {}): ignoring it (no layer reuse)",
                cnb_image::target::list(&available)
            ));
            None
        }
        Err(e) => return Err(AnalyzeError::PreviousImage(e)),
    };
    Ok(previous)
}

/// The previous image's lifecycle metadata label; unreadable metadata is warned about and
/// counts as none.
fn previous_metadata(previous: Option<&cnb_image::Image>, log: &Logger) -> LayersMetadata {
    previous
        .and_then(|p| p.label(labels::LIFECYCLE_METADATA))
        .and_then(|l| match LayersMetadata::from_label(l) {
            Ok(m) => Some(m),
            Err(e) => {
                log.warn(format!(
                    "ignoring the previous image's lifecycle metadata: {e}"
                ));
                None
            }
        })
        .unwrap_or_default()
}

/// Extracts the previous image's launch SBOM layer into `<layers>/sbom`.
fn restore_sbom(
    store: &dyn BlobStore,
    previous: &cnb_image::Image,
    sha: &str,
    layers: &std::path::Path,
) -> Result<(), AnalyzeError> {
    let fail = |reason: String| AnalyzeError::Sbom {
        image: previous.name.clone(),
        reason,
    };
    let diff_id: Digest = sha.parse().map_err(|e: ImageError| fail(e.to_string()))?;
    let Some(layer) = previous.layer(&diff_id) else {
        return Err(fail(format!("no layer with diffID {sha}")));
    };
    let prefix = previous
        .env("CNB_LAYERS_DIR")
        .unwrap_or("/layers")
        .to_string();
    let reader = store
        .blob(&previous.name, &layer.digest)
        .map_err(|e| fail(e.to_string()))?;
    let opts = ExtractOptions {
        prefix: Some(prefix),
        owner: None,
    };
    cnb_archive::extract(reader, layers, &opts).map_err(|e| fail(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnb_platform::{Env, Phase};

    fn inputs(papi: &str, args: &[&str]) -> Inputs {
        let env: Env = [("CNB_PLATFORM_API", papi)].into_iter().collect();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        cnb_platform::parse(Phase::Analyzer, &args, &env, std::path::Path::new("/")).unwrap()
    }

    #[test]
    fn run_image_comes_from_stack_toml_below_0_12() {
        let dir = tempfile::tempdir().unwrap();
        let stack = dir.path().join("stack.toml");
        std::fs::write(
            &stack,
            "[run-image]\nimage = \"r.test/run:1\"\nmirrors = [\"m.test/run:1\"]\n",
        )
        .unwrap();
        let i = inputs("0.11", &["-stack", stack.to_str().unwrap(), "m.test/app"]);
        assert_eq!(
            run_image_name(&i).unwrap(),
            "m.test/run:1",
            "the mirror on the app's registry wins"
        );
        let i = inputs(
            "0.11",
            &["-stack", stack.to_str().unwrap(), "other.test/app"],
        );
        assert_eq!(run_image_name(&i).unwrap(), "r.test/run:1");
        let i = inputs(
            "0.11",
            &[
                "-stack",
                dir.path().join("none.toml").to_str().unwrap(),
                "r.test/app",
            ],
        );
        assert!(matches!(
            run_image_name(&i),
            Err(AnalyzeError::NoRunImage(_))
        ));
    }

    #[test]
    fn run_image_flag_wins_over_run_toml() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run.toml");
        std::fs::write(&run, "[[images]]\nimage = \"r.test/run:1\"\n").unwrap();
        let i = inputs(
            "0.12",
            &[
                "-run",
                run.to_str().unwrap(),
                "-run-image",
                "r.test/flag:1",
                "r.test/app",
            ],
        );
        assert_eq!(run_image_name(&i).unwrap(), "r.test/flag:1");
        let i = inputs("0.12", &["-run", run.to_str().unwrap(), "r.test/app"]);
        assert_eq!(run_image_name(&i).unwrap(), "r.test/run:1");
    }
}
