//! Text that reaches an operator's terminal: one function neutralises what could drive it.
//!
//! Anyone who can post an event controls bytes that `shipdeck events`, `status`, the dashboard
//! and the other human-readable outputs print. Control characters (C0 such as ESC, CR and BEL,
//! DEL, C1) can retitle or clear the terminal, overwrite a line or write the clipboard; bidi
//! overrides and isolates can make text read backwards. Every human-readable output passes
//! untrusted text through [`sanitize`] (or [`sanitize_lines`] where a newline is meant), which
//! shows such characters as visible escapes (`\e`, `\r`, `\u{202e}`). JSON output does not use
//! it: serde already escapes control characters there, and scripts need the exact text. The
//! exports people open elsewhere follow the same rule in their format's shape: CSV through
//! [`csv_field`], iCalendar through [`ical_text`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes control characters and bidi controls so the text is inert on a terminal, one line.
///
/// Newlines and tabs are escaped too (`\n`, `\t`): a single-line field never breaks a table or
/// forges the next line. Ordinary text, including non-ASCII letters and emoji, is unchanged and
/// not copied.
#[must_use]
pub fn sanitize(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`sanitize`], but keeps newlines: for multi-line text (a whole error report, a note).
#[must_use]
pub fn sanitize_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// One CSV field (RFC 4180) of untrusted text: control and bidi characters escaped as
/// [`sanitize`] shows them (newlines too, so a record stays one line), then quoted when it holds
/// a comma or a quote. A CSV is read in terminals and spreadsheets: raw ESC or CR there would
/// retitle the terminal or hide the fields before them.
#[must_use]
pub fn csv_field(s: &str) -> Cow<'_, str> {
    let text = sanitize(s);
    if text.contains([',', '"']) { Cow::Owned(format!("\"{}\"", text.replace('"', "\"\""))) } else { text }
}

/// Untrusted text for an iCalendar (RFC 5545) TEXT value, before the format's own escaping of
/// `\`, `,`, `;` and newlines: control and bidi characters escaped as [`sanitize_lines`] shows
/// them. RFC 5545 allows no control character but HTAB in a value, and a calendar program shows
/// a summary as it is: an escape is visible, an override would reorder the text.
#[must_use]
pub fn ical_text(s: &str) -> Cow<'_, str> {
    sanitize_lines(s)
}

/// Whether `c` is shown as an escape rather than printed.
fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Characters that change the direction text is displayed in (Unicode bidi controls).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_unsafe(c) && !(keep_newlines && c == '\n');
    let Some(first) = s.find(unsafe_char) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if !unsafe_char(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            other => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(other));
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["", "install failed: exit 3", "Zürich – 東京 ✅ 🚀", "a\\b \"quoted\""] {
            assert!(matches!(sanitize(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn terminal_escapes_become_visible() {
        // OSC 0 (window title), ED (clear screen), OSC 52 (clipboard write).
        assert_eq!(sanitize("\u{1b}]0;pwned\u{7}x"), "\\e]0;pwned\\u{7}x");
        assert_eq!(sanitize("\u{1b}[2J"), "\\e[2J");
        assert_eq!(sanitize("\u{1b}]52;c;aGk=\u{1b}\\"), "\\e]52;c;aGk=\\e\\");
        assert_eq!(sanitize("ok\rFAILED"), "ok\\rFAILED");
        assert_eq!(sanitize("nul\0del\u{7f}"), "nul\\u{0}del\\u{7f}");
    }

    #[test]
    fn c1_controls_are_escaped() {
        // U+009B is the 8-bit CSI; U+009D the 8-bit OSC.
        assert_eq!(sanitize("a\u{9b}2Jb\u{9d}"), "a\\u{9b}2Jb\\u{9d}");
        assert_eq!(sanitize("\u{85}"), "\\u{85}");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_escaped() {
        assert_eq!(sanitize("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(sanitize(&c.to_string()), format!("\\u{{{:x}}}", u32::from(c)));
        }
        assert_eq!(sanitize("\u{200e}\u{200f}"), "\\u{200e}\\u{200f}");
    }

    #[test]
    fn newlines_are_escaped_on_one_line_and_kept_in_lines() {
        assert_eq!(sanitize("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(sanitize_lines("a\nb\r\n\u{1b}[1m"), "a\nb\\r\n\\e[1m");
        assert!(matches!(sanitize_lines("one\ntwo"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_fields_carry_no_control_character_and_quote_commas_and_quotes() {
        assert!(matches!(csv_field("payments-api"), Cow::Borrowed("payments-api")));
        assert_eq!(csv_field("evil\u{1b}]0;owned\u{7}"), "evil\\e]0;owned\\u{7}");
        assert_eq!(csv_field("a\rb\u{8}c\u{202e}d"), "a\\rb\\u{8}c\\u{202e}d");
        assert_eq!(csv_field("one\ntwo, \"three\""), "\"one\\ntwo, \"\"three\"\"\"");
    }

    #[test]
    fn ical_text_keeps_newlines_and_escapes_every_other_control() {
        assert_eq!(ical_text("freeze\u{1b}[2J\r\u{7}\u{202e}"), "freeze\\e[2J\\r\\u{7}\\u{202e}");
        assert_eq!(ical_text("line one\nline two"), "line one\nline two");
    }
}
