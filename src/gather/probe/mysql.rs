//! Read the server's first packet, without logging in: a MySQL-protocol
//! server speaks first. The packet is 3 bytes of little-endian length, a
//! sequence byte (0), then the payload: a HandshakeV10 (`0x0a`, server
//! version, connection id, capabilities, …) or an ERR packet (`0xff`, code,
//! message). Parsed by hand: a few dozen lines, no client library.
//!
//! The probe sends nothing. After a greeting it watches the connection for a
//! moment: a server normally waits for the client, one that hangs up at once
//! may not accept this endpoint (TDB002).

use std::io;
use std::time::Duration;

use tidbpe_checks::probe_facts::{
    AfterGreeting, Greeting, GreetingRead, Handshake, CLIENT_PLUGIN_AUTH, CLIENT_SSL,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::elapsed_ms;

/// A greeting is about a hundred bytes; a "length" beyond this is not one.
pub const MAX_GREETING: usize = 16 * 1024;
const HANDSHAKE_V10: u8 = 0x0a;
const ERR: u8 = 0xff;
/// `CLIENT_SECURE_CONNECTION`: the second part of the auth data follows.
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
/// Strings from the server are cut to this many characters.
const MAX_TEXT: usize = 256;

/// Where parsing the bytes received so far stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not enough bytes yet; the whole packet's size when the header is in.
    NeedMore { expected: Option<usize> },
    /// The first packet (or why the bytes are not one), and how many bytes
    /// it took.
    Done(Greeting, usize),
}

/// Read the first packet from `stream`, then watch it for `linger` (never
/// past `deadline`).
pub async fn read_greeting<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
    linger: Duration,
) -> GreetingRead {
    let start = Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    let (mut greeting, extra) = loop {
        if let Parsed::Done(greeting, used) = parse_first_packet(&buf) {
            break (greeting, buf.len() > used);
        }
        let received = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                break (
                    Greeting::Closed {
                        received,
                        reset: false,
                    },
                    false,
                )
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if is_reset(&e) => {
                break (
                    Greeting::Closed {
                        received,
                        reset: true,
                    },
                    false,
                )
            }
            Ok(Err(e)) => {
                break (
                    Greeting::ReadError {
                        error: e.to_string(),
                    },
                    false,
                )
            }
            Err(_) if buf.is_empty() => break (Greeting::Silent, false),
            Err(_) => {
                let reason = match parse_first_packet(&buf) {
                    Parsed::NeedMore {
                        expected: Some(whole),
                    } => format!(
                        "an incomplete packet: {} of {whole} bytes before the deadline",
                        buf.len()
                    ),
                    _ => format!("{} bytes, not a whole packet header", buf.len()),
                };
                break (garbage(reason, &buf), false);
            }
        }
    };
    let ms = elapsed_ms(start);
    if let Greeting::Handshake(h) = &mut greeting {
        h.after = if extra {
            AfterGreeting::SentMore
        } else {
            watch_after(stream, deadline, linger).await
        };
    }
    GreetingRead { ms, greeting }
}

/// What the server does while the probe says nothing.
async fn watch_after<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
    linger: Duration,
) -> AfterGreeting {
    let until = deadline.min(Instant::now() + linger);
    if until <= Instant::now() {
        return AfterGreeting::NotWatched;
    }
    let mut one = [0u8; 1];
    match tokio::time::timeout_at(until, stream.read(&mut one)).await {
        Err(_) => AfterGreeting::Waited,
        Ok(Ok(0)) => AfterGreeting::Closed,
        Ok(Ok(_)) => AfterGreeting::SentMore,
        Ok(Err(e)) if is_reset(&e) => AfterGreeting::Reset,
        Ok(Err(_)) => AfterGreeting::Closed,
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Judge the bytes received so far: as soon as they cannot be a greeting,
/// say so (an HTTP or SSH server is recognised after 5 bytes).
pub fn parse_first_packet(buf: &[u8]) -> Parsed {
    let [l0, l1, l2, seq, rest @ ..] = buf else {
        return Parsed::NeedMore { expected: None };
    };
    let len = usize::from(*l0) | usize::from(*l1) << 8 | usize::from(*l2) << 16;
    if len == 0 || len > MAX_GREETING {
        let reason = format!("a packet length of {len} bytes: not a MySQL greeting");
        return Parsed::Done(garbage(reason, buf), buf.len());
    }
    if *seq != 0 {
        let reason = format!("the first packet has sequence number {seq}, not 0");
        return Parsed::Done(garbage(reason, buf), buf.len());
    }
    if let Some(&first) = rest.first() {
        if first != HANDSHAKE_V10 && first != ERR {
            let reason = format!(
                "the payload starts with 0x{first:02x}: neither a handshake (protocol 10) nor an ERR packet"
            );
            return Parsed::Done(garbage(reason, buf), buf.len());
        }
    }
    let Some(payload) = rest.get(..len) else {
        return Parsed::NeedMore {
            expected: Some(4 + len),
        };
    };
    let greeting = if payload[0] == ERR {
        parse_err(payload).unwrap_or_else(|reason| garbage(reason, buf))
    } else {
        match parse_handshake(payload) {
            Ok(h) => Greeting::Handshake(h),
            Err(reason) => garbage(reason, buf),
        }
    };
    Parsed::Done(greeting, 4 + len)
}

/// A HandshakeV10 payload. The fields after the lower capability flags are
/// optional (old servers end there).
pub fn parse_handshake(payload: &[u8]) -> Result<Handshake, String> {
    let mut r = Reader(payload);
    let protocol = r.u8().ok_or("an empty handshake")?;
    if protocol != HANDSHAKE_V10 {
        return Err(format!("handshake protocol {protocol}, not 10"));
    }
    let server_version = text(
        r.until_nul()
            .ok_or("the server version is not terminated")?,
    );
    let short = || format!("the handshake ends early (after server version {server_version:?})");
    let connection_id = r.u32().ok_or_else(short)?;
    r.take(8).ok_or_else(short)?; // auth data, part 1
    r.u8().ok_or_else(short)?; // filler
    let mut capabilities = u32::from(r.u16().ok_or_else(short)?);
    let charset = r.u8();
    let status_flags = r.u16();
    if let Some(high) = r.u16() {
        capabilities |= u32::from(high) << 16;
    }
    let auth_len = r.u8().unwrap_or(0);
    let mut auth_plugin = None;
    if r.take(10).is_some() && capabilities & CLIENT_SECURE_CONNECTION != 0 {
        let part2 = usize::from(auth_len.saturating_sub(8)).max(13);
        if r.take(part2).is_some() && capabilities & CLIENT_PLUGIN_AUTH != 0 {
            // Some servers leave out the final NUL.
            let rest = r.until_nul().unwrap_or_else(|| r.rest());
            auth_plugin = Some(text(rest));
        }
    }
    Ok(Handshake {
        protocol,
        server_version,
        connection_id,
        capabilities,
        tls_offered: capabilities & CLIENT_SSL != 0,
        charset,
        status_flags,
        auth_plugin,
        after: AfterGreeting::NotWatched,
    })
}

/// An ERR payload: code, then `#` and a 5-character SQL state (4.1
/// protocol; a server that refuses before the handshake often omits it),
/// then the message.
pub fn parse_err(payload: &[u8]) -> Result<Greeting, String> {
    let mut r = Reader(payload);
    r.u8();
    let code = r.u16().ok_or("an ERR packet without an error code")?;
    let rest = r.rest();
    let (sql_state, message) = match rest {
        [b'#', state @ ..] if state.len() >= 5 => (Some(text(&state[..5])), &state[5..]),
        _ => (None, rest),
    };
    Ok(Greeting::Err {
        code,
        sql_state,
        message: text(message),
    })
}

fn garbage(reason: String, buf: &[u8]) -> Greeting {
    let first_bytes_hex = buf.iter().take(32).map(|b| format!("{b:02x}")).collect();
    Greeting::Garbage {
        reason,
        first_bytes_hex,
    }
}

/// Bytes from the server as text a terminal can show: lossy UTF-8, control
/// characters escaped, cut to a sane length.
fn text(bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in String::from_utf8_lossy(bytes).chars().take(MAX_TEXT) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A cursor over a payload; every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Up to the next NUL, which is consumed.
    fn until_nul(&mut self) -> Option<&'a [u8]> {
        let end = self.0.iter().position(|&b| b == 0)?;
        let s = &self.0[..end];
        self.0 = &self.0[end + 1..];
        Some(s)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use tidbpe_checks::probe_facts::CLIENT_PROTOCOL_41;
    use tokio::net::TcpStream;

    use super::super::test_servers::{
        err_packet, handshake, packet, tidb_greeting, Listener, Serve, MARIADB_GREETING,
    };
    use super::*;

    const LINGER: Duration = Duration::from_millis(150);

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    fn done(bytes: &[u8]) -> Greeting {
        match parse_first_packet(bytes) {
            Parsed::Done(g, _) => g,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tidb_greeting_is_parsed_whole() {
        for version in [
            "8.0.11-TiDB-v7.5.2-serverless",
            "8.0.11-TiDB-CLOUD.202603.9",
            "5.7.28-TiDB-v7.1.3-serverless",
        ] {
            let Greeting::Handshake(h) = done(&tidb_greeting(version)) else {
                panic!("{version}");
            };
            assert_eq!(h.protocol, 10);
            assert_eq!(h.server_version, version);
            assert!(h.is_tidb());
            assert!(h.tls_offered);
            assert_ne!(h.capabilities & CLIENT_PROTOCOL_41, 0);
            assert_eq!(h.connection_id, 7);
            assert_eq!(h.charset, Some(46));
            assert_eq!(h.status_flags, Some(2));
            assert_eq!(h.auth_plugin.as_deref(), Some("mysql_native_password"));
        }
    }

    #[test]
    fn mariadbs_real_greeting_is_another_mysql_without_tls() {
        let Greeting::Handshake(h) = done(MARIADB_GREETING) else {
            panic!()
        };
        assert_eq!(h.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
        assert!(!h.is_tidb());
        assert!(!h.tls_offered);
        assert_eq!(h.capabilities, 0x81ff_f7fe);
        assert_eq!(h.auth_plugin.as_deref(), Some("mysql_native_password"));
    }

    #[test]
    fn err_packets_with_and_without_sql_state() {
        let g = done(&err_packet(
            1130,
            None,
            "Host '10.0.2.10' is not allowed to connect to this MariaDB server",
        ));
        assert_eq!(
            g,
            Greeting::Err {
                code: 1130,
                sql_state: None,
                message: "Host '10.0.2.10' is not allowed to connect to this MariaDB server".into()
            }
        );
        let g = done(&err_packet(1045, Some("28000"), "Access denied"));
        assert!(
            matches!(&g, Greeting::Err { code: 1045, sql_state: Some(s), message } if s == "28000" && message == "Access denied"),
            "{g:?}"
        );
        assert!(matches!(
            done(&packet(0, &[0xff, 1])),
            Greeting::Garbage { .. }
        ));
    }

    #[test]
    fn garbage_is_recognised_as_early_as_possible() {
        for bytes in [
            &b"SSH-2.0-OpenSSH_9.2\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\n",
            b"\x05\x00\x00\x00\x0b", // a plausible header, payload byte 0x0b
            b"\x05\x00\x00\x01\x0a", // sequence 1
            b"\x00\x00\x00\x00",     // zero length
            b"\x04\x00\x00\x00\x0a5.7", // version never terminated
        ] {
            let g = done(bytes);
            assert!(matches!(g, Greeting::Garbage { .. }), "{bytes:?}: {g:?}");
        }
        assert_eq!(
            parse_first_packet(b"\x05\x00"),
            Parsed::NeedMore { expected: None }
        );
        assert_eq!(
            parse_first_packet(b"\x05\x00\x00\x00\x0a"),
            Parsed::NeedMore { expected: Some(9) }
        );
        let Greeting::Garbage {
            first_bytes_hex, ..
        } = done(b"SSH-2.0-OpenSSH_9.2\r\n")
        else {
            panic!()
        };
        assert!(first_bytes_hex.starts_with("5353482d"), "{first_bytes_hex}");
    }

    #[test]
    fn an_old_short_handshake_and_hostile_text() {
        // Protocol 10, version, id, auth 1, filler, capabilities low: nothing after.
        let mut p = b"\x0a5.0.96\x00".to_vec();
        p.extend([1, 0, 0, 0]);
        p.extend(b"12345678\x00");
        p.extend([0x00, 0x08]);
        let Greeting::Handshake(h) = done(&packet(0, &p)) else {
            panic!()
        };
        assert_eq!(h.capabilities, 0x0800);
        assert_eq!(h.charset, None);
        assert_eq!(h.auth_plugin, None);
        // Cut inside the connection id: too short to be a handshake.
        assert!(matches!(
            done(&packet(0, b"\x0a5.0.96\x00\x01\x00")),
            Greeting::Garbage { .. }
        ));
        // Control characters never reach a terminal.
        let Greeting::Handshake(h) = done(&handshake("8.0\x1b[31m-TiDB-x", 0x0200, "")) else {
            panic!()
        };
        assert!(!h.server_version.contains('\x1b'), "{}", h.server_version);
        assert!(h.server_version.contains("\\u{1b}"), "{}", h.server_version);
    }

    async fn greet(serve: Serve, deadline_ms: u64) -> GreetingRead {
        let listener = Listener::start(serve).await;
        let mut stream = TcpStream::connect(listener.addr).await.unwrap();
        read_greeting(&mut stream, soon(deadline_ms), LINGER).await
    }

    #[tokio::test]
    async fn tidb_over_tcp_waits_after_its_greeting() {
        let read = greet(
            Serve::Send(tidb_greeting("8.0.11-TiDB-v8.5.3-serverless")),
            3000,
        )
        .await;
        let Greeting::Handshake(h) = read.greeting else {
            panic!("{read:?}")
        };
        assert!(h.is_tidb());
        assert_eq!(h.after, AfterGreeting::Waited);
        assert!(read.ms < 1000);
    }

    #[tokio::test]
    async fn a_greeting_split_across_segments_is_read_whole() {
        let g = tidb_greeting("8.0.11-TiDB-v7.5.2-serverless");
        let (a, b) = g.split_at(7);
        let read = greet(Serve::SendTwice(a.to_vec(), b.to_vec()), 3000).await;
        assert!(matches!(read.greeting, Greeting::Handshake(_)), "{read:?}");
    }

    #[tokio::test]
    async fn a_server_hanging_up_after_its_greeting_is_seen() {
        let g = tidb_greeting("8.0.11-TiDB-v7.5.2-serverless");
        let read = greet(Serve::SendThenClose(g.clone()), 3000).await;
        let Greeting::Handshake(h) = read.greeting else {
            panic!("{read:?}")
        };
        assert_eq!(h.after, AfterGreeting::Closed);
        let read = greet(Serve::SendThenReset(g), 3000).await;
        let Greeting::Handshake(h) = read.greeting else {
            panic!("{read:?}")
        };
        assert_eq!(h.after, AfterGreeting::Reset);
    }

    #[tokio::test]
    async fn err_garbage_close_and_silence_over_tcp() {
        let read = greet(
            Serve::SendThenClose(err_packet(1130, None, "Host is not allowed")),
            3000,
        )
        .await;
        assert!(
            matches!(read.greeting, Greeting::Err { code: 1130, .. }),
            "{read:?}"
        );

        let read = greet(Serve::Send(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()), 3000).await;
        assert!(
            matches!(read.greeting, Greeting::Garbage { .. }),
            "{read:?}"
        );
        assert!(read.ms < 1000, "garbage is recognised at once: {read:?}");

        let read = greet(Serve::SendThenClose(vec![]), 3000).await;
        assert_eq!(
            read.greeting,
            Greeting::Closed {
                received: 0,
                reset: false
            }
        );

        let read = greet(Serve::SendThenReset(vec![]), 3000).await;
        assert_eq!(
            read.greeting,
            Greeting::Closed {
                received: 0,
                reset: true
            }
        );

        let start = Instant::now();
        let read = greet(Serve::Nothing, 500).await;
        assert_eq!(read.greeting, Greeting::Silent);
        assert!(start.elapsed() < Duration::from_millis(1000));

        // Half a greeting, then nothing until the deadline.
        let g = tidb_greeting("8.0.11-TiDB-v7.5.2-serverless");
        let read = greet(Serve::Send(g[..20].to_vec()), 500).await;
        let Greeting::Garbage { reason, .. } = &read.greeting else {
            panic!("{read:?}")
        };
        assert!(reason.contains("incomplete"), "{reason}");
    }
}
