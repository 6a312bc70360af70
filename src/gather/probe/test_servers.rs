//! Real servers on 127.0.0.1 for the probes' tests: a small DNS responder
//! (UDP and TCP on one port) and TCP listeners that greet like TiDB or
//! MariaDB, send an ERR packet or garbage, say nothing, or hang up. They
//! stop when dropped.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// How the DNS responder treats one name (unknown names are REFUSED).
#[derive(Debug, Clone)]
pub enum DnsBehaviour {
    /// These A records; AAAA: no records (NOERROR, empty).
    A(Vec<Ipv4Addr>),
    /// A CNAME to another name of the rules, followed as a recursive server does.
    Cname(String),
    NxDomain,
    /// Answer with this response code (2 SERVFAIL, 5 REFUSED).
    Rcode(u8),
    /// Never answer.
    Silent,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    asked: Arc<Mutex<Vec<(String, u16)>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

type Rules = Arc<HashMap<String, DnsBehaviour>>;

impl DnsServer {
    pub async fn start(rules: &[(&str, DnsBehaviour)]) -> DnsServer {
        let rules: Rules = Arc::new(
            rules
                .iter()
                .map(|(n, b)| (n.trim_end_matches('.').to_ascii_lowercase(), b.clone()))
                .collect(),
        );
        // UDP and TCP on the same port: try a few ports.
        let (udp, tcp) = {
            let mut bound = None;
            for _ in 0..20 {
                let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                    bound = Some((udp, tcp));
                    break;
                }
            }
            bound.expect("a free UDP+TCP port on 127.0.0.1")
        };
        let addr = udp.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (r, a) = (rules.clone(), asked.clone());
        let udp_task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                if let Some(reply) = respond(&buf[..n], &r, &a) {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        let (r, a) = (rules, asked.clone());
        let tcp_task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = tcp.accept().await {
                let (r, a) = (r.clone(), a.clone());
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if conn.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if conn.read_exact(&mut q).await.is_err() {
                            return;
                        }
                        if let Some(reply) = respond(&q, &r, &a) {
                            let n = u16::try_from(reply.len()).unwrap().to_be_bytes();
                            if conn.write_all(&[&n[..], &reply].concat()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        DnsServer {
            addr,
            asked,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// The questions received: (name without the final dot, type).
    pub fn asked(&self) -> Vec<(String, u16)> {
        self.asked.lock().unwrap().clone()
    }
}

/// Encode a name as DNS labels.
fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(u8::try_from(label.len()).unwrap());
        out.extend(label.as_bytes());
    }
    out.push(0);
    out
}

fn respond(q: &[u8], rules: &Rules, asked: &Mutex<Vec<(String, u16)>>) -> Option<Vec<u8>> {
    // Header, then one question: labels, type, class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*q.get(at)?, *q.get(at + 1)?]);
    let question_end = at + 4;
    let name = labels.join(".");
    asked.lock().unwrap().push((name.clone(), qtype));

    let mut answers: Vec<Vec<u8>> = Vec::new();
    let record = |owner: &[u8], rtype: u16, rdata: &[u8]| {
        let mut r = owner.to_vec();
        r.extend(rtype.to_be_bytes());
        r.extend(1u16.to_be_bytes());
        r.extend(60u32.to_be_bytes());
        r.extend(u16::try_from(rdata.len()).unwrap().to_be_bytes());
        r.extend(rdata);
        r
    };
    let a_records = |owner: &[u8], ips: &[Ipv4Addr]| -> Vec<Vec<u8>> {
        if qtype == 1 {
            ips.iter()
                .map(|ip| record(owner, 1, &ip.octets()))
                .collect()
        } else {
            vec![]
        }
    };
    let rcode = match rules.get(&name) {
        None => 5,
        Some(DnsBehaviour::Silent) => return None,
        Some(DnsBehaviour::NxDomain) => 3,
        Some(DnsBehaviour::Rcode(code)) => *code,
        Some(DnsBehaviour::A(ips)) => {
            answers.extend(a_records(&[0xc0, 0x0c], ips));
            0
        }
        Some(DnsBehaviour::Cname(target)) => {
            let target_name = encode_name(target);
            answers.push(record(&[0xc0, 0x0c], 5, &target_name));
            if let Some(DnsBehaviour::A(ips)) = rules.get(target.trim_end_matches('.')) {
                answers.extend(a_records(&target_name, ips));
            }
            0
        }
    };
    let mut reply = vec![
        q[0],
        q[1],
        0x80 | (q[2] & 0x79) | 0x04, // QR, opcode and RD copied, AA
        0x80 | (rcode & 0x0f),       // RA, rcode
        0,
        1,
    ];
    reply.extend(u16::try_from(answers.len()).unwrap().to_be_bytes());
    reply.extend([0, 0, 0, 0]);
    reply.extend(&q[12..question_end]);
    answers.iter().for_each(|a| reply.extend(a));
    Some(reply)
}

// ------------------------------------------------------------ MySQL side

/// One MySQL packet: 3-byte little-endian length, sequence, payload.
pub fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut out = vec![len[0], len[1], len[2], seq];
    out.extend(payload);
    out
}

/// A HandshakeV10 packet as a MySQL-protocol server sends it.
pub fn handshake(version: &str, capabilities: u32, plugin: &str) -> Vec<u8> {
    let mut p = vec![10];
    p.extend(version.as_bytes());
    p.push(0);
    p.extend(7u32.to_le_bytes());
    p.extend(b"abcdefgh");
    p.push(0);
    p.extend(u16::try_from(capabilities & 0xffff).unwrap().to_le_bytes());
    p.push(46);
    p.extend(2u16.to_le_bytes());
    p.extend(u16::try_from(capabilities >> 16).unwrap().to_le_bytes());
    p.push(21);
    p.extend([0u8; 10]);
    p.extend(b"ijklmnopqrst");
    p.push(0);
    p.extend(plugin.as_bytes());
    p.push(0);
    packet(0, &p)
}

/// TiDB's greeting: TLS offered, 4.1 protocol, plugin auth.
pub fn tidb_greeting(version: &str) -> Vec<u8> {
    // LONG_PASSWORD, CONNECT_WITH_DB, PROTOCOL_41, SSL, SECURE_CONNECTION, PLUGIN_AUTH.
    handshake(version, 0x0008_8a09, "mysql_native_password")
}

/// What MariaDB 10.11 from Debian 12 sends (captured), TLS not configured.
pub const MARIADB_GREETING: &[u8] = b"d\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00\x03\x00\x00\x008fxHAJ2X\x00\xfe\xf7\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00D/YV&TW9U\"G~\x00mysql_native_password\x00";

/// An ERR packet as a server sends it instead of a greeting.
pub fn err_packet(code: u16, sql_state: Option<&str>, message: &str) -> Vec<u8> {
    let mut p = vec![0xff];
    p.extend(code.to_le_bytes());
    if let Some(state) = sql_state {
        p.push(b'#');
        p.extend(state.as_bytes());
    }
    p.extend(message.as_bytes());
    packet(0, &p)
}

/// What a listener does with each connection.
#[derive(Debug, Clone)]
pub enum Serve {
    /// Send these bytes, then wait for the client to hang up.
    Send(Vec<u8>),
    /// Send these bytes, then close.
    SendThenClose(Vec<u8>),
    /// Send these bytes, then reset the connection.
    SendThenReset(Vec<u8>),
    /// Send these bytes, wait a little, send more.
    SendTwice(Vec<u8>, Vec<u8>),
    /// Say nothing; wait for the client to hang up.
    Nothing,
}

pub struct Listener {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    pub async fn start(serve: Serve) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve_one(conn, serve.clone()));
            }
        });
        Listener { addr, task }
    }
}

async fn serve_one(mut conn: TcpStream, serve: Serve) {
    let hold = |mut conn: TcpStream| async move {
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
    };
    match serve {
        Serve::Send(bytes) => {
            let _ = conn.write_all(&bytes).await;
            hold(conn).await;
        }
        Serve::SendThenClose(bytes) => {
            let _ = conn.write_all(&bytes).await;
        }
        Serve::SendThenReset(bytes) => {
            let _ = conn.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = conn.set_zero_linger();
        }
        Serve::SendTwice(first, second) => {
            let _ = conn.write_all(&first).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = conn.write_all(&second).await;
            hold(conn).await;
        }
        Serve::Nothing => hold(conn).await,
    }
}
