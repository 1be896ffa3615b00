//! What every family of functions does with its arguments: check how many
//! there are and take each as the type EMQX's function clause wants, with an
//! [`EvalError`] naming the function when it does not fit (EMQX's
//! `function_clause`/`badarg`, counted as `failed.exception`).

use crate::error::EvalError;
use crate::value::Value;
use std::borrow::Cow;
use std::ops::RangeInclusive;

/// The longest text or list a function builds (`pad`, `sprintf`, the
/// decompressors...): a rule that asks for more fails instead of taking the
/// broker's memory.
#[cfg(not(fuzzing))]
pub(super) const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Under `cargo fuzz` (which sets `cfg(fuzzing)`) the same bound is 64 KiB:
/// the fuzzer soon finds rules that double a text up to the bound, and at
/// 16 MiB each such input took about 10 ms of instrumented copying (the
/// `sql_parse` target fell from thousands of runs a second to under 150).
/// The code that enforces the bound is the same; only the number differs.
#[cfg(fuzzing)]
pub(super) const MAX_OUTPUT: usize = 64 * 1024;

pub(super) fn bad(name: &str, message: impl Into<String>) -> EvalError {
    EvalError::bad_argument(name, message)
}

/// `args` has a count within `counts`.
pub(super) fn arity(
    name: &str,
    args: &[Value],
    counts: RangeInclusive<usize>,
) -> Result<(), EvalError> {
    if counts.contains(&args.len()) {
        return Ok(());
    }
    let wanted = if counts.start() == counts.end() {
        counts.start().to_string()
    } else {
        format!("{} to {}", counts.start(), counts.end())
    };
    Err(bad(
        name,
        format!("takes {wanted} arguments, got {}", args.len()),
    ))
}

/// Text, as EMQX's string functions take it: a string, or `true`/`false`
/// (atoms, which EMQX turns into their names). `undefined` and every other
/// type is refused, as EMQX's `badarg`.
pub(super) fn text<'v>(name: &str, v: &'v Value) -> Result<Cow<'v, str>, EvalError> {
    match v {
        Value::Str(s) => Ok(Cow::Borrowed(s)),
        Value::Bool(b) => Ok(Cow::Owned(b.to_string())),
        Value::Bin(_) => Err(bad(name, "expects text, got bytes that are not UTF-8")),
        other => Err(bad(
            name,
            format!("expects a string, got {}", other.type_name()),
        )),
    }
}

/// Bytes: a string or a binary (EMQX's `is_binary` guard).
pub(super) fn bytes<'v>(name: &str, v: &'v Value) -> Result<&'v [u8], EvalError> {
    match v {
        Value::Str(s) => Ok(s.as_bytes()),
        Value::Bin(b) => Ok(b),
        other => Err(bad(
            name,
            format!("expects a binary, got {}", other.type_name()),
        )),
    }
}

/// An integer (EMQX's `is_integer` guard: floats are refused).
pub(super) fn int(name: &str, v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(bad(
            name,
            format!("expects an integer, got {}", other.type_name()),
        )),
    }
}

/// A number as a float (EMQX's `is_number` guard).
pub(super) fn num(name: &str, v: &Value) -> Result<f64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        other => Err(bad(
            name,
            format!("expects a number, got {}", other.type_name()),
        )),
    }
}

/// A list.
pub(super) fn list<'v>(name: &str, v: &'v Value) -> Result<&'v [Value], EvalError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(bad(
            name,
            format!("expects a list, got {}", other.type_name()),
        )),
    }
}

/// Text as a value: the result of a string function.
pub(super) fn string(s: impl Into<String>) -> Value {
    Value::Str(s.into())
}

/// A float result, refused when it is not finite: Erlang's `math` raises
/// `badarith` where IEEE would give NaN or infinity.
pub(super) fn finite(name: &str, f: f64) -> Result<Value, EvalError> {
    if f.is_finite() {
        Ok(Value::Float(f))
    } else {
        Err(bad(name, "result is not a finite number"))
    }
}

/// A float turned into an integer (`floor`, `round`, `int`...), refused
/// when it does not fit in 64 bits (Erlang would make a bignum).
pub(super) fn float_to_int(name: &str, f: f64) -> Result<i64, EvalError> {
    // 2^63: i64::MAX is not a float, i64::MIN is.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        Ok(f as i64)
    } else {
        Err(bad(name, format!("{f} does not fit in a 64-bit integer")))
    }
}
