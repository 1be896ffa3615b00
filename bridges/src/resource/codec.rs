//! A rule output as bytes, for the buffer's segment files: a tag per value,
//! lengths as u32. Exact (bytes stay bytes, floats keep their bits), unlike
//! JSON; only this process reads it back (the buffer is volatile).

use bytes::Bytes;
use roost_rules::{Map, Value};

pub fn encode_map(m: &Map, out: &mut Vec<u8>) {
    out.extend_from_slice(&(m.len() as u32).to_le_bytes());
    for (k, v) in m {
        str_(k, out);
        encode(v, out);
    }
}

fn str_(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend_from_slice(&[1, *b as u8]),
        Value::Int(i) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(3);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(4);
            str_(s, out);
        }
        Value::Bin(b) => {
            out.push(5);
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        Value::Array(a) => {
            out.push(6);
            out.extend_from_slice(&(a.len() as u32).to_le_bytes());
            for v in a {
                encode(v, out);
            }
        }
        Value::Map(m) => {
            out.push(7);
            encode_map(m, out);
        }
    }
}

/// Reads what [`encode_map`] wrote; `None` for bytes it did not write.
pub fn decode_map(buf: &mut &[u8]) -> Option<Map> {
    let n = u32_(buf)?;
    let mut m = Map::new();
    for _ in 0..n {
        let k = string(buf)?;
        m.insert(k, decode(buf)?);
    }
    Some(m)
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Some(head)
}

fn u32_(buf: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(buf, 4)?.try_into().ok()?))
}

fn u64_(buf: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(buf, 8)?.try_into().ok()?))
}

fn string(buf: &mut &[u8]) -> Option<String> {
    let n = u32_(buf)? as usize;
    String::from_utf8(take(buf, n)?.to_vec()).ok()
}

fn decode(buf: &mut &[u8]) -> Option<Value> {
    Some(match take(buf, 1)?[0] {
        0 => Value::Null,
        1 => Value::Bool(take(buf, 1)?[0] != 0),
        2 => Value::Int(u64_(buf)? as i64),
        3 => Value::Float(f64::from_bits(u64_(buf)?)),
        4 => Value::Str(string(buf)?),
        5 => {
            let n = u32_(buf)? as usize;
            Value::Bin(Bytes::copy_from_slice(take(buf, n)?))
        }
        6 => {
            let n = u32_(buf)?;
            let mut a = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                a.push(decode(buf)?);
            }
            Value::Array(a)
        }
        7 => Value::Map(decode_map(buf)?),
        _ => return None,
    })
}

/// About what `m` costs in memory: its text and a word per value. Cheap
/// (no allocation), for the buffer's byte limits.
pub fn size(m: &Map) -> usize {
    fn value(v: &Value) -> usize {
        16 + match v {
            Value::Str(s) => s.len(),
            Value::Bin(b) => b.len(),
            Value::Array(a) => a.iter().map(value).sum(),
            Value::Map(m) => size(m),
            _ => 0,
        }
    }
    m.iter().map(|(k, v)| k.len() + value(v)).sum::<usize>() + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back() {
        let mut inner = Map::new();
        inner.insert("b".into(), Value::Bin(Bytes::from_static(&[0xff, 0])));
        let mut m = Map::new();
        m.insert("n".into(), Value::Null);
        m.insert("t".into(), Value::Bool(true));
        m.insert("i".into(), Value::Int(-7));
        m.insert("f".into(), Value::Float(2.5));
        m.insert("s".into(), Value::Str("hé".into()));
        m.insert(
            "a".into(),
            Value::Array(vec![Value::Int(1), Value::Map(inner)]),
        );
        let mut out = Vec::new();
        encode_map(&m, &mut out);
        let mut buf = out.as_slice();
        assert_eq!(decode_map(&mut buf), Some(m));
        assert!(buf.is_empty());
    }
}
