//! Applies one Dockerfile's instructions to the file system the extender runs in, keeping the
//! image config they change (env, user, workdir, shell, labels) as Docker would.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use cnb_formats::dockerfile::{Dockerfile, Instruction};

use super::ExtendError;
use super::words::{expand, split_pairs};

/// What the Dockerfiles have made of the image config so far.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// `KEY=value` pairs, in order.
    pub env: Vec<(String, String)>,
    /// `USER` as written (`name`, `uid`, `uid:gid`).
    pub user: String,
    /// `WORKDIR`, absolute in the image.
    pub workdir: String,
    /// `SHELL`.
    pub shell: Vec<String>,
    /// `LABEL`s.
    pub labels: BTreeMap<String, String>,
}

impl State {
    pub(crate) fn env_get(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn env_set(&mut self, key: &str, value: &str) {
        match self.env.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value.to_string(),
            None => self.env.push((key.to_string(), value.to_string())),
        }
    }
}

/// One Dockerfile to apply: whose it is and where `COPY`/`ADD` read from.
pub(crate) struct Job<'a> {
    pub extension: &'a str,
    pub dockerfile: &'a Dockerfile,
    pub context: &'a Path,
    /// The build arguments offered (`base_image`, `build_id`, `user_id`, `group_id`, then
    /// extend-config.toml's, later ones winning).
    pub args: &'a [(String, String)],
    /// The file system the image is; `/` outside tests.
    pub root: &'a Path,
}

/// Applies `job`'s single stage to `state` and the file system, calling `after_fs_change` after
/// each instruction that may change files (`RUN`, `COPY`, `ADD`, `WORKDIR`), where kaniko takes
/// its snapshots.
pub(crate) fn apply(
    job: &Job<'_>,
    state: &mut State,
    after_fs_change: &mut dyn FnMut(&Instruction) -> Result<(), ExtendError>,
) -> Result<(), ExtendError> {
    let offered: BTreeMap<&str, &str> = job
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Only declared ARGs are visible, as in Docker.
    let mut args: Vec<(String, String)> = Vec::new();
    let stages = job.dockerfile.stages();
    let Some(stage) = stages.first() else {
        return Ok(());
    };
    for ins in stage.instructions {
        let fail = |message: String| ExtendError::Instruction {
            extension: job.extension.to_string(),
            path: job.dockerfile.path.clone(),
            line: ins.line,
            message,
        };
        let text = ins.arguments.first().cloned().unwrap_or_default();
        let vars = |state: &State, args: &[(String, String)]| -> BTreeMap<String, String> {
            let mut m: BTreeMap<String, String> = args.iter().cloned().collect();
            m.extend(state.env.iter().cloned());
            m
        };
        match ins.keyword.as_str() {
            "ARG" => {
                let (name, default) = match text.split_once('=') {
                    Some((n, d)) => (n.trim().to_string(), Some(unquote(d))),
                    None => (text.trim().to_string(), None),
                };
                let value = offered
                    .get(name.as_str())
                    .map(|v| v.to_string())
                    .or(default);
                if let Some(v) = value {
                    args.retain(|(k, _)| *k != name);
                    args.push((name, v));
                }
            }
            "ENV" => {
                for (k, v) in split_pairs(&text).map_err(fail)? {
                    let v = expand(&v, &vars(state, &args));
                    state.env_set(&k, &v);
                }
            }
            "LABEL" => {
                for (k, v) in split_pairs(&text).map_err(fail)? {
                    let v = expand(&v, &vars(state, &args));
                    state.labels.insert(k, v);
                }
            }
            "USER" => state.user = expand(&text, &vars(state, &args)),
            "WORKDIR" => {
                let dir = expand(&text, &vars(state, &args));
                let dir = Path::new(&state.workdir).join(dir);
                state.workdir = normalize(&dir).to_string_lossy().into_owned();
                let on_disk = in_root(job.root, &state.workdir);
                std::fs::create_dir_all(&on_disk)
                    .map_err(|e| fail(format!("create '{}': {e}", state.workdir)))?;
            }
            "SHELL" => state.shell = ins.arguments.clone(),
            "RUN" => run(job, state, &args, ins).map_err(fail)?,
            "COPY" | "ADD" => {
                let vars = vars(state, &args);
                copy(job, state, ins, &vars).map_err(fail)?;
            }
            // Upstream's kaniko records these in the config; the app image takes its own.
            "CMD" | "ENTRYPOINT" | "EXPOSE" | "VOLUME" | "STOPSIGNAL" | "HEALTHCHECK"
            | "MAINTAINER" | "ONBUILD" => {}
            other => return Err(fail(format!("unsupported instruction {other}"))),
        }
        if matches!(ins.keyword.as_str(), "RUN" | "COPY" | "ADD" | "WORKDIR") {
            after_fs_change(ins)?;
        }
    }
    Ok(())
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// `path` without `.` and `..`, never above `/`.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Whether `path` climbs above where it starts (`a/../../b`), which Docker would clamp silently.
fn escapes(path: &Path) -> bool {
    let mut depth = 0i32;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::RootDir => depth = 0,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// The on-disk place of the in-image absolute path `p`.
pub(crate) fn in_root(root: &Path, p: &str) -> PathBuf {
    root.join(
        normalize(Path::new(p))
            .strip_prefix("/")
            .unwrap_or(Path::new("")),
    )
}

/// The uid and gid `USER` names, looked up in the image's /etc/passwd and /etc/group.
pub(crate) fn resolve_user(root: &Path, user: &str) -> Result<(u32, u32), String> {
    if user.is_empty() {
        return Ok((0, 0));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && (f[0] == u || f[2] == u));
    let uid = match (u.parse::<u32>(), &entry) {
        (Ok(n), _) => n,
        (Err(_), Some(f)) => f[2]
            .parse()
            .map_err(|_| format!("bad /etc/passwd entry for '{u}'"))?,
        (Err(_), None) => {
            return Err(format!(
                "unable to find user {u}: no matching entries in passwd file"
            ));
        }
    };
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let group = std::fs::read_to_string(root.join("etc/group")).unwrap_or_default();
                group
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() > 2 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| format!("unable to find group {g}"))?
            }
        },
        None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(0),
    };
    Ok((uid, gid))
}

fn run(
    job: &Job<'_>,
    state: &State,
    args: &[(String, String)],
    ins: &Instruction,
) -> Result<(), String> {
    let words: Vec<String> = ins
        .arguments
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    // Shell form is one argument run through SHELL; exec form is the argv itself.
    let argv: Vec<String> = if is_exec_form(job, ins) {
        words
    } else {
        let shell = if state.shell.is_empty() {
            vec!["/bin/sh".to_string(), "-c".to_string()]
        } else {
            state.shell.clone()
        };
        shell.into_iter().chain(words).collect()
    };
    let Some((prog, rest)) = argv.split_first() else {
        return Err("RUN without a command".into());
    };
    let (uid, gid) = resolve_user(job.root, &state.user)?;
    let mut cmd = Command::new(prog);
    cmd.args(rest).env_clear();
    // Declared ARGs reach RUN as variables, ENV winning over them.
    for (k, v) in args {
        cmd.env(k, v);
    }
    for (k, v) in &state.env {
        cmd.env(k, v);
    }
    if state.env_get("PATH").is_none() {
        cmd.env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
    }
    cmd.current_dir(in_root(job.root, &state.workdir));
    cnb_os::run_as(&mut cmd, uid, gid);
    let status = cmd
        .status()
        .map_err(|e| format!("start '{}': {e}", argv.join(" ")))?;
    if !status.success() {
        return Err(format!(
            "RUN {} failed: {status}",
            argv.last().map_or("", String::as_str)
        ));
    }
    Ok(())
}

/// Whether the RUN on this line was written as a JSON array.
fn is_exec_form(job: &Job<'_>, ins: &Instruction) -> bool {
    std::fs::read_to_string(&job.dockerfile.path)
        .ok()
        .and_then(|t| {
            t.lines()
                .nth(ins.line.saturating_sub(1))
                .map(str::to_string)
        })
        .is_some_and(|l| {
            l.trim_start()
                .get(3..)
                .is_some_and(|r| r.trim_start().starts_with('['))
        })
}

fn copy(
    job: &Job<'_>,
    state: &State,
    ins: &Instruction,
    vars: &BTreeMap<String, String>,
) -> Result<(), String> {
    let (flags, operands): (Vec<&String>, Vec<&String>) =
        ins.arguments.iter().partition(|a| a.starts_with("--"));
    let mut owner: Option<(u32, u32)> = None;
    let mut mode: Option<u32> = None;
    for f in flags {
        if let Some(v) = f.strip_prefix("--chown=") {
            owner = Some(resolve_user(job.root, &expand(v, vars))?);
        } else if let Some(v) = f.strip_prefix("--chmod=") {
            let v = expand(v, vars);
            mode = Some(
                u32::from_str_radix(&v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("{} --chmod='{v}' is not an octal mode", ins.keyword))?,
            );
        } else {
            return Err(format!("{} flag {f} is not supported", ins.keyword));
        }
    }
    let Some((dest, sources)) = operands.split_last() else {
        return Err(format!("{} needs a source and a destination", ins.keyword));
    };
    if sources.is_empty() {
        return Err(format!("{} needs a source and a destination", ins.keyword));
    }
    let dest = expand(dest, vars);
    let dest_abs = normalize(&Path::new(&state.workdir).join(&dest));
    let context = job
        .context
        .canonicalize()
        .map_err(|e| format!("build context '{}': {e}", job.context.display()))?;
    let mut found = Vec::new();
    for src in sources {
        found.extend(sources_of(&context, &expand(src, vars), &ins.keyword)?);
    }
    let into_dir = dest.ends_with('/') || found.len() > 1;
    for (src, real) in found {
        let target_abs = if real.is_dir() {
            dest_abs.clone()
        } else if into_dir || in_root(job.root, &dest_abs.to_string_lossy()).is_dir() {
            dest_abs.join(real.file_name().unwrap_or_default())
        } else {
            dest_abs.clone()
        };
        // ADD unpacks a local tar (plain or gzip) into the destination dir, as Docker does.
        if ins.keyword == "ADD"
            && real.is_file()
            && cnb_archive::is_tar_archive(&real).unwrap_or(false)
        {
            let (uid, gid) = owner.unwrap_or((0, 0));
            let target = in_root(job.root, &dest_abs.to_string_lossy());
            let opts = cnb_archive::ExtractOptions {
                prefix: None,
                owner: Some(cnb_archive::Owner { uid, gid }),
            };
            std::fs::File::open(&real)
                .map_err(|e| e.to_string())
                .and_then(|f| cnb_archive::extract(f, &target, &opts).map_err(|e| e.to_string()))
                .map_err(|e| format!("unpack '{src}' into '{}': {e}", dest_abs.display()))?;
            continue;
        }
        let target = in_root(job.root, &target_abs.to_string_lossy());
        copy_tree(&real, &target, owner.unwrap_or((0, 0)), mode)
            .map_err(|e| format!("copy '{src}' to '{}': {e}", target_abs.display()))?;
    }
    Ok(())
}

/// The files one `COPY`/`ADD` source names in the (canonical) build context: itself, or what
/// its wildcards (`*`, `?`, `[...]`, as Go's filepath.Match) match, sorted; never anything
/// outside the context.
fn sources_of(context: &Path, src: &str, keyword: &str) -> Result<Vec<(String, PathBuf)>, String> {
    if src.contains("://") {
        return Err(format!("{keyword} from a URL ('{src}') is not supported"));
    }
    let outside = || format!("{keyword} source '{src}' is outside the build context");
    if escapes(Path::new(src)) {
        return Err(outside());
    }
    let relative = normalize(Path::new(src));
    let relative = relative.strip_prefix("/").unwrap_or(&relative);
    let candidates: Vec<PathBuf> = if src.contains(['*', '?', '[']) {
        let pattern = Path::new(&glob::Pattern::escape(&context.to_string_lossy())).join(relative);
        let mut matched: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
            .map_err(|e| format!("{keyword} source '{src}': {e}"))?
            .filter_map(Result::ok)
            .collect();
        matched.sort();
        if matched.is_empty() {
            return Err(format!(
                "{keyword} source '{src}': no source files were specified"
            ));
        }
        matched
    } else {
        vec![context.join(relative)]
    };
    candidates
        .into_iter()
        .map(|p| {
            let real = p
                .canonicalize()
                .map_err(|e| format!("{keyword} source '{src}': {e}"))?;
            if !real.starts_with(context) {
                return Err(outside());
            }
            Ok((src.to_string(), real))
        })
        .collect()
}

/// Copies `src` to `dest` (a tree, links as links), owned by `uid:gid`, with `mode` (`--chmod`)
/// on every file and dir if given.
fn copy_tree(
    src: &Path,
    dest: &Path,
    (uid, gid): (u32, u32),
    mode: Option<u32>,
) -> std::io::Result<()> {
    let md = std::fs::symlink_metadata(src)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if md.is_dir() {
        std::fs::create_dir_all(dest)?;
        std::fs::set_permissions(dest, md.permissions())?;
        let mut entries: Vec<_> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &dest.join(e.file_name()), (uid, gid), mode)?;
        }
    } else if md.file_type().is_symlink() {
        let _ = std::fs::remove_file(dest);
        let target = std::fs::read_link(src)?;
        cnb_os::symlink(&target, dest).map_err(std::io::Error::other)?;
    } else {
        std::fs::copy(src, dest)?;
    }
    if let Some(m) = mode.filter(|_| !md.file_type().is_symlink()) {
        cnb_os::set_mode(dest, m)?;
    }
    cnb_os::lchown(dest, uid, gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_escapes_found() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("../../x")), PathBuf::from("/x"));
        assert!(escapes(Path::new("../x")));
        assert!(escapes(Path::new("a/../../x")));
        assert!(!escapes(Path::new("a/../x")));
        assert!(!escapes(Path::new("/x")));
        assert_eq!(in_root(Path::new("/r"), "/a/../b"), PathBuf::from("/r/b"));
    }

    #[test]
    fn users_come_from_the_images_passwd_and_group() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0::/root:/bin/sh\ncnb:x:1000:1001::/home/cnb:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(etc.join("group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let r = root.path();
        assert_eq!(resolve_user(r, "cnb"), Ok((1000, 1001)));
        assert_eq!(
            resolve_user(r, "1000"),
            Ok((1000, 1001)),
            "primary group of a known uid"
        );
        assert_eq!(resolve_user(r, "cnb:staff"), Ok((1000, 50)));
        assert_eq!(resolve_user(r, "2000:3000"), Ok((2000, 3000)));
        assert_eq!(resolve_user(r, "2000"), Ok((2000, 0)));
        assert_eq!(resolve_user(r, ""), Ok((0, 0)));
        assert!(resolve_user(r, "nobody").is_err());
        assert!(resolve_user(r, "cnb:nogroup").is_err());
    }
}
