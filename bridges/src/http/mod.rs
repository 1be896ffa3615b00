//! The `http` type (EMQX's webhook): a connector is a pool of `pool_size`
//! HTTP/1.1 connections to `url` (reqwest on rustls, at most `pool_size`
//! requests at once), an action sends one request per rule output with
//! `method`, `path`, `headers` and `body` templates.
//! Connection errors, timeouts and 5xx answers are retriable; other non-2xx
//! answers (4xx) fail.

mod action;

use crate::driver::{BoxFuture, ConfigError, Connector, ConnectorContext, Driver, Sink};
use crate::resource::opts::duration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub struct HttpDriver;

/// The connector's fields, EMQX's names and defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectorConf {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default = "connect_timeout", with = "duration")]
    connect_timeout: Duration,
    #[serde(default = "pool_size")]
    pool_size: usize,
    /// How a request picks its connection: `random` (EMQX's default) is
    /// what the pool does (any idle connection); `hash` is refused.
    #[serde(default)]
    pool_type: Option<String>,
    /// Requests per connection before an answer (HTTP/1.1 pipelining):
    /// reqwest does not pipeline, so only `1` is taken.
    #[serde(default)]
    enable_pipelining: Option<u32>,
    #[serde(default)]
    ssl: Ssl,
    /// The default of its actions' `parameters.max_retries`.
    #[serde(default)]
    max_retries: Option<u32>,
}

fn connect_timeout() -> Duration {
    Duration::from_secs(15)
}

fn pool_size() -> usize {
    8
}

/// EMQX's `ssl` client options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ssl {
    #[serde(default)]
    enable: bool,
    /// `verify_peer` (default) or `verify_none`.
    #[serde(default)]
    verify: Option<String>,
    #[serde(default)]
    cacertfile: Option<String>,
    #[serde(default)]
    certfile: Option<String>,
    #[serde(default)]
    keyfile: Option<String>,
    /// A host name, or `disable`.
    #[serde(default)]
    server_name_indication: Option<String>,
    /// `tlsv1.2` and `tlsv1.3` (rustls has no older ones): the lowest and
    /// highest of the list bound the versions offered.
    #[serde(default)]
    versions: Option<Vec<String>>,
}

/// Deserializes `T` from `v`, naming the field that is wrong.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
    prefix: &str,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix, path.as_str()) {
            (p, ".") => p.to_string(),
            ("", p) => p.to_string(),
            (pre, p) => format!("{pre}.{p}"),
        };
        // An unknown field is named by serde's message, not the path.
        let why = e.into_inner().to_string();
        let field = match unknown_field(&why) {
            Some(f) if field.is_empty() || field == prefix => {
                if prefix.is_empty() {
                    f
                } else {
                    format!("{prefix}.{f}")
                }
            }
            _ => field,
        };
        ConfigError::new(field, why)
    })
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

impl Driver for HttpDriver {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn connector(
        &self,
        _ctx: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let c: ConnectorConf = parse(conf, "")?;
        let url = reqwest::Url::parse(&c.url)
            .map_err(|e| ConfigError::new("url", format!("{:?}: {e}", c.url)))?;
        match url.scheme() {
            "http" => {}
            "https" if c.ssl.enable => {}
            "https" => {
                return Err(ConfigError::new(
                    "ssl.enable",
                    "must be true for an https url",
                ))
            }
            other => {
                return Err(ConfigError::new(
                    "url",
                    format!("scheme {other:?} is not http or https"),
                ))
            }
        }
        if c.pool_size == 0 {
            return Err(ConfigError::new("pool_size", "must be at least 1"));
        }
        match c.pool_type.as_deref() {
            None | Some("random") => {}
            Some(other) => {
                return Err(ConfigError::new(
                    "pool_type",
                    format!(
                        "{other:?}: only random (a request takes any idle connection of the pool)"
                    ),
                ))
            }
        }
        match c.enable_pipelining {
            None | Some(1) => {}
            Some(n) => {
                return Err(ConfigError::new(
                    "enable_pipelining",
                    format!("{n}: only 1 (the HTTP client does not pipeline: one request per connection at a time; pool_size sets how many go at once)"),
                ))
            }
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &c.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ConfigError::new(format!("headers.{k}"), "not a header name"))?;
            let value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| ConfigError::new(format!("headers.{k}"), "not a header value"))?;
            headers.insert(name, value);
        }
        let mut b = reqwest::Client::builder()
            .connect_timeout(c.connect_timeout)
            .pool_max_idle_per_host(c.pool_size)
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none());
        if c.ssl.enable {
            b = tls(b, &c.ssl)?;
        }
        let client = b
            .build()
            .map_err(|e| ConfigError::new("ssl", format!("cannot build the client: {e}")))?;
        Ok(Arc::new(HttpConnector {
            client,
            permits: Arc::new(tokio::sync::Semaphore::new(c.pool_size.max(1))),
            url,
            headers,
            connect_timeout: c.connect_timeout,
            max_retries: c.max_retries,
        }))
    }
}

fn tls(mut b: reqwest::ClientBuilder, ssl: &Ssl) -> Result<reqwest::ClientBuilder, ConfigError> {
    let read = |key: &str, path: &str| {
        std::fs::read(path)
            .map_err(|e| ConfigError::new(format!("ssl.{key}"), format!("{path}: {e}")))
    };
    match ssl.verify.as_deref() {
        None | Some("verify_peer") => {}
        Some("verify_none") => b = b.tls_danger_accept_invalid_certs(true),
        Some(other) => {
            return Err(ConfigError::new(
                "ssl.verify",
                format!("{other:?} is not verify_peer or verify_none"),
            ))
        }
    }
    if let Some(ca) = &ssl.cacertfile {
        let certs = reqwest::Certificate::from_pem_bundle(&read("cacertfile", ca)?)
            .map_err(|e| ConfigError::new("ssl.cacertfile", e.to_string()))?;
        b = b.tls_certs_only(certs);
    }
    match (&ssl.certfile, &ssl.keyfile) {
        (Some(cert), Some(key)) => {
            let mut pem = read("certfile", cert)?;
            pem.extend(read("keyfile", key)?);
            let id = reqwest::Identity::from_pem(&pem)
                .map_err(|e| ConfigError::new("ssl.certfile", e.to_string()))?;
            b = b.identity(id);
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(ConfigError::new("ssl.keyfile", "is required with certfile"))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new("ssl.certfile", "is required with keyfile"))
        }
    }
    if ssl.server_name_indication.as_deref() == Some("disable") {
        b = b.tls_sni(false);
    }
    if let Some(versions) = &ssl.versions {
        let mut known = Vec::new();
        for v in versions {
            known.push(match v.as_str() {
                "tlsv1.2" => reqwest::tls::Version::TLS_1_2,
                "tlsv1.3" => reqwest::tls::Version::TLS_1_3,
                other => {
                    return Err(ConfigError::new(
                        "ssl.versions",
                        format!("{other:?}: only tlsv1.2 and tlsv1.3 (the TLS library has no older version)"),
                    ))
                }
            });
        }
        let (Some(min), Some(max)) = (known.iter().min(), known.iter().max()) else {
            return Err(ConfigError::new("ssl.versions", "no version"));
        };
        b = b.min_tls_version(*min).max_tls_version(*max);
    }
    Ok(b)
}

pub struct HttpConnector {
    client: reqwest::Client,
    /// `pool_size` permits, one per request on the wire: reqwest's pool only
    /// bounds the *idle* connections, so without them every request beyond
    /// those in flight opens a connection of its own, and closes it after
    /// (the buffer workers have up to `worker_pool_size` x
    /// `inflight_window` requests out), which made a fresh TCP connection
    /// per message once the sink was busy.
    permits: Arc<tokio::sync::Semaphore>,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    connect_timeout: Duration,
    max_retries: Option<u32>,
}

impl Connector for HttpConnector {
    /// EMQX's check: the server's port accepts a TCP connection.
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let host = self.url.host_str().ok_or("no host")?.to_string();
            let port = self.url.port_or_known_default().ok_or("no port")?;
            let connect = tokio::net::TcpStream::connect((host.as_str(), port));
            match tokio::time::timeout(self.connect_timeout, connect).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("{host}:{port}: {e}")),
                Err(_) => Err(format!("{host}:{port}: connect timeout")),
            }
        })
    }

    fn action(&self, parameters: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        action::HttpSink::new(self, parameters).map(|s| Arc::new(s) as Arc<dyn Sink>)
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_rules::Map;
    use serde_json::json;

    fn ctx() -> ConnectorContext {
        ConnectorContext {
            name: "c".into(),
            node: "n".into(),
            data_dir: "data".into(),
        }
    }

    #[tokio::test]
    async fn bad_fields_are_named() {
        let d = HttpDriver;
        let e = d
            .connector(&ctx(), &json!({"url": "ftp://x"}))
            .err()
            .unwrap();
        assert_eq!(e.field, "url");
        let e = d
            .connector(&ctx(), &json!({"url": "http://x", "pool_sise": 3}))
            .err()
            .unwrap();
        assert_eq!(e.field, "pool_sise", "{e}");
        let e = d
            .connector(
                &ctx(),
                &json!({"url": "http://x", "connect_timeout": "soon"}),
            )
            .err()
            .unwrap();
        assert_eq!(e.field, "connect_timeout", "{e}");
        let c = d
            .connector(&ctx(), &json!({"url": "http://127.0.0.1:1/base"}))
            .unwrap();
        let e = c.action(&json!({"method": "fly"})).err().unwrap();
        assert_eq!(e.field, "parameters.method");
        let e = c.action(&json!({"metod": "post"})).err().unwrap();
        assert_eq!(e.field, "parameters.metod", "{e}");
        let e = c.action(&json!({"body": "${x"})).err().unwrap();
        assert_eq!(e.field, "parameters.body");
        // Nothing listens on port 1: retriable, and the health check says why.
        let s = c.action(&json!({"path": "/a/${id}"})).unwrap();
        let mut out = Map::new();
        out.insert("id".into(), roost_rules::Value::Int(1));
        let r = s.send(std::slice::from_ref(&out)).await;
        assert!(matches!(r, Err(crate::SendError::Retriable(_))), "{r:?}");
        assert!(c.health_check().await.is_err());
    }
}
