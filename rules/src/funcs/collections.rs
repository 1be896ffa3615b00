//! Maps and arrays: `map_get('a.b', m)`, `map_put`, `mget`/`mput` (one key,
//! no path), `nth(1, l)` (1-based), `sublist`, `first`, `last`, `contains`...

use super::args::{arity, bad, int, list, text};
use super::types::to_map;
use crate::sql::EvalError;
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
            let key = text(name, &args[0])?;
            let found = if name == "map_get" {
                nested_get(&as_map_or_json(&args[1]), &key)
            } else {
                to_map(name, &args[1])?.get(key.as_ref()).cloned()
            };
            Ok(found.or_else(|| args.get(2).cloned()).unwrap_or_default())
        }
        "map_put" | "mput" => {
            arity(name, &args, 3..=3)?;
            let mut args = args.into_iter();
            let (key, value, map) = (args.next(), args.next(), args.next());
            let (key, value, map) = (key.unwrap_or_default(), value.unwrap_or_default(), map);
            let key = text(name, &key)?;
            if name == "map_put" {
                let mut map = map.map(|m| as_map_or_json(&m)).unwrap_or_default();
                nested_put(&mut map, &key, value);
                Ok(map)
            } else {
                let mut map = to_map(name, &map.unwrap_or_default())?;
                map.insert(key.into_owned(), value);
                Ok(Value::Map(map))
            }
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

/// The value at the dotted `path` (`a.b.c`) inside `v`, if maps lead there.
pub(super) fn nested_get(v: &Value, path: &str) -> Option<Value> {
    let mut at = v;
    for key in path.split('.') {
        match at {
            Value::Map(m) => at = m.get(key)?,
            _ => return None,
        }
    }
    Some(at.clone())
}

/// `v` with `value` at the dotted `path`, making maps on the way (and
/// replacing what is not a map).
fn nested_put(v: &mut Value, path: &str, value: Value) {
    if !matches!(v, Value::Map(_)) {
        *v = Value::Map(Map::new());
    }
    let Value::Map(map) = v else { return };
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), value);
        }
        Some((key, rest)) => {
            let child = map.entry(key.to_string()).or_default();
            nested_put(child, rest, value);
        }
    }
}
