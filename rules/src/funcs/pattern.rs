//! Regular expressions: `regex_match`, `regex_replace`, `regex_extract`.
//! EMQX uses PCRE (Erlang's `re`); the `regex` crate has the same syntax
//! for what rules use (classes, groups, repetition, anchors) but no
//! look-around or back-references, which are refused as invalid patterns.

use super::args::{arity, bad, string, text};
use crate::sql::EvalError;
use crate::value::Value;
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

pub(super) const NAMES: &[&str] = &["regex_extract", "regex_match", "regex_replace"];

/// Compiled patterns, per thread: a rule runs its patterns on every message.
/// Cleared when it grows past this many (patterns built from message data).
const CACHE_SIZE: usize = 256;

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

fn compiled(name: &str, pattern: &str) -> Result<Regex, EvalError> {
    CACHE.with(|cache| {
        if let Some(re) = cache.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = Regex::new(pattern)
            .map_err(|e| bad(name, format!("invalid regular expression: {e}")))?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "regex_match" => {
            arity(name, &args, 2..=2)?;
            let s = text(name, &args[0])?;
            Ok(Value::Bool(
                compiled(name, &text(name, &args[1])?)?.is_match(&s),
            ))
        }
        "regex_replace" => {
            arity(name, &args, 3..=3)?;
            let s = text(name, &args[0])?;
            let re = compiled(name, &text(name, &args[1])?)?;
            let with = text(name, &args[2])?;
            Ok(string(re.replace_all(&s, |caps: &regex::Captures<'_>| {
                expand(caps, &with)
            })))
        }
        "regex_extract" => {
            arity(name, &args, 2..=2)?;
            let s = text(name, &args[0])?;
            let re = compiled(name, &text(name, &args[1])?)?;
            Ok(Value::Array(match re.captures(&s) {
                Some(caps) => caps
                    .iter()
                    .skip(1)
                    .map(|g| string(g.map_or("", |m| m.as_str())))
                    .collect(),
                None => Vec::new(),
            }))
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// A replacement as Erlang's `re:replace` reads it: `&` is the whole match,
/// `\N` and `\g{N}` group N, `\&` and `\\` the characters themselves.
fn expand(caps: &regex::Captures<'_>, with: &str) -> String {
    let group = |n: usize| caps.get(n).map_or("", |m| m.as_str());
    let mut out = String::new();
    let mut chars = with.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str(group(0)),
            '\\' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = 0usize;
                    while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                        n = n.saturating_mul(10).saturating_add(d as usize);
                        chars.next();
                    }
                    out.push_str(group(n));
                }
                Some('g') => {
                    chars.next();
                    let mut digits = String::new();
                    if chars.peek() == Some(&'{') {
                        chars.next();
                        for d in chars.by_ref() {
                            if d == '}' {
                                break;
                            }
                            digits.push(d);
                        }
                    }
                    out.push_str(group(digits.parse().unwrap_or(usize::MAX)));
                }
                Some(_) => out.extend(chars.next()),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}
