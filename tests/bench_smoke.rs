//! A small run of roost-bench against the real broker: counts, never times.
//! (Throughput and latency are for `roost-bench compare`, not for `cargo test`.)

#[macro_use]
mod common;

use common::{bench_config, Broker};
use roost_bench::{run_conn, run_pubsub, Config, Rate, Summary};
use roost_protocol::{ProtocolVersion, QoS};
use std::time::Duration;

/// 5 publisher/subscriber pairs x 200 messages at `qos`: everything arrives exactly once.
async fn pairs(qos: QoS, version: ProtocolVersion) -> Summary {
    let broker = Broker::start();
    let s = run_pubsub(Config {
        pubs: 5,
        subs: 5,
        pub_topic: "smoke/%i".into(),
        sub_topic: "smoke/%i".into(),
        qos,
        sub_qos: qos,
        count: Some(200),
        rate: Rate::Unlimited,
        inflight: 16,
        client_prefix: format!("smoke-q{}", qos as u8),
        ..bench_config(&broker, version)
    })
    .await
    .expect("valid config");
    assert_eq!(
        (s.connected, s.connect_failures, s.dropped_connections),
        (10, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.sent, 1000, "{s:?}");
    assert_eq!(s.expected, Some(1000), "{s:?}");
    assert_eq!(s.received, s.sent, "{s:?}");
    assert_eq!((s.lost, s.duplicated), (0, 0), "{s:?}");
    s
}

#[tokio::test]
async fn pairs_qos1_exactly_counted() {
    let s = pairs(QoS::AtLeastOnce, ProtocolVersion::V3_1_1).await;
    assert_eq!(s.acked, 1000, "{s:?}");
}

#[tokio::test]
async fn pairs_qos2_exactly_counted() {
    let s = pairs(QoS::ExactlyOnce, ProtocolVersion::V5).await;
    assert_eq!(s.acked, 1000, "{s:?}");
}

#[tokio::test]
async fn fan_out_qos0_counts_every_delivery() {
    let broker = Broker::start();
    let s = run_pubsub(Config {
        pubs: 1,
        subs: 10,
        pub_topic: "smoke/out".into(),
        sub_topic: "smoke/#".into(),
        count: Some(50),
        rate: Rate::PerClient(1000.0),
        client_prefix: "smoke-fanout".into(),
        ..bench_config(&broker, ProtocolVersion::V5)
    })
    .await
    .expect("valid config");
    assert_eq!(s.expected, Some(500), "{s:?}");
    assert_eq!((s.received, s.lost, s.duplicated), (500, 0, 0), "{s:?}");
}

#[tokio::test]
async fn conn_200_all_accepted() {
    let broker = Broker::start();
    let s = run_conn(Config {
        conns: 200,
        duration: Some(Duration::from_millis(200)),
        client_prefix: "smoke-conn".into(),
        ..bench_config(&broker, ProtocolVersion::V3_1_1)
    })
    .await
    .expect("valid config");
    assert_eq!(
        (s.connected, s.connect_failures, s.dropped_connections),
        (200, 0, 0),
        "{s:?}"
    );
}

#[tokio::test]
async fn refuses_non_loopback_targets() {
    let err = run_conn(Config {
        host: "192.0.2.1".parse().unwrap(),
        ..Config::default()
    })
    .await
    .expect_err("a non-loopback host is refused before any connect");
    assert!(err.to_string().contains("loopback"), "{err}");
}
