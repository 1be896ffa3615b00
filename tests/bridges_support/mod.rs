//! What the bridges tests share: an HTTP/1.1 sink the test can stop and
//! restart on the same port (it ends its open connections too, as a server
//! that goes down does), and the action metrics the broker logs
//! (`bridge_metrics`, at debug level for `roost_bridges`).
#![allow(dead_code)]

pub mod fault;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// One request as the sink saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub type Seen = Arc<Mutex<Vec<Request>>>;

/// A running sink; dropping it (or [`Sink::stop`]) closes the listener and
/// every connection.
pub struct Sink {
    pub addr: SocketAddr,
    pub seen: Seen,
    tasks: JoinSet<()>,
}

impl Sink {
    /// Answers `status` to every request, on `port` (0: any).
    pub async fn start(port: u16, status: u16, seen: Seen) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the sink");
        let addr = listener.local_addr().unwrap();
        let mut tasks = JoinSet::new();
        let conns: Arc<Mutex<JoinSet<()>>> = Arc::default();
        let seen2 = seen.clone();
        let conns2 = conns.clone();
        tasks.spawn(async move {
            // Connections live in a set this task owns: aborting it ends them.
            let _guard = conns2.clone();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen2.clone();
                conns2.lock().unwrap().spawn(serve(sock, status, seen));
            }
        });
        tasks.spawn(async move {
            // Holds the connections' set until aborted, then drops (aborts) them.
            let _conns = conns;
            std::future::pending::<()>().await
        });
        Sink { addr, seen, tasks }
    }

    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

async fn serve(sock: tokio::net::TcpStream, status: u16, seen: Seen) {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).await.is_err() {
            return;
        }
        seen.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let reason = if status < 300 { "OK" } else { "Error" };
        let resp = format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n\r\n");
        if w.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The last metrics the broker logged for action `id`.
pub fn metrics(logs: &[String], id: &str) -> Option<serde_json::Value> {
    let needle = format!("id={id} ");
    logs.iter().rev().find_map(|l| {
        if !l.contains("bridge_metrics") || !l.contains(&needle) {
            return None;
        }
        let json = &l[l.find("metrics=")? + "metrics=".len()..];
        serde_json::from_str(json.trim()).ok()
    })
}

/// A counter of those metrics (0 when none logged yet).
pub fn counter(m: &Option<serde_json::Value>, key: &str) -> u64 {
    m.as_ref().and_then(|m| m[key].as_u64()).unwrap_or(0)
}

/// Polls the logged metrics of `id` until `done` holds, for at most `within`.
pub async fn wait_metrics(
    logs: impl Fn() -> Vec<String>,
    id: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Option<serde_json::Value>) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let m = metrics(&logs(), id);
        if done(&m) {
            return m.unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never held; last metrics {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// matched = success + failed + dropped + queuing + inflight.
pub fn accounted(m: &serde_json::Value) -> bool {
    let g = |k: &str| m[k].as_u64().unwrap_or(0);
    g("matched") == g("success") + g("failed") + g("dropped") + g("queuing") + g("inflight")
}
