//! The `mqtt` action behind the delivery layer ([`Buffer`]) while its remote
//! broker, Mosquitto, is stopped for ~10 s as outputs keep coming: every
//! output sent meanwhile arrives after the restart, and the metrics account
//! for each one (`matched = success`, nothing failed, dropped or left
//! queuing).
//!
//! The subscriber that checks arrival must not miss what is sent while it
//! reconnects itself, so Mosquitto keeps its sessions across the restart
//! (`persistence true`, stopped with SIGTERM so it saves them) and the
//! subscriber has a persistent QoS 1 session.

mod servers;

use roost_bridges::mqtt::MqttDriver;
use roost_bridges::resource::{Buffer, BufferMode, Counters, ResourceOpts};
use roost_bridges::{ConnectorContext, Driver};
use roost_rules::{Map, Value};
use serde_json::json;
use servers::{Mosquitto, Subscriber};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn output(n: u64) -> Map {
    [("n".to_string(), Value::Int(n as i64))]
        .into_iter()
        .collect()
}

async fn wait(what: &str, within: Duration, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_sent_while_the_broker_is_down_arrives_after() {
    let mut broker = Mosquitto::start();
    let checker = Subscriber::start(&broker, "fault-checker", "flow").await;
    let got = checker.got.clone();

    let ctx = ConnectorContext {
        name: "fault".into(),
        node: "roost@127.0.0.1".into(),
        data_dir: broker.dir.clone(),
    };
    let conn = MqttDriver
        .connector(
            &ctx,
            &json!({"server": format!("127.0.0.1:{}", broker.port), "pool_size": 2}),
        )
        .unwrap();
    let sink = conn
        .action(&json!({"topic": "flow/${n}", "qos": 1, "payload": "${n}"}))
        .unwrap();
    let opts = ResourceOpts {
        worker_pool_size: 2,
        batch_size: 10,
        batch_time: Duration::from_millis(10),
        health_check_interval: Duration::from_secs(1),
        request_ttl: Duration::from_secs(120),
        buffer_mode: BufferMode::MemoryOnly,
        ..ResourceOpts::default()
    };
    let counters = Arc::new(Counters::default());
    let buffer = Buffer::start(
        "mqtt:fault",
        &opts,
        sink,
        conn.clone(),
        None,
        counters.clone(),
    );

    let mut n = 0;
    for _ in 0..50 {
        buffer.push(&output(n));
        n += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < 50 {
        assert!(
            Instant::now() < deadline,
            "the first 50: {} arrived; metrics {}; health {:?}",
            got.lock().unwrap().len(),
            counters.snapshot(),
            buffer.health()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    broker.stop();
    // ~10 s down, 20 outputs a second.
    for _ in 0..200 {
        buffer.push(&output(n));
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        got.lock().unwrap().len() < n as usize,
        "nothing can arrive while it is down"
    );
    broker.restart();
    for _ in 0..50 {
        buffer.push(&output(n));
        n += 1;
    }
    wait("every output to arrive", Duration::from_secs(60), || {
        got.lock().unwrap().len() == n as usize
    })
    .await;
    let want: BTreeSet<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(*got.lock().unwrap(), want);
    wait("the metrics to settle", Duration::from_secs(10), || {
        counters.success.load(Relaxed) == n
    })
    .await;
    let c = &counters;
    assert_eq!(c.matched.load(Relaxed), n);
    assert_eq!(c.failed.load(Relaxed), 0);
    let dropped = c.dropped_queue_full.load(Relaxed)
        + c.dropped_expired.load(Relaxed)
        + c.dropped_other.load(Relaxed);
    assert_eq!(dropped, 0);
    assert_eq!(c.queuing.load(Relaxed), 0);
    assert_eq!(c.inflight.load(Relaxed), 0);
    assert!(
        c.retried.load(Relaxed) > 0,
        "sends were retried while it was down"
    );
}
