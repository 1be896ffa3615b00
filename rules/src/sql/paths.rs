//! Reading and writing along paths (`a.b[1].c`), as emqx_rule_maps does:
//! a missing key or index reads as undefined ([`Value::Null`]); text on the
//! way that holds JSON is decoded and read into; writing creates the maps
//! and lists a path names.

use crate::value::{Map, Value};
use std::borrow::Cow;

pub(crate) static NULL: Value = Value::Null;

/// One step of a path, its dynamic indexes already read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'p> {
    Key(&'p str),
    /// A 1-based index, negative from the end.
    At(i64),
    /// `[0]`: before the first element (reading it gives undefined).
    Head,
    /// `[-0]`: after the last element (reading it gives undefined).
    Tail,
    /// An index read from a column that is not an integer: reads give
    /// undefined, writes leave a list alone.
    Bad,
}

/// Text that holds JSON, decoded; `None` for anything else.
pub(crate) fn decode_json(v: &Value) -> Option<Value> {
    let bytes: &[u8] = match v {
        Value::Str(s) => s.as_bytes(),
        Value::Bin(b) => b,
        _ => return None,
    };
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .map(Value::from_json)
}

/// Erlang's 1-based `lists:nth`, negative from the end; `None` out of range.
pub(crate) fn position(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let idx = if i > 0 { i - 1 } else { len + i };
    (i != 0 && (0..len).contains(&idx)).then_some(idx as usize)
}

/// One step down from `cur`; undefined when there is nothing there.
pub(crate) fn step<'a>(cur: Cow<'a, Value>, step: Step<'_>) -> Cow<'a, Value> {
    match cur {
        Cow::Borrowed(v) => match (v, step) {
            (Value::Map(m), Step::Key(k)) => m.get(k).map_or(Cow::Borrowed(&NULL), Cow::Borrowed),
            (Value::Array(a), Step::At(i)) => {
                position(i, a.len()).map_or(Cow::Borrowed(&NULL), |p| Cow::Borrowed(&a[p]))
            }
            (Value::Str(_) | Value::Bin(_), _) => match decode_json(v) {
                Some(d) => self::step(Cow::Owned(d), step),
                None => Cow::Borrowed(&NULL),
            },
            _ => Cow::Borrowed(&NULL),
        },
        Cow::Owned(v) => match (v, step) {
            (Value::Map(mut m), Step::Key(k)) => Cow::Owned(m.remove(k).unwrap_or_default()),
            (Value::Array(a), Step::At(i)) => match position(i, a.len()) {
                Some(p) => Cow::Owned(a.into_iter().nth(p).unwrap_or_default()),
                None => Cow::Borrowed(&NULL),
            },
            (v @ (Value::Str(_) | Value::Bin(_)), _) => match decode_json(&v) {
                Some(d) => self::step(Cow::Owned(d), step),
                None => Cow::Borrowed(&NULL),
            },
            _ => Cow::Borrowed(&NULL),
        },
    }
}

/// Writes `value` at `steps` under the key `root` of `map`.
pub(crate) fn put_in_map(map: &mut Map, root: &str, steps: &[Step<'_>], value: Value) {
    let old = map.remove(root).unwrap_or_default();
    map.insert(root.to_string(), put(old, steps, value));
}

/// `old` with `value` written at `steps` (emqx_rule_maps:nested_put): a
/// key on something that is not a map makes a new map; an index on
/// something that is not a list makes a one-element list; an index out of
/// range leaves the list as it is; `[0]` prepends and `[-0]` appends.
pub(crate) fn put(old: Value, steps: &[Step<'_>], value: Value) -> Value {
    let Some((&first, rest)) = steps.split_first() else {
        return value;
    };
    match first {
        Step::Key(k) => {
            let (mut map, sub) = match old {
                Value::Map(mut m) => {
                    let sub = m.remove(k).unwrap_or_default();
                    (m, sub)
                }
                text @ (Value::Str(_) | Value::Bin(_)) => {
                    let sub = match decode_json(&text) {
                        Some(Value::Map(mut m)) => m.remove(k).unwrap_or_default(),
                        _ => Value::Null,
                    };
                    (Map::new(), sub)
                }
                _ => (Map::new(), Value::Null),
            };
            map.insert(k.to_string(), put(sub, rest, value));
            Value::Map(map)
        }
        index => match old {
            Value::Array(mut list) => {
                match index {
                    Step::Head => list.insert(0, put(Value::Null, rest, value)),
                    Step::Tail => list.push(put(Value::Null, rest, value)),
                    Step::At(i) => {
                        if let Some(p) = position(i, list.len()) {
                            let sub = std::mem::take(&mut list[p]);
                            list[p] = put(sub, rest, value);
                        }
                    }
                    Step::Key(_) | Step::Bad => {}
                }
                Value::Array(list)
            }
            other => {
                let sub = match (index, decode_json(&other)) {
                    (Step::At(i), Some(Value::Array(a))) => match position(i, a.len()) {
                        Some(p) => a.into_iter().nth(p).unwrap_or_default(),
                        None => Value::Null,
                    },
                    _ => Value::Null,
                };
                Value::Array(vec![put(sub, rest, value)])
            }
        },
    }
}

/// `list[lo..hi]` (emqx_rule_maps:range_get): 1-based and inclusive,
/// negative counts from the end; 0 or a start past the end is an error.
pub(crate) fn range_get(lo: i64, hi: i64, list: &[Value]) -> Result<Vec<Value>, String> {
    let len = i64::try_from(list.len()).map_err(|_| "list too long".to_string())?;
    let index = |i: i64| -> Result<i64, String> {
        match i {
            0 => Err("invalid_index 0".to_string()),
            i if i > 0 => Ok(i),
            i => Ok(len + i + 1),
        }
    };
    let (begin, end) = (index(lo)?, index(hi)?);
    let count = end - begin + 1;
    if begin < 1 || begin > len + 1 || count < 0 {
        return Err(format!("range [{lo}..{hi}] is out of a list of {len}"));
    }
    let start = (begin - 1) as usize;
    let stop = (start + count as usize).min(list.len());
    Ok(list[start..stop].to_vec())
}

/// `[lo..hi]` (lists:seq): empty when `hi` is `lo - 1`, an error below that.
pub(crate) fn range_gen(lo: i64, hi: i64) -> Result<Vec<Value>, String> {
    if hi < lo.saturating_sub(1) {
        return Err(format!("range [{lo}..{hi}] goes backwards"));
    }
    if hi.saturating_sub(lo) > 1_000_000 {
        return Err(format!("range [{lo}..{hi}] is too long"));
    }
    Ok((lo..=hi).map(Value::Int).collect())
}
