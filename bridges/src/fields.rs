//! Reading a connector's or action's JSON fields the way EMQX's schema
//! accepts them (`"5s"` or `5` for a duration, `"1MB"` for a size, `server`
//! as `host[:port]`), each failure a [`ConfigError`] naming the field by its
//! dotted path. Two ways in: [`parse`] into a typed struct (pgsql, redis), or
//! one field at a time (mqtt, kafka_producer).

use crate::ConfigError;
use roost_rules::engine::template::Template;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// The field `key` of `conf` (an object), or `None` when absent or null.
pub fn get<'a>(conf: &'a Value, key: &str) -> Option<&'a Value> {
    conf.get(key).filter(|v| !v.is_null())
}

/// A text field; `default` when absent.
pub fn string(conf: &Value, key: &str, path: &str, default: &str) -> Result<String, ConfigError> {
    match get(conf, key) {
        None => Ok(default.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ConfigError::new(
            path,
            format!("expected text, got {other}"),
        )),
    }
}

/// A text field that must be there.
pub fn required(conf: &Value, key: &str, path: &str) -> Result<String, ConfigError> {
    match get(conf, key) {
        None => Err(ConfigError::new(path, "required")),
        Some(_) => string(conf, key, path, ""),
    }
}

/// A boolean field; `default` when absent.
pub fn boolean(conf: &Value, key: &str, path: &str, default: bool) -> Result<bool, ConfigError> {
    match get(conf, key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ConfigError::new(
            path,
            format!("expected a boolean, got {other}"),
        )),
    }
}

/// A whole number field in `min..=max`; `default` when absent.
pub fn integer(
    conf: &Value,
    key: &str,
    path: &str,
    default: u64,
    (min, max): (u64, u64),
) -> Result<u64, ConfigError> {
    let n = match get(conf, key) {
        None => return Ok(default),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| ConfigError::new(path, format!("expected a whole number, got {v}")))?,
    };
    if n < min || n > max {
        return Err(ConfigError::new(
            path,
            format!("must be {min} to {max}, got {n}"),
        ));
    }
    Ok(n)
}

/// A duration (`"5s"`, `"300ms"`, `"2m"`, `"1h"`, or a number of seconds,
/// as EMQX's `emqx_schema:duration()` reads them); `default` when absent.
pub fn duration(
    conf: &Value,
    key: &str,
    path: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let bad =
        |v: &Value| ConfigError::new(path, format!("expected a duration such as \"5s\", got {v}"));
    match get(conf, key) {
        None => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| bad(&Value::Number(n.clone()))),
        Some(v @ Value::String(s)) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let n: u64 = s[..split].parse().map_err(|_| bad(v))?;
            let ms = match &s[split..] {
                "ms" => 1,
                "" | "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad(v)),
            };
            Ok(Duration::from_millis(n * ms))
        }
        Some(v) => Err(bad(v)),
    }
}

/// A byte size (`"1MB"`, `"512KB"`, or a number of bytes, as EMQX's
/// `emqx_schema:bytesize()`); `default` when absent.
pub fn bytesize(conf: &Value, key: &str, path: &str, default: u64) -> Result<u64, ConfigError> {
    let bad =
        |v: &Value| ConfigError::new(path, format!("expected a size such as \"1MB\", got {v}"));
    match get(conf, key) {
        None => Ok(default),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| bad(&Value::Number(n.clone()))),
        Some(v @ Value::String(s)) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let n: u64 = s[..split].parse().map_err(|_| bad(v))?;
            let unit = match s[split..].to_ascii_uppercase().as_str() {
                "" | "B" => 1,
                "KB" => 1 << 10,
                "MB" => 1 << 20,
                "GB" => 1 << 30,
                _ => return Err(bad(v)),
            };
            Ok(n * unit)
        }
        Some(v) => Err(bad(v)),
    }
}

/// A `${...}` template field. Numbers and booleans are taken as their text
/// (EMQX accepts `"qos": 1` or `"qos": "${qos}"` alike).
pub fn template(
    conf: &Value,
    key: &str,
    path: &str,
    default: &str,
) -> Result<Template, ConfigError> {
    let text = match get(conf, key) {
        None => default.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(v) => {
            return Err(ConfigError::new(
                path,
                format!("expected a template, got {v}"),
            ))
        }
    };
    Template::parse(&text).map_err(|why| ConfigError::new(path, why))
}

/// A field that must be one of `choices`; the first is the default.
pub fn one_of(
    conf: &Value,
    key: &str,
    path: &str,
    choices: &[&'static str],
) -> Result<&'static str, ConfigError> {
    let given = string(conf, key, path, choices[0])?;
    choices
        .iter()
        .find(|c| **c == given)
        .copied()
        .ok_or_else(|| ConfigError::new(path, format!("must be one of {choices:?}, got {given:?}")))
}

/// The fields of `conf` as `T` (which denies unknown fields); an error names
/// the field at fault by its dotted path under `prefix` (`parameters`).
pub(crate) fn parse<T: DeserializeOwned>(
    prefix: &str,
    conf: &serde_json::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(conf).map_err(|e| {
        // The path includes an unknown field's own name.
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (_, ".") | (_, "") => prefix.to_string(),
            (true, p) => p.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        ConfigError::new(field, e.into_inner().to_string())
    })
}

/// EMQX's `server`: `host`, `host:port` or `[v6]:port`, with the type's
/// default port when none is given.
pub(crate) fn server(
    field: &str,
    text: &str,
    default_port: u16,
) -> Result<(String, u16), ConfigError> {
    let bad = |why: &str| ConfigError::new(field, format!("{text:?}: {why}"));
    let text = text.trim();
    if text.is_empty() {
        return Err(bad("must be host or host:port"));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad("must be host or host:port")),
        }
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(bad("an IPv6 address goes in brackets: [::1]:port")),
            None => (text, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("bad port"))?,
        None => default_port,
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
        #[serde(default)]
        b: Option<Inner>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        c: bool,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<T>("", &serde_json::json!({"a": "x"})).unwrap_err();
        assert_eq!(e.field, "a");
        let e = parse::<T>("parameters", &serde_json::json!({"a": 1, "zz": 1})).unwrap_err();
        assert_eq!(e.field, "parameters.zz");
        let e = parse::<T>("", &serde_json::json!({"a": 1, "b": {"d": 1}})).unwrap_err();
        assert_eq!(e.field, "b.d");
        let e = parse::<T>("", &serde_json::json!({})).unwrap_err();
        assert!(e.why.contains("missing field `a`"), "{e}");
    }

    #[test]
    fn servers_take_the_default_port() {
        assert_eq!(server("server", "db", 5432).unwrap(), ("db".into(), 5432));
        assert_eq!(
            server("server", "db:6000", 5432).unwrap(),
            ("db".into(), 6000)
        );
        assert_eq!(server("server", "[::1]:7", 1).unwrap(), ("::1".into(), 7));
        assert_eq!(server("server", "db:x", 1).unwrap_err().field, "server");
        assert!(server("server", "", 1).is_err());
    }
}
