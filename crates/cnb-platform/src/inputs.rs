//! The resolved inputs of one phase run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cnb_api::{DeprecationMode, Version};

use crate::{Key, LogLevel, Phase};

/// One resolved value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Path(PathBuf),
    Str(String),
    Bool(bool),
    Int(u32),
    List(Vec<String>),
}

/// The build's target as given by `-os`/`-arch`/`-arch-variant` (or `CNB_TARGET_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Operating system, e.g. `linux`.
    pub os: Option<String>,
    /// Architecture, e.g. `arm64`.
    pub arch: Option<String>,
    /// Architecture variant, e.g. `v8`.
    pub arch_variant: Option<String>,
}

impl Target {
    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.os.is_none() && self.arch.is_none() && self.arch_variant.is_none()
    }
}

/// Everything a phase was given: flags, environment and defaults, resolved with precedence
/// flag > environment > default, placeholders replaced and paths made absolute.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The phase.
    pub phase: Phase,
    /// `CNB_PLATFORM_API`.
    pub platform_api: Version,
    /// `CNB_DEPRECATION_MODE`.
    pub deprecation_mode: DeprecationMode,
    /// `-log-level` / `CNB_LOG_LEVEL`.
    pub log_level: LogLevel,
    /// `-no-color` / `CNB_NO_COLOR`.
    pub no_color: bool,
    /// Positional arguments (image names for analyzer, exporter, creator, rebaser).
    pub positionals: Vec<String>,
    /// `CNB_EXEC_ENV` (default `production`).
    pub exec_env: String,
    /// `CNB_REGISTRY_AUTH`, raw JSON.
    pub registry_auth: Option<String>,
    /// Where docker's `config.json` is looked for: `DOCKER_CONFIG`, else `$HOME/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// `SSL_CERT_FILE`: a PEM file of extra CA certificates to trust for registries.
    pub ssl_cert_file: Option<PathBuf>,
    /// `CNB_REGISTRY_TIMEOUT` (ours), raw and set-but-empty included (refused, as any value
    /// that is not a number of seconds); checked by the image crate.
    pub registry_timeout: Option<String>,
    /// `DOCKER_HOST`, raw: where the Docker daemon listens (`-daemon`).
    pub docker_host: Option<String>,
    /// Where scratch files (layer tars, plan files) go: `TMPDIR` (see [`crate::Env::temp_dir`]).
    pub temp_dir: PathBuf,
    /// `SOURCE_DATE_EPOCH`, raw.
    pub source_date_epoch: Option<String>,
    /// `CNB_EXPERIMENTAL_MODE` (default `error`).
    pub experimental_mode: String,
    /// `CNB_LAYER_COMPRESSION` (ours, not upstream's): `gzip` (the default) or `zstd`, how the
    /// exporter compresses new layers; raw, checked by the exporter.
    pub layer_compression: Option<String>,
    /// Things the phase should warn about once its logger is up.
    pub warnings: Vec<String>,
    /// The whole environment the phase was started with (read once, at the process's edge, as
    /// OS strings; `iter` and `get` leave values that are not UTF-8 out): what buildpacks and
    /// Dockerfiles start from.
    pub env: crate::Env,
    pub(crate) values: BTreeMap<Key, Value>,
    /// Every path input's default, placeholders replaced, for the paths a phase uses without
    /// taking them as inputs (the creator's group.toml, the builder's analyzed.toml, ...).
    pub(crate) defaults: BTreeMap<Key, PathBuf>,
}

impl Inputs {
    /// The environment as owned pairs, for the phases that hand it on (detector, builder,
    /// creator, extender).
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A path input, when set (and available in this phase at this Platform API).
    pub fn path(&self, key: Key) -> Option<&Path> {
        match self.values.get(&key) {
            Some(Value::Path(p)) => Some(p),
            _ => None,
        }
    }

    /// A string input, when set.
    pub fn string(&self, key: Key) -> Option<&str> {
        match self.values.get(&key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A boolean input (false when unset or unavailable).
    pub fn flag(&self, key: Key) -> bool {
        matches!(self.values.get(&key), Some(Value::Bool(true)))
    }

    /// An integer input (0 when unset).
    pub fn int(&self, key: Key) -> u32 {
        match self.values.get(&key) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        }
    }

    /// A list input (empty when unset).
    pub fn list(&self, key: Key) -> &[String] {
        match self.values.get(&key) {
            Some(Value::List(v)) => v,
            _ => &[],
        }
    }

    /// A path input's value, else its default (`<layers>` replaced); the table gives every path
    /// read this way a default (checked by a test).
    pub fn path_or_default(&self, key: Key) -> &Path {
        self.path(key)
            .or_else(|| self.defaults.get(&key).map(PathBuf::as_path))
            .unwrap_or(Path::new("/"))
    }

    /// Whether the phase takes `key` at this Platform API.
    pub fn has(&self, key: Key) -> bool {
        self.values.contains_key(&key)
    }

    /// `-layers` / `CNB_LAYERS_DIR`.
    pub fn layers_dir(&self) -> &Path {
        self.path_or_default(Key::Layers)
    }

    /// `-uid` / `CNB_USER_ID`.
    pub fn uid(&self) -> u32 {
        self.int(Key::Uid)
    }

    /// `-gid` / `CNB_GROUP_ID`.
    pub fn gid(&self) -> u32 {
        self.int(Key::Gid)
    }

    /// The first positional: the output image of analyzer, exporter, creator and rebaser.
    pub fn image(&self) -> Option<&str> {
        self.positionals.first().map(String::as_str)
    }

    /// Every name the output is saved under: positionals, then `-tag` values.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = self.positionals.clone();
        names.extend(self.list(Key::Tag).iter().cloned());
        names
    }

    /// `-skip-layers` or `-skip-restore` (either variable sets both).
    pub fn skip_layers(&self) -> bool {
        self.flag(Key::SkipLayers) || self.flag(Key::SkipRestore)
    }

    /// `-os`, `-arch`, `-arch-variant`.
    pub fn target(&self) -> Target {
        let get = |k| self.string(k).map(str::to_string);
        Target {
            os: get(Key::Os),
            arch: get(Key::Arch),
            arch_variant: get(Key::ArchVariant),
        }
    }
}

/// Named accessors, one per input, so phase code reads `inputs.group_path()` rather than keys.
macro_rules! accessors {
    ($($kind:ident $name:ident $key:ident $doc:literal;)*) => {
        impl Inputs {
            $(accessors!(@one $kind $name $key $doc);)*
        }
    };
    (@one path $name:ident $key:ident $doc:literal) => {
        #[doc = $doc]
        pub fn $name(&self) -> Option<&Path> {
            self.path(Key::$key)
        }
    };
    (@one string $name:ident $key:ident $doc:literal) => {
        #[doc = $doc]
        pub fn $name(&self) -> Option<&str> {
            self.string(Key::$key)
        }
    };
    (@one value $name:ident $key:ident $doc:literal) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = "Always a value: the input when the phase takes it, else its default."]
        pub fn $name(&self) -> &Path {
            self.path_or_default(Key::$key)
        }
    };
    (@one flag $name:ident $key:ident $doc:literal) => {
        #[doc = $doc]
        pub fn $name(&self) -> bool {
            self.flag(Key::$key)
        }
    };
    (@one list $name:ident $key:ident $doc:literal) => {
        #[doc = $doc]
        pub fn $name(&self) -> &[String] {
            self.list(Key::$key)
        }
    };
}

accessors! {
    value analyzed_path Analyzed "`-analyzed` / `CNB_ANALYZED_PATH`.";
    value app_dir App "`-app` / `CNB_APP_DIR`.";
    path build_config_dir BuildConfig "`-build-config` / `CNB_BUILD_CONFIG_DIR`.";
    value buildpacks_dir Buildpacks "`-buildpacks` / `CNB_BUILDPACKS_DIR`.";
    path cache_dir CacheDir "`-cache-dir` / `CNB_CACHE_DIR`.";
    value extended_dir Extended "`-extended` / `CNB_EXTENDED_DIR`.";
    value extensions_dir Extensions "`-extensions` / `CNB_EXTENSIONS_DIR`.";
    value generated_dir Generated "`-generated` / `CNB_GENERATED_DIR`.";
    value group_path Group "`-group` / `CNB_GROUP_PATH`.";
    path launch_cache_dir LaunchCache "`-launch-cache` / `CNB_LAUNCH_CACHE_DIR`.";
    path launcher_path Launcher "`-launcher`.";
    path launcher_sbom_dir LauncherSbom "`-launcher-sbom`.";
    path layout_dir LayoutDir "`-layout-dir` / `CNB_LAYOUT_DIR`.";
    value order_path Order "`-order` / `CNB_ORDER_PATH` (resolved: `<layers>/order.toml` if present, else `/cnb/order.toml`).";
    value plan_path Plan "`-plan` / `CNB_PLAN_PATH`.";
    value platform_dir Platform "`-platform` / `CNB_PLATFORM_DIR`.";
    value project_metadata_path ProjectMetadata "`-project-metadata` / `CNB_PROJECT_METADATA_PATH`.";
    value report_path Report "`-report` / `CNB_REPORT_PATH`.";
    value run_path Run "`-run` / `CNB_RUN_PATH`.";
    value stack_path Stack "`-stack` / `CNB_STACK_PATH`.";
    path system_path System "`-system` / `CNB_SYSTEM_PATH`.";
    string build_image BuildImage "`-build-image` / `CNB_BUILD_IMAGE`.";
    string cache_image CacheImage "`-cache-image` / `CNB_CACHE_IMAGE`.";
    string extend_kind ExtendKind "`-kind` / `CNB_EXTEND_KIND` (`build` or `run`).";
    string index Index "`-index` / `CNB_INDEX`: the image index the app image joins (ours, experimental).";
    string kaniko_cache_ttl KanikoCacheTtl "`-kaniko-cache-ttl` / `CNB_KANIKO_CACHE_TTL`, a Go duration.";
    string previous_image PreviousImage "`-previous-image` / `CNB_PREVIOUS_IMAGE` (defaults to the first argument).";
    string process_type ProcessType "`-process-type` / `CNB_PROCESS_TYPE`.";
    string run_image RunImage "`-run-image` / `CNB_RUN_IMAGE`.";
    flag daemon Daemon "`-daemon` / `CNB_USE_DAEMON`.";
    flag force Force "`-force` / `CNB_FORCE_REBASE`.";
    flag layout Layout "`-layout` / `CNB_USE_LAYOUT`.";
    flag parallel Parallel "`-parallel` / `CNB_PARALLEL_EXPORT`.";
    list insecure_registries InsecureRegistry "`-insecure-registry` (repeatable) after `CNB_INSECURE_REGISTRIES`.";
    list tags Tag "`-tag` (repeatable).";
}
