//! The broker's configuration, read from the built-in defaults (the `Default`
//! impls of [`Config`]), then an optional YAML file (`--config FILE`), then
//! environment overrides `ROOST__<SECTION>__<KEY>`. A typo or a bad value stops
//! start-up with a message that names the full key and where it was set, because a
//! broker that silently ignores `max_inflght: 64` runs with a limit nobody chose.
//!
//! Each section's types, their serde and their checks belong to the crate that
//! uses the section; this module puts them together ([`Config`]), reads them
//! ([`load`]) and writes them back as YAML ([`render`], `roost check-config`).

#[cfg(test)]
mod fuzz_corpus;
mod load;
mod render;
#[cfg(test)]
mod tests;

pub use load::load;
pub use render::render;
use roost_core::config::InvalidValue;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Every section's types, wherever the crate that owns the section keeps them.
mod sections {
    pub use roost_access::config::*;
    pub use roost_actors::config::*;
    pub use roost_admin::{ChaosConfig, DashboardConfig, HttpConfig};
    pub use roost_bridges::registry::config::Section as BridgesSection;
    pub use roost_rules::engine::RulesConfig;
    pub use roost_storage::{DurableSessionsConfig, DurableStorageConfig};
}

/// The whole configuration tree: each section belongs to the crate that uses
/// it; this is the one place that knows them all.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub node: sections::NodeConfig,
    pub listeners: sections::ListenersConfig,
    pub mqtt: sections::MqttConfig,
    pub router: sections::RouterConfig,
    pub retainer: sections::RetainerConfig,
    pub sys_topics: sections::SysTopicsConfig,
    pub sysmon: sections::SysmonConfig,
    pub alarm: sections::AlarmConfig,
    pub force_shutdown: sections::ForceShutdownConfig,
    pub overload_protection: sections::OverloadProtectionConfig,
    pub log: LogConfig,
    pub http: sections::HttpConfig,
    pub dashboard: sections::DashboardConfig,
    pub chaos: sections::ChaosConfig,
    pub supervision: sections::SupervisionConfig,
    /// The authentication chain, in order (empty = no authentication).
    pub authentication: Vec<sections::AuthenticatorConfig>,
    /// Whether a client no authenticator had an answer for is let in; `None`
    /// (the default) means yes when `authentication` is empty, no otherwise.
    pub allow_anonymous: Option<bool>,
    /// Blocks client ids, user names and addresses that fail authentication
    /// too often.
    pub authentication_throttle: sections::AuthnThrottleConfig,
    /// Bans client ids that connect and disconnect too often (EMQX 5's).
    pub flapping_detect: sections::FlappingDetectConfig,
    pub authorization: sections::AuthorizationConfig,
    pub cluster: sections::ClusterConfig,
    /// The rule engine: workers, queues, and rules by id.
    pub rules: sections::RulesConfig,
    /// Data integration (EMQX 5's): connectors by type, then name.
    pub connectors: sections::BridgesSection,
    /// Actions (sinks) by type, then name; rules send to `"type:name"`.
    pub actions: sections::BridgesSection,
    /// Sources by type, then name; rules read `FROM "$bridges/type:name"`.
    pub sources: sections::BridgesSection,
    pub durable_sessions: sections::DurableSessionsConfig,
    pub durable_storage: sections::DurableStorageConfig,
}

impl Config {
    /// What the runtime starts from.
    pub fn broker(&self) -> sections::BrokerConfig {
        sections::BrokerConfig {
            node: self.node.clone(),
            listeners: self.listeners.clone(),
            mqtt: self.mqtt.clone(),
            router: self.router.clone(),
            retainer: self.retainer.clone(),
            sys_topics: self.sys_topics.clone(),
            sysmon: self.sysmon.clone(),
            alarm: self.alarm.clone(),
            force_shutdown: self.force_shutdown.clone(),
            overload_protection: self.overload_protection.clone(),
            supervision: self.supervision.clone(),
        }
    }

    /// `connectors`, `actions` and `sources` together, for the registry.
    pub fn bridges(&self) -> roost_bridges::registry::config::BridgesSections {
        roost_bridges::registry::config::BridgesSections {
            connectors: self.connectors.clone(),
            actions: self.actions.clone(),
            sources: self.sources.clone(),
        }
    }

    /// Checks serde cannot express, each section by its own `validate`, in a
    /// fixed order so the same file always reports the same first problem.
    fn validate(&self) -> Result<(), InvalidValue> {
        self.mqtt.validate()?;
        self.router.validate()?;
        self.retainer.validate()?;
        self.durable_storage.validate()?;
        self.cluster.validate(&self.node)?;
        self.flapping_detect.validate()?;
        self.authentication_throttle.validate()?;
        self.log.validate()?;
        self.http.validate()?;
        self.sysmon.validate()?;
        self.force_shutdown.validate()?;
        self.dashboard
            .validate()
            .map_err(|e| match e.split_once(": ") {
                Some((key, problem)) => InvalidValue::new(key, problem),
                None => InvalidValue::new("dashboard", e),
            })?;
        // Authenticators and authorization sources: keys, URLs, the ACL file.
        roost_access::validate(&self.authentication, &self.authorization).map_err(|e| {
            match e.split_once(": ") {
                Some((key, problem)) => InvalidValue::new(key, problem),
                None => InvalidValue::new("", e),
            }
        })?;
        self.rules
            .validate()
            .map_err(|(key, problem)| InvalidValue::new(key, problem))?;
        // Types, names, references, resource_opts; a type's own fields are
        // checked when the registry builds them (src/main.rs, still exit 2).
        let drivers = roost_bridges::drivers();
        let types: Vec<&str> = drivers.iter().map(|d| d.kind()).collect();
        self.bridges()
            .validate(&types)
            .map_err(|(key, problem)| InvalidValue::new(key, problem))?;
        self.listeners.validate()
    }
}

/// `log.*`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `roost_actors=debug,info`...
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// A tracing filter from `directives` (`log.level`, or `RUST_LOG`). Field
/// values in it (`roost_actors[{client_id=abc}]=debug`) match literally: as
/// regular expressions (tracing's default) a short value can take minutes and
/// gigabytes to compile (the fuzz target `config_load` found one in
/// `log.level`; tracing-subscriber's docs warn of the same).
pub fn log_filter(
    directives: &str,
) -> Result<tracing_subscriber::EnvFilter, tracing_subscriber::filter::ParseError> {
    tracing_subscriber::EnvFilter::builder()
        .with_regex(false)
        .parse(directives)
}

impl LogConfig {
    /// The level must be a filter tracing accepts, or logging could not start.
    /// Levels and `target=level` directives only: span and field filters
    /// (`target[span{field=value}]=level`) are refused here, because
    /// tracing-subscriber 0.3 can panic on some of them (a debug assertion in
    /// its directive ordering; the fuzz target `config_load` found one).
    /// `RUST_LOG` takes them for a one-off debugging run.
    fn validate(&self) -> Result<(), InvalidValue> {
        if self.level.contains(['[', ']', '{', '}']) {
            return Err(InvalidValue::new(
                "log.level",
                format!(
                    "{:?}: span and field filters ([...]) are not accepted here; set RUST_LOG for them",
                    self.level
                ),
            ));
        }
        match log_filter(&self.level) {
            Ok(_) => Ok(()),
            Err(e) => Err(InvalidValue::new(
                "log.level",
                format!("{:?} is not a log filter: {e}", self.level),
            )),
        }
    }
}

/// Environment variables starting with this (any case) override configuration keys.
pub const ENV_PREFIX: &str = "ROOST__";

/// Why the configuration could not be loaded. Every variant about a key names it in
/// full (`listeners.tcp.bind`), so the message alone tells the operator what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given with `--config` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{}: not valid YAML: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    /// An environment variable with the `ROOST__` prefix holds bytes that are not UTF-8.
    #[error("environment variable {name} is not valid UTF-8")]
    EnvNotUnicode { name: String },
    /// A key that no section of the configuration has (usually a typo).
    #[error("unknown key {key}{origin}{}", suggestion.as_ref().map(|s| format!("; did you mean {s}?")).unwrap_or_default())]
    UnknownKey {
        key: String,
        origin: Origin,
        suggestion: Option<String>,
    },
    /// A known key whose value has the wrong type or is out of range.
    #[error("{key}: {problem}{origin}")]
    Invalid {
        key: String,
        problem: String,
        origin: Origin,
    },
    /// Anything else the `config` crate reports (kept verbatim).
    #[error("{0}")]
    Other(String),
}

/// Where a value was set, so an error can point at the line to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default (not set anywhere).
    Default,
    /// The file given with `--config`.
    File(PathBuf),
    /// An environment variable, by its name.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => Ok(()),
            Origin::File(path) => write!(f, " (in {})", path.display()),
            Origin::Env(name) => write!(f, " (from environment variable {name})"),
        }
    }
}
