//! Maps and arrays: `map_get('a.b', m)`, `map_put`, `mget`/`mput` (one key,
//! no path), `nth(1, l)` (1-based), `sublist`, `first`, `last`, `contains`...

use super::args::{arity, bad, int, list, text};
use super::types::to_map;
use crate::error::EvalError;
use crate::value::{Map, Value};

pub(super) const NAMES: &[&str] = &[
    "contains",
    "first",
    "is_empty",
    "last",
    "length",
    "map_get",
    "map_keys",
    "map_new",
    "map_put",
    "map_size",
    "map_to_entries",
    "map_to_redis_hset_args",
    "map_values",
    "mget",
    "mput",
    "nth",
    "sublist",
];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "map_new" => arity(name, &args, 0..=0).map(|()| Value::Map(Map::new())),
        "map_get" | "mget" => {
            arity(name, &args, 2..=3)?;
            let path = key_path(name, &args[0])?;
            let map = if name == "map_get" {
                as_map_or_json(&args[1])
            } else {
                Value::Map(to_map(name, &args[1])?)
            };
            let found = get_path(&map, &path);
            Ok(found.or_else(|| args.get(2).cloned()).unwrap_or_default())
        }
        "map_put" | "mput" => {
            arity(name, &args, 3..=3)?;
            let path = key_path(name, &args[0])?;
            let mut map = if name == "map_put" {
                as_map_or_json(&args[2])
            } else {
                Value::Map(to_map(name, &args[2])?)
            };
            let mut args = args;
            put_path(&mut map, &path, std::mem::take(&mut args[1]));
            Ok(map)
        }
        "map_to_redis_hset_args" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::Array(redis_hset_args(&args[0])))
        }
        "map_size" => {
            arity(name, &args, 1..=1)?;
            let size = match &args[0] {
                Value::Array(l) => l.len(),
                other => to_map(name, other)?.len(),
            };
            Ok(Value::Int(size as i64))
        }
        "is_empty" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::Bool(match &args[0] {
                Value::Array(l) => l.is_empty(),
                other => to_map(name, other)?.is_empty(),
            }))
        }
        "map_keys" | "map_values" | "map_to_entries" => {
            arity(name, &args, 1..=1)?;
            let map = to_map(name, &args[0])?;
            Ok(Value::Array(match name {
                "map_keys" => map.into_keys().map(Value::Str).collect(),
                "map_values" => map.into_values().collect(),
                _ => map
                    .into_iter()
                    .map(|(k, v)| {
                        Value::Map(Map::from([
                            ("key".to_string(), Value::Str(k)),
                            ("value".to_string(), v),
                        ]))
                    })
                    .collect(),
            }))
        }
        "nth" => {
            arity(name, &args, 2..=2)?;
            let n = int(name, &args[0])?;
            let l = list(name, &args[1])?;
            usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| l.get(i))
                .cloned()
                .ok_or_else(|| bad(name, format!("no element {n} in a list of {}", l.len())))
        }
        "length" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::Int(list(name, &args[0])?.len() as i64))
        }
        "sublist" => sublist(&args),
        "first" | "last" => {
            arity(name, &args, 1..=1)?;
            let l = list(name, &args[0])?;
            let element = if name == "first" { l.first() } else { l.last() };
            element
                .cloned()
                .ok_or_else(|| bad(name, "the list is empty"))
        }
        "contains" => {
            arity(name, &args, 2..=2)?;
            Ok(Value::Bool(list(name, &args[1])?.contains(&args[0])))
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// `sublist(Len, List)` and `sublist(Start, Len, List)`, as Erlang's
/// `lists:sublist`: `Start` 1-based, up to `length + 1` (which gives `[]`).
fn sublist(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "sublist";
    arity(NAME, args, 2..=3)?;
    let l = list(NAME, &args[args.len() - 1])?;
    let (start, len) = match args {
        [len, _] => (1, int(NAME, len)?),
        [start, len, _] => (int(NAME, start)?, int(NAME, len)?),
        _ => unreachable!("arity checked"),
    };
    if len < 0 {
        return Err(bad(NAME, format!("negative length {len}")));
    }
    if start < 1 || start as u64 > l.len() as u64 + 1 {
        return Err(bad(
            NAME,
            format!("start {start} is outside a list of {}", l.len()),
        ));
    }
    let from = (start - 1) as usize;
    let to = from.saturating_add(len as usize).min(l.len());
    Ok(Value::Array(l[from..to].to_vec()))
}

/// `map_to_redis_hset_args(Map)`: the fields and values of a map for a
/// Redis `HSET`: `[k1, v1, k2, v2, ...]`, values as text (floats with six
/// decimals at most, as `float2str(V, 6)`), fields whose value is not a
/// string, number or boolean left out, and nothing for what is not a map
/// (or JSON text of one). EMQX marks the list for its Redis action with a
/// first element of its own; the fields are the same.
fn redis_hset_args(v: &Value) -> Vec<Value> {
    let Value::Map(map) = as_map_or_json(v) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(map.len() * 2);
    for (k, v) in map {
        let value = match v {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => crate::value::float_to_text(f, 6),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        out.extend([Value::Str(k), Value::Str(value)]);
    }
    out
}

/// A map, or JSON text holding one (EMQX's `nested_get` decodes it), else
/// the value as it is (where a path finds nothing).
fn as_map_or_json(v: &Value) -> Value {
    match v {
        Value::Str(s) => match serde_json::from_str(s).map(Value::from_json) {
            Ok(m @ Value::Map(_)) => m,
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

/// The longest path `map_get`/`map_put`/`mget`/`mput` take: as deep as JSON
/// the broker parses, so no map they build is too deep to walk.
const MAX_PATH: usize = 128;

/// The keys a function's key argument names: `map_get`/`map_put` read a
/// dotted path (`'a.b.c'`); `mget`/`mput` take one key as it is, or a list
/// of keys (`['a', 'b']`) for a path.
fn key_path(name: &str, key: &Value) -> Result<Vec<String>, EvalError> {
    let path = key_path_unchecked(name, key)?;
    if path.len() > MAX_PATH {
        return Err(bad(name, format!("a path of more than {MAX_PATH} keys")));
    }
    Ok(path)
}

fn key_path_unchecked(name: &str, key: &Value) -> Result<Vec<String>, EvalError> {
    match key {
        Value::Array(keys) if matches!(name, "mget" | "mput") => keys
            .iter()
            .map(|k| text(name, k).map(|k| k.into_owned()))
            .collect(),
        _ => {
            let key = text(name, key)?;
            Ok(if name.starts_with("map_") {
                key.split('.').map(str::to_string).collect()
            } else {
                vec![key.into_owned()]
            })
        }
    }
}

/// The value at `path` inside `v`, if maps lead there.
fn get_path(v: &Value, path: &[String]) -> Option<Value> {
    let mut at = v;
    for key in path {
        match at {
            Value::Map(m) => at = m.get(key)?,
            _ => return None,
        }
    }
    Some(at.clone())
}

/// The value at the dotted `path` (`a.b.c`) inside `v`, if maps lead there.
pub(super) fn nested_get(v: &Value, path: &str) -> Option<Value> {
    let path: Vec<String> = path.split('.').map(str::to_string).collect();
    get_path(v, &path)
}

/// `v` with `value` at `path`, making maps on the way (and replacing what
/// is not a map).
fn put_path(v: &mut Value, path: &[String], value: Value) {
    if !matches!(v, Value::Map(_)) {
        *v = Value::Map(Map::new());
    }
    let Value::Map(map) = v else { return };
    match path {
        [] => {}
        [key] => {
            map.insert(key.clone(), value);
        }
        [key, rest @ ..] => put_path(map.entry(key.clone()).or_default(), rest, value),
    }
}
