//! UUIDs, `random()`, and `jq(Filter, Data)`, which runs a jq program (with
//! the jaq crates) and gives the list of its results, as EMQX's does.

use super::args::{arity, bad, string, text};
use crate::sql::EvalError;
use crate::value::Value;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Native, RcIter};
use jaq_json::Val;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub(super) const NAMES: &[&str] = &["jq", "random", "uuid_v4", "uuid_v4_no_hyphen"];

/// The most results one `jq` call may give (`range(1e9)` would otherwise
/// fill the memory).
const JQ_MAX_RESULTS: usize = 100_000;

/// Compiled jq programs, per thread, cleared past this many.
const JQ_CACHE_SIZE: usize = 64;

type Filter = jaq_core::Filter<Native<Val>>;

thread_local! {
    static JQ_CACHE: RefCell<HashMap<String, Rc<Filter>>> = RefCell::new(HashMap::new());
}

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "uuid_v4" => arity(name, &args, 0..=0).map(|()| string(uuid::Uuid::new_v4().to_string())),
        "uuid_v4_no_hyphen" => {
            arity(name, &args, 0..=0).map(|()| string(uuid::Uuid::new_v4().simple().to_string()))
        }
        "random" => arity(name, &args, 0..=0).map(|()| Value::Float(rand::random::<f64>())),
        "jq" => {
            // jq(Filter, Data[, TimeoutMs]): the timeout is accepted, not enforced.
            arity(name, &args, 2..=3)?;
            let program = text(name, &args[0])?;
            let input = match &args[1] {
                Value::Str(s) => serde_json::from_str(s)
                    .map_err(|e| bad(name, format!("the data is not JSON: {e}")))?,
                Value::Bin(_) => return Err(bad(name, "the data is not JSON text")),
                other => other.to_json(),
            };
            jq(&program, input).map(Value::Array)
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

fn compile(program: &str) -> Result<Rc<Filter>, EvalError> {
    if let Some(f) = JQ_CACHE.with(|c| c.borrow().get(program).cloned()) {
        return Ok(f);
    }
    let loader = Loader::new(jaq_std::defs().chain(jaq_json::defs()));
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: program,
                path: (),
            },
        )
        .map_err(|errors| bad("jq", format!("invalid jq program: {errors:?}")))?;
    let filter = Compiler::default()
        .with_funs(jaq_std::funs().chain(jaq_json::funs()))
        .compile(modules)
        .map_err(|errors| bad("jq", format!("invalid jq program: {errors:?}")))?;
    let filter = Rc::new(filter);
    JQ_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= JQ_CACHE_SIZE {
            c.clear();
        }
        c.insert(program.to_string(), filter.clone());
    });
    Ok(filter)
}

fn jq(program: &str, input: serde_json::Value) -> Result<Vec<Value>, EvalError> {
    let filter = compile(program)?;
    let inputs = RcIter::new(core::iter::empty());
    let mut results = Vec::new();
    for out in filter.run((Ctx::new([], &inputs), Val::from(input))) {
        let v = out.map_err(|e| bad("jq", format!("jq error: {e}")))?;
        if results.len() == JQ_MAX_RESULTS {
            return Err(bad("jq", format!("more than {JQ_MAX_RESULTS} results")));
        }
        results.push(Value::from_json(serde_json::Value::from(v)));
    }
    Ok(results)
}
