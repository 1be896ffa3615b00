//! `sprintf` (Erlang's `io_lib:format`: `~s`, `~p`, `~w`, `~f`...) and
//! `unescape` (C escapes: `\n`, `\t`, `\x41`...), and the way Erlang prints
//! a term, which `~p` and `~w` need.

use super::args::{arity, bad, int, list, string, text, MAX_OUTPUT};
use crate::error::EvalError;
use crate::value::Value;

pub(super) const NAMES: &[&str] = &["sprintf", "sprintf_s", "unescape"];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "sprintf" => {
            if args.is_empty() {
                return Err(bad(name, "takes a format and its arguments"));
            }
            sprintf(&text(name, &args[0])?, &args[1..]).map(string)
        }
        // sprintf_s(Format, [Args]): the arguments as one list.
        "sprintf_s" => {
            arity(name, &args, 2..=2)?;
            sprintf(&text(name, &args[0])?, list(name, &args[1])?).map(string)
        }
        "unescape" => {
            arity(name, &args, 1..=1)?;
            unescape(&text(name, &args[0])?).map(string)
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// One control sequence: `~F.P.PadC`.
struct Control {
    width: Option<i64>,
    precision: Option<i64>,
    pad: char,
}

fn sprintf(format: &str, args: &[Value]) -> Result<String, EvalError> {
    const NAME: &str = "sprintf";
    let mut out = String::new();
    let mut args = args.iter();
    let mut next = || {
        args.next()
            .ok_or_else(|| bad(NAME, "too few arguments for the format"))
    };
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let negative = chars.next_if_eq(&'-').is_some();
            let mut digits = String::new();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            digits
                .parse::<i64>()
                .ok()
                .map(|n| if negative { -n } else { n })
        };
        let width = number(&mut chars);
        let mut control = Control {
            width,
            precision: None,
            pad: ' ',
        };
        if chars.next_if_eq(&'.').is_some() {
            control.precision = number(&mut chars);
            if chars.next_if_eq(&'.').is_some() {
                control.pad = chars.next().unwrap_or(' ');
            }
        }
        while chars.next_if(|m| *m == 't' || *m == 'l').is_some() {}
        let piece = match chars.next() {
            Some('~') => "~".to_string(),
            Some('n') => "\n".to_string(),
            Some('s') => {
                let s = match next()? {
                    v @ (Value::Str(_) | Value::Bool(_)) => text(NAME, v)?.into_owned(),
                    Value::Null => "undefined".to_string(),
                    other => {
                        return Err(bad(
                            NAME,
                            format!("~s wants a string, got {}", other.type_name()),
                        ))
                    }
                };
                match control.precision {
                    Some(p) if p >= 0 => s.chars().take(p as usize).collect(),
                    _ => s,
                }
            }
            Some('p') => term(next()?, true),
            Some('w') => term(next()?, false),
            Some('c') => {
                let code = int(NAME, next()?)?;
                let c = u32::try_from(code)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| bad(NAME, format!("{code} is not a character")))?;
                c.to_string()
            }
            Some(base @ ('b' | 'B')) => {
                let i = int(NAME, next()?)?;
                let radix = control.precision.unwrap_or(10);
                control.precision = None;
                let digits = radix_digits(i, radix).ok_or_else(|| bad(NAME, "bad base"))?;
                if base == 'b' {
                    digits.to_lowercase()
                } else {
                    digits
                }
            }
            Some(kind @ ('f' | 'e' | 'g')) => {
                let f = match next()? {
                    Value::Float(f) => *f,
                    other => {
                        return Err(bad(
                            NAME,
                            format!("~{kind} wants a float, got {}", other.type_name()),
                        ))
                    }
                };
                let p = control.precision.unwrap_or(6).clamp(0, 253) as usize;
                match kind {
                    'f' => format!("{f:.p$}"),
                    'e' => format!("{f:.p$e}"),
                    _ => term(&Value::Float(f), true),
                }
            }
            Some('i') => {
                next()?;
                String::new()
            }
            other => {
                return Err(bad(
                    NAME,
                    format!("unsupported control sequence ~{}", other.unwrap_or(' ')),
                ))
            }
        };
        push_padded(&mut out, &piece, &control)?;
        if out.len() > MAX_OUTPUT {
            return Err(bad(NAME, "the result is too long"));
        }
    }
    if args.next().is_some() {
        return Err(bad(NAME, "more arguments than the format uses"));
    }
    Ok(out)
}

/// `piece` in a field of `width` characters: right-justified, or left when
/// the width is negative.
fn push_padded(out: &mut String, piece: &str, control: &Control) -> Result<(), EvalError> {
    let width = control.width.unwrap_or(0);
    let have = piece.chars().count() as i64;
    let missing = (width.unsigned_abs() as i64 - have).max(0) as usize;
    if missing > MAX_OUTPUT {
        return Err(bad("sprintf", "the field is too wide"));
    }
    let fill: String = std::iter::repeat_n(control.pad, missing).collect();
    if width < 0 {
        out.push_str(piece);
        out.push_str(&fill);
    } else {
        out.push_str(&fill);
        out.push_str(piece);
    }
    Ok(())
}

fn radix_digits(i: i64, radix: i64) -> Option<String> {
    if !(2..=36).contains(&radix) {
        return None;
    }
    let mut n = i.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit(
            (n % radix as u64) as u32,
            radix as u32,
        )?);
        n /= radix as u64;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        digits.push('-');
    }
    Some(digits.iter().rev().collect::<String>().to_uppercase())
}

/// A value printed as an Erlang term: `~p` (`pretty`) shows binaries as
/// `<<"abc">>`, `~w` as bytes `<<97,98,99>>`.
pub(super) fn term(v: &Value, pretty: bool) -> String {
    match v {
        Value::Null => "undefined".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => erlang_float(*f),
        Value::Str(s) if pretty => format!("<<{}>>", quoted(s)),
        Value::Str(s) => bytes_term(s.as_bytes()),
        Value::Bin(b) => bytes_term(b),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|v| term(v, pretty))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Map(m) => format!(
            "#{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{} => {}",
                    term(&Value::Str(k.clone()), pretty),
                    term(v, pretty)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bytes_term(b: &[u8]) -> String {
    format!(
        "<<{}>>",
        b.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
    )
}

/// A float as Erlang prints it by default (`float_to_list(F, [short])`):
/// the fewest digits that read back the same, always with a decimal point,
/// in the shorter of fixed and scientific notation (`1.5`, `0.1`, `1.0e20`).
pub(super) fn erlang_float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let fixed = if exponent >= 0 {
        let int_len = exponent as usize + 1;
        if digits.len() > int_len {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        } else {
            format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
        }
    } else {
        format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
    };
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() { "0" } else { rest };
    let scientific = format!("{first}.{rest}e{exponent}");
    if scientific.len() < fixed.len() {
        format!("{sign}{scientific}")
    } else {
        format!("{sign}{fixed}")
    }
}

/// EMQX's `unescape`: `\\ \n \t \r \b \f \v \' \" \? \a` and `\xHH...`;
/// any other escape is an error.
fn unescape(s: &str) -> Result<String, EvalError> {
    const NAME: &str = "unescape";
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' || chars.peek().is_none() {
            out.push(c);
            continue;
        }
        let e = chars.next().unwrap_or('\\');
        out.push(match e {
            '\\' => '\\',
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\'' => '\'',
            '"' => '"',
            '?' => '?',
            'a' => '\u{7}',
            'x' if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
                let mut code: u32 = 0;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(16)) {
                    code = code.saturating_mul(16).saturating_add(d);
                    chars.next();
                }
                char::from_u32(code)
                    .ok_or_else(|| bad(NAME, format!("\\x{code:X} is not a character")))?
            }
            other => return Err(bad(NAME, format!("unrecognized escape sequence \\{other}"))),
        });
    }
    Ok(out)
}
