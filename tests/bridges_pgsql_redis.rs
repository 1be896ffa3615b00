//! The pgsql and redis types end to end (issue 16): a rule on "sensors/#"
//! sends to a pgsql and a redis action configured in config.yaml's sections
//! (here from the environment, as YAML), against a real PostgreSQL 15 and
//! redis-server on loopback ports; rows and keys are checked with psql and
//! redis-cli. A payload with quotes and `'; DROP TABLE` is stored verbatim;
//! 100 messages arrive through batches; a bad field stops start-up naming it.

#[macro_use]
mod common;
#[path = "../bridges/tests/servers/mod.rs"]
mod servers;

use common::*;
use servers::{Postgres, Redis};
use std::process::Command;
use std::time::Instant;

/// Polls `check` until it is true, or fails with `what` at the deadline.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "{what} within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_rule_writes_rows_and_keys_through_batches() {
    let pg = Postgres::start();
    pg.psql(
        "roost",
        "CREATE TABLE readings (clientid text, topic text, temp float8, note text)",
    );
    let redis = Redis::start();
    let connectors = format!(
        r#"{{pgsql: {{pg: {{server: "{}", database: roost, username: postgres, pool_size: 2}}}},
            redis: {{rd: {{redis_type: single, server: "{}", database: 1}}}}}}"#,
        pg.server(),
        redis.server()
    );
    let actions = r#"{pgsql: {rows: {connector: pg,
          parameters: {sql: "INSERT INTO readings (clientid, topic, temp, note) VALUES (${clientid}, ${topic}, ${payload.temp}, ${payload.note})"},
          resource_opts: {batch_size: 100, batch_time: 50ms}}},
        redis: {latest: {connector: rd,
          parameters: {command_template: ["RPUSH", "log:${clientid}", "${payload.temp}"]},
          resource_opts: {batch_size: 100, batch_time: 50ms}}}}"#;
    let rules =
        r#"{r1: {sql: 'SELECT * FROM "sensors/#"', actions: ["pgsql:rows", "redis:latest"]}}"#;
    let b = Broker::start_with(&[
        ("ROOST__CONNECTORS", &connectors),
        ("ROOST__ACTIONS", actions),
        ("ROOST__RULES__RULES", rules),
    ]);
    let note = r#"it's"; DROP TABLE readings; --"#;
    let mut c = V4Client::connect(b.addr(), "dev1").await;
    for i in 0..100 {
        let payload = serde_json::json!({"temp": i, "note": note}).to_string();
        c.publish(&format!("sensors/dev1/{i}"), payload.as_bytes(), 1, false)
            .await;
    }
    eventually("100 rows in PostgreSQL", || {
        pg.psql("roost", "SELECT count(*) FROM readings") == "100"
    })
    .await;
    assert_eq!(
        pg.psql(
            "roost",
            "SELECT count(DISTINCT temp), min(temp), max(temp), count(DISTINCT note), min(note) FROM readings WHERE clientid = 'dev1'"
        ),
        format!("100|0|99|1|{note}")
    );
    // Far fewer transactions than rows: the batches were used.
    let txs: u32 = pg
        .psql("roost", "SELECT count(DISTINCT xmin::text) FROM readings")
        .parse()
        .unwrap();
    assert!(txs < 100, "{txs} transactions for 100 rows");
    eventually("100 entries in Redis", || {
        redis.cli(&["-n", "1", "LLEN", "log:dev1"]) == "100"
    })
    .await;
    let all = redis.cli(&["-n", "1", "LRANGE", "log:dev1", "0", "-1"]);
    let mut temps: Vec<u32> = all.lines().map(|l| l.parse().unwrap()).collect();
    temps.sort();
    assert_eq!(temps, (0..100).collect::<Vec<_>>());
}

#[test]
fn a_bad_field_stops_start_up_naming_it() {
    let cases = [
        (
            r#"{redis: {rd: {redis_type: sentinel, server: "127.0.0.1"}}}"#,
            "connectors.redis.rd.redis_type",
        ),
        (
            r#"{pgsql: {pg: {server: "127.0.0.1:x", database: d, username: u}}}"#,
            "connectors.pgsql.pg.server",
        ),
    ];
    for (connectors, key) in cases {
        let dir = common::broker::unique_data_dir();
        let out = Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("start")
            .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
            .env("ROOST__HTTP__BIND", "127.0.0.1:0")
            .env("ROOST__NODE__DATA_DIR", &dir)
            .env("ROOST__CONNECTORS", connectors)
            .output()
            .expect("run roost");
        let _ = std::fs::remove_dir_all(&dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{connectors}: {err}");
        assert!(err.contains(key), "{connectors}: want {key} in {err}");
    }
}
