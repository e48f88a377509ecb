//! Parsing a phase's command line the way Go's `flag` package does, on top of clap.
//!
//! Go accepts `-layers x`, `-layers=x`, `--layers x`, `--layers=x`, booleans as `-daemon`,
//! `-daemon=true` or `-daemon=false`, and stops at the first positional argument. We scan the
//! arguments with that grammar (which needs the table: only booleans take no value), rewrite them
//! to clap's `--name=value` form, and let clap validate and convert the values. clap's `env`
//! support reads the process environment; we take the environment as a value instead, so
//! precedence (flag > environment > default) is applied here after clap has parsed the flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use cnb_api::{DeprecationMode, PLATFORM, Support, Version};

use crate::inputs::Value;
use crate::table::{self, Availability, InputDef, Kind};
use crate::{Env, InputError, Inputs, Key, LogLevel, Phase, parse_go_bool};

const POSITIONALS: &str = "positionals";

/// Parses `args` (without the program name) for `phase`, reading `CNB_*` variables from `env`
/// and resolving relative paths against `cwd`.
pub fn parse(phase: Phase, args: &[String], env: &Env, cwd: &Path) -> Result<Inputs, InputError> {
    if phase.takes_flags()
        && let Some(info) = info_request(phase, args)
    {
        return Err(InputError::Info(info));
    }
    let (platform_api, deprecation_mode, mut warnings) = platform_api(env)?;
    let scanned = if phase.takes_flags() {
        scan(phase, platform_api, args)?
    } else {
        Scanned {
            flags: Vec::new(),
            positionals: args.to_vec(),
            warnings: Vec::new(),
        }
    };
    let matches = command(phase, platform_api)
        .try_get_matches_from(scanned.rewritten())
        .map_err(|e| InputError::InvalidArgs(one_line(&e)))?;
    warnings.extend(scanned.warnings);

    let mut inputs = Inputs {
        phase,
        platform_api,
        deprecation_mode,
        log_level: LogLevel::Info,
        no_color: false,
        positionals: scanned.positionals,
        exec_env: env.get("CNB_EXEC_ENV").unwrap_or("production").to_string(),
        registry_auth: env.get("CNB_REGISTRY_AUTH").map(str::to_string),
        docker_config_dir: env.docker_config_dir(),
        ssl_cert_file: env
            .get_os("SSL_CERT_FILE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        registry_timeout: env
            .get_os("CNB_REGISTRY_TIMEOUT")
            .and_then(|v| v.to_str())
            .map(str::to_string),
        docker_host: env.get("DOCKER_HOST").map(str::to_string),
        temp_dir: env.temp_dir(),
        source_date_epoch: env.get("SOURCE_DATE_EPOCH").map(str::to_string),
        experimental_mode: env
            .get("CNB_EXPERIMENTAL_MODE")
            .unwrap_or("error")
            .to_string(),
        layer_compression: env.get("CNB_LAYER_COMPRESSION").map(str::to_string),
        warnings,
        env: env.clone(),
        values: BTreeMap::new(),
        defaults: BTreeMap::new(),
    };
    for (def, availability) in table::inputs_of(phase, platform_api) {
        if let Some(value) = resolve(def, availability, &matches, env)? {
            inputs.values.insert(def.key, value);
        }
    }
    // Upstream reads these variables whatever the Platform API, even where the flag is gated off.
    for key in table::ENV_AT_EVERY_API {
        let def = table::def_of(*key);
        let gated_off = table::availability(phase, *key).is_some_and(|a| !a.at(platform_api));
        if gated_off && let Some(value) = resolve(def, Availability::Always, &matches, env)? {
            inputs.values.insert(def.key, value);
        }
    }
    finish(&mut inputs, env, cwd)?;
    Ok(inputs)
}

/// `-version` and `-help` before the first positional answer without any other check.
fn info_request(phase: Phase, args: &[String]) -> Option<String> {
    for arg in args {
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            return None;
        }
        match arg.trim_start_matches('-') {
            "version" => return Some(crate::build_version()),
            "help" | "h" => {
                let mut cmd = command(phase, PLATFORM.latest());
                return Some(cmd.render_help().to_string());
            }
            _ => {}
        }
    }
    None
}

fn platform_api(env: &Env) -> Result<(Version, DeprecationMode, Vec<String>), InputError> {
    let supported = PLATFORM.supported_list();
    let raw = env
        .get("CNB_PLATFORM_API")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let Some(raw) = raw else {
        return Err(InputError::PlatformApi(format!(
            "please set 'CNB_PLATFORM_API' (supported platform apis: {supported})"
        )));
    };
    let version: Version = raw.parse().map_err(|_| {
        InputError::PlatformApi(format!(
            "invalid CNB_PLATFORM_API '{raw}' (supported platform apis: {supported})"
        ))
    })?;
    let mode: DeprecationMode = env
        .get("CNB_DEPRECATION_MODE")
        .unwrap_or("")
        .parse()
        .map_err(|e: cnb_api::InvalidDeprecationMode| InputError::InvalidArgs(e.to_string()))?;
    let mut warnings = Vec::new();
    match PLATFORM.support(version) {
        Support::Supported => {}
        Support::Unsupported => {
            return Err(InputError::PlatformApi(format!(
                "platform api '{version}' is not supported by this lifecycle (supported platform apis: {supported})"
            )));
        }
        Support::Deprecated => match mode {
            DeprecationMode::Error => {
                return Err(InputError::PlatformApi(format!(
                    "platform api '{version}' is deprecated and CNB_DEPRECATION_MODE is 'error'"
                )));
            }
            DeprecationMode::Warn => {
                warnings.push(format!("platform api '{version}' is deprecated"));
            }
            DeprecationMode::Quiet => {}
        },
    }
    Ok((version, mode, warnings))
}

/// The command line split Go's way.
struct Scanned {
    flags: Vec<(&'static InputDef, Option<String>)>,
    positionals: Vec<String>,
    warnings: Vec<String>,
}

impl Scanned {
    fn rewritten(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .flags
            .iter()
            .map(|(def, value)| match value {
                Some(v) => format!("--{}={v}", def.flag),
                None => format!("--{}", def.flag),
            })
            .collect();
        out.push("--".to_string());
        out.extend(self.positionals.iter().cloned());
        out
    }
}

fn scan(phase: Phase, api: Version, args: &[String]) -> Result<Scanned, InputError> {
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(InputError::UnknownFlag(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let def = known_flag(phase, api, name)?;
        let value = match (def.kind, inline) {
            (_, Some(v)) => Some(v),
            (Kind::Bool, None) => None,
            (_, None) => {
                i += 1;
                let v = args.get(i).ok_or_else(|| {
                    InputError::UnknownFlag(format!("flag needs an argument: -{name}"))
                })?;
                Some(v.clone())
            }
        };
        flags.push((def, value));
        i += 1;
    }
    let positionals: Vec<String> = args[i.min(args.len())..].to_vec();
    let warnings = positionals
        .iter()
        .skip(1)
        .filter(|p| p.starts_with('-') && p.len() > 1)
        .map(|p| {
            format!("'{p}' comes after the first argument and is taken as an argument, not a flag")
        })
        .collect();
    Ok(Scanned {
        flags,
        positionals,
        warnings,
    })
}

fn known_flag(phase: Phase, api: Version, name: &str) -> Result<&'static InputDef, InputError> {
    let def = table::INPUTS.iter().find(|d| d.flag == name);
    let availability = def.and_then(|d| table::availability(phase, d.key));
    match (def, availability) {
        (Some(_), Some(Availability::EnvOnly)) => Err(InputError::UnknownFlag(format!(
            "flag provided but not defined: -{name} ({phase} has no such flag; it reads {} only)",
            def.and_then(|d| d.env).unwrap_or("the environment")
        ))),
        (Some(def), Some(a)) if a.at(api) => Ok(def),
        (Some(_), Some(a)) => Err(InputError::UnknownFlag(format!(
            "flag provided but not defined: -{name} ({phase} accepts it {}; CNB_PLATFORM_API is {api})",
            a.describe()
        ))),
        _ => Err(InputError::UnknownFlag(format!(
            "flag provided but not defined: -{name} ({phase} has no such flag)"
        ))),
    }
}

/// The clap command for `phase` at `api`, generated from the table.
fn command(phase: Phase, api: Version) -> Command {
    let mut cmd = Command::new(phase.name())
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .override_usage(format!(
            "{} [flags] {}",
            phase.name(),
            phase.positional_name()
        ));
    for (def, availability) in table::inputs_of(phase, api) {
        if availability == Availability::EnvOnly {
            continue;
        }
        let arg = Arg::new(def.flag).long(def.flag).help(def.help);
        let arg = match def.kind {
            Kind::Bool => arg
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(|s: &str| {
                    parse_go_bool(s).ok_or_else(|| format!("'{s}' is not a boolean"))
                }),
            Kind::Int => arg
                .value_parser(clap::value_parser!(u32))
                .allow_hyphen_values(true),
            Kind::List => arg.action(ArgAction::Append).allow_hyphen_values(true),
            Kind::Path | Kind::Str => arg.allow_hyphen_values(true),
        };
        cmd = cmd.arg(arg);
    }
    cmd.arg(
        Arg::new(POSITIONALS)
            .num_args(0..)
            .action(ArgAction::Append)
            .hide(true),
    )
}

fn one_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").replace("'--", "'-")
}

fn from_cli(matches: &ArgMatches, def: &InputDef) -> bool {
    // Inputs gated off at this Platform API have no argument in the command: never from the cli.
    matches.try_contains_id(def.flag).unwrap_or(false)
        && matches.value_source(def.flag) == Some(ValueSource::CommandLine)
}

/// flag > environment > default for one input.
fn resolve(
    def: &InputDef,
    availability: Availability,
    matches: &ArgMatches,
    env: &Env,
) -> Result<Option<Value>, InputError> {
    let cli = from_cli(matches, def);
    let env_value = def.env.and_then(|k| env.get(k));
    if availability == Availability::Rejected && cli {
        let given = matches
            .get_one::<String>(def.flag)
            .cloned()
            .unwrap_or_default();
        // Upstream tolerates the flag only when it repeats what the environment already says.
        if def.key != Key::RunImage || env_value != Some(given.as_str()) {
            return Err(InputError::InvalidArgs(format!(
                "-{} is unsupported",
                def.flag
            )));
        }
    }
    let value = match def.kind {
        Kind::Bool => {
            let v = if cli {
                matches.get_one::<bool>(def.flag).copied().unwrap_or(true)
            } else {
                env_value.and_then(parse_go_bool).unwrap_or(false)
            };
            Some(Value::Bool(v))
        }
        Kind::Int => {
            let v = if cli {
                matches.get_one::<u32>(def.flag).copied().unwrap_or(0)
            } else {
                env_value
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| def.default.parse().unwrap_or(0))
            };
            Some(Value::Int(v))
        }
        Kind::List => {
            let mut v: Vec<String> = env_value
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if cli {
                // An empty value adds nothing, as upstream skips empty tags and registries:
                // Tekton passes `-tag=$(params.TAGS)` and `-insecure-registry=...` with empty
                // defaults.
                v.extend(
                    matches
                        .get_many::<String>(def.flag)
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.trim().is_empty())
                        .cloned(),
                );
            }
            Some(Value::List(v))
        }
        Kind::Path | Kind::Str => {
            let raw = if cli {
                matches.get_one::<String>(def.flag).cloned()
            } else {
                env_value.map(str::to_string)
            };
            let raw = raw.or_else(|| (!def.default.is_empty()).then(|| def.default.to_string()));
            raw.filter(|s| !s.is_empty()).map(|s| match def.kind {
                Kind::Path => Value::Path(PathBuf::from(s)),
                _ => Value::Str(s),
            })
        }
    };
    Ok(value)
}

/// Cross-input rules: skip flags, previous image, placeholders, order fallback, absolute paths,
/// log level, positional count.
fn finish(inputs: &mut Inputs, env: &Env, cwd: &Path) -> Result<(), InputError> {
    let phase = inputs.phase;
    let (min, max) = phase.positionals();
    let n = inputs.positionals.len();
    if n < min || max.is_some_and(|m| n > m) {
        let expected = match (min, max) {
            (0, Some(0)) => "no arguments".to_string(),
            (a, Some(b)) if a == b => format!("exactly {a} argument {}", phase.positional_name()),
            (a, _) => format!("at least {a} argument {}", phase.positional_name()),
        };
        return Err(InputError::InvalidArgs(format!(
            "{phase} takes {expected}, got {n}{}",
            if n > 0 {
                format!(": {}", inputs.positionals.join(" "))
            } else {
                String::new()
            }
        )));
    }

    // Either variable sets the skip flag of every phase, as upstream.
    let skip_env = ["CNB_SKIP_LAYERS", "CNB_SKIP_RESTORE"]
        .iter()
        .any(|k| env.get(k).and_then(parse_go_bool).unwrap_or(false));
    for key in [Key::SkipLayers, Key::SkipRestore] {
        if let Some(Value::Bool(v)) = inputs.values.get_mut(&key) {
            *v = *v || skip_env;
        }
    }

    let takes_previous = table::availability(phase, Key::PreviousImage).is_some();
    if takes_previous
        && inputs.string(Key::PreviousImage).is_none()
        && let Some(image) = inputs.image().map(str::to_string)
    {
        inputs.values.insert(Key::PreviousImage, Value::Str(image));
    }

    let layers = absolute(
        cwd,
        inputs.path(Key::Layers).unwrap_or(Path::new("/layers")),
    );
    for value in inputs.values.values_mut() {
        if let Value::Path(p) = value {
            let replaced = p
                .to_string_lossy()
                .replace("<layers>", &layers.to_string_lossy());
            *p = absolute(cwd, Path::new(&replaced));
        }
    }
    // order.toml: <layers>/order.toml when the platform put one there, else the builder's.
    let in_layers = layers.join("order.toml");
    let order = if in_layers.exists() {
        in_layers
    } else {
        PathBuf::from("/cnb/order.toml")
    };
    if table::availability(phase, Key::Order).is_some() && inputs.path(Key::Order).is_none() {
        inputs.values.insert(Key::Order, Value::Path(order.clone()));
    }
    // Every path's default, for the paths a phase uses without taking them as inputs.
    inputs.defaults = table::INPUTS
        .iter()
        .filter(|d| d.kind == table::Kind::Path && !d.default.is_empty())
        .map(|d| {
            let replaced = d.default.replace("<layers>", &layers.to_string_lossy());
            (d.key, absolute(cwd, Path::new(&replaced)))
        })
        .chain([(Key::Order, order), (Key::Layers, layers.clone())])
        .collect();

    if phase == Phase::Launcher
        && let Some(kind) = inputs.string(Key::ProcessType)
    {
        inputs.warnings.push(format!(
            "CNB_PROCESS_TYPE is not supported in platform api {}: run with entrypoint '{kind}' to invoke the '{kind}' process type",
            inputs.platform_api
        ));
    }
    if let Some(kind) = inputs.string(Key::ExtendKind)
        && kind != "build"
        && kind != "run"
    {
        return Err(InputError::InvalidArgs(format!(
            "invalid -kind '{kind}': expected build or run"
        )));
    }

    let level = inputs.string(Key::LogLevel).unwrap_or("info");
    inputs.log_level = level.parse().map_err(InputError::InvalidArgs)?;
    inputs.no_color = inputs.flag(Key::NoColor);
    Ok(())
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}
