//! The detector: tries the groups of order.toml (system buildpacks added, composites expanded)
//! until one passes, runs each group's `/bin/detect` in parallel, resolves the build plan, and
//! writes group.toml and plan.toml (platform.md "detector", buildpack.md "Phase #1: Detection").
//!
//! Files: [`order`] finds buildpacks and expands composites, [`system`] merges system.toml,
//! [`target`] matches `[[targets]]`, [`run`] runs `/bin/detect`, [`resolve`] decides a group,
//! [`extensions`] puts `[[order-extensions]]` before each group and [`generate`] runs the
//! extensions of the group that passed.

mod extensions;
mod generate;
mod journal;
mod order;
mod resolve;
mod run;
mod system;
mod target;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cnb_api::Version;
use cnb_formats::FormatError;
use cnb_formats::analyzed::Analyzed;
use cnb_formats::group::{Group, GroupElement};
use cnb_formats::order::Order;
use cnb_formats::plan::{Plan, PlanEntry};
use cnb_formats::target::TargetMetadata;
use cnb_launch::Env;
use cnb_platform::{ExitClass, ExitCode, Inputs, Logger};

use journal::Journal;
pub use order::LookupError;
use order::{Module, Store};
pub use resolve::{Candidate, Entry, Rejected, Resolved, Verdict, resolve_group};
use run::{DetectEnv, Detected, Outcome};

/// Why detection failed; each variant knows its exit code.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The detector must not run as root (exit 1).
    #[error(transparent)]
    Root(cnb_os::OsError),
    /// order.toml could not be read (exit 1).
    #[error("failed to initialize detector: reading order: {0}")]
    Order(#[source] FormatError),
    /// system.toml could not be read (exit 1).
    #[error("failed to initialize detector: reading system: {0}")]
    System(#[source] FormatError),
    /// analyzed.toml could not be read (exit 1).
    #[error("failed to initialize detector: reading analyzed: {0}")]
    Analyzed(#[source] FormatError),
    /// A buildpack of a top-level group or an extension, checked before anything runs: exit 12
    /// for its API, else 1.
    #[error("failed to initialize detector: {0}")]
    Verify(#[source] LookupError),
    /// A buildpack met while detecting (inside a composite): exit 12 for its API, else 22.
    #[error(transparent)]
    Lookup(LookupError),
    /// Image extensions below Platform API 0.10 (exit 1, as upstream's default experimental
    /// mode).
    #[error("image extensions need platform api 0.10 or later (platform api is {papi}): {what} in '{}'", .path.display())]
    Extensions {
        /// The Platform API.
        papi: Version,
        /// What named an extension.
        what: String,
        /// Where.
        path: PathBuf,
    },
    /// The group the creator detected has extensions (exit 22), as upstream.
    #[error("detected order contains extensions which is not supported by the creator (order '{}'); run the five phases and the extender instead", .path.display())]
    CreatorExtensions {
        /// The order.
        path: PathBuf,
    },
    /// Image extensions below Platform API 0.13 with `CNB_EXPERIMENTAL_MODE=error` (exit 1).
    #[error(
        "experimental features are disabled by CNB_EXPERIMENTAL_MODE={mode}: image extensions (Dockerfiles) below platform api 0.13"
    )]
    Experimental {
        /// The mode.
        mode: String,
    },
    /// run.toml could not be read (exit 1).
    #[error("failed to initialize generator: reading run: {0}")]
    Run(#[source] FormatError),
    /// An extension's `/bin/generate` failed (exit 91) or its output broke the rules (exit 92).
    #[error(transparent)]
    Generate(#[from] generate::GenerateError),
    /// No group passed (exit 20).
    #[error("no buildpack group passed detection (is the app directory the right one?)")]
    NoGroupPassed,
    /// No group passed and some buildpack errored (exit 21).
    #[error(
        "no buildpack group passed detection, and a buildpack failed with an error (see its output above)"
    )]
    NoGroupPassedWithErrors,
    /// group.toml, plan.toml or a scratch file could not be written (exit 1).
    #[error(transparent)]
    Write(FormatError),
}

impl ExitClass for DetectError {
    fn exit_code(&self) -> ExitCode {
        match self {
            DetectError::Verify(LookupError::Api { .. })
            | DetectError::Lookup(LookupError::Api { .. }) => ExitCode::IncompatibleBuildpackApi,
            DetectError::NoGroupPassed => ExitCode::FailedDetect,
            DetectError::NoGroupPassedWithErrors => ExitCode::FailedDetectWithErrors,
            DetectError::Lookup(_) | DetectError::CreatorExtensions { .. } => ExitCode::DetectError,
            DetectError::Generate(generate::GenerateError::Failed { .. }) => {
                ExitCode::FailedGenerateWithErrors
            }
            DetectError::Generate(generate::GenerateError::Output { .. }) => {
                ExitCode::GenerateError
            }
            DetectError::Root(_)
            | DetectError::Extensions { .. }
            | DetectError::Experimental { .. }
            | DetectError::Run(_)
            | DetectError::Order(_)
            | DetectError::System(_)
            | DetectError::Analyzed(_)
            | DetectError::Verify(_)
            | DetectError::Write(_) => ExitCode::Failed,
        }
    }
}

impl From<LookupError> for DetectError {
    fn from(e: LookupError) -> Self {
        DetectError::Lookup(e)
    }
}

/// Runs the detector with the process's environment, refusing to run as root.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), DetectError> {
    cnb_os::refuse_root("detector").map_err(DetectError::Root)?;
    detect(inputs, inputs.env_pairs(), log)
}

/// Detects with `env` as the lifecycle's own environment (filtered before buildpacks see it).
pub fn detect(
    inputs: &Inputs,
    env: impl IntoIterator<Item = (String, String)>,
    log: &Logger,
) -> Result<(), DetectError> {
    let papi = inputs.platform_api;
    let order_path = inputs.order_path().to_path_buf();
    let (groups, ext_groups) = groups_to_try(inputs, &order_path, log)?;
    let analyzed = read_analyzed_if_exists(inputs.analyzed_path())?;
    let target = crate::target::effective(analyzed.as_ref().and_then(Analyzed::target));
    let mut store = find_every_module(inputs, &groups, &ext_groups, log)?;

    let base = Env::for_build(env);
    let app = inputs.app_dir().to_path_buf();
    let platform = inputs.platform_dir().to_path_buf();
    let scratch = scratch_dir(&inputs.temp_dir)?;
    let target_env = crate::target::env_vars(&target);
    let ctx = DetectEnv {
        base: &base,
        platform: &platform,
        build_config: inputs.build_config_dir(),
        app: &app,
        target_env: &target_env,
        exec_env: &inputs.exec_env,
        scratch: scratch.path(),
    };
    let mut detector = Detector {
        ctx: &ctx,
        papi,
        target: &target,
        results: HashMap::new(),
        journal: Journal::default(),
        runs: 0,
        errored: false,
    };
    let found = first_passing_group(&groups, &ext_groups, &mut store, &mut detector)?;
    let Some((group, plan)) = found else {
        let errored = detector.errored;
        detector.journal.flush(log, true);
        return Err(match errored {
            true => DetectError::NoGroupPassedWithErrors,
            false => DetectError::NoGroupPassed,
        });
    };
    detector.journal.flush(log, false);
    group
        .write(inputs.group_path())
        .map_err(DetectError::Write)?;
    cnb_formats::write_toml(inputs.plan_path(), &plan).map_err(DetectError::Write)?;
    if group.group_extensions.is_empty() {
        return Ok(());
    }
    // The creator cannot apply Dockerfiles. As upstream, an order with extensions is fine as long
    // as none passed detection: extensions are optional.
    if inputs.phase == cnb_platform::Phase::Creator {
        return Err(DetectError::CreatorExtensions { path: order_path });
    }
    generate_for_extensions(inputs, &group, plan, analyzed, &mut store, &ctx, log)
}

/// The elements of one group.
type Elements = Vec<GroupElement>;

/// The groups of order.toml (with system.toml's buildpacks around each) and the groups of its
/// `[[order-extensions]]`.
fn groups_to_try(
    inputs: &Inputs,
    order_path: &Path,
    log: &Logger,
) -> Result<(Vec<Elements>, Vec<Elements>), DetectError> {
    let papi = inputs.platform_api;
    let order = Order::read(order_path).map_err(DetectError::Order)?;
    let ext_groups = extensions::groups(
        &order.order_extensions,
        order_path,
        papi,
        &inputs.experimental_mode,
        log,
    )?;
    let system = system::load(inputs.system_path(), papi, log).map_err(DetectError::System)?;
    let groups = system::merge(&order.order, &system, log);
    Ok((groups, ext_groups))
}

/// analyzed.toml, when there is one.
fn read_analyzed_if_exists(path: &Path) -> Result<Option<Analyzed>, DetectError> {
    match path.is_file() {
        true => Ok(Some(Analyzed::read(path).map_err(DetectError::Analyzed)?)),
        false => Ok(None),
    }
}

/// Every buildpack a top-level group names, and every extension, found and API-checked before
/// anything runs (deprecation warnings logged).
fn find_every_module(
    inputs: &Inputs,
    groups: &[Vec<GroupElement>],
    ext_groups: &[Vec<GroupElement>],
    log: &Logger,
) -> Result<Store, DetectError> {
    let mut store = Store::new(inputs.buildpacks_dir())
        .with_extensions(Some(inputs.extensions_dir()))
        .with_deprecation_mode(inputs.deprecation_mode);
    for e in groups.iter().flatten().chain(ext_groups.iter().flatten()) {
        store.find(e).map_err(DetectError::Verify)?;
    }
    for w in store.warnings.drain(..) {
        log.warn(w);
    }
    Ok(store)
}

/// A private directory for the buildpacks' plan files, removed when dropped.
fn scratch_dir(temp_dir: &Path) -> Result<tempfile::TempDir, DetectError> {
    tempfile::Builder::new()
        .prefix("cnb-detect-")
        .tempdir_in(temp_dir)
        .map_err(|source| {
            DetectError::Write(FormatError::Write {
                path: temp_dir.to_path_buf(),
                source,
            })
        })
}

/// Tries each group in order (each with the extension groups before it) until one passes.
fn first_passing_group(
    groups: &[Vec<GroupElement>],
    ext_groups: &[Vec<GroupElement>],
    store: &mut Store,
    detector: &mut Detector<'_>,
) -> Result<Option<(Group, Plan)>, DetectError> {
    for group in groups {
        for elements in extensions::prepend(ext_groups, group) {
            let found = store.expand(&elements, &mut |flat| detector.try_group(&flat))?;
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(None)
}

/// As upstream, the detector generates in-process once a group with extensions passed, and
/// rewrites plan.toml and analyzed.toml with the result.
fn generate_for_extensions(
    inputs: &Inputs,
    group: &Group,
    plan: Plan,
    analyzed: Option<Analyzed>,
    store: &mut Store,
    shared: &DetectEnv<'_>,
    log: &Logger,
) -> Result<(), DetectError> {
    let papi = inputs.platform_api;
    let modules = group
        .group_extensions
        .iter()
        .map(|e| {
            store.find(&GroupElement {
                extension: true,
                ..e.clone()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let run_path = inputs.run_path();
    let run_metadata = match papi >= Version::new(0, 12) {
        true => cnb_formats::read_toml_if_exists(run_path).map_err(DetectError::Run)?,
        false => None,
    };
    let generated = inputs.generated_dir().to_path_buf();
    let gen_ctx = generate::GenerateEnv {
        base: shared.base,
        platform: shared.platform,
        build_config: shared.build_config,
        app: shared.app,
        target_env: shared.target_env,
        generated: &generated,
        scratch: shared.scratch,
        papi,
        run_metadata: run_metadata.as_ref(),
    };
    let (plan, analyzed) =
        generate::generate(&modules, plan, analyzed.unwrap_or_default(), &gen_ctx, log)?;
    analyzed
        .write(inputs.analyzed_path())
        .map_err(DetectError::Write)?;
    cnb_formats::write_toml(inputs.plan_path(), &plan).map_err(DetectError::Write)?;
    Ok(())
}

/// The state carried from one group to the next.
struct Detector<'a> {
    ctx: &'a DetectEnv<'a>,
    papi: Version,
    target: &'a TargetMetadata,
    /// Detect results by `id@version`, reused by later groups.
    results: HashMap<String, Detected>,
    journal: Journal,
    /// How many `/bin/detect` ran so far (each gets its own plan file).
    runs: usize,
    /// Whether some group was rejected because of a buildpack error.
    errored: bool,
}

impl Detector<'_> {
    /// Detects one flat group; `Some` when it passes.
    fn try_group(&mut self, flat: &[Module]) -> Result<Option<(Group, Plan)>, DetectError> {
        let (members, todo) = self.members_and_todo(flat);
        self.detect_all(&todo);
        let candidates = self.candidates(&members);
        let mut trace = Vec::new();
        let resolved = resolve_group(&candidates, &mut trace);
        for line in trace {
            self.journal.debug(line);
        }
        let resolved = match resolved {
            Ok(r) => r,
            Err(rejected) => {
                self.errored |= rejected == Rejected::Errored;
                return Ok(None);
            }
        };
        Ok(Some(self.group_and_plan(resolved, &members)))
    }

    /// The modules of `flat` this execution environment takes, and those of them that still
    /// have to run `/bin/detect`. A required buildpack whose targets exclude the run image gets
    /// an error result without running; an optional one still runs, as upstream.
    fn members_and_todo<'m>(&mut self, flat: &'m [Module]) -> (Vec<&'m Module>, Vec<&'m Module>) {
        let mut members = Vec::new();
        let mut todo = Vec::new();
        for m in flat {
            if run::excluded_by_exec_env(m, self.ctx.exec_env, self.papi) {
                self.journal.debug(format!(
                    "skip: {} (exec-env {:?} does not include '{}')",
                    m.name(),
                    m.desc.buildpack.exec_env,
                    self.ctx.exec_env
                ));
                continue;
            }
            if self.papi >= Version::new(0, 12)
                && !m.element.optional
                && !target::matches(&m.desc.targets, self.target)
            {
                let reason = target::mismatch(&m.desc.targets, self.target);
                self.results.insert(
                    m.key(),
                    Detected {
                        outcome: Outcome::Error(reason),
                        output: String::new(),
                    },
                );
            } else if !self.results.contains_key(&m.key()) {
                todo.push(m);
            }
            members.push(m);
        }
        (members, todo)
    }

    /// Each member's detect verdict, its output and errors journaled (at info when it erred).
    fn candidates(&mut self, members: &[&Module]) -> Vec<Candidate> {
        let mut candidates = Vec::new();
        for m in members {
            let Some(d) = self.results.get(&m.key()) else {
                continue;
            };
            let loud = matches!(d.outcome, Outcome::Error(_));
            let mut say = |line: String| match loud {
                true => self.journal.info(line),
                false => self.journal.debug(line),
            };
            if !d.output.trim().is_empty() {
                say(format!("======== Output: {} ========", m.name()));
                say(d.output.trim_end().to_string());
            }
            if let Outcome::Error(reason) = &d.outcome {
                say(format!("======== Error: {} ========", m.name()));
                say(reason.clone());
            }
            candidates.push(Candidate {
                name: m.name(),
                optional: m.element.optional,
                extension: m.element.extension,
                verdict: match &d.outcome {
                    Outcome::Pass(plan) => Verdict::Pass(plan.alternatives()),
                    Outcome::Fail => Verdict::Fail,
                    Outcome::Error(_) => Verdict::Error,
                },
            });
        }
        candidates
    }

    /// group.toml and plan.toml of a group that passed (journaling the group kept): every
    /// element required from now on.
    fn group_and_plan(&mut self, resolved: Resolved, members: &[&Module]) -> (Group, Plan) {
        let element = |i: &usize| GroupElement {
            optional: false,
            ..members[*i].element.clone()
        };
        let kept: Vec<GroupElement> = resolved.kept.iter().map(element).collect();
        let width = kept.iter().map(|e| e.id.len()).max().unwrap_or(0);
        for e in &kept {
            self.journal.info(format!("{:<width$} {}", e.id, e.version));
        }
        let entries = resolved
            .entries
            .into_iter()
            .map(|e| PlanEntry {
                providers: e.providers.iter().map(element).collect(),
                requires: e.requires,
            })
            .collect();
        let (group_extensions, group) = kept.into_iter().partition(|e| e.extension);
        (
            Group {
                group,
                group_extensions,
            },
            Plan { entries },
        )
    }

    /// Runs the `/bin/detect` of `todo` in parallel, one thread each, and records the results.
    fn detect_all(&mut self, todo: &[&Module]) {
        let ctx = self.ctx;
        let first = self.runs;
        self.runs += todo.len();
        let done: Vec<(String, Detected)> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .iter()
                .enumerate()
                .map(|(i, m)| s.spawn(move || (m.key(), run::detect(m, ctx, first + i))))
                .collect();
            handles
                .into_iter()
                .zip(todo)
                .map(|(h, m)| {
                    h.join().unwrap_or_else(|_| {
                        (
                            m.key(),
                            Detected {
                                outcome: Outcome::Error("bin/detect runner panicked".into()),
                                output: String::new(),
                            },
                        )
                    })
                })
                .collect()
        });
        self.results.extend(done);
    }
}
