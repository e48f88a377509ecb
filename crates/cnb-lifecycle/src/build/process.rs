//! From each buildpack's launch.toml to the app's processes, labels and slices.

use cnb_api::Version;
use cnb_formats::launch::LaunchToml;
use cnb_formats::metadata::{Label, Process, Slice};

/// Why a launch.toml is refused.
#[derive(Debug, thiserror::Error)]
pub enum LaunchTomlError {
    /// `direct` from Buildpack API 0.9 on.
    #[error(
        "buildpack '{buildpack}': process.direct is not supported on this buildpack version (api {api})"
    )]
    Direct {
        /// The buildpack.
        buildpack: String,
        /// Its API.
        api: Version,
    },
    /// More than one default process.
    #[error("buildpack '{buildpack}': multiple default process types are not allowed")]
    MultipleDefaults {
        /// The buildpack.
        buildpack: String,
    },
}

/// Processes, labels and slices of the whole group, as buildpacks add them in order.
#[derive(Debug, Default)]
pub struct Collected {
    /// Processes, later buildpacks replacing earlier ones of the same type.
    pub processes: Vec<Process>,
    /// The default process type.
    pub default_type: String,
    /// Labels.
    pub labels: Vec<Label>,
    /// Slices.
    pub slices: Vec<Slice>,
}

impl Collected {
    /// Adds one buildpack's launch.toml. Returns warnings to log.
    pub fn add(
        &mut self,
        buildpack: &str,
        api: Version,
        launch: LaunchToml,
    ) -> Result<Vec<String>, LaunchTomlError> {
        let mut warnings = Vec::new();
        let defaults = launch.processes.iter().filter(|p| p.default).count();
        if defaults > 1 {
            return Err(LaunchTomlError::MultipleDefaults {
                buildpack: buildpack.into(),
            });
        }
        let modern = api >= Version::new(0, 9);
        for p in launch.processes {
            if modern && p.direct.is_some() {
                return Err(LaunchTomlError::Direct {
                    buildpack: buildpack.into(),
                    api,
                });
            }
            let working_dir = if api < Version::new(0, 8) && !p.working_dir.is_empty() {
                warnings.push(format!("buildpack '{buildpack}': working-dir is not supported below buildpack api 0.8, ignoring it"));
                String::new()
            } else {
                p.working_dir
            };
            if p.default {
                self.default_type = p.r#type.clone();
            } else if self.default_type == p.r#type {
                warnings.push(format!(
                    "buildpack '{buildpack}' redefines the default process type '{}' without default = true: there is no default process now",
                    p.r#type
                ));
                self.default_type.clear();
            }
            self.processes.retain(|q| q.r#type != p.r#type);
            self.processes.push(Process {
                r#type: p.r#type,
                command: p.command,
                args: p.args,
                direct: if modern {
                    true
                } else {
                    p.direct.unwrap_or(false)
                },
                buildpack_id: buildpack.to_string(),
                working_dir,
                exec_env: p.exec_env,
            });
        }
        self.processes.sort_by(|a, b| a.r#type.cmp(&b.r#type));
        self.labels.extend(launch.labels);
        self.slices.extend(launch.slices);
        Ok(warnings)
    }
}
