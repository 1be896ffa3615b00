//! Reading the configuration: the defaults, the file, the `ROOST__*`
//! variables, merged by the `config` crate; then turning what serde or a
//! section's `validate` rejects into an error that names the key and where it
//! was set.

use super::{render, Config, ConfigError, Origin, ENV_PREFIX};
use roost_core::config::InvalidValue;
use std::fmt::Write as _;
use std::path::Path;

/// Separates the levels of a key in an environment variable name: a single `_` can
/// then stay inside key names (`ROOST__MQTT__MAX_INFLIGHT` is `mqtt.max_inflight`).
const ENV_SEPARATOR: &str = "__";

/// Keys whose value is a list (of authenticators, of sources) or a map of
/// entries (rules by id): an environment variable sets the whole value as
/// YAML text, e.g.
/// `ROOST__AUTHENTICATION='[{mechanism: password_based, backend: built_in_database}]'`,
/// `ROOST__RULES__RULES='{r1: {sql: "SELECT * FROM \"t/#\"", actions: [{function: console}]}}'`.
const LIST_KEYS: &[&str] = &[
    "authentication",
    "authorization.sources",
    "rules.rules",
    "connectors",
    "actions",
    "sources",
];

/// What the `config` crate records as the origin of values from the environment.
const ENV_ORIGIN: &str = "the environment";

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
        no_indexed_keys(&text, path)?;
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
    fill_empty_sections(&mut merged.cache, sections());
    let sources = Sources {
        merged: &merged,
        file,
        env: &env,
        lists: &lists,
    };
    let config: Config = serde_path_to_error::deserialize(merged.clone())
        .map_err(|e| sources.explain(e.path(), e.inner()))?;
    config
        .validate()
        .map_err(|InvalidValue { key, problem }| ConfigError::Invalid {
            origin: sources.origin(&key),
            key,
            problem,
        })?;
    Ok(config)
}

/// The `config` crate reads each top-level key of a source as a path
/// expression and sets `key[N]` by growing a list to N entries: a key like
/// `x[400000002]` asked for 38 GB and aborted the process (found by the fuzz
/// target `config_load`). Roost's top-level keys are section names, so a key
/// with an index is refused as unknown before the crate builds anything.
fn no_indexed_keys(text: &str, path: &Path) -> Result<(), ConfigError> {
    use config::Source as _;
    let top = config::File::from_str(text, config::FileFormat::Yaml)
        .collect()
        .map_err(|e| ConfigError::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    match top.into_keys().find(|key| key.contains(['[', ']'])) {
        Some(key) => Err(ConfigError::UnknownKey {
            key,
            origin: Origin::File(path.to_path_buf()),
            suggestion: None,
        }),
        None => Ok(()),
    }
}

/// The shape of the configuration (which keys are sections), read from the rendered
/// defaults so it cannot drift from [`render`]. Worked out once per process: it is
/// the same for every load.
fn sections() -> &'static config::Value {
    static SHAPE: std::sync::OnceLock<config::Value> = std::sync::OnceLock::new();
    SHAPE.get_or_init(|| {
        let Ok(defaults) = render(&Config::default()) else {
            return config::Value::default();
        };
        config::Config::builder()
            .add_source(config::File::from_str(&defaults, config::FileFormat::Yaml))
            .build()
            .map(|c| c.cache)
            .unwrap_or_default()
    })
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
        // The name becomes a key path (see `no_indexed_keys`): letters,
        // digits and `_` only, so it cannot carry an index.
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError::UnknownKey {
                key: name.to_string(),
                origin: Origin::Env(name.to_string()),
                suggestion: None,
            });
        }
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
