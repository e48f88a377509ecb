//! The rebaser: puts an app image on a new run image, keeping every app layer by digest
//! (platform.md "rebaser"). Multi-arch: a new run image that is an index resolves to the child for
//! the app image's platform; a single-platform run image of another platform is refused unless
//! `-force`. An app image that is an index is rebased child by child (`index`, our addition).

use cnb_api::Version;
use cnb_formats::FormatError;
use cnb_formats::labels::{self, LayersMetadata, RunImageRef, StackMetadata};
use cnb_formats::report::Report;
use cnb_image::{
    BlobStore, Image, ImageBuilder, ImageError, ImageRef, Opened, Target, TargetRequest,
    TargetSource, oci, open, open_manifest,
};
use cnb_platform::{ExitClass, ExitCode, Inputs, Key, Logger};

use crate::stores::{StoreError, open_store};
use crate::target;

mod index;

/// Why a rebase failed.
#[derive(Debug, thiserror::Error)]
pub enum RebaseError {
    /// `-image` and `-run-image` disagree.
    #[error("-image and -run-image name different run images: use -run-image only")]
    ConflictingRunImage,
    /// A name that does not parse.
    #[error(transparent)]
    BadReference(ImageError),
    /// The backend could not be built.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The app image could not be read.
    #[error("app image: {0}")]
    AppImage(ImageError),
    /// The app image has no lifecycle metadata.
    #[error("app image '{0}' has no {label} label: was it built by a lifecycle?", label = labels::LIFECYCLE_METADATA)]
    NoMetadata(String),
    /// No new run image given and none in the app's metadata.
    #[error("no run image given (-run-image) and none recorded in the app image's metadata")]
    NoRunImage,
    /// The new run image could not be read.
    #[error("new run image: {0}")]
    RunImage(ImageError),
    /// A check that `-force` overrides.
    #[error("{0}; please provide -force to override")]
    Refused(String),
    /// An index child whose platform the new run image does not have (index rebase only).
    #[error("no image for {wanted} in new run image '{run_image}' (available: {})", cnb_image::target::list(.available))]
    NoRunImageFor {
        /// The new run image.
        run_image: String,
        /// The child's platform.
        wanted: Box<Target>,
        /// What the run image offers.
        available: Vec<Target>,
    },
    /// Replacing the layers failed (the recorded top layer is not in the app image).
    #[error("rebase: {0}")]
    Rebase(ImageError),
    /// Saving failed.
    #[error("save '{name}': {source}")]
    Save {
        /// The first name.
        name: String,
        /// Why.
        #[source]
        source: ImageError,
    },
    /// A file or label could not be written.
    #[error(transparent)]
    File(#[from] FormatError),
    /// Privileges could not be dropped.
    #[error(transparent)]
    Os(#[from] cnb_os::OsError),
}

impl ExitClass for RebaseError {
    fn exit_code(&self) -> ExitCode {
        match self {
            RebaseError::ConflictingRunImage | RebaseError::BadReference(_) => {
                ExitCode::InvalidArgs
            }
            RebaseError::Store(StoreError::LayoutWithoutDir | StoreError::DaemonAndLayout) => {
                ExitCode::InvalidArgs
            }
            RebaseError::Store(_) | RebaseError::Os(_) => ExitCode::Failed,
            _ => ExitCode::RebaseError,
        }
    }
}

/// Runs the rebaser.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), RebaseError> {
    let store = open_store(inputs, log)?;
    use crate::privileges::{Volume, hand_over, volumes};
    hand_over(inputs, &volumes(inputs, &[Volume::Layout]))?;
    let report = rebase(inputs, store.as_ref(), log)?;
    cnb_formats::write_toml(inputs.report_path(), &report)?;
    Ok(())
}

fn run_image_name(
    inputs: &Inputs,
    md: &LayersMetadata,
    app_api: Version,
    app_registry: &str,
) -> Result<String, RebaseError> {
    let flag = inputs.run_image();
    let deprecated = inputs.string(Key::Image);
    if let (Some(a), Some(b)) = (flag, deprecated)
        && a != b
    {
        return Err(RebaseError::ConflictingRunImage);
    }
    if let Some(name) = flag.or(deprecated) {
        return Ok(name.to_string());
    }
    let (image, mirrors) = if app_api >= Version::new(0, 12) && !md.run_image.image.is_empty() {
        (md.run_image.image.clone(), md.run_image.mirrors.clone())
    } else {
        let s = md.stack.clone().unwrap_or_default().run_image;
        (s.image, s.mirrors)
    };
    if image.is_empty() {
        return Err(RebaseError::NoRunImage);
    }
    let same = std::iter::once(&image)
        .chain(&mirrors)
        .find(|c| ImageRef::parse(c).is_ok_and(|r| r.registry == app_registry));
    Ok(same.cloned().unwrap_or(image))
}

/// What the rebase of one app image (or of every child of an app index) shares.
struct Ctx<'a> {
    inputs: &'a Inputs,
    store: &'a dyn BlobStore,
    log: &'a Logger,
    /// The name the app image is read from (`-previous-image` or the first `<image>`).
    app_name: String,
    force: bool,
}

/// Rebases and saves; returns the report.
pub fn rebase(inputs: &Inputs, store: &dyn BlobStore, log: &Logger) -> Result<Report, RebaseError> {
    let names = inputs.positionals.clone();
    for n in &names {
        ImageRef::parse(n).map_err(RebaseError::BadReference)?;
    }
    let first = names.first().cloned().unwrap_or_default();
    let ctx = Ctx {
        inputs,
        store,
        log,
        app_name: inputs.previous_image().unwrap_or(&first).to_string(),
        force: inputs.flag(Key::Force),
    };
    let app_name = ctx.app_name.clone();

    // An app index is rebased child by child (our addition).
    let Some(raw) = store.manifest(&app_name).map_err(RebaseError::AppImage)? else {
        return Err(RebaseError::AppImage(ImageError::NotFound(app_name)));
    };
    if oci::is_index(&raw.media_type) {
        return index::rebase_index(&ctx, names, raw);
    }

    // The app image: the flags pick a child of an index (else the host's); a single image is
    // taken as it is unless the flags ask for another platform.
    let flags = target::from_flags(inputs);
    let request = flags
        .clone()
        .unwrap_or_else(|| TargetRequest::or_host(None, TargetSource::Host));
    let opened = open_manifest(store, &app_name, raw, &request).map_err(RebaseError::AppImage)?;
    let app = match opened {
        Opened::Found(i) => *i,
        Opened::NotFound => return Err(RebaseError::AppImage(ImageError::NotFound(app_name))),
        Opened::PlatformMismatch { image, .. } if flags.is_none() => *image,
        Opened::PlatformMismatch { found, wanted, .. } => {
            return Err(RebaseError::AppImage(ImageError::PlatformMismatch {
                reference: app_name,
                found: Box::new(found),
                wanted: Box::new(wanted),
            }));
        }
    };
    let app_target = flags.map(|f| f.target).unwrap_or_else(|| app.target());
    let image = rebase_image(&ctx, &app, app_target, false)?;
    let saved = image
        .save(store, &names)
        .map_err(|source| RebaseError::Save {
            name: first,
            source,
        })?;
    log.info(format!("*** Images ({}):", &saved.image_id.hex()[..12]));
    for n in &names {
        log.info(format!("      {n}"));
    }
    Ok(crate::export::image_report(inputs, names, &saved, log))
}

/// Rebases one app image — a single image, or one child of an app index — onto the new run
/// image for `app_target`, running every check; returns the image to save. In an index
/// (`in_index`) a run image with nothing for that platform is [`RebaseError::NoRunImageFor`],
/// which the index rebase turns into a refusal, or with `-force` into a child kept as it was.
fn rebase_image(
    ctx: &Ctx<'_>,
    app: &Image,
    app_target: Target,
    in_index: bool,
) -> Result<ImageBuilder, RebaseError> {
    let (log, force) = (ctx.log, ctx.force);
    let app_name = &ctx.app_name;
    let md_label = app
        .label(labels::LIFECYCLE_METADATA)
        .ok_or_else(|| RebaseError::NoMetadata(app_name.clone()))?;
    let mut md = LayersMetadata::from_label(md_label)?;
    let app_api: Version = app
        .env("CNB_PLATFORM_API")
        .and_then(|v| v.parse().ok())
        .unwrap_or(Version::new(0, 7));
    let app_registry = ImageRef::parse(app_name)
        .map(|r| r.registry)
        .unwrap_or_default();
    let run_name = run_image_name(ctx.inputs, &md, app_api, &app_registry)?;
    ImageRef::parse(&run_name).map_err(RebaseError::BadReference)?;
    let run = open_new_run_image(ctx, &run_name, app_target, in_index)?;
    if app_api >= Version::new(0, 12) {
        check(app, &run, &mut md, &run_name, force, log)?;
    } else {
        check_stack(app, &run, force, log)?;
    }
    new_image(app, &run, md, app_api)
}

/// The new run image for the app's platform (or the flags'); in an index, nothing for that
/// platform is [`RebaseError::NoRunImageFor`]; for a single image, a run image for another
/// platform is refused unless `-force`.
fn open_new_run_image(
    ctx: &Ctx<'_>,
    run_name: &str,
    app_target: Target,
    in_index: bool,
) -> Result<Image, RebaseError> {
    let (store, log, force) = (ctx.store, ctx.log, ctx.force);
    let app_name = &ctx.app_name;
    let run_request = TargetRequest::new(app_target.clone(), TargetSource::Image);
    let missing = |available: Vec<Target>| RebaseError::NoRunImageFor {
        run_image: run_name.to_string(),
        wanted: Box::new(app_target.clone()),
        available,
    };
    let opened = match open(store, run_name, &run_request) {
        Err(ImageError::NoMatchingPlatform { available, .. }) if in_index => {
            return Err(missing(available));
        }
        other => other.map_err(RebaseError::RunImage)?,
    };
    let run = match opened {
        Opened::Found(i) => *i,
        Opened::NotFound => {
            return Err(RebaseError::RunImage(ImageError::NotFound(
                run_name.to_string(),
            )));
        }
        Opened::PlatformMismatch { found, .. } if in_index => return Err(missing(vec![found])),
        Opened::PlatformMismatch {
            image,
            found,
            wanted,
        } => {
            let msg = format!(
                "new run image '{run_name}' is for {found} but the app image is for {wanted}"
            );
            if !force {
                return Err(RebaseError::Refused(msg));
            }
            log.warn(format!("{msg}: rebasing anyway (-force)"));
            *image
        }
    };
    log.info(format!(
        "Rebasing {app_name} on run image {} ({})",
        run.identifier,
        run.target()
    ));
    Ok(run)
}

/// Below Platform API 0.12: the app and run images must name the same stack (unless `-force`).
fn check_stack(app: &Image, run: &Image, force: bool, log: &Logger) -> Result<(), RebaseError> {
    if app.label(labels::STACK_ID) == run.label(labels::STACK_ID) {
        return Ok(());
    }
    let msg = format!(
        "incompatible stack: app image stack '{}' does not match run image stack '{}'",
        app.label(labels::STACK_ID).unwrap_or_default(),
        run.label(labels::STACK_ID).unwrap_or_default()
    );
    if !force {
        return Err(RebaseError::Refused(msg));
    }
    log.warn(msg);
    Ok(())
}

/// The app image on `run`'s layers: the run image's stack (and base) labels instead of the old
/// ones, lifecycle metadata naming the new run image, and as upstream the normalised creation
/// time and no history.
fn new_image(
    app: &Image,
    run: &Image,
    mut md: LayersMetadata,
    app_api: Version,
) -> Result<ImageBuilder, RebaseError> {
    let old_top = md
        .run_image
        .top_layer
        .parse()
        .map_err(RebaseError::Rebase)?;
    let mut image = ImageBuilder::from_base(app);
    image.rebase(&old_top, run).map_err(RebaseError::Rebase)?;
    let prefixes: &[&str] = if app_api >= Version::new(0, 12) {
        &[labels::STACK_PREFIX, labels::BASE_PREFIX]
    } else {
        &[labels::STACK_PREFIX]
    };
    for key in app
        .labels()
        .keys()
        .filter(|k| prefixes.iter().any(|p| k.starts_with(p)))
    {
        image.remove_label(key);
    }
    for (k, v) in run
        .labels()
        .iter()
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
    {
        image.set_label(k, v);
    }
    md.run_image.top_layer = run.top_layer().map(ToString::to_string).unwrap_or_default();
    md.run_image.reference = run.identifier.clone();
    image.set_label(labels::LIFECYCLE_METADATA, &md.to_label()?);
    image.config_mut().history.clear();
    image.set_created(cnb_image::NORMALIZED_CREATED);
    Ok(image)
}

/// Platform API 0.12+ checks: rebasable, distro, and the run image being the recorded one.
fn check(
    app: &Image,
    run: &Image,
    md: &mut LayersMetadata,
    run_name: &str,
    force: bool,
    log: &Logger,
) -> Result<(), RebaseError> {
    let mut problems = Vec::new();
    if app.label(labels::REBASABLE) == Some("false") {
        problems.push(format!(
            "app image is not rebasable ({} = false)",
            labels::REBASABLE
        ));
    }
    let distro = |i: &Image| {
        (
            i.label(labels::BASE_DISTRO_NAME)
                .unwrap_or_default()
                .to_string(),
            i.label(labels::BASE_DISTRO_VERSION)
                .unwrap_or_default()
                .to_string(),
        )
    };
    let (new_name, new_version) = distro(run);
    let (old_name, old_version) = distro(app);
    if (!new_name.is_empty() && new_name != old_name)
        || (!new_version.is_empty() && new_version != old_version)
    {
        problems.push(format!("new run image distro {new_name} {new_version} does not match the app's {old_name} {old_version}"));
    }
    let recorded = std::iter::once(&md.run_image.image)
        .chain(&md.run_image.mirrors)
        .any(|n| same_image(n, run_name));
    if !recorded && !md.run_image.image.is_empty() {
        problems.push(format!(
            "new run image '{run_name}' is not the app's run image '{}' or one of its mirrors",
            md.run_image.image
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(RebaseError::Refused(problems.join("; ")));
    }
    for p in &problems {
        log.warn(format!("{p}: rebasing anyway (-force)"));
    }
    if !recorded {
        md.run_image.image = run_name.to_string();
        md.run_image.mirrors.clear();
        md.stack = Some(StackMetadata {
            run_image: RunImageRef {
                image: run_name.to_string(),
                mirrors: Vec::new(),
            },
        });
    }
    Ok(())
}

/// Whether two names are the same repository (tags and digests aside).
fn same_image(a: &str, b: &str) -> bool {
    match (ImageRef::parse(a), ImageRef::parse(b)) {
        (Ok(a), Ok(b)) => a.name() == b.name(),
        _ => a == b,
    }
}
