//! Regular expressions: `regex_match`, `regex_replace`, `regex_extract`.
//! EMQX runs Erlang's `re` (PCRE) without its `unicode` option, so patterns
//! work on bytes: `.` is one byte, `\d` and `\w` are ASCII. The `regex`
//! crate's byte mode with Unicode off does the same; it has PCRE's syntax for
//! what rules use (classes, groups, repetition, anchors, `(?i)`) but no
//! look-around or back-references, which are refused as invalid patterns.

use super::args::{arity, bad, bytes, text};
use crate::error::EvalError;
use crate::value::Value;
use regex::bytes::{Captures, Regex, RegexBuilder};
use std::cell::RefCell;
use std::collections::HashMap;

pub(super) const NAMES: &[&str] = &["regex_extract", "regex_match", "regex_replace"];

/// Compiled patterns, per thread: a rule runs its patterns on every message.
/// Cleared when it grows past this many (patterns built from message data).
const CACHE_SIZE: usize = 256;

/// The most memory one compiled pattern may take.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Runs `f` with `pattern` compiled, from the cache when it is there. The
/// regex is used in place: a clone would start with an empty search cache,
/// which costs more than the search.
fn with_regex<T>(name: &str, pattern: &str, f: impl FnOnce(&Regex) -> T) -> Result<T, EvalError> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            let re = RegexBuilder::new(pattern)
                .unicode(false)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|e| bad(name, format!("invalid regular expression: {e}")))?;
            if cache.len() >= CACHE_SIZE {
                cache.clear();
            }
            cache.insert(pattern.to_string(), re);
        }
        let re = cache.get(pattern).ok_or_else(|| bad(name, "regex cache"))?;
        Ok(f(re))
    })
}

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "regex_match" => {
            arity(name, &args, 2..=2)?;
            let s = subject(name, &args[0])?;
            with_regex(name, &text(name, &args[1])?, |re| {
                Value::Bool(re.is_match(&s))
            })
        }
        "regex_replace" => {
            arity(name, &args, 3..=3)?;
            let s = subject(name, &args[0])?;
            let with = bytes(name, &args[2])?;
            with_regex(name, &text(name, &args[1])?, |re| {
                let out = re.replace_all(&s, |caps: &Captures<'_>| expand(caps, with));
                Value::from_bytes(out.into_owned().into())
            })
        }
        "regex_extract" => {
            arity(name, &args, 2..=2)?;
            let s = subject(name, &args[0])?;
            with_regex(name, &text(name, &args[1])?, |re| {
                Value::Array(match re.captures(&s) {
                    Some(caps) => caps
                        .iter()
                        .skip(1)
                        .map(|g| {
                            let g = g.map_or(&[][..], |m| m.as_bytes());
                            Value::from_bytes(g.to_vec().into())
                        })
                        .collect(),
                    None => Vec::new(),
                })
            })
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// The string a pattern runs on: text or bytes (`true`/`false` as their
/// names, as EMQX's atoms); undefined and other types are refused.
fn subject(name: &str, v: &Value) -> Result<Vec<u8>, EvalError> {
    match v {
        Value::Bin(b) => Ok(b.to_vec()),
        other => Ok(text(name, other)?.as_bytes().to_vec()),
    }
}

/// A replacement as Erlang's `re:replace` reads it: `&` is the whole match,
/// `\N` and `\g{N}` group N, `\&` and `\\` the characters themselves.
fn expand(caps: &Captures<'_>, with: &[u8]) -> Vec<u8> {
    let group = |n: usize| caps.get(n).map_or(&[][..], |m| m.as_bytes());
    let mut out = Vec::new();
    let mut i = 0;
    while i < with.len() {
        let c = with[i];
        i += 1;
        match c {
            b'&' => out.extend_from_slice(group(0)),
            b'\\' if i < with.len() => match with[i] {
                d if d.is_ascii_digit() => {
                    let mut n = 0usize;
                    while i < with.len() && with[i].is_ascii_digit() {
                        n = n
                            .saturating_mul(10)
                            .saturating_add((with[i] - b'0') as usize);
                        i += 1;
                    }
                    out.extend_from_slice(group(n));
                }
                b'g' if with.get(i + 1) == Some(&b'{') => {
                    let close = with[i + 2..].iter().position(|b| *b == b'}');
                    let end = close.map_or(with.len(), |p| i + 2 + p);
                    let n = std::str::from_utf8(&with[i + 2..end])
                        .ok()
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(usize::MAX);
                    out.extend_from_slice(group(n));
                    i = (end + 1).min(with.len());
                }
                other => {
                    out.push(other);
                    i += 1;
                }
            },
            c => out.push(c),
        }
    }
    out
}
