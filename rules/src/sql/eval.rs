//! Evaluating expressions over one event (emqx_rule_runtime's `eval/2` and
//! `match_conditions/2`).

use super::ast::{ArithOp, Expr, Index, Path, Seg};
use super::compare::compare;
use super::paths::{self, decode_json, Step, NULL};
use super::EvalError;
use crate::value::{Map, Value};
use crate::Context;
use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

/// One run of a rule over one event's columns.
pub(crate) struct Run<'c> {
    pub columns: &'c Map,
    /// The `payload` column decoded as JSON, once, when a path first goes
    /// into it.
    payload: OnceCell<Value>,
    /// The last time given to an unnamed field, so that two in one run
    /// never share a name.
    last_time: Cell<u128>,
}

/// What names mean where an expression is evaluated. A name is looked up
/// in `output` first (what the SELECT or DO built so far) and, when it is
/// undefined there, in the item of FOREACH, then `overlay` (what SELECT or
/// FOREACH selected, for WHERE, INCASE and DO), then the columns.
#[derive(Clone, Copy, Default)]
pub(crate) struct Scope<'a> {
    pub output: Option<&'a Map>,
    pub item: Option<(&'a str, &'a Value)>,
    pub overlay: Option<&'a Map>,
}

type Result<T> = std::result::Result<T, EvalError>;

fn type_error(message: impl Into<String>) -> EvalError {
    EvalError::Type(message.into())
}

impl<'c> Run<'c> {
    pub(crate) fn new(columns: &'c Map) -> Run<'c> {
        Run {
            columns,
            payload: OnceCell::new(),
            last_time: Cell::new(0),
        }
    }

    /// EMQX's `erlang:system_time()` in an unnamed field's name, made
    /// strictly increasing within the run.
    pub(crate) fn unique_time(&self) -> u128 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let t = now.max(self.last_time.get() + 1);
        self.last_time.set(t);
        t
    }

    fn lookup<'a>(&'a self, key: &str, scope: &Scope<'a>) -> Option<&'a Value> {
        if let Some((name, item)) = scope.item {
            if name == key {
                return Some(item);
            }
        }
        scope
            .overlay
            .and_then(|m| m.get(key))
            .or_else(|| self.columns.get(key))
    }

    /// The payload as JSON: the `payload` column is decoded once per run;
    /// a value that is not text is taken as it is. Text that is not JSON is
    /// an error, as in EMQX (`decode_json_failed`).
    pub(crate) fn decode_payload<'a>(&'a self, v: &'a Value) -> Result<Cow<'a, Value>> {
        if !matches!(v, Value::Str(_) | Value::Bin(_)) {
            return Ok(Cow::Borrowed(v));
        }
        let failed = || type_error("decode_json_failed: the payload is not JSON");
        let is_column = self
            .columns
            .get("payload")
            .is_some_and(|p| std::ptr::eq(p, v) || p == v);
        if !is_column {
            return decode_json(v).map(Cow::Owned).ok_or_else(failed);
        }
        if let Some(doc) = self.payload.get() {
            return Ok(Cow::Borrowed(doc));
        }
        let doc = decode_json(v).ok_or_else(failed)?;
        Ok(Cow::Borrowed(self.payload.get_or_init(|| doc)))
    }

    /// A path's value: in the output so far, else in the item, the
    /// overlay and the columns.
    pub(crate) fn path<'a>(&'a self, p: &'a Path, scope: &Scope<'a>) -> Result<Cow<'a, Value>> {
        if let Some(out) = scope.output {
            let v = self.walk(p, out.get(p.root()), scope)?;
            if !matches!(*v, Value::Null) {
                return Ok(v);
            }
        }
        self.walk(p, self.lookup(p.root(), scope), scope)
    }

    fn walk<'a>(
        &'a self,
        p: &'a Path,
        root: Option<&'a Value>,
        scope: &Scope<'a>,
    ) -> Result<Cow<'a, Value>> {
        let Some(root) = root else {
            return Ok(Cow::Borrowed(&NULL));
        };
        let rest = &p.segs[1..];
        if rest.is_empty() {
            return Ok(Cow::Borrowed(root));
        }
        let is_payload = p.root() == "payload";
        if !rest.iter().any(|s| matches!(s, Seg::Index(Index::Dyn(_)))) {
            // The usual path: constant keys and indexes, walked without
            // collecting its steps first.
            let mut cur = if is_payload {
                self.decode_payload(root)?
            } else {
                Cow::Borrowed(root)
            };
            for seg in rest {
                cur = paths::step(cur, constant_step(seg));
                if matches!(*cur, Value::Null) {
                    break;
                }
            }
            return Ok(cur);
        }
        let (mut cur, steps) = if is_payload {
            let doc = self.decode_payload(root)?;
            let steps = self.steps(rest, Some(&doc), scope)?;
            (doc, steps)
        } else {
            (Cow::Borrowed(root), self.steps(rest, None, scope)?)
        };
        for step in steps {
            cur = paths::step(cur, step);
            if matches!(*cur, Value::Null) {
                break;
            }
        }
        Ok(cur)
    }

    /// The steps of `segs`, with `[name]` indexes read: inside the payload
    /// document `doc` for a path into the payload, else where names are.
    fn steps<'a>(
        &'a self,
        segs: &'a [Seg],
        doc: Option<&Value>,
        scope: &Scope<'a>,
    ) -> Result<Vec<Step<'a>>> {
        segs.iter()
            .map(|seg| {
                Ok(match seg {
                    Seg::Key(k) => Step::Key(k),
                    Seg::Index(Index::At(i)) => Step::At(*i),
                    Seg::Index(Index::Head) => Step::Head,
                    Seg::Index(Index::Tail) => Step::Tail,
                    Seg::Index(Index::Dyn(p)) => {
                        let v = match doc {
                            Some(doc) => get_in(doc, p),
                            None => self.path(p, scope)?.into_owned(),
                        };
                        index_step(&v)
                    }
                })
            })
            .collect()
    }

    pub(crate) fn eval<'a>(&'a self, e: &'a Expr, scope: &Scope<'a>) -> Result<Cow<'a, Value>> {
        Ok(match e {
            Expr::Const(v) => Cow::Borrowed(v),
            Expr::Path(p) => return self.path(p, scope),
            Expr::Range(lo, hi) => Cow::Owned(Value::Array(
                paths::range_gen(*lo, *hi).map_err(type_error)?,
            )),
            Expr::GetRange(lo, hi, p) => match &*self.path(p, scope)? {
                Value::Array(list) => Cow::Owned(Value::Array(
                    paths::range_get(*lo, *hi, list).map_err(type_error)?,
                )),
                other => {
                    return Err(type_error(format!(
                        "range_get: non_list_data ({} is {})",
                        super::display_path(p),
                        other.type_name()
                    )))
                }
            },
            Expr::List(items) => Cow::Owned(Value::Array(
                items
                    .iter()
                    .map(|i| self.eval(i, scope).map(Cow::into_owned))
                    .collect::<Result<_>>()?,
            )),
            Expr::Neg(x) => Cow::Owned(match &*self.eval(x, scope)? {
                Value::Int(i) => Value::Int(
                    i.checked_neg()
                        .ok_or_else(|| type_error("integer overflow"))?,
                ),
                Value::Float(f) => Value::Float(-f),
                other => {
                    return Err(type_error(format!(
                        "unary minus on {}: badarith",
                        other.type_name()
                    )))
                }
            }),
            Expr::Pos(x) => return self.eval(x, scope),
            Expr::Arith(op, l, r) => {
                let l = self.eval(l, scope)?;
                let r = self.eval(r, scope)?;
                Cow::Owned(self.arith(*op, l, r)?)
            }
            Expr::Cmp(op, l, r) => {
                let l = self.eval(l, scope)?;
                let r = self.eval(r, scope)?;
                Cow::Owned(Value::Bool(compare(*op, &l, &r)?))
            }
            Expr::And(..) | Expr::Or(..) | Expr::Not(_) | Expr::In { .. } => {
                Cow::Owned(self.cond(e, scope)?)
            }
            Expr::Case {
                on,
                whens,
                otherwise,
            } => {
                for (when, then) in whens {
                    let hit = match on {
                        None => matches!(self.cond(when, scope)?, Value::Bool(true)),
                        Some(on) => {
                            let w = self.eval(when, scope)?;
                            *self.eval(on, scope)? == *w
                        }
                    };
                    if hit {
                        return self.eval(then, scope);
                    }
                }
                match otherwise {
                    Some(o) => return self.eval(o, scope),
                    None => Cow::Borrowed(&NULL),
                }
            }
            Expr::Call { name, args } => {
                let args = args
                    .iter()
                    .map(|a| self.eval(a, scope).map(Cow::into_owned))
                    .collect::<Result<Vec<_>>>()?;
                let cx = Context {
                    columns: self.columns,
                };
                Cow::Owned(crate::funcs::call(name, args, &cx)?)
            }
        })
    }

    /// A condition (WHERE, INCASE, WHEN): AND and OR want true or false on
    /// their left; NOT of anything but a boolean is false; a comparison, IN,
    /// a function or `true`/`false` give their value; any other expression
    /// is not a condition (EMQX raises on `WHERE x`).
    pub(crate) fn cond<'a>(&'a self, e: &'a Expr, scope: &Scope<'a>) -> Result<Value> {
        match e {
            Expr::And(l, r) => match self.cond(l, scope)? {
                Value::Bool(true) => self.cond(r, scope),
                Value::Bool(false) => Ok(Value::Bool(false)),
                v => Err(type_error(format!(
                    "AND on {}, not a boolean",
                    v.type_name()
                ))),
            },
            Expr::Or(l, r) => match self.cond(l, scope)? {
                Value::Bool(true) => Ok(Value::Bool(true)),
                Value::Bool(false) => self.cond(r, scope),
                v => Err(type_error(format!(
                    "OR on {}, not a boolean",
                    v.type_name()
                ))),
            },
            Expr::Not(x) => {
                let v = match **x {
                    Expr::And(..) | Expr::Or(..) | Expr::Not(_) | Expr::In { .. } => {
                        Cow::Owned(self.cond(x, scope)?)
                    }
                    _ => self.eval(x, scope)?,
                };
                Ok(Value::Bool(matches!(*v, Value::Bool(false))))
            }
            Expr::In { value, list } => {
                let v = self.eval(value, scope)?;
                let mut found = false;
                for item in list {
                    found |= *self.eval(item, scope)? == *v;
                }
                Ok(Value::Bool(found))
            }
            Expr::Cmp(..) | Expr::Call { .. } | Expr::Const(Value::Bool(_)) => {
                self.eval(e, scope).map(Cow::into_owned)
            }
            _ => Err(type_error(
                "not a condition: use a comparison, IN, a function or true/false",
            )),
        }
    }

    fn arith(&self, op: ArithOp, l: Cow<'_, Value>, r: Cow<'_, Value>) -> Result<Value> {
        use Value::{Bin, Float, Int, Str};
        let float = |f: f64| {
            if f.is_finite() {
                Ok(Float(f))
            } else {
                Err(type_error(format!("{}: badarith", op.erlang())))
            }
        };
        let overflow = || type_error("integer overflow");
        match (op, &*l, &*r) {
            (ArithOp::Add, Str(_) | Bin(_), _) | (ArithOp::Add, _, Str(_) | Bin(_)) => {
                let cx = Context {
                    columns: self.columns,
                };
                crate::funcs::call("concat", vec![l.into_owned(), r.into_owned()], &cx)
            }
            (ArithOp::Add, Int(a), Int(b)) => a.checked_add(*b).map(Int).ok_or_else(overflow),
            (ArithOp::Sub, Int(a), Int(b)) => a.checked_sub(*b).map(Int).ok_or_else(overflow),
            (ArithOp::Mul, Int(a), Int(b)) => a.checked_mul(*b).map(Int).ok_or_else(overflow),
            (ArithOp::IntDiv | ArithOp::Mod, Int(_), Int(0)) | (ArithOp::Div, _, Int(0)) => {
                Err(type_error(format!("{}: division by zero", op.erlang())))
            }
            (ArithOp::Div, _, Float(f)) if *f == 0.0 => {
                Err(type_error(format!("{}: division by zero", op.erlang())))
            }
            (ArithOp::IntDiv, Int(a), Int(b)) => a.checked_div(*b).map(Int).ok_or_else(overflow),
            (ArithOp::Mod, Int(a), Int(b)) => Ok(Int(a.wrapping_rem(*b))),
            (ArithOp::Add | ArithOp::Sub | ArithOp::Mul | ArithOp::Div, a, b)
                if is_number(a) && is_number(b) =>
            {
                let (a, b) = (as_f64(a), as_f64(b));
                float(match op {
                    ArithOp::Add => a + b,
                    ArithOp::Sub => a - b,
                    ArithOp::Mul => a * b,
                    _ => a / b,
                })
            }
            (_, a, b) => Err(type_error(format!(
                "{} cannot take {} and {}",
                op.erlang(),
                a.type_name(),
                b.type_name()
            ))),
        }
    }
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// An index read from data: an integer is a position (0 finds nothing).
fn index_step(v: &Value) -> Step<'static> {
    match v {
        Value::Int(i) if *i != 0 => Step::At(*i),
        _ => Step::Bad,
    }
}

/// `p` read inside `doc` alone (emqx_rule_maps:nested_get on one map).
pub(crate) fn get_in(doc: &Value, p: &Path) -> Value {
    match doc {
        Value::Map(m) => get_in_map(m, p),
        _ => Value::Null,
    }
}

/// `p` read inside the map `m` alone.
pub(crate) fn get_in_map(m: &Map, p: &Path) -> Value {
    let Some(root) = m.get(p.root()) else {
        return Value::Null;
    };
    let mut cur = Cow::Borrowed(root);
    for seg in &p.segs[1..] {
        let step = match seg {
            Seg::Key(k) => Step::Key(k),
            Seg::Index(Index::At(i)) => Step::At(*i),
            Seg::Index(Index::Head | Index::Tail) => Step::Bad,
            Seg::Index(Index::Dyn(q)) => index_step(&get_in_map(m, q)),
        };
        cur = paths::step(cur, step);
    }
    cur.into_owned()
}

/// The step of a key or a constant index (`Dyn` reads as nothing).
fn constant_step(seg: &Seg) -> Step<'_> {
    match seg {
        Seg::Key(k) => Step::Key(k),
        Seg::Index(Index::At(i)) => Step::At(*i),
        Seg::Index(Index::Head) => Step::Head,
        Seg::Index(Index::Tail) => Step::Tail,
        Seg::Index(Index::Dyn(_)) => Step::Bad,
    }
}
