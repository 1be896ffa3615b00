//! The three Roost nodes: real processes of the built binary, each in its
//! node's network namespace (net.rs), on fixed ports of its own address
//! (1883 MQTT, 18083 HTTP, 4370 cluster), with its own data dir kept across
//! kills. Output goes to `<dir>/node<i>.log` (appended across restarts).

use super::net::Net;
use crate::common::http::http;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MQTT_PORT: u16 = 1883;
pub const HTTP_PORT: u16 = 18083;
/// The dashboard user's password (the shipped "public" is refused from
/// anywhere but loopback, and the test reaches the nodes over the bridge).
pub const ADMIN_PASSWORD: &str = "jepsen-admin-password";

/// One node and its process (if running).
pub struct Node {
    pub i: usize,
    pub ns: String,
    pub ip: std::net::IpAddr,
    pub log: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub paused: bool,
}

impl Node {
    pub fn mqtt(&self) -> SocketAddr {
        SocketAddr::new(self.ip, MQTT_PORT)
    }

    pub fn http(&self) -> SocketAddr {
        SocketAddr::new(self.ip, HTTP_PORT)
    }

    /// Starts the process (same data dir as before) and waits until its MQTT
    /// port accepts.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "node {} already runs", self.i);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log file");
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.ns,
            env!("CARGO_BIN_EXE_roost"),
            "start",
        ])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // `ip netns exec` enters the namespace and execs the binary: same pid.
        self.child = Some(cmd.spawn().expect("spawn roost in its namespace"));
        self.paused = false;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(self.mqtt()),
            )
            .await;
            if matches!(up, Ok(Ok(_))) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "node {} exited at start ({status}); log {}:\n{}",
                    self.i,
                    self.log.display(),
                    tail(&self.log, 40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "node {} not listening after 30 s; log:\n{}",
                self.i,
                tail(&self.log, 40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.paused = false;
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// SIGSTOP: the process freezes, its sockets stay open.
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.paused = true;
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.paused = false;
    }

    /// `GET path` on this node's REST API (see [`rest_get`]).
    pub async fn get(&self, path: &str, timeout: Duration) -> Option<serde_json::Value> {
        rest_get(self.http(), path, timeout).await
    }

    /// How many peers this node sees `up`.
    pub async fn peers_up(&self) -> Option<usize> {
        let v = self.get("/api/v5/cluster", Duration::from_secs(2)).await?;
        Some(
            v["members"]
                .as_array()?
                .iter()
                .filter(|m| m["state"] == "up")
                .count(),
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.paused {
            self.resume();
        }
        self.kill();
    }
}

/// `GET path` on a node's REST API (as admin), `None` if the node does
/// not answer 200 within `timeout` (paused, killed, cut).
pub async fn rest_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Option<serde_json::Value> {
    // `http` panics when it cannot connect: try first (a killed node refuses),
    // and run it as a task (a node may die in between).
    let probe = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await;
    if !matches!(probe, Ok(Ok(_))) {
        return None;
    }
    let path = path.to_string();
    let task = tokio::spawn(async move {
        let r = http(addr, "GET", &path, Some(("admin", ADMIN_PASSWORD)), None).await;
        (r.status == 200).then(|| r.json())
    });
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(v)) => v,
        _ => None,
    }
}

/// The last `n` lines of a file.
pub fn tail(path: &PathBuf, n: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The nodes of `net`, configured as one cluster (not started). Node names
/// are `roost<i>@10.231.N.<i>`; heartbeats are fast (300 ms, down after 2 s)
/// so faults are noticed within the run.
pub fn nodes(net: &Net, dir: &std::path::Path, extra: &[(String, String)]) -> Vec<Node> {
    let seeds = (0..net.nodes)
        .map(|i| format!("{}:4370", net.addr(i)))
        .collect::<Vec<_>>()
        .join(",");
    (0..net.nodes)
        .map(|i| {
            let ip = net.addr(i);
            let data_dir = dir.join(format!("node{}", i + 1));
            let name = format!("roost{}@{ip}", i + 1);
            let mut env: Vec<(String, String)> = [
                ("ROOST__NODE__NAME", name.clone()),
                ("ROOST__NODE__DATA_DIR", data_dir.display().to_string()),
                ("ROOST__CLUSTER__ENABLED", "true".into()),
                ("ROOST__CLUSTER__BIND", format!("{ip}:4370")),
                ("ROOST__CLUSTER__SEEDS", seeds.clone()),
                (
                    "ROOST__CLUSTER__COOKIE",
                    "jepsen-test-cookie-not-secret".into(),
                ),
                ("ROOST__CLUSTER__HEARTBEAT_INTERVAL", "300ms".into()),
                ("ROOST__CLUSTER__HEARTBEAT_TIMEOUT", "2s".into()),
                ("ROOST__CLUSTER__RECONNECT_MAX_BACKOFF", "1s".into()),
                ("ROOST__LISTENERS__TCP__BIND", format!("{ip}:{MQTT_PORT}")),
                ("ROOST__HTTP__BIND", format!("{ip}:{HTTP_PORT}")),
                ("ROOST__HTTP__DEFAULT_PASSWORD", ADMIN_PASSWORD.into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            env.extend(extra.iter().cloned());
            Node {
                i,
                ns: net.ns(i),
                ip,
                log: dir.join(format!("node{}.log", i + 1)),
                env,
                child: None,
                paused: false,
            }
        })
        .collect()
}

/// Polls until every running, unpaused node sees all the others `up`;
/// false after `timeout`.
pub async fn converged(nodes: &[Node], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let mut ok = true;
        for n in nodes {
            if n.peers_up().await != Some(nodes.len() - 1) {
                ok = false;
                break;
            }
        }
        if ok {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
