//! Shorthands for the `funcs_*` tests: call a built-in function as a rule
//! would, on given columns, and build values.
//!
//! Cases cite where EMQX states them: "docs" is EMQX 5's "Built-in SQL
//! functions" page (docs.emqx.com/en/emqx/latest/data-integration/
//! rule-sql-builtin-functions.html, emqx-docs `rule-sql-builtin-functions.md`),
//! "suite" is `apps/emqx_rule_engine/test/emqx_rule_funcs_SUITE.erl`.

#![allow(dead_code)]

use roost_rules::funcs;
use roost_rules::{Context, EvalError, Map, Value};

pub fn call_on(columns: &Map, name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    assert!(funcs::is_known(name), "{name} is not a known function");
    funcs::call(name, args, &Context { columns })
}

pub fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    call_on(&Map::new(), name, args)
}

/// The result of a call that must succeed.
pub fn ok(name: &str, args: Vec<Value>) -> Value {
    match call(name, args.clone()) {
        Ok(v) => v,
        Err(e) => panic!("{name}({args:?}) failed: {e}"),
    }
}

/// A call that must fail as a bad argument (a counted failure), not as an
/// unknown function and not with a panic.
pub fn fails(name: &str, args: Vec<Value>) {
    match call(name, args.clone()) {
        Err(EvalError::BadArgument { function, .. }) => assert_eq!(function, name),
        other => panic!("{name}({args:?}) should fail, gave {other:?}"),
    }
}

pub fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

pub fn i(n: i64) -> Value {
    Value::Int(n)
}

pub fn f(x: f64) -> Value {
    Value::Float(x)
}

pub fn b(x: bool) -> Value {
    Value::Bool(x)
}

/// Bytes as the functions give them: text when they are UTF-8.
pub fn bin(bytes: &[u8]) -> Value {
    Value::from_bytes(bytes::Bytes::copy_from_slice(bytes))
}

pub fn list(items: Vec<Value>) -> Value {
    Value::Array(items)
}

pub fn strs(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|t| s(t)).collect())
}

pub fn ints(items: &[i64]) -> Value {
    Value::Array(items.iter().map(|n| i(*n)).collect())
}

pub fn json(text: &str) -> Value {
    Value::from_json(serde_json::from_str(text).expect("test JSON"))
}

/// A float result close to `want`.
pub fn assert_close(v: Value, want: f64) {
    match v {
        Value::Float(x) => assert!((x - want).abs() < 1e-12, "{x} != {want}"),
        other => panic!("expected a float near {want}, got {other:?}"),
    }
}
