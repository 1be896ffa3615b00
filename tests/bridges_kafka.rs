//! The kafka_producer type end to end (issue 16), as README's example sets
//! it up: a rule on `telemetry/#` feeds a `kafka_producer` action on tansu
//! (crates.io, memory storage, a loopback port), and the records are read
//! back with kcat. Key, value and timestamp come from templates, records go
//! to partitions by key (`key_dispatch`, the Java client's murmur2), each
//! device's records stay in order; a `required_acks` the client cannot
//! honour stops start-up naming the key.

#[macro_use]
mod common;
#[path = "../bridges/tests/servers/mod.rs"]
mod servers;

use common::*;
use roost_bridges::kafka::partition::murmur2;
use servers::Tansu;
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
