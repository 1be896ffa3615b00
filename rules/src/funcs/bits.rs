//! Binaries as bits: `bitsize`, `bytesize`, and `subbits`, which reads a
//! number out of a binary at a bit offset (`subbits(payload, 9, 16,
//! 'integer', 'signed', 'little')`), for devices that send packed bytes.

use super::args::{arity, bad, bytes, int, text};
use crate::error::EvalError;
use crate::value::Value;
use bytes::Bytes;

pub(super) const NAMES: &[&str] = &["bitsize", "bytesize", "subbits"];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "bitsize" | "bytesize" => {
            arity(name, &args, 1..=1)?;
            let len = bytes(name, &args[0])?.len() as i64;
            Ok(Value::Int(if name == "bitsize" { len * 8 } else { len }))
        }
        "subbits" => subbits(&args),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// `subbits(Bin, Len)`, `subbits(Bin, Start, Len[, Type[, Signedness[,
/// Endianness]]])`: `Len` bits from bit `Start` (1-based; all that is left
/// when fewer), read as `integer` (default, unsigned, big-endian), `float`
/// (16, 32 or 64 bits) or `bits`. Undefined when `Start` is past the end.
fn subbits(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "subbits";
    arity(NAME, args, 2..=6)?;
    let data = bytes(NAME, &args[0])?;
    let (start, len) = match args.len() {
        2 => (1, int(NAME, &args[1])?),
        _ => (int(NAME, &args[1])?, int(NAME, &args[2])?),
    };
    let option = |i: usize, default: &'static str| -> Result<String, EvalError> {
        args.get(i)
            .map(|v| text(NAME, v).map(|t| t.into_owned()))
            .unwrap_or(Ok(default.to_string()))
    };
    let (kind, signedness, endianness) = (
        option(3, "integer")?,
        option(4, "unsigned")?,
        option(5, "big")?,
    );
    let signed = match signedness.as_str() {
        "signed" => true,
        "unsigned" => false,
        other => return Err(bad(NAME, format!("unknown signedness {other:?}"))),
    };
    let little = match endianness.as_str() {
        "little" => true,
        "big" => false,
        other => return Err(bad(NAME, format!("unknown endianness {other:?}"))),
    };
    let total = data.len() as u64 * 8;
    if start < 1 || (start - 1) as u64 >= total {
        return Ok(Value::Null);
    }
    if len < 0 {
        return Err(bad(NAME, format!("negative length {len}")));
    }
    let begin = (start - 1) as u64;
    let len = (len as u64).min(total - begin);
    let bit = |i: u64| (data[(i / 8) as usize] >> (7 - i % 8)) & 1;
    match kind.as_str() {
        "integer" => {
            if len > 64 {
                return Err(bad(NAME, "integers wider than 64 bits are not supported"));
            }
            // Big-endian: the bits in order. Little-endian (Erlang's): the
            // first byte is the least significant, a last partial byte the most.
            let mut value: u64 = 0;
            if little {
                let mut shift = 0;
                let mut at = begin;
                while at < begin + len {
                    let chunk = (begin + len - at).min(8);
                    let mut byte = 0u64;
                    for i in at..at + chunk {
                        byte = byte << 1 | u64::from(bit(i));
                    }
                    value |= byte << shift;
                    shift += chunk;
                    at += chunk;
                }
            } else {
                for i in begin..begin + len {
                    value = value << 1 | u64::from(bit(i));
                }
            }
            if signed && len > 0 && len < 64 && value >> (len - 1) & 1 == 1 {
                value |= u64::MAX << len;
            }
            if !signed && len == 64 && value > i64::MAX as u64 {
                return Err(bad(NAME, "the unsigned integer does not fit in 64 bits"));
            }
            Ok(Value::Int(value as i64))
        }
        "float" => {
            if !matches!(len, 16 | 32 | 64) {
                return Err(bad(
                    NAME,
                    format!("a float is 16, 32 or 64 bits, not {len}"),
                ));
            }
            let mut raw: Vec<u8> = (0..len / 8)
                .map(|b| (0..8).fold(0u8, |acc, i| acc << 1 | bit(begin + b * 8 + i)))
                .collect();
            if little {
                raw.reverse();
            }
            let f = match raw.as_slice() {
                [a, b] => half_to_f64(u16::from_be_bytes([*a, *b])),
                [a, b, c, d] => f64::from(f32::from_be_bytes([*a, *b, *c, *d])),
                other => {
                    let mut eight = [0u8; 8];
                    eight.copy_from_slice(other);
                    f64::from_be_bytes(eight)
                }
            };
            if f.is_finite() {
                Ok(Value::Float(f))
            } else {
                Err(bad(NAME, "the bits are not a finite float"))
            }
        }
        "bits" => {
            if !len.is_multiple_of(8) {
                return Err(bad(
                    NAME,
                    "bit strings that are not whole bytes are not supported",
                ));
            }
            let out: Vec<u8> = (0..len / 8)
                .map(|b| (0..8).fold(0u8, |acc, i| acc << 1 | bit(begin + b * 8 + i)))
                .collect();
            Ok(Value::from_bytes(Bytes::from(out)))
        }
        other => Err(bad(NAME, format!("unknown type {other:?}"))),
    }
}

/// An IEEE 754 half-precision float.
fn half_to_f64(h: u16) -> f64 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exponent = i32::from((h >> 10) & 0x1f);
    let fraction = f64::from(h & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}
