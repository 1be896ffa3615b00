//! Rules created through the REST API outlive a restart (stored in
//! `node.data_dir`) and reach the other nodes of a cluster, where they fire
//! on what is published there (issue 15).

#[macro_use]
mod common;
use common::access::api;
use common::*;
use serde_json::json;
use std::time::Instant;

/// A republish rule from `from` to `to`.
fn rule(id: &str, from: &str, to: &str) -> serde_json::Value {
    json!({
        "id": id,
        "sql": format!("SELECT * FROM \"{from}\""),
        "actions": [{"function": "republish", "args": {"topic": to, "payload": "${payload}!"}}]
    })
}

/// Publishes `payload` to `from` and expects `payload!` on `to` (same broker).
async fn fires(addr: std::net::SocketAddr, from: &str, to: &str, payload: &str) {
    let mut sub = V4Client::connect(addr, "rsub").await;
    sub.subscribe(to, 0).await;
    let mut publ = V4Client::connect(addr, "rpub").await;
    publ.publish(from, payload.as_bytes(), 0, false).await;
    let p = sub.recv_publish().await;
    assert_eq!(p.topic, to);
    assert_eq!(String::from_utf8_lossy(&p.payload), format!("{payload}!"));
}

#[tokio::test]
async fn a_rule_created_through_the_api_survives_a_restart() {
    let dir = common::broker::unique_data_dir();
    let dir_s = dir.to_str().unwrap().to_string();
    let env = [("ROOST__NODE__DATA_DIR", dir_s.as_str())];
    let mut b = Broker::start_with(&env);
    let (status, body) = api(
        &b,
        "POST",
        "/api/v5/rules",
        Some(rule("kept", "k/in", "k/out")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    fires(b.addr(), "k/in", "k/out", "one").await;
    assert!(b.stop_graceful(Duration::from_secs(10)).is_some());
    let b = Broker::start_with(&env);
    let (status, body) = api(&b, "GET", "/api/v5/rules/kept", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sql"], "SELECT * FROM \"k/in\"");
    fires(b.addr(), "k/in", "k/out", "two").await;
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_rule_created_on_one_node_fires_on_the_other() {
    // Two nodes on their own 127.x.y.0/24 block.
    let x = 20 + (std::process::id() % 200) as u8;
    let ips = [format!("127.{x}.240.1"), format!("127.{x}.240.2")];
    let seeds = ips
        .iter()
        .map(|ip| format!("{ip}:4370"))
        .collect::<Vec<_>>()
        .join(",");
    let start = |i: usize| {
        let ip = &ips[i];
        let env = [
            ("ROOST__NODE__NAME", format!("roost{}@{ip}", i + 1)),
            ("ROOST__CLUSTER__ENABLED", "true".into()),
            ("ROOST__CLUSTER__BIND", format!("{ip}:4370")),
            ("ROOST__CLUSTER__SEEDS", seeds.clone()),
            ("ROOST__CLUSTER__HEARTBEAT_INTERVAL", "300ms".into()),
            ("ROOST__CLUSTER__RECONNECT_MAX_BACKOFF", "1s".into()),
            ("ROOST__LISTENERS__TCP__BIND", format!("{ip}:0")),
            ("ROOST__HTTP__BIND", format!("{ip}:0")),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Broker::start_with(&env)
    };
    let (n1, n2) = (start(0), start(1));
    // Wait for the cluster to form.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, v) = api(&n1, "GET", "/api/v5/cluster", None).await;
        let up = v["members"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["state"] == "up").count());
        if up == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no cluster: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = api(
        &n1,
        "POST",
        "/api/v5/rules",
        Some(rule("shared", "c/in", "c/out")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = api(&n2, "GET", "/api/v5/rules/shared", None).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the rule never reached node 2");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each node runs the rules for what is published on it.
    fires(n2.addr(), "c/in", "c/out", "there").await;
    // A deletion travels too.
    let (status, _) = api(&n2, "DELETE", "/api/v5/rules/shared", None).await;
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = api(&n1, "GET", "/api/v5/rules/shared", None).await;
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deletion never reached node 1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
