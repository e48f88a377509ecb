//! The Dockerfiles image extensions write (`build.Dockerfile`, `run.Dockerfile`): a small model
//! of their instructions, parsed with the `parse-dockerfile` crate, and the rules the spec and
//! upstream's generator apply to them (image_extension.md "Dockerfile requirements").
//!
//! The model is deliberately flat (keyword, line, arguments) so the generator and the extender
//! can both read it without depending on the parser's types.

use std::path::{Path, PathBuf};

use parse_dockerfile::{Command, Instruction as Parsed, JsonOrStringArray, Source};

use crate::{FormatError, Result};

/// The ARG every build.Dockerfile (and an extending run.Dockerfile) starts from.
pub const BASE_IMAGE_ARG: &str = "base_image";
/// How a Dockerfile names the image it extends.
pub const BASE_IMAGE_REF: &str = "${base_image}";
/// The instructions upstream recommends; others are allowed with a warning.
pub const RECOMMENDED: &[&str] = &[
    "FROM", "ADD", "ARG", "COPY", "ENV", "LABEL", "RUN", "SHELL", "USER", "WORKDIR",
];

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword in upper case (`FROM`, `RUN`, ...).
    pub keyword: String,
    /// The 1-based line the keyword is on.
    pub line: usize,
    /// Its arguments, unescaped: flags first as `--name=value`, then the operands (`FROM`: the
    /// image, then `AS` and the stage name; `RUN`/`CMD`/`ENTRYPOINT`: the shell text as one
    /// argument, or each exec-form element; `COPY`/`ADD`: sources then destination; `ARG`,
    /// `ENV`, `LABEL`: the text after the keyword).
    pub arguments: Vec<String>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Every instruction, in order.
    pub instructions: Vec<Instruction>,
}

/// A stage: its `FROM` and what follows until the next `FROM`.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    /// The `FROM` instruction.
    pub from: &'a Instruction,
    /// The instructions after it.
    pub instructions: &'a [Instruction],
}

impl Stage<'_> {
    /// The image the stage starts from, as written (`${base_image}`, `ubuntu:24.04`).
    pub fn base(&self) -> &str {
        self.from
            .arguments
            .iter()
            .find(|a| !a.starts_with("--"))
            .map_or("", String::as_str)
    }
}

/// What a valid run.Dockerfile does to the run image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEffect {
    /// The image it switches to, when its `FROM` is not `${base_image}`.
    pub new_base: Option<String>,
    /// Whether it has instructions after `FROM` (the run image is extended).
    pub extend: bool,
}

impl Dockerfile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| FormatError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text`; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let parsed = parse_dockerfile::parse(text).map_err(|e| FormatError::Dockerfile {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let instructions = parsed
            .instructions
            .iter()
            .map(|i| convert(i, text))
            .collect();
        Ok(Dockerfile {
            path: path.to_path_buf(),
            instructions,
        })
    }

    /// The `ARG`s before the first `FROM`.
    pub fn global_args(&self) -> impl Iterator<Item = &Instruction> {
        self.instructions
            .iter()
            .take_while(|i| i.keyword != "FROM")
            .filter(|i| i.keyword == "ARG")
    }

    /// The stages, in order.
    pub fn stages(&self) -> Vec<Stage<'_>> {
        let starts: Vec<usize> = (0..self.instructions.len())
            .filter(|&i| self.instructions[i].keyword == "FROM")
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(n, &start)| {
                let end = starts
                    .get(n + 1)
                    .copied()
                    .unwrap_or(self.instructions.len());
                Stage {
                    from: &self.instructions[start],
                    instructions: &self.instructions[start + 1..end],
                }
            })
            .collect()
    }

    fn invalid(&self, message: impl Into<String>) -> FormatError {
        FormatError::Dockerfile {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// Warnings for instructions outside [`RECOMMENDED`] in the stages.
    fn not_recommended(&self, name: &str) -> Vec<String> {
        self.stages()
            .iter()
            .flat_map(|s| s.instructions.iter())
            .filter(|i| !RECOMMENDED.contains(&i.keyword.as_str()))
            .map(|i| {
                format!(
                    "{name} command {} on line {} is not recommended",
                    i.keyword, i.line
                )
            })
            .collect()
    }

    /// Checks a build.Dockerfile: one stage, `ARG base_image` as the only global arg, and
    /// `FROM ${base_image}`. Returns the warnings (instructions upstream does not recommend).
    pub fn validate_build(&self) -> Result<Vec<String>> {
        let name = "build.Dockerfile";
        let stages = self.stages();
        if stages.len() > 1 {
            return Err(self.invalid(format!("{name} is not permitted to use multistage build")));
        }
        let warnings = self.not_recommended(name);
        let args: Vec<&Instruction> = self.global_args().collect();
        let names_base = |i: &Instruction| {
            i.arguments
                .first()
                .is_some_and(|a| a.split('=').next() == Some(BASE_IMAGE_ARG))
        };
        if args.len() != 1 || !names_base(args[0]) {
            return Err(self.invalid("build.Dockerfile did not start with required ARG command"));
        }
        let Some(stage) = stages.first() else {
            return Err(self.invalid(format!("{name} should have at least one stage")));
        };
        if stage.base() != BASE_IMAGE_REF {
            return Err(self
                .invalid("build.Dockerfile did not contain required FROM ${base_image} command"));
        }
        Ok(warnings)
    }

    /// Checks a run.Dockerfile: exactly one stage. Returns what it does to the run image and the
    /// warnings.
    pub fn validate_run(&self) -> Result<(RunEffect, Vec<String>)> {
        let name = "run.Dockerfile";
        let stages = self.stages();
        if stages.len() > 1 {
            return Err(self.invalid(format!("{name} is not permitted to use multistage build")));
        }
        let Some(stage) = stages.first() else {
            return Err(self.invalid(format!("{name} should have at least one stage")));
        };
        let effect = RunEffect {
            new_base: (stage.base() != BASE_IMAGE_REF).then(|| stage.base().to_string()),
            extend: !stage.instructions.is_empty(),
        };
        Ok((effect, self.not_recommended(name)))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

fn command(c: &Command<'_>) -> Vec<String> {
    match c {
        Command::Exec(v) => v.value.iter().map(|s| s.value.to_string()).collect(),
        Command::Shell(s) => vec![s.value.trim().to_string()],
        _ => Vec::new(),
    }
}

fn flags(flags: &[parse_dockerfile::Flag<'_>]) -> Vec<String> {
    flags
        .iter()
        .map(|f| match &f.value {
            Some(v) => format!("--{}={}", f.name.value, v.value),
            None => format!("--{}", f.name.value),
        })
        .collect()
}

fn sources(src: &[Source<'_>]) -> Vec<String> {
    src.iter()
        .map(|s| match s {
            Source::Path(p) => p.value.to_string(),
            Source::HereDoc(h) => h.value.to_string(),
            _ => String::new(),
        })
        .collect()
}

fn string_array<const N: usize>(a: &JsonOrStringArray<'_, N>) -> Vec<String> {
    match a {
        JsonOrStringArray::Json(v) => v.value.iter().map(|s| s.value.to_string()).collect(),
        JsonOrStringArray::String(v) => v.iter().map(|s| s.value.to_string()).collect(),
    }
}

fn convert(i: &Parsed<'_>, text: &str) -> Instruction {
    let one = |s: &parse_dockerfile::UnescapedString<'_>| vec![s.value.trim().to_string()];
    let (keyword, span, arguments) = match i {
        Parsed::Add(x) => {
            let mut a = flags(&x.options);
            a.extend(sources(&x.src));
            a.push(x.dest.value.to_string());
            ("ADD", &x.add.span, a)
        }
        Parsed::Arg(x) => ("ARG", &x.arg.span, one(&x.arguments)),
        Parsed::Cmd(x) => ("CMD", &x.cmd.span, command(&x.arguments)),
        Parsed::Copy(x) => {
            let mut a = flags(&x.options);
            a.extend(sources(&x.src));
            a.push(x.dest.value.to_string());
            ("COPY", &x.copy.span, a)
        }
        Parsed::Entrypoint(x) => ("ENTRYPOINT", &x.entrypoint.span, command(&x.arguments)),
        Parsed::Env(x) => ("ENV", &x.env.span, one(&x.arguments)),
        Parsed::Expose(x) => (
            "EXPOSE",
            &x.expose.span,
            x.arguments.iter().map(|s| s.value.to_string()).collect(),
        ),
        Parsed::From(x) => {
            let mut a = flags(&x.options);
            a.push(x.image.value.to_string());
            if let Some((_, name)) = &x.as_ {
                a.push("AS".into());
                a.push(name.value.to_string());
            }
            ("FROM", &x.from.span, a)
        }
        Parsed::Healthcheck(x) => ("HEALTHCHECK", &x.healthcheck.span, flags(&x.options)),
        Parsed::Label(x) => ("LABEL", &x.label.span, one(&x.arguments)),
        Parsed::Maintainer(x) => ("MAINTAINER", &x.maintainer.span, one(&x.name)),
        Parsed::Onbuild(x) => {
            let inner = convert(&x.instruction, text);
            let mut a = vec![inner.keyword];
            a.extend(inner.arguments);
            ("ONBUILD", &x.onbuild.span, a)
        }
        Parsed::Run(x) => {
            let mut a = flags(&x.options);
            a.extend(command(&x.arguments));
            ("RUN", &x.run.span, a)
        }
        Parsed::Shell(x) => (
            "SHELL",
            &x.shell.span,
            x.arguments.iter().map(|s| s.value.to_string()).collect(),
        ),
        Parsed::Stopsignal(x) => ("STOPSIGNAL", &x.stopsignal.span, one(&x.arguments)),
        Parsed::User(x) => ("USER", &x.user.span, one(&x.arguments)),
        Parsed::Volume(x) => ("VOLUME", &x.volume.span, string_array(&x.arguments)),
        Parsed::Workdir(x) => ("WORKDIR", &x.workdir.span, one(&x.arguments)),
        // The parser may learn new instructions; keep them visible by name.
        #[allow(unreachable_patterns)]
        _ => ("UNKNOWN", &(0..0), Vec::new()),
    };
    Instruction {
        keyword: keyword.to_string(),
        line: line_of(text, span.start),
        arguments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Dockerfile {
        Dockerfile::parse(Path::new("build.Dockerfile"), text).unwrap()
    }

    #[test]
    fn instructions_carry_keyword_line_and_arguments() {
        let d = parse(
            "ARG base_image\nFROM ${base_image}\n\nRUN echo hi \\\n  there\nCOPY --chown=1000 a b /dst\nUSER 1000\n",
        );
        let k: Vec<(&str, usize)> = d
            .instructions
            .iter()
            .map(|i| (i.keyword.as_str(), i.line))
            .collect();
        assert_eq!(
            k,
            [
                ("ARG", 1),
                ("FROM", 2),
                ("RUN", 4),
                ("COPY", 6),
                ("USER", 7)
            ]
        );
        assert_eq!(d.instructions[1].arguments, ["${base_image}"]);
        assert_eq!(
            d.instructions[3].arguments,
            ["--chown=1000", "a", "b", "/dst"]
        );
        assert_eq!(d.stages().len(), 1);
        assert_eq!(d.global_args().count(), 1);
    }

    #[test]
    fn build_dockerfile_rules() {
        let ok = parse("ARG base_image\nFROM ${base_image}\nRUN true\nEXPOSE 80\n");
        assert_eq!(
            ok.validate_build().unwrap(),
            ["build.Dockerfile command EXPOSE on line 4 is not recommended"]
        );
        let cases = [
            (
                "FROM ${base_image}\n",
                "did not start with required ARG command",
            ),
            (
                "ARG other\nFROM ${base_image}\n",
                "did not start with required ARG command",
            ),
            (
                "ARG base_image\nFROM ubuntu\n",
                "did not contain required FROM ${base_image}",
            ),
            (
                "ARG base_image\nFROM ${base_image}\nFROM x\n",
                "not permitted to use multistage",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).validate_build().unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn run_dockerfile_switches_or_extends() {
        let d = Dockerfile::parse(Path::new("run.Dockerfile"), "FROM other/run:2\n").unwrap();
        let (effect, _) = d.validate_run().unwrap();
        assert_eq!(effect.new_base.as_deref(), Some("other/run:2"));
        assert!(!effect.extend);
        let d = parse("ARG base_image\nFROM ${base_image}\nRUN apt-get update\n");
        let (effect, _) = d.validate_run().unwrap();
        assert_eq!(
            effect,
            RunEffect {
                new_base: None,
                extend: true
            }
        );
        assert!(parse("FROM a\nFROM b\n").validate_run().is_err());
        // No stage at all is refused by the parser already.
        assert!(Dockerfile::parse(Path::new("run.Dockerfile"), "ARG x\n").is_err());
    }
}
