//! Helpers of the rule-SQL golden tests: columns and expectations are
//! written as JSON; the payload column is the raw text, as a published
//! message carries it.

#![allow(dead_code)]

use roost_rules::{EvalError, Map, ParseError, Sql, Value};
use serde_json::Value as Json;

/// Columns from a JSON object (`payload` stays text: give it as a string).
pub fn columns(json: Json) -> Map {
    match Value::from_json(json) {
        Value::Map(m) => m,
        other => panic!("columns must be an object, not {other:?}"),
    }
}

/// A message's columns with this topic and payload text.
pub fn message(topic: &str, payload: &str) -> Map {
    columns(serde_json::json!({
        "topic": topic,
        "payload": payload,
        "clientid": "c_emqx",
        "username": "u_emqx",
        "qos": 1,
        "peerhost": "192.168.0.10",
    }))
}

pub fn run(sql: &str, cols: &Map) -> Result<Vec<Json>, EvalError> {
    let sql = Sql::parse(sql).unwrap_or_else(|e| panic!("{sql}\n  does not parse: {e}"));
    sql.run(cols).map(|outs| {
        outs.iter()
            .map(|m| normalize(Value::Map(m.clone()).to_json()))
            .collect()
    })
}

/// Unnamed fields are named `_v_<kind>_<what>_<time>`: the time becomes `T`.
fn normalize(json: Json) -> Json {
    match json {
        Json::Object(o) => Json::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let k = match k.strip_prefix("_v_").and_then(|_| k.rsplit_once('_')) {
                        Some((head, time)) if time.bytes().all(|b| b.is_ascii_digit()) => {
                            format!("{head}_T")
                        }
                        _ => k,
                    };
                    (k, normalize(v))
                })
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// The SQL gives exactly these outputs.
pub fn outputs(sql: &str, cols: &Map, expected: Json) {
    let got = run(sql, cols).unwrap_or_else(|e| panic!("{sql}\n  failed: {e}"));
    assert_eq!(Json::Array(got), expected, "{sql}");
}

/// The SQL gives one output, exactly this.
pub fn one(sql: &str, cols: &Map, expected: Json) {
    outputs(sql, cols, Json::Array(vec![expected]));
}

/// The SQL gives outputs that have (at least) these fields, in order.
pub fn matching(sql: &str, cols: &Map, expected: Json) {
    let got = run(sql, cols).unwrap_or_else(|e| panic!("{sql}\n  failed: {e}"));
    let Json::Array(expected) = expected else {
        panic!("expected a list")
    };
    assert_eq!(got.len(), expected.len(), "{sql}: {got:?}");
    for (g, e) in got.iter().zip(&expected) {
        for (k, v) in e.as_object().expect("objects") {
            assert_eq!(g.get(k), Some(v), "{sql}: field {k} of {g}");
        }
    }
}

/// WHERE (or INCASE) leaves nothing: EMQX's `failed.no_result`.
pub fn none(sql: &str, cols: &Map) {
    outputs(sql, cols, Json::Array(vec![]));
}

/// The SQL parses but fails when it runs: EMQX's `failed.exception`.
pub fn fails(sql: &str, cols: &Map) -> EvalError {
    match run(sql, cols) {
        Ok(out) => panic!("{sql}\n  should fail, gave {out:?}"),
        Err(e) => e,
    }
}

pub fn parses(sql: &str) -> Sql {
    Sql::parse(sql).unwrap_or_else(|e| panic!("{sql}\n  does not parse: {e}"))
}

pub fn parse_error(sql: &str) -> ParseError {
    match Sql::parse(sql) {
        Ok(s) => panic!("{sql}\n  should not parse: {s:?}"),
        Err(e) => e,
    }
}
