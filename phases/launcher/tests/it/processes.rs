//! Process selection, environment, exec.d and profiles, as an app image runs them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cnb_test_support::phase::PhaseRun;

pub(crate) struct App {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) layers: PathBuf,
    pub(crate) app: PathBuf,
}

pub(crate) fn write(path: &Path, content: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An app image's /layers and /workspace, unpacked.
pub(crate) fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers");
    let app = dir.path().join("workspace");
    let l = layers.join("samples_hello/hello");
    write(
        &l.join("bin/greet"),
        "#!/bin/sh\necho \"greet: $* GREETING=$GREETING WORKER_ONLY=${WORKER_ONLY:-} FROM_EXEC_D=${FROM_EXEC_D:-} PROFILE=${PROFILE:-} pid=$$ cwd=$(pwd)\"\n",
        0o755,
    );
    write(&l.join("env/GREETING.default"), "hello", 0o644);
    write(
        &l.join("env.launch/worker/WORKER_ONLY.override"),
        "yes",
        0o644,
    );
    write(
        &l.join("exec.d/set-var"),
        "#!/bin/sh\necho 'FROM_EXEC_D = \"from-fd3\"' >&3\necho exec.d ran on stdout\n",
        0o755,
    );
    write(
        &l.join("profile.d/01.sh"),
        "export PROFILE=profile-${GREETING}\n",
        0o644,
    );
    write(
        &app.join(".profile"),
        "export APP_PROFILE=app-profile\n",
        0o644,
    );
    std::fs::create_dir_all(app.join("sub")).unwrap();
    write(
        &layers.join("config/metadata.toml"),
        r#"buildpack-default-process-type = "web"

[[buildpacks]]
id = "samples/hello"
version = "1"
api = "0.10"

[[processes]]
type = "web"
command = ["greet"]
args = ["default-arg"]
direct = true
buildpack-id = "samples/hello"

[[processes]]
type = "worker"
command = ["greet", "--as-worker"]
args = ["w"]
direct = true
buildpack-id = "samples/hello"
working-dir = "SUBDIR"

[[processes]]
type = "shell.with.period"
command = ["echo shell:$GREETING:$PROFILE:$APP_PROFILE"]
args = []
direct = false
buildpack-id = "samples/hello"

[[processes]]
type = "shell-in-sub"
command = ["echo profile-cwd=$PROFILE_CWD cwd=$(pwd)"]
args = []
direct = false
buildpack-id = "samples/hello"
working-dir = "SUBDIR"

[[processes]]
type = "shell-args"
command = ["echo"]
args = ["$GREETING", "two words"]
direct = false
buildpack-id = "samples/hello"
"#
        .replace("SUBDIR", app.join("sub").to_str().unwrap())
        .as_str(),
        0o644,
    );
    App { dir, layers, app }
}

/// Runs the launcher as `/cnb/process/<ty>` (a symlink named like the type), or as `launcher`.
fn run(a: &App, ty: Option<&str>, args: &[&str], papi: &str) -> Output {
    run_in(a, ty, args, papi, &[], a.dir.path())
}

/// As `run`, with extra variables and the working dir the launcher starts in.
pub(crate) fn run_in(
    a: &App,
    ty: Option<&str>,
    args: &[&str],
    papi: &str,
    extra: &[(&str, &str)],
    cwd: &Path,
) -> Output {
    let bin = match ty {
        Some(t) => {
            let link = a.dir.path().join("process").join(t);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            if !link.exists() {
                std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_launcher"), &link).unwrap();
            }
            link
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_launcher")),
    };
    PhaseRun::new(bin, papi)
        .args(args)
        .env("CNB_LAYERS_DIR", &a.layers)
        .env("CNB_APP_DIR", &a.app)
        .env("PATH", "/cnb/process:/cnb/lifecycle:/usr/bin:/bin")
        .envs(extra.iter().copied())
        .current_dir(cwd)
        .run()
        .output
}

pub(crate) fn out(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_type_in_argv0_selects_the_process_with_layered_env() {
    let a = app();
    let s = out(&run(&a, Some("web"), &[], "0.15"));
    assert!(s.contains("exec.d ran on stdout"), "{s}");
    assert!(
        s.contains("greet: default-arg GREETING=hello WORKER_ONLY= FROM_EXEC_D=from-fd3 PROFILE= "),
        "direct: no profiles: {s}"
    );
    assert!(s.contains(&format!("cwd={}", a.app.display())), "{s}");
    // User args replace the process args (Platform API 0.10+, Buildpack API 0.9+).
    let s = out(&run(&a, Some("web"), &["mine"], "0.15"));
    assert!(s.contains("greet: mine GREETING"), "{s}");
    // Before Platform API 0.10 they are appended.
    let s = out(&run(&a, Some("web"), &["mine"], "0.9"));
    assert!(s.contains("greet: default-arg mine GREETING"), "{s}");
    // The process and its layered env at every Platform API.
    for api in cnb_test_support::phase::platform_apis() {
        let s = out(&run(&a, Some("web"), &[], &api));
        assert!(
            s.contains("greet: default-arg GREETING=hello WORKER_ONLY= FROM_EXEC_D=from-fd3"),
            "platform api {api}: {s}"
        );
    }
}

#[test]
fn per_process_env_working_dir_and_command_words() {
    let a = app();
    let s = out(&run(&a, Some("worker"), &["u"], "0.15"));
    assert!(
        s.contains("greet: --as-worker u GREETING=hello WORKER_ONLY=yes"),
        "{s}"
    );
    assert!(
        s.contains(&format!("cwd={}", a.app.join("sub").display())),
        "{s}"
    );
}

#[test]
fn shell_processes_source_profiles_and_evaluate_args() {
    let a = app();
    let s = out(&run(&a, Some("shell.with.period"), &[], "0.15"));
    assert_eq!(
        s.lines().last().unwrap(),
        "shell:hello:profile-hello:app-profile",
        "{s}"
    );
    let s = out(&run(&a, Some("shell-args"), &[], "0.15"));
    assert_eq!(s.lines().last().unwrap(), "hello two words", "{s}");
}

#[test]
fn user_commands_direct_and_through_the_shell() {
    let a = app();
    let s = out(&run(&a, None, &["--", "greet", "direct"], "0.15"));
    assert!(s.contains("greet: direct GREETING=hello"), "{s}");
    let s = out(&run(&a, None, &["echo via-shell:$GREETING"], "0.15"));
    assert_eq!(s.lines().last().unwrap(), "via-shell:hello", "{s}");
    // The lifecycle's own variables and PATH entries do not reach the app.
    let s = out(&run(
        &a,
        None,
        &[
            "--",
            "sh",
            "-c",
            "echo PATH=$PATH API=${CNB_PLATFORM_API:-unset}",
        ],
        "0.15",
    ));
    assert!(s.contains("API=unset"), "{s}");
    assert!(
        !s.contains("/cnb/process") && !s.contains("/cnb/lifecycle"),
        "{s}"
    );
}

#[test]
fn the_launcher_execs_in_place() {
    let a = app();
    // The harness shell execs the launcher, which execs the process: all three are one pid.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("echo harness=$$; exec env -i CNB_PLATFORM_API=0.15 CNB_LAYERS_DIR={} CNB_APP_DIR={} PATH=/usr/bin:/bin {} -- sh -c 'echo self=$$'", a.layers.display(), a.app.display(), env!("CARGO_BIN_EXE_launcher")))
        .output()
        .unwrap();
    let s = out(&o);
    let harness = s.lines().find_map(|l| l.strip_prefix("harness=")).unwrap();
    let process = s.lines().find_map(|l| l.strip_prefix("self=")).unwrap();
    assert_eq!(harness, process, "{s}");
}

#[test]
fn errors_exit_82_or_11() {
    let a = app();
    let o = run(&a, Some("nope"), &[], "0.15");
    assert_eq!(o.status.code(), Some(82));
    assert!(String::from_utf8_lossy(&o.stderr).contains("process type 'nope' was not found"));
    let o = run(&a, None, &[], "0.15");
    assert_eq!(o.status.code(), Some(82));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a command is required"));
    let o = run(&a, None, &["--", "no-such-command"], "0.15");
    assert_eq!(o.status.code(), Some(82));
    let o = run(&a, Some("web"), &[], "0.6");
    assert_eq!(o.status.code(), Some(11));
    write(
        &a.layers.join("samples_hello/hello/exec.d/bad"),
        "#!/bin/sh\necho 'not toml' >&3\n",
        0o755,
    );
    let o = run(&a, Some("web"), &[], "0.15");
    assert_eq!(o.status.code(), Some(82));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exec.d"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
