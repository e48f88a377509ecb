//! The builder: runs each buildpack's `/bin/build` in group order with the environment and files
//! its Buildpack API expects, layers the build environment as buildpacks add layers, and writes
//! `<layers>/config/metadata.toml` (platform.md "builder", buildpack.md "Phase #3: Build").

mod bom;
mod process;
mod sbom;

use std::path::Path;
use std::process::Command;

use cnb_api::{BUILDPACK, Version};
use cnb_formats::analyzed::Analyzed;
use cnb_formats::bom::BomBuildpack;
use cnb_formats::build_toml::BuildToml;
use cnb_formats::descriptor::BuildpackDescriptor;
use cnb_formats::group::{Group, GroupElement};
use cnb_formats::launch::LaunchToml;
use cnb_formats::layer::LayerMetadataFile;
use cnb_formats::metadata::LaunchMetadata;
use cnb_formats::plan::{BuildpackPlan, Plan};
use cnb_formats::{FormatError, read_toml, read_toml_if_exists};
use cnb_launch::{Action, Env, Purpose};
use cnb_platform::{ExitClass, ExitCode, Inputs, Logger};

pub use bom::BomError;
pub use process::{Collected, LaunchTomlError};
pub use sbom::SbomError;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The builder must not run as root.
    #[error(transparent)]
    Root(cnb_os::OsError),
    /// A buildpack's API is not supported.
    #[error("buildpack '{buildpack}': buildpack api '{api}' is not supported by this lifecycle (supported: {})", BUILDPACK.supported_list())]
    Api {
        /// The buildpack.
        buildpack: String,
        /// Its API.
        api: String,
    },
    /// `/bin/build` exited with an error.
    #[error("buildpack '{buildpack}' failed: /bin/build exited with {status}")]
    BuildpackFailed {
        /// The buildpack.
        buildpack: String,
        /// How it ended.
        status: String,
    },
    /// `/bin/build` could not be started.
    #[error("start /bin/build of buildpack '{buildpack}': {source}")]
    Spawn {
        /// The buildpack.
        buildpack: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// build.toml lists an unmet entry the buildpack was not given.
    #[error("buildpack '{buildpack}': unmet entry '{name}' is not in its buildpack plan")]
    UnknownUnmet {
        /// The buildpack.
        buildpack: String,
        /// The entry.
        name: String,
    },
    /// A launch.toml that cannot be accepted.
    #[error(transparent)]
    LaunchToml(#[from] LaunchTomlError),
    /// An SBOM file that cannot be accepted.
    #[error(transparent)]
    Sbom(#[from] SbomError),
    /// A legacy `[[bom]]` entry that cannot be accepted.
    #[error(transparent)]
    Bom(#[from] BomError),
    /// group.toml or plan.toml missing or unreadable: exit 1, as upstream, not a build error.
    #[error("failed to read {what} file: {source}")]
    Input {
        /// `group` or `plan`.
        what: &'static str,
        /// Why.
        #[source]
        source: FormatError,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FormatError),
    /// A file system error.
    #[error(transparent)]
    Io(#[from] cnb_os::IoError),
}

impl ExitClass for BuildError {
    fn exit_code(&self) -> ExitCode {
        match self {
            BuildError::Root(_) | BuildError::Input { .. } => ExitCode::Failed,
            BuildError::Api { .. } => ExitCode::IncompatibleBuildpackApi,
            BuildError::BuildpackFailed { .. } => ExitCode::FailedBuildWithErrors,
            _ => ExitCode::BuildError,
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let io = cnb_os::IoError::at(action, path);
    move |source| BuildError::Io(io(source))
}

/// Runs the builder with the process's environment.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), BuildError> {
    cnb_os::refuse_root("builder").map_err(BuildError::Root)?;
    build(inputs, inputs.env_pairs(), log)
}

/// Builds with `env` as the lifecycle's own environment.
pub fn build(
    inputs: &Inputs,
    env: impl IntoIterator<Item = (String, String)>,
    log: &Logger,
) -> Result<(), BuildError> {
    let layers = inputs.layers_dir().to_path_buf();
    let group = Group::read(inputs.group_path()).map_err(|source| BuildError::Input {
        what: "group",
        source,
    })?;
    // Required, as upstream: a build without the detector's plan is a platform mistake.
    let mut plan: Plan = read_toml(inputs.plan_path()).map_err(|source| BuildError::Input {
        what: "plan",
        source,
    })?;
    let analyzed: Option<Analyzed> = match inputs.analyzed_path() {
        p if p.is_file() => Some(Analyzed::read(p)?),
        _ => None,
    };
    let sbom = layers.join("sbom");
    if sbom.exists() {
        std::fs::remove_dir_all(&sbom).map_err(io("remove", &sbom))?;
    }
    let scratch = tempfile::Builder::new()
        .prefix("cnb-build-")
        .tempdir_in(&inputs.temp_dir)
        .map_err(io("create temp dir", &inputs.temp_dir))?;
    let ctx = Ctx {
        inputs,
        log,
        layers: &layers,
        scratch: scratch.path(),
        // As for detection: the recorded target, completed from the build container.
        target_env: crate::target::env_vars(&crate::target::effective(
            analyzed.as_ref().and_then(Analyzed::target),
        )),
    };
    let mut build_env = Env::for_build(env);
    let mut acc = Accumulated::default();
    let mut group_out: Vec<GroupElement> = Vec::new();
    for (i, bp) in group.group.iter().enumerate() {
        group_out.push(build_one(&ctx, i, bp, &mut plan, &mut build_env, &mut acc)?);
    }
    let metadata = LaunchMetadata {
        buildpack_default_process_type: acc.collected.default_type,
        buildpacks: group_out,
        extensions: Vec::new(),
        labels: acc.collected.labels,
        processes: acc.collected.processes,
        slices: acc.collected.slices,
        bom: bom::finish(&layers, inputs.platform_api, acc.launch_bom, &acc.build_bom)?,
    };
    metadata.write_for(
        &layers.join("config").join("metadata.toml"),
        inputs.platform_api,
    )?;
    Ok(())
}

/// What every buildpack's build shares.
struct Ctx<'a> {
    inputs: &'a Inputs,
    log: &'a Logger,
    layers: &'a Path,
    /// Where each buildpack's plan is written.
    scratch: &'a Path,
    /// `CNB_TARGET_*`.
    target_env: Vec<(String, String)>,
}

/// What the buildpacks' builds add up to.
#[derive(Default)]
struct Accumulated {
    collected: Collected,
    launch_bom: Vec<cnb_formats::bom::BomEntry>,
    build_bom: Vec<cnb_formats::bom::BomEntry>,
}

/// Runs buildpack `i` of the group and takes in what it left; returns its group.toml entry as
/// metadata.toml records it.
fn build_one(
    ctx: &Ctx<'_>,
    i: usize,
    bp: &GroupElement,
    plan: &mut Plan,
    build_env: &mut Env,
    acc: &mut Accumulated,
) -> Result<GroupElement, BuildError> {
    let bp_dir = ctx
        .inputs
        .buildpacks_dir()
        .join(cnb_formats::id::dir_name(&bp.id))
        .join(&bp.version);
    let desc = BuildpackDescriptor::read(&bp_dir.join("buildpack.toml"))?;
    let api_raw = if bp.api.is_empty() {
        desc.api.clone()
    } else {
        bp.api.clone()
    };
    let api = cnb_api::verify_buildpack_api(
        "Buildpack",
        &bp.name(),
        &api_raw,
        ctx.inputs.deprecation_mode,
    )
    .map_err(|_| BuildError::Api {
        buildpack: bp.name(),
        api: api_raw.clone(),
    })?;
    if let Some(w) = api.warning {
        ctx.log.warn(w);
    }
    let api = api.version;
    let bp_layers = ctx.layers.join(cnb_formats::id::dir_name(&bp.id));
    std::fs::create_dir_all(&bp_layers).map_err(io("create", &bp_layers))?;
    let bp_plan = plan.for_buildpack(&bp.id);
    let plan_path = ctx.scratch.join(format!("plan-{i}.toml"));
    cnb_formats::write_toml(&plan_path, &bp_plan)?;
    let env = buildpack_env(ctx, build_env, &desc, api, &bp_dir, &plan_path, &bp_layers)?;
    run_bin_build(ctx, bp, &bp_dir, &bp_layers, &plan_path, &env)?;

    if ctx.inputs.platform_api >= Version::new(0, 8) {
        sbom::collect(&bp.id, &bp_layers, &desc.buildpack.sbom_formats, ctx.layers)?;
    }
    apply_layers(&bp_layers, build_env)?;
    let build_toml: BuildToml =
        read_toml_if_exists(&bp_layers.join("build.toml"))?.unwrap_or_default();
    // Tagged with buildpack.toml's id and version, as upstream.
    let bom_bp = BomBuildpack {
        id: desc.buildpack.id.clone(),
        version: desc.buildpack.version.clone(),
    };
    acc.build_bom
        .extend(bom::accept(build_toml.bom, &bom_bp, &bp_layers, ctx.log)?);
    let unmet: Vec<String> = build_toml.unmet.iter().map(|u| u.name.clone()).collect();
    if let Some(name) = unmet
        .iter()
        .find(|name| !bp_plan.entries.iter().any(|e| &e.name == *name))
    {
        return Err(BuildError::UnknownUnmet {
            buildpack: bp.name(),
            name: name.clone(),
        });
    }
    met(plan, &bp.id, &bp_plan, &unmet);
    if let Some(mut launch) = read_toml_if_exists::<LaunchToml>(&bp_layers.join("launch.toml"))? {
        let entries = std::mem::take(&mut launch.bom);
        acc.launch_bom
            .extend(bom::accept(entries, &bom_bp, &bp_layers, ctx.log)?);
        for w in acc.collected.add(&bp.id, api, launch)? {
            ctx.log.warn(w);
        }
    }
    Ok(GroupElement {
        api: api.to_string(),
        homepage: desc.buildpack.homepage.clone(),
        ..bp.clone()
    })
}

/// The environment one buildpack's `/bin/build` gets, by its Buildpack API: the build
/// environment so far, the platform's env dir unless `clear-env`, the build config's, and the
/// `CNB_*` variables.
fn buildpack_env(
    ctx: &Ctx<'_>,
    build_env: &Env,
    desc: &BuildpackDescriptor,
    api: Version,
    bp_dir: &Path,
    plan_path: &Path,
    bp_layers: &Path,
) -> Result<Env, BuildError> {
    let platform = ctx.inputs.platform_dir();
    let mut env = build_env.clone();
    if !desc.buildpack.clear_env {
        env.add_platform_env(&platform.join("env"))
            .map_err(io("read", &platform.join("env")))?;
    }
    if let Some(bc) = ctx.inputs.build_config_dir() {
        env.add_env_dir(&bc.join("env"), Action::Default)
            .map_err(io("read", &bc.join("env")))?;
    }
    env.set("CNB_BUILDPACK_DIR", &bp_dir.to_string_lossy());
    if api >= Version::new(0, 8) {
        env.set("CNB_PLATFORM_DIR", &platform.to_string_lossy());
        env.set("CNB_BP_PLAN_PATH", &plan_path.to_string_lossy());
        env.set("CNB_LAYERS_DIR", &bp_layers.to_string_lossy());
    }
    if api >= Version::new(0, 10) {
        for (k, v) in &ctx.target_env {
            env.set(k, v);
        }
    }
    if api >= Version::new(0, 12) {
        env.set("CNB_EXEC_ENV", &ctx.inputs.exec_env);
    }
    Ok(env)
}

/// `<buildpack>/bin/build <layers> <platform> <plan>` in the app dir.
fn run_bin_build(
    ctx: &Ctx<'_>,
    bp: &GroupElement,
    bp_dir: &Path,
    bp_layers: &Path,
    plan_path: &Path,
    env: &Env,
) -> Result<(), BuildError> {
    ctx.log
        .debug(format!("running /bin/build of {}", bp.name()));
    let status = Command::new(bp_dir.join("bin").join("build"))
        .args([
            bp_layers.as_os_str(),
            ctx.inputs.platform_dir().as_os_str(),
            plan_path.as_os_str(),
        ])
        .current_dir(ctx.inputs.app_dir())
        .env_clear()
        .envs(env.iter())
        .status()
        .map_err(|source| BuildError::Spawn {
            buildpack: bp.name(),
            source,
        })?;
    if !status.success() {
        return Err(BuildError::BuildpackFailed {
            buildpack: bp.name(),
            status: status.to_string(),
        });
    }
    Ok(())
}

/// After a buildpack: layers with no type are set aside (`<layer>.ignore`), build layers join the
/// build environment of later buildpacks.
fn apply_layers(bp_layers: &Path, build_env: &mut Env) -> Result<(), BuildError> {
    let names = crate::layer_files::layer_names(bp_layers);
    for name in names {
        let md = LayerMetadataFile::read(&bp_layers.join(format!("{name}.toml")))?;
        let t = md.types();
        let dir = bp_layers.join(&name);
        if !t.launch && !t.build && !t.cache {
            if dir.exists() {
                let ignored = bp_layers.join(format!("{name}.ignore"));
                std::fs::rename(&dir, &ignored).map_err(io("rename", &dir))?;
            }
            continue;
        }
        if t.build && dir.is_dir() {
            build_env.add_root_dirs(&dir, Purpose::Build);
            build_env
                .add_env_dir(&dir.join("env"), Action::Override)
                .map_err(io("read", &dir))?;
            build_env
                .add_env_dir(&dir.join("env.build"), Action::Override)
                .map_err(io("read", &dir))?;
        }
    }
    Ok(())
}

/// Removes from the plan the entries this buildpack met (everything it was given but `unmet`).
fn met(plan: &mut Plan, id: &str, given: &BuildpackPlan, unmet: &[String]) {
    for entry in &mut plan.entries {
        if entry.providers.iter().any(|p| p.id == id) {
            entry.requires.retain(|r| {
                unmet.contains(&r.name) || !given.entries.iter().any(|g| g.name == r.name)
            });
        }
    }
    plan.entries.retain(|e| !e.requires.is_empty());
}
