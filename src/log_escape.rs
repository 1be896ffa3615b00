//! Log lines cannot be forged: control characters that reach a log line (a
//! client id or user name holding a newline, a carriage return, an escape
//! sequence) are written escaped (`\n`, `\r`, `\u{1b}`), so one event is always
//! one line. The formatter writes each event in one `write_all`; the last
//! newline, which ends the line, is the only one kept.

use roost_core::escape::escape_control;
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
        let escaped = escape_control(body.unwrap_or(&text), self.ansi);
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
    }
}
