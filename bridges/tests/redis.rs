//! The `redis` type against a real redis-server: keys checked with redis-cli.

mod servers;

use roost_bridges::{redis::RedisDriver, ConnectorContext, Driver, SendError};
use roost_rules::{Map, Value};
use serde_json::json;
use servers::Redis;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ctx() -> ConnectorContext {
    ConnectorContext {
        name: "my_redis".into(),
        node: "roost@127.0.0.1".into(),
        data_dir: std::env::temp_dir(),
    }
}

fn connector(r: &Redis, database: u32) -> Arc<dyn roost_bridges::Connector> {
    RedisDriver
        .connector(
            &ctx(),
            &json!({"redis_type": "single", "server": r.server(), "database": database, "pool_size": 2}),
        )
        .unwrap()
}

fn output(clientid: &str, payload: serde_json::Value) -> Map {
    let mut m = Map::new();
    m.insert("clientid".into(), Value::Str(clientid.into()));
    m.insert("payload".into(), Value::Str(payload.to_string()));
    m
}

#[tokio::test]
async fn command_templates_with_nested_paths_and_verbatim_quotes() {
    let r = Redis::start();
    let c = connector(&r, 3);
    c.health_check().await.unwrap();
    let sink = c
        .action(&json!({"command_template": ["HSET", "dev:${clientid}", "temp", "${payload.temp}", "room", "${payload.loc.room}", "note", "${payload.note}"]}))
        .unwrap();
    let evil = "it's\"; FLUSHALL; --";
    sink.send(&[output(
        "d1",
        json!({"temp": 21.5, "loc": {"room": "kitchen"}, "note": evil}),
    )])
    .await
    .unwrap();
    // Database 3, as configured: nothing in database 0.
    assert_eq!(r.cli(&["-n", "3", "HGET", "dev:d1", "temp"]), "21.5");
    assert_eq!(r.cli(&["-n", "3", "HGET", "dev:d1", "room"]), "kitchen");
    assert_eq!(r.cli(&["-n", "3", "HGET", "dev:d1", "note"]), evil);
    assert_eq!(r.cli(&["-n", "0", "DBSIZE"]), "0");
}

#[tokio::test]
async fn a_batch_of_100_is_one_pipeline() {
    let r = Redis::start();
    let c = connector(&r, 0);
    let sink = c
        .action(&json!({"command_template": ["RPUSH", "log", "${clientid}:${payload.n}"]}))
        .unwrap();
    let conns = stat(&r, "total_connections_received");
    let batch: Vec<Map> = (0..100)
        .map(|i| output(&format!("c{i}"), json!({"n": i})))
        .collect();
    sink.send(&batch).await.unwrap();
    assert_eq!(r.cli(&["LLEN", "log"]), "100");
    assert_eq!(r.cli(&["LINDEX", "log", "42"]), "c42:42");
    assert_eq!(r.cli(&["LINDEX", "log", "99"]), "c99:99");
    // The whole batch went over one connection of the pool (the other
    // connections counted are redis-cli's own: one per call above).
    let after = stat(&r, "total_connections_received");
    assert_eq!(after - conns, 1 + 4, "connections opened by one batch");
}

fn stat(r: &Redis, key: &str) -> u64 {
    let info = r.cli(&["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} not in INFO: {info}"))
}

#[tokio::test]
async fn error_replies_are_fatal() {
    let r = Redis::start();
    let c = connector(&r, 0);
    r.cli(&["SET", "s", "x"]);
    let wrong = c
        .action(&json!({"command_template": ["HSET", "s", "f", "${clientid}"]}))
        .unwrap();
    match wrong.send(&[output("a", json!({}))]).await {
        Err(SendError::Fatal(why)) => assert!(why.contains("WRONGTYPE"), "{why}"),
        other => panic!("expected a fatal WRONGTYPE, got {other:?}"),
    }
    let unknown = c
        .action(&json!({"command_template": ["NOSUCHCMD", "${clientid}"]}))
        .unwrap();
    assert!(matches!(
        unknown.send(&[output("a", json!({}))]).await,
        Err(SendError::Fatal(_))
    ));
    c.health_check().await.unwrap();
}

#[tokio::test]
async fn a_stopped_server_is_retriable_and_the_connector_recovers() {
    let mut r = Redis::start();
    let c = connector(&r, 0);
    let sink = c
        .action(&json!({"command_template": ["INCR", "n"]}))
        .unwrap();
    sink.send(&[output("a", json!({}))]).await.unwrap();
    r.stop();
    for _ in 0..3 {
        match sink.send(&[output("a", json!({}))]).await {
            Err(SendError::Retriable(_)) => {}
            other => panic!("expected retriable, got {other:?}"),
        }
    }
    assert!(c.health_check().await.is_err());
    r.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(e) = c.health_check().await {
        assert!(Instant::now() < deadline, "still down after restart: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..4 {
        sink.send(&[output("a", json!({}))]).await.unwrap();
    }
    // The server restarted empty (no persistence): only the last four.
    assert_eq!(r.cli(&["GET", "n"]), "4");
}

#[tokio::test]
async fn bad_fields_are_named() {
    let bad = |conf: serde_json::Value| RedisDriver.connector(&ctx(), &conf).err().unwrap();
    assert_eq!(
        bad(json!({"redis_type": "cluster", "server": "h"})).field,
        "redis_type"
    );
    assert_eq!(
        bad(json!({"redis_type": "sentinel", "server": "h"})).field,
        "redis_type"
    );
    assert_eq!(bad(json!({"server": "h:x"})).field, "server");
    let c = RedisDriver
        .connector(&ctx(), &json!({"server": "h"}))
        .unwrap();
    assert_eq!(
        c.action(&json!({"command_template": []}))
            .err()
            .unwrap()
            .field,
        "parameters.command_template"
    );
}
