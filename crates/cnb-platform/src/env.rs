//! The environment a phase was started with, as a value.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// Environment variables, passed to the parser instead of read from the process so that tests
/// never touch globals. Values are kept as the OS gave them: paths need not be UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
}

impl Env {
    /// The current process environment (variables whose name is not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .collect(),
        }
    }

    /// A variable's value; an empty value counts as unset, as upstream does, and so does one
    /// that is not valid UTF-8.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .and_then(|v| v.to_str())
            .filter(|v| !v.is_empty())
    }

    /// A variable's value as the OS gave it, empty or not UTF-8 included.
    pub fn get_os(&self, key: &str) -> Option<&OsStr> {
        self.vars.get(key).map(OsString::as_os_str)
    }

    /// Sets a variable (for tests and for composing phases in one process).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<OsString>) {
        self.vars.insert(key.into(), value.into());
    }

    /// All variables whose value is valid UTF-8, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str()?)))
    }

    /// Where docker's `config.json` is looked for: `DOCKER_CONFIG` when set and not empty, else
    /// `$HOME/.docker`, as the docker CLI does.
    pub fn docker_config_dir(&self) -> Option<PathBuf> {
        self.get_os("DOCKER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                self.get_os("HOME")
                    .map(|h| PathBuf::from(h).join(".docker"))
            })
    }

    /// Where scratch files go, by the variables `std::env::temp_dir` reads: `TMPDIR` on unix
    /// (else `/tmp`); `TMP`, `TEMP`, then `USERPROFILE` on Windows (else `C:\Windows\Temp`).
    pub fn temp_dir(&self) -> PathBuf {
        let (names, fallback): (&[&str], &str) = if cfg!(windows) {
            (&["TMP", "TEMP", "USERPROFILE"], r"C:\Windows\Temp")
        } else {
            (&["TMPDIR"], "/tmp")
        };
        names
            .iter()
            .find_map(|n| self.get_os(n).filter(|v| !v.is_empty()))
            .map_or_else(|| PathBuf::from(fallback), PathBuf::from)
    }
}

impl<K: Into<String>, V: Into<OsString>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// Parses a boolean as Go's `strconv.ParseBool` does; anything else is `None`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false), "{f}");
        }
        for bad in ["yes", "tRUE", "", "2"] {
            assert_eq!(parse_go_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env: Env = [("A", ""), ("B", "x")].into_iter().collect();
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), Some("x"));
    }

    #[test]
    fn values_that_are_not_utf8_are_kept_for_paths_only() {
        use std::os::unix::ffi::OsStrExt as _;
        let odd = OsStr::from_bytes(b"/home/\xff");
        let env: Env = [("HOME", odd)].into_iter().collect();
        assert_eq!(env.get("HOME"), None);
        assert_eq!(env.iter().count(), 0);
        assert_eq!(env.get_os("HOME"), Some(odd));
        assert_eq!(
            env.docker_config_dir(),
            Some(PathBuf::from(odd).join(".docker"))
        );
    }

    #[test]
    fn docker_config_overrides_home_unless_empty() {
        let env: Env = [("DOCKER_CONFIG", "/d"), ("HOME", "/h")]
            .into_iter()
            .collect();
        assert_eq!(env.docker_config_dir(), Some(PathBuf::from("/d")));
        let env: Env = [("DOCKER_CONFIG", ""), ("HOME", "/h")]
            .into_iter()
            .collect();
        assert_eq!(env.docker_config_dir(), Some(PathBuf::from("/h/.docker")));
        assert_eq!(Env::default().docker_config_dir(), None);
    }

    #[cfg(unix)]
    #[test]
    fn temp_dir_is_tmpdir_unless_unset_or_empty() {
        let env: Env = [("TMPDIR", "/scratch")].into_iter().collect();
        assert_eq!(env.temp_dir(), PathBuf::from("/scratch"));
        let env: Env = [("TMPDIR", "")].into_iter().collect();
        assert_eq!(env.temp_dir(), PathBuf::from("/tmp"));
        assert_eq!(Env::default().temp_dir(), PathBuf::from("/tmp"));
    }
}
