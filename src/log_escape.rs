//! Log lines cannot be forged: control characters that reach a log line (a
//! client id or user name holding a newline, a carriage return, an escape
//! sequence) are written escaped (`\n`, `\r`, `\u{1b}`), so one event is always
//! one line. The formatter writes each event in one `write_all`; the last
//! newline, which ends the line, is the only one kept.

use std::io::{self, Write};

/// A `MakeWriter` for tracing-subscriber's fmt layer: stdout, escaped.
#[derive(Clone, Copy)]
pub struct EscapedStdout {
    /// Colours are on: ESC starts the formatter's own colour codes, kept.
    pub ansi: bool,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for EscapedStdout {
    type Writer = Escaped<io::StdoutLock<'a>>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaped {
            inner: io::stdout().lock(),
            ansi: self.ansi,
        }
    }
}

/// Escapes control characters on their way to `inner`.
pub struct Escaped<W> {
    inner: W,
    ansi: bool,
}

impl<W: Write> Write for Escaped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let body = text.strip_suffix('\n');
        let escaped = escape(body.unwrap_or(&text), self.ansi);
        self.inner.write_all(escaped.as_bytes())?;
        if body.is_some() {
            self.inner.write_all(b"\n")?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `text` with every control character (C0, DEL, C1, and the Unicode line and
/// paragraph separators) written as an escape; ESC kept when `ansi`.
pub fn escape(text: &str, ansi: bool) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| {
        (c.is_control() && !(ansi && c == '\u{1b}')) || c == '\u{2028}' || c == '\u{2029}'
    };
    if !text.chars().any(needs) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_stays_one_line() {
        let mut out = Vec::new();
        let mut w = Escaped {
            inner: &mut out,
            ansi: false,
        };
        w.write_all(b"INFO client_connected client_id=a\nFAKE LINE\r\x1b[31m\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "INFO client_connected client_id=a\\nFAKE LINE\\r\\u{1b}[31m\n"
        );
        assert_eq!(escape("plain é line", false), "plain é line");
        assert_eq!(escape("\u{1b}[1m", true), "\u{1b}[1m");
        assert_eq!(escape("a\u{85}b\u{2028}", true), "a\\u{85}b\\u{2028}");
    }
}
