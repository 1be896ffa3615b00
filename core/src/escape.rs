//! Control characters out of log lines: a client id, user name, topic or
//! payload holding a newline, a carriage return or an escape sequence must not
//! forge a line of the broker's log or of a trace file. Used by the binary's
//! log writer and by the trace formatter.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1, and the Unicode line and
/// paragraph separators) written as an escape: `\n`, `\r`, `\t`, else
/// `\u{..}`. ESC is kept when `keep_esc` (a terminal's colour codes).
pub fn escape_control(text: &str, keep_esc: bool) -> Cow<'_, str> {
    let needs = |c: char| {
        (c.is_control() && !(keep_esc && c == '\u{1b}')) || c == '\u{2028}' || c == '\u{2029}'
    };
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain é line", false), "plain é line");
        assert_eq!(
            escape_control("a\nFAKE\r\x1b[31m\t", false),
            "a\\nFAKE\\r\\u{1b}[31m\\t"
        );
        assert_eq!(escape_control("\u{1b}[1m", true), "\u{1b}[1m");
        assert_eq!(
            escape_control("a\u{85}b\u{2028}", true),
            "a\\u{85}b\\u{2028}"
        );
    }
}
