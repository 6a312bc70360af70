//! Text for a terminal: make any string safe to print, cap it, and wrap it
//! at spaces.
//!
//! Every string the human renderer prints passes through [`clean`], whatever
//! its source (a check's summary, an AWS error message, an ARN from a report
//! a stranger sent): a terminal must never receive a control sequence it
//! did not get from us. Everything here is linear in the length of its input,
//! so a hostile megabyte costs milliseconds, not minutes.

use std::borrow::Cow;
use std::ops::Range;

/// `s` without control characters (tabs and newlines become spaces; ESC,
/// BEL, DEL, C1 and bidi overrides are removed): the one implementation, in
/// the checks crate, shared with the validation of replayed reports.
pub fn clean(s: &str) -> Cow<'_, str> {
    tidbpe_checks::text::printable(s)
}

/// At most `max` characters of `s` (cleaned), ending in `…` when cut. Reads
/// only the first `max` characters, however long `s` is.
pub fn capped(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => clean(s),
        Some(_) => {
            let end = s
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", clean(&s[..end])))
        }
    }
}

/// Columns a string takes: one per character. Good enough for what a report
/// holds (ASCII IDs, a few symbols); a wide CJK character in a hostile
/// report only makes a line wrap a little late.
pub fn width(s: &str) -> usize {
    s.chars().count()
}

/// The longest run of non-spaces in `s`, in columns: what a column must be
/// able to hold so that no word is split.
pub fn longest_word(s: &str) -> usize {
    s.split(' ').map(width).max().unwrap_or(0)
}

/// Where to break a sequence of words into lines, greedily: word `i` is
/// `width` columns and, when the next word follows it on the same line,
/// `gap` spaces from it. The first line holds `first` columns, the others
/// `rest`. A word is never split: a word longer than its line stands alone
/// and overflows (a terminal soft-wraps it, and a copy keeps it whole).
/// Returns the index ranges of the lines; at least one, maybe empty.
pub fn breaks(words: &[(usize, usize)], first: usize, rest: usize) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut used = 0;
    let mut room = first.max(1);
    for (i, &(width, _)) in words.iter().enumerate() {
        if i == start {
            used = width;
        } else {
            let gap = words[i - 1].1;
            if used + gap + width <= room {
                used += gap + width;
            } else {
                lines.push(start..i);
                start = i;
                used = width;
                room = rest.max(1);
            }
        }
    }
    lines.push(start..words.len());
    lines
}

/// `text` wrapped at spaces (runs of spaces collapse to one): see [`breaks`].
#[cfg(test)]
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let widths: Vec<(usize, usize)> = words.iter().map(|w| (width(w), 1)).collect();
    breaks(&widths, first, rest)
        .into_iter()
        .map(|line| words[line].join(" "))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn clean_removes_every_control_and_keeps_the_rest() {
        let hostile =
            "arn:aws:iam::1:user/\u{1b}]0;pwned\u{7}\u{1b}[2Jx\u{9b}31m\u{7f}\u{202e}gnp.exe";
        let cleaned = clean(hostile);
        assert_eq!(cleaned, "arn:aws:iam::1:user/]0;pwned[2Jx31mgnp.exe");
        assert!(!cleaned.chars().any(char::is_control));
        assert_eq!(clean("a\tb\nc\r\nd"), "a b c  d");
        assert!(matches!(clean("vpc-0a1b2c3d ✔ …"), Cow::Borrowed(_)));
    }

    #[test]
    fn capped_cuts_at_characters_with_an_ellipsis() {
        assert_eq!(capped("abcdef", 6), "abcdef");
        assert_eq!(capped("abcdefg", 6), "abcde…");
        assert_eq!(capped("ééééééé", 3), "éé…");
        assert_eq!(capped("a\u{1b}b", 6), "ab");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_never_inside_a_word() {
        let lines = wrap("vpc-3bc1930b2128dcb00 has enableDnsSupport = true", 12, 20);
        assert_eq!(
            lines,
            ["vpc-3bc1930b2128dcb00", "has enableDnsSupport", "= true"]
        );
        assert_eq!(wrap("", 10, 10), [""]);
        assert_eq!(wrap("a  b", 10, 10), ["a b"]);
        assert_eq!(wrap("aa bb cc", 5, 5), ["aa bb", "cc"]);
    }

    #[test]
    fn a_megabyte_is_handled_in_linear_time() {
        let words = "word ".repeat(200_000);
        let token = format!("\u{1b}{}", "x".repeat(1_000_000));
        let started = Instant::now();
        assert_eq!(wrap(&clean(&words), 80, 80).len(), 12_500);
        assert_eq!(wrap(&clean(&token), 80, 80).len(), 1);
        assert!(width(&capped(&token, 200)) <= 200);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
