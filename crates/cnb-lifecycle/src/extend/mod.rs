//! The extender (Platform API 0.10+, experimental below 0.13): applies the Dockerfiles image
//! extensions generated to the image it runs in, as root, without kaniko. `-kind build` then
//! drops to the build user and builds in the same process with the extended environment;
//! `-kind run` snapshots each Dockerfile's changes into a layer and saves the extended run
//! image as an OCI layout in `<extended>/run/` for the exporter.

mod apply;
mod run_image;
mod snapshot;
mod words;

use std::path::{Path, PathBuf};

use cnb_api::Version;
use cnb_formats::analyzed::Analyzed;
use cnb_formats::dockerfile::{BASE_IMAGE_ARG, Dockerfile, Instruction};
use cnb_formats::extend_config::ExtendConfig;
use cnb_formats::group::Group;
use cnb_formats::labels::REBASABLE;
use cnb_formats::{FormatError, read_toml_if_exists};
use cnb_image::{Image, TargetRequest, TargetSource};
use cnb_platform::{ExitClass, ExitCode, Inputs, Key, Logger};

use apply::{Job, State};
use run_image::NewLayer;

/// Set only by tests: the directory that stands for `/` (the image's file system).
pub const ROOT_ENV: &str = "CNB_EXTENDER_TEST_ROOT";

/// Why extending failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    /// Below Platform API 0.10 there is no extender.
    #[error("the extender needs platform api 0.10 or newer (got {0})")]
    PlatformApi(Version),
    /// Dockerfiles are experimental below Platform API 0.13.
    #[error(
        "experimental feature 'Dockerfiles' is disabled: set CNB_EXPERIMENTAL_MODE=warn to extend images"
    )]
    Experimental,
    /// `-kind` is neither build nor run.
    #[error("invalid -kind '{0}': expected build or run")]
    Kind(String),
    /// The extender changes the image's files and users: only root can.
    #[error("the extender must run as root")]
    NotRoot,
    /// group.toml or analyzed.toml missing or unreadable.
    #[error("failed to read {what}: {source}")]
    Input {
        /// Which file.
        what: &'static str,
        /// Why.
        #[source]
        source: FormatError,
    },
    /// A Dockerfile or its extend-config.toml that cannot be used.
    #[error("extension '{extension}': {source}")]
    Dockerfile {
        /// The extension.
        extension: String,
        /// Why.
        #[source]
        source: FormatError,
    },
    /// An instruction failed.
    #[error("extension '{extension}': {}:{line}: {message}", path.display())]
    Instruction {
        /// The extension.
        extension: String,
        /// Its Dockerfile.
        path: PathBuf,
        /// The instruction's line.
        line: usize,
        /// What went wrong.
        message: String,
    },
    /// The run image could not be read.
    #[error("run image '{reference}': {reason}")]
    RunImage {
        /// Its reference in analyzed.toml.
        reference: String,
        /// Why.
        reason: String,
    },
    /// A run image must not end as root.
    #[error(
        "the final user id is 0 (root): add another extension that resets the user to non-root"
    )]
    RootRunUser,
    /// The snapshot or the extended image could not be written.
    #[error("write '{}': {reason}", path.display())]
    Output {
        /// Where.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Dropping to the build user failed.
    #[error(transparent)]
    Os(#[from] cnb_os::OsError),
    /// The build after extending failed.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
}

impl ExitClass for ExtendError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ExtendError::PlatformApi(_) => ExitCode::IncompatiblePlatformApi,
            ExtendError::Kind(_) => ExitCode::InvalidArgs,
            ExtendError::Experimental
            | ExtendError::NotRoot
            | ExtendError::Input { .. }
            | ExtendError::Os(_) => ExitCode::Failed,
            ExtendError::Build(e) => e.exit_code(),
            _ => ExitCode::ExtendError,
        }
    }
}

/// Runs the extender in the process's file system and environment.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), ExtendError> {
    let root = inputs
        .env
        .get(ROOT_ENV)
        .map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let mut env = inputs.env_pairs();
    env.retain(|(k, _)| k != ROOT_ENV);
    extend(inputs, &root, env, log)
}

/// One Dockerfile to apply.
struct Found {
    extension: String,
    dockerfile: Dockerfile,
    context: PathBuf,
    args: Vec<(String, String)>,
}

/// Extends the image whose file system is `root`, `env` being the process's environment.
pub fn extend(
    inputs: &Inputs,
    root: &Path,
    env: Vec<(String, String)>,
    log: &Logger,
) -> Result<(), ExtendError> {
    let kind = check_can_extend(inputs, log)?;
    let (group, analyzed) = read_inputs(inputs)?;
    let generated = inputs.generated_dir().to_path_buf();
    let extended = inputs.extended_dir().to_path_buf();
    let found = dockerfiles(
        &group,
        &kind,
        &generated,
        inputs.app_dir(),
        inputs.platform_api,
    )?;
    let (uid, gid) = (inputs.uid(), inputs.gid());

    let base = if kind == "run" {
        Some(open_run_image(inputs, root, &analyzed)?)
    } else {
        None
    };
    let base_ref = match kind.as_str() {
        "run" => analyzed.run_image.as_ref().map(|r| r.reference.clone()),
        _ => analyzed.build_image.as_ref().map(|b| b.reference.clone()),
    }
    .unwrap_or_default();
    let mut state = match &base {
        Some(img) => state_of(img),
        // We run in the build image: its config is the environment we were started with.
        None => State {
            env,
            user: format!("{uid}:{gid}"),
            workdir: "/".into(),
            shell: Vec::new(),
            labels: Default::default(),
        },
    };
    let mut layers_of_run = (kind == "run").then(|| Snapshots::of_volumes(inputs, root));
    let orig_user = state.user.clone();
    let rebasable = apply_all(
        &found,
        &base_ref,
        &mut state,
        layers_of_run.as_mut(),
        root,
        log,
    )?;
    if state.user != orig_user {
        log.warn(format!(
            "The original user ID was {orig_user} but the final extension left the user ID set to {}.",
            state.user
        ));
    }
    if kind == "run" {
        if is_root_user(&state.user) {
            return Err(ExtendError::RootRunUser);
        }
        let snaps = layers_of_run.unwrap_or_else(|| Snapshots::none(root));
        if let Some(base) = &base {
            let rebasable = (!found.is_empty()).then_some(rebasable);
            let dir = run_image::save(base, &state, rebasable, &snaps.layers, &extended)?;
            log.debug(format!("Saved the extended run image to {}", dir.display()));
        }
        let _ = std::fs::remove_dir_all(&snaps.scratch);
        return Ok(());
    }
    build_as_build_user(inputs, state.env, log)
}

/// Checks that the extender may run here, returning the `-kind` (build or run): Platform API
/// 0.10+, the experimental mode below 0.13, a known kind, and root.
fn check_can_extend(inputs: &Inputs, log: &Logger) -> Result<String, ExtendError> {
    let papi = inputs.platform_api;
    if papi < Version::new(0, 10) {
        return Err(ExtendError::PlatformApi(papi));
    }
    if papi < Version::new(0, 13) {
        match inputs.experimental_mode.as_str() {
            "warn" => log.warn("using experimental feature: Dockerfiles"),
            "quiet" | "silent" => {}
            _ => return Err(ExtendError::Experimental),
        }
    }
    let kind = inputs
        .string(Key::ExtendKind)
        .unwrap_or("build")
        .to_string();
    if kind != "build" && kind != "run" {
        return Err(ExtendError::Kind(kind));
    }
    if !cnb_os::is_root() {
        return Err(ExtendError::NotRoot);
    }
    Ok(kind)
}

/// group.toml and analyzed.toml.
fn read_inputs(inputs: &Inputs) -> Result<(Group, Analyzed), ExtendError> {
    let group = Group::read(inputs.group_path()).map_err(|source| ExtendError::Input {
        what: "group",
        source,
    })?;
    let analyzed = Analyzed::read(inputs.analyzed_path()).map_err(|source| ExtendError::Input {
        what: "analyzed",
        source,
    })?;
    Ok((group, analyzed))
}

/// Applies each Dockerfile in turn to `state` (and, for `-kind run`, snapshots its changes),
/// returning whether every extension left the image rebasable.
fn apply_all(
    found: &[Found],
    base_ref: &str,
    state: &mut State,
    mut layers_of_run: Option<&mut Snapshots>,
    root: &Path,
    log: &Logger,
) -> Result<bool, ExtendError> {
    let mut rebasable = true;
    for f in found {
        log.info(format!(
            "Applying {} for extension '{}'",
            f.dockerfile.path.display(),
            f.extension
        ));
        let args = build_args(base_ref, state, f);
        let job = Job {
            extension: &f.extension,
            dockerfile: &f.dockerfile,
            context: &f.context,
            args: &args,
            root,
        };
        let prev_user = state.user.clone();
        match layers_of_run.as_deref_mut() {
            Some(snaps) => {
                snaps.start()?;
                apply::apply(&job, state, &mut |ins| snaps.after(f, ins))?;
            }
            None => apply::apply(&job, state, &mut |_| Ok(()))?,
        }
        rebasable = rebasable && state.labels.get(REBASABLE).is_some_and(|v| v == "true");
        if is_root_user(&state.user) {
            log.warn(format!(
                "Extension from {} changed the user ID from {prev_user} to {}; this must not be the final user ID (a following extension must reset the user).",
                f.dockerfile.path.display(),
                state.user
            ));
        }
    }
    Ok(rebasable)
}

/// `-kind build`: as upstream, the build user gets the layers volume, then the build runs as
/// that user in the extended environment.
fn build_as_build_user(
    inputs: &Inputs,
    mut build_env: Vec<(String, String)>,
    log: &Logger,
) -> Result<(), ExtendError> {
    let (uid, gid) = (inputs.uid(), inputs.gid());
    cnb_os::ensure_owner(uid, gid, &[inputs.layers_dir()])?;
    cnb_os::drop_privileges(uid, gid)?;
    if let Some((home, name)) = cnb_os::user_home(uid) {
        build_env.retain(|(k, _)| k != "HOME" && k != "USER");
        build_env.push(("HOME".into(), home.to_string_lossy().into_owned()));
        build_env.push(("USER".into(), name));
    }
    crate::build::build(inputs, build_env, log)?;
    Ok(())
}

fn is_root_user(user: &str) -> bool {
    let u = user.split(':').next().unwrap_or("");
    u == "0" || u == "root"
}

/// A fresh id per Dockerfile, so a `RUN` that uses `$build_id` is never cached (upstream uses a
/// UUID; time and pid are unique enough here).
fn build_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{t:x}-{:x}", std::process::id())
}

/// The build arguments offered to one Dockerfile, as upstream: `base_image`, a fresh `build_id`,
/// the current `user_id`/`group_id`, then extend-config.toml's.
fn build_args(base_ref: &str, state: &State, f: &Found) -> Vec<(String, String)> {
    let (u, g) = state
        .user
        .split_once(':')
        .unwrap_or((state.user.as_str(), ""));
    let mut args = vec![
        (BASE_IMAGE_ARG.to_string(), base_ref.to_string()),
        ("build_id".into(), build_id()),
        ("user_id".into(), u.to_string()),
        ("group_id".into(), g.to_string()),
    ];
    args.extend(f.args.iter().cloned());
    args
}

/// `-kind run`: like kaniko, one layer per instruction that changed files (`RUN`, `COPY`,
/// `ADD`, `WORKDIR`), found by walking the file system before and after it.
struct Snapshots<'a> {
    root: &'a Path,
    ignore: snapshot::Ignore,
    /// Where the layers wait until the image is saved.
    scratch: PathBuf,
    before: Option<snapshot::Walk>,
    layers: Vec<NewLayer>,
}

impl<'a> Snapshots<'a> {
    /// Snapshots of `root` that leave out the phase's volumes (and what is mounted).
    fn of_volumes(inputs: &Inputs, root: &'a Path) -> Self {
        let extended = inputs.extended_dir();
        let volumes = [
            inputs.layers_dir().to_path_buf(),
            inputs.app_dir().to_path_buf(),
            inputs.platform_dir().to_path_buf(),
            extended.to_path_buf(),
            inputs.generated_dir().to_path_buf(),
        ];
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        Snapshots {
            root,
            ignore: snapshot::Ignore::new(root, &volumes, &mountinfo),
            scratch: extended.join(".layers"),
            before: None,
            layers: Vec::new(),
        }
    }

    fn none(root: &'a Path) -> Self {
        Snapshots {
            root,
            ignore: snapshot::Ignore::new(root, &[], ""),
            scratch: PathBuf::new(),
            before: None,
            layers: Vec::new(),
        }
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> ExtendError {
        ExtendError::Output {
            path: self.root.to_path_buf(),
            reason: format!("{what}: {e}"),
        }
    }

    /// The state before a Dockerfile's first instruction.
    fn start(&mut self) -> Result<(), ExtendError> {
        let w = snapshot::walk(self.root, &self.ignore).map_err(|e| self.fail("walk", e))?;
        self.before = Some(w);
        Ok(())
    }

    /// After `ins` of `f`: a layer of what it changed, if anything, created by its text as
    /// kaniko records it (`RUN apt-get update`, `COPY run-file /`).
    fn after(&mut self, f: &Found, ins: &Instruction) -> Result<(), ExtendError> {
        let after = snapshot::walk(self.root, &self.ignore).map_err(|e| self.fail("walk", e))?;
        let d = snapshot::diff(self.before.as_ref().unwrap_or(&after), &after);
        if !d.is_empty() {
            let n = self.layers.len();
            std::fs::create_dir_all(&self.scratch).map_err(|e| self.fail("create", e))?;
            let file = self.scratch.join(format!("layer-{n}.tgz"));
            let w = std::fs::File::create(&file).map_err(|e| self.fail("create", e))?;
            let (_, digests) = snapshot::write_layer(self.root, &after, &d, w)
                .map_err(|e| self.fail("write layer", e))?;
            let parse = |s: &str| {
                s.parse::<cnb_image::Digest>()
                    .map_err(|e| self.fail("layer digest", e))
            };
            self.layers.push(NewLayer {
                diff_id: parse(&digests.diff_id)?,
                digest: parse(&digests.digest)?,
                size: digests.size,
                file,
                created_by: format!("{} {}", ins.keyword, ins.arguments.join(" ")),
                extension: f.extension.clone(),
            });
        }
        self.before = Some(after);
        Ok(())
    }
}

/// The Dockerfiles of `kind`, in group order, where the detector placed them for `papi`, with
/// their build context and extend-config.toml arguments.
fn dockerfiles(
    group: &Group,
    kind: &str,
    generated: &Path,
    app: &Path,
    papi: Version,
) -> Result<Vec<Found>, ExtendError> {
    let mut out = Vec::new();
    for ext in &group.group_extensions {
        let id = ext.dir_name();
        let bad = |source| ExtendError::Dockerfile {
            extension: ext.id.clone(),
            source,
        };
        let (path, config, context) = if papi >= Version::new(0, 13) {
            let dir = generated.join(&id);
            // A kind-specific context wins over the shared one; the app dir is the fallback.
            let context = [dir.join(format!("context.{kind}")), dir.join("context")]
                .into_iter()
                .find(|d| d.is_dir())
                .unwrap_or_else(|| app.to_path_buf());
            (
                dir.join(format!("{kind}.Dockerfile")),
                dir.join("extend-config.toml"),
                context,
            )
        } else {
            let dir = generated.join(kind).join(&id);
            (
                dir.join("Dockerfile"),
                dir.join("extend-config.toml"),
                app.to_path_buf(),
            )
        };
        if !path.is_file() {
            continue;
        }
        let dockerfile = Dockerfile::read(&path).map_err(bad)?;
        match kind {
            "run" => dockerfile.validate_run().map(|_| ()).map_err(bad)?,
            _ => dockerfile.validate_build().map(|_| ()).map_err(bad)?,
        }
        let config: ExtendConfig = read_toml_if_exists(&config)
            .map_err(bad)?
            .unwrap_or_default();
        let args = match kind {
            "run" => config.run.args,
            _ => config.build.args,
        };
        out.push(Found {
            extension: ext.id.clone(),
            dockerfile,
            context,
            args: args.into_iter().map(|a| (a.name, a.value)).collect(),
        });
    }
    Ok(out)
}

/// The run image analyzed.toml records: the restorer's copy in the kaniko dir ([`crate::kaniko`]) when
/// there is one (pack gives the extender no registry credentials), else its registry with the
/// process's credentials. Only the manifest and config are read, never the base layers.
fn open_run_image(inputs: &Inputs, root: &Path, analyzed: &Analyzed) -> Result<Image, ExtendError> {
    let Some(run) = &analyzed.run_image else {
        return Err(ExtendError::RunImage {
            reference: String::new(),
            reason: "analyzed.toml has no run image".into(),
        });
    };
    let fail = |reason: String| ExtendError::RunImage {
        reference: run.reference.clone(),
        reason,
    };
    let request = run.target.as_ref().map_or_else(
        || TargetRequest::or_host(None, TargetSource::Host),
        crate::target::from_recorded,
    );
    if let Some((_, digest)) = run.reference.rsplit_once('@') {
        let dir = crate::kaniko::base_dir(&apply::in_root(root, crate::kaniko::KANIKO_DIR), digest);
        let base = dir.parent().map_or_else(|| dir.clone(), Path::to_path_buf);
        if dir.join("index.json").is_file() {
            let name = format!("{}@{digest}", dir.display());
            return cnb_image::open(&cnb_image::LayoutStore::new(&base), &name, &request)
                .map_err(|e| fail(e.to_string()))?
                .required(&name)
                .map_err(|e| fail(e.to_string()));
        }
    }
    let store = crate::stores::registry_store(inputs).map_err(|e| fail(e.to_string()))?;
    cnb_image::open(store.as_ref(), &run.reference, &request)
        .map_err(|e| fail(e.to_string()))?
        .required(&run.reference)
        .map_err(|e| fail(e.to_string()))
}

fn state_of(img: &Image) -> State {
    let c = &img.config.config;
    State {
        env: c
            .env
            .iter()
            .flatten()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect(),
        user: c.user.clone().unwrap_or_default(),
        workdir: c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
        shell: Vec::new(),
        labels: c.labels.clone().unwrap_or_default(),
    }
}
