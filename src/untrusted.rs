//! Reading a file that anyone may have written (a report attached to a
//! ticket, a cluster description piped in) without trusting its size, its
//! kind, its encoding or its strings.
//!
//! - Only a regular file or standard input (`-`): a directory, a FIFO or a
//!   device (`/dev/zero`) is refused from its metadata, before it is opened,
//!   so nothing blocks or reads without end.
//! - At most `limit` bytes: a larger file is refused from its size, and a
//!   stream is read to `limit + 1` bytes at most.
//! - UTF-8, with or without a byte-order mark; UTF-16 (a PowerShell
//!   redirect) is recognised and named.
//! - Every JSON string, object keys included, is at most
//!   [`MAX_STRING_BYTES`] long, checked in one linear pass before parsing.
//! - Parse errors name the field path (`facts.vpc.Ok.vpc_id: invalid type…`).
//!
//! Every message is one line, and prints no more than a cut, printable
//! piece of what the file holds.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::error::Category;
use tidbpe_checks::text::{cut, quoted};

/// The largest report `tidbpe analyze` reads: a report of a VPC with
/// thousands of groups, rules and subnets is well under 5 MiB.
pub const REPORT_LIMIT: u64 = 10 * 1024 * 1024;

/// The largest cluster description (`--cluster-json`) read: `ticloud`
/// prints about 2 KB.
pub const CLUSTER_JSON_LIMIT: u64 = 1024 * 1024;

/// The longest JSON string accepted, in bytes as written (escapes
/// included): see [`tidbpe_checks::validate::MAX_TEXT_BYTES`] for why 4 KB.
pub const MAX_STRING_BYTES: usize = tidbpe_checks::validate::MAX_TEXT_BYTES;

/// JSON nested deeper than this is left to the parser, which refuses it.
const MAX_DEPTH: usize = 128;

/// What was wrong with an untrusted input, as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UntrustedError(String);

impl UntrustedError {
    pub fn new(message: impl AsRef<str>) -> Self {
        UntrustedError(quoted(message.as_ref(), 400))
    }
}

/// How a path is named in messages: cut and printable (it may come from
/// anywhere too).
pub fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        return "standard input".into();
    }
    quoted(&path.display().to_string(), 120)
}

/// The text of `path` (`-`: standard input), at most `limit` bytes of UTF-8.
pub fn read(path: &Path, limit: u64) -> Result<String, UntrustedError> {
    read_within(path, limit, None)
}

/// [`read`], and standard input must have given all it has within `wait`
/// (a writer that never writes nor closes, a terminal nobody types into,
/// would otherwise hold the run past its `--timeout`).
pub fn read_within(
    path: &Path,
    limit: u64,
    wait: Option<Duration>,
) -> Result<String, UntrustedError> {
    let name = display_name(path);
    let bytes = if path == Path::new("-") {
        match wait {
            None => read_bounded(io::stdin().lock(), limit, &name)?,
            Some(wait) => read_stdin_within(limit, wait)?,
        }
    } else {
        read_file(path, limit, &name)?
    };
    decode(bytes, &name)
}

/// Standard input read on a thread of its own, waited for at most `wait`.
/// A reader still blocked then is left behind: the process ends soon after.
fn read_stdin_within(limit: u64, wait: Duration) -> Result<Vec<u8>, UntrustedError> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(read_bounded(io::stdin().lock(), limit, "standard input"));
    });
    receiver.recv_timeout(wait).unwrap_or_else(|_| {
        Err(UntrustedError::new(format!(
            "standard input did not end within --timeout ({} s): pipe the file into it (`ticloud serverless describe -c CLUSTER_ID | tidbpe doctor --cluster-json -`), or name the file",
            wait.as_secs_f64()
        )))
    })
}

fn read_file(path: &Path, limit: u64, name: &str) -> Result<Vec<u8>, UntrustedError> {
    let meta =
        fs::metadata(path).map_err(|e| UntrustedError::new(format!("cannot read {name}: {e}")))?;
    refuse_unless_regular(&meta, name)?;
    if meta.len() > limit {
        return Err(too_large(name, limit));
    }
    let file =
        File::open(path).map_err(|e| UntrustedError::new(format!("cannot read {name}: {e}")))?;
    // The path may have been swapped between the look and the open: judge
    // what was opened.
    let opened = file
        .metadata()
        .map_err(|e| UntrustedError::new(format!("cannot read {name}: {e}")))?;
    refuse_unless_regular(&opened, name)?;
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(UntrustedError::new(format!(
            "{name} changed while it was opened: try again"
        )));
    }
    read_bounded(file, limit, name)
}

fn refuse_unless_regular(meta: &fs::Metadata, name: &str) -> Result<(), UntrustedError> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(UntrustedError::new(format!(
        "{name} is {what}: expected a regular file, or `-` to read standard input"
    )))
}

/// Read at most `limit` bytes; one byte more means the input is too large.
fn read_bounded(input: impl Read, limit: u64, name: &str) -> Result<Vec<u8>, UntrustedError> {
    let mut bytes = Vec::new();
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| UntrustedError::new(format!("cannot read {name}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(name, limit));
    }
    Ok(bytes)
}

fn too_large(name: &str, limit: u64) -> UntrustedError {
    UntrustedError::new(format!(
        "{name} is larger than {}: refused (is it the right file?)",
        size_text(limit)
    ))
}

fn size_text(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// UTF-8 text without its byte-order mark, or why not.
fn decode(mut bytes: Vec<u8>, name: &str) -> Result<String, UntrustedError> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    if looks_utf16(&bytes) {
        return Err(UntrustedError::new(format!(
            "{name} is UTF-16 text (as PowerShell's `>` writes it); tidbpe reads UTF-8: convert it (`Get-Content FILE | Set-Content -Encoding utf8 NEW`) or write the report with `tidbpe doctor --output FILE`"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        UntrustedError::new(format!(
            "{name} is not UTF-8 text (invalid byte at offset {}): expected JSON",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A UTF-16 byte-order mark, or the NUL of every other byte that ASCII text
/// (JSON's first characters are ASCII) has in UTF-16 without one.
fn looks_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || matches!(bytes, [0, b, ..] | [b, 0, ..] if *b != 0)
}

/// Parse `text` (from `name`), a JSON object, into `T`. `expected` says what the
/// input should have been, for a text that is not JSON at all.
pub fn parse<T: DeserializeOwned>(
    name: &str,
    text: &str,
    expected: &str,
) -> Result<T, UntrustedError> {
    if let Err(long) = check_strings(text, MAX_STRING_BYTES) {
        return Err(UntrustedError::new(format!(
            "{name}: {}: a string of more than {MAX_STRING_BYTES} bytes (at byte {}); refused",
            long.path, long.offset
        )));
    }
    let not_json = |inner: &serde_json::Error| {
        UntrustedError::new(format!("{name} is not JSON ({inner}): expected {expected}"))
    };
    // JSON first, then an object: serde would read a struct from an array.
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| not_json(&e))?;
    if !text.trim_start().starts_with('{') {
        return Err(UntrustedError::new(format!(
            "{name} is not a JSON object: expected {expected}"
        )));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let path = e.path().to_string();
        match inner.classify() {
            Category::Data if path != "." => {
                UntrustedError::new(format!("{name}: {}: {inner}", cut(&path, 160)))
            }
            Category::Data => UntrustedError::new(format!("{name}: {inner}: expected {expected}")),
            Category::Syntax | Category::Eof | Category::Io => not_json(inner),
        }
    })?;
    de.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

/// Where a too-long string was found.
#[derive(Debug, PartialEq, Eq)]
pub struct LongString {
    /// Its JSON path, as serde_path_to_error writes paths (`facts.zones.Ok[2]`).
    pub path: String,
    /// The byte offset of its opening quote.
    pub offset: usize,
}

/// One linear pass over `text` that finds the first string (value or key)
/// longer than `max` bytes as written, and names its path. It assumes
/// nothing of the JSON's validity: on a malformed text it may name a wrong
/// path, never loop or fail, and the parser says what is malformed.
pub fn check_strings(text: &str, max: usize) -> Result<(), LongString> {
    enum Frame {
        /// The key being read or last read (a byte range in `text`), and
        /// whether the next string is a key.
        Object {
            key: Option<(usize, usize)>,
            expect_key: bool,
        },
        Array {
            index: usize,
        },
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(bytes.len());
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Object {
                        expect_key: true,
                        ..
                    })
                );
                if end - start > max {
                    let mut path = String::new();
                    // The innermost object's key is not set yet when the
                    // long string is that key.
                    for frame in &stack {
                        match frame {
                            Frame::Object {
                                key: Some((s, e)), ..
                            } => {
                                if !path.is_empty() {
                                    path.push('.');
                                }
                                path.push_str(&cut(&text[*s..*e], 60));
                            }
                            Frame::Array { index } => path.push_str(&format!("[{index}]")),
                            Frame::Object { key: None, .. } => {}
                        }
                    }
                    if is_key {
                        path.push_str(if path.is_empty() {
                            "(a key)"
                        } else {
                            " (a key)"
                        });
                    }
                    if path.is_empty() {
                        path.push('.');
                    }
                    return Err(LongString { path, offset: i });
                }
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
                    if *expect_key {
                        *key = Some((start, end));
                        *expect_key = false;
                    }
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' if stack.len() >= MAX_DEPTH => return Ok(()),
            b'{' => stack.push(Frame::Object {
                key: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key, expect_key }) => {
                    *key = None;
                    *expect_key = true;
                }
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_are_found_with_their_path() {
        let long = "x".repeat(20);
        let ok = r#"{"a": "short", "b": [1, "two", {"c": "d"}]}"#;
        assert_eq!(check_strings(ok, 10), Ok(()));
        let text =
            format!(r#"{{"facts": {{"zones": {{"Ok": [{{"n": "a"}}, {{"n": "{long}"}}]}}}}}}"#);
        assert_eq!(
            check_strings(&text, 10).map_err(|l| l.path),
            Err("facts.zones.Ok[1].n".to_string())
        );
        let key = format!(r#"{{"inputs": {{"deselected": {{"{long}": "x"}}}}}}"#);
        assert_eq!(
            check_strings(&key, 10).map_err(|l| l.path),
            Err("inputs.deselected (a key)".to_string())
        );
        assert_eq!(
            check_strings(&format!(r#""{long}""#), 10).map_err(|l| l.path),
            Err(".".to_string())
        );
        // Escaped quotes do not end a string; a string cut by the end of
        // the text is still measured.
        let escaped = format!(r#"{{"a": "\"{long}\""}}"#);
        assert!(check_strings(&escaped, 10).is_err());
        assert!(check_strings(&format!(r#"{{"a": "{long}"#), 10).is_err());
        assert!(check_strings(r#"{"a": "\"#, 10).is_ok());
    }

    #[test]
    fn malformed_json_never_panics_the_scan() {
        for text in [
            "}}}]]]",
            "[[[",
            "\"",
            "\\",
            ",,,",
            "{\"a\"::,}",
            "]\"x\"[",
            "{,\"k\":\"v\"}",
        ] {
            let _ = check_strings(text, 1);
        }
        let deep = "[".repeat(100_000);
        assert_eq!(check_strings(&deep, 1), Ok(()));
    }

    #[test]
    fn utf16_is_recognised() {
        assert!(looks_utf16(&[0xFF, 0xFE, b'{', 0]));
        assert!(looks_utf16(&[0xFE, 0xFF, 0, b'{']));
        assert!(looks_utf16(b"{\0\"\0s\0"));
        assert!(looks_utf16(b"\0{\0\"\0s"));
        assert!(!looks_utf16(b"{\"schema\": 1}"));
        assert!(!looks_utf16(b"{"));
        assert!(!looks_utf16(b""));
        let e = decode(vec![0xFF, 0xFE, b'{', 0], "r.json").unwrap_err();
        assert!(e.to_string().starts_with("r.json is UTF-16 text"), "{e}");
    }

    #[test]
    fn a_utf8_bom_is_accepted() {
        let text = decode(b"\xEF\xBB\xBF{}".to_vec(), "r.json").expect("BOM");
        assert_eq!(text, "{}");
        let e = decode(b"{\xFF}".to_vec(), "r.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.json is not UTF-8 text (invalid byte at offset 1): expected JSON"
        );
    }

    #[test]
    fn parse_errors_name_the_field_and_echo_little() {
        #[derive(Debug, serde::Deserialize)]
        struct Inner {
            #[allow(dead_code)]
            port: u16,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Outer {
            #[allow(dead_code)]
            inner: Vec<Inner>,
        }
        let e = parse::<Outer>("c.json", r#"{"inner": [{"port": 1}, {"port": "x"}]}"#, "X")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.json: inner[1].port: invalid type: string"),
            "{e}"
        );
        let e = parse::<Outer>("c.json", "not json", "a cluster")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.json is not JSON (expected ident"), "{e}");
        assert!(e.ends_with("expected a cluster"), "{e}");
        let e = parse::<Outer>("c.json", r#"{"inner": []} trailing"#, "X")
            .unwrap_err()
            .to_string();
        assert!(e.contains("trailing characters"), "{e}");
        let hostile = format!("{{\"inner\": \"\u{1b}[2J{}\"}}", "y".repeat(3000));
        let e = parse::<Outer>("c.json", &hostile, "X")
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\u{1b}') && e.chars().count() <= 400, "{e}");
    }
}
