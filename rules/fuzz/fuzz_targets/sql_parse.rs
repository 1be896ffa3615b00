//! Feeds arbitrary text to the rule SQL parser, and runs what parses on a
//! small event: neither may panic, overflow the stack or hang.
//!
//! Run (from rules/fuzz, with cargo-fuzz installed):
//!   cargo +nightly fuzz run sql_parse -- -max_total_time=60

#![no_main]

use libfuzzer_sys::fuzz_target;
use roost_rules::{Map, Sql, Value};
use std::sync::OnceLock;

fn columns() -> &'static Map {
    static COLUMNS: OnceLock<Map> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let json = serde_json::json!({
            "topic": "t/a",
            "clientid": "c1",
            "username": "u1",
            "qos": 1,
            "flags": {"retain": false},
            "pub_props": {"User-Property": {"foo": "bar"}},
            "list": [1, 2.5, "three", [4], {"five": 5}],
            "timestamp": 1_700_000_000_000_i64,
        });
        let Value::Map(mut m) = Value::from_json(json) else {
            unreachable!("an object")
        };
        m.insert(
            "payload".into(),
            Value::Str(r#"{"a": {"b": [1, 2, {"c": "d"}]}, "n": 5, "s": "{\"x\": 1}"}"#.into()),
        );
        m
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sql) = Sql::parse(text) {
        let _ = sql.from();
        let _ = sql.run(columns());
    }
});
