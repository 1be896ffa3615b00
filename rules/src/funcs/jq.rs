//! `jq(Filter, Data[, TimeoutMs])`: runs a jq program (the jaq crates) on
//! JSON text or a value and gives the list of its results, as EMQX's does,
//! within a timeout (EMQX's `jq_function_default_timeout`, 10 s).
//!
//! A jq program can run forever (`last(range(1e18))`) and jaq cannot be
//! interrupted, so programs run on a small pool of jq threads, not on the
//! rule worker: the caller waits at most the timeout, fails the rule, and a
//! new jq thread replaces the stuck one, which exits if its program ever
//! ends. Each jq thread keeps its compiled programs.
//!
//! Known limit: jaq recurses on the thread's stack and cannot be bounded
//! from outside, so a program that recurses without end other than by a
//! tail call (`def f: [f]; f`), or builds a value nested some hundred
//! thousand levels deep (`reduce range(200000) as $i (null; [.])`), exhausts
//! even a jq thread's large stack, which aborts the process. Rules are
//! written by the broker's administrators; such a program is a bug of theirs
//! that EMQX's jq would report as an error.

use super::args::{arity, bad, int, text};
use crate::error::EvalError;
use crate::value::Value;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Native, RcIter};
use jaq_json::Val;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub(super) const NAMES: &[&str] = &["jq"];

/// EMQX's `rule_engine.jq_function_default_timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most results one call may give (`range(1e9)` would otherwise fill
/// the memory).
const MAX_RESULTS: usize = 100_000;

/// Compiled programs each jq thread keeps, cleared past this many.
const CACHE_SIZE: usize = 64;

/// The stack of a jq thread: jaq recurses on nested values, and a program
/// can build deep ones (`reduce range(100000) as $i (null; [.])`). Linux
/// commits stack pages only as they are used.
const STACK_SIZE: usize = 256 * 1024 * 1024;

/// The deepest result a call may give back, as deep as JSON the broker
/// parses: the rule worker that receives it walks values recursively on an
/// ordinary stack.
const MAX_DEPTH: usize = 128;

type Filter = jaq_core::Filter<Native<Val>>;

/// One program to run, and where its answer goes.
struct Job {
    program: String,
    input: serde_json::Value,
    reply: SyncSender<Result<Vec<Value>, EvalError>>,
}

/// The jq threads' shared queue.
struct Pool {
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel();
        let pool = Pool {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
        };
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..threads {
            spawn_worker(&pool.queue);
        }
        pool
    })
}

fn spawn_worker(queue: &Arc<Mutex<Receiver<Job>>>) {
    let queue = queue.clone();
    let spawned = std::thread::Builder::new()
        .name("rules-jq".into())
        .stack_size(STACK_SIZE)
        .spawn(move || worker(&queue));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "rules_jq_thread_not_started");
    }
}

/// Runs jobs until one outlives its caller (the caller then started a
/// replacement) or the queue closes.
fn worker(queue: &Mutex<Receiver<Job>>) {
    let mut cache: HashMap<String, Rc<Filter>> = HashMap::new();
    loop {
        let job = match queue.lock().recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let result = run(&mut cache, &job.program, job.input);
        if job.reply.send(result).is_err() {
            return;
        }
    }
}

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    arity(name, &args, 2..=3)?;
    let program = text(name, &args[0])?.into_owned();
    let input = match &args[1] {
        Value::Str(s) => {
            serde_json::from_str(s).map_err(|e| bad(name, format!("the data is not JSON: {e}")))?
        }
        Value::Bin(_) => return Err(bad(name, "the data is not JSON text")),
        other => other.to_json(),
    };
    let timeout = match args.get(2) {
        Some(ms) => Duration::from_millis(
            u64::try_from(int(name, ms)?).map_err(|_| bad(name, "a negative timeout"))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let pool = pool();
    let (reply, answer) = mpsc::sync_channel(1);
    let job = Job {
        program,
        input,
        reply,
    };
    if pool.jobs.send(job).is_err() {
        return Err(bad(name, "the jq threads are gone"));
    }
    match answer.recv_timeout(timeout) {
        Ok(result) => result.map(Value::Array),
        Err(RecvTimeoutError::Timeout) => {
            // The thread running it is stuck in the program: put another
            // in its place; it exits when it finds nobody waits for it.
            spawn_worker(&pool.queue);
            Err(bad(
                name,
                format!("timed out after {} ms", timeout.as_millis()),
            ))
        }
        Err(RecvTimeoutError::Disconnected) => Err(bad(name, "the jq thread failed")),
    }
}

fn compile(
    cache: &mut HashMap<String, Rc<Filter>>,
    program: &str,
) -> Result<Rc<Filter>, EvalError> {
    if let Some(f) = cache.get(program) {
        return Ok(f.clone());
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
    if cache.len() >= CACHE_SIZE {
        cache.clear();
    }
    cache.insert(program.to_string(), filter.clone());
    Ok(filter)
}

fn run(
    cache: &mut HashMap<String, Rc<Filter>>,
    program: &str,
    input: serde_json::Value,
) -> Result<Vec<Value>, EvalError> {
    let filter = compile(cache, program)?;
    let inputs = RcIter::new(core::iter::empty());
    let mut results = Vec::new();
    for out in filter.run((Ctx::new([], &inputs), Val::from(input))) {
        let v = out.map_err(|e| bad("jq", format!("jq error: {e}")))?;
        if results.len() == MAX_RESULTS {
            return Err(bad("jq", format!("more than {MAX_RESULTS} results")));
        }
        let json = serde_json::Value::from(v);
        if depth(&json) > MAX_DEPTH {
            return Err(bad("jq", format!("a result nests deeper than {MAX_DEPTH}")));
        }
        results.push(integral(Value::from_json(json)));
    }
    Ok(results)
}

/// How deeply `v` nests (a scalar is 0), counted on this thread's large stack.
fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// jq prints a whole float as an integer (`10 * 1.8 + 32` is `50`), and
/// EMQX decodes what jq prints, so whole floats become integers here too.
fn integral(v: Value) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match v {
        Value::Float(f) if f.fract() == 0.0 && f.abs() <= EXACT => Value::Int(f as i64),
        Value::Array(a) => Value::Array(a.into_iter().map(integral).collect()),
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}
