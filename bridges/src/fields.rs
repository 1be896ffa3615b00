//! Reading a type's fields from its JSON object: every error names the field
//! (`pool_size: invalid type...`), and `server` is EMQX's `host[:port]`.

use crate::driver::ConfigError;
use serde::de::DeserializeOwned;

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
