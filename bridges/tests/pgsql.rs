//! The `pgsql` type against a real PostgreSQL 15: rows checked with SQL.

mod servers;

use roost_bridges::{pgsql::PgsqlDriver, ConnectorContext, Driver, SendError};
use roost_rules::{Map, Value};
use serde_json::json;
use servers::Postgres;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ctx() -> ConnectorContext {
    ConnectorContext {
        name: "my_pg".into(),
        node: "roost@127.0.0.1".into(),
        data_dir: std::env::temp_dir(),
    }
}

fn connector(pg: &Postgres) -> Arc<dyn roost_bridges::Connector> {
    PgsqlDriver
        .connector(
            &ctx(),
            &json!({"server": pg.server(), "database": "roost", "username": "postgres", "password": "", "pool_size": 2}),
        )
        .unwrap()
}

/// A rule output as EMQX's message columns: `payload` is the JSON text.
fn output(clientid: &str, payload: serde_json::Value) -> Map {
    let mut m = Map::new();
    m.insert("clientid".into(), Value::Str(clientid.into()));
    m.insert("topic".into(), Value::Str(format!("t/{clientid}")));
    m.insert("payload".into(), Value::Str(payload.to_string()));
    m
}

#[tokio::test]
async fn templates_become_parameters_and_quotes_are_stored_verbatim() {
    let pg = Postgres::start();
    pg.psql(
        "roost",
        "CREATE TABLE t1 (clientid text, temp double precision, note text, room text, n int)",
    );
    let c = connector(&pg);
    c.health_check().await.unwrap();
    let sink = c
        .action(&json!({"sql": "INSERT INTO t1 (clientid, temp, note, room, n) VALUES (${clientid}, ${payload.temp}, ${payload.note}, ${payload.loc.room}, ${payload.missing})"}))
        .unwrap();
    let evil = "it's'); DROP TABLE t1; --";
    sink.send(&[output(
        "dev'1",
        json!({"temp": 21.5, "note": evil, "loc": {"room": "kitchen"}}),
    )])
    .await
    .unwrap();
    assert_eq!(
        pg.psql(
            "roost",
            "SELECT clientid, temp, note, room, n IS NULL FROM t1"
        ),
        format!("dev'1|21.5|{evil}|kitchen|t")
    );
    c.stop().await;
}

#[tokio::test]
async fn a_batch_of_100_is_one_transaction_and_fails_whole() {
    let pg = Postgres::start();
    pg.psql(
        "roost",
        "CREATE TABLE t2 (id int PRIMARY KEY, clientid text)",
    );
    let c = connector(&pg);
    let sink = c
        .action(
            &json!({"sql": "INSERT INTO t2 (id, clientid) VALUES (${payload.id}, ${clientid})"}),
        )
        .unwrap();
    let batch: Vec<Map> = (0..100)
        .map(|i| output(&format!("c{i}"), json!({"id": i})))
        .collect();
    sink.send(&batch).await.unwrap();
    // Every row was written by the same transaction (xmin is its id).
    assert_eq!(
        pg.psql(
            "roost",
            "SELECT count(*), count(DISTINCT xmin::text) FROM t2"
        ),
        "100|1"
    );
    assert_eq!(
        pg.psql("roost", "SELECT clientid FROM t2 WHERE id = 42"),
        "c42"
    );

    // A batch whose 50th row breaks the primary key: nothing of it lands,
    // and a constraint is not worth retrying.
    let batch: Vec<Map> = (100..200)
        .map(|i| output("x", json!({"id": if i == 150 { 7 } else { i }})))
        .collect();
    match sink.send(&batch).await {
        Err(SendError::Fatal(why)) => assert!(why.contains("23505"), "{why}"),
        other => panic!("expected a fatal error, got {other:?}"),
    }
    assert_eq!(pg.psql("roost", "SELECT count(*) FROM t2"), "100");
    // The connection is still good for the next batch.
    sink.send(&[output("y", json!({"id": 500}))]).await.unwrap();
    assert_eq!(pg.psql("roost", "SELECT count(*) FROM t2"), "101");
}

#[tokio::test]
async fn sql_errors_are_fatal() {
    let pg = Postgres::start();
    let c = connector(&pg);
    let syntax = c
        .action(&json!({"sql": "INSERT INTO nowhere VALUES (${clientid}"}))
        .unwrap();
    match syntax.send(&[output("a", json!({}))]).await {
        Err(SendError::Fatal(why)) => assert!(why.contains("42601"), "{why}"),
        other => panic!("expected a fatal syntax error, got {other:?}"),
    }
    let missing = c
        .action(&json!({"sql": "INSERT INTO nowhere VALUES (${clientid})"}))
        .unwrap();
    match missing.send(&[output("a", json!({}))]).await {
        Err(SendError::Fatal(why)) => assert!(why.contains("42P01"), "{why}"),
        other => panic!("expected a fatal missing-table error, got {other:?}"),
    }
    c.health_check().await.unwrap();
}

#[tokio::test]
async fn a_stopped_server_is_retriable_and_the_connector_recovers() {
    let mut pg = Postgres::start();
    pg.psql("roost", "CREATE TABLE t3 (clientid text)");
    let c = connector(&pg);
    let sink = c
        .action(&json!({"sql": "INSERT INTO t3 VALUES (${clientid})"}))
        .unwrap();
    sink.send(&[output("before", json!({}))]).await.unwrap();

    pg.stop();
    match sink.send(&[output("during", json!({}))]).await {
        Err(SendError::Retriable(why)) => assert!(!why.is_empty()),
        other => panic!("expected a retriable error, got {other:?}"),
    }
    let down = c.health_check().await.unwrap_err();
    assert!(
        down.contains("refused") || down.contains("connect"),
        "{down}"
    );

    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(e) = c.health_check().await {
        assert!(Instant::now() < deadline, "still down after restart: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every slot of the pool reconnects, not only the one the check used.
    for i in 0..4 {
        sink.send(&[output(&format!("after{i}"), json!({}))])
            .await
            .unwrap();
    }
    assert_eq!(pg.psql("roost", "SELECT count(*) FROM t3"), "5");
}

#[tokio::test]
async fn bad_fields_are_named() {
    let bad = |conf: serde_json::Value| PgsqlDriver.connector(&ctx(), &conf).err().unwrap();
    let base = json!({"server": "127.0.0.1", "database": "d", "username": "u"});
    let mut ssl = base.clone();
    ssl["ssl"] = json!({"enable": true});
    assert_eq!(bad(ssl).field, "ssl.enable");
    let mut server = base.clone();
    server["server"] = json!("h:0");
    assert_eq!(bad(server).field, "server");
    let mut unknown = base.clone();
    unknown["servr"] = json!("x");
    assert_eq!(bad(unknown).field, "servr");
    let c = PgsqlDriver.connector(&ctx(), &base).unwrap();
    assert_eq!(
        c.action(&json!({"sql": "x ${a"})).err().unwrap().field,
        "parameters.sql"
    );
    assert_eq!(c.action(&json!({})).err().unwrap().field, "parameters");
}
