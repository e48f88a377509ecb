//! The app image's labels, environment, entrypoint and creation time.

use cnb_api::Version;
use cnb_formats::labels::{
    self, BuildMetadata, LauncherMetadata, LayersMetadata, RunImageRef, StackMetadata,
};
use cnb_formats::project_metadata::ProjectMetadata;
use cnb_formats::run::{RunMetadata, StackToml};
use cnb_image::{ImageBuilder, ImageRef, NORMALIZED_CREATED};
use cnb_platform::{Inputs, Key, Logger};

use super::layers::LAUNCHER_PATH;
use super::{Build, ExportError};

fn encode(e: cnb_formats::FormatError) -> ExportError {
    ExportError::File(e)
}

/// A name as upstream compares run image names: without its digest, with `latest` for a missing
/// tag, registry and `library/` spelled out; a name that does not parse is compared as given.
pub(crate) fn image_name_key(name: &str) -> String {
    match ImageRef::parse(name) {
        Ok(mut r) => {
            r.digest = None;
            if r.tag.is_none() {
                r.tag = Some("latest".into());
            }
            r.to_string()
        }
        Err(_) => name.to_string(),
    }
}

/// The run image name and mirrors for `io.buildpacks.lifecycle.metadata`, as upstream takes them:
/// below Platform API 0.12 stack.toml's `[run-image]`; from 0.12 the run.toml entry holding the
/// name analyzed.toml recorded (as its image or a mirror), else the first entry when nothing was
/// recorded. Ours: a recorded name that no entry holds is kept as it is (upstream takes the first
/// entry, so a rebase would silently move the app to another run image), and when the files name
/// nothing the name given to the analyzer or the run image's reference is used, so that
/// `stack.runImage.image` is never empty (kpack parses it as an image reference).
fn run_image_for_export(
    inputs: &Inputs,
    build: &Build,
    log: &Logger,
) -> Result<RunImageRef, ExportError> {
    let recorded = build.analyzed.run_image.as_ref();
    let recorded_name = recorded.map(|r| r.image.as_str()).unwrap_or_default();
    let from_files = if inputs.platform_api < Version::new(0, 12) {
        let stack: Option<StackToml> = cnb_formats::read_toml_if_exists(inputs.stack_path())?;
        stack.map(|s| s.run_image)
    } else {
        let run: Option<RunMetadata> = cnb_formats::read_toml_if_exists(inputs.run_path())?;
        run.and_then(|run| {
            if recorded_name.is_empty() {
                return run.images.into_iter().next();
            }
            Some(
                run.entry_containing(recorded_name, image_name_key)
                    .cloned()
                    .unwrap_or_else(|| RunImageRef {
                        image: recorded_name.to_string(),
                        mirrors: Vec::new(),
                    }),
            )
        })
    };
    if let Some(found) = from_files.filter(|r| !r.image.is_empty()) {
        return Ok(found);
    }
    let fallback = [
        recorded_name,
        inputs.string(Key::RunImage).unwrap_or_default(),
        recorded.map(|r| r.reference.as_str()).unwrap_or_default(),
    ]
    .into_iter()
    .find(|n| !n.is_empty())
    .unwrap_or_default()
    .to_string();
    let source = if inputs.platform_api < Version::new(0, 12) {
        "stack.toml"
    } else {
        "run.toml"
    };
    log.debug(format!(
        "no run image name in {source}: recording '{fallback}' as the run image"
    ));
    Ok(RunImageRef {
        image: fallback,
        mirrors: Vec::new(),
    })
}

/// Sets everything but the layers.
pub(super) fn apply(
    inputs: &Inputs,
    build: &Build,
    md: &mut LayersMetadata,
    image: &mut ImageBuilder,
    log: &Logger,
) -> Result<(), ExportError> {
    record_run_image(inputs, build, md, log)?;
    image.set_label(labels::LIFECYCLE_METADATA, &md.to_label().map_err(encode)?);
    set_labels(inputs, build, image)?;
    set_env(inputs, image);
    set_entrypoint(inputs, build, image)?;
    if inputs.platform_api < Version::new(0, 12) {
        image.config_mut().history.clear();
    }
    image.set_created(&created(inputs, log));
    Ok(())
}

/// Records in the lifecycle metadata the run image the app image names for export.
fn record_run_image(
    inputs: &Inputs,
    build: &Build,
    md: &mut LayersMetadata,
    log: &Logger,
) -> Result<(), ExportError> {
    let for_export = run_image_for_export(inputs, build, log)?;
    if inputs.platform_api >= Version::new(0, 12) {
        md.run_image.image = for_export.image.clone();
        md.run_image.mirrors = for_export.mirrors.clone();
    }
    // Written at every Platform API: older platforms (and kpack) read the run image from here.
    md.stack = Some(StackMetadata {
        run_image: for_export,
    });
    Ok(())
}

/// The build and project metadata labels, the buildpacks' labels, the execution environment
/// (Platform API 0.15+) and whether the image may be rebased.
fn set_labels(inputs: &Inputs, build: &Build, image: &mut ImageBuilder) -> Result<(), ExportError> {
    let papi = inputs.platform_api;
    let launcher = LauncherMetadata {
        version: cnb_platform::VERSION.to_string(),
        ..Default::default()
    };
    let mut build_md = BuildMetadata::from_launch_metadata(&build.metadata, launcher);
    build_md.bom = super::bom::label(papi, &build.metadata);
    image.set_label(
        labels::BUILD_METADATA,
        &build_md.to_label().map_err(encode)?,
    );
    let project: ProjectMetadata =
        cnb_formats::read_toml_if_exists(inputs.project_metadata_path())?.unwrap_or_default();
    image.set_label(
        labels::PROJECT_METADATA,
        &project.to_label().map_err(encode)?,
    );
    for l in &build.metadata.labels {
        image.set_label(&l.key, &l.value);
    }
    if papi >= Version::new(0, 15) {
        image.set_label(labels::EXEC_ENV, &inputs.exec_env);
    }
    // The spec has the exporter say whether the image may be rebased (upstream leaves it to the
    // run image): a base config that says "false" keeps it, otherwise it is "true".
    let base_rebasable = image
        .config()
        .config
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::REBASABLE))
        .cloned();
    if base_rebasable.as_deref() != Some("false") {
        image.set_label(labels::REBASABLE, "true");
    }
    Ok(())
}

/// The launcher's environment (`CNB_*` and `PATH` with the process and lifecycle dirs first)
/// and the app dir as the working directory.
fn set_env(inputs: &Inputs, image: &mut ImageBuilder) {
    let papi = inputs.platform_api;
    let layers = inputs.layers_dir().to_string_lossy().into_owned();
    let app = inputs.app_dir().to_string_lossy().into_owned();
    // The base config's PATH: the run image's, or the extended run image's.
    let run_path = image
        .env("PATH")
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string();
    image.set_env("CNB_LAYERS_DIR", &layers);
    image.set_env("CNB_APP_DIR", &app);
    image.set_env("CNB_PLATFORM_API", &papi.to_string());
    image.set_env("CNB_DEPRECATION_MODE", "quiet");
    image.set_env("PATH", &format!("/cnb/process:/cnb/lifecycle:{run_path}"));
    image.set_working_dir(&app);
}

/// The default process's `/cnb/process/<type>` link, or the launcher when there is none; a
/// `-process-type` the build did not declare is an error.
fn set_entrypoint(
    inputs: &Inputs,
    build: &Build,
    image: &mut ImageBuilder,
) -> Result<(), ExportError> {
    let default = inputs
        .process_type()
        .map(str::to_string)
        .unwrap_or_else(|| build.metadata.buildpack_default_process_type.clone());
    if let Some(t) = inputs.process_type()
        && build.metadata.process(t).is_none()
    {
        return Err(ExportError::NoSuchProcess(t.to_string()));
    }
    let entrypoint = if !default.is_empty() && build.metadata.process(&default).is_some() {
        format!("/cnb/process/{default}")
    } else {
        LAUNCHER_PATH.to_string()
    };
    image.set_entrypoint(vec![entrypoint]);
    image.set_cmd(Some(Vec::new()));
    Ok(())
}

/// The image's creation time: `SOURCE_DATE_EPOCH` (Platform API 0.9+) when it is valid, else
/// the normalised time.
fn created(inputs: &Inputs, log: &Logger) -> String {
    match inputs
        .source_date_epoch
        .as_deref()
        .filter(|_| inputs.platform_api >= Version::new(0, 9))
    {
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(secs) if secs >= 0 => rfc3339(secs),
            _ => {
                log.warn(format!(
                    "ignoring SOURCE_DATE_EPOCH '{raw}': not a non-negative number of seconds"
                ));
                NORMALIZED_CREATED.to_string()
            }
        },
        None => NORMALIZED_CREATED.to_string(),
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(315_532_801), "1980-01-01T00:00:01Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
