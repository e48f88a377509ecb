//! The generate step the detector runs after a group with extensions passed (platform.md
//! "detector", image_extension.md "Generation"): each extension's `/bin/generate`, its
//! Dockerfiles checked and placed in `<generated>`, the plan filtered of what extensions met, and
//! the run image of analyzed.toml switched or marked for extension.

use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_api::Version;
use cnb_formats::analyzed::{Analyzed, RunImage};
use cnb_formats::dockerfile::Dockerfile;
use cnb_formats::extend_config::ExtendConfig;
use cnb_formats::plan::{BuildpackPlan, Plan};
use cnb_formats::run::RunMetadata;
use cnb_launch::Env;
use cnb_platform::Logger;

use super::order::Module;

/// Build args the lifecycle sets itself; an extend-config.toml may not name them.
const LIFECYCLE_ARGS: &[&str] = &["build_id", "user_id", "group_id"];

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// `/bin/generate` did not exit 0 (exit 91).
    #[error("extension '{extension}': {reason}")]
    Failed {
        /// `id@version`.
        extension: String,
        /// How it ended.
        reason: String,
    },
    /// An output that breaks the rules, or a file that could not be handled (exit 92).
    #[error("extension '{extension}': {message}")]
    Output {
        /// `id@version`.
        extension: String,
        /// What was wrong.
        message: String,
    },
}

/// What every generate run shares.
pub struct GenerateEnv<'a> {
    /// The lifecycle's environment, filtered for extensions.
    pub base: &'a Env,
    /// `<platform>`.
    pub platform: &'a Path,
    /// `<build-config>` (Platform API 0.11+).
    pub build_config: Option<&'a Path>,
    /// `<app>`, the working directory.
    pub app: &'a Path,
    /// `CNB_TARGET_*`.
    pub target_env: &'a [(String, String)],
    /// `<generated>`.
    pub generated: &'a Path,
    /// A private dir for plans (and outputs below Platform API 0.13).
    pub scratch: &'a Path,
    /// The Platform API.
    pub papi: Version,
    /// run.toml, to warn about a run image it does not list.
    pub run_metadata: Option<&'a RunMetadata>,
}

/// One Dockerfile an extension wrote.
struct Output {
    extension: String,
    kind: &'static str,
    path: PathBuf,
    new_base: Option<String>,
    extend: bool,
    ignore: bool,
}

/// Runs the extensions in group order; returns the plan without the entries they met and the
/// updated analyzed.toml.
pub fn generate(
    extensions: &[Module],
    plan: Plan,
    mut analyzed: Analyzed,
    ctx: &GenerateEnv,
    log: &Logger,
) -> Result<(Plan, Analyzed), GenerateError> {
    let mut plan = plan;
    let mut outputs = Vec::new();
    for (slot, ext) in extensions.iter().enumerate() {
        log.debug(format!("Running generate for extension {}", ext.name()));
        let mine = BuildpackPlan {
            entries: plan
                .entries
                .iter()
                .filter(|e| {
                    e.providers
                        .iter()
                        .any(|p| p.extension && p.id == ext.element.id)
                })
                .flat_map(|e| e.requires.iter().cloned())
                .collect(),
        };
        let out_dir = run_one(ext, &mine, ctx, slot)?;
        outputs.extend(read_outputs(ext, &out_dir, log)?);
        // What an extension was handed is met: buildpacks no longer see it.
        let met: Vec<&str> = mine.entries.iter().map(|r| r.name.as_str()).collect();
        plan.entries
            .retain(|e| !e.requires.iter().any(|r| met.contains(&r.name.as_str())));
    }

    // Work back from the last run.Dockerfile: the last one that switches the image wins, and
    // every run.Dockerfile before it has no effect.
    let mut new_base = None;
    let mut extend = false;
    for o in outputs.iter_mut().rev().filter(|o| o.kind == "run") {
        if new_base.is_some() {
            o.ignore = true;
            continue;
        }
        extend |= o.extend;
        if let Some(base) = &o.new_base {
            log.debug(format!(
                "Found a run.Dockerfile from extension '{}' setting run image to '{base}'",
                o.extension
            ));
            new_base = Some(base.clone());
        }
    }
    if let Some(base) = new_base {
        let current = analyzed.run_image.as_ref().map(|r| r.image.as_str());
        let is_new = ctx.papi < Version::new(0, 12) || current != Some(base.as_str());
        if is_new {
            let listed = ctx
                .run_metadata
                .is_some_and(|m| m.entry_containing(&base, str::to_string).is_some());
            if !listed {
                log.warn(format!(
                    "new runtime base image '{base}' not found in run metadata"
                ));
            }
            // Resolving the new run image is the restorer's job, as upstream. Unlike upstream
            // (which drops the target, so the host's platform would be picked), the build's
            // platform stays recorded: the restorer takes the new image's child for it, and an
            // extension never silently changes the architecture. Its id and distro are the old
            // image's, so they go.
            let target = analyzed
                .run_image
                .as_ref()
                .and_then(|r| r.target.clone())
                .filter(|t| !t.os.is_empty())
                .map(|t| cnb_formats::target::TargetMetadata {
                    id: String::new(),
                    distro: None,
                    ..t
                });
            analyzed.run_image = Some(RunImage {
                reference: base.clone(),
                image: base,
                extend,
                target,
            });
        }
    }
    if extend && let Some(run) = analyzed.run_image.as_mut() {
        run.extend = true;
    }
    place(&outputs, ctx, log)?;
    Ok((plan, analyzed))
}

/// Runs `/bin/generate <output> <platform> <plan>`; returns the output dir. An extension without
/// `bin/generate` has its outputs pre-written in `<dir>/generate`.
fn run_one(
    ext: &Module,
    plan: &BuildpackPlan,
    ctx: &GenerateEnv,
    slot: usize,
) -> Result<PathBuf, GenerateError> {
    let name = ext.name();
    let io = |what: &str, path: &Path, e: &dyn std::fmt::Display| GenerateError::Output {
        extension: name.clone(),
        message: format!("{what} {}: {e}", path.display()),
    };
    let escaped = ext.element.dir_name();
    let bin = ext.dir.join("bin").join("generate");
    if !bin.exists() {
        return Ok(ext.dir.join("generate"));
    }
    // From Platform API 0.13 extensions write straight into <generated>; below, into a scratch
    // dir whose Dockerfiles are copied into upstream's older layout.
    let out_dir = match ctx.papi >= Version::new(0, 13) {
        true => ctx.generated.join(&escaped),
        false => ctx.scratch.join(format!("generate-{slot}")).join(&escaped),
    };
    std::fs::create_dir_all(&out_dir).map_err(|e| io("create", &out_dir, &e))?;
    let plan_dir = ctx.scratch.join(format!("generate-plan-{slot}"));
    let plan_path = plan_dir.join("plan.toml");
    std::fs::create_dir_all(&plan_dir).map_err(|e| io("create", &plan_dir, &e))?;
    cnb_formats::write_toml(&plan_path, plan).map_err(|e| io("write", &plan_path, &e))?;

    let mut env = ctx.base.clone();
    if !ext.desc.buildpack.clear_env {
        let dir = ctx.platform.join("env");
        env.add_platform_env(&dir)
            .map_err(|e| io("read", &dir, &e))?;
    }
    if let Some(bc) = ctx.build_config {
        let dir = bc.join("env");
        env.add_env_dir(&dir, cnb_launch::Action::Default)
            .map_err(|e| io("read", &dir, &e))?;
    }
    env.set("CNB_BP_PLAN_PATH", &plan_path.to_string_lossy());
    env.set("CNB_EXTENSION_DIR", &ext.dir.to_string_lossy());
    env.set("CNB_OUTPUT_DIR", &out_dir.to_string_lossy());
    env.set("CNB_PLATFORM_DIR", &ctx.platform.to_string_lossy());
    if ext.api >= Version::new(0, 10) {
        for (k, v) in ctx.target_env {
            env.set(k, v);
        }
    }
    let status = Command::new(&bin)
        .args([
            out_dir.as_os_str(),
            ctx.platform.as_os_str(),
            plan_path.as_os_str(),
        ])
        .current_dir(ctx.app)
        .env_clear()
        .envs(env.iter())
        .status()
        .map_err(|e| io("start", &bin, &e))?;
    if !status.success() {
        let reason = match status.code() {
            Some(code) => format!("bin/generate exited with {code}"),
            None => "bin/generate was killed by a signal".into(),
        };
        return Err(GenerateError::Failed {
            extension: name,
            reason,
        });
    }
    Ok(out_dir)
}

/// Checks extend-config.toml and the Dockerfiles in `dir`: run first, then build, as upstream.
fn read_outputs(ext: &Module, dir: &Path, log: &Logger) -> Result<Vec<Output>, GenerateError> {
    let invalid = |message: String| GenerateError::Output {
        extension: ext.name(),
        message,
    };
    let config_path = dir.join("extend-config.toml");
    let config = cnb_formats::read_toml_if_exists::<ExtendConfig>(&config_path)
        .map_err(|e| invalid(format!("reading extend config: {e}")))?;
    for arg in config
        .iter()
        .flat_map(|c| c.build.args.iter().chain(&c.run.args))
    {
        if LIFECYCLE_ARGS.contains(&arg.name.as_str()) {
            return Err(invalid(format!(
                "validating extend config: arg with name '{}' is not allowed",
                arg.name
            )));
        }
    }
    check_contexts(dir, log).map_err(invalid)?;
    let mut outputs = Vec::new();
    for kind in ["run", "build"] {
        let path = dir.join(format!("{kind}.Dockerfile"));
        if !path.is_file() {
            continue;
        }
        let parsed = |e: cnb_formats::FormatError| {
            invalid(format!("failed to parse {kind}.Dockerfile: {e}"))
        };
        let dockerfile = Dockerfile::read(&path).map_err(parsed)?;
        let (new_base, extend, warnings) = match kind {
            "run" => {
                let (effect, warnings) = dockerfile.validate_run().map_err(parsed)?;
                (effect.new_base, effect.extend, warnings)
            }
            _ => (None, false, dockerfile.validate_build().map_err(parsed)?),
        };
        for w in warnings {
            log.warn(w);
        }
        outputs.push(Output {
            extension: ext.element.id.clone(),
            kind,
            path,
            new_base,
            extend,
            ignore: false,
        });
    }
    Ok(outputs)
}

/// The build contexts an extension left (0.13+ the extender reads them in place): a shared
/// `context` dir, or `context.build`/`context.run`, never both, as upstream.
fn check_contexts(dir: &Path, log: &Logger) -> Result<(), String> {
    let shared = dir.join("context").is_dir();
    for name in ["context", "context.build", "context.run"] {
        let path = dir.join(name);
        if !path.is_dir() {
            continue;
        }
        if shared && name != "context" {
            return Err(format!(
                "image-specific context dir '{name}' is provided together with a shared context"
            ));
        }
        log.debug(format!("Found extension context {}", path.display()));
    }
    Ok(())
}

/// Puts the Dockerfiles where the extender looks for them. From Platform API 0.13 they are
/// already in `<generated>/<id>/`, and an ignored run.Dockerfile gets the `.ignore` suffix; below,
/// each is copied to `<generated>/<kind>/<id>/Dockerfile` with its extend-config.toml.
fn place(outputs: &[Output], ctx: &GenerateEnv, log: &Logger) -> Result<(), GenerateError> {
    for o in outputs {
        let fail = |what: &str, path: &Path, e: std::io::Error| GenerateError::Output {
            extension: o.extension.clone(),
            message: format!("{what} {}: {e}", path.display()),
        };
        let suffix = if o.ignore { ".ignore" } else { "" };
        if ctx.papi >= Version::new(0, 13) {
            if o.ignore {
                let to = PathBuf::from(format!("{}.ignore", o.path.display()));
                std::fs::rename(&o.path, &to).map_err(|e| fail("rename", &o.path, e))?;
            }
            continue;
        }
        let dir = ctx
            .generated
            .join(o.kind)
            .join(cnb_formats::id::dir_name(&o.extension));
        std::fs::create_dir_all(&dir).map_err(|e| fail("create", &dir, e))?;
        let to = dir.join(format!("Dockerfile{suffix}"));
        log.debug(format!("Copying {} to {}", o.path.display(), to.display()));
        std::fs::copy(&o.path, &to).map_err(|e| fail("copy", &o.path, e))?;
        let config = o.path.with_file_name("extend-config.toml");
        if config.is_file() {
            let to = dir.join("extend-config.toml");
            std::fs::copy(&config, &to).map_err(|e| fail("copy", &config, e))?;
        }
    }
    Ok(())
}
