//! Configuration: the team, the deployment models, change windows, freezes and settings.
//!
//! `config/shipdeck.toml` in the repository is the fully commented default and is compiled in,
//! so a machine with no config file behaves exactly as that file says. Precedence for paths and
//! secrets is flag > environment > config file > built-in. Errors name the file, the line and
//! the key, because a config that fails at 2 a.m. must say where.

mod checks;
mod locate;
pub mod notify;
mod reviews;
mod schedule;
mod sections;
mod team;

pub use notify::{ChannelConfig, ChannelKind, NotifyConfig};
pub use reviews::ReviewsConfig;
pub use schedule::ScheduleConfig;
pub use sections::{
    DashboardConfig, Environment, Inventory, MetricsAccess, NOTIFY_KINDS, Person, ReceiverConfig, Stakeholder,
    TeamConfig,
};

use crate::domain::DeploymentModel;
use crate::domain::schedule::{ChangeWindow, Freeze};
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The commented default configuration, as shipped.
pub const BUILT_IN: &str = include_str!("../config/shipdeck.toml");

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The person shipdeck acts as, when `SHIPDECK_OPERATOR` is not set.
    pub operator: Option<String>,
    /// How the operator is known (`declared` names, or the `os-login` only).
    pub identity: crate::domain::team::IdentityMode,
    /// Who may change the log's team and plan for others.
    pub team: TeamConfig,
    /// Zone for displaying times.
    pub timezone: Tz,
    /// The deployment log, when neither `--db` nor `SHIPDECK_DB` is given.
    pub db: Option<PathBuf>,
    pub receiver: ReceiverConfig,
    pub dashboard: DashboardConfig,
    /// Where deployments may go; nothing else may be named.
    pub environments: Vec<Environment>,
    pub people: Vec<Person>,
    pub stakeholders: Vec<Stakeholder>,
    pub models: BTreeMap<String, DeploymentModel>,
    pub windows: Vec<ChangeWindow>,
    pub freezes: Vec<Freeze>,
    /// Which deployments owe failure reviews, and their causes.
    pub reviews: ReviewsConfig,
    /// Named inventory files (`plan --inventory NAME`).
    pub inventories: Vec<Inventory>,
    /// Who may declare freezes and override conflicts; how long a phase counts without history.
    pub schedule: ScheduleConfig,
    /// The delivery worker's settings.
    pub notify: NotifyConfig,
    /// Channels that carry notifications besides the dashboard, by name.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// Where this configuration came from (a path, or "built-in").
    pub source: String,
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{file}:{line}: {key}{message}")]
    Invalid { file: String, line: usize, key: String, message: String },
    #[error("unknown deployment model \"{name}\" (configured: {known})")]
    UnknownModel { name: String, known: String },
    /// The sentence names the environment and the declared ones.
    #[error("{0}")]
    UnknownEnvironment(String),
    #[error("model \"{name}\" is for {environments} only, not \"{environment}\"")]
    ModelNotFor { name: String, environments: String, environment: String },
}

impl Config {
    /// The built-in configuration.
    pub fn built_in() -> Self {
        // The shipped file is validated by a unit test, so this cannot fail in a release.
        Self::parse(BUILT_IN, "built-in").unwrap_or_else(|e| panic!("the built-in config is invalid: {e}"))
    }

    /// Loads `explicit` (flag or `SHIPDECK_CONFIG`), else the user's config file when it exists,
    /// else the built-in default.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path().filter(|p| p.exists()) {
                Some(p) => p,
                None => return Ok(Self::built_in()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        let invalid = |path: &str, span: Option<std::ops::Range<usize>>, message: String| {
            let line = span
                .map(|s| locate::line_of_offset(text, s.start))
                .or_else(|| locate::line_of_key(text, path))
                .unwrap_or(1);
            let key = if path.is_empty() || path == "." { String::new() } else { format!("key \"{path}\": ") };
            ConfigError::Invalid { file: file.to_owned(), line, key, message }
        };
        let de = toml::Deserializer::parse(text).map_err(|e| invalid("", e.span(), e.message().to_owned()))?;
        let raw: sections::RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            invalid(&path, inner.span(), inner.message().to_owned())
        })?;
        raw.validate().map_err(|(path, message)| invalid(&path, None, message)).map(|mut c| {
            c.source = file.to_owned();
            c
        })
    }

    /// The person with this name, if configured.
    #[must_use]
    pub fn person(&self, name: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.name == name)
    }

    /// The declared environment with this name, or an error listing the declared ones.
    pub fn environment(&self, name: &str) -> Result<&Environment, ConfigError> {
        self.environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| ConfigError::UnknownEnvironment(sections::unknown_environment(name, &self.environments)))
    }

    /// The model to deploy into `environment` with: both declared, and the model meant for it.
    pub fn model_for(&self, name: &str, environment: &str) -> Result<&DeploymentModel, ConfigError> {
        self.environment(environment)?;
        let model = self.model(name)?;
        if !model.environments.is_empty() && !model.environments.iter().any(|e| e == environment) {
            return Err(ConfigError::ModelNotFor {
                name: name.to_owned(),
                environments: model.environments.join(", "),
                environment: environment.to_owned(),
            });
        }
        Ok(model)
    }

    /// The model with this name, or an error listing the ones that exist.
    pub fn model(&self, name: &str) -> Result<&DeploymentModel, ConfigError> {
        self.models.get(name).ok_or_else(|| ConfigError::UnknownModel {
            name: name.to_owned(),
            known: self.models.keys().map(String::as_str).collect::<Vec<_>>().join(", "),
        })
    }
}

/// `$XDG_CONFIG_HOME/shipdeck/shipdeck.toml`, or `~/.config/shipdeck/shipdeck.toml`.
#[must_use]
pub fn default_path() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("shipdeck").join("shipdeck.toml"))
}

/// `$XDG_DATA_HOME/shipdeck/shipdeck.db`, or `~/.local/share/shipdeck/shipdeck.db`.
#[must_use]
pub fn default_db_path() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("shipdeck").join("shipdeck.db"))
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(fallback)))
}

#[cfg(test)]
mod tests;
