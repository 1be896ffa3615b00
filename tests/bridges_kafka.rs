//! The kafka_producer type end to end (issue 16), as README's example sets
//! it up: a rule on `telemetry/#` feeds a `kafka_producer` action on tansu
//! (crates.io, memory storage, a loopback port), and the records are read
//! back with kcat. Key, value and timestamp come from templates, records go
//! to partitions by key (`key_dispatch`, the Java client's murmur2), each
//! device's records stay in order; a `required_acks` the client cannot
//! honour stops start-up naming the key.

#[macro_use]
mod common;
mod bridges_support;
#[path = "../bridges/tests/servers/mod.rs"]
mod servers;

use bridges_support::fault::{action_metrics, action_status};
use common::*;
use roost_bridges::kafka::partition::murmur2;
use servers::{PlainTansu, Tansu, TlsTansu};
use std::process::Command;

#[tokio::test]
async fn a_rule_produces_records_that_kcat_reads_back() {
    let kafka = Tansu::start();
    kafka.create_topic("telemetry", 3);
    let connectors = format!(
        r#"{{kafka_producer: {{my_kafka: {{bootstrap_hosts: "{}", connect_timeout: 5s}}}}}}"#,
        kafka.hosts()
    );
    let actions = r#"{kafka_producer: {to_kafka: {connector: my_kafka,
        parameters: {topic: telemetry, partition_strategy: key_dispatch, compression: gzip, required_acks: all_isr,
                     message: {key: "${clientid}", value: "${payload.v}@${topic}", timestamp: "${timestamp}"}},
        resource_opts: {batch_size: 100, batch_time: 20ms}}}}"#;
    let rules = r#"{to_kafka: {sql: 'SELECT clientid, topic, payload, timestamp FROM "telemetry/#"', actions: ["kafka_producer:to_kafka"]}}"#;
    let b = Broker::start_with(&[
        ("ROOST__CONNECTORS", &connectors),
        ("ROOST__ACTIONS", actions),
        ("ROOST__RULES__RULES", rules),
    ]);
    let mut devices = Vec::new();
    for d in 0..5 {
        devices.push(V4Client::connect(b.addr(), &format!("dev{d}")).await);
    }
    let start_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..100 {
        let payload = format!(r#"{{"v": {i}}}"#);
        devices[i % 5]
            .publish(
                &format!("telemetry/dev{}", i % 5),
                payload.as_bytes(),
                1,
                false,
            )
            .await;
    }
    let lines = kafka.kcat("telemetry", 3, 100);
    assert_eq!(lines.len(), 100, "{lines:?}");
    let mut last = std::collections::HashMap::new();
    for l in &lines {
        // partition|key|value|timestamp
        let f: Vec<&str> = l.split('|').collect();
        let (p, key, value, ts) = (f[0], f[1], f[2], f[3]);
        let (v, topic) = value.split_once('@').unwrap();
        let v: usize = v.parse().unwrap();
        assert_eq!(key, format!("dev{}", v % 5), "{l}");
        assert_eq!(topic, format!("telemetry/{key}"), "{l}");
        let want_p = (murmur2(key.as_bytes()) & 0x7fff_ffff) % 3;
        assert_eq!(p, want_p.to_string(), "key_dispatch of {key}: {l}");
        // A device's records stay in order in its partition.
        let prev = last.insert(key.to_string(), v);
        assert!(prev.is_none_or(|prev| prev < v), "{key}: {prev:?} then {v}");
        let ts: i64 = ts.parse().unwrap();
        assert!(
            (start_ms - 5_000..start_ms + 60_000).contains(&ts),
            "the message's timestamp, not 0: {l}"
        );
    }
}

/// Order per key with many requests in flight (EMQX's default
/// `inflight_window: 100`): one produce request per record (`batch_size:
/// 1`), 5 keys on 2 buffer workers, 200 records per key. Sent as they come,
/// a key's requests would race each other to tansu; the buffer worker
/// keeps at most one request per key in flight, so kcat reads each key's
/// records once each, in the order they were published.
#[tokio::test]
async fn a_key_s_records_arrive_in_order_with_many_requests_in_flight() {
    let kafka = Tansu::start();
    kafka.create_topic("ordered", 3);
    let connectors = format!(
        r#"{{kafka_producer: {{k: {{bootstrap_hosts: "{}", connect_timeout: 5s}}}}}}"#,
        kafka.hosts()
    );
    let actions = r#"{kafka_producer: {ordered: {connector: k,
        parameters: {topic: ordered, partition_strategy: key_dispatch,
                     message: {key: "${payload.dev}", value: "${payload.v}"}},
        resource_opts: {batch_size: 1, batch_time: 0ms, inflight_window: 100, worker_pool_size: 2}}}}"#;
    let rules =
        r#"{o: {sql: 'SELECT payload FROM "ordered/#"', actions: ["kafka_producer:ordered"]}}"#;
    let b = Broker::start_with(&[
        ("ROOST__CONNECTORS", &connectors),
        ("ROOST__ACTIONS", actions),
        ("ROOST__RULES__RULES", rules),
    ]);
    // Each device's records come from two clients in turn: the key, not
    // the client, is what keeps them together.
    let mut clients = Vec::new();
    for c in 0..2 {
        clients.push(V4Client::connect(b.addr(), &format!("gw{c}")).await);
    }
    const KEYS: usize = 5;
    const N: usize = 1000;
    for i in 0..N {
        let payload = format!(r#"{{"dev": "dev{}", "v": {i}}}"#, i % KEYS);
        clients[(i / KEYS) % 2]
            .publish("ordered/x", payload.as_bytes(), 1, false)
            .await;
    }
    let lines = kafka.kcat("ordered", 3, N);
    assert_eq!(lines.len(), N, "each record once");
    let mut last: std::collections::HashMap<String, usize> = Default::default();
    for l in &lines {
        let f: Vec<&str> = l.split('|').collect();
        let (key, v) = (f[1], f[2].parse::<usize>().unwrap());
        assert_eq!(key, format!("dev{}", v % KEYS), "{l}");
        let prev = last.insert(key.to_string(), v);
        assert!(
            prev.is_none_or(|prev| prev + KEYS == v),
            "{key}: {prev:?} then {v}"
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = action_metrics(&b, "kafka_producer:ordered").await;
        if m["success"].as_u64() == Some(N as u64) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_required_acks_the_client_cannot_honour_stops_start_up() {
    for acks in ["leader_only", "none"] {
        let dir = common::broker::unique_data_dir();
        let actions = format!(
            r#"{{kafka_producer: {{k: {{connector: c, parameters: {{topic: t, required_acks: {acks}}}}}}}}}"#
        );
        let out = Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("start")
            .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
            .env("ROOST__HTTP__BIND", "127.0.0.1:0")
            .env("ROOST__NODE__DATA_DIR", &dir)
            .env(
                "ROOST__CONNECTORS",
                r#"{kafka_producer: {c: {bootstrap_hosts: "127.0.0.1:1"}}}"#,
            )
            .env("ROOST__ACTIONS", &actions)
            .output()
            .expect("run roost");
        let _ = std::fs::remove_dir_all(&dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{acks}: {err}");
        assert!(
            err.contains("actions.kafka_producer.k.parameters.required_acks")
                && err.contains("all_isr"),
            "{acks}: {err}"
        );
    }
}

/// Messages published by [`good_and_bad`].
const GOOD_AND_BAD_N: usize = 20;

/// A broker with two kafka_producer actions on connectors `good` and `bad`
/// (to `hosts`, differing only in the connector field `good` / `bad`: `ssl:
/// ...` or `authentication: ...`), both fed by one rule on `<topic>/#`: a
/// record per message, keyed by client id, valued `n` by good_out and
/// `bad-n` by bad_out. Publishes [`GOOD_AND_BAD_N`] messages and returns
/// once good_out has sent them all.
async fn good_and_bad(hosts: &str, topic: &str, good: &str, bad: &str) -> Broker {
    let connectors = format!(
        r#"{{kafka_producer: {{good: {{bootstrap_hosts: "{hosts}", connect_timeout: 2s, {good}}},
                               bad: {{bootstrap_hosts: "{hosts}", connect_timeout: 2s, {bad}}}}}}}"#
    );
    let opts = "{batch_size: 10, batch_time: 20ms, health_check_interval: 1s, request_ttl: 5m}";
    let actions = format!(
        r#"{{kafka_producer: {{
             good_out: {{connector: good, resource_opts: {opts}, parameters: {{topic: {topic}, message: {{key: "${{clientid}}", value: "${{n}}"}}}}}},
             bad_out: {{connector: bad, resource_opts: {opts}, parameters: {{topic: {topic}, message: {{key: "${{clientid}}", value: "bad-${{n}}"}}}}}}}}}}"#
    );
    let rules = format!(
        r#"{{{topic}: {{sql: 'SELECT payload.n AS n, clientid FROM "{topic}/#"', actions: ["kafka_producer:good_out", "kafka_producer:bad_out"]}}}}"#
    );
    let b = Broker::start_with(&[
        ("ROOST__CONNECTORS", &connectors),
        ("ROOST__ACTIONS", &actions),
        ("ROOST__RULES__RULES", &rules),
    ]);
    let mut c = V4Client::connect(b.addr(), &format!("{topic}-pub")).await;
    for i in 0..GOOD_AND_BAD_N {
        let payload = format!(r#"{{"n": {i}}}"#);
        c.publish(&format!("{topic}/{i}"), payload.as_bytes(), 1, false)
            .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = action_metrics(&b, "kafka_producer:good_out").await;
        if m["success"].as_u64() == Some(GOOD_AND_BAD_N as u64) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "good_out: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b
}

/// Waits (30 s at most) until good_and_bad's bad_out says `disconnected` with
/// a reason `why` accepts; returns the reason.
async fn bad_out_disconnected(b: &Broker, why: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, reason) = action_status(b, "kafka_producer:bad_out").await;
        if status == "disconnected" && why(&reason) {
            return reason;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bad_out: {status} {reason}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// bad_out matched every message of good_and_bad and holds them all: none
/// sent, none dropped.
async fn bad_out_holds_all(b: &Broker) {
    let m = action_metrics(b, "kafka_producer:bad_out").await;
    let count = |k: &str| m[k].as_u64().unwrap_or(0);
    let n = GOOD_AND_BAD_N as u64;
    assert_eq!(count("matched"), n, "{m}");
    assert_eq!(count("success"), 0, "{m}");
    assert_eq!(count("dropped"), 0, "{m}");
    assert_eq!(count("queuing") + count("inflight"), n, "held: {m}");
}

/// The connector's `ssl` (EMQX's client TLS options) against tansu behind
/// stunnel, whose certificate a throwaway CA signed; the cluster metadata
/// leads to the TLS port too. With that CA as `cacertfile`, records arrive
/// and kcat (speaking TLS, checking the same CA) reads them back. With
/// another CA, the handshake fails: the action says `disconnected` with the
/// TLS error, holds every matched message (counted as queuing, none lost,
/// none a success), and nothing reaches Kafka from it; once its connector
/// is given the right CA (`PUT`), the rebuilt action sends all it held.
#[tokio::test]
async fn records_go_over_tls_and_a_wrong_ca_holds_them_disconnected() {
    let kafka = TlsTansu::start();
    kafka.tansu.create_topic("secure", 1);
    let other = std::env::temp_dir().join(format!("roost-other-ca-{}", std::process::id()));
    std::fs::create_dir_all(&other).unwrap();
    servers::write_pki(&other);
    let ssl = |ca: &str| format!("{{enable: true, verify: verify_peer, cacertfile: \"{ca}\"}}");
    let b = good_and_bad(
        &kafka.hosts(),
        "secure",
        &format!("ssl: {}", ssl(&kafka.ca_file())),
        &format!("ssl: {}", ssl(&other.join("ca.pem").display().to_string())),
    )
    .await;
    const N: usize = GOOD_AND_BAD_N;
    let count = |m: &serde_json::Value, k: &str| m[k].as_u64().unwrap_or(0);
    let lines = kafka.kcat("secure", 1, N);
    let values: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|l| l.split('|').nth(2).unwrap().to_string())
        .collect();
    let want: std::collections::BTreeSet<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(values, want, "over TLS, only good_out's records: {lines:?}");
    // The wrong CA: disconnected, saying why, holding all it matched.
    bad_out_disconnected(&b, |reason| {
        reason.to_lowercase().contains("certificate") || reason.contains("UnknownIssuer")
    })
    .await;
    bad_out_holds_all(&b).await;
    assert_eq!(kafka.kcat("secure", 1, N).len(), N, "nothing from bad_out");
    // The connector given the right CA (PUT, as EMQX's API): the action is
    // rebuilt on it, and what its buffer held goes out.
    let (status, body) = common::access::api(
        &b,
        "PUT",
        "/api/v5/connectors/kafka_producer:bad",
        Some(serde_json::json!({
            "bootstrap_hosts": kafka.hosts(), "connect_timeout": "2s",
            "ssl": {"enable": true, "verify": "verify_peer", "cacertfile": kafka.ca_file()}
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = action_metrics(&b, "kafka_producer:bad_out").await;
        if count(&m, "success") == N as u64 {
            assert_eq!(count(&m, "matched"), N as u64, "{m}");
            assert_eq!(count(&m, "dropped"), 0, "{m}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bad_out after the fix: {m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines = kafka.kcat("secure", 1, 2 * N);
    let held: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|l| l.split('|').nth(2).unwrap().to_string())
        .filter(|v| v.starts_with("bad-"))
        .collect();
    let want: std::collections::BTreeSet<String> = (0..N).map(|i| format!("bad-{i}")).collect();
    assert_eq!(held, want, "every held record, once: {lines:?}");
    assert_eq!(lines.len(), 2 * N, "{lines:?}");
    let _ = std::fs::remove_dir_all(&other);
}

/// The connector's `authentication: {mechanism: plain, username, password}`
/// (EMQX's spelling) against tansu behind a SASL PLAIN front (tansu 0.6.0
/// has no PLAIN of its own; see `servers::sasl`), which the cluster
/// metadata leads back to. The right password: records arrive, and kcat,
/// authenticating with PLAIN too, reads them back. A wrong one: the front
/// refuses it (SASL_AUTHENTICATION_FAILED); the action says `disconnected`
/// with an error naming authentication, holds every matched message
/// (counted as queuing or inflight, none dropped, none a success), and
/// nothing reaches Kafka from it.
#[tokio::test]
async fn plain_authenticates_and_a_wrong_password_holds_the_messages_disconnected() {
    let kafka = PlainTansu::start("roost", "plain-secret");
    kafka.tansu.create_topic("plain", 1);
    let auth = |pw: &str| format!("{{mechanism: plain, username: roost, password: \"{pw}\"}}");
    let b = good_and_bad(
        &kafka.hosts(),
        "plain",
        &format!("authentication: {}", auth("plain-secret")),
        &format!("authentication: {}", auth("not-the-password")),
    )
    .await;
    const N: usize = GOOD_AND_BAD_N;
    let values: std::collections::BTreeSet<String> = kafka
        .kcat("plain", 1, N)
        .iter()
        .map(|l| l.split('|').nth(2).unwrap().to_string())
        .collect();
    let want: std::collections::BTreeSet<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(values, want, "with PLAIN, only good_out's records");
    let reason = bad_out_disconnected(&b, |reason| {
        reason.to_lowercase().contains("authentication")
    })
    .await;
    assert!(
        kafka.refused.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "{reason}"
    );
    bad_out_holds_all(&b).await;
    assert_eq!(kafka.kcat("plain", 1, N).len(), N, "nothing from bad_out");
}
