//! Environment values and the rules that change them.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Which environment is being built: layer root dirs and env dirs differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// For `/bin/detect` and `/bin/build`.
    Build,
    /// For the app's processes.
    Launch,
}

/// What an env file without a known suffix does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Replace the value.
    Override,
    /// Set only when unset or empty.
    Default,
    /// Put before the current value, joined by the `.delim` file's content.
    Prepend,
    /// Put after the current value, joined by the `.delim` file's content.
    Append,
}

/// Variables that are lists of directories.
const PATH_LIKE: [&str; 5] = [
    "PATH",
    "LD_LIBRARY_PATH",
    "LIBRARY_PATH",
    "CPATH",
    "PKG_CONFIG_PATH",
];

/// What the build environment keeps of the lifecycle's own (everything else, `CNB_*` included, is
/// dropped).
const BUILD_KEEP: [&str; 9] = [
    "CNB_STACK_ID",
    "HOSTNAME",
    "HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// An environment under construction. Names and values are OS strings: what comes from the
/// process environment is passed on byte for byte, valid UTF-8 or not (as upstream does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    /// All of `vars`.
    pub fn new<K: Into<OsString>, V: Into<OsString>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// What buildpacks start from: only the variables upstream passes through.
    pub fn for_build<K: Into<OsString>, V: Into<OsString>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut env = Self::new(vars);
        env.vars.retain(|k, _| {
            k.to_str()
                .is_some_and(|k| BUILD_KEEP.contains(&k) || PATH_LIKE.contains(&k))
        });
        env
    }

    /// A variable, when it is set and valid UTF-8 (see [`Env::get_os`] for any value).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_os(key).and_then(OsStr::to_str)
    }

    /// A variable, as it is.
    pub fn get_os(&self, key: &str) -> Option<&OsStr> {
        self.vars.get(OsStr::new(key)).map(OsString::as_os_str)
    }

    /// Sets a variable.
    pub fn set(&mut self, key: &str, value: &str) {
        self.set_os(key, OsStr::new(value));
    }

    /// Sets a variable to any OS string.
    pub fn set_os(&mut self, key: &str, value: &OsStr) {
        self.vars.insert(key.into(), value.to_os_string());
    }

    /// Removes a variable.
    pub fn remove(&mut self, key: &str) {
        self.vars.remove(OsStr::new(key));
    }

    /// Every variable, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// Applies one action.
    pub fn apply(&mut self, key: &str, action: Action, value: &str, delim: &str) {
        self.apply_os(key, action, OsStr::new(value), OsStr::new(delim));
    }

    /// Applies one action; the current value is kept byte for byte.
    fn apply_os(&mut self, key: &str, action: Action, value: &OsStr, delim: &OsStr) {
        let current = self.get_os(key).unwrap_or_default().to_os_string();
        let joined = |a: &OsStr, b: &OsStr| {
            let mut out = a.to_os_string();
            if !a.is_empty() && !b.is_empty() {
                out.push(delim);
            }
            out.push(b);
            out
        };
        let new = match action {
            Action::Override => value.to_os_string(),
            Action::Default if current.is_empty() => value.to_os_string(),
            Action::Default => return,
            Action::Prepend => joined(value, &current),
            Action::Append => joined(&current, value),
        };
        self.vars.insert(key.into(), new);
    }

    fn prepend_path(&mut self, key: &str, dir: &Path) {
        self.apply_os(
            key,
            Action::Prepend,
            dir.as_os_str(),
            OsStr::new(cnb_os::PATH_LIST_SEPARATOR),
        );
    }

    /// A layer's root dirs: `bin` on `PATH`, `lib` on `LD_LIBRARY_PATH` (and for builds
    /// `LIBRARY_PATH`), `include` on `CPATH` and `pkgconfig` on `PKG_CONFIG_PATH` for builds.
    pub fn add_root_dirs(&mut self, layer: &Path, purpose: Purpose) {
        let rules: &[(&str, &[&str])] = match purpose {
            Purpose::Build => &[
                ("bin", &["PATH"]),
                ("lib", &["LD_LIBRARY_PATH", "LIBRARY_PATH"]),
                ("include", &["CPATH"]),
                ("pkgconfig", &["PKG_CONFIG_PATH"]),
            ],
            Purpose::Launch => &[("bin", &["PATH"]), ("lib", &["LD_LIBRARY_PATH"])],
        };
        for (dir, vars) in rules {
            let d = layer.join(dir);
            if d.is_dir() {
                for v in *vars {
                    self.prepend_path(v, &d);
                }
            }
        }
    }

    /// The files of an env dir (`env/`, `env.build/`, `env.launch/`, `env.launch/<process>/`):
    /// the name before the first `.` is the variable, the rest says what to do; files without a
    /// suffix do `default_action`. Contents are used verbatim. Missing dirs are fine.
    pub fn add_env_dir(&mut self, dir: &Path, default_action: Action) -> std::io::Result<()> {
        let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        files.sort();
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let (key, suffix) = match name.split_once('.') {
                Some((k, s)) => (k, Some(s)),
                None => (name, None),
            };
            let delim =
                || std::fs::read_to_string(dir.join(format!("{key}.delim"))).unwrap_or_default();
            let (action, delim) = match suffix {
                None => (
                    default_action,
                    match default_action {
                        Action::Prepend | Action::Append => delim(),
                        _ => String::new(),
                    },
                ),
                Some("override") => (Action::Override, String::new()),
                Some("default") => (Action::Default, String::new()),
                Some("prepend") => (Action::Prepend, delim()),
                Some("append") => (Action::Append, delim()),
                // `NAME.` (an empty suffix): prepend as a path list.
                Some("") => (Action::Prepend, cnb_os::PATH_LIST_SEPARATOR.to_string()),
                Some(_) => continue,
            };
            let value = std::fs::read_to_string(&path)?;
            self.apply(key, action, &value, &delim);
        }
        Ok(())
    }

    /// The platform's `env/` dir: each file sets the variable named exactly as the file; path-like
    /// variables get the value prepended, the rest overridden.
    pub fn add_platform_env(&mut self, dir: &Path) -> std::io::Result<()> {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut files: Vec<std::path::PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for path in files {
            let Some(key) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let value = std::fs::read_to_string(&path)?;
            if PATH_LIKE.contains(&key) {
                self.apply(key, Action::Prepend, &value, cnb_os::PATH_LIST_SEPARATOR);
            } else {
                self.apply(key, Action::Override, &value, "");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, entries: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (n, c) in entries {
            std::fs::write(dir.join(n), c).unwrap();
        }
    }

    #[test]
    fn suffix_rules() {
        let d = tempfile::tempdir().unwrap();
        files(
            d.path(),
            &[
                ("PLAIN", "p"),
                ("OVER.override", "o"),
                ("DEF.default", "d"),
                ("KEPT.default", "new"),
                ("PRE.prepend", "a"),
                ("PRE.delim", ":"),
                ("APP.append", "z"),
                ("APP.delim", ","),
                ("NODELIM.append", "x"),
                ("IGNORED.weird", "?"),
                ("SPACE.override", " keep spaces \n"),
            ],
        );
        let mut env = Env::new([
            ("OVER", "old"),
            ("KEPT", "old"),
            ("PRE", "b"),
            ("APP", "y"),
            ("NODELIM", "w"),
            ("PLAIN", "old"),
        ]);
        env.add_env_dir(d.path(), Action::Override).unwrap();
        assert_eq!(env.get("PLAIN"), Some("p"));
        assert_eq!(env.get("OVER"), Some("o"));
        assert_eq!(env.get("DEF"), Some("d"));
        assert_eq!(env.get("KEPT"), Some("old"));
        assert_eq!(env.get("PRE"), Some("a:b"));
        assert_eq!(env.get("APP"), Some("y,z"));
        assert_eq!(env.get("NODELIM"), Some("wx"));
        assert_eq!(env.get("IGNORED"), None);
        assert_eq!(env.get("SPACE"), Some(" keep spaces \n"));
        // With `default` as the default action (build-config/env), a plain file does not override.
        let mut env = Env::new([("PLAIN", "old")]);
        env.add_env_dir(d.path(), Action::Default).unwrap();
        assert_eq!(env.get("PLAIN"), Some("old"));
    }

    #[test]
    fn root_dirs_and_platform_env() {
        let d = tempfile::tempdir().unwrap();
        let layer = d.path().join("layer");
        for sub in ["bin", "lib", "include", "pkgconfig"] {
            std::fs::create_dir_all(layer.join(sub)).unwrap();
        }
        let mut build = Env::new([("PATH", "/usr/bin")]);
        build.add_root_dirs(&layer, Purpose::Build);
        assert_eq!(
            build.get("PATH").unwrap(),
            format!("{}:/usr/bin", layer.join("bin").display())
        );
        assert_eq!(
            build.get("LIBRARY_PATH").unwrap(),
            layer.join("lib").display().to_string()
        );
        assert!(build.get("CPATH").is_some() && build.get("PKG_CONFIG_PATH").is_some());
        let mut launch = Env::new([("PATH", "/usr/bin")]);
        launch.add_root_dirs(&layer, Purpose::Launch);
        assert!(launch.get("LIBRARY_PATH").is_none() && launch.get("CPATH").is_none());
        assert!(launch.get("LD_LIBRARY_PATH").is_some());

        let p = d.path().join("platform-env");
        files(
            &p,
            &[
                ("PATH", "/opt/bin"),
                ("FOO", "bar"),
                ("WITH.DOT", "kept as named"),
            ],
        );
        let mut env = Env::new([("PATH", "/usr/bin"), ("FOO", "old")]);
        env.add_platform_env(&p).unwrap();
        assert_eq!(env.get("PATH"), Some("/opt/bin:/usr/bin"));
        assert_eq!(env.get("FOO"), Some("bar"));
        assert_eq!(env.get("WITH.DOT"), Some("kept as named"));
    }

    #[test]
    fn build_env_keeps_only_what_upstream_passes() {
        let env = Env::for_build([
            ("PATH", "/bin"),
            ("HOME", "/h"),
            ("CNB_PLATFORM_API", "0.12"),
            ("SECRET", "x"),
            ("http_proxy", "p"),
        ]);
        let keys: Vec<&str> = env.iter().filter_map(|(k, _)| k.to_str()).collect();
        assert_eq!(keys, ["HOME", "PATH", "http_proxy"]);
    }
}
