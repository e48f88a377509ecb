//! Running one buildpack's `/bin/detect`.

use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_api::Version;
use cnb_formats::descriptor::BuildpackDescriptor;
use cnb_formats::detect_plan::DetectPlan;
use cnb_launch::Env;

/// How one detection ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Exit 0, with the plan it wrote.
    Pass(DetectPlan),
    /// Exit 100.
    Fail,
    /// Anything else, with the reason.
    Error(String),
    /// Not run: not for this execution environment (Platform API 0.15).
    Skipped,
}

/// The result and the captured output.
#[derive(Debug, Clone)]
pub struct Detected {
    /// How it ended.
    pub outcome: Outcome,
    /// stdout then stderr.
    pub output: String,
}

/// Everything a detect run needs besides the buildpack.
pub struct DetectEnv<'a> {
    pub base: &'a Env,
    pub platform: &'a Path,
    pub build_config: Option<&'a Path>,
    pub app: &'a Path,
    pub target_env: &'a [(String, String)],
    pub exec_env: &'a str,
    pub scratch: &'a Path,
}

/// Runs `<dir>/bin/detect <platform> <plan>` for a buildpack of API `api`.
pub fn detect(
    desc: &BuildpackDescriptor,
    dir: &Path,
    api: Version,
    ctx: &DetectEnv,
    slot: usize,
) -> Detected {
    let plan_dir: PathBuf = ctx.scratch.join(format!("detect-{slot}"));
    if let Err(e) = std::fs::create_dir_all(&plan_dir) {
        return Detected {
            outcome: Outcome::Error(format!("create {}: {e}", plan_dir.display())),
            output: String::new(),
        };
    }
    let plan_path = plan_dir.join("plan.toml");
    let _ = std::fs::write(&plan_path, "");
    let mut env = ctx.base.clone();
    if !desc.buildpack.clear_env {
        let _ = env.add_platform_env(&ctx.platform.join("env"));
    }
    if let Some(bc) = ctx.build_config {
        let _ = env.add_env_dir(&bc.join("env"), cnb_launch::Action::Default);
    }
    env.set("CNB_BUILDPACK_DIR", &dir.to_string_lossy());
    if api >= Version::new(0, 8) {
        env.set("CNB_PLATFORM_DIR", &ctx.platform.to_string_lossy());
        env.set("CNB_BUILD_PLAN_PATH", &plan_path.to_string_lossy());
    }
    if api >= Version::new(0, 10) {
        for (k, v) in ctx.target_env {
            env.set(k, v);
        }
    }
    if api >= Version::new(0, 12) {
        env.set("CNB_EXEC_ENV", ctx.exec_env);
    }
    let out = Command::new(dir.join("bin").join("detect"))
        .args([ctx.platform.as_os_str(), plan_path.as_os_str()])
        .current_dir(ctx.app)
        .env_clear()
        .envs(env.iter())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return Detected {
                outcome: Outcome::Error(format!("start /bin/detect: {e}")),
                output: String::new(),
            };
        }
    };
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome = match out.status.code() {
        Some(0) => match cnb_formats::read_toml::<DetectPlan>(&plan_path) {
            Ok(plan) => match plan.require_with_top_level_version() {
                Some(name) => Outcome::Error(format!(
                    "require '{name}' has a top-level version: use metadata.version"
                )),
                None => Outcome::Pass(plan),
            },
            Err(e) => Outcome::Error(e.to_string()),
        },
        Some(100) => Outcome::Fail,
        other => Outcome::Error(format!(
            "/bin/detect exited with {}",
            other
                .map(|c| c.to_string())
                .unwrap_or_else(|| "a signal".into())
        )),
    };
    Detected { outcome, output }
}
