//! Mathematical and bitwise functions. Erlang's `math` module raises
//! `badarith` where IEEE gives NaN or infinity (`sqrt(-1)`, `log(0)`,
//! `exp(1000)`), so those are errors here too; integer results that would
//! need more than 64 bits (Erlang's bignums) are errors.

use super::args::{arity, bad, finite, float_to_int, int, num};
use crate::error::EvalError;
use crate::value::Value;

pub(super) const NAMES: &[&str] = &[
    "abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "bitand", "bitnot", "bitor", "bitsl",
    "bitsr", "bitxor", "ceil", "cos", "cosh", "exp", "floor", "fmod", "log", "log10", "log2",
    "power", "round", "sin", "sinh", "sqrt", "tan", "tanh",
];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "fmod" | "power" => {
            arity(name, &args, 2..=2)?;
            let (x, y) = (num(name, &args[0])?, num(name, &args[1])?);
            if name == "fmod" {
                if y == 0.0 {
                    return Err(bad(name, "division by zero"));
                }
                finite(name, x % y)
            } else {
                finite(name, x.powf(y))
            }
        }
        "bitand" | "bitor" | "bitxor" | "bitsl" | "bitsr" => {
            arity(name, &args, 2..=2)?;
            let (x, y) = (int(name, &args[0])?, int(name, &args[1])?);
            bits(name, x, y).map(Value::Int)
        }
        _ => {
            arity(name, &args, 1..=1)?;
            unary(name, &args[0])
        }
    }
}

fn unary(name: &str, arg: &Value) -> Result<Value, EvalError> {
    // The integer forms keep integers exact (abs, ceil, floor, round, bitnot).
    if let Value::Int(i) = arg {
        match name {
            "abs" => {
                return i
                    .checked_abs()
                    .map(Value::Int)
                    .ok_or_else(|| bad(name, "overflow"))
            }
            "ceil" | "floor" | "round" => return Ok(Value::Int(*i)),
            "bitnot" => return Ok(Value::Int(!i)),
            _ => {}
        }
    }
    if name == "bitnot" {
        return Err(bad(
            name,
            format!("expects an integer, got {}", arg.type_name()),
        ));
    }
    let x = num(name, arg)?;
    let to_int = |f: f64| float_to_int(name, f).map(Value::Int);
    match name {
        "abs" => finite(name, x.abs()),
        "ceil" => to_int(x.ceil()),
        "floor" => to_int(x.floor()),
        // Erlang rounds halves away from zero, as f64::round does.
        "round" => to_int(x.round()),
        "acos" => finite(name, x.acos()),
        "acosh" => finite(name, x.acosh()),
        "asin" => finite(name, x.asin()),
        "asinh" => finite(name, x.asinh()),
        "atan" => finite(name, x.atan()),
        "atanh" => finite(name, x.atanh()),
        "cos" => finite(name, x.cos()),
        "cosh" => finite(name, x.cosh()),
        "sin" => finite(name, x.sin()),
        "sinh" => finite(name, x.sinh()),
        "tan" => finite(name, x.tan()),
        "tanh" => finite(name, x.tanh()),
        "exp" => finite(name, x.exp()),
        "sqrt" => finite(name, x.sqrt()),
        "log" | "log10" | "log2" if x <= 0.0 => Err(bad(name, "undefined for numbers <= 0")),
        "log" => finite(name, x.ln()),
        "log10" => finite(name, x.log10()),
        "log2" => finite(name, x.log2()),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// The two-integer bitwise operations. `bsl`/`bsr` by a negative count
/// shift the other way, as Erlang's do; a left shift that loses bits is an
/// error (Erlang would grow a bignum).
fn bits(name: &str, x: i64, y: i64) -> Result<i64, EvalError> {
    let shl = |x: i64, n: i64| -> Result<i64, EvalError> {
        if x == 0 {
            return Ok(0);
        }
        let shifted = (n < 64).then(|| x << n);
        shifted.filter(|s| s >> n == x).ok_or_else(|| {
            bad(
                name,
                format!("{x} shifted left by {n} does not fit in 64 bits"),
            )
        })
    };
    let shr = |x: i64, n: i64| x >> n.min(63);
    match name {
        "bitand" => Ok(x & y),
        "bitor" => Ok(x | y),
        "bitxor" => Ok(x ^ y),
        "bitsl" if y >= 0 => shl(x, y),
        "bitsl" => Ok(shr(x, y.saturating_neg())),
        "bitsr" if y >= 0 => Ok(shr(x, y)),
        "bitsr" => shl(x, y.saturating_neg()),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}
