//! Which process runs, with which arguments (platform.md "launcher", buildpack.md "launch.toml").

use std::ffi::OsString;

use cnb_api::Version;
use cnb_formats::metadata::LaunchMetadata;

use crate::LaunchError;

/// The process to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The process type, when one was selected.
    pub r#type: Option<String>,
    /// Command words (a user's command is kept as given, valid UTF-8 or not).
    pub command: Vec<OsString>,
    /// Arguments after the command.
    pub args: Vec<OsString>,
    /// Run without a shell.
    pub direct: bool,
    /// Working directory, when the process names one.
    pub working_dir: Option<String>,
}

/// Picks the process: the type named by argv0 (`/cnb/process/<type>`), else the user's command
/// (`-- cmd args` runs directly, `cmd args` through the shell).
pub fn select(
    md: &LaunchMetadata,
    process_type: Option<&str>,
    user_args: &[OsString],
    platform_api: Version,
    exec_env: &str,
) -> Result<Selected, LaunchError> {
    let Some(ty) = process_type else {
        return match user_args.split_first() {
            None => Err(LaunchError::NoCommand),
            Some((first, rest)) if first == "--" => match rest.split_first() {
                Some((cmd, args)) => Ok(Selected {
                    r#type: None,
                    command: vec![cmd.clone()],
                    args: args.to_vec(),
                    direct: true,
                    working_dir: None,
                }),
                None => Err(LaunchError::NoCommand),
            },
            Some(_) => Ok(Selected {
                r#type: None,
                command: user_args.to_vec(),
                args: Vec::new(),
                direct: false,
                working_dir: None,
            }),
        };
    };
    let p = md
        .process(ty)
        .ok_or_else(|| LaunchError::NoSuchProcess(ty.to_string()))?;
    if platform_api >= Version::new(0, 15)
        && !p.exec_env.is_empty()
        && !p.exec_env.iter().any(|e| e == "*" || e == exec_env)
    {
        return Err(LaunchError::NotForExecEnv {
            process: ty.to_string(),
            exec_env: exec_env.to_string(),
        });
    }
    let bp_api = md
        .buildpacks
        .iter()
        .find(|b| b.id == p.buildpack_id)
        .and_then(|b| b.api.parse::<Version>().ok())
        .unwrap_or(Version::new(0, 9));
    let words = |v: &[String]| v.iter().map(OsString::from).collect::<Vec<_>>();
    let (command, args) = if platform_api < Version::new(0, 10) {
        // Before Platform API 0.10 user arguments are always appended.
        let mut args = words(&p.args);
        args.extend(user_args.iter().cloned());
        (words(&p.command), args)
    } else if p.command.len() > 1 {
        // Extra command words always stay; user arguments replace the process's arguments.
        let args = if user_args.is_empty() {
            words(&p.args)
        } else {
            user_args.to_vec()
        };
        (words(&p.command), args)
    } else if bp_api >= Version::new(0, 9) {
        let args = if user_args.is_empty() {
            words(&p.args)
        } else {
            user_args.to_vec()
        };
        (words(&p.command), args)
    } else {
        let mut args = words(&p.args);
        args.extend(user_args.iter().cloned());
        (words(&p.command), args)
    };
    Ok(Selected {
        r#type: Some(ty.to_string()),
        command,
        args,
        direct: p.direct,
        working_dir: (!p.working_dir.is_empty()).then(|| p.working_dir.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnb_formats::group::GroupElement;
    use cnb_formats::metadata::Process;

    fn md() -> LaunchMetadata {
        let p = |t: &str, cmd: &[&str], args: &[&str], bp: &str| Process {
            r#type: t.into(),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            direct: true,
            buildpack_id: bp.into(),
            ..Default::default()
        };
        let mut only_test = p("test-only", &["t"], &[], "new");
        only_test.exec_env = vec!["test".into()];
        LaunchMetadata {
            buildpacks: vec![
                GroupElement {
                    id: "new".into(),
                    version: "1".into(),
                    api: "0.10".into(),
                    ..Default::default()
                },
                GroupElement {
                    id: "old".into(),
                    version: "1".into(),
                    api: "0.8".into(),
                    ..Default::default()
                },
            ],
            processes: vec![
                p("multi", &["run", "--fast"], &["a"], "new"),
                p("single", &["run"], &["a"], "new"),
                p("legacy", &["run"], &["a"], "old"),
                only_test,
            ],
            ..Default::default()
        }
    }

    fn s(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn args(ty: &str, user: &[&str], papi: (u32, u32)) -> Vec<OsString> {
        select(
            &md(),
            Some(ty),
            &s(user),
            Version::new(papi.0, papi.1),
            "production",
        )
        .unwrap()
        .args
    }

    #[test]
    fn argument_rules_per_api() {
        assert_eq!(args("multi", &[], (0, 15)), s(&["a"]));
        assert_eq!(args("multi", &["u"], (0, 15)), s(&["u"]));
        assert_eq!(
            args("single", &["u"], (0, 15)),
            s(&["u"]),
            "buildpack api 0.10 replaces"
        );
        assert_eq!(
            args("legacy", &["u"], (0, 15)),
            s(&["a", "u"]),
            "buildpack api 0.8 appends"
        );
        assert_eq!(
            args("single", &["u"], (0, 9)),
            s(&["a", "u"]),
            "platform api 0.9 appends"
        );
        let sel = select(&md(), Some("multi"), &[], Version::new(0, 15), "production").unwrap();
        assert_eq!(sel.command, s(&["run", "--fast"]));
    }

    #[test]
    fn user_commands_and_errors() {
        let sel = select(
            &md(),
            None,
            &s(&["--", "echo", "hi"]),
            Version::new(0, 15),
            "production",
        )
        .unwrap();
        assert_eq!(
            (sel.command, sel.args, sel.direct),
            (s(&["echo"]), s(&["hi"]), true)
        );
        let sel = select(
            &md(),
            None,
            &s(&["echo $HOME"]),
            Version::new(0, 15),
            "production",
        )
        .unwrap();
        assert!(!sel.direct);
        assert!(matches!(
            select(&md(), None, &[], Version::new(0, 15), "production"),
            Err(LaunchError::NoCommand)
        ));
        assert!(matches!(
            select(&md(), Some("nope"), &[], Version::new(0, 15), "production"),
            Err(LaunchError::NoSuchProcess(_))
        ));
        assert!(matches!(
            select(
                &md(),
                Some("test-only"),
                &[],
                Version::new(0, 15),
                "production"
            ),
            Err(LaunchError::NotForExecEnv { .. })
        ));
        assert!(select(&md(), Some("test-only"), &[], Version::new(0, 15), "test").is_ok());
        assert!(
            select(
                &md(),
                Some("test-only"),
                &[],
                Version::new(0, 14),
                "production"
            )
            .is_ok(),
            "exec-env is 0.15+"
        );
    }
}
