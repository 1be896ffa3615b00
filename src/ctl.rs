//! `roost ctl`: operator commands against a running broker's HTTP API (named like
//! `emqx ctl`): print the live actor tree, kill an actor (chaos), print stats.
//!
//! The client is hyper's HTTP/1 connection API (hyper is already in the binary
//! for the server), one request per connection: no pool, no TLS.

use crate::cli::ClusterCommand;
use crate::cli::{ActorsCommand, BannedCommand, CtlArgs, CtlCommand, UsersCommand};
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

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
}

/// A node of `GET /api/v5/actors`: the broker's own type, read back.
pub use roost_core::api::ActorNode;

/// An error body of the API.
#[derive(Debug, Deserialize)]
struct ApiError {
    message: String,
}

/// Runs one `ctl` command; what it prints goes to stdout.
pub fn run(args: CtlArgs) -> Result<(), CtlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CtlError::BadAnswer {
            url: args.url.clone(),
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(async {
        let client = Client::new(&args)?;
        match args.command {
            CtlCommand::Actors(ActorsCommand::Tree { prefix, depth }) => {
                let mut query = Vec::new();
                if let Some(p) = prefix.as_deref().map(full_path) {
                    query.push(format!("prefix={}", encode_query(&p)));
                }
                if let Some(d) = depth {
                    query.push(format!("depth={d}"));
                }
                let path = if query.is_empty() {
                    "/api/v5/actors".to_string()
                } else {
                    format!("/api/v5/actors?{}", query.join("&"))
                };
                let body = client.request(Method::GET, &path, None).await?;
                let tree: ActorNode = client.parse(&body)?;
                if let Some(p) = prefix.as_deref().map(full_path) {
                    if !contains_prefix(&tree, &p) {
                        return Err(CtlError::Refused {
                            status: StatusCode::NOT_FOUND,
                            message: format!("no actor path starts with {p}"),
                        });
                    }
                }
                print!("{}", render_tree(&tree, SystemTime::now(), depth));
            }
            CtlCommand::Actors(ActorsCommand::Kill { path }) => {
                let path = full_path(&path);
                let req = serde_json::json!({ "path": path }).to_string();
                let body = client
                    .request(Method::POST, "/api/v5/actors/kill", Some(req))
                    .await?;
                let v: serde_json::Value = client.parse(&body)?;
                let killed = v.get("killed").and_then(|k| k.as_str()).unwrap_or(&path);
                println!("killed {killed}");
            }
            CtlCommand::Stats => {
                let body = client
                    .request(Method::GET, "/api/v5/stats?aggregate=true", None)
                    .await?;
                let v: serde_json::Value = client.parse(&body)?;
                print!("{}", render_stats(&v));
            }
            CtlCommand::Users(cmd) => users(&client, cmd).await?,
            CtlCommand::Banned(cmd) => banned(&client, cmd).await?,
            CtlCommand::Cluster(command) => {
                let body = match command {
                    ClusterCommand::Status => {
                        client.request(Method::GET, "/api/v5/cluster", None).await?
                    }
                    ClusterCommand::Join { address } => {
                        let req = serde_json::json!({ "address": address }).to_string();
                        client
                            .request(Method::POST, "/api/v5/cluster/join", Some(req))
                            .await?
                    }
                    ClusterCommand::Leave => {
                        client
                            .request(Method::POST, "/api/v5/cluster/leave", None)
                            .await?
                    }
                };
                let v: serde_json::Value = client.parse(&body)?;
                print!("{}", render_cluster(&v));
            }
        }
        Ok(())
    })
}

/// `roost ctl users add|del|list`.
async fn users(client: &Client, cmd: UsersCommand) -> Result<(), CtlError> {
    match cmd {
        UsersCommand::Add {
            user_id,
            user_password: password,
            superuser,
            authenticator,
        } => {
            let path = format!("/api/v5/authentication/{}/users", segment(&authenticator));
            let req = serde_json::json!({
                "user_id": user_id, "password": password, "is_superuser": superuser
            });
            client
                .request(Method::POST, &path, Some(req.to_string()))
                .await?;
            println!("added {user_id}");
        }
        UsersCommand::Del {
            user_id,
            authenticator,
        } => {
            let path = format!(
                "/api/v5/authentication/{}/users/{}",
                segment(&authenticator),
                segment(&user_id)
            );
            client.request(Method::DELETE, &path, None).await?;
            println!("deleted {user_id}");
        }
        UsersCommand::List { authenticator } => {
            let path = format!("/api/v5/authentication/{}/users", segment(&authenticator));
            let body = client.request(Method::GET, &path, None).await?;
            let v: serde_json::Value = client.parse(&body)?;
            for u in v["data"].as_array().into_iter().flatten() {
                let su = if u["is_superuser"] == true {
                    "  (superuser)"
                } else {
                    ""
                };
                println!("{}{su}", u["user_id"].as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// `roost ctl banned add|del|list`.
async fn banned(client: &Client, cmd: BannedCommand) -> Result<(), CtlError> {
    match cmd {
        BannedCommand::Add {
            kind,
            who,
            duration,
            reason,
        } => {
            let until = duration
                .map(|d| humantime::format_rfc3339_seconds(SystemTime::now() + d).to_string());
            let req = serde_json::json!({
                "as": kind, "who": who, "by": "roost ctl", "reason": reason, "until": until
            });
            client
                .request(Method::POST, "/api/v5/banned", Some(req.to_string()))
                .await?;
            match until {
                Some(u) => println!("banned {kind} {who} until {u}"),
                None => println!("banned {kind} {who}"),
            }
        }
        BannedCommand::Del { kind, who } => {
            let path = format!("/api/v5/banned/{}/{}", segment(&kind), segment(&who));
            client.request(Method::DELETE, &path, None).await?;
            println!("unbanned {kind} {who}");
        }
        BannedCommand::List => {
            let body = client.request(Method::GET, "/api/v5/banned", None).await?;
            let v: serde_json::Value = client.parse(&body)?;
            for b in v["data"].as_array().into_iter().flatten() {
                let until = b["until"].as_str().unwrap_or("forever");
                println!(
                    "{:<9} {}  until {until}  {}",
                    b["as"].as_str().unwrap_or_default(),
                    b["who"].as_str().unwrap_or_default(),
                    b["reason"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// Percent-encodes one path segment (user ids and CIDR ranges hold `/`).
fn segment(v: &str) -> String {
    percent_encode(v, b"-_.~:")
}

/// Paths may be given without the root's `roost/`.
fn full_path(p: &str) -> String {
    let p = p.trim_matches('/');
    if p == "roost" || p.starts_with("roost/") {
        p.to_string()
    } else {
        format!("roost/{p}")
    }
}

/// Percent-encodes a query value (paths hold `:` and `/`, client ids anything).
fn encode_query(v: &str) -> String {
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

struct Client {
    url: String,
    authority: String,
    base: String,
    auth: String,
}

impl Client {
    fn new(args: &CtlArgs) -> Result<Client, CtlError> {
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
        })
    }

    /// Sends one request; returns the body of a 2xx answer, else the error the
    /// status stands for.
    async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> Result<Bytes, CtlError> {
        let url = format!("{}{}", self.url, path);
        match tokio::time::timeout(TIMEOUT, self.exchange(method, path, json)).await {
            Ok(r) => r,
            Err(_) => Err(CtlError::Timeout { url }),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
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
            .header(HOST, &self.authority)
            .header(AUTHORIZATION, &self.auth);
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

    fn parse<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, CtlError> {
        serde_json::from_slice(body).map_err(|e| CtlError::BadAnswer {
            url: self.url.clone(),
            message: e.to_string(),
        })
    }
}

fn contains_prefix(n: &ActorNode, prefix: &str) -> bool {
    n.path.starts_with(prefix) || n.children.iter().any(|c| contains_prefix(c, prefix))
}

/// The tree as indented text: one line per actor with its last path segment,
/// kind, restarts, mailbox depth and uptime, columns aligned. Where `depth`
/// cut the tree, a line says how many children were left out.
pub fn render_tree(root: &ActorNode, now: SystemTime, depth: Option<usize>) -> String {
    let mut rows: Vec<(String, Option<&ActorNode>)> = Vec::new();
    collect(root, 0, depth, String::new(), String::new(), &mut rows);
    let width = rows
        .iter()
        .filter(|(_, n)| n.is_some())
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    let kind_width = rows
        .iter()
        .filter_map(|(_, n)| n.map(|n| n.kind.len()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, node) in rows {
        match node {
            Some(n) => {
                let pad = width - name.chars().count();
                let mailbox = n.mailbox.map_or("-".to_string(), |m| m.to_string());
                let _ = writeln!(
                    out,
                    "{name}{:pad$}  {:kind_width$}  restarts {:<3} mailbox {:<5} {} {}",
                    "",
                    n.kind,
                    n.restarts,
                    mailbox,
                    if n.hibernating { "asleep" } else { "up" },
                    uptime(&n.started_at, now),
                );
            }
            None => {
                let _ = writeln!(out, "{name}");
            }
        }
    }
    out
}

/// Flattens the tree into lines: `lead` is the drawing before this node's name,
/// `indent` the drawing its children's lines start with.
fn collect<'a>(
    n: &'a ActorNode,
    level: usize,
    depth: Option<usize>,
    lead: String,
    indent: String,
    rows: &mut Vec<(String, Option<&'a ActorNode>)>,
) {
    let name = n.path.rsplit('/').next().unwrap_or(&n.path);
    rows.push((format!("{lead}{name}"), Some(n)));
    let hidden = n.child_count.saturating_sub(n.children.len());
    let last = n.children.len().saturating_sub(1);
    for (i, c) in n.children.iter().enumerate() {
        let (l, ind) = if i == last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let (lead, indent) = (format!("{indent}{l}"), format!("{indent}{ind}"));
        collect(c, level + 1, depth, lead, indent, rows);
    }
    if hidden > 0 && depth == Some(level) {
        rows.push((format!("{indent}└── … {hidden} more (raise --depth)"), None));
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `7s`.
fn uptime(started_at: &str, now: SystemTime) -> String {
    let Ok(t) = humantime::parse_rfc3339_weak(started_at) else {
        return "?".into();
    };
    let s = now.duration_since(t).unwrap_or_default().as_secs();
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// `GET /api/v5/stats` as `name value` lines, counters after the gauges.
/// The membership as a table: node, state, address, last heartbeat, routes.
fn render_cluster(v: &serde_json::Value) -> String {
    let mut out = String::new();
    if v["enabled"] != serde_json::Value::Bool(true) {
        let _ = writeln!(
            out,
            "node {} is not clustered (cluster.enabled is false)",
            v["node"]
        );
        return out;
    }
    let mut rows = vec![[
        "NODE".to_string(),
        "STATE".into(),
        "ADDRESS".into(),
        "LAST HEARTBEAT".into(),
        "ROUTES".into(),
    ]];
    for m in v["members"].as_array().into_iter().flatten() {
        let text = |k: &str| m[k].as_str().unwrap_or("-").to_string();
        let ago = match m["last_heartbeat_ms_ago"].as_u64() {
            Some(ms) => format!("{ms} ms ago"),
            None => "-".into(),
        };
        rows.push([
            text("node"),
            text("state"),
            text("address"),
            ago,
            m["routes"].to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn render_stats(v: &serde_json::Value) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            if k == "metrics" {
                continue;
            }
            lines.push((k.clone(), val.to_string()));
        }
        if let Some(m) = obj.get("metrics").and_then(|m| m.as_object()) {
            for (k, val) in m {
                lines.push((k.clone(), val.to_string()));
            }
        }
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, val) in lines {
        let _ = writeln!(out, "{k:width$}  {val}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, kind: &str, child_count: usize, children: Vec<ActorNode>) -> ActorNode {
        ActorNode {
            path: path.into(),
            kind: kind.into(),
            restarts: 0,
            mailbox: None,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            child_count,
            children,
            hibernating: false,
        }
    }

    #[test]
    fn tree_is_drawn_with_branches_and_cut_subtrees() {
        let tree = node(
            "roost",
            "supervisor",
            2,
            vec![
                node(
                    "roost/router",
                    "supervisor",
                    1,
                    vec![node("roost/router/shard-0", "shard", 0, vec![])],
                ),
                node("roost/sessions", "dynamic_supervisor", 3, vec![]),
            ],
        );
        let now = humantime::parse_rfc3339("2026-01-01T01:02:03Z").unwrap();
        let out = render_tree(&tree, now, Some(1));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("roost "), "{out}");
        assert!(lines[0].ends_with("up 1h 2m"), "{out}");
        assert!(lines[1].starts_with("├── router "), "{out}");
        assert!(lines[2].starts_with("│   └── shard-0 "), "{out}");
        assert!(lines[3].starts_with("└── sessions "), "{out}");
        assert!(lines[4].starts_with("    └── … 3 more"), "{out}");
        // The kind column lines up (box drawing counts one column per char).
        let col = |l: &str, pat: &str| l[..l.rfind(pat).unwrap()].chars().count();
        assert_eq!(
            col(lines[0], "supervisor "),
            col(lines[1], "supervisor "),
            "{out}"
        );
        assert_eq!(
            col(lines[0], "supervisor "),
            col(lines[2], "shard "),
            "{out}"
        );
    }

    #[test]
    fn paths_may_leave_out_the_root() {
        assert_eq!(full_path("router/shard-0"), "roost/router/shard-0");
        assert_eq!(full_path("roost/router"), "roost/router");
        assert_eq!(full_path("roost"), "roost");
        assert_eq!(
            encode_query("roost/sessions/session:a b&c"),
            "roost/sessions/session:a%20b%26c"
        );
    }
}
