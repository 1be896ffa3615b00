//! Dates and times: `now_timestamp`, `now_rfc3339`, `unix_ts_to_rfc3339`,
//! `rfc3339_to_unix_ts`, `format_date`, `date_to_unix_ts`,
//! `timezone_to_offset_seconds`. Time units are EMQX's: `second`
//! (the default), `millisecond`, `microsecond`, `nanosecond`.

use super::args::{arity, bad, int, string, text};
use crate::error::EvalError;
use crate::value::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub(super) const NAMES: &[&str] = &[
    "date_to_unix_ts",
    "format_date",
    "now_rfc3339",
    "now_timestamp",
    "rfc3339_to_unix_ts",
    "timezone_to_offset_seconds",
    "timezone_to_second",
    "unix_ts_to_rfc3339",
];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "now_timestamp" => {
            arity(name, &args, 0..=1)?;
            let unit = unit(name, args.first())?;
            Ok(Value::Int(now(unit)?))
        }
        "now_rfc3339" => {
            arity(name, &args, 0..=1)?;
            let unit = unit(name, args.first())?;
            rfc3339(name, now(unit)?, unit).map(string)
        }
        "unix_ts_to_rfc3339" => {
            arity(name, &args, 1..=2)?;
            let unit = unit(name, args.get(1))?;
            rfc3339(name, int(name, &args[0])?, unit).map(string)
        }
        "rfc3339_to_unix_ts" => {
            arity(name, &args, 1..=2)?;
            let unit = unit(name, args.get(1))?;
            let s = text(name, &args[0])?;
            // Erlang's parser takes any separator between the date and the
            // time ('2022-04-25 16:11:16Z' too).
            let s = match s.as_bytes().get(10) {
                Some(b) if *b != b'T' && s.is_char_boundary(10) && s.is_char_boundary(11) => {
                    format!("{}T{}", &s[..10], &s[11..])
                }
                _ => s.into_owned(),
            };
            let t = OffsetDateTime::parse(&s, &Rfc3339)
                .map_err(|e| bad(name, format!("{s:?} is not an RFC 3339 time: {e}")))?;
            let nanos = t.unix_timestamp_nanos();
            Ok(Value::Int(
                i64::try_from(nanos.div_euclid(i128::from(unit.per_second_div())))
                    .map_err(|_| bad(name, "out of range"))?,
            ))
        }
        "format_date" => {
            arity(name, &args, 3..=4)?;
            let unit = unit(name, args.first())?;
            let offset = offset_seconds(name, &args[1])?;
            let format = text(name, &args[2])?;
            let ts = match args.get(3) {
                Some(ts) => int(name, ts)?,
                None => now(unit)?,
            };
            format_date(unit, offset, &format, ts).map(string)
        }
        "date_to_unix_ts" => {
            arity(name, &args, 3..=4)?;
            let unit = unit(name, args.first())?;
            let (offset, format, input) = match args.as_slice() {
                [_, format, input] => (0, format, input),
                [_, offset, format, input] => (offset_seconds(name, offset)?, format, input),
                _ => unreachable!("arity checked"),
            };
            // The offset argument is the zone of a date that states none.
            let ts = parse_date(&text(name, format)?, &text(name, input)?, offset)?;
            i64::try_from(ts.div_euclid(i128::from(unit.per_second_div())))
                .map(Value::Int)
                .map_err(|_| bad(name, "out of range"))
        }
        "timezone_to_offset_seconds" | "timezone_to_second" => {
            arity(name, &args, 1..=1)?;
            offset_seconds(name, &args[0]).map(Value::Int)
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl Unit {
    /// Units per second.
    fn per_second(self) -> i64 {
        match self {
            Unit::Second => 1,
            Unit::Millisecond => 1_000,
            Unit::Microsecond => 1_000_000,
            Unit::Nanosecond => 1_000_000_000,
        }
    }

    /// Nanoseconds per unit.
    fn per_second_div(self) -> i64 {
        1_000_000_000 / self.per_second()
    }

    /// Decimals of a second the unit shows.
    fn digits(self) -> usize {
        match self {
            Unit::Second => 0,
            Unit::Millisecond => 3,
            Unit::Microsecond => 6,
            Unit::Nanosecond => 9,
        }
    }
}

fn unit(name: &str, v: Option<&Value>) -> Result<Unit, EvalError> {
    let Some(v) = v else { return Ok(Unit::Second) };
    match text(name, v)?.as_ref() {
        "second" => Ok(Unit::Second),
        "millisecond" => Ok(Unit::Millisecond),
        "microsecond" => Ok(Unit::Microsecond),
        "nanosecond" => Ok(Unit::Nanosecond),
        other => Err(bad(name, format!("invalid time unit {other:?}"))),
    }
}

fn now(unit: Unit) -> Result<i64, EvalError> {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / i128::from(unit.per_second_div()))
        .map_err(|_| bad("now_timestamp", "the clock is out of range"))
}

/// The node's zone's offset (from `TZ` or `/etc/localtime`) at the instant
/// `unix_seconds`, as EMQX prints RFC 3339 times in the node's zone (with
/// summer time where the zone has it); UTC when the instant is out of range.
fn local_offset_at(unix_seconds: i64) -> UtcOffset {
    use chrono::{Offset as _, TimeZone as _};
    let seconds = chrono::Local
        .timestamp_opt(unix_seconds, 0)
        .earliest()
        .map_or(0, |t| t.offset().fix().local_minus_utc());
    UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
}

/// The node's zone's offset now (EMQX's `local` offset).
fn local_offset() -> UtcOffset {
    local_offset_at(OffsetDateTime::now_utc().unix_timestamp())
}

/// `ts` (in `unit`) as RFC 3339 in the local zone, with the unit's decimals
/// (Erlang's `calendar:system_time_to_rfc3339`: `+00:00`, never `Z`).
fn rfc3339(name: &str, ts: i64, unit: Unit) -> Result<String, EvalError> {
    let nanos = i128::from(ts) * i128::from(unit.per_second_div());
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| bad(name, format!("{ts} is out of range")))?;
    let t = t.to_offset(local_offset_at(t.unix_timestamp()));
    let offset = t.offset().whole_seconds();
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if unit != Unit::Second {
        let fraction = t.nanosecond() as i64 / unit.per_second_div();
        out.push_str(&format!(".{fraction:0width$}", width = unit.digits()));
    }
    out.push_str(&zone(i64::from(offset), ":", false));
    Ok(out)
}

/// `+HHMM`, `+HH:MM` or `+HH:MM:SS`.
fn zone(offset: i64, sep: &str, seconds: bool) -> String {
    let sign = if offset >= 0 { '+' } else { '-' };
    let o = offset.abs();
    let mut z = format!("{sign}{:02}{sep}{:02}", o / 3600, o % 3600 / 60);
    if seconds {
        z.push_str(&format!("{sep}{:02}", o % 60));
    }
    z
}

/// EMQX's time offsets: `z`/`Z` (UTC), `local`, `+HHMM`, `+HH:MM`,
/// `+HH:MM:SS`, or an integer of seconds.
fn offset_seconds(name: &str, v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(seconds) => return Ok(*seconds),
        Value::Null => return Ok(0),
        _ => {}
    }
    let s = text(name, v)?;
    let bad_offset = || bad(name, format!("bad time offset {s:?}"));
    match s.as_ref() {
        "z" | "Z" => return Ok(0),
        "local" => return Ok(i64::from(local_offset().whole_seconds())),
        _ => {}
    }
    let sign = match s.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(bad_offset()),
    };
    let rest = &s[1..];
    // ±hh[:mm[:ss]] or ±hh[mm[ss]]
    let parts: Vec<&str> = if rest.contains(':') {
        rest.split(':').collect()
    } else if matches!(rest.len(), 2 | 4 | 6) && rest.is_ascii() {
        (0..rest.len())
            .step_by(2)
            .map(|i| &rest[i..i + 2])
            .collect()
    } else {
        return Err(bad_offset());
    };
    let number = |p: &str| -> Result<i64, EvalError> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_offset());
        }
        p.parse().map_err(|_| bad_offset())
    };
    let (h, m, sec) = match parts.as_slice() {
        [h] if h.len() == 2 => (number(h)?, 0, 0),
        [h, m] => (number(h)?, number(m)?, 0),
        [h, m, sec] => (number(h)?, number(m)?, number(sec)?),
        _ => return Err(bad_offset()),
    };
    if h > 23 || m > 59 || sec > 59 {
        return Err(bad_offset());
    }
    Ok(sign * (h * 3600 + m * 60 + sec))
}

/// One piece of an EMQX date format.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Nanos,
    Millis,
    Micros,
    Zone,
    ZoneColon,
    ZoneSeconds,
    Literal(char),
}

fn parts(format: &str) -> Vec<Part> {
    const CODES: &[(&str, Part)] = &[
        ("%Y", Part::Year),
        ("%m", Part::Month),
        ("%d", Part::Day),
        ("%H", Part::Hour),
        ("%M", Part::Minute),
        ("%S", Part::Second),
        ("%N", Part::Nanos),
        ("%3N", Part::Millis),
        ("%6N", Part::Micros),
        ("%z", Part::Zone),
        ("%:z", Part::ZoneColon),
        ("%::z", Part::ZoneSeconds),
    ];
    let mut out = Vec::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        match CODES.iter().find(|(code, _)| rest.starts_with(code)) {
            Some((code, part)) => {
                out.push(*part);
                rest = &rest[code.len()..];
            }
            None => {
                out.push(Part::Literal(c));
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// `format_date(Unit, Offset, Format, Ts)`: `%Y-%m-%d %H:%M:%S`, `%N`
/// (nanoseconds, 9 digits), `%3N`, `%6N`, and the offset as `%z` (`+0800`),
/// `%:z` (`+08:00`), `%::z` (`+08:00:00`).
fn format_date(unit: Unit, offset: i64, format: &str, ts: i64) -> Result<String, EvalError> {
    const NAME: &str = "format_date";
    let nanos = i128::from(ts) * i128::from(unit.per_second_div());
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .zip(
            i32::try_from(offset)
                .ok()
                .and_then(|o| UtcOffset::from_whole_seconds(o).ok()),
        )
        .map(|(t, o)| t.to_offset(o))
        .ok_or_else(|| bad(NAME, format!("{ts} or offset {offset} is out of range")))?;
    let fraction = i64::from(t.nanosecond());
    let mut out = String::new();
    for part in parts(format) {
        match part {
            Part::Year => out.push_str(&format!("{:04}", t.year())),
            Part::Month => out.push_str(&format!("{:02}", u8::from(t.month()))),
            Part::Day => out.push_str(&format!("{:02}", t.day())),
            Part::Hour => out.push_str(&format!("{:02}", t.hour())),
            Part::Minute => out.push_str(&format!("{:02}", t.minute())),
            Part::Second => out.push_str(&format!("{:02}", t.second())),
            Part::Nanos => out.push_str(&format!("{fraction:09}")),
            Part::Millis => out.push_str(&format!("{:03}", fraction / 1_000_000)),
            Part::Micros => out.push_str(&format!("{:06}", fraction / 1_000)),
            Part::Zone => out.push_str(&zone(offset, "", false)),
            Part::ZoneColon => out.push_str(&zone(offset, ":", false)),
            Part::ZoneSeconds => out.push_str(&zone(offset, ":", true)),
            Part::Literal(c) => out.push(c),
        }
    }
    Ok(out)
}

/// `input` read with `format` (as [`format_date`] writes it), in
/// nanoseconds since the epoch, less the offset `input` states (or else
/// `default_offset`, in seconds). The year,
/// month and day are required, the time of day defaults to midnight; a
/// literal character of the format skips one character of the input,
/// whatever it is, as EMQX's parser does (`%H-%M-%S` reads `10:40:12`); a
/// `%` that starts no known placeholder is an error.
fn parse_date(format: &str, input: &str, default_offset: i64) -> Result<i128, EvalError> {
    const NAME: &str = "date_to_unix_ts";
    let fail = || {
        bad(
            NAME,
            format!("{input:?} does not fit the format {format:?}"),
        )
    };
    let (mut year, mut month, mut day) = (1970i32, 1u8, 1u8);
    let (mut hour, mut minute, mut second, mut nanos) = (0u8, 0u8, 0u8, 0i128);
    let mut offset = default_offset;
    let parts = parts(format);
    if parts.contains(&Part::Literal('%')) {
        return Err(bad(NAME, format!("unknown placeholder in {format:?}")));
    }
    for (part, what) in [
        (Part::Year, "year"),
        (Part::Month, "month"),
        (Part::Day, "day"),
    ] {
        if !parts.contains(&part) {
            return Err(bad(NAME, format!("the format {format:?} has no {what}")));
        }
    }
    let mut rest = input;
    let digits = |rest: &mut &str, n: usize| -> Result<i64, EvalError> {
        let d = rest
            .get(..n)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let d = d.ok_or_else(fail)?;
        *rest = &rest[n..];
        d.parse().map_err(|_| fail())
    };
    for part in parts {
        match part {
            Part::Year => year = digits(&mut rest, 4)? as i32,
            Part::Month => month = digits(&mut rest, 2)? as u8,
            Part::Day => day = digits(&mut rest, 2)? as u8,
            Part::Hour => hour = digits(&mut rest, 2)? as u8,
            Part::Minute => minute = digits(&mut rest, 2)? as u8,
            Part::Second => second = digits(&mut rest, 2)? as u8,
            Part::Nanos => nanos = i128::from(digits(&mut rest, 9)?),
            Part::Millis => nanos = i128::from(digits(&mut rest, 3)?) * 1_000_000,
            Part::Micros => nanos = i128::from(digits(&mut rest, 6)?) * 1_000,
            // A date that ends before its zone is in the default offset.
            Part::Zone | Part::ZoneColon | Part::ZoneSeconds if rest.is_empty() => {}
            Part::Zone | Part::ZoneColon | Part::ZoneSeconds => {
                let len = match part {
                    Part::Zone => 5,
                    Part::ZoneColon => 6,
                    _ => 9,
                };
                let z = rest.get(..len).ok_or_else(fail)?;
                offset = offset_seconds(NAME, &Value::Str(z.to_string()))?;
                rest = &rest[len..];
            }
            Part::Literal(_) => {
                let c = rest.chars().next().ok_or_else(fail)?;
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    let month = time::Month::try_from(month).map_err(|_| fail())?;
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| fail())?;
    let t = date
        .with_hms(hour, minute, second)
        .map_err(|_| fail())?
        .assume_utc();
    Ok(t.unix_timestamp_nanos() + nanos - i128::from(offset) * 1_000_000_000)
}
