//! Running a phase binary the way a platform does, for the phases' black-box tests: a clean
//! environment with `CNB_PLATFORM_API`, the arguments, the platform's variables, optionally as
//! the build user; then assertions on the exit code and the output that print everything the
//! phase said when they fail.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

/// The build user of the tests' fixtures (the `cnb` user of builder images).
pub const BUILD_UID: u32 = 1000;
/// Its group.
pub const BUILD_GID: u32 = 1000;

/// Every Platform API this lifecycle supports, oldest first (`cnb_api::PLATFORM`): what the key
/// tests run for.
pub fn platform_apis() -> Vec<String> {
    cnb_api::PLATFORM
        .supported
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The supported Platform APIs from `min` on (`"0.10"` for extensions, for example).
pub fn platform_apis_since(min: &str) -> Vec<String> {
    let min: cnb_api::Version = min.parse().unwrap();
    cnb_api::PLATFORM
        .supported
        .iter()
        .filter(|v| **v >= min)
        .map(ToString::to_string)
        .collect()
}

/// Whether Platform API `api` is `min` or newer: for the version gates of a test that runs
/// at every Platform API.
pub fn api_at_least(api: &str, min: &str) -> bool {
    let api: cnb_api::Version = api.parse().unwrap();
    api >= min.parse().unwrap()
}

/// A phase run being set up.
pub struct PhaseRun {
    cmd: Command,
    what: String,
}

impl PhaseRun {
    /// `bin` (a phase binary, usually `env!("CARGO_BIN_EXE_<phase>")`) at Platform API
    /// `platform_api`, with nothing of the test's environment but a `PATH`.
    pub fn new(bin: impl AsRef<Path>, platform_api: &str) -> Self {
        let bin = bin.as_ref();
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("CNB_PLATFORM_API", platform_api)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        let name = bin.file_name().map_or_else(
            || bin.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        PhaseRun {
            cmd,
            what: format!("{name} at platform api {platform_api}"),
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// Appends a flag and its value (`-layers <path>`).
    pub fn flag(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(name).arg(value);
        self
    }

    /// Reads and writes images in the OCI layout `dir` (`-layout -layout-dir <dir>`, Platform
    /// API 0.12 on), with the experimental mode that allows it.
    pub fn layout(self, dir: impl AsRef<OsStr>) -> Self {
        self.arg("-layout")
            .flag("-layout-dir", dir)
            .env("CNB_EXPERIMENTAL_MODE", "warn")
    }

    /// Talks plain HTTP to `host` (`CNB_INSECURE_REGISTRIES`, read at every Platform API).
    pub fn insecure_registry(self, host: &str) -> Self {
        self.env("CNB_INSECURE_REGISTRIES", host)
    }

    /// Sets a variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Sets several variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    /// Runs as `uid:gid` with no supplementary groups (the test runs as root).
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        // std clears the supplementary groups when root sets a uid.
        self.cmd.uid(uid).gid(gid);
        self
    }

    /// Runs as the build user.
    pub fn as_build_user(self) -> Self {
        self.user(BUILD_UID, BUILD_GID)
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// The command, for what the builder methods do not cover.
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// The command itself, for runs the harness does not wait for (the chaos tests kill them).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Runs it to the end.
    pub fn run(mut self) -> PhaseOutput {
        let output = self
            .cmd
            .output()
            .unwrap_or_else(|e| panic!("{}: could not start: {e}", self.what));
        PhaseOutput {
            output,
            what: self.what,
        }
    }
}

/// What a phase run left: its exit status and output, with assertions that show it all. It
/// derefs to the [`Output`].
pub struct PhaseOutput {
    /// The raw output.
    pub output: Output,
    what: String,
}

impl std::ops::Deref for PhaseOutput {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl PhaseOutput {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// stdout.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// stderr.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// stdout then stderr.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{}: expected exit {code}; output:\n{}",
            self.what,
            self.text()
        );
        self
    }

    /// Asserts success.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_exit(0)
    }

    /// Asserts that the output holds `needle`.
    #[track_caller]
    pub fn assert_output_has(&self, needle: &str) -> &Self {
        assert!(
            self.text().contains(needle),
            "{}: expected '{needle}' in the output:\n{}",
            self.what,
            self.text()
        );
        self
    }

    /// Asserts that one line of stderr holds every one of `parts` (an error is one line that
    /// names what was wrong), and returns that line.
    #[track_caller]
    pub fn error_line(&self, parts: &[&str]) -> String {
        let stderr = self.stderr();
        stderr
            .lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no stderr line holds all of {parts:?}:\n{stderr}",
                    self.what
                )
            })
    }
}

/// Gives `path` and everything below it to `uid:gid` (`ensure_owner` would leave a tree alone
/// whose root the user already owns).
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown -R {}", path.display());
}

/// Fails the test, saying why, unless it runs as root (tests that chown, chroot or switch
/// users): such a test never passes without testing.
#[track_caller]
pub fn require_root(why: &str) {
    assert!(
        cnb_os::is_root(),
        "this test needs root: {why} (CI runs as root)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apis_since_filters_by_minor() {
        assert_eq!(
            platform_apis_since("0.12"),
            ["0.12", "0.13", "0.14", "0.15"]
        );
        assert_eq!(platform_apis_since("0.7"), platform_apis());
        assert_eq!(platform_apis().first().map(String::as_str), Some("0.7"));
        assert!(api_at_least("0.12", "0.12") && api_at_least("0.15", "0.9"));
        assert!(!api_at_least("0.9", "0.12"));
    }

    #[test]
    fn output_assertions_show_what_the_phase_said() {
        let out = PhaseRun::new("/bin/sh", "0.15")
            .args([
                "-c",
                "echo \"$CNB_PLATFORM_API\"; echo 'ERROR: bad thing: x' >&2; exit 3",
            ])
            .run();
        out.assert_exit(3).assert_output_has("0.15");
        assert_eq!(out.error_line(&["bad thing", "x"]), "ERROR: bad thing: x");
        let caught = std::panic::catch_unwind(|| {
            out.assert_exit(0);
        });
        assert!(caught.is_err());
    }
}
