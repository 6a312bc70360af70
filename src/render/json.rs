//! The JSON report: the `Report` as serde writes it, pretty-printed.
//!
//! serde_json already escapes C0 controls (ESC, BEL, newlines) inside
//! strings; DEL, C1 controls and the bidirectional overrides it writes raw,
//! and a terminal showing `tidbpe … --format json` could act on them. They
//! can only occur inside JSON strings, where `\uXXXX` means the same
//! character, so escaping them afterwards keeps the document equal.

use std::borrow::Cow;
use std::io::{self, Write};

use crate::report::Report;

/// The JSON report, pretty-printed, with a final newline.
pub fn json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    out.write_all(escape_invisible(&text).as_bytes())?;
    writeln!(out)
}

/// `text` with DEL, C1 controls and bidirectional overrides written as
/// `\uXXXX`. Works on the UTF-8 bytes (one pass, no decoding): in valid
/// UTF-8 the lead bytes 0xC2 and 0xE2 never occur inside another character.
fn escape_invisible(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let next = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
        let (len, code) = match bytes[i] {
            0x7f => (1, 0x7f),
            0xc2 if (0x80..=0x9f).contains(&next(1)) => (2, u32::from(next(1))),
            0xe2 if next(1) == 0x80 && (0xaa..=0xae).contains(&next(2)) => {
                (3, 0x2000 + u32::from(next(2) - 0x80))
            }
            0xe2 if next(1) == 0x81 && (0xa6..=0xa9).contains(&next(2)) => {
                (3, 0x2040 + u32::from(next(2) - 0x80))
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
        o.push_str(&text[copied..i]);
        o.push_str(&format!("\\u{code:04x}"));
        i += len;
        copied = i;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_parses_to_the_same_value() {
        let value = serde_json::json!({
            "arn": "a\u{1b}]0;x\u{7}\u{9b}2J\u{7f}\u{202e}b\u{2066}é\u{80}\u{9f}\u{a0}",
            "fine": "é … ✔ \u{2069}"
        });
        let raw = serde_json::to_string_pretty(&value).unwrap();
        let escaped = escape_invisible(&raw);
        let invisible = |c: char| {
            matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                && c != '\n'
        };
        assert!(!escaped.chars().any(invisible), "{escaped}");
        assert!(escaped.contains("é … ✔") && escaped.contains('\u{a0}'));
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
    }
}
