//! Fault tests of the data integration types through the binary (issue 16):
//! a rule feeds an action on a real server (PostgreSQL 15, Redis, Mosquitto
//! as the remote broker, tansu as the Kafka broker); an MQTT client publishes
//! while the test stops that server for ~10 s and starts it again. Every
//! message published meanwhile arrives afterwards (checked at the server:
//! rows with SQL, a hash with redis-cli, messages received by a subscriber,
//! records read back with kcat), and the action's metrics
//! (`GET /api/v5/actions/{id}/metrics`) account for every message. The
//! `http` type's outage, and a sink that stays down until its buffer spills
//! to disk and drops, are in bridges_delivery.rs.

#[macro_use]
mod common;
mod bridges_support;
#[path = "../bridges/tests/servers/mod.rs"]
mod servers;

use bridges_support::fault::{numbers, rules, Outage, AFTER, BEFORE, RESOURCE_OPTS, TOTAL};
use common::*;
use servers::{Mosquitto, Postgres, Redis, Subscriber, Tansu};
use std::collections::BTreeSet;

fn broker(connectors: &str, actions: &str, action: &str) -> Broker {
    Broker::start_with(&[
        ("ROOST__CONNECTORS", connectors),
        ("ROOST__ACTIONS", actions),
        ("ROOST__RULES__RULES", &rules(action)),
    ])
}

#[tokio::test]
async fn pgsql_rows_written_while_postgres_was_down_arrive_after() {
    let mut pg = Postgres::start();
    pg.psql(
        "roost",
        "CREATE TABLE fault (n int PRIMARY KEY, clientid text)",
    );
    let connectors = format!(
        r#"{{pgsql: {{pg: {{server: "{}", database: roost, username: postgres, pool_size: 2}}}}}}"#,
        pg.server()
    );
    // A retried batch that had been committed must not fail on its rows.
    let actions = format!(
        r#"{{pgsql: {{rows: {{connector: pg, resource_opts: {RESOURCE_OPTS},
             parameters: {{sql: "INSERT INTO fault (n, clientid) VALUES (${{n}}, ${{clientid}}) ON CONFLICT (n) DO NOTHING"}}}}}}}}"#
    );
    let b = broker(&connectors, &actions, "pgsql:rows");
    let mut o = Outage::begin(&b, "pgsql:rows").await;
    o.publish(BEFORE, Duration::ZERO).await;
    o.settled(BEFORE).await;
    pg.stop();
    o.publish_while_down().await;
    pg.restart();
    o.publish(AFTER, Duration::ZERO).await;
    o.settled(TOTAL).await;
    let rows: BTreeSet<String> = pg
        .psql("roost", "SELECT n FROM fault WHERE clientid = 'fault-pub'")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(rows, numbers(TOTAL));
}

#[tokio::test]
async fn redis_keys_written_while_redis_was_down_arrive_after() {
    let mut redis = Redis::start();
    let connectors = format!(
        r#"{{redis: {{rd: {{redis_type: single, server: "{}", database: 2}}}}}}"#,
        redis.server()
    );
    let actions = format!(
        r#"{{redis: {{hash: {{connector: rd, resource_opts: {RESOURCE_OPTS},
             parameters: {{command_template: ["HSET", "fault", "${{n}}", "${{clientid}}"]}}}}}}}}"#
    );
    let b = broker(&connectors, &actions, "redis:hash");
    let mut o = Outage::begin(&b, "redis:hash").await;
    o.publish(BEFORE, Duration::ZERO).await;
    o.settled(BEFORE).await;
    // Saved to its dump file, which the restart loads: only the outage is
    // under test, not Redis' persistence.
    redis.stop_saving();
    o.publish_while_down().await;
    redis.restart();
    o.publish(AFTER, Duration::ZERO).await;
    o.settled(TOTAL).await;
    let keys: BTreeSet<String> = redis
        .cli(&["-n", "2", "HKEYS", "fault"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(keys, numbers(TOTAL));
    assert_eq!(
        redis.cli(&["-n", "2", "HGET", "fault", "7"]),
        "fault-pub",
        "the template's value"
    );
}

#[tokio::test]
async fn mqtt_messages_sent_while_the_remote_broker_was_down_arrive_after() {
    let mut remote = Mosquitto::start();
    // A persistent session at the remote: it keeps what arrives while the
    // checker itself reconnects after the restart.
    let checker = Subscriber::start(&remote, "fault-checker", "site1").await;
    let connectors = format!(
        r#"{{mqtt: {{remote: {{server: "{}", proto_ver: v5, pool_size: 2, clientid_prefix: "roost_"}}}}}}"#,
        remote.server()
    );
    let actions = format!(
        r#"{{mqtt: {{egress: {{connector: remote, resource_opts: {RESOURCE_OPTS},
             parameters: {{topic: "site1/${{topic}}", qos: 1, payload: "${{n}}"}}}}}}}}"#
    );
    let b = broker(&connectors, &actions, "mqtt:egress");
    let mut o = Outage::begin(&b, "mqtt:egress").await;
    o.publish(BEFORE, Duration::ZERO).await;
    o.settled(BEFORE).await;
    remote.stop();
    o.publish_while_down().await;
    remote.restart();
    o.publish(AFTER, Duration::ZERO).await;
    o.settled(TOTAL).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while checker.len() < TOTAL {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {TOTAL} at the remote",
            checker.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(*checker.got.lock().unwrap(), numbers(TOTAL));
}

#[tokio::test]
async fn kafka_records_produced_while_the_broker_was_down_arrive_after() {
    let mut kafka = Tansu::start();
    kafka.create_topic("fault", 1);
    let connectors = format!(
        r#"{{kafka_producer: {{k: {{bootstrap_hosts: "{}", connect_timeout: 2s}}}}}}"#,
        kafka.hosts()
    );
    let actions = format!(
        r#"{{kafka_producer: {{out: {{connector: k, resource_opts: {RESOURCE_OPTS},
             parameters: {{topic: fault, message: {{key: "${{clientid}}", value: "${{n}}"}}}}}}}}}}"#
    );
    let b = broker(&connectors, &actions, "kafka_producer:out");
    let mut o = Outage::begin(&b, "kafka_producer:out").await;
    o.publish(BEFORE, Duration::ZERO).await;
    o.settled(BEFORE).await;
    let values = |lines: Vec<String>| -> BTreeSet<String> {
        lines
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                assert_eq!(f[1], "fault-pub", "the key template: {l}");
                f[2].to_string()
            })
            .collect()
    };
    assert_eq!(values(kafka.kcat("fault", 1, BEFORE)), numbers(BEFORE));
    // tansu's memory storage: it comes back empty, and the topic is made
    // again, as an operator would; what was published meanwhile is there.
    kafka.stop();
    o.publish_while_down().await;
    kafka.restart();
    kafka.create_topic("fault", 1);
    o.publish(AFTER, Duration::ZERO).await;
    o.settled(TOTAL).await;
    let want: BTreeSet<String> = (BEFORE..TOTAL).map(|i| i.to_string()).collect();
    assert_eq!(values(kafka.kcat("fault", 1, TOTAL - BEFORE)), want);
}
