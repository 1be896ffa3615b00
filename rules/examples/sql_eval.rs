//! Prints how many rule-SQL evaluations one core does per second, for the
//! rule shapes the benchmarks use: a WHERE on a JSON payload field that
//! passes, one that fails, and a FOREACH.
//!
//!   cargo run --release -p roost-rules --example sql_eval

use roost_rules::{Map, Sql, Value};
use std::time::{Duration, Instant};

fn message(payload: &str) -> Map {
    let mut m = Map::new();
    for (k, v) in [
        ("topic", "sensors/1/temp"),
        ("clientid", "c1"),
        ("username", "u1"),
    ] {
        m.insert(k.into(), Value::Str(v.into()));
    }
    m.insert("qos".into(), Value::Int(1));
    m.insert("timestamp".into(), Value::Int(1_700_000_000_000));
    m.insert("payload".into(), Value::Str(payload.into()));
    m
}

fn measure(name: &str, sql: &str, columns: &Map) {
    let sql = Sql::parse(sql).expect("parses");
    let mut runs = 0u64;
    let mut outputs = 0usize;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..1000 {
            outputs += sql.run(columns).expect("runs").len();
        }
        runs += 1000;
    }
    let rate = runs as f64 / start.elapsed().as_secs_f64();
    println!("{name:<40} {rate:>12.0} runs/s  ({outputs} outputs)");
}

fn main() {
    let payload =
        r#"{"temp": 31.5, "hum": 40, "site": {"id": "a7", "zone": 3}, "tags": ["x", "y"]}"#;
    let cols = message(payload);
    measure(
        "SELECT fields WHERE payload field (pass)",
        "SELECT payload.temp as t, payload.site.id as site, clientid FROM \"sensors/+/temp\" WHERE payload.temp > 30",
        &cols,
    );
    measure(
        "SELECT * WHERE payload field (fail)",
        "SELECT * FROM \"sensors/+/temp\" WHERE payload.temp > 40",
        &cols,
    );
    measure(
        "SELECT * WHERE payload field (pass)",
        "SELECT * FROM \"sensors/+/temp\" WHERE payload.temp > 30",
        &cols,
    );
    measure(
        "FOREACH payload list DO",
        "FOREACH payload.tags as t DO t, clientid FROM \"sensors/#\"",
        &cols,
    );
}
