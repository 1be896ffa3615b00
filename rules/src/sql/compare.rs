//! Comparisons as emqx_rule_runtime's `compare/3` makes them: undefined
//! equals only undefined and is neither less nor greater than anything; a
//! number against text converts the text to a number (an error when it is
//! not one); a boolean against text compares as text; everything else in
//! Erlang's term order (number < boolean < map < list < text), numbers by
//! value (`1 = 1.0`).

use super::lexer::CmpOp;
use super::EvalError;
use crate::value::Value;
use std::cmp::Ordering;

pub(crate) fn compare(op: CmpOp, l: &Value, r: &Value) -> Result<bool, EvalError> {
    match (l, r) {
        (Value::Null, Value::Null) => {
            return match op {
                CmpOp::Eq | CmpOp::Le | CmpOp::Ge => Ok(true),
                CmpOp::Match => Err(EvalError::Type(
                    "=~ needs a topic and a topic filter, not undefined".into(),
                )),
                _ => Ok(false),
            }
        }
        (Value::Null, _) | (_, Value::Null) => return Ok(false),
        _ => {}
    }
    if op == CmpOp::Match {
        return match (text(l), text(r)) {
            (Some(topic), Some(filter)) => Ok(roost_protocol::topic::matches(filter, topic)),
            _ => Err(EvalError::Type(format!(
                "=~ needs a topic and a topic filter, not {} and {}",
                l.type_name(),
                r.type_name()
            ))),
        };
    }
    let ord = match (l, r) {
        (Value::Int(_) | Value::Float(_), Value::Str(_) | Value::Bin(_)) => {
            term_order(l, &number(r)?)
        }
        (Value::Str(_) | Value::Bin(_), Value::Int(_) | Value::Float(_)) => {
            term_order(&number(l)?, r)
        }
        (Value::Bool(b), Value::Str(_) | Value::Bin(_)) => {
            term_order(&Value::Str(b.to_string()), r)
        }
        (Value::Str(_) | Value::Bin(_), Value::Bool(b)) => {
            term_order(l, &Value::Str(b.to_string()))
        }
        _ => term_order(l, r),
    };
    Ok(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Match => unreachable!("handled above"),
    })
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// Text as a number, as `binary_to_integer`, else `binary_to_float` (which
/// wants digits on both sides of the dot) reads it.
pub(crate) fn number(v: &Value) -> Result<Value, EvalError> {
    let s = match v {
        Value::Str(s) => s.as_str(),
        _ => "",
    };
    if let Some(i) = erlang_integer(s) {
        return Ok(Value::Int(i));
    }
    if is_erlang_float(s) {
        if let Ok(f) = s.parse::<f64>() {
            return Ok(Value::Float(f));
        }
    }
    Err(EvalError::Type(format!(
        "cannot compare a number with the text {:?}, which is not a number",
        String::from_utf8_lossy(match v {
            Value::Str(s) => s.as_bytes(),
            Value::Bin(b) => b,
            _ => b"",
        })
    )))
}

fn erlang_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_erlang_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let Some((int, frac)) = mantissa.split_once('.') else {
        return false;
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    all_digits(int)
        && all_digits(frac)
        && exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

/// Erlang's order of terms: numbers (by value) < atoms (`false` < `true` <
/// `undefined`) < maps (by size, then keys, then values) < lists < binaries.
pub(crate) fn term_order(l: &Value, r: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Int(_) | Value::Float(_) => 0,
            Value::Bool(_) | Value::Null => 1,
            Value::Map(_) => 2,
            Value::Array(_) => 3,
            Value::Str(_) | Value::Bin(_) => 4,
        }
    }
    fn atom(v: &Value) -> &'static str {
        match v {
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            _ => "undefined",
        }
    }
    fn bytes(v: &Value) -> &[u8] {
        match v {
            Value::Str(s) => s.as_bytes(),
            Value::Bin(b) => b,
            _ => b"",
        }
    }
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Int(a), Value::Float(b)) => (*a as f64).total_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.total_cmp(&(*b as f64)),
        (Value::Float(a), Value::Float(b)) => {
            if a == b {
                Ordering::Equal
            } else {
                a.total_cmp(b)
            }
        }
        (Value::Map(a), Value::Map(b)) => a
            .len()
            .cmp(&b.len())
            .then_with(|| a.keys().cmp(b.keys()))
            .then_with(|| {
                a.values()
                    .zip(b.values())
                    .map(|(x, y)| term_order(x, y))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            }),
        (Value::Array(a), Value::Array(b)) => a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| term_order(x, y))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len())),
        _ => match rank(l).cmp(&rank(r)) {
            Ordering::Equal if rank(l) == 1 => atom(l).cmp(atom(r)),
            Ordering::Equal => bytes(l).cmp(bytes(r)),
            o => o,
        },
    }
}
