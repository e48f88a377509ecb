//! Starting a process of an app image: environment from the launch layers, exec.d output, profile
//! scripts for shell processes, then exec (same pid).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use cnb_api::{PLATFORM, Support, Version};
use cnb_formats::metadata::LaunchMetadata;

use crate::process::{Selected, select};
use crate::{Action, Env, LaunchError, Purpose};

/// What the launcher was started with, as OS strings: arguments and variables that are not
/// UTF-8 reach the process unchanged, as upstream passes them.
#[derive(Debug, Clone)]
pub struct Request {
    /// argv[0]: `/cnb/process/<type>` selects that process; `launcher` selects none.
    pub argv0: OsString,
    /// The rest of argv.
    pub args: Vec<OsString>,
    /// The launcher's environment.
    pub env: Vec<(OsString, OsString)>,
}

/// Variables of the image that are the lifecycle's, not the app's.
const DROPPED: [&str; 5] = [
    "CNB_LAYERS_DIR",
    "CNB_APP_DIR",
    "CNB_PROCESS_TYPE",
    "CNB_PLATFORM_API",
    "CNB_DEPRECATION_MODE",
];

/// A set, non-empty variable, as it is.
fn var_os<'a>(env: &'a [(OsString, OsString)], key: &str) -> Option<&'a OsStr> {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_os_str())
        .filter(|v| !v.is_empty())
}

/// A set, non-empty variable the lifecycle reads as text (a value that is not UTF-8 is shown
/// with replacement characters and so rejected where it is parsed).
fn var(env: &[(OsString, OsString)], key: &str) -> Option<String> {
    var_os(env, key).map(|v| v.to_string_lossy().into_owned())
}

/// Prepares and execs the process; returns only on error. `warn` gets each warning line.
pub fn launch(req: Request, warn: &mut dyn FnMut(&str)) -> LaunchError {
    match prepare(&req, warn) {
        Ok(cmd) => LaunchError::Exec(cnb_os::exec(cmd)),
        Err(e) => e,
    }
}

/// Everything up to the exec: the command to run, with its environment and working dir.
///
/// It changes the process's working dir to the app dir before the environment is built, as
/// upstream does, so exec.d executables and profile scripts run in the app dir.
pub fn prepare(req: &Request, warn: &mut dyn FnMut(&str)) -> Result<Command, LaunchError> {
    let papi = platform_api(&req.env)?;
    let layers = PathBuf::from(var_os(&req.env, "CNB_LAYERS_DIR").unwrap_or("/layers".as_ref()));
    let app = PathBuf::from(var_os(&req.env, "CNB_APP_DIR").unwrap_or("/workspace".as_ref()));
    let exec_env = var(&req.env, "CNB_EXEC_ENV").unwrap_or_else(|| "production".into());
    let md = LaunchMetadata::read_for(&layers.join("config").join("metadata.toml"), papi)?;
    check_buildpack_apis(&req.env, &md, warn)?;
    if let Some(t) = var(&req.env, "CNB_PROCESS_TYPE") {
        // The variable selected the process before Platform API 0.4; tell users what replaces it.
        warn(&format!(
            "CNB_PROCESS_TYPE is not supported in Platform API {papi}"
        ));
        warn(&format!(
            "Run with ENTRYPOINT '{t}' to invoke the '{t}' process type"
        ));
    }
    let sel = select(&md, process_type_of(&req.argv0), &req.args, papi, &exec_env)?;
    std::env::set_current_dir(&app)
        .map_err(|e| LaunchError::io("change to app directory", &app, e))?;

    let layer_dirs = layer_dirs(&layers, &md);
    let env = process_env(&req.env, &layer_dirs, &sel)?;
    let wd = sel
        .working_dir
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| app.clone());
    let mut cmd = if sel.direct {
        let mut cmd = direct(&sel, &env)?;
        cmd.current_dir(&wd);
        cmd
    } else {
        // Bash starts in the app dir, sources the profiles there, then changes to `wd` itself.
        shell(&sel, &layer_dirs, &app, &wd)
    };
    cmd.env_clear().envs(env.iter());
    Ok(cmd)
}

/// `CNB_PLATFORM_API`, which must be set and supported.
fn platform_api(env: &[(OsString, OsString)]) -> Result<Version, LaunchError> {
    let raw = var(env, "CNB_PLATFORM_API").ok_or_else(|| {
        LaunchError::PlatformApi(format!(
            "please set 'CNB_PLATFORM_API' (supported platform apis: {})",
            PLATFORM.supported_list()
        ))
    })?;
    let raw = raw.as_str();
    let papi: Version = raw
        .parse()
        .ok()
        .filter(|v| PLATFORM.support(*v) != Support::Unsupported)
        .ok_or_else(|| {
            LaunchError::PlatformApi(format!(
                "platform api '{raw}' is not supported (supported platform apis: {})",
                PLATFORM.supported_list()
            ))
        })?;
    Ok(papi)
}

/// Each buildpack's Buildpack API must be served (a deprecated one warns, or fails, as
/// `CNB_DEPRECATION_MODE` says).
fn check_buildpack_apis(
    env: &[(OsString, OsString)],
    md: &LaunchMetadata,
    warn: &mut dyn FnMut(&str),
) -> Result<(), LaunchError> {
    // An unknown mode is the default's (warn), as upstream reads it.
    let mode = var(env, "CNB_DEPRECATION_MODE")
        .and_then(|m| m.parse().ok())
        .unwrap_or_default();
    for bp in &md.buildpacks {
        let accepted =
            cnb_api::verify_buildpack_api("Buildpack", &bp.id, &bp.api, mode).map_err(|_| {
                LaunchError::BuildpackApi {
                    buildpack: bp.id.clone(),
                    api: bp.api.clone(),
                }
            })?;
        if let Some(w) = accepted.warning {
            warn(&w);
        }
    }
    Ok(())
}

/// The process type a `/cnb/process/<type>` link names (the launcher itself names none).
fn process_type_of(argv0: &OsStr) -> Option<&str> {
    let name = Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("launcher");
    let name = name.strip_suffix(".exe").unwrap_or(name);
    (name != "launcher").then_some(name)
}

/// The process's environment: ours without the lifecycle's own variables and `/cnb` dirs on
/// `PATH`, then each layer's `env/` and `env.launch/` (and the process type's), then each
/// layer's exec.d output.
fn process_env(
    env: &[(OsString, OsString)],
    layer_dirs: &[PathBuf],
    sel: &Selected,
) -> Result<Env, LaunchError> {
    let mut env = Env::new(
        env.iter()
            .filter(|(k, _)| !k.to_str().is_some_and(|k| DROPPED.contains(&k)))
            .cloned(),
    );
    if let Some(path) = env.get_os("PATH") {
        let kept = std::env::split_paths(path)
            .filter(|p| p != Path::new("/cnb/process") && p != Path::new("/cnb/lifecycle"));
        // Joining only fails on a separator inside an entry, which splitting cannot leave.
        if let Ok(kept) = std::env::join_paths(kept) {
            env.set_os("PATH", &kept);
        }
    }
    for dir in layer_dirs {
        env.add_root_dirs(dir, Purpose::Launch);
        for sub in ["env", "env.launch"] {
            env.add_env_dir(&dir.join(sub), Action::Override)
                .map_err(|e| LaunchError::io("read", dir.join(sub), e))?;
        }
        if let Some(t) = &sel.r#type {
            let d = dir.join("env.launch").join(t);
            env.add_env_dir(&d, Action::Override)
                .map_err(|e| LaunchError::io("read", d, e))?;
        }
    }
    for dir in layer_dirs {
        run_exec_d(&dir.join("exec.d"), &mut env)?;
        if let Some(t) = &sel.r#type {
            run_exec_d(&dir.join("exec.d").join(t), &mut env)?;
        }
    }
    Ok(env)
}

/// Every layer dir of every buildpack, buildpacks in metadata order, layers lexically.
fn layer_dirs(layers: &Path, md: &LaunchMetadata) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for bp in &md.buildpacks {
        let dir = layers.join(cnb_formats::id::dir_name(&bp.id));
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        out.extend(dirs);
    }
    out
}

/// Runs every executable in an exec.d dir; what each writes to fd 3 (TOML) overrides the env.
fn run_exec_d(dir: &Path, env: &mut Env) -> Result<(), LaunchError> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for f in files {
        let mut cmd = Command::new(&f);
        cmd.env_clear().envs(env.iter());
        let (status, out) =
            cnb_os::output_with_fd3(cmd).map_err(|e| LaunchError::io("run exec.d", &f, e))?;
        if !status.success() {
            return Err(LaunchError::ExecD {
                path: f,
                reason: format!("exited with {status}"),
            });
        }
        let text = String::from_utf8_lossy(&out);
        let vars = cnb_formats::exec_d::parse(&text, &f).map_err(|e| LaunchError::ExecD {
            path: f.clone(),
            reason: e.to_string(),
        })?;
        for (k, v) in vars {
            env.set(&k, &v);
        }
    }
    Ok(())
}

/// A direct process: the command looked up on the process's PATH, no shell.
fn direct(sel: &Selected, env: &Env) -> Result<Command, LaunchError> {
    let Some(first) = sel.command.first() else {
        return Err(LaunchError::NoCommand);
    };
    let path = if first.as_encoded_bytes().contains(&b'/') {
        PathBuf::from(first)
    } else {
        std::env::split_paths(env.get_os("PATH").unwrap_or_default())
            .map(|d| d.join(first))
            .find(|p| p.is_file())
            .ok_or_else(|| LaunchError::NotFound(first.to_string_lossy().into_owned()))?
    };
    let mut cmd = Command::new(path);
    cmd.args(&sel.command[1..]).args(&sel.args);
    Ok(cmd)
}

/// A shell process: bash sources the profile scripts, changes to the working dir, then runs the
/// command with its arguments re-evaluated (so `$VAR` in them expands), as upstream does.
fn shell(sel: &Selected, layer_dirs: &[PathBuf], app: &Path, wd: &Path) -> Command {
    let mut profiles: Vec<PathBuf> = Vec::new();
    let mut push_dir = |d: PathBuf| {
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut f: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            f.sort();
            profiles.extend(f);
        }
    };
    for dir in layer_dirs {
        push_dir(dir.join("profile.d"));
        if let Some(t) = &sel.r#type {
            push_dir(dir.join("profile.d").join(t));
        }
    }
    if app.join(".profile").is_file() {
        profiles.push(app.join(".profile"));
    }
    let mut script = String::new();
    for p in &profiles {
        script.push_str(&format!("source \"{}\"\n", p.display()));
    }
    script.push_str(&format!("cd \"{}\"\n", wd.display()));
    let mut words: Vec<OsString> = sel.command.clone();
    words.extend(sel.args.iter().cloned());
    if sel.args.is_empty() && sel.command.len() == 1 {
        script.push_str("exec bash -c \"$@\"\n");
    } else {
        let evaluated: Vec<String> = (1..=words.len())
            .map(|i| format!("\"$(eval echo \\\"${{{i}}}\\\")\""))
            .collect();
        script.push_str(&format!("exec {}\n", evaluated.join(" ")));
    }
    let mut cmd = Command::new("/bin/bash");
    cmd.arg("-c")
        .arg(script)
        .arg(sel.r#type.as_deref().unwrap_or("launcher"))
        .args(words);
    cmd
}
