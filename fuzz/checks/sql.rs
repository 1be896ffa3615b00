//! The rule SQL parser and evaluator (roost-rules). Arbitrary text is parsed;
//! what parses re-parses to the same tree with blanks around it, and runs on a
//! small event without panicking, overflowing the stack or hanging.
//!
//! Called by the fuzz target `sql_parse` and by the corpus replay in
//! rules/tests/fuzz_corpus.rs.

use roost_rules::{Map, Sql, Value};
use std::sync::OnceLock;

/// The event the parsed rules run on.
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

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sql) = Sql::parse(text) else {
        return;
    };
    // A `--` comment runs to the end of the line, hence the newline.
    let again = Sql::parse(&format!(" \t{text}\n "))
        .unwrap_or_else(|e| panic!("{text:?} parses, but not with blanks around it: {e}"));
    assert_eq!(
        format!("{sql:?}"),
        format!("{again:?}"),
        "blanks changed the tree"
    );
    let _ = sql.from();
    let _ = sql.run(columns());
}
