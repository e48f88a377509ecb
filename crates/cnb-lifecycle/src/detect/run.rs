//! Running one buildpack's `/bin/detect <platform> <plan>` (buildpack.md "Detection"), and
//! whether it runs at all in this execution environment.

use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_api::Version;
use cnb_formats::detect_plan::DetectPlan;
use cnb_launch::Env;

use super::order::Module;

/// How one detection ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Exit 0, with the plan it wrote.
    Pass(DetectPlan),
    /// Exit 100.
    Fail,
    /// Anything else, with the reason.
    Error(String),
}

/// The result and the captured output.
#[derive(Debug, Clone)]
pub struct Detected {
    /// How it ended.
    pub outcome: Outcome,
    /// stdout then stderr.
    pub output: String,
}

impl Detected {
    fn error(reason: String) -> Self {
        Detected {
            outcome: Outcome::Error(reason),
            output: String::new(),
        }
    }
}

/// What every detect run shares.
pub struct DetectEnv<'a> {
    /// The lifecycle's environment, filtered for buildpacks.
    pub base: &'a Env,
    /// `<platform>`.
    pub platform: &'a Path,
    /// `<build-config>` (Platform API 0.11+).
    pub build_config: Option<&'a Path>,
    /// `<app>`, the working directory.
    pub app: &'a Path,
    /// `CNB_TARGET_*`.
    pub target_env: &'a [(String, String)],
    /// `CNB_EXEC_ENV`.
    pub exec_env: &'a str,
    /// A private dir for the plan files.
    pub scratch: &'a Path,
}

/// Whether a buildpack is left out of this execution environment: from Platform API 0.15, a
/// buildpack of API 0.12+ that lists `exec-env` without `*` or the current one.
pub fn excluded_by_exec_env(m: &Module, exec_env: &str, papi: Version) -> bool {
    let listed = &m.desc.buildpack.exec_env;
    papi >= Version::new(0, 15)
        && !exec_env.is_empty()
        && m.api >= Version::new(0, 12)
        && !listed.is_empty()
        && !listed.iter().any(|e| e == "*" || e == exec_env)
}

/// Runs `<dir>/bin/detect <platform> <plan>`; `slot` names its private plan file.
pub fn detect(m: &Module, ctx: &DetectEnv, slot: usize) -> Detected {
    let plan_dir: PathBuf = ctx.scratch.join(format!("detect-{slot}"));
    let plan_path = plan_dir.join("plan.toml");
    if let Err(e) = std::fs::create_dir_all(&plan_dir).and_then(|()| std::fs::write(&plan_path, ""))
    {
        return Detected::error(format!("create {}: {e}", plan_path.display()));
    }
    let bin = m.dir.join("bin").join("detect");
    if m.element.extension && !bin.exists() {
        // An extension without bin/detect passes with its pre-written detect/plan.toml, if any.
        let pre = m.dir.join("detect").join("plan.toml");
        let outcome = match cnb_formats::read_toml_if_exists::<DetectPlan>(&pre) {
            Ok(plan) => check_plan(m, plan.unwrap_or_default()),
            Err(e) => Outcome::Error(e.to_string()),
        };
        return Detected {
            outcome,
            output: String::new(),
        };
    }
    let env = match environment(m, ctx, &plan_path) {
        Ok(env) => env,
        Err(e) => return Detected::error(e),
    };
    let out = Command::new(bin)
        .args([ctx.platform.as_os_str(), plan_path.as_os_str()])
        .current_dir(ctx.app)
        .env_clear()
        .envs(env.iter())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Detected::error(format!("start bin/detect: {e}")),
    };
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome = match out.status.code() {
        Some(0) => match cnb_formats::read_toml::<DetectPlan>(&plan_path) {
            Ok(plan) => check_plan(m, plan),
            Err(e) => Outcome::Error(e.to_string()),
        },
        Some(100) => Outcome::Fail,
        Some(code) => Outcome::Error(format!("bin/detect exited with {code}")),
        None => Outcome::Error("bin/detect was killed by a signal".into()),
    };
    Detected { outcome, output }
}

/// A passing plan, unless it breaks a rule: no top-level `version` in a require; an extension
/// only provides.
fn check_plan(m: &Module, plan: DetectPlan) -> Outcome {
    if let Some(name) = plan.require_with_top_level_version() {
        return Outcome::Error(format!(
            "require '{name}' has a top-level version: use metadata.version"
        ));
    }
    let requires = !plan.requires.is_empty() || plan.or.iter().any(|o| !o.requires.is_empty());
    if m.element.extension && requires {
        return Outcome::Error(format!(
            "extension '{}' outputs requires, which is not allowed",
            m.element.id
        ));
    }
    Outcome::Pass(plan)
}

/// The filtered lifecycle env, `<platform>/env` (unless `clear-env`), `<build-config>/env`, then
/// the `CNB_*` variables the buildpack's API asks for.
fn environment(m: &Module, ctx: &DetectEnv, plan_path: &Path) -> Result<Env, String> {
    let mut env = ctx.base.clone();
    if !m.desc.buildpack.clear_env {
        let dir = ctx.platform.join("env");
        env.add_platform_env(&dir)
            .map_err(|e| format!("read {}: {e}", dir.display()))?;
    }
    if let Some(bc) = ctx.build_config {
        let dir = bc.join("env");
        env.add_env_dir(&dir, cnb_launch::Action::Default)
            .map_err(|e| format!("read {}: {e}", dir.display()))?;
    }
    let dir_var = match m.element.extension {
        true => "CNB_EXTENSION_DIR",
        false => "CNB_BUILDPACK_DIR",
    };
    env.set(dir_var, &m.dir.to_string_lossy());
    if m.api >= Version::new(0, 8) {
        env.set("CNB_PLATFORM_DIR", &ctx.platform.to_string_lossy());
        env.set("CNB_BUILD_PLAN_PATH", &plan_path.to_string_lossy());
    }
    if m.api >= Version::new(0, 10) {
        for (k, v) in ctx.target_env {
            env.set(k, v);
        }
    }
    if m.api >= Version::new(0, 12) {
        env.set("CNB_EXEC_ENV", ctx.exec_env);
    }
    Ok(env)
}
