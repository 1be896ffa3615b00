//! Null tests, type tests and type conversions, as EMQX's
//! `emqx_utils_conv` converts: `int('12')`, `str(1.5)`, `bool('true')`.

use super::args::{arity, bad, float_to_int, num};
use crate::error::EvalError;
use crate::value::{float_to_text, Map, Value};

pub(super) const NAMES: &[&str] = &[
    "bool",
    "coalesce",
    "coalesce_ne",
    "float",
    "float2str",
    "int",
    "is_array",
    "is_bool",
    "is_float",
    "is_int",
    "is_map",
    "is_not_null",
    "is_not_null_var",
    "is_null",
    "is_null_var",
    "is_num",
    "is_str",
    "map",
    "str",
    "str_utf16_le",
    "str_utf8",
];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    if name.starts_with("coalesce") {
        return Ok(coalesce(name, args));
    }
    let arg = match name {
        "float" => {
            arity(name, &args, 1..=2)?;
            if let Some(decimals) = args.get(1) {
                return float_decimals(&args[0], decimals);
            }
            &args[0]
        }
        "float2str" => {
            arity(name, &args, 2..=2)?;
            return float2str(&args[0], &args[1]);
        }
        _ => {
            arity(name, &args, 1..=1)?;
            &args[0]
        }
    };
    let is = |test: bool| Ok(Value::Bool(test));
    match name {
        "is_null" | "is_null_var" => is(matches!(arg, Value::Null)),
        "is_not_null" | "is_not_null_var" => is(!matches!(arg, Value::Null)),
        "is_str" => is(matches!(arg, Value::Str(_) | Value::Bin(_))),
        "is_bool" => is(matches!(arg, Value::Bool(_))),
        "is_int" => is(matches!(arg, Value::Int(_))),
        "is_float" => is(matches!(arg, Value::Float(_))),
        "is_num" => is(matches!(arg, Value::Int(_) | Value::Float(_))),
        "is_map" => is(matches!(arg, Value::Map(_))),
        "is_array" => is(matches!(arg, Value::Array(_))),
        "str" => Ok(match arg {
            Value::Bin(_) => arg.clone(),
            other => Value::Str(other.to_text().unwrap_or_default()),
        }),
        "str_utf8" => arg
            .to_text()
            .map(Value::Str)
            .ok_or_else(|| bad(name, "the bytes are not UTF-8")),
        "str_utf16_le" => {
            let text = arg
                .to_text()
                .ok_or_else(|| bad(name, "the bytes are not UTF-8"))?;
            let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            Ok(Value::from_bytes(bytes.into()))
        }
        "int" => to_int(arg).map(Value::Int),
        "float" => to_float(arg).map(Value::Float),
        "bool" => to_bool(arg).map(Value::Bool),
        "map" => to_map(name, arg).map(Value::Map),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// `coalesce(A, B, ...)`: the first argument that is not null (`coalesce_ne`:
/// not null and not the empty string); one list argument is its elements.
fn coalesce(name: &str, args: Vec<Value>) -> Value {
    let values = match <[Value; 1]>::try_from(args) {
        Ok([Value::Array(values)]) => values,
        Ok([one]) => vec![one],
        Err(args) => args,
    };
    values
        .into_iter()
        .find(|v| match v {
            Value::Null => false,
            Value::Str(s) if name == "coalesce_ne" => !s.is_empty(),
            _ => true,
        })
        .unwrap_or_default()
}

/// EMQX's `int/1`: integers as they are, floats rounded down, `true` 1 and
/// `false` 0, text as an integer or else as a float rounded down.
pub(crate) fn to_int(v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => float_to_int("int", f.floor()),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Str(s) => match erlang_int(s) {
            Some(i) => Ok(i),
            None => match erlang_float(s) {
                Some(f) => float_to_int("int", f.floor()),
                None => Err(bad("int", format!("{s:?} is not a number"))),
            },
        },
        other => Err(bad(
            "int",
            format!("cannot convert {} to an integer", other.type_name()),
        )),
    }
}

/// EMQX's `float/1`: numbers as floats, text as a float or an integer.
pub(crate) fn to_float(v: &Value) -> Result<f64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Str(s) => erlang_float(s)
            .or_else(|| erlang_int(s).map(|i| i as f64))
            .ok_or_else(|| bad("float", format!("{s:?} is not a number"))),
        other => Err(bad(
            "float",
            format!("cannot convert {} to a float", other.type_name()),
        )),
    }
}

/// EMQX's `bool/1`: `true`, `'true'` and 1 are true; `false`, `'false'` and
/// 0 are false; anything else is an error.
pub(crate) fn to_bool(v: &Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) if s == "true" => Ok(true),
        Value::Str(s) if s == "false" => Ok(false),
        Value::Int(1) => Ok(true),
        Value::Int(0) => Ok(false),
        Value::Float(f) if *f == 1.0 => Ok(true),
        Value::Float(f) if *f == 0.0 => Ok(false),
        other => Err(bad(
            "bool",
            format!("cannot convert {other:?} to a boolean"),
        )),
    }
}

/// EMQX's `map/1`: a map as it is, JSON text that holds an object.
pub(crate) fn to_map(name: &str, v: &Value) -> Result<Map, EvalError> {
    match v {
        Value::Map(m) => Ok(m.clone()),
        Value::Str(s) => match serde_json::from_str(s).map(Value::from_json) {
            Ok(Value::Map(m)) => Ok(m),
            _ => Err(bad(name, format!("{s:?} is not a JSON object"))),
        },
        other => Err(bad(
            name,
            format!("cannot convert {} to a map", other.type_name()),
        )),
    }
}

/// `float(X, Decimals)`: X as a float rounded to `Decimals` (> 0) places.
fn float_decimals(x: &Value, decimals: &Value) -> Result<Value, EvalError> {
    let decimals = match decimals {
        Value::Int(d) if (1..=253).contains(d) => *d as usize,
        other => {
            return Err(bad(
                "float",
                format!("decimals must be an integer from 1 to 253, got {other:?}"),
            ))
        }
    };
    let f = to_float(x)?;
    format!("{f:.decimals$}")
        .parse()
        .map(Value::Float)
        .map_err(|_| bad("float", "not a finite number"))
}

/// `float2str(Float, Precision)`: Erlang's `float_to_binary(F, [{decimals,
/// Precision}, compact])`.
fn float2str(f: &Value, precision: &Value) -> Result<Value, EvalError> {
    let f = match f {
        Value::Float(f) => *f,
        Value::Int(_) => num("float2str", f)?,
        other => {
            return Err(bad(
                "float2str",
                format!("expects a float, got {}", other.type_name()),
            ))
        }
    };
    match precision {
        Value::Int(p) if (0..=253).contains(p) => Ok(Value::Str(float_to_text(f, *p as usize))),
        other => Err(bad(
            "float2str",
            format!("precision must be an integer from 0 to 253, got {other:?}"),
        )),
    }
}

/// Text as Erlang's `binary_to_integer` reads it: an optional sign, then
/// decimal digits only.
fn erlang_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Text as Erlang's `binary_to_float` reads it: `[+-]digits.digits[e[+-]digits]`
/// (`1.0`, `-2.5e3`; not `1`, `.5` or `1e3`).
fn erlang_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.')?;
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !(digits(whole) && digits(fraction) && exponent_ok) {
        return None;
    }
    s.parse().ok().filter(|f: &f64| f.is_finite())
}
