//! The creator: analyze, detect, build and export in one process, as a platform with a trusted
//! builder runs it (platform.md "creator"). Each step's error keeps its own exit code.
//!
//! The restore step restores from the cache (`-skip-restore`: `store.toml` only), as upstream from
//! Platform API 0.10.

use cnb_platform::{ExitClass, ExitCode, Inputs, Logger};

use crate::analyze::AnalyzeError;
use crate::build::BuildError;
use crate::detect::DetectError;
use crate::export::ExportError;
use crate::stores::{StoreError, open_store};

/// A failed step.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Setting up failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Ownership or privileges.
    #[error(transparent)]
    Os(#[from] cnb_os::OsError),
    /// analyze (exit 32, ...).
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    /// detect (exit 20-22, ...).
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// restore (exit 42, ...).
    #[error(transparent)]
    Restore(#[from] crate::restore::RestoreError),
    /// build (exit 51/52, ...).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// export (exit 62, ...).
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A file could not be written.
    #[error(transparent)]
    File(#[from] cnb_formats::FormatError),
}

impl ExitClass for CreateError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CreateError::Store(StoreError::LayoutWithoutDir | StoreError::DaemonAndLayout) => {
                ExitCode::InvalidArgs
            }
            CreateError::Store(_) | CreateError::Os(_) | CreateError::File(_) => ExitCode::Failed,
            CreateError::Analyze(e) => e.exit_code(),
            CreateError::Detect(e) => e.exit_code(),
            CreateError::Restore(e) => e.exit_code(),
            CreateError::Build(e) => e.exit_code(),
            CreateError::Export(e) => e.exit_code(),
        }
    }
}

/// Points `HOME` and `USER` at the build user, as upstream does after dropping privileges: the
/// creator usually starts as root, and buildpacks (which get `HOME`) must not write into root's
/// home. Upstream fails when the uid is not in the user database; a build user without an entry
/// is common in hand-made builders, so we warn and keep the environment. `USER` is the login
/// name (upstream sets the GECOS name, often empty); buildpacks do not see it, as upstream.
fn set_user_env(env: &mut Vec<(String, String)>, uid: u32, log: &Logger) {
    // Upstream has no user database on Windows and leaves the environment alone there.
    if std::env::consts::FAMILY != "unix" {
        return;
    }
    let Some((home, name)) = cnb_os::user_home(uid) else {
        log.warn(format!(
            "uid {uid} is not in the user database: keeping HOME and USER as they are"
        ));
        return;
    };
    env.retain(|(k, _)| k != "HOME" && k != "USER");
    env.push(("HOME".into(), home.to_string_lossy().into_owned()));
    env.push(("USER".into(), name));
}

/// Runs the creator with the process's environment.
pub fn run(inputs: &Inputs, log: &Logger) -> Result<(), CreateError> {
    let index = crate::export::index::check(inputs, log)?;
    let store = open_store(inputs, log)?;
    let cache_store = crate::stores::open_cache_store(inputs)?;
    let separate_cache_store = cache_store.is_some();
    let cache_store = cache_store.as_deref().unwrap_or(store.as_ref());
    use crate::privileges::{Volume, hand_over, volumes};
    crate::export::create_launch_cache_dir(inputs)?;
    let owned = [
        Volume::Layers,
        Volume::CacheDir,
        Volume::LaunchCache,
        Volume::Layout,
    ];
    hand_over(inputs, &volumes(inputs, &owned))?;
    let mut env = inputs.env_pairs();
    set_user_env(&mut env, inputs.uid(), log);

    log.info("===> ANALYZING");
    let analyzed = crate::analyze::analyze(inputs, store.as_ref(), cache_store, log)?;
    analyzed.write(inputs.analyzed_path())?;
    log.info("===> DETECTING");
    crate::detect::detect(inputs, env.clone(), log)?;
    log.info("===> RESTORING");
    crate::restore::restore(inputs, Some(cache_store), log)?;
    log.info("===> BUILDING");
    crate::build::build(inputs, env, log)?;
    log.info("===> EXPORTING");
    let mut memo = crate::export::LayerMemo::default();
    let report = crate::export::export(inputs, store.as_ref(), index.as_deref(), &mut memo, log)?;
    cnb_formats::write_toml(inputs.report_path(), &report)?;
    if separate_cache_store {
        // The app image's blobs are in another store: only the diffIDs carry over.
        memo.blobs_in = None;
    }
    crate::export::export_cache(inputs, cache_store, &memo, log);
    Ok(())
}
