//! String functions, as EMQX's (`emqx_variform_bif`): lengths and positions
//! in grapheme clusters as Erlang's `string` module counts them (`"\r\n"`
//! and `"e\u{301}"` are one), `substr` 0-based as `string:slice`, `split`
//! dropping empty parts unless told `notrim`.

use super::args::{arity, bad, int, list, string, text, MAX_OUTPUT};
use crate::error::EvalError;
use crate::value::Value;
use unicode_segmentation::UnicodeSegmentation as _;

pub(super) const NAMES: &[&str] = &[
    "ascii",
    "concat",
    "find",
    "join_to_sql_values_string",
    "join_to_string",
    "lower",
    "ltrim",
    "pad",
    "replace",
    "reverse",
    "rm_prefix",
    "rtrim",
    "split",
    "strlen",
    "substr",
    "tokens",
    "trim",
    "upper",
];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "lower" | "upper" | "trim" | "ltrim" | "rtrim" | "reverse" | "strlen" | "ascii" => {
            arity(name, &args, 1..=1)?;
            let s = text(name, &args[0])?;
            Ok(match name {
                "lower" => string(s.to_lowercase()),
                "upper" => string(s.to_uppercase()),
                "trim" => string(s.trim_matches(erlang_whitespace)),
                "ltrim" => string(s.trim_start_matches(erlang_whitespace)),
                "rtrim" => string(s.trim_end_matches(erlang_whitespace)),
                "reverse" => string(s.graphemes(true).rev().collect::<String>()),
                "strlen" => Value::Int(s.graphemes(true).count() as i64),
                _ => match s.as_bytes().first() {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return Err(bad(name, "the string is empty")),
                },
            })
        }
        // rm_prefix(S, Prefix): S without Prefix, if it starts with it.
        "rm_prefix" => {
            arity(name, &args, 2..=2)?;
            let s = text(name, &args[0])?;
            let prefix = text(name, &args[1])?;
            Ok(string(s.strip_prefix(prefix.as_ref()).unwrap_or(&s)))
        }
        "substr" => substr(&args),
        "split" => split(&args),
        "tokens" => tokens(&args),
        "concat" => concat(args),
        "join_to_string" => {
            arity(name, &args, 1..=2)?;
            let (sep, items) = match args.as_slice() {
                [items] => (", ".into(), list(name, items)?),
                [sep, items] => (text(name, sep)?, list(name, items)?),
                _ => unreachable!("arity checked"),
            };
            let parts = items
                .iter()
                .map(|v| any_to_str(name, v))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(string(parts.join(&sep)))
        }
        "join_to_sql_values_string" => {
            arity(name, &args, 1..=1)?;
            let items = list(name, &args[0])?;
            let parts = items
                .iter()
                .map(|v| sql_value(name, v))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(string(parts.join(", ")))
        }
        "pad" => pad(&args),
        "replace" => replace(&args),
        "find" => {
            arity(name, &args, 2..=3)?;
            let s = text(name, &args[0])?;
            let p = text(name, &args[1])?;
            let from = match direction(name, args.get(2), &["leading", "trailing"])? {
                "trailing" => s.rfind(p.as_ref()),
                _ => s.find(p.as_ref()),
            };
            Ok(string(from.map_or("", |i| &s[i..])))
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// What Erlang's `string:trim/1` trims: Unicode's pattern white space
/// (not the no-break space, which Rust's `trim` would take too).
fn erlang_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{b}'
            | '\u{c}'
            | '\r'
            | ' '
            | '\u{85}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// A value as text for `concat` and `join_to_string` (EMQX's `any_to_str`):
/// numbers, booleans and `undefined` printed, maps and lists as JSON.
pub(super) fn any_to_str(name: &str, v: &Value) -> Result<String, EvalError> {
    v.to_text()
        .ok_or_else(|| bad(name, "bytes that are not UTF-8 cannot be joined to text"))
}

/// A value as a literal of an SQL `VALUES` list: numbers bare, everything
/// else quoted (maps and lists as JSON), quotes and backslashes escaped.
fn sql_value(name: &str, v: &Value) -> Result<String, EvalError> {
    Ok(match v {
        Value::Int(_) | Value::Float(_) => any_to_str(name, v)?,
        other => {
            let text = any_to_str(name, other)?;
            format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
        }
    })
}

/// The option argument of `split`, `pad`, `replace`, `find`: one of
/// `allowed`, the first being the default.
fn direction<'a>(name: &str, v: Option<&Value>, allowed: &[&'a str]) -> Result<&'a str, EvalError> {
    let Some(v) = v else { return Ok(allowed[0]) };
    let option = text(name, v)?;
    allowed
        .iter()
        .find(|a| **a == option)
        .copied()
        .ok_or_else(|| {
            bad(
                name,
                format!("unknown option {option:?}; one of {allowed:?}"),
            )
        })
}

/// `substr(S, Start[, Len])`: Erlang's `string:slice`, `Start` 0-based.
fn substr(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "substr";
    arity(NAME, args, 2..=3)?;
    let s = text(NAME, &args[0])?;
    let start = int(NAME, &args[1])?;
    let len = args.get(2).map(|l| int(NAME, l)).transpose()?;
    if start < 0 || len.is_some_and(|l| l < 0) {
        return Err(bad(NAME, "start and length must not be negative"));
    }
    let chars = s.graphemes(true).skip(start as usize);
    Ok(string(match len {
        Some(len) => chars.take(len as usize).collect::<String>(),
        None => chars.collect(),
    }))
}

/// `split(S, Sep[, Option])`: on every `Sep` (or the first, `leading`, or
/// the last, `trailing`), dropping empty parts unless the option ends in
/// `notrim`.
fn split(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "split";
    arity(NAME, args, 2..=3)?;
    let s = text(NAME, &args[0])?;
    let sep = text(NAME, &args[1])?;
    let option = direction(
        NAME,
        args.get(2),
        &[
            "all",
            "notrim",
            "leading",
            "leading_notrim",
            "trailing",
            "trailing_notrim",
        ],
    )?;
    if args.len() == 3 && option == "all" {
        return Err(bad(NAME, "unknown option \"all\""));
    }
    let parts: Vec<&str> = if sep.is_empty() {
        vec![&s]
    } else if option.starts_with("leading") {
        s.splitn(2, sep.as_ref()).collect()
    } else if option.starts_with("trailing") {
        match s.rsplit_once(sep.as_ref()) {
            Some((a, b)) => vec![a, b],
            None => vec![&s],
        }
    } else {
        s.split(sep.as_ref()).collect()
    };
    let keep_empty = option.ends_with("notrim");
    Ok(Value::Array(
        parts
            .into_iter()
            .filter(|p| keep_empty || !p.is_empty())
            .map(string)
            .collect(),
    ))
}

/// `tokens(S, Separators[, 'nocrlf'])`: the parts between any of the
/// separator characters (and CR and LF with `nocrlf`), empty parts dropped.
fn tokens(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "tokens";
    arity(NAME, args, 2..=3)?;
    let s = text(NAME, &args[0])?;
    let sep_text = text(NAME, &args[1])?;
    // Erlang's string:lexemes compares grapheme clusters: "\r\n" is one,
    // so a separator "\n" does not cut it (nocrlf adds all three).
    let mut seps: Vec<&str> = sep_text.graphemes(true).collect();
    if args.len() == 3 {
        direction(NAME, args.get(2), &["nocrlf"])?;
        seps.extend(["\r", "\n", "\r\n"]);
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for (at, g) in s.grapheme_indices(true) {
        if seps.contains(&g) {
            if at > start {
                parts.push(string(&s[start..at]));
            }
            start = at + g.len();
        }
    }
    if start < s.len() {
        parts.push(string(&s[start..]));
    }
    Ok(Value::Array(parts))
}

/// `concat(A, B)` and `concat([A, B, ...])`: the values as text, joined.
fn concat(args: Vec<Value>) -> Result<Value, EvalError> {
    const NAME: &str = "concat";
    arity(NAME, &args, 1..=2)?;
    let items = match args.as_slice() {
        [items] => list(NAME, items)?,
        pair => pair,
    };
    let mut out = String::new();
    for v in items {
        let part = any_to_str(NAME, v)?;
        // Each concat can double what the one before it made (`a + a` into
        // `a.x`, fed back in): without a bound a short rule grows without one.
        if out.len() + part.len() > MAX_OUTPUT {
            return Err(bad(NAME, format!("the text passes {MAX_OUTPUT} bytes")));
        }
        out.push_str(&part);
    }
    Ok(string(out))
}

/// `pad(S, Len[, trailing|leading|both[, Char]])`: `S` padded with `Char`
/// (a space by default) to `Len` characters; `both` puts the odd one right.
fn pad(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "pad";
    arity(NAME, args, 2..=4)?;
    let s = text(NAME, &args[0])?;
    let len = int(NAME, &args[1])?;
    let side = direction(NAME, args.get(2), &["trailing", "leading", "both"])?;
    let fill = match args.get(3) {
        Some(c) => text(NAME, c)?.into_owned(),
        None => " ".to_string(),
    };
    let have = s.graphemes(true).count() as i64;
    if len <= have {
        return Ok(string(s));
    }
    let missing = (len - have) as usize;
    if missing.saturating_mul(fill.len().max(1)) > MAX_OUTPUT {
        return Err(bad(NAME, format!("padding to {len} is too long")));
    }
    let (left, right) = match side {
        "leading" => (missing, 0),
        "both" => (missing / 2, missing - missing / 2),
        _ => (0, missing),
    };
    Ok(string(format!(
        "{}{s}{}",
        fill.repeat(left),
        fill.repeat(right)
    )))
}

/// `replace(S, Pattern, Replacement[, all|leading|trailing])`: every
/// occurrence, the first, or the last.
fn replace(args: &[Value]) -> Result<Value, EvalError> {
    const NAME: &str = "replace";
    arity(NAME, args, 3..=4)?;
    let s = text(NAME, &args[0])?;
    let pattern = text(NAME, &args[1])?;
    let with = text(NAME, &args[2])?;
    let which = direction(NAME, args.get(3), &["all", "leading", "trailing"])?;
    if pattern.is_empty() {
        return Ok(string(s));
    }
    let at = match which {
        "all" => return Ok(string(s.replace(pattern.as_ref(), &with))),
        "leading" => s.find(pattern.as_ref()),
        _ => s.rfind(pattern.as_ref()),
    };
    Ok(string(match at {
        Some(i) => format!("{}{with}{}", &s[..i], &s[i + pattern.len()..]),
        None => s.into_owned(),
    }))
}
