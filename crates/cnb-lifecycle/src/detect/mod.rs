//! The detector: tries the groups of order.toml (with composite buildpacks expanded) until one
//! passes, runs each group's `/bin/detect` in parallel, resolves the build plan, and writes
//! group.toml and plan.toml (platform.md "detector", buildpack.md "Phase #1: Detection").

mod resolve;
mod run;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cnb_api::{BUILDPACK, Support, Version};
use cnb_formats::analyzed::Analyzed;
use cnb_formats::descriptor::BuildpackDescriptor;
use cnb_formats::group::{Group, GroupElement};
use cnb_formats::order::Order;
use cnb_formats::plan::Plan;
use cnb_formats::system::System;
use cnb_formats::target::TargetMetadata;
use cnb_formats::{FormatError, read_toml_if_exists};
use cnb_launch::Env;
use cnb_platform::{ExitClass, ExitCode, Inputs, Logger};

pub use resolve::{Passed, Resolved, resolve};
use run::{DetectEnv, Detected, Outcome};

/// Why detection failed.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The detector must not run as root.
    #[error(transparent)]
    Root(cnb_os::OsError),
    /// No group passed (exit 20).
    #[error("no buildpacks participating")]
    NoGroupPassed,
    /// No group passed and some buildpack errored (exit 21).
    #[error("no buildpacks participating: a buildpack failed with an error (see above)")]
    NoGroupPassedWithErrors,
    /// A buildpack's API is not supported (exit 12).
    #[error("buildpack '{buildpack}': buildpack api '{api}' is not supported by this lifecycle (supported: {})", BUILDPACK.supported_list())]
    Api {
        /// The buildpack.
        buildpack: String,
        /// Its API.
        api: String,
    },
    /// An order element that cannot be found.
    #[error("buildpack '{0}' not found in the buildpacks directory")]
    NotFound(String),
    /// Image extensions (not supported yet).
    #[error("image extensions are not supported yet by this lifecycle (order-extensions in {0})")]
    Extensions(String),
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FormatError),
}

impl ExitClass for DetectError {
    fn exit_code(&self) -> ExitCode {
        match self {
            DetectError::Root(_) => ExitCode::Failed,
            DetectError::NoGroupPassed => ExitCode::FailedDetect,
            DetectError::NoGroupPassedWithErrors => ExitCode::FailedDetectWithErrors,
            DetectError::Api { .. } => ExitCode::IncompatibleBuildpackApi,
            _ => ExitCode::DetectError,
        }
    }
}

/// Runs the detector with the process's environment.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), DetectError> {
    cnb_os::refuse_root("detector").map_err(DetectError::Root)?;
    detect(inputs, std::env::vars(), log)
}

/// A buildpack found in the buildpacks dir.
#[derive(Clone)]
struct Module {
    element: GroupElement,
    dir: PathBuf,
    desc: BuildpackDescriptor,
    api: Version,
}

struct Finder {
    root: PathBuf,
    cache: HashMap<String, Module>,
}

impl Finder {
    fn find(&mut self, e: &GroupElement) -> Result<Module, DetectError> {
        let id_dir = self.root.join(e.id.replace('/', "_"));
        let version = if e.version.is_empty() {
            // An order entry without a version: the only version present.
            let versions: Vec<String> = std::fs::read_dir(&id_dir)
                .map(|rd| {
                    rd.filter_map(|d| d.ok())
                        .filter(|d| d.path().is_dir())
                        .filter_map(|d| d.file_name().to_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            match versions.as_slice() {
                [only] => only.clone(),
                _ => return Err(DetectError::NotFound(e.id.clone())),
            }
        } else {
            e.version.clone()
        };
        let key = format!("{}@{version}", e.id);
        if let Some(m) = self.cache.get(&key) {
            return Ok(Module {
                element: GroupElement {
                    optional: e.optional,
                    ..m.element.clone()
                },
                ..m.clone()
            });
        }
        let dir = id_dir.join(&version);
        let path = dir.join("buildpack.toml");
        if !path.is_file() {
            return Err(DetectError::NotFound(key));
        }
        let desc = BuildpackDescriptor::read(&path)?;
        let api: Version = match desc.api.parse() {
            Ok(v) if BUILDPACK.support(v) != Support::Unsupported => v,
            _ => {
                return Err(DetectError::Api {
                    buildpack: key,
                    api: desc.api.clone(),
                });
            }
        };
        let element = GroupElement {
            id: e.id.clone(),
            version,
            api: desc.api.clone(),
            homepage: desc.buildpack.homepage.clone(),
            optional: e.optional,
            extension: false,
        };
        let m = Module {
            element,
            dir,
            desc,
            api,
        };
        self.cache.insert(key, m.clone());
        Ok(m)
    }

    /// Every flat group an order group stands for, composites expanded depth-first; an optional
    /// composite also stands for the group without it.
    fn expand(&mut self, elements: &[GroupElement]) -> Result<Vec<Vec<Module>>, DetectError> {
        let mut flat = Vec::new();
        for (i, e) in elements.iter().enumerate() {
            let m = self.find(e)?;
            if !m.desc.is_composite() {
                flat.push(m);
                continue;
            }
            let rest = &elements[i + 1..];
            let mut out = Vec::new();
            for sub in &m.desc.order {
                let mut candidate: Vec<GroupElement> =
                    flat.iter().map(|m: &Module| m.element.clone()).collect();
                candidate.extend(sub.group.iter().map(|g| GroupElement {
                    optional: g.optional || e.optional,
                    ..g.clone()
                }));
                candidate.extend(rest.iter().cloned());
                out.extend(self.expand(&candidate)?);
            }
            if e.optional {
                let mut candidate: Vec<GroupElement> =
                    flat.iter().map(|m| m.element.clone()).collect();
                candidate.extend(rest.iter().cloned());
                out.extend(self.expand(&candidate)?);
            }
            return Ok(out);
        }
        // Later occurrences of a buildpack already in the group are skipped.
        let mut seen = std::collections::HashSet::new();
        flat.retain(|m| seen.insert(m.element.id.clone()));
        Ok(vec![flat])
    }
}

/// Whether a buildpack's targets allow the run image's (an empty field matches anything).
fn target_matches(desc: &BuildpackDescriptor, run: &TargetMetadata) -> bool {
    if desc.targets.is_empty() {
        return true;
    }
    let eq = |a: &str, b: &str| a.is_empty() || b.is_empty() || a == b;
    desc.targets.iter().any(|t| {
        eq(&t.os, &run.os)
            && eq(&t.arch, &run.arch)
            && eq(&t.arch_variant, &run.arch_variant)
            && (t.distros.is_empty()
                || run.distro.as_ref().is_some_and(|d| {
                    t.distros
                        .iter()
                        .any(|td| eq(&td.name, &d.name) && eq(&td.version, &d.version))
                }))
    })
}

/// Detects with `env` as the lifecycle's own environment.
pub fn detect(
    inputs: &Inputs,
    env: impl IntoIterator<Item = (String, String)>,
    log: &Logger,
) -> Result<(), DetectError> {
    let papi = inputs.platform_api;
    let layers = inputs.layers_dir().to_path_buf();
    let order_path = inputs
        .order_path()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/cnb/order.toml"));
    let order = Order::read(&order_path)?;
    if !order.order_extensions.is_empty() {
        return Err(DetectError::Extensions(order_path.display().to_string()));
    }
    let system: System = match inputs.system_path().filter(|_| papi >= Version::new(0, 15)) {
        Some(p) => read_toml_if_exists(p)?.unwrap_or_default(),
        None => System::default(),
    };
    let analyzed: Option<Analyzed> = match inputs
        .analyzed_path()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| layers.join("analyzed.toml"))
    {
        p if p.is_file() => Some(Analyzed::read(&p)?),
        _ => None,
    };
    let target = crate::target::effective(analyzed.as_ref().and_then(Analyzed::target));
    let check_targets = papi >= Version::new(0, 12);
    let base = Env::for_build(env);
    let app = inputs
        .app_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "/workspace".into());
    let platform = inputs
        .platform_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "/platform".into());
    let scratch = tempfile::Builder::new()
        .prefix("cnb-detect-")
        .tempdir()
        .map_err(|e| FormatError::Write {
            path: std::env::temp_dir(),
            source: e,
        })?;
    let tenv = crate::target::env_vars(&target);
    let ctx = DetectEnv {
        base: &base,
        platform: &platform,
        build_config: inputs.build_config_dir(),
        app: &app,
        target_env: &tenv,
        exec_env: &inputs.exec_env,
        scratch: scratch.path(),
    };
    let mut finder = Finder {
        root: inputs
            .buildpacks_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| "/cnb/buildpacks".into()),
        cache: HashMap::new(),
    };

    // Every top-level element is checked (API, presence) before anything runs, as upstream.
    let mut groups = Vec::new();
    for g in &order.order {
        let mut elements: Vec<GroupElement> = system
            .system
            .pre
            .buildpacks
            .iter()
            .filter(|s| !g.group.iter().any(|e| e.id == s.id))
            .cloned()
            .collect();
        elements.extend(g.group.iter().cloned());
        elements.extend(
            system
                .system
                .post
                .buildpacks
                .iter()
                .filter(|s| !g.group.iter().any(|e| e.id == s.id))
                .cloned(),
        );
        for e in &elements {
            finder.find(e)?;
        }
        groups.push(elements);
    }

    let mut results: HashMap<String, Detected> = HashMap::new();
    let mut errored = false;
    for elements in groups {
        for flat in finder.expand(&elements)? {
            // Detect what has not run yet, in parallel.
            let todo: Vec<(usize, &Module)> = flat
                .iter()
                .enumerate()
                .filter(|(_, m)| !results.contains_key(&m.element.name()))
                .collect();
            let done: Vec<(String, Detected)> = std::thread::scope(|s| {
                let handles: Vec<_> = todo
                    .iter()
                    .map(|(slot, m)| {
                        let ctx = &ctx;
                        let target = &target;
                        s.spawn(move || {
                            let skipped = papi >= Version::new(0, 15)
                                && m.api >= Version::new(0, 12)
                                && !m.desc.buildpack.exec_env.is_empty()
                                && !m.desc.buildpack.exec_env.iter().any(|e| e == "*" || e == ctx.exec_env);
                            let detected = if skipped {
                                Detected { outcome: Outcome::Skipped, output: String::new() }
                            } else if check_targets && !target_matches(&m.desc, target) {
                                Detected {
                                    outcome: Outcome::Error(format!(
                                        "unable to satisfy target os/arch constraints; run image: {}/{}, buildpack targets: {:?}",
                                        target.os, target.arch, m.desc.targets
                                    )),
                                    output: String::new(),
                                }
                            } else {
                                run::detect(&m.desc, &m.dir, m.api, ctx, *slot)
                            };
                            (m.element.name(), detected)
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            results.extend(done);

            let mut passed = Vec::new();
            let mut group_ok = true;
            let mut report = Vec::new();
            for (i, m) in flat.iter().enumerate() {
                let name = m.element.name();
                let Some(d) = results.get(&name) else {
                    continue;
                };
                match &d.outcome {
                    Outcome::Pass(plan) => {
                        report.push(format!("pass: {name}"));
                        passed.push(Passed {
                            index: i,
                            optional: m.element.optional,
                            alternatives: plan.alternatives(),
                        });
                    }
                    Outcome::Skipped => report.push(format!("skip: {name}")),
                    Outcome::Fail => {
                        report.push(format!("fail: {name}"));
                        group_ok &= m.element.optional;
                    }
                    Outcome::Error(reason) => {
                        report.push(format!("err:  {name} ({reason})"));
                        errored = true;
                        group_ok &= m.element.optional;
                    }
                }
            }
            let resolved = if group_ok && !passed.is_empty() {
                resolve(&passed)
            } else {
                None
            };
            let Some(resolved) = resolved else {
                for line in &report {
                    log.debug(line);
                }
                for m in &flat {
                    if let Some(d) = results
                        .get(&m.element.name())
                        .filter(|d| !d.output.is_empty())
                    {
                        log.debug(format!(
                            "======== Output: {} ========\n{}",
                            m.element.name(),
                            d.output.trim_end()
                        ));
                    }
                }
                continue;
            };
            for line in &report {
                log.debug(line);
            }
            let elements: Vec<GroupElement> = flat.iter().map(|m| m.element.clone()).collect();
            let group = Group {
                group: resolved
                    .kept
                    .iter()
                    .map(|i| GroupElement {
                        optional: false,
                        ..elements[*i].clone()
                    })
                    .collect(),
                group_extensions: Vec::new(),
            };
            let plan = Plan {
                entries: resolve::plan_entries(&resolved, &elements),
            };
            group.write(
                &inputs
                    .group_path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| layers.join("group.toml")),
            )?;
            cnb_formats::write_toml(
                &inputs
                    .plan_path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| layers.join("plan.toml")),
                &plan,
            )?;
            for e in &group.group {
                log.info(format!("{} {}", e.id, e.version));
            }
            return Ok(());
        }
    }
    // Nothing passed: show what happened, as upstream does at info level.
    log.info("======== Results ========");
    let mut names: Vec<&String> = results.keys().collect();
    names.sort();
    for name in names {
        let d = &results[name];
        let word = match &d.outcome {
            Outcome::Pass(_) => "pass".to_string(),
            Outcome::Fail => "fail".to_string(),
            Outcome::Skipped => "skip".to_string(),
            Outcome::Error(r) => format!("err ({r})"),
        };
        log.info(format!("{word}: {name}"));
        if !d.output.trim().is_empty() {
            log.info(d.output.trim_end());
        }
    }
    Err(if errored {
        DetectError::NoGroupPassedWithErrors
    } else {
        DetectError::NoGroupPassed
    })
}
