//! The input table rendered as markdown (docs/inputs.md), so the docs cannot drift from the code.

use std::fmt::Write;

use cnb_api::PLATFORM;

use crate::Phase;
use crate::table::{self, Availability, INPUTS};

/// Markdown listing every phase's flags, variables, defaults and Platform API ranges.
pub fn inputs_markdown() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Phase inputs\n");
    let _ = writeln!(
        out,
        "Generated from `crates/cnb-platform/src/table.rs` (regenerate with `UPDATE_DOCS=1 cargo test -p cnb-platform`).\n\
         Flags take one dash or two, `-flag value` or `-flag=value`; booleans are `-flag`, `-flag=true` or `-flag=false`.\n\
         Precedence: flag, then environment variable, then default. `<layers>` in a default is the resolved layers directory.\n\
         `CNB_PLATFORM_API` is required ({}); a flag outside its Platform API range is rejected with exit 2.\n\
         `-arch`, `-arch-variant`, `-os` and `-index` are this implementation's additions (see images.md).\n",
        PLATFORM.supported_list()
    );
    for phase in Phase::ALL {
        let _ = writeln!(out, "## {phase}\n");
        let (min, max) = phase.positionals();
        let args = match (min, max) {
            (0, Some(0)) => "no arguments".to_string(),
            _ => format!("arguments: `{}`", phase.positional_name()),
        };
        let _ = writeln!(out, "Takes {args}.\n");
        if !phase.takes_flags() {
            let _ = writeln!(
                out,
                "No flags: every argument belongs to the launched process; these inputs come from the environment only.\n"
            );
        }
        let _ = writeln!(out, "| flag | env | default | platform api |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for def in INPUTS {
            let Some(a) = table::availability(phase, def.key) else {
                continue;
            };
            let default = if def.key == crate::Key::Order {
                "`<layers>/order.toml` if present, else `/cnb/order.toml`".to_string()
            } else if def.default.is_empty() {
                String::new()
            } else {
                format!("`{}`", def.default)
            };
            let api = match a {
                Availability::Always => "all".to_string(),
                Availability::Since(v) => format!("≥ {v}"),
                Availability::Before(v) => format!("< {v}"),
                Availability::Rejected => "rejected (exit 3)".to_string(),
                Availability::EnvOnly => "all (no flag)".to_string(),
            };
            let env = def.env.map(|e| format!("`{e}`")).unwrap_or_default();
            let flag = if phase.takes_flags() && a != Availability::EnvOnly {
                format!("`-{}`", def.flag)
            } else {
                "-".to_string()
            };
            let _ = writeln!(out, "| {flag} | {env} | {default} | {api} |");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Every phase\n\nEnvironment only: `CNB_EXEC_ENV` (default `production`), `CNB_REGISTRY_AUTH`, \
         `SOURCE_DATE_EPOCH`, `CNB_EXPERIMENTAL_MODE` (default `error`), `CNB_DEPRECATION_MODE` (default `warn`), \
         `DOCKER_CONFIG` (else `$HOME/.docker`; registry credentials after `CNB_REGISTRY_AUTH`), \
         `SSL_CERT_FILE` (extra CA certificates for registries), `DOCKER_HOST` (with `-daemon`; \
         default `unix:///var/run/docker.sock`), `TMPDIR` (scratch files; default `/tmp`), \
         and ours: `CNB_REGISTRY_TIMEOUT` (seconds; bounds each wait on a registry, docs/images.md), \
         `CNB_LAYER_COMPRESSION` (`gzip`, the default, or `zstd`; exporter and creator; docs/images.md). \
         `CNB_SKIP_LAYERS` and `CNB_SKIP_RESTORE` each set the skip flag of every phase that has one. \
         `-previous-image` defaults to the first argument. \
         `CNB_INSECURE_REGISTRIES` and `CNB_PREVIOUS_IMAGE` are read at every Platform API, even where the flag is not yet available."
    );
    out
}
