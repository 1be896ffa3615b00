//! EMQX's value syntax for sizes and rates, as the limits' config keys take
//! them: `"32MB"`, `"64KB"`, `1048576` (bytes); `"1000/s"`, `"10MB/s"`,
//! `"100/10s"`, `"infinity"` (rates). The keys keep the text (so a config
//! file reads back as written) and are checked with these parsers at start-up.

use serde::{Deserialize, Deserializer};

/// Bytes of a size: a plain number, or a number with `B`, `KB`, `MB` or `GB`
/// (powers of 1024, as EMQX). `None` if it is not one.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let (digits, unit) = match upper.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => upper.split_at(i),
        None => (upper.as_str(), ""),
    };
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A rate: `"<amount>/<period>"`, the amount a count (or, for byte rates, a
/// size as [`parse_bytes`] reads it) and the period `s`, `m`, `h` or a number
/// of them (`10s`). `Some(None)` for `"infinity"` (no limit); `None` if it is
/// not a rate. The value is per second.
pub fn parse_rate(text: &str) -> Option<Option<f64>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("infinity") {
        return Some(None);
    }
    let (amount, period) = t.split_once('/')?;
    let amount = parse_bytes(amount)? as f64;
    let period = period.trim();
    let (n, unit) = match period.find(|c: char| !c.is_ascii_digit()) {
        Some(0) => ("1", period),
        Some(i) => period.split_at(i),
        None => return None,
    };
    let n: f64 = n.parse().ok()?;
    let secs = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    (n > 0.0 && amount > 0.0).then_some(Some(amount / (n * secs)))
}

/// Reads a size or rate key written as a number (`1048576`) or as text
/// (`"1MB"`), keeping its text.
pub fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(u64),
        Text(String),
    }
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.to_string(),
        Value::Text(t) => t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("32MB"), Some(32 << 20));
        assert_eq!(parse_bytes("64kb"), Some(64 << 10));
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("0"), Some(0));
        assert_eq!(parse_bytes("1GB"), Some(1 << 30));
        assert_eq!(parse_bytes("12 MB"), Some(12 << 20));
        assert_eq!(parse_bytes("MB"), None);
        assert_eq!(parse_bytes("1TB"), None);
        assert_eq!(parse_bytes("-1"), None);
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1000/s"), Some(Some(1000.0)));
        assert_eq!(parse_rate("10MB/s"), Some(Some(10.0 * 1048576.0)));
        assert_eq!(parse_rate("100/10s"), Some(Some(10.0)));
        assert_eq!(parse_rate("60/m"), Some(Some(1.0)));
        assert_eq!(parse_rate("infinity"), Some(None));
        assert_eq!(parse_rate("1000"), None);
        assert_eq!(parse_rate("0/s"), None);
        assert_eq!(parse_rate("10/x"), None);
    }
}
