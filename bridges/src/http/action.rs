//! An http action: one request per rule output, its `path`, `headers` and
//! `body` rendered from the output (EMQX's templates; an empty `body` is
//! the whole output as JSON, as `${.}` is).

use super::{parse, HttpConnector};
use crate::driver::{BoxFuture, ConfigError, SendError, Sink};
use crate::resource::opts::duration;
use roost_rules::engine::template::Template;
use roost_rules::{Map, Value};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The action's `parameters`, EMQX's names and defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "post")]
    method: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    #[serde(default = "request_timeout", with = "duration")]
    request_timeout: Duration,
    /// Times a request that fails retriably is sent again at once, before
    /// the batch is given back to the buffer (which retries until
    /// `request_ttl`): EMQX's, default 2 (or the connector's).
    #[serde(default)]
    max_retries: Option<u32>,
}

fn post() -> String {
    "post".into()
}

fn request_timeout() -> Duration {
    Duration::from_secs(30)
}

pub struct HttpSink {
    client: reqwest::Client,
    /// The connector's: at most `pool_size` requests at once.
    permits: Arc<tokio::sync::Semaphore>,
    method: reqwest::Method,
    base: reqwest::Url,
    path: Template,
    /// The connector's headers, then the action's (templates).
    fixed: reqwest::header::HeaderMap,
    headers: Vec<(reqwest::header::HeaderName, Template)>,
    /// `None`: the whole output as JSON.
    body: Option<Template>,
    timeout: Duration,
    max_retries: u32,
}

impl HttpSink {
    pub fn new(conn: &HttpConnector, p: &serde_json::Value) -> Result<HttpSink, ConfigError> {
        let p: Params = parse(p, "parameters")?;
        let method = match p.method.to_ascii_lowercase().as_str() {
            "post" => reqwest::Method::POST,
            "put" => reqwest::Method::PUT,
            "get" => reqwest::Method::GET,
            "delete" => reqwest::Method::DELETE,
            other => {
                return Err(ConfigError::new(
                    "parameters.method",
                    format!("{other:?} is not post, put, get or delete"),
                ))
            }
        };
        let tpl =
            |key: String, text: &str| Template::parse(text).map_err(|e| ConfigError::new(key, e));
        let mut headers = Vec::new();
        for (k, v) in &p.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                ConfigError::new(format!("parameters.headers.{k}"), "not a header name")
            })?;
            headers.push((name, tpl(format!("parameters.headers.{k}"), v)?));
        }
        let body = match p.body.trim() {
            "" => None,
            b => Some(tpl("parameters.body".into(), b)?),
        };
        Ok(HttpSink {
            client: conn.client.clone(),
            permits: conn.permits.clone(),
            method,
            base: conn.url.clone(),
            path: tpl("parameters.path".into(), &p.path)?,
            fixed: conn.headers.clone(),
            headers,
            body,
            timeout: p.request_timeout,
            max_retries: p.max_retries.or(conn.max_retries).unwrap_or(2),
        })
    }

    /// The URL: the connector's, with the rendered path after its own.
    fn url(&self, out: &Map) -> Result<reqwest::Url, SendError> {
        let path = self.path.render(out);
        if path.is_empty() {
            return Ok(self.base.clone());
        }
        let base = self.base.as_str().trim_end_matches('/');
        let joined = format!("{base}/{}", path.trim_start_matches('/'));
        reqwest::Url::parse(&joined)
            .map_err(|e| SendError::Fatal(format!("path {path:?} makes a bad URL: {e}")))
    }

    /// One output's request, sent again at once up to `max_retries` times
    /// while it fails retriably.
    async fn send_one(&self, out: &Map) -> Result<(), SendError> {
        let mut tries = 0;
        loop {
            match self.request(out).await {
                Err(SendError::Retriable(_)) if tries < self.max_retries => tries += 1,
                result => return result,
            }
        }
    }

    async fn request(&self, out: &Map) -> Result<(), SendError> {
        let body = match &self.body {
            Some(t) => t.render(out),
            None => Value::Map(out.clone()).to_json().to_string(),
        };
        let mut req = self
            .client
            .request(self.method.clone(), self.url(out)?)
            .timeout(self.timeout)
            .headers(self.fixed.clone());
        if !self.fixed.contains_key(reqwest::header::CONTENT_TYPE)
            && !self
                .headers
                .iter()
                .any(|(n, _)| n == reqwest::header::CONTENT_TYPE)
        {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        for (name, t) in &self.headers {
            let v = t.render(out);
            let v = reqwest::header::HeaderValue::from_str(&v)
                .map_err(|_| SendError::Fatal(format!("header {name}: {v:?} is not a value")))?;
            req = req.header(name, v);
        }
        if self.method != reqwest::Method::GET || !body.is_empty() {
            req = req.body(body);
        }
        // Held until the answer is read: then its connection is idle in
        // the pool again for the next request.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| SendError::Retriable("connector stopped".into()))?;
        let mut resp = req.send().await.map_err(|e| {
            // Could not connect, or no answer in time: the server may come back.
            SendError::Retriable(format!("{e}"))
        })?;
        let status = resp.status();
        // The body is read to its end (and dropped) so that the connection
        // goes back to the pool instead of being closed.
        while let Ok(Some(_)) = resp.chunk().await {}
        if status.is_success() {
            return Ok(());
        }
        let why = format!("{} answered {status}", self.base);
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(SendError::Retriable(why))
        } else {
            Err(SendError::Fatal(why))
        }
    }
}

impl Sink for HttpSink {
    /// One request per output (EMQX's http action does not join a batch
    /// into one request), in order. A refused request (4xx) is counted
    /// failed and the next goes; a retriable error ends the batch there,
    /// and says how far it got ([`SendError::Partial`]), so the retry sends
    /// only what was not answered.
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let mut failed = 0;
            let mut last = None;
            for (sent, out) in batch.iter().enumerate() {
                match self.send_one(out).await {
                    Ok(()) => {}
                    Err(SendError::Retriable(why)) if sent == 0 && failed == 0 => {
                        return Err(SendError::Retriable(why))
                    }
                    Err(SendError::Retriable(why)) => {
                        return Err(SendError::Partial { sent, failed, why })
                    }
                    Err(e) => {
                        failed += 1;
                        last = Some(e.to_string());
                    }
                }
            }
            match last {
                None => Ok(()),
                Some(why) if failed == batch.len() => Err(SendError::Fatal(why)),
                Some(why) => Err(SendError::Partial {
                    sent: batch.len(),
                    failed,
                    why,
                }),
            }
        })
    }
}
