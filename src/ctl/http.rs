//! How `roost ctl` talks to the broker: hyper's HTTP/1 connection API (hyper
//! is already in the binary for the server), one request per connection, no
//! pool, no TLS; HTTP basic auth with --username / --password.

use crate::cli::CtlArgs;
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::fmt::Write as _;
use std::time::Duration;

/// How long one request may take, connect included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a `ctl` command failed; printed as `roost ctl: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("bad --url {0:?}: {1}")]
    BadUrl(String, String),
    #[error("cannot connect to {url}: {source} (is the broker running, with http.enabled?)")]
    Connect { url: String, source: std::io::Error },
    #[error("{url}: no answer within {TIMEOUT:?}")]
    Timeout { url: String },
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error(
        "401 Unauthorized: wrong user name or password (--username / --password, or \
         ROOST_CTL_USERNAME / ROOST_CTL_PASSWORD; a dashboard user of the broker)"
    )]
    Unauthorized,
    #[error("{status}: {message}")]
    Refused { status: StatusCode, message: String },
    #[error("unexpected answer from {url}: {message}")]
    BadAnswer { url: String, message: String },
    /// Arguments that make no request (a --context that is not a JSON object).
    #[error("{0}")]
    Usage(String),
    /// What emqx ctl says of a client, trace or topic that is not there.
    #[error("Not Found.")]
    NotFound,
}

impl CtlError {
    /// A 404 read as emqx ctl's `Not Found.`; any other error kept.
    pub fn not_found(self) -> CtlError {
        match self {
            CtlError::Refused { status, .. } if status == StatusCode::NOT_FOUND => {
                CtlError::NotFound
            }
            e => e,
        }
    }
}

/// An error body of the API.
#[derive(Debug, Deserialize)]
struct ApiError {
    message: String,
}

/// Percent-encodes one path segment (user ids and CIDR ranges hold `/`).
pub fn segment(v: &str) -> String {
    percent_encode(v, b"-_.~:")
}

/// Paths may be given without the root's `roost/`.
pub fn full_path(p: &str) -> String {
    let p = p.trim_matches('/');
    if p == "roost" || p.starts_with("roost/") {
        p.to_string()
    } else {
        format!("roost/{p}")
    }
}

/// Percent-encodes a query value (paths hold `:` and `/`, client ids anything).
pub fn encode_query(v: &str) -> String {
    percent_encode(v, b"-_.~/:")
}

/// Percent-encodes every byte of `v` but ASCII letters, digits and `keep`.
fn percent_encode(v: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The broker's HTTP API as ctl reaches it.
pub struct Client {
    url: String,
    authority: String,
    base: String,
    auth: String,
    /// ctl's own password (`admins passwd` sends it as the old one).
    pub password: String,
}

impl Client {
    pub fn new(args: &CtlArgs) -> Result<Client, CtlError> {
        let bad = |m: &str| CtlError::BadUrl(args.url.clone(), m.to_string());
        let uri: Uri = args.url.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(s) => return Err(bad(&format!("scheme {s} is not supported, use http://"))),
            None => return Err(bad("expected http://HOST:PORT")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let authority = match authority.port_u16() {
            Some(_) => authority.to_string(),
            None => format!("{}:80", authority.host()),
        };
        let username = args
            .username
            .clone()
            .or_else(|| std::env::var("ROOST_CTL_USERNAME").ok())
            .unwrap_or_else(|| "admin".into());
        let password = args
            .password
            .clone()
            .or_else(|| std::env::var("ROOST_CTL_PASSWORD").ok())
            .unwrap_or_else(|| "public".into());
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Ok(Client {
            url: args.url.trim_end_matches('/').to_string(),
            authority,
            base: uri.path().trim_end_matches('/').to_string(),
            auth: format!("Basic {token}"),
            password,
        })
    }

    /// Sends one request; returns the body of a 2xx answer, else the error the
    /// status stands for.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> Result<Bytes, CtlError> {
        self.send(method, path, json, true).await
    }

    /// [`Self::request`] without credentials (`GET /status`).
    pub async fn request_public(&self, path: &str) -> Result<Bytes, CtlError> {
        self.send(Method::GET, path, None, false).await
    }

    /// `GET path` parsed as JSON.
    pub async fn get(&self, path: &str) -> Result<serde_json::Value, CtlError> {
        let body = self.request(Method::GET, path, None).await?;
        self.parse(&body)
    }

    /// Every item of a paged listing (`{"data": [...], "meta": {"hasnext"}}`),
    /// page after page.
    pub async fn all_pages(&self, path: &str) -> Result<Vec<serde_json::Value>, CtlError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        for page in 1.. {
            let v = self
                .get(&format!("{path}{sep}page={page}&limit=1000"))
                .await?;
            let data = v["data"].as_array().cloned().unwrap_or_default();
            let more = v["meta"]["hasnext"] == true && !data.is_empty();
            items.extend(data);
            if !more {
                break;
            }
        }
        Ok(items)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
        auth: bool,
    ) -> Result<Bytes, CtlError> {
        let url = format!("{}{}", self.url, path);
        match tokio::time::timeout(TIMEOUT, self.exchange(method, path, json, auth)).await {
            Ok(r) => r,
            Err(_) => Err(CtlError::Timeout { url }),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
        auth: bool,
    ) -> Result<Bytes, CtlError> {
        let url = format!("{}{}", self.url, path);
        let http_err = |e: hyper::Error| CtlError::Http {
            url: url.clone(),
            message: e.to_string(),
        };
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|source| CtlError::Connect {
                url: self.url.clone(),
                source,
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_err)?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header(HOST, &self.authority);
        if auth {
            req = req.header(AUTHORIZATION, &self.auth);
        }
        if json.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| CtlError::BadUrl(self.url.clone(), e.to_string()))?;
        let resp = sender.send_request(req).await.map_err(http_err)?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(http_err)?
            .to_bytes();
        if status.is_success() {
            return Ok(body);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(CtlError::Unauthorized);
        }
        let message = serde_json::from_slice::<ApiError>(&body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
        Err(CtlError::Refused { status, message })
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, CtlError> {
        serde_json::from_slice(body).map_err(|e| CtlError::BadAnswer {
            url: self.url.clone(),
            message: e.to_string(),
        })
    }
}
