//! The HTTP client of the HTTP authenticator and authorizer: one JSON POST per
//! decision on hyper's HTTP/1 connection API (hyper is already in the broker for
//! the REST API), one connection per request, plain `http://` only. Decisions
//! are cached per client by the authorization cache, so a pool buys little.

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::time::Duration;

/// A configured endpoint: where to POST and with which headers and body template.
#[derive(Debug, Clone)]
pub struct Endpoint {
    uri: Uri,
    authority: String,
    headers: BTreeMap<String, String>,
    body: BTreeMap<String, String>,
    timeout: Duration,
}

/// What the service answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Endpoint {
    /// Checks the URL (only `http://host:port/path`).
    pub fn new(
        url: &str,
        headers: &BTreeMap<String, String>,
        body: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<Endpoint, String> {
        let uri: Uri = url.parse().map_err(|e| format!("url: {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("url: {url:?}: only http:// URLs are supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("url: {url:?}: no host"))?;
        let authority = match authority.port_u16() {
            Some(_) => authority.to_string(),
            None => format!("{}:80", authority.host()),
        };
        for (k, v) in headers {
            hyper::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("headers: {k:?} is not a valid header name"))?;
            hyper::header::HeaderValue::from_str(v)
                .map_err(|_| format!("headers: {k:?}: {v:?} is not a valid header value"))?;
        }
        Ok(Endpoint {
            uri,
            authority,
            headers: headers.clone(),
            body: body.clone(),
            timeout,
        })
    }

    /// POSTs the body template with `${name}` placeholders replaced by `vars`
    /// (unknown ones become ""), as JSON. `None` on no answer in time or an I/O
    /// error: the caller treats that as "no opinion", as EMQX does.
    pub async fn post(&self, vars: &[(&str, &str)]) -> Option<Answer> {
        let body: serde_json::Map<String, serde_json::Value> = self
            .body
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(fill(v, vars))))
            .collect();
        let body = serde_json::Value::Object(body).to_string();
        match tokio::time::timeout(self.timeout, self.exchange(body)).await {
            Ok(Ok(a)) => Some(a),
            Ok(Err(e)) => {
                tracing::warn!(url = %self.uri, error = %e, "access_http_request_failed");
                None
            }
            Err(_) => {
                tracing::warn!(url = %self.uri, "access_http_request_timeout");
                None
            }
        }
    }

    async fn exchange(&self, body: String) -> Result<Answer, String> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = self
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, &self.authority)
            .header(CONTENT_TYPE, "application/json");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer { status, body })
    }
}

/// Replaces `${name}` in `template` with the value of `name` in `vars`.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if let Some((_, v)) = vars.iter().find(|(k, _)| *k == name) {
                    out.push_str(v);
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `result` of an EMQX-style answer: 200 with `{"result": "allow" | "deny" |
/// "ignore", "is_superuser": bool}`, or 204 = allow; any other status = ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow { superuser: bool },
    Deny,
    Ignore,
}

impl Answer {
    /// Reads the answer the EMQX way (see [`Verdict`]).
    pub fn verdict(&self) -> Verdict {
        if self.status == StatusCode::NO_CONTENT {
            return Verdict::Allow { superuser: false };
        }
        if self.status != StatusCode::OK {
            return Verdict::Ignore;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.body) else {
            return Verdict::Ignore;
        };
        let superuser = v
            .get("is_superuser")
            .is_some_and(|s| s.as_bool() == Some(true) || s.as_str() == Some("true"));
        match v.get("result").and_then(|r| r.as_str()) {
            Some("allow") => Verdict::Allow { superuser },
            Some("deny") => Verdict::Deny,
            _ => Verdict::Ignore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let vars = [("username", "u1"), ("clientid", "c1")];
        assert_eq!(fill("${username}/${clientid}", &vars), "u1/c1");
        assert_eq!(fill("x${nope}y", &vars), "xy");
        assert_eq!(fill("${unterminated", &vars), "${unterminated");
    }

    #[test]
    fn only_http_urls() {
        let none = BTreeMap::new();
        let t = Duration::from_secs(1);
        assert!(Endpoint::new("http://127.0.0.1:8080/auth", &none, &none, t).is_ok());
        assert!(Endpoint::new("https://example.com/auth", &none, &none, t).is_err());
        assert!(Endpoint::new("not a url", &none, &none, t).is_err());
    }
}
