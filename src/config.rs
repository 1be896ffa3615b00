//! Loading the broker's configuration: the built-in defaults (the `Default` impls of
//! [`Config`]), then an optional YAML file (`--config FILE`), then
//! environment overrides `ROOST__<SECTION>__<KEY>`. A typo or a bad value stops
//! start-up with a message that names the full key and where it was set, because a
//! broker that silently ignores `max_inflght: 64` runs with a limit nobody chose.

use sections::{SharedStrategy, Verify};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every section's types, wherever the crate that owns the section keeps them.
mod sections {
    pub use super::LogConfig;
    pub use roost_access::config::*;
    pub use roost_actors::config::*;
    pub use roost_admin::{ChaosConfig, HttpAuthConfig, HttpConfig};
}

/// The whole configuration tree: each section belongs to the crate that uses
/// it; this is the one place that knows them all.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub node: sections::NodeConfig,
    pub listeners: sections::ListenersConfig,
    pub mqtt: sections::MqttConfig,
    pub router: sections::RouterConfig,
    pub retainer: sections::RetainerConfig,
    pub sys_topics: sections::SysTopicsConfig,
    pub log: LogConfig,
    pub http: sections::HttpConfig,
    pub chaos: sections::ChaosConfig,
    pub supervision: sections::SupervisionConfig,
    /// The authentication chain, in order (empty = no authentication).
    pub authentication: Vec<sections::AuthenticatorConfig>,
    /// Whether a client no authenticator had an answer for is let in; `None`
    /// (the default) means yes when `authentication` is empty, no otherwise.
    pub allow_anonymous: Option<bool>,
    pub authorization: sections::AuthorizationConfig,
    pub cluster: sections::ClusterConfig,
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
            supervision: self.supervision.clone(),
        }
    }
}

/// `log.*`.
#[derive(Debug, Clone, Deserialize, Serialize)]
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

/// Environment variables starting with this (any case) override configuration keys.
pub const ENV_PREFIX: &str = "ROOST__";

/// Separates the levels of a key in an environment variable name: a single `_` can
/// then stay inside key names (`ROOST__MQTT__MAX_INFLIGHT` is `mqtt.max_inflight`).
const ENV_SEPARATOR: &str = "__";

/// Keys whose value is a list (of authenticators, of sources): an environment
/// variable sets the whole list as YAML text, e.g.
/// `ROOST__AUTHENTICATION='[{mechanism: password_based, backend: built_in_database}]'`.
const LIST_KEYS: &[&str] = &["authentication", "authorization.sources"];

/// What the `config` crate records as the origin of values from the environment.
const ENV_ORIGIN: &str = "the environment";

/// The largest MQTT packet: a 268,435,455-byte remaining length plus a 5-byte header.
const MQTT_MAX_PACKET_SIZE: u32 = 268_435_460;

/// Smaller limits would reject an ordinary CONNECT and leave the broker unusable.
const MIN_PACKET_SIZE: u32 = 16;

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

/// Loads the configuration from the defaults, the optional `file` and the
/// `ROOST__*` variables among `env`, then checks value ranges.
///
/// `env` is passed in (rather than read here) so tests need not touch the
/// process environment; `main` passes `std::env::vars_os()`.
pub fn load<I>(file: Option<&Path>, env: I) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
{
    let env = roost_env(env)?;
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Yaml));
    }
    let (lists, env): (Vec<_>, Vec<_>) = env
        .into_iter()
        .partition(|(name, _)| list_key(name).is_some());
    for (name, value) in &lists {
        let key = list_key(name).expect("partitioned on it");
        // `authorization.sources` becomes "authorization:\n  sources:\n    <value>".
        let mut yaml = String::new();
        let parts: Vec<&str> = key.split('.').collect();
        for (depth, part) in parts.iter().enumerate() {
            let _ = writeln!(yaml, "{:indent$}{part}:", "", indent = depth * 2);
        }
        for line in value.lines() {
            let _ = writeln!(yaml, "{:indent$}{line}", "", indent = parts.len() * 2);
        }
        builder = builder.add_source(config::File::from_str(&yaml, config::FileFormat::Yaml));
    }
    // Values stay strings (no `try_parsing`): the target field's type converts them,
    // so `ROOST__NODE__NAME=007` stays "007" instead of becoming the number 7, and
    // "1h" or "127.0.0.1:2883" reach their Duration and String fields untouched.
    builder = builder.add_source(
        config::Environment::default()
            .prefix("ROOST")
            .prefix_separator(ENV_SEPARATOR)
            .separator(ENV_SEPARATOR)
            .source(Some(env.iter().cloned().collect())),
    );
    let merged = builder.build().map_err(|e| match e {
        config::ConfigError::FileParse { cause, .. } => ConfigError::Yaml {
            path: file.map(Path::to_path_buf).unwrap_or_default(),
            message: cause.to_string(),
        },
        other => ConfigError::Other(other.to_string()),
    })?;
    let mut merged = merged;
    fill_empty_sections(&mut merged.cache, &sections());
    let sources = Sources {
        merged: &merged,
        file,
        env: &env,
        lists: &lists,
    };
    let config: Config = serde_path_to_error::deserialize(merged.clone())
        .map_err(|e| sources.explain(e.path(), e.inner()))?;
    validate(&config).map_err(|(key, problem)| ConfigError::Invalid {
        origin: sources.origin(&key),
        key,
        problem,
    })?;
    validate_listeners(&config.listeners).map_err(|(key, problem)| ConfigError::Invalid {
        origin: sources.origin(&key),
        key,
        problem,
    })?;
    Ok(config)
}

/// The shape of the configuration (which keys are sections), read from the rendered
/// defaults so it cannot drift from [`render`].
fn sections() -> config::Value {
    config::Config::builder()
        .add_source(config::File::from_str(
            &render(&Config::default()),
            config::FileFormat::Yaml,
        ))
        .build()
        .map(|c| c.cache)
        .unwrap_or_default()
}

/// A section whose keys are all commented out (`mqtt:` and nothing under it) is null
/// in YAML; it means "all defaults", so it becomes an empty section instead of an
/// error.
fn fill_empty_sections(value: &mut config::Value, schema: &config::Value) {
    let (config::ValueKind::Table(table), config::ValueKind::Table(schema)) =
        (&mut value.kind, &schema.kind)
    else {
        return;
    };
    for (key, child) in table.iter_mut() {
        let Some(shape) = schema.get(key) else {
            continue;
        };
        if !matches!(shape.kind, config::ValueKind::Table(_)) {
            continue;
        }
        if matches!(child.kind, config::ValueKind::Nil) {
            child.kind = config::ValueKind::Table(config::Map::new());
        } else {
            fill_empty_sections(child, shape);
        }
    }
}

/// The `ROOST__*` variables, with their names as given (for messages).
fn roost_env<I>(env: I) -> Result<Vec<(String, String)>, ConfigError>
where
    I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
{
    let mut vars = Vec::new();
    for (name, value) in env {
        let Some(name) = name.to_str() else { continue };
        let is_roost = name
            .get(..ENV_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX));
        if !is_roost {
            continue;
        }
        let value = value
            .into_string()
            .map_err(|_| ConfigError::EnvNotUnicode {
                name: name.to_string(),
            })?;
        vars.push((name.to_string(), value));
    }
    Ok(vars)
}

/// The list key an environment variable sets whole, if it is one.
fn list_key(name: &str) -> Option<&'static str> {
    let key = name
        .get(ENV_PREFIX.len()..)?
        .to_ascii_lowercase()
        .replace(ENV_SEPARATOR, ".");
    LIST_KEYS.iter().copied().find(|k| *k == key)
}

/// What was merged, kept to find out where a failing key was set.
struct Sources<'a> {
    merged: &'a config::Config,
    file: Option<&'a Path>,
    env: &'a [(String, String)],
    /// The variables that set a whole list (`ROOST__AUTHENTICATION`).
    lists: &'a [(String, String)],
}

impl Sources<'_> {
    /// Where `key` was set: the environment if a variable set it, else the file if
    /// the file has it, else nowhere (the default).
    fn origin(&self, key: &str) -> Origin {
        // Inside a list set from the environment (`authentication[0].secret`).
        for (name, _) in self.lists {
            let list = list_key(name).expect("only list variables");
            if key
                .strip_prefix(list)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('['))
            {
                return Origin::Env(name.clone());
            }
        }
        // Walk the merged tree itself: `config::Config::get` would copy the value
        // through serde and lose its origin.
        let mut value = &self.merged.cache;
        for part in key.split('.') {
            match &value.kind {
                config::ValueKind::Table(table) => match table.get(part) {
                    Some(child) => value = child,
                    None => return Origin::Default,
                },
                _ => return Origin::Default,
            }
        }
        // A whole section (an unknown one, say) has no origin of its own: its first
        // key's tells where it came from.
        let mut key = key.to_string();
        while let config::ValueKind::Table(table) = &value.kind {
            let Some((child_key, child)) = table.iter().next() else {
                break;
            };
            key = format!("{key}.{child_key}");
            value = child;
        }
        if value.origin() == Some(ENV_ORIGIN) {
            let wanted = format!("{ENV_PREFIX}{}", key.replace('.', ENV_SEPARATOR));
            let name = self
                .env
                .iter()
                .map(|(name, _)| name)
                .find(|name| name.eq_ignore_ascii_case(&wanted))
                .cloned()
                .unwrap_or_else(|| wanted.to_uppercase());
            return Origin::Env(name);
        }
        match self.file {
            Some(path) => Origin::File(path.to_path_buf()),
            None => Origin::Default,
        }
    }

    /// Turns a deserialization failure at `path` into an error naming the key.
    fn explain(
        &self,
        path: &serde_path_to_error::Path,
        error: &config::ConfigError,
    ) -> ConfigError {
        let key = dotted(path);
        match innermost(error) {
            config::ConfigError::Message(message) => match unknown_field(message) {
                Some((field, expected)) => {
                    // serde_path_to_error puts the unknown field itself at the end of the
                    // path, except inside a tagged list entry (an authenticator), where
                    // the path stops at the entry.
                    let key = if key.ends_with(field) {
                        key
                    } else {
                        format!("{key}.{field}")
                    };
                    let parent = key.strip_suffix(field).unwrap_or(&key);
                    let suggestion = expected
                        .iter()
                        .filter(|known| strsim::jaro_winkler(field, known) > 0.8)
                        .max_by(|a, b| {
                            strsim::jaro_winkler(field, a)
                                .total_cmp(&strsim::jaro_winkler(field, b))
                        })
                        .map(|known| format!("{parent}{known}"));
                    ConfigError::UnknownKey {
                        origin: self.origin(&key),
                        key,
                        suggestion,
                    }
                }
                None => ConfigError::Invalid {
                    origin: self.origin(&key),
                    key,
                    problem: message.clone(),
                },
            },
            config::ConfigError::Type {
                unexpected,
                expected,
                ..
            } => ConfigError::Invalid {
                origin: self.origin(&key),
                key,
                problem: format!("expected {expected}, got {unexpected}"),
            },
            other => ConfigError::Invalid {
                origin: self.origin(&key),
                key,
                problem: other.to_string(),
            },
        }
    }
}

/// `listeners.tcp.bind` from serde_path_to_error's segments.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(key, "[{index}]");
            }
            Segment::Map { key: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Enum { variant } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(variant);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    key
}

/// The `config` crate wraps an error in one `At` layer per map level it crosses.
fn innermost(mut error: &config::ConfigError) -> &config::ConfigError {
    while let config::ConfigError::At { error: inner, .. } = error {
        error = inner;
    }
    error
}

/// Reads serde's "unknown field \`x\`, expected one of \`a\`, \`b\`" message: the
/// unknown field and the known ones (serde offers them only as text).
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((field, expected))
}

/// Range checks serde cannot express. Returns the key and what is wrong with it.
fn validate(config: &Config) -> Result<(), (String, String)> {
    validate_ranges(config).map_err(|(key, problem)| (key.to_string(), problem))?;
    // Authenticators and authorization sources: keys, URLs, the ACL file.
    roost_access::validate(&config.authentication, &config.authorization).map_err(|e| {
        match e.split_once(": ") {
            Some((key, problem)) => (key.to_string(), problem.to_string()),
            None => (String::new(), e),
        }
    })
}

fn validate_ranges(config: &Config) -> Result<(), (&'static str, String)> {
    let mqtt = &config.mqtt;
    if !(MIN_PACKET_SIZE..=MQTT_MAX_PACKET_SIZE).contains(&mqtt.max_packet_size) {
        return Err((
            "mqtt.max_packet_size",
            format!(
                "must be between {MIN_PACKET_SIZE} and {MQTT_MAX_PACKET_SIZE} (the MQTT maximum), got {}",
                mqtt.max_packet_size
            ),
        ));
    }
    if !(23..=65535).contains(&mqtt.max_clientid_len) {
        return Err((
            "mqtt.max_clientid_len",
            format!(
                "must be between 23 (the length every MQTT server must accept) and 65535, got {}",
                mqtt.max_clientid_len
            ),
        ));
    }
    if mqtt.max_qos_allowed > 2 {
        return Err((
            "mqtt.max_qos_allowed",
            format!("must be 0, 1 or 2, got {}", mqtt.max_qos_allowed),
        ));
    }
    let multiplier = mqtt.keepalive_multiplier;
    if !(1.0..=65535.0).contains(&multiplier) {
        return Err((
            "mqtt.keepalive_multiplier",
            format!("must be between 1 and 65535, got {multiplier}"),
        ));
    }
    if mqtt.max_inflight == 0 {
        return Err((
            "mqtt.max_inflight",
            "must be at least 1 (it is announced as Receive Maximum, which cannot be 0)".into(),
        ));
    }
    if mqtt.backpressure && mqtt.backpressure_timeout.is_zero() {
        return Err((
            "mqtt.backpressure_timeout",
            "must be longer than 0s while mqtt.backpressure is on".into(),
        ));
    }
    if config.router.shards == 0 {
        return Err(("router.shards", "must be at least 1".into()));
    }
    if config.retainer.msg_clear_interval.is_zero() {
        return Err((
            "retainer.msg_clear_interval",
            "must be longer than 0s".into(),
        ));
    }
    let cluster = &config.cluster;
    if cluster.enabled {
        if cluster.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "cluster.bind",
                format!("{:?} is not an address ip:port", cluster.bind),
            ));
        }
        if cluster.cookie.is_empty() {
            return Err(("cluster.cookie", "must not be empty".into()));
        }
        if cluster.discovery == sections::Discovery::Dns && cluster.dns.name.is_empty() {
            return Err((
                "cluster.dns.name",
                "must be set when cluster.discovery is dns".into(),
            ));
        }
        if !config.node.name.contains('@') {
            return Err((
                "node.name",
                format!(
                    "{:?} must be name@host in a cluster: the other nodes reach it at host",
                    config.node.name
                ),
            ));
        }
        if cluster.heartbeat_interval.is_zero()
            || cluster.heartbeat_timeout <= cluster.heartbeat_interval
        {
            return Err((
                "cluster.heartbeat_timeout",
                "must be longer than cluster.heartbeat_interval (> 0s)".into(),
            ));
        }
    }
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&config.log.level) {
        return Err((
            "log.level",
            format!("{:?} is not a log filter: {e}", config.log.level),
        ));
    }
    Ok(())
}

/// Checks of `listeners.*` (keys are per listener, so named at run time). The
/// certificate files themselves are read when the broker starts.
fn validate_listeners(listeners: &sections::ListenersConfig) -> Result<(), (String, String)> {
    for l in listeners.all() {
        let key = |k: &str| format!("listeners.{}.{k}", l.name);
        if l.bind.parse::<SocketAddr>().is_err() {
            return Err((
                key("bind"),
                format!(
                    "{:?} is not an IP address and port, e.g. \"0.0.0.0:1883\"",
                    l.bind
                ),
            ));
        }
        if let Some(path) = &l.ws_path {
            if !path.starts_with('/') {
                return Err((key("path"), format!("{path:?} must start with /")));
            }
        }
        if let Some(timeout) = l.proxy_protocol {
            if timeout.is_zero() {
                return Err((
                    key("proxy_protocol_timeout"),
                    "must be longer than 0s".into(),
                ));
            }
        }
        let Some(tls) = &l.tls else { continue };
        if tls.versions.is_empty() {
            return Err((key("versions"), "must name at least one TLS version".into()));
        }
        if tls.handshake_timeout.is_zero() {
            return Err((key("handshake_timeout"), "must be longer than 0s".into()));
        }
        if !l.enabled {
            continue;
        }
        for (name, value) in [("certfile", &tls.certfile), ("keyfile", &tls.keyfile)] {
            if value.is_empty() {
                return Err((
                    key(name),
                    "a PEM file is required when the listener is enabled".into(),
                ));
            }
        }
        if tls.verify != Verify::None && tls.cacertfile.is_empty() {
            return Err((
                key("cacertfile"),
                "a PEM file of CA certificates is required when verify is optional or required"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The effective configuration as YAML with every key, in the layout of
/// `config.yaml`: what `roost check-config` prints, and valid input for `--config`.
///
/// Each section is destructured in full so that a key added to `Config` without
/// being added here fails to compile instead of going missing from the output.
pub fn render(config: &Config) -> String {
    let Config {
        node,
        listeners,
        mqtt,
        router,
        retainer,
        sys_topics,
        log,
        http,
        chaos,
        supervision,
        authentication,
        allow_anonymous,
        authorization,
        cluster,
    } = config;
    let mut out = Yaml::default();

    let sections::NodeConfig { name, data_dir } = node;
    out.section("node", 0);
    out.string("name", name, 1);
    out.string("data_dir", data_dir, 1);

    let sections::ListenersConfig { tcp, tls, ws, wss } = listeners;
    out.section("listeners", 0);
    let sections::TcpListenerConfig {
        enabled,
        bind,
        max_connections,
        proxy_protocol,
        proxy_protocol_timeout,
    } = tcp;
    let common = (*enabled, bind.as_str(), *max_connections);
    render_listener(
        &mut out,
        "tcp",
        common,
        None,
        (*proxy_protocol, *proxy_protocol_timeout),
    );

    let sections::TlsListenerConfig {
        enabled,
        bind,
        max_connections,
        proxy_protocol,
        proxy_protocol_timeout,
        certfile: _,
        keyfile: _,
        cacertfile: _,
        verify: _,
        versions: _,
        handshake_timeout: _,
        peer_cert_as_username: _,
        peer_cert_as_clientid: _,
    } = tls;
    let common = (*enabled, bind.as_str(), *max_connections);
    render_listener(
        &mut out,
        "tls",
        common,
        None,
        (*proxy_protocol, *proxy_protocol_timeout),
    );
    render_tls(&mut out, &tls.tls_options());

    let sections::WsListenerConfig {
        enabled,
        bind,
        max_connections,
        path,
        proxy_protocol,
        proxy_protocol_timeout,
    } = ws;
    let common = (*enabled, bind.as_str(), *max_connections);
    let proxy = (*proxy_protocol, *proxy_protocol_timeout);
    render_listener(&mut out, "ws", common, Some(path), proxy);

    let sections::WssListenerConfig {
        enabled,
        bind,
        max_connections,
        path,
        proxy_protocol,
        proxy_protocol_timeout,
        certfile: _,
        keyfile: _,
        cacertfile: _,
        verify: _,
        versions: _,
        handshake_timeout: _,
        peer_cert_as_username: _,
        peer_cert_as_clientid: _,
    } = wss;
    let common = (*enabled, bind.as_str(), *max_connections);
    let proxy = (*proxy_protocol, *proxy_protocol_timeout);
    render_listener(&mut out, "wss", common, Some(path), proxy);
    render_tls(&mut out, &wss.tls_options());

    let sections::MqttConfig {
        max_packet_size,
        max_clientid_len,
        max_topic_levels,
        max_qos_allowed,
        max_topic_alias,
        retain_available,
        wildcard_subscription,
        shared_subscription,
        shared_subscription_strategy,
        ignore_loop_deliver,
        response_information,
        server_keepalive,
        keepalive_multiplier,
        max_inflight,
        retry_interval,
        max_awaiting_rel,
        await_rel_timeout,
        session_expiry_interval,
        max_mqueue_len,
        mqueue_store_qos0,
        backpressure,
        backpressure_timeout,
        max_subscriptions,
        upgrade_qos,
        idle_timeout,
    } = mqtt;
    out.section("mqtt", 0);
    out.plain("max_packet_size", max_packet_size, 1);
    out.plain("max_clientid_len", max_clientid_len, 1);
    out.plain("max_topic_levels", max_topic_levels, 1);
    out.plain("max_qos_allowed", max_qos_allowed, 1);
    out.plain("max_topic_alias", max_topic_alias, 1);
    out.plain("retain_available", retain_available, 1);
    out.plain("wildcard_subscription", wildcard_subscription, 1);
    out.plain("shared_subscription", shared_subscription, 1);
    out.plain(
        "shared_subscription_strategy",
        strategy_name(*shared_subscription_strategy),
        1,
    );
    out.plain("ignore_loop_deliver", ignore_loop_deliver, 1);
    out.string("response_information", response_information, 1);
    match server_keepalive {
        Some(seconds) => out.plain("server_keepalive", seconds, 1),
        None => out.plain("server_keepalive", "~", 1),
    }
    out.plain(
        "keepalive_multiplier",
        format_float(*keepalive_multiplier),
        1,
    );
    out.plain("max_inflight", max_inflight, 1);
    out.duration("retry_interval", *retry_interval, 1);
    out.plain("max_awaiting_rel", max_awaiting_rel, 1);
    out.duration("await_rel_timeout", *await_rel_timeout, 1);
    out.duration("session_expiry_interval", *session_expiry_interval, 1);
    out.plain("max_mqueue_len", max_mqueue_len, 1);
    out.plain("mqueue_store_qos0", mqueue_store_qos0, 1);
    out.plain("backpressure", backpressure, 1);
    out.duration("backpressure_timeout", *backpressure_timeout, 1);
    out.plain("max_subscriptions", max_subscriptions, 1);
    out.plain("upgrade_qos", upgrade_qos, 1);
    out.duration("idle_timeout", *idle_timeout, 1);

    let sections::RouterConfig { shards } = router;
    out.section("router", 0);
    out.plain("shards", shards, 1);

    let sections::RetainerConfig {
        max_retained_messages,
        max_payload_size,
        msg_expiry_interval,
        msg_clear_interval,
    } = retainer;
    out.section("retainer", 0);
    out.plain("max_retained_messages", max_retained_messages, 1);
    out.plain("max_payload_size", max_payload_size, 1);
    out.duration("msg_expiry_interval", *msg_expiry_interval, 1);
    out.duration("msg_clear_interval", *msg_clear_interval, 1);

    let sections::SysTopicsConfig { sys_msg_interval } = sys_topics;
    out.section("sys_topics", 0);
    out.duration("sys_msg_interval", *sys_msg_interval, 1);

    let sections::LogConfig { level } = log;
    out.section("log", 0);
    out.string("level", level, 1);

    let sections::HttpConfig {
        enabled,
        bind,
        auth,
    } = http;
    let sections::HttpAuthConfig { username, password } = auth;
    out.section("http", 0);
    out.plain("enabled", enabled, 1);
    out.string("bind", bind, 1);
    out.section("auth", 1);
    out.string("username", username, 2);
    out.string("password", password, 2);

    let sections::ChaosConfig { enabled } = chaos;
    out.section("chaos", 0);
    out.plain("enabled", enabled, 1);

    let sections::SupervisionConfig { intensity, period } = supervision;
    out.section("supervision", 0);
    out.plain("intensity", intensity, 1);
    out.duration("period", *period, 1);

    out.json(
        "authentication",
        &serde_json::to_value(authentication).expect("authenticators serialize"),
        0,
    );
    match allow_anonymous {
        Some(allow) => out.plain("allow_anonymous", allow, 0),
        None => out.plain("allow_anonymous", "~", 0),
    }

    let sections::AuthorizationConfig {
        no_match,
        deny_action,
        cache,
        sources,
    } = authorization;
    let sections::AuthzCacheConfig {
        enabled,
        max_size,
        ttl,
    } = cache;
    out.section("authorization", 0);
    out.json(
        "no_match",
        &serde_json::to_value(no_match).expect("enum"),
        1,
    );
    out.json(
        "deny_action",
        &serde_json::to_value(deny_action).expect("enum"),
        1,
    );
    out.section("cache", 1);
    out.plain("enabled", enabled, 2);
    out.plain("max_size", max_size, 2);
    out.duration("ttl", *ttl, 2);
    out.json(
        "sources",
        &serde_json::to_value(sources).expect("sources serialize"),
        1,
    );
    let sections::ClusterConfig {
        enabled,
        bind,
        cookie,
        discovery,
        seeds,
        dns,
        heartbeat_interval,
        heartbeat_timeout,
        reconnect_max_backoff,
    } = cluster;
    out.section("cluster", 0);
    out.plain("enabled", enabled, 1);
    out.string("bind", bind, 1);
    out.string("cookie", cookie, 1);
    out.plain(
        "discovery",
        match discovery {
            sections::Discovery::Static => "static",
            sections::Discovery::Dns => "dns",
        },
        1,
    );
    out.list("seeds", seeds, 1);
    let sections::ClusterDnsConfig { name, port } = dns;
    out.section("dns", 1);
    out.string("name", name, 2);
    out.plain("port", port, 2);
    out.duration("heartbeat_interval", *heartbeat_interval, 1);
    out.duration("heartbeat_timeout", *heartbeat_timeout, 1);
    out.duration("reconnect_max_backoff", *reconnect_max_backoff, 1);

    out.0
}

/// The TLS keys of a `tls` or `wss` listener. [`TlsOptions`] is destructured in
/// full, so a new TLS key fails to compile until it is rendered here.
///
/// [`TlsOptions`]: sections::TlsOptions
/// The keys every listener has: `(enabled, bind, max_connections)`, the
/// WebSocket `path` if any, then `(proxy_protocol, proxy_protocol_timeout)`.
fn render_listener(
    out: &mut Yaml,
    name: &str,
    (enabled, bind, max_connections): (bool, &str, usize),
    path: Option<&str>,
    (proxy_protocol, proxy_protocol_timeout): (bool, Duration),
) {
    out.section(name, 1);
    out.plain("enabled", enabled, 2);
    out.string("bind", bind, 2);
    out.plain("max_connections", max_connections, 2);
    if let Some(path) = path {
        out.string("path", path, 2);
    }
    out.plain("proxy_protocol", proxy_protocol, 2);
    out.duration("proxy_protocol_timeout", proxy_protocol_timeout, 2);
}

fn render_tls(out: &mut Yaml, tls: &sections::TlsOptions) {
    let sections::TlsOptions {
        certfile,
        keyfile,
        cacertfile,
        verify,
        versions,
        handshake_timeout,
        peer_cert_as_username,
        peer_cert_as_clientid,
    } = tls;
    out.string("certfile", certfile, 2);
    out.string("keyfile", keyfile, 2);
    out.string("cacertfile", cacertfile, 2);
    let verify = match verify {
        Verify::None => "none",
        Verify::Optional => "optional",
        Verify::Required => "required",
    };
    out.plain("verify", verify, 2);
    let versions: Vec<&str> = versions.iter().map(|v| v.name()).collect();
    out.plain("versions", format!("[{}]", versions.join(", ")), 2);
    out.duration("handshake_timeout", *handshake_timeout, 2);
    out.plain("peer_cert_as_username", peer_cert_as_username.name(), 2);
    out.plain("peer_cert_as_clientid", peer_cert_as_clientid.name(), 2);
}

/// The name `config.yaml` uses for a strategy (serde's `snake_case`).
fn strategy_name(strategy: SharedStrategy) -> &'static str {
    match strategy {
        SharedStrategy::Random => "random",
        SharedStrategy::RoundRobin => "round_robin",
        SharedStrategy::HashClientid => "hash_clientid",
        SharedStrategy::HashTopic => "hash_topic",
    }
}

/// Keeps a float a float in YAML (`2.0`, not `2`), so reading it back gives the same.
fn format_float(value: f64) -> String {
    let text = value.to_string();
    if text.contains(['.', 'e', 'i', 'N']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// A map key as YAML: double-quoted unless it is a plain word.
fn yaml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        serde_json::Value::String(k.to_string()).to_string()
    }
}

/// A minimal YAML writer for [`render`]: nested maps of scalars is all it needs.
#[derive(Default)]
struct Yaml(String);

impl Yaml {
    fn section(&mut self, name: &str, depth: usize) {
        let _ = writeln!(self.0, "{:indent$}{name}:", "", indent = depth * 2);
    }

    fn plain(&mut self, name: &str, value: impl fmt::Display, depth: usize) {
        let _ = writeln!(self.0, "{:indent$}{name}: {value}", "", indent = depth * 2);
    }

    /// Double-quoted, so values like `007` or `true` stay strings when read back.
    fn string(&mut self, name: &str, value: &str, depth: usize) {
        let mut quoted = String::with_capacity(value.len() + 2);
        quoted.push('"');
        for c in value.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                c if c.is_control() => {
                    let _ = write!(quoted, "\\u{:04x}", c as u32);
                }
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        self.plain(name, quoted, depth);
    }

    /// A JSON value (lists of authenticators and sources) as block YAML.
    fn json(&mut self, name: &str, value: &serde_json::Value, depth: usize) {
        use serde_json::Value;
        match value {
            Value::Array(items) if items.is_empty() => self.plain(name, "[]", depth),
            Value::Object(map) if map.is_empty() => self.plain(name, "{}", depth),
            Value::Array(items) => {
                self.section(name, depth);
                for item in items {
                    let Value::Object(map) = item else {
                        let _ =
                            writeln!(self.0, "{:indent$}- {item}", "", indent = (depth + 1) * 2);
                        continue;
                    };
                    let mut inner = Yaml::default();
                    // The tags first: an entry reads "- mechanism: jwt", then its settings.
                    let tags = ["mechanism", "backend", "type"];
                    let first = tags.iter().filter_map(|t| map.get_key_value(*t));
                    let rest = map.iter().filter(|(k, _)| !tags.contains(&k.as_str()));
                    for (k, v) in first.chain(rest) {
                        inner.json(&yaml_key(k), v, 0);
                    }
                    for (i, line) in inner.0.lines().enumerate() {
                        let lead = if i == 0 { "- " } else { "  " };
                        let _ = writeln!(
                            self.0,
                            "{:indent$}{lead}{line}",
                            "",
                            indent = (depth + 1) * 2
                        );
                    }
                }
            }
            Value::Object(map) => {
                self.section(name, depth);
                for (k, v) in map {
                    self.json(&yaml_key(k), v, depth + 1);
                }
            }
            Value::String(text) => self.string(name, text, depth),
            Value::Null => self.plain(name, "~", depth),
            other => self.plain(name, other, depth),
        }
    }

    /// A flow list of double-quoted strings (`[]` when empty).
    fn list(&mut self, name: &str, values: &[String], depth: usize) {
        let mut items = Vec::with_capacity(values.len());
        for v in values {
            let mut one = Yaml::default();
            one.string("x", v, 0);
            items.push(one.0.trim_end().trim_start_matches("x: ").to_string());
        }
        self.plain(name, format!("[{}]", items.join(", ")), depth);
    }

    fn duration(&mut self, name: &str, value: Duration, depth: usize) {
        if value.is_zero() {
            self.plain(name, "0s", depth);
        } else {
            let text = humantime_serde::re::humantime::format_duration(value);
            self.plain(name, text, depth);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn load_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load(None, env(vars))
    }

    fn shipped() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.yaml"))
    }

    #[test]
    fn defaults_load_without_a_file() {
        let config = load_env(&[]).unwrap();
        assert_eq!(config.mqtt.max_inflight, 32);
        assert_eq!(config.listeners.tcp.bind, "0.0.0.0:1883");
    }

    #[test]
    fn env_values_reach_their_typed_fields() {
        let config = load_env(&[
            ("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:2883"),
            ("ROOST__MQTT__MAX_INFLIGHT", "64"),
            ("ROOST__MQTT__SESSION_EXPIRY_INTERVAL", "1h"),
            ("ROOST__MQTT__SERVER_KEEPALIVE", "30"),
            ("ROOST__MQTT__KEEPALIVE_MULTIPLIER", "2"),
            ("ROOST__MQTT__RETAIN_AVAILABLE", "false"),
            ("ROOST__MQTT__SHARED_SUBSCRIPTION_STRATEGY", "hash_topic"),
            ("ROOST__NODE__NAME", "007"),
            ("ROOST__LOG__LEVEL", "true"),
            ("roost__router__shards", "3"),
            ("ROOST_SINGLE_UNDERSCORE", "ignored"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(config.listeners.tcp.bind, "127.0.0.1:2883");
        assert_eq!(config.mqtt.max_inflight, 64);
        assert_eq!(
            config.mqtt.session_expiry_interval,
            Duration::from_secs(3600)
        );
        assert_eq!(config.mqtt.server_keepalive, Some(30));
        assert_eq!(config.mqtt.keepalive_multiplier, 2.0);
        assert!(!config.mqtt.retain_available);
        assert_eq!(
            config.mqtt.shared_subscription_strategy,
            SharedStrategy::HashTopic
        );
        assert_eq!(config.node.name, "007");
        assert_eq!(config.log.level, "true");
        assert_eq!(config.router.shards, 3);
    }

    #[test]
    fn unknown_env_key_is_named_with_its_variable_and_a_suggestion() {
        let err = load_env(&[("ROOST__MQTT__MAX_INFLGHT", "3")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown key mqtt.max_inflght (from environment variable ROOST__MQTT__MAX_INFLGHT); \
             did you mean mqtt.max_inflight?"
        );
    }

    #[test]
    fn unknown_section_is_named() {
        let err = load_env(&[("ROOST__MQTTT__MAX_INFLIGHT", "3")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown key mqttt (from environment variable"),
            "{err}"
        );
    }

    #[test]
    fn bad_env_value_is_named() {
        let err = load_env(&[("ROOST__MQTT__MAX_INFLIGHT", "abc")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mqtt.max_inflight: expected an integer, got string \"abc\" \
             (from environment variable ROOST__MQTT__MAX_INFLIGHT)"
        );
        let err = load_env(&[("ROOST__MQTT__MAX_INFLIGHT", "70000")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mqtt.max_inflight: expected an unsigned 16 bit"),
            "{err}"
        );
        let err = load_env(&[("ROOST__MQTT__RETRY_INTERVAL", "soon")]).unwrap_err();
        assert!(
            err.to_string().starts_with("mqtt.retry_interval: "),
            "{err}"
        );
        let err = load_env(&[("ROOST__MQTT__SHARED_SUBSCRIPTION_STRATEGY", "sticky")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mqtt.shared_subscription_strategy: "),
            "{err}"
        );
    }

    #[test]
    fn nested_unknown_key_in_a_file_is_named_with_the_file() {
        let dir = std::env::temp_dir().join(format!("roost-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("typo.yaml");
        std::fs::write(&path, "listeners:\n  tcp:\n    bnd: \"127.0.0.1:1\"\n").unwrap();
        let err = load(Some(&path), env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "unknown key listeners.tcp.bnd (in {}); did you mean listeners.tcp.bind?",
                path.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_sections_mean_defaults() {
        let dir = std::env::temp_dir().join(format!("roost-empty-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty.yaml");
        std::fs::write(
            &path,
            "mqtt:\n  # max_inflight: 3\nlisteners:\n  tcp:\nrouter:\n  shards: 2\n",
        )
        .unwrap();
        let config = load(Some(&path), env(&[])).unwrap();
        assert_eq!(config.mqtt.max_inflight, 32);
        assert_eq!(config.listeners.tcp.bind, "0.0.0.0:1883");
        assert_eq!(config.router.shards, 2);
        std::fs::write(&path, "mqtt:\n  server_keepalive: ~\n").unwrap();
        assert_eq!(
            load(Some(&path), env(&[])).unwrap().mqtt.server_keepalive,
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn out_of_range_values_are_named() {
        let cases = [
            (
                "ROOST__MQTT__MAX_QOS_ALLOWED",
                "3",
                "mqtt.max_qos_allowed: ",
            ),
            (
                "ROOST__MQTT__MAX_PACKET_SIZE",
                "8",
                "mqtt.max_packet_size: ",
            ),
            (
                "ROOST__MQTT__MAX_PACKET_SIZE",
                "268435461",
                "mqtt.max_packet_size: ",
            ),
            (
                "ROOST__MQTT__KEEPALIVE_MULTIPLIER",
                "0.5",
                "mqtt.keepalive_multiplier: ",
            ),
            ("ROOST__MQTT__MAX_INFLIGHT", "0", "mqtt.max_inflight: "),
            (
                "ROOST__MQTT__MAX_CLIENTID_LEN",
                "5",
                "mqtt.max_clientid_len: ",
            ),
            (
                "ROOST__MQTT__BACKPRESSURE_TIMEOUT",
                "0s",
                "mqtt.backpressure_timeout: ",
            ),
            ("ROOST__ROUTER__SHARDS", "0", "router.shards: "),
            (
                "ROOST__LISTENERS__TCP__BIND",
                "localhost",
                "listeners.tcp.bind: ",
            ),
            (
                "ROOST__RETAINER__MSG_CLEAR_INTERVAL",
                "0s",
                "retainer.msg_clear_interval: ",
            ),
            ("ROOST__LOG__LEVEL", "info,=", "log.level: "),
        ];
        for (var, value, prefix) in cases {
            let err = load_env(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(prefix), "{var}={value}: {err}");
            assert!(
                err.ends_with(&format!("(from environment variable {var})")),
                "{err}"
            );
        }
    }

    #[test]
    fn listener_keys_are_read_and_checked() {
        use sections::{PeerCertAs, TlsVersion};
        let config = load_env(&[
            ("ROOST__LISTENERS__TLS__VERSIONS", "tlsv1.2"),
            ("ROOST__LISTENERS__WSS__VERSIONS", "tlsv1.3, tlsv1.2"),
            ("ROOST__LISTENERS__TLS__VERIFY", "optional"),
            ("ROOST__LISTENERS__TLS__PEER_CERT_AS_CLIENTID", "cn"),
            ("ROOST__LISTENERS__WS__PATH", "/ws"),
            ("ROOST__LISTENERS__TCP__PROXY_PROTOCOL", "true"),
        ])
        .unwrap();
        assert_eq!(config.listeners.tls.versions, vec![TlsVersion::Tls12]);
        assert_eq!(
            config.listeners.wss.versions,
            vec![TlsVersion::Tls13, TlsVersion::Tls12]
        );
        assert_eq!(config.listeners.tls.verify, Verify::Optional);
        assert_eq!(config.listeners.tls.peer_cert_as_clientid, PeerCertAs::Cn);
        assert_eq!(config.listeners.ws.path, "/ws");
        assert!(config.listeners.tcp.proxy_protocol);
        assert!(!config.listeners.tls.enabled && !config.listeners.wss.enabled);

        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[("ROOST__LISTENERS__TLS__VERSIONS", "tlsv1.1")],
                "listeners.tls.versions: ",
            ),
            (
                &[("ROOST__LISTENERS__TLS__ENABLED", "true")],
                "listeners.tls.certfile: ",
            ),
            (
                &[
                    ("ROOST__LISTENERS__WSS__ENABLED", "true"),
                    ("ROOST__LISTENERS__WSS__CERTFILE", "c.pem"),
                    ("ROOST__LISTENERS__WSS__KEYFILE", "k.pem"),
                    ("ROOST__LISTENERS__WSS__VERIFY", "required"),
                ],
                "listeners.wss.cacertfile: ",
            ),
            (
                &[("ROOST__LISTENERS__WS__PATH", "mqtt")],
                "listeners.ws.path: ",
            ),
            (
                &[("ROOST__LISTENERS__WSS__BIND", "localhost")],
                "listeners.wss.bind: ",
            ),
            (
                &[("ROOST__LISTENERS__TLS__PEER_CERT_AS_USERNAME", "md5")],
                "listeners.tls.peer_cert_as_username: ",
            ),
        ];
        for (vars, prefix) in cases {
            let err = load_env(vars).unwrap_err().to_string();
            assert!(err.starts_with(prefix), "{vars:?}: {err}");
        }
    }

    #[test]
    fn shipped_config_yaml_holds_exactly_the_defaults() {
        let from_file = load(Some(shipped()), env(&[])).unwrap();
        assert_eq!(render(&from_file), render(&Config::default()));
    }

    #[test]
    fn shipped_config_yaml_documents_every_key() {
        fn keys(value: config::Value, prefix: &str, out: &mut Vec<String>) {
            match value.kind {
                config::ValueKind::Table(table) => {
                    for (k, v) in table {
                        keys(v, &format!("{prefix}{k}."), out);
                    }
                }
                _ => out.push(prefix.trim_end_matches('.').to_string()),
            }
        }
        let read = |text: &str| {
            let merged = config::Config::builder()
                .add_source(config::File::from_str(text, config::FileFormat::Yaml))
                .build()
                .unwrap();
            let mut found = Vec::new();
            keys(merged.try_deserialize().unwrap(), "", &mut found);
            found.sort();
            found
        };
        let shipped_text = std::fs::read_to_string(shipped()).unwrap();
        assert_eq!(read(&shipped_text), read(&render(&Config::default())));

        // Every key line has a comment directly above it.
        let lines: Vec<&str> = shipped_text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.ends_with(':') {
                continue;
            }
            let previous = lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .find(|l| !l.is_empty());
            assert!(
                previous.is_some_and(|l| l.starts_with('#')),
                "config.yaml line {} has no comment above it: {line}",
                i + 1
            );
        }
    }

    #[test]
    fn access_lists_come_from_the_environment_as_yaml_and_errors_name_the_entry() {
        let config = load_env(&[
            (
                "ROOST__AUTHENTICATION",
                "[{mechanism: password_based, backend: built_in_database, \
                 password_hash_algorithm: {name: bcrypt}}, {mechanism: jwt, secret: s, \
                 verify_claims: {clientId: \"${clientid}\"}}]",
            ),
            (
                "ROOST__AUTHORIZATION__SOURCES",
                "[{type: built_in_database}]",
            ),
            ("ROOST__AUTHORIZATION__NO_MATCH", "deny"),
            ("ROOST__ALLOW_ANONYMOUS", "true"),
        ])
        .unwrap();
        assert_eq!(config.authentication.len(), 2);
        assert_eq!(config.allow_anonymous, Some(true));
        let sections::AuthenticatorConfig::Jwt(jwt) = &config.authentication[1] else {
            panic!("{:?}", config.authentication[1]);
        };
        assert_eq!(jwt.verify_claims["clientId"], "${clientid}");
        // Read back from the rendered YAML, the same configuration.
        let dir = std::env::temp_dir().join(format!("roost-access-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rendered.yaml");
        std::fs::write(&path, render(&config)).unwrap();
        let again = load(Some(&path), env(&[])).unwrap();
        assert_eq!(render(&again), render(&config));
        std::fs::remove_dir_all(&dir).unwrap();

        let err = load_env(&[("ROOST__AUTHENTICATION", "[{mechanism: jwt, secrett: x}]")])
            .unwrap_err()
            .to_string();
        assert!(
            err == "unknown key authentication[0].secrett (from environment variable \
                    ROOST__AUTHENTICATION); did you mean authentication[0].secret?",
            "{err}"
        );
        let err = load_env(&[("ROOST__AUTHENTICATION", "[{mechanism: jwt}]")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("authentication[0].secret: "), "{err}");
        assert!(
            err.ends_with("(from environment variable ROOST__AUTHENTICATION)"),
            "{err}"
        );
        let err = load_env(&[(
            "ROOST__AUTHORIZATION__SOURCES",
            "[{type: file, path: /no/such/acl.conf}]",
        )])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("authorization.sources[0].path: "), "{err}");
    }

    #[test]
    fn render_reads_back_to_the_same_config() {
        let config = load_env(&[
            ("ROOST__NODE__NAME", "a \"quoted\" 007"),
            ("ROOST__MQTT__SERVER_KEEPALIVE", "60"),
            ("ROOST__MQTT__KEEPALIVE_MULTIPLIER", "2"),
            ("ROOST__MQTT__RETRY_INTERVAL", "1m 30s"),
        ])
        .unwrap();
        let rendered = render(&config);
        let dir = std::env::temp_dir().join(format!("roost-render-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rendered.yaml");
        std::fs::write(&path, &rendered).unwrap();
        let again = load(Some(&path), env(&[])).unwrap();
        assert_eq!(render(&again), rendered);
        assert_eq!(again.node.name, "a \"quoted\" 007");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
