//! Rule evaluations per second on one core: `Sql::run` over N publish events
//! (EMQX's columns, a JSON payload), for a few rules of the kinds people
//! write. Run in release, on an otherwise quiet machine:
//!
//! ```text
//! cargo run --release -p roost-rules --example eval_rate [-- N]
//! ```
//!
//! The events are built before the clock starts; a payload is decoded (at
//! most once) by each run of a rule that reads it, as in the broker.

use roost_rules::{Map, Sql, Value};
use std::time::Instant;

const RULES: &[(&str, &str)] = &[
    (
        "WHERE on a JSON field (the benchmark's republish rule)",
        r#"SELECT payload.temp AS temp, clientid FROM "bench/pair/#" WHERE payload.temp >= 0"#,
    ),
    (
        "WHERE on columns only (no payload decode)",
        r#"SELECT clientid, topic FROM "bench/#" WHERE qos = 1 and topic =~ 'bench/pair/+'"#,
    ),
    (
        "functions and CASE over the payload",
        r#"SELECT upper(clientid) AS who, CASE WHEN payload.temp > 50 THEN 'hot' ELSE 'ok' END AS level,
           topic(2) AS room FROM "bench/#""#,
    ),
    (
        "FOREACH over a 5-element array",
        r#"FOREACH payload.readings AS r DO r.v AS v FROM "bench/#" WHERE clientid <> ''"#,
    ),
];

fn event(i: u64) -> Map {
    let payload = format!(
        r#"{{"stamp":"00000000000000000000000000000000","temp":{},"readings":[{{"v":1}},{{"v":2}},{{"v":3}},{{"v":4}},{{"v":5}}],"pad":"xx"}}"#,
        i % 100
    );
    let mut m = Map::new();
    let s = |v: &str| Value::Str(v.to_string());
    m.insert("event".into(), s("message.publish"));
    m.insert("id".into(), s(&format!("{i:032X}")));
    m.insert("clientid".into(), s(&format!("dev-{}", i % 50)));
    m.insert("username".into(), s("bench"));
    m.insert("topic".into(), s(&format!("bench/pair/{}", i % 50)));
    m.insert("payload".into(), Value::Str(payload));
    m.insert("qos".into(), Value::Int(1));
    m.insert("peerhost".into(), s("127.0.0.1"));
    m.insert("node".into(), s("roost@127.0.0.1"));
    m.insert("timestamp".into(), Value::Int(1_765_000_000_000 + i as i64));
    m.insert(
        "publish_received_at".into(),
        Value::Int(1_765_000_000_000 + i as i64),
    );
    m
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let events: Vec<Map> = (0..n).map(event).collect();
    println!("rule evaluations per second, one thread, {n} events each:");
    for (what, text) in RULES {
        let sql = match Sql::parse(text) {
            Ok(sql) => sql,
            Err(e) => {
                println!("  {what}: does not parse: {e}");
                continue;
            }
        };
        let started = Instant::now();
        let (mut outputs, mut failures) = (0usize, 0usize);
        for columns in &events {
            match sql.run(columns) {
                Ok(out) => outputs += out.len(),
                Err(_) => failures += 1,
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {:>10.0}/s  {what} ({outputs} outputs, {failures} failures)",
            n as f64 / secs
        );
    }
}
