//! The `kafka_producer` type against a real Kafka-compatible broker: tansu
//! (`~/.cargo/bin/tansu`, crates.io) with its memory storage on a loopback
//! port the test picks, driven through the [`Driver`] trait. Records are read
//! back with rskafka's consumer side here (partitions and offsets checked
//! one by one); the black-box tests (tests/bridges_kafka.rs,
//! tests/bridges_fault.rs) read them back with kcat, which needs the
//! settings explained at `servers::tansu::KCAT_COMPAT`.

mod servers;

use roost_bridges::kafka::{partition::murmur2, KafkaDriver};
use roost_bridges::{Connector, ConnectorContext, Driver, SendError};
use roost_rules::{Map, Value};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::RecordAndOffset;
use serde_json::json;
use servers::{shared_tansu as shared, Tansu};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ctx() -> ConnectorContext {
    ConnectorContext {
        name: "kafka_test".into(),
        node: "roost@127.0.0.1".into(),
        data_dir: std::env::temp_dir(),
    }
}

async fn poll_async<F: std::future::Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut ok: impl FnMut() -> F,
) {
    let deadline = Instant::now() + within;
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn client(port: u16) -> Client {
    ClientBuilder::new(vec![format!("127.0.0.1:{port}")])
        .build()
        .await
        .expect("an rskafka client to tansu")
}

async fn create_topic(port: u16, topic: &str, partitions: i32) {
    let c = client(port).await;
    c.controller_client()
        .unwrap()
        .create_topic(topic, partitions, 1, 5_000)
        .await
        .expect("create topic");
}

/// Every record of `topic`'s partition `p`, from offset 0.
async fn read(port: u16, topic: &str, p: i32, want: usize) -> Vec<RecordAndOffset> {
    let c = client(port).await;
    let pc = c
        .partition_client(topic, p, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let offset = got.last().map_or(0, |r: &RecordAndOffset| r.offset + 1);
        let (records, high) = pc.fetch_records(offset, 1..1_000_000, 500).await.unwrap();
        got.extend(records);
        if got.len() >= want && got.last().is_none_or(|r| r.offset + 1 >= high) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}/{p}: {} of {want} records",
            got.len()
        );
    }
}

fn output(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn text(r: &RecordAndOffset) -> (String, String) {
    let s = |b: &Option<Vec<u8>>| String::from_utf8(b.clone().unwrap_or_default()).unwrap();
    (s(&r.record.key), s(&r.record.value))
}

/// A batch of 100 with key_dispatch: every record lands on the partition
/// the Java client's murmur2 gives its key, in the batch's order, with its
/// key, value and timestamp templates rendered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_100_with_templates_and_key_dispatch() {
    let port = shared();
    create_topic(port, "keys", 3).await;
    let conn = KafkaDriver
        .connector(
            &ctx(),
            &json!({"bootstrap_hosts": format!("127.0.0.1:{port}")}),
        )
        .unwrap();
    let sink = conn
        .action(&json!({
            "topic": "keys",
            "message": {"key": "${clientid}", "value": "${payload.temp}@${topic}", "timestamp": "${ts}"},
            "partition_strategy": "key_dispatch",
        }))
        .unwrap();
    let batch: Vec<Map> = (0..100)
        .map(|i| {
            output(&[
                ("clientid", Value::Str(format!("dev{}", i % 7))),
                ("topic", Value::Str("t/1".into())),
                ("payload", Value::Str(format!(r#"{{"temp": {i}}}"#))),
                ("ts", Value::Int(1_700_000_000_000 + i)),
            ])
        })
        .collect();
    sink.send(&batch).await.unwrap();

    let mut total = 0;
    for p in 0..3 {
        let records = read(port, "keys", p, 0).await;
        let mut last = -1;
        for r in &records {
            let (key, value) = text(r);
            assert_eq!(
                (murmur2(key.as_bytes()) & 0x7fff_ffff) as i32 % 3,
                p,
                "{key} on {p}"
            );
            let (temp, topic) = value.split_once('@').unwrap();
            let i: i64 = temp.parse().unwrap();
            assert_eq!(topic, "t/1");
            assert_eq!(key, format!("dev{}", i % 7));
            assert!(i > last, "partition {p} keeps the batch's order");
            last = i;
            assert_eq!(r.record.timestamp.timestamp_millis(), 1_700_000_000_000 + i);
        }
        total += records.len();
    }
    assert_eq!(total, 100);
    conn.stop().await;
}

/// EMQX's defaults: key `${.clientid}`, value `${.}` (the whole output as
/// JSON), timestamp `${.timestamp}`; random spreads over the partitions;
/// each compression rskafka builds is read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_random_partitions_and_compression() {
    let port = shared();
    create_topic(port, "spread", 3).await;
    let conn = KafkaDriver
        .connector(
            &ctx(),
            &json!({"bootstrap_hosts": format!("127.0.0.1:{port}")}),
        )
        .unwrap();
    let sink = conn.action(&json!({"topic": "spread"})).unwrap();
    let batch: Vec<Map> = (0..60)
        .map(|i| {
            output(&[
                ("clientid", Value::Str("c".into())),
                ("n", Value::Int(i)),
                ("timestamp", Value::Int(1_600_000_000_000)),
            ])
        })
        .collect();
    sink.send(&batch).await.unwrap();
    let mut total = 0;
    for p in 0..3 {
        let records = read(port, "spread", p, 1).await;
        assert!(!records.is_empty(), "random puts some on partition {p}");
        for r in &records {
            let (key, value) = text(r);
            assert_eq!(key, "c");
            let v: serde_json::Value = serde_json::from_str(&value).unwrap();
            assert_eq!(v["clientid"], "c");
            assert_eq!(r.record.timestamp.timestamp_millis(), 1_600_000_000_000);
        }
        total += records.len();
    }
    assert_eq!(total, 60);

    for codec in ["gzip", "snappy", "lz4", "zstd", "no_compression"] {
        let topic = format!("z-{codec}");
        create_topic(port, &topic, 1).await;
        let sink = conn
            .action(&json!({"topic": topic, "compression": codec,
                            "message": {"key": "k", "value": "${n}"}}))
            .unwrap();
        let batch: Vec<Map> = (0..20).map(|i| output(&[("n", Value::Int(i))])).collect();
        sink.send(&batch).await.unwrap();
        let values: Vec<String> = read(port, &topic, 0, 20)
            .await
            .iter()
            .map(|r| text(r).1)
            .collect();
        let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(values, want, "{codec}");
    }
    conn.stop().await;
}

/// A small `max_batch_bytes` splits a batch into several produce requests;
/// the records still all arrive, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_batch_bytes_splits_requests() {
    let port = shared();
    create_topic(port, "split", 1).await;
    let conn = KafkaDriver
        .connector(
            &ctx(),
            &json!({"bootstrap_hosts": format!("127.0.0.1:{port}")}),
        )
        .unwrap();
    let sink = conn
        .action(&json!({"topic": "split", "max_batch_bytes": "1KB",
                        "message": {"key": "", "value": "${v}"}}))
        .unwrap();
    let batch: Vec<Map> = (0..30)
        .map(|i| output(&[("v", Value::Str(format!("{i:03}{}", "x".repeat(200))))]))
        .collect();
    sink.send(&batch).await.unwrap();
    let records = read(port, "split", 0, 30).await;
    assert_eq!(records.len(), 30);
    for (i, r) in records.iter().enumerate() {
        assert!(text(r).1.starts_with(&format!("{i:03}")));
    }
}

/// The broker stops: sends are Retriable and the health check fails; it
/// comes back (memory storage: the topic is made again): sends succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_while_the_broker_is_down() {
    let mut broker = Tansu::start();
    create_topic(broker.port, "down", 1).await;
    let conn: Arc<dyn Connector> = KafkaDriver
        .connector(
            &ctx(),
            &json!({"bootstrap_hosts": broker.hosts(), "connect_timeout": "2s"}),
        )
        .unwrap();
    let sink = conn
        .action(&json!({"topic": "down", "message": {"value": "${v}"}}))
        .unwrap();
    let one = |v: &str| vec![output(&[("v", Value::Str(v.into()))])];
    sink.send(&one("before")).await.unwrap();
    conn.health_check().await.unwrap();

    broker.stop();
    match sink.send(&one("lost")).await {
        Err(SendError::Retriable(_)) => {}
        other => panic!("expected Retriable while the broker is down, got {other:?}"),
    }
    assert!(conn.health_check().await.is_err());

    broker.restart();
    create_topic(broker.port, "down", 1).await;
    poll_async(
        "sends to succeed again",
        Duration::from_secs(30),
        || async { sink.send(&one("after")).await.is_ok() },
    )
    .await;
    conn.health_check().await.unwrap();
    let values: Vec<String> = read(broker.port, "down", 0, 1)
        .await
        .iter()
        .map(|r| text(r).1)
        .collect();
    assert!(values.contains(&"after".to_string()), "{values:?}");
}

/// Bad fields are refused naming the field.
#[tokio::test]
async fn bad_fields_name_the_field() {
    let err = |conf| KafkaDriver.connector(&ctx(), &conf).err().unwrap().field;
    assert_eq!(err(json!({})), "bootstrap_hosts");
    assert_eq!(
        err(json!({"bootstrap_hosts": "h:1", "authentication": {"mechanism": "gssapi"}})),
        "authentication.mechanism"
    );
    assert_eq!(
        err(
            json!({"bootstrap_hosts": "h:1", "authentication": {"mechanism": "plain", "username": "u"}})
        ),
        "authentication.password"
    );
    assert_eq!(
        err(json!({"bootstrap_hosts": "h:1", "connect_timeout": "x"})),
        "connect_timeout"
    );
    let conn = KafkaDriver
        .connector(
            &ctx(),
            &json!({"bootstrap_hosts": "127.0.0.1:1",
            "authentication": {"mechanism": "scram_sha_256", "username": "u", "password": "p"}}),
        )
        .unwrap();
    let action_err = |p| conn.action(&p).err().unwrap().field;
    assert_eq!(action_err(json!({})), "parameters.topic");
    assert_eq!(
        action_err(json!({"topic": "t", "partition_strategy": "sticky"})),
        "parameters.partition_strategy"
    );
    assert_eq!(
        action_err(json!({"topic": "t", "compression": "brotli"})),
        "parameters.compression"
    );
    assert_eq!(
        action_err(json!({"topic": "t", "required_acks": "leader_only"})),
        "parameters.required_acks"
    );
    assert_eq!(
        action_err(json!({"topic": "t", "max_batch_bytes": "lots"})),
        "parameters.max_batch_bytes"
    );
    conn.stop().await;
}

/// Through the delivery layer: the broker is stopped ~10 s while outputs
/// keep coming, then started again (memory storage: empty, the topic made
/// again). Every output pushed while it was down is produced afterwards, and
/// the metrics account for every output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_outputs_arrive_after_the_broker_restarts() {
    use roost_bridges::resource::{Buffer, BufferMode, Counters, ResourceOpts};
    use std::sync::atomic::Ordering::Relaxed;

    let mut broker = Tansu::start();
    create_topic(broker.port, "fault", 1).await;
    let conn: Arc<dyn Connector> = KafkaDriver
        .connector(
            &ctx(),
            &json!({"bootstrap_hosts": broker.hosts(), "connect_timeout": "2s"}),
        )
        .unwrap();
    let sink = conn
        .action(&json!({"topic": "fault", "message": {"value": "${n}"}}))
        .unwrap();
    let opts = ResourceOpts {
        worker_pool_size: 1,
        // One request at a time, so retries keep the order (with more in
        // flight, a retried batch lands after later ones, as in EMQX).
        inflight_window: 1,
        batch_size: 100,
        batch_time: Duration::from_millis(20),
        health_check_interval: Duration::from_secs(1),
        request_ttl: Duration::from_secs(120),
        buffer_mode: BufferMode::MemoryOnly,
        ..ResourceOpts::default()
    };
    let counters = Arc::new(Counters::default());
    let buffer = Buffer::start(
        "kafka_producer:fault",
        &opts,
        sink,
        conn.clone(),
        None,
        counters.clone(),
    );
    let push = |n: i64| buffer.push(&output(&[("n", Value::Int(n))]));
    for n in 0..20 {
        push(n);
    }
    poll_async("the first 20", Duration::from_secs(20), || async {
        counters.success.load(Relaxed) == 20
    })
    .await;

    broker.stop();
    for n in 20..220 {
        push(n);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        counters.success.load(Relaxed),
        20,
        "nothing is produced while it is down"
    );
    broker.restart();
    create_topic(broker.port, "fault", 1).await;
    poll_async(
        "every output to be produced",
        Duration::from_secs(60),
        || async { counters.success.load(Relaxed) == 220 },
    )
    .await;
    // The new broker holds exactly what was pushed while the old one was
    // down, in order.
    let values: Vec<String> = read(broker.port, "fault", 0, 200)
        .await
        .iter()
        .map(|r| text(r).1)
        .collect();
    let want: Vec<String> = (20..220).map(|n: i64| n.to_string()).collect();
    assert_eq!(values, want);
    let c = &counters;
    assert_eq!(c.matched.load(Relaxed), 220);
    assert_eq!(c.failed.load(Relaxed), 0);
    assert_eq!(
        c.dropped_queue_full.load(Relaxed)
            + c.dropped_expired.load(Relaxed)
            + c.dropped_other.load(Relaxed),
        0
    );
    assert_eq!(c.queuing.load(Relaxed), 0);
    assert_eq!(c.inflight.load(Relaxed), 0);
}

/// The connector's `authentication` with EMQX's `scram_sha_256` and
/// `scram_sha_512`, against tansu with `--authentication` (SASL required)
/// holding a SCRAM credential per mechanism in its storage (see
/// `servers::tansu`). Each connector authenticates and produces, and the
/// records are read back by a client authenticated the same way; with a
/// wrong password the health check and the send fail, and nothing is
/// produced. (`plain`: tansu 0.6.0 builds its SASL library without PLAIN, so
/// tests/bridges_kafka.rs tests it through a SASL front, `servers::sasl`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_and_512_authenticate_and_a_wrong_password_does_not() {
    use rskafka::client::{Credentials, SaslConfig};
    use servers::Scram;

    let kafka = Tansu::start_scram();
    kafka.add_scram_user("roost256", "secret-256", Scram::Sha256);
    kafka.add_scram_user("roost512", "secret-512", Scram::Sha512);
    let admin = ClientBuilder::new(vec![kafka.hosts()])
        .sasl_config(SaslConfig::ScramSha512(Credentials::new(
            "roost512".into(),
            "secret-512".into(),
        )))
        .build()
        .await
        .expect("an authenticated client");
    admin
        .controller_client()
        .unwrap()
        .create_topic("sasl", 1, 1, 5_000)
        .await
        .expect("create topic");
    let connector = |mechanism: &str, user: &str, password: &str| {
        KafkaDriver
            .connector(
                &ctx(),
                &json!({"bootstrap_hosts": kafka.hosts(), "connect_timeout": "2s",
                        "authentication": {"mechanism": mechanism, "username": user, "password": password}}),
            )
            .unwrap()
    };
    let batch = |tag: &str| -> Vec<Map> {
        (0..10)
            .map(|i| output(&[("v", Value::Str(format!("{tag}-{i}")))]))
            .collect()
    };
    for (mechanism, user, password) in [
        ("scram_sha_256", "roost256", "secret-256"),
        ("scram_sha_512", "roost512", "secret-512"),
    ] {
        let conn = connector(mechanism, user, password);
        settled_health(&*conn)
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        let sink = conn
            .action(&json!({"topic": "sasl", "message": {"key": user, "value": "${v}"}}))
            .unwrap();
        sink.send(&batch(mechanism))
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        conn.stop().await;
    }
    // A wrong password: refused, and nothing goes out.
    let conn = connector("scram_sha_256", "roost256", "not-the-password");
    let err = settled_health(&*conn).await.expect_err("a wrong password");
    let sink = conn
        .action(&json!({"topic": "sasl", "message": {"value": "${v}"}}))
        .unwrap();
    assert!(sink.send(&batch("wrong")).await.is_err(), "{err}");
    conn.stop().await;
    let pc = admin
        .partition_client("sasl", 0, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    let (records, _) = pc.fetch_records(0, 1..1_000_000, 1_000).await.unwrap();
    let got: Vec<(String, String)> = records.iter().map(text).collect();
    let want: Vec<(String, String)> =
        [("roost256", "scram_sha_256"), ("roost512", "scram_sha_512")]
            .iter()
            .flat_map(|(user, tag)| (0..10).map(move |i| (user.to_string(), format!("{tag}-{i}"))))
            .collect();
    assert_eq!(got, want, "the wrong password produced nothing ({err})");
}

/// The health check once the connector's first connect (started when it was
/// made) has ended: until then the check answers "connecting".
async fn settled_health(conn: &dyn Connector) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match conn.health_check().await {
            Err(e) if e == "connecting" && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            done => return done,
        }
    }
}
