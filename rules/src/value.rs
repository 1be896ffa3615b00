//! The values a rule computes with, as EMQX's rule engine has them: Erlang's
//! `undefined` is [`Value::Null`]; strings are text ([`Value::Str`]) unless
//! they are not UTF-8 ([`Value::Bin`], what `gzip`, `base64_decode` or a raw
//! payload may give); maps are ordered by key as Erlang's small maps are, so
//! `json_encode` and `${.}` print keys in the order EMQX prints them.

use bytes::Bytes;
use std::collections::BTreeMap;

/// A map of a rule: an object of the payload, an event's columns, an output.
pub type Map = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// EMQX's `undefined`: a missing field, a function with nothing to give.
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text (an Erlang binary that is UTF-8).
    Str(String),
    /// Bytes that are not UTF-8 text.
    Bin(Bytes),
    Array(Vec<Value>),
    Map(Map),
}

impl Value {
    /// Bytes as a value: [`Value::Str`] when they are UTF-8, else [`Value::Bin`].
    pub fn from_bytes(bytes: Bytes) -> Value {
        match std::str::from_utf8(&bytes) {
            Ok(s) => Value::Str(s.to_string()),
            Err(_) => Value::Bin(bytes),
        }
    }

    /// The value from JSON (numbers stay integers where they are).
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => {
                Value::Array(a.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON: binaries that are not text become base64 strings
    /// (JSON has no bytes), non-finite floats `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use base64::Engine as _;
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Bin(b) => {
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// EMQX's name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "undefined",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) | Value::Bin(_) => "binary",
            Value::Array(_) => "list",
            Value::Map(_) => "map",
        }
    }
}

/// Conversions the built-in functions share (EMQX's `emqx_utils_conv`), kept
/// here so the evaluator can use the same ones (`+` on strings, templates).
impl Value {
    /// The value as EMQX's `str()` prints it (`emqx_utils_conv:bin/1`):
    /// strings as they are, integers in decimal, floats with up to ten
    /// decimals and no trailing zeros (`1.5`, `2.0`), `true`/`false`,
    /// `undefined` for null, maps and lists as JSON. `None` for bytes that
    /// are not UTF-8 (those stay bytes: see [`Value::to_bytes`]).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Bin(_) => None,
            Value::Null => Some("undefined".to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(float_to_text(*f, 10)),
            Value::Array(_) | Value::Map(_) => Some(self.to_json().to_string()),
        }
    }

    /// The value as bytes, as `str()` would give them: the bytes of a
    /// [`Value::Bin`] as they are, every other value as [`Value::to_text`].
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Value::Bin(b) => b.clone(),
            other => Bytes::from(other.to_text().unwrap_or_default()),
        }
    }
}

/// A float as Erlang's `float_to_binary(F, [{decimals, D}, compact])` prints
/// it, which is how EMQX turns floats into text: `D` decimals, rounded, then
/// trailing zeros dropped down to one (`20.2`, `2.0`). Non-finite floats (not
/// Erlang values) print as `inf`/`-inf`/`NaN`.
pub fn float_to_text(f: f64, decimals: usize) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let mut s = format!("{f:.decimals$}");
    if !s.contains('.') {
        s.push_str(".0");
        return s;
    }
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    s
}
