//! A minimal HTTP/1.1 client for the operator API (`/api/v5/...`), so tests see
//! exactly what the server sends: basic auth, JSON bodies, the actor tree.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The default credentials (`http.default_username` / `http.default_password`).
pub const ADMIN: (&str, &str) = ("admin", "public");

/// One HTTP answer.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// The `Authorization` header value for basic auth.
pub fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

/// A plain HTTP/1.1 exchange on a fresh connection (`Connection: close`).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    json: Option<&str>,
) -> Resp {
    let deadline = Duration::from_secs(5);
    let mut s = tokio::time::timeout(deadline, tokio::net::TcpStream::connect(addr))
        .await
        .expect("HTTP connect timed out")
        .expect("HTTP connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Authorization: {}\r\n", basic(u, p)));
    }
    let body = json.unwrap_or("");
    if json.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(deadline, s.read_to_end(&mut raw))
        .await
        .expect("HTTP answer timed out")
        .expect("HTTP read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP header end in {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

/// GET with the default credentials.
pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    http(addr, "GET", path, Some(ADMIN), None).await
}

/// The actor tree (`query` like `?depth=2`), asserting 200.
pub async fn tree(addr: SocketAddr, query: &str) -> Value {
    let r = get(addr, &format!("/api/v5/actors{query}")).await;
    assert_eq!(r.status, 200, "GET /api/v5/actors{query}: {}", r.body);
    r.json()
}

/// POST /api/v5/actors/kill for `path`.
pub async fn kill(addr: SocketAddr, path: &str) -> Resp {
    let body = serde_json::json!({ "path": path }).to_string();
    http(
        addr,
        "POST",
        "/api/v5/actors/kill",
        Some(ADMIN),
        Some(&body),
    )
    .await
}

/// Every node of the tree, depth first.
pub fn nodes(n: &Value) -> Vec<&Value> {
    let mut out = vec![n];
    for c in n["children"].as_array().expect("children array") {
        out.extend(nodes(c));
    }
    out
}

/// Every path of the tree.
pub fn paths(n: &Value) -> Vec<String> {
    nodes(n)
        .iter()
        .map(|n| n["path"].as_str().unwrap().to_string())
        .collect()
}

/// The node at `path`, if present.
pub fn node<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    nodes(tree).into_iter().find(|n| n["path"] == path)
}

/// Polls the tree until `pred` holds for it, or panics with the last tree.
pub async fn wait_tree(
    addr: SocketAddr,
    query: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = tree(addr, query).await;
        if pred(&t) {
            return t;
        }
        if Instant::now() >= deadline {
            panic!("within 10 s: {what}; last tree paths: {:?}", paths(&t));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The restart count of the actor at `path` (None if absent).
pub fn restarts(tree: &Value, path: &str) -> Option<u64> {
    node(tree, path).and_then(|n| n["restarts"].as_u64())
}
