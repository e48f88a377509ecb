//! The input table: every flag, its environment variable and default, and in which phases and
//! Platform API versions it exists (spec-inventory §2.0, "Flag availability per phase").

use cnb_api::Version;

use crate::Phase;

/// Names every input a phase can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Key {
    Analyzed,
    App,
    Arch,
    ArchVariant,
    BuildConfig,
    BuildImage,
    Buildpacks,
    CacheDir,
    CacheImage,
    Daemon,
    Extended,
    Extensions,
    Force,
    Generated,
    Gid,
    Group,
    Image,
    Index,
    InsecureRegistry,
    KanikoCacheTtl,
    ExtendKind,
    LaunchCache,
    Launcher,
    LauncherSbom,
    Layers,
    Layout,
    LayoutDir,
    LogLevel,
    NoColor,
    Order,
    Os,
    Parallel,
    Plan,
    Platform,
    PreviousImage,
    ProcessType,
    ProjectMetadata,
    Report,
    Run,
    RunImage,
    SkipLayers,
    SkipRestore,
    Stack,
    System,
    Tag,
    Uid,
}

/// The shape of an input's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file or directory path (made absolute after parsing).
    Path,
    /// A string (an image reference, a name, a level).
    Str,
    /// A boolean flag: `-x`, `-x=true`, `-x=false`.
    Bool,
    /// A non-negative integer.
    Int,
    /// A repeatable flag whose values append to the comma-separated environment value.
    List,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct InputDef {
    /// Which input.
    pub key: Key,
    /// The flag without its dash.
    pub flag: &'static str,
    /// The environment variable, when there is one.
    pub env: Option<&'static str>,
    /// The default; may contain the `<layers>` placeholder. Empty means none.
    pub default: &'static str,
    /// The value's shape.
    pub kind: Kind,
    /// One line for usage text.
    pub help: &'static str,
}

const fn def(
    key: Key,
    flag: &'static str,
    env: Option<&'static str>,
    default: &'static str,
    kind: Kind,
    help: &'static str,
) -> InputDef {
    InputDef {
        key,
        flag,
        env,
        default,
        kind,
        help,
    }
}

use Kind::{Bool, Int, List, Path, Str};

/// Every input of every phase.
pub const INPUTS: &[InputDef] = &[
    def(
        Key::Analyzed,
        "analyzed",
        Some("CNB_ANALYZED_PATH"),
        "<layers>/analyzed.toml",
        Path,
        "path to analyzed.toml",
    ),
    def(
        Key::App,
        "app",
        Some("CNB_APP_DIR"),
        "/workspace",
        Path,
        "path to the application directory",
    ),
    def(
        Key::Arch,
        "arch",
        Some("CNB_TARGET_ARCH"),
        "",
        Str,
        "target architecture (overrides the run image's)",
    ),
    def(
        Key::ArchVariant,
        "arch-variant",
        Some("CNB_TARGET_ARCH_VARIANT"),
        "",
        Str,
        "target architecture variant",
    ),
    def(
        Key::BuildConfig,
        "build-config",
        Some("CNB_BUILD_CONFIG_DIR"),
        "/cnb/build-config",
        Path,
        "path to the build config directory",
    ),
    def(
        Key::BuildImage,
        "build-image",
        Some("CNB_BUILD_IMAGE"),
        "",
        Str,
        "reference to the build image",
    ),
    def(
        Key::Buildpacks,
        "buildpacks",
        Some("CNB_BUILDPACKS_DIR"),
        "/cnb/buildpacks",
        Path,
        "path to the buildpacks directory",
    ),
    def(
        Key::CacheDir,
        "cache-dir",
        Some("CNB_CACHE_DIR"),
        "",
        Path,
        "path to the cache directory",
    ),
    def(
        Key::CacheImage,
        "cache-image",
        Some("CNB_CACHE_IMAGE"),
        "",
        Str,
        "reference to the cache image",
    ),
    def(
        Key::Daemon,
        "daemon",
        Some("CNB_USE_DAEMON"),
        "",
        Bool,
        "use the docker daemon",
    ),
    def(
        Key::Extended,
        "extended",
        Some("CNB_EXTENDED_DIR"),
        "<layers>/extended",
        Path,
        "path to the extended directory",
    ),
    def(
        Key::Extensions,
        "extensions",
        Some("CNB_EXTENSIONS_DIR"),
        "/cnb/extensions",
        Path,
        "path to the extensions directory",
    ),
    def(
        Key::Force,
        "force",
        Some("CNB_FORCE_REBASE"),
        "",
        Bool,
        "rebase even if the new run image does not match",
    ),
    def(
        Key::Generated,
        "generated",
        Some("CNB_GENERATED_DIR"),
        "<layers>/generated",
        Path,
        "path to the generated directory",
    ),
    def(
        Key::Gid,
        "gid",
        Some("CNB_GROUP_ID"),
        "0",
        Int,
        "group id of the build user",
    ),
    def(
        Key::Group,
        "group",
        Some("CNB_GROUP_PATH"),
        "<layers>/group.toml",
        Path,
        "path to group.toml",
    ),
    def(
        Key::Image,
        "image",
        None,
        "",
        Str,
        "reference to the run image (deprecated: use -run-image)",
    ),
    def(
        Key::Index,
        "index",
        Some("CNB_INDEX"),
        "",
        Str,
        "image index to add the app image to (experimental; not with -daemon)",
    ),
    def(
        Key::InsecureRegistry,
        "insecure-registry",
        Some("CNB_INSECURE_REGISTRIES"),
        "",
        List,
        "registry to reach over plain http (repeatable)",
    ),
    def(
        Key::KanikoCacheTtl,
        "kaniko-cache-ttl",
        Some("CNB_KANIKO_CACHE_TTL"),
        "336h",
        Str,
        "how long kaniko keeps cached base layers (go duration)",
    ),
    def(
        Key::ExtendKind,
        "kind",
        Some("CNB_EXTEND_KIND"),
        "build",
        Str,
        "which image to extend: build or run",
    ),
    def(
        Key::LaunchCache,
        "launch-cache",
        Some("CNB_LAUNCH_CACHE_DIR"),
        "",
        Path,
        "path to the launch cache directory",
    ),
    def(
        Key::Launcher,
        "launcher",
        None,
        "/cnb/lifecycle/launcher",
        Path,
        "path to the launcher binary",
    ),
    def(
        Key::LauncherSbom,
        "launcher-sbom",
        None,
        "/cnb/lifecycle",
        Path,
        "path to the launcher's sbom files",
    ),
    def(
        Key::Layers,
        "layers",
        Some("CNB_LAYERS_DIR"),
        "/layers",
        Path,
        "path to the layers directory",
    ),
    def(
        Key::Layout,
        "layout",
        Some("CNB_USE_LAYOUT"),
        "",
        Bool,
        "read and write images in oci layout format",
    ),
    def(
        Key::LayoutDir,
        "layout-dir",
        Some("CNB_LAYOUT_DIR"),
        "",
        Path,
        "path to the oci layout root",
    ),
    def(
        Key::LogLevel,
        "log-level",
        Some("CNB_LOG_LEVEL"),
        "info",
        Str,
        "debug, info, warn or error",
    ),
    def(
        Key::NoColor,
        "no-color",
        Some("CNB_NO_COLOR"),
        "",
        Bool,
        "disable colour in the output",
    ),
    def(
        Key::Order,
        "order",
        Some("CNB_ORDER_PATH"),
        "",
        Path,
        "path to order.toml",
    ),
    def(
        Key::Os,
        "os",
        Some("CNB_TARGET_OS"),
        "",
        Str,
        "target operating system",
    ),
    def(
        Key::Parallel,
        "parallel",
        Some("CNB_PARALLEL_EXPORT"),
        "",
        Bool,
        "export the app image and the cache in parallel",
    ),
    def(
        Key::Plan,
        "plan",
        Some("CNB_PLAN_PATH"),
        "<layers>/plan.toml",
        Path,
        "path to plan.toml",
    ),
    def(
        Key::Platform,
        "platform",
        Some("CNB_PLATFORM_DIR"),
        "/platform",
        Path,
        "path to the platform directory",
    ),
    def(
        Key::PreviousImage,
        "previous-image",
        Some("CNB_PREVIOUS_IMAGE"),
        "",
        Str,
        "reference to the previous image",
    ),
    def(
        Key::ProcessType,
        "process-type",
        Some("CNB_PROCESS_TYPE"),
        "",
        Str,
        "default process type",
    ),
    def(
        Key::ProjectMetadata,
        "project-metadata",
        Some("CNB_PROJECT_METADATA_PATH"),
        "<layers>/project-metadata.toml",
        Path,
        "path to project-metadata.toml",
    ),
    def(
        Key::Report,
        "report",
        Some("CNB_REPORT_PATH"),
        "<layers>/report.toml",
        Path,
        "path to report.toml",
    ),
    def(
        Key::Run,
        "run",
        Some("CNB_RUN_PATH"),
        "/cnb/run.toml",
        Path,
        "path to run.toml",
    ),
    def(
        Key::RunImage,
        "run-image",
        Some("CNB_RUN_IMAGE"),
        "",
        Str,
        "reference to the run image",
    ),
    def(
        Key::SkipLayers,
        "skip-layers",
        Some("CNB_SKIP_LAYERS"),
        "",
        Bool,
        "do not restore layer metadata or sbom",
    ),
    def(
        Key::SkipRestore,
        "skip-restore",
        Some("CNB_SKIP_RESTORE"),
        "",
        Bool,
        "do not restore layers",
    ),
    def(
        Key::Stack,
        "stack",
        Some("CNB_STACK_PATH"),
        "/cnb/stack.toml",
        Path,
        "path to stack.toml",
    ),
    def(
        Key::System,
        "system",
        Some("CNB_SYSTEM_PATH"),
        "/cnb/system.toml",
        Path,
        "path to system.toml",
    ),
    def(
        Key::Tag,
        "tag",
        None,
        "",
        List,
        "additional tag (repeatable)",
    ),
    def(
        Key::Uid,
        "uid",
        Some("CNB_USER_ID"),
        "0",
        Int,
        "user id of the build user",
    ),
];

/// Inputs whose environment variable is honoured at every Platform API, even where the phase's
/// flag is gated off (as upstream, which reads the environment before defining any flag).
pub const ENV_AT_EVERY_API: &[Key] = &[Key::InsecureRegistry, Key::PreviousImage];

/// Where an input exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// At every supported Platform API.
    Always,
    /// From this Platform API on.
    Since(Version),
    /// Below this Platform API.
    Before(Version),
    /// Defined so that it parses, but using it is an error (exit 3).
    Rejected,
    /// Read from the environment (or its default) at every Platform API; the phase has no flag
    /// for it.
    EnvOnly,
}

impl Availability {
    /// Whether the input exists at `api`.
    pub fn at(self, api: Version) -> bool {
        match self {
            Availability::Always | Availability::Rejected | Availability::EnvOnly => true,
            Availability::Since(v) => api >= v,
            Availability::Before(v) => api < v,
        }
    }

    /// Words for messages: "since platform api 0.12".
    pub fn describe(self) -> String {
        match self {
            Availability::Always | Availability::Rejected => "at every platform api".to_string(),
            Availability::EnvOnly => "only from the environment".to_string(),
            Availability::Since(v) => format!("from platform api {v}"),
            Availability::Before(v) => format!("below platform api {v}"),
        }
    }
}

const fn since(minor: u32) -> Availability {
    Availability::Since(Version::new(0, minor))
}
const fn before(minor: u32) -> Availability {
    Availability::Before(Version::new(0, minor))
}
use Availability::{Always, EnvOnly, Rejected};

type Cell = Option<Availability>;
const A: Cell = Some(Always);
const NO: Cell = None;
const REJ: Cell = Some(Rejected);
const ENV: Cell = Some(EnvOnly);
const S9: Cell = Some(since(9));
const S10: Cell = Some(since(10));
const S11: Cell = Some(since(11));
const S12: Cell = Some(since(12));
const S13: Cell = Some(since(13));
const S14: Cell = Some(since(14));
const S15: Cell = Some(since(15));
const B12: Cell = Some(before(12));

/// Which phase takes which input, and from which Platform API: one row per key, one column per
/// phase in `Phase` order (`A` always, `S12` since 0.12, `B12` below 0.12, `REJ` rejected, `ENV`
/// environment only, `NO` never). The launcher takes no flags: its inputs are read from the
/// environment only. One matrix rather than a list per phase, so that a flag several phases share
/// is one line.
#[rustfmt::skip]
const MATRIX: &[(Key, [Cell; 9])] = &[
    //                        ana  det  res  bld  exp  cre  reb  ext  lau
    (Key::Analyzed,          [  A, S10,   A, S12,   A,  NO,  NO,   A,  NO]),
    (Key::App,               [ NO,   A,  NO,   A,   A,   A,  NO,   A,   A]),
    (Key::Arch,              [  A,  NO,   A,  NO,   A,   A,   A,  NO,  NO]),
    (Key::ArchVariant,       [  A,  NO,   A,  NO,   A,   A,   A,  NO,  NO]),
    (Key::BuildConfig,       [ NO, S11,  NO, S11,  NO, S11,  NO,  NO,  NO]),
    (Key::BuildImage,        [ NO,  NO, S10,  NO,  NO,  NO,  NO,  NO,  NO]),
    (Key::Buildpacks,        [ NO,   A,  NO,   A,  NO,   A,  NO,   A,  NO]),
    (Key::CacheDir,          [ NO,  NO,   A,  NO,   A,   A,  NO,  NO,  NO]),
    (Key::CacheImage,        [  A,  NO,   A,  NO,   A,   A,  NO,  NO,  NO]),
    (Key::Daemon,            [  A,  NO, S12,  NO,   A,   A,   A,  NO,  NO]),
    (Key::Extended,          [ NO,  NO,  NO,  NO, S12,  NO,  NO, S12,  NO]),
    // creator: as upstream, no -extensions flag, but the detect step looks for the order's
    // extensions there (CNB_EXTENSIONS_DIR or /cnb/extensions).
    (Key::Extensions,        [ NO, S10,  NO,  NO,  NO, ENV,  NO,  NO,  NO]),
    (Key::Force,             [ NO,  NO,  NO,  NO,  NO,  NO, S12,  NO,  NO]),
    (Key::Generated,         [ NO, S10, S12,  NO,  NO,  NO,  NO,   A,  NO]),
    (Key::Gid,               [  A,  NO,   A,  NO,   A,   A,   A,   A,  NO]),
    (Key::Group,             [ NO,   A,   A,   A,   A,  NO,  NO,   A,  NO]),
    (Key::Image,             [ NO,  NO,  NO,  NO, REJ,  NO,   A,  NO,  NO]),
    // exporter, creator: ours, add the app image to a multi-arch index (from the API with -layout).
    (Key::Index,             [ NO,  NO,  NO,  NO, S12, S12,  NO,  NO,  NO]),
    // extender: ours, it reads the run image's manifest and config from its registry.
    (Key::InsecureRegistry,  [S13,  NO, S13,  NO, S13, S13, S13, S13,  NO]),
    (Key::KanikoCacheTtl,    [ NO,  NO,  NO,  NO,  NO,  NO,  NO,   A,  NO]),
    (Key::ExtendKind,        [ NO,  NO,  NO,  NO,  NO,  NO,  NO, S12,  NO]),
    (Key::LaunchCache,       [ S9,  NO,  NO,  NO,   A,   A,  NO,  NO,  NO]),
    (Key::Launcher,          [ NO,  NO,  NO,  NO,   A,   A,  NO,  NO,  NO]),
    (Key::LauncherSbom,      [ NO,  NO,  NO,  NO, S11, S11,  NO,  NO,  NO]),
    // rebaser: as upstream, no -layers flag, but CNB_LAYERS_DIR places the default report.toml.
    (Key::Layers,            [  A,   A,   A,   A,   A,   A, ENV,   A,   A]),
    // rebaser: ours (upstream's rebaser has no layout support): the exporter's flags, same API.
    (Key::Layout,            [S12,  NO, S12,  NO, S12, S12, S12,  NO,  NO]),
    (Key::LayoutDir,         [S12,  NO, S12,  NO, S12, S12, S12,  NO,  NO]),
    (Key::LogLevel,          [  A,   A,   A,   A,   A,   A,   A,   A,  NO]),
    (Key::NoColor,           [  A,   A,   A,   A,   A,   A,   A,   A,   A]),
    (Key::Order,             [ NO,   A,  NO,  NO,  NO,   A,  NO,  NO,  NO]),
    (Key::Os,                [  A,  NO,   A,  NO,   A,   A,   A,  NO,  NO]),
    (Key::Parallel,          [ NO,  NO,  NO,  NO,   A,   A,  NO,  NO,  NO]),
    (Key::Plan,              [ NO,   A,  NO,   A,  NO,  NO,  NO,   A,  NO]),
    (Key::Platform,          [ NO,   A,  NO,   A,  NO,   A,  NO,   A,  NO]),
    (Key::PreviousImage,     [  A,  NO,  NO,  NO,  NO,   A, S11,  NO,  NO]),
    (Key::ProcessType,       [ NO,  NO,  NO,  NO,   A,   A,  NO,  NO,   A]),
    (Key::ProjectMetadata,   [ NO,  NO,  NO,  NO,   A,   A,  NO,  NO,  NO]),
    (Key::Report,            [ NO,  NO,  NO,  NO,   A,   A,   A,  NO,  NO]),
    (Key::Run,               [S12, S12, S14,  NO, S12, S12,  NO,  NO,  NO]),
    (Key::RunImage,          [  A,  NO,  NO,  NO, REJ,   A,   A,  NO,  NO]),
    (Key::SkipLayers,        [ S9,  NO,   A,  NO,  NO,  NO,  NO,  NO,  NO]),
    (Key::SkipRestore,       [ NO,  NO,  NO,  NO,  NO,   A,  NO,  NO,  NO]),
    (Key::Stack,             [B12,  NO,  NO,  NO, B12,   A,  NO,  NO,  NO]),
    (Key::System,            [ NO, S15,  NO,  NO,  NO, S15,  NO,  NO,  NO]),
    (Key::Tag,               [  A,  NO,  NO,  NO,  NO,   A,  NO,  NO,  NO]),
    (Key::Uid,               [  A,  NO,   A,  NO,   A,   A,   A,   A,  NO]),
];

/// The column of `phase` in [`MATRIX`].
fn column(phase: Phase) -> usize {
    match phase {
        Phase::Analyzer => 0,
        Phase::Detector => 1,
        Phase::Restorer => 2,
        Phase::Builder => 3,
        Phase::Exporter => 4,
        Phase::Creator => 5,
        Phase::Rebaser => 6,
        Phase::Extender => 7,
        Phase::Launcher => 8,
    }
}

/// Where `key` exists for `phase`, or `None` when the phase never takes it.
pub fn availability(phase: Phase, key: Key) -> Option<Availability> {
    MATRIX
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, cells)| cells[column(phase)])
}

/// The row for `key`.
pub fn def_of(key: Key) -> &'static InputDef {
    // Every key has exactly one row (checked by a test), so the fallback is never taken.
    INPUTS.iter().find(|d| d.key == key).unwrap_or(&INPUTS[0])
}

/// The inputs of `phase` at `api`, in flag-name order.
pub fn inputs_of(
    phase: Phase,
    api: Version,
) -> impl Iterator<Item = (&'static InputDef, Availability)> {
    INPUTS.iter().filter_map(move |d| {
        let a = availability(phase, d.key)?;
        a.at(api).then_some((d, a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_row_and_rows_are_sorted_by_flag() {
        let mut flags: Vec<&str> = INPUTS.iter().map(|d| d.flag).collect();
        let sorted = {
            let mut s = flags.clone();
            s.sort();
            s
        };
        assert_eq!(flags, sorted);
        flags.dedup();
        assert_eq!(flags.len(), INPUTS.len());
        for d in INPUTS {
            assert_eq!(def_of(d.key).flag, d.flag);
            let rows = MATRIX.iter().filter(|(k, _)| *k == d.key).count();
            assert_eq!(rows, 1, "{:?} needs exactly one row in MATRIX", d.key);
        }
        assert_eq!(MATRIX.len(), INPUTS.len());
    }
}
