//! Text that came from outside the process (AWS error messages, ARNs, zone
//! names, descriptions, a replayed report), made safe to print and bounded
//! in length.
//!
//! Free text is never rejected for what it says; it is only stripped of
//! what a terminal would act on, and cut. Renderers call [`printable`] on
//! every string they print, whatever its source; the gatherer calls
//! [`cut`] where outside text first enters a fact.

use std::borrow::Cow;

/// `s` without control characters: tabs, line feeds and carriage returns
/// become spaces (the text stays on one line and words stay apart); every
/// other C0 control (ESC, BEL, NUL…), DEL and every C1 control (U+0080 to
/// U+009F: some terminals read U+009B as CSI) is dropped, and so are the
/// Unicode bidirectional overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069), which reorder what a reader sees without changing what a
/// copy pastes. Borrows when nothing needs changing.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_space_like(c) {
            out.push(' ');
        } else if !is_control(c) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Is `c` something a terminal could act on instead of printing?
///
/// C0 controls, DEL and C1 controls (`U+009B` is a CSI on some terminals),
/// plus the Unicode formatting characters that reorder or hide text
/// (bidirectional overrides and isolates, the "Trojan Source" characters).
fn is_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}')
}

/// Whitespace controls that separate words: they become one space each, so
/// `a\tb` stays two words; every other control is dropped.
fn is_space_like(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Text from outside as a message may quote it: cut to `max_chars`
/// characters, then [`printable`].
pub fn quoted(s: &str, max_chars: usize) -> String {
    printable(&cut(s, max_chars)).into_owned()
}

/// `s` cut to at most `max_chars` characters, with `…` standing for the
/// rest (the result is then `max_chars` characters long, `…` included).
/// Cuts at a character boundary; borrows when `s` is short enough.
pub fn cut(s: &str, max_chars: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max_chars) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..end]))
        }
    }
}

/// The longest message a [`FactError`](crate::FactError) keeps: enough for
/// any AWS error sentence, short of a server that echoes a whole request or
/// a `credential_process` that prints a page.
pub const FACT_ERROR_MESSAGE_CHARS: usize = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_controls_and_spaces_line_breaks() {
        assert!(matches!(printable("vpc-0a1b2c3d"), Cow::Borrowed(_)));
        assert_eq!(
            printable("arn:aws:iam::1:user/\u{1b}]0;title\u{7}me\u{1b}[2J"),
            "arn:aws:iam::1:user/]0;titleme[2J"
        );
        assert_eq!(printable("a\tb\nc\r\nd"), "a b c  d");
        assert_eq!(printable("x\u{9b}31my\u{85}z\u{7f}"), "x31my z");
        assert_eq!(printable("\0nul"), "nul");
        assert_eq!(printable("ab\u{202E}dc\u{2066}e"), "abdce");
        // Ordinary non-ASCII text stays.
        assert_eq!(printable("Zürich · 東京 ✔"), "Zürich · 東京 ✔");
    }

    #[test]
    fn printable_output_has_no_control_character() {
        let all: String = (0u32..0x250).filter_map(char::from_u32).collect();
        let out = printable(&all);
        assert!(!out.chars().any(char::is_control), "{out:?}");
        assert!(out.contains(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    }

    #[test]
    fn cut_keeps_short_text_and_marks_the_cut() {
        assert!(matches!(cut("short", 10), Cow::Borrowed("short")));
        assert!(matches!(cut("0123456789", 10), Cow::Borrowed(_)));
        assert_eq!(cut("0123456789a", 10), "012345678…");
        assert_eq!(cut("ééééé", 3), "éé…");
        assert_eq!(cut("abc", 0), "…");
        assert_eq!(cut(&"x".repeat(1_000_000), 300).chars().count(), 300);
    }
}
