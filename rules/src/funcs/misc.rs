//! UUIDs, `random()`, `getenv(Name)` (the variable `EMQXVAR_<Name>` only,
//! so a rule cannot read the rest of the broker's environment), and the
//! node's key-value store (`kv_store_put`, `kv_store_get`, `kv_store_del`:
//! values rules share across messages).

use super::args::{arity, bad, string, text};
use crate::error::EvalError;
use crate::value::Value;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::OnceLock;

pub(super) const NAMES: &[&str] = &[
    "getenv",
    "kv_store_del",
    "kv_store_get",
    "kv_store_put",
    "random",
    "uuid_v4",
    "uuid_v4_no_hyphen",
];

/// The node's key-value store (EMQX keeps it in an ETS table): keys are the
/// text of the key value (`str()`), so `1` and `'1'` are one key.
fn kv_store() -> &'static Mutex<HashMap<String, Value>> {
    static STORE: OnceLock<Mutex<HashMap<String, Value>>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

/// The most keys the store holds: a rule putting a key per message must
/// not take the memory.
const KV_STORE_MAX_KEYS: usize = 100_000;

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "uuid_v4" => arity(name, &args, 0..=0).map(|()| string(uuid::Uuid::new_v4().to_string())),
        "uuid_v4_no_hyphen" => {
            arity(name, &args, 0..=0).map(|()| string(uuid::Uuid::new_v4().simple().to_string()))
        }
        "kv_store_put" => {
            arity(name, &args, 2..=2)?;
            let key = kv_key(name, &args[0])?;
            let mut store = kv_store().lock();
            if store.len() >= KV_STORE_MAX_KEYS && !store.contains_key(&key) {
                return Err(bad(
                    name,
                    format!("the store is full ({KV_STORE_MAX_KEYS} keys)"),
                ));
            }
            store.insert(key, args[1].clone());
            Ok(Value::Bool(true))
        }
        "kv_store_get" => {
            arity(name, &args, 1..=2)?;
            let key = kv_key(name, &args[0])?;
            let found = kv_store().lock().get(&key).cloned();
            Ok(found.or_else(|| args.get(1).cloned()).unwrap_or_default())
        }
        "kv_store_del" => {
            arity(name, &args, 1..=1)?;
            let key = kv_key(name, &args[0])?;
            kv_store().lock().remove(&key);
            Ok(Value::Bool(true))
        }
        "getenv" => {
            arity(name, &args, 1..=1)?;
            let var = text(name, &args[0])?;
            Ok(string(getenv(&var)))
        }
        "random" => arity(name, &args, 0..=0).map(|()| Value::Float(rand::random::<f64>())),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// `EMQXVAR_<name>`, read once and kept (EMQX keeps it in a persistent
/// term): empty when it is not set.
fn getenv(name: &str) -> String {
    static SEEN: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Mutex::default);
    if let Some(v) = seen.lock().get(name) {
        return v.clone();
    }
    let value = std::env::var(format!("EMQXVAR_{name}")).unwrap_or_default();
    seen.lock().insert(name.to_string(), value.clone());
    value
}

fn kv_key(name: &str, key: &Value) -> Result<String, EvalError> {
    key.to_text().ok_or_else(|| bad(name, "a key must be text"))
}
