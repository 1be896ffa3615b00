//! What the cluster tests share: a test cluster of `roost` processes on their
//! own 127.x.y.z addresses, seeded with each other's cluster addresses, and
//! polls (with a deadline) of the cluster's view through the HTTP API.
#![allow(dead_code)]

use crate::common::http::http;
use crate::common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

pub const CONVERGE: Duration = Duration::from_secs(15);

/// One node of a test cluster: its addresses and its process (restartable).
pub struct Node {
    pub name: String,
    pub ip: String,
    pub seeds: String,
    pub extra: Vec<(String, String)>,
    pub broker: Option<Broker>,
}

impl Node {
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("ROOST__NODE__NAME".into(), self.name.clone()),
            ("ROOST__CLUSTER__ENABLED".into(), "true".into()),
            ("ROOST__CLUSTER__BIND".into(), format!("{}:4370", self.ip)),
            ("ROOST__CLUSTER__SEEDS".into(), self.seeds.clone()),
            ("ROOST__CLUSTER__HEARTBEAT_INTERVAL".into(), "300ms".into()),
            ("ROOST__CLUSTER__HEARTBEAT_TIMEOUT".into(), "2s".into()),
            ("ROOST__CLUSTER__RECONNECT_MAX_BACKOFF".into(), "1s".into()),
            (
                "ROOST__LISTENERS__TCP__BIND".into(),
                format!("{}:0", self.ip),
            ),
            ("ROOST__HTTP__BIND".into(), format!("{}:0", self.ip)),
        ];
        env.extend(self.extra.iter().cloned());
        // The nodes' log filter when debugging a test (`Broker` clears
        // RUST_LOG): e.g. ROOST_TEST_RUST_LOG=info,roost_actors::session=debug,
        // with ROOST_TEST_LOG_DIR to keep every line (see `Broker`'s Drop).
        if let Ok(f) = std::env::var("ROOST_TEST_RUST_LOG") {
            env.push(("RUST_LOG".into(), f));
        }
        env
    }

    pub fn start(&mut self) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.broker = Some(Broker::start_with(&env));
    }

    pub fn b(&self) -> &Broker {
        self.broker.as_ref().expect("node is running")
    }

    pub fn mqtt(&self) -> SocketAddr {
        self.b().addr()
    }

    pub async fn cluster(&self) -> Value {
        let r = http(
            self.b().http_addr(),
            "GET",
            "/api/v5/cluster",
            Some(("admin", "public")),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// `node -> (state, routes)` as this node sees the cluster.
    pub async fn view(&self) -> Vec<(String, String, u64)> {
        let v = self.cluster().await;
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["node"].as_str().unwrap().to_string(),
                    m["state"].as_str().unwrap().to_string(),
                    m["routes"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// Three nodes on a fresh 127.x.y.0/24 block (a block per test and per test
/// process, so tests run in parallel), each listing all three as seeds.
pub fn cluster_of(n: usize, extra: &[(&str, &str)]) -> Vec<Node> {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    let x = 20 + (std::process::id() % 200) as u8;
    let y = NEXT.fetch_add(1, Ordering::Relaxed);
    let ips: Vec<String> = (1..=n).map(|i| format!("127.{x}.{y}.{i}")).collect();
    let seeds = ips
        .iter()
        .map(|ip| format!("{ip}:4370"))
        .collect::<Vec<_>>()
        .join(",");
    ips.iter()
        .enumerate()
        .map(|(i, ip)| Node {
            name: format!("roost{}@{ip}", i + 1),
            ip: ip.clone(),
            seeds: seeds.clone(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            broker: None,
        })
        .collect()
}

pub async fn started(n: usize) -> Vec<Node> {
    let mut nodes = cluster_of(n, &[]);
    for node in &mut nodes {
        node.start();
    }
    wait_all_up(&nodes).await;
    nodes
}

/// Polls until every running node sees every other running node `up`.
pub async fn wait_all_up(nodes: &[Node]) {
    let running: Vec<&Node> = nodes.iter().filter(|n| n.broker.is_some()).collect();
    let deadline = Instant::now() + CONVERGE;
    loop {
        let mut ok = true;
        for n in &running {
            let view = n.view().await;
            let up = view.iter().filter(|(_, s, _)| s == "up").count();
            if up != running.len() - 1 {
                ok = false;
            }
        }
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "cluster did not form: {:?}", {
            let mut v = Vec::new();
            for n in &running {
                v.push(n.view().await);
            }
            v
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until `node` sees `peer` holding at least `routes` routes.
pub async fn wait_routes(node: &Node, peer: &Node, routes: u64) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let view = node.view().await;
        if view
            .iter()
            .any(|(n, s, r)| *n == peer.name && s == "up" && *r >= routes)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never saw {routes} routes of {}: {view:?}",
            node.name,
            peer.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until `node` sees `peer` in `state` (`down` also counts as gone).
pub async fn wait_state(node: &Node, peer: &str, state: &str) -> Duration {
    let t0 = Instant::now();
    let deadline = t0 + CONVERGE;
    loop {
        let view = node.view().await;
        if view.iter().any(|(n, s, _)| n == peer && s == state) {
            return t0.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "{} never saw {peer} {state}: {view:?}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `signal` (`STOP`, `CONT`) to `node`'s process.
pub fn signal(node: &Node, signal: &str) {
    let pid = node.b().pid().to_string();
    assert!(std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap()
        .success());
}

/// The client ids `node` lists (`GET /api/v5/clients`) with whether each is
/// connected.
pub async fn clients(node: &Node) -> Vec<(String, bool)> {
    let r = http(
        node.b().http_addr(),
        "GET",
        "/api/v5/clients?limit=10000",
        Some(("admin", "public")),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["clientid"].as_str().unwrap().to_string(),
                c["connected"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}
