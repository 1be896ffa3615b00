//! Running a parsed statement (emqx_rule_runtime's `evaluate_select` and
//! `evaluate_foreach`): building outputs field by field, WHERE over the
//! columns with what was selected, FOREACH's items through INCASE and DO.

use super::ast::{Field, Index, OutName, Path, Query, Seg};
use super::eval::{get_in_map, Run, Scope};
use super::paths::{self, Step};
use super::EvalError;
use crate::value::{Map, Value};

impl Query {
    pub(crate) fn run(&self, columns: &Map) -> Result<Vec<Map>, EvalError> {
        let run = Run::new(columns);
        if self.foreach {
            run.foreach(self)
        } else {
            run.select(self)
        }
    }
}

/// The most memory the outputs of one FOREACH may take for one message, as
/// [`footprint`] estimates it. Each output copies what the statement
/// selected, so a long list selected beside the collection is copied once
/// per item: a FOREACH over a 7,641-element range with that range selected
/// too made some 58 million values, over 2 GB, for one message (found by
/// the fuzz target `sql_parse`). Past the bound the rule's run for that
/// message fails, counted like any other evaluation error. Under `cargo
/// fuzz` the bound is smaller, so that inputs reaching it stay cheap.
#[cfg(not(fuzzing))]
const MAX_FOREACH_BYTES: usize = 64 * 1024 * 1024;
#[cfg(fuzzing)]
const MAX_FOREACH_BYTES: usize = 1024 * 1024;

fn over_bound(built: usize) -> Result<(), EvalError> {
    if built > MAX_FOREACH_BYTES {
        return Err(EvalError::Type(format!(
            "FOREACH's outputs pass {MAX_FOREACH_BYTES} bytes"
        )));
    }
    Ok(())
}

/// About the memory `v` takes: a `Value` per element, plus its text,
/// bytes and map keys. Iterative: a value of any depth costs heap, not stack.
fn footprint(v: &Value) -> usize {
    let mut total = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += std::mem::size_of::<Value>();
        match v {
            Value::Str(s) => total += s.len(),
            Value::Bin(b) => total += b.len(),
            Value::Array(items) => stack.extend(items),
            Value::Map(m) => {
                for (k, v) in m {
                    total += k.len();
                    stack.push(v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }
    total
}

fn map_footprint(m: &Map) -> usize {
    m.iter().map(|(k, v)| k.len() + footprint(v)).sum()
}

impl Run<'_> {
    fn select(&self, q: &Query) -> Result<Vec<Map>, EvalError> {
        let out = self.transform(&q.fields, None, None)?;
        let scope = Scope {
            overlay: Some(&out),
            ..Scope::default()
        };
        let pass = match &q.where_ {
            None => true,
            Some(w) => self.holds(w, &scope, "WHERE")?,
        };
        Ok(if pass { vec![out] } else { Vec::new() })
    }

    fn foreach(&self, q: &Query) -> Result<Vec<Map>, EvalError> {
        let mut selected = Map::new();
        // What FOREACH's named expressions give, visible to the ones after
        // them as columns are.
        let mut locals = Map::new();
        let mut collection = Vec::new();
        let mut item_key = "item";
        let last = q.fields.len().saturating_sub(1);
        for (i, field) in q.fields.iter().enumerate() {
            let Field::Expr {
                expr,
                name,
                aliased,
            } = field
            else {
                continue;
            };
            let value = {
                let scope = Scope {
                    output: Some(&selected),
                    overlay: Some(&locals),
                    ..Scope::default()
                };
                self.eval(expr, &scope)?.into_owned()
            };
            if i == last {
                if let Value::Array(list) = &value {
                    collection.clone_from(list);
                }
                if let (true, OutName::Path(p)) = (aliased, name) {
                    item_key = p.root();
                }
            } else if *aliased {
                if let OutName::Path(p) = name {
                    if p.segs.len() > 1 && !locals.contains_key(p.root()) {
                        if let Some(v) = self.columns.get(p.root()) {
                            locals.insert(p.root().to_string(), v.clone());
                        }
                    }
                }
                self.put(&mut locals, name, value.clone())?;
            }
            self.put(&mut selected, name, value)?;
        }
        let scope = Scope {
            overlay: Some(&selected),
            ..Scope::default()
        };
        if let Some(w) = &q.where_ {
            if !self.holds(w, &scope, "WHERE")? {
                return Ok(Vec::new());
            }
        }
        let mut outputs = Vec::new();
        // Without DO each output copies the columns and everything selected.
        let copied = if q.do_fields.is_empty() {
            map_footprint(self.columns) + map_footprint(&selected)
        } else {
            0
        };
        let mut built = 0usize;
        for item in &collection {
            let scope = Scope {
                item: Some((item_key, item)),
                overlay: Some(&selected),
                output: None,
            };
            if let Some(c) = &q.incase {
                if !self.holds(c, &scope, "INCASE")? {
                    continue;
                }
            }
            let out = if q.do_fields.is_empty() {
                built += copied + footprint(item);
                over_bound(built)?;
                let mut out = self.columns.clone();
                out.extend(selected.iter().map(|(k, v)| (k.clone(), v.clone())));
                out.insert(item_key.to_string(), item.clone());
                out
            } else {
                let out = self.transform(&q.do_fields, Some((item_key, item)), Some(&selected))?;
                built += map_footprint(&out);
                over_bound(built)?;
                out
            };
            outputs.push(out);
        }
        Ok(outputs)
    }

    /// SELECT's or DO's fields, in order; each sees the ones before it.
    fn transform(
        &self,
        fields: &[Field],
        item: Option<(&str, &Value)>,
        overlay: Option<&Map>,
    ) -> Result<Map, EvalError> {
        let mut out = Map::new();
        for field in fields {
            match field {
                Field::All => {
                    out.extend(self.columns.iter().map(|(k, v)| (k.clone(), v.clone())));
                    if let Some(o) = overlay {
                        out.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    if let Some((k, v)) = item {
                        out.insert(k.to_string(), v.clone());
                    }
                }
                Field::Expr { expr, name, .. } => {
                    let value = {
                        let scope = Scope {
                            output: Some(&out),
                            item,
                            overlay,
                        };
                        self.eval(expr, &scope)?.into_owned()
                    };
                    self.put(&mut out, name, value)?;
                }
            }
        }
        Ok(out)
    }

    /// Whether a condition holds; anything but true or false is an error.
    fn holds(
        &self,
        cond: &super::ast::Expr,
        scope: &Scope<'_>,
        clause: &str,
    ) -> Result<bool, EvalError> {
        match self.cond(cond, scope)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::Type(format!(
                "{clause} gave {}, not true or false",
                other.type_name()
            ))),
        }
    }

    /// Puts a field's value in `out` under its name.
    fn put(&self, out: &mut Map, name: &OutName, value: Value) -> Result<(), EvalError> {
        let path = match name {
            OutName::Ephemeral(prefix) => {
                out.insert(format!("{prefix}{}", self.unique_time()), value);
                return Ok(());
            }
            OutName::Path(p) => p,
        };
        let steps = out_steps(path, out);
        let root = path.root();
        if root == "payload" && steps.len() > 1 {
            // A name inside the payload writes into the decoded payload
            // (EMQX's ensure_decoded_payload).
            if let Some(raw @ (Value::Str(_) | Value::Bin(_))) = out.get(root) {
                let doc = self.decode_payload(raw)?.into_owned();
                out.insert(root.to_string(), doc);
            }
        }
        paths::put_in_map(out, root, &steps[1..], value);
        Ok(())
    }
}

/// The steps of an output name; `[name]` indexes are read from the output
/// being built (EMQX reads them from the map it writes to).
fn out_steps<'p>(path: &'p Path, out: &Map) -> Vec<Step<'p>> {
    path.segs
        .iter()
        .map(|seg| match seg {
            Seg::Key(k) => Step::Key(k),
            Seg::Index(Index::At(i)) => Step::At(*i),
            Seg::Index(Index::Head) => Step::Head,
            Seg::Index(Index::Tail) => Step::Tail,
            Seg::Index(Index::Dyn(p)) => match get_in_map(out, p) {
                Value::Int(i) if i != 0 => Step::At(i),
                _ => Step::Bad,
            },
        })
        .collect()
}
