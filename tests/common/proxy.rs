//! A fault-injecting HTTP/1.1 proxy between the binary and moto, one per test
//! (tests share one lab and run in parallel threads, so faults are scoped by
//! giving each test its own proxy).
//!
//! It reads each request, names its AWS action, and either forwards it to
//! moto or applies the first rule for that action: answer with a chosen
//! status and body, forward it late, or hang (never answer, until the client
//! gives up). Actions are named as IAM does (`ec2:DescribeVpcEndpoints`):
//! the Query API's `Action=` (EC2, STS, ELBv2), the JSON API's `X-Amz-Target`
//! (Route 53 Resolver), Route 53's REST paths; the service comes from the
//! request's SigV4 credential scope. A rule names the action with or without
//! its service (`DescribeVpcEndpoints` matches every service's).
//!
//! Every request is answered with `Connection: close`, so each call is one
//! connection and a hung call holds only its own. Loopback only.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// EC2's answer to a denied call (HTTP 403), as the Query API sends it.
pub const UNAUTHORIZED_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>6a3f9b6e-0d3c-4a6b-9c1e-lab000000403</RequestID></Response>";

/// EC2's throttling answer (HTTP 503).
pub const REQUEST_LIMIT_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>6a3f9b6e-0d3c-4a6b-9c1e-lab000000503</RequestID></Response>";

/// Route 53's throttling answer (HTTP 400).
pub const THROTTLING_R53_XML: &str = "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>6a3f9b6e-0d3c-4a6b-9c1e-lab000000400</RequestId></ErrorResponse>";

/// STS's answer to a denied call (HTTP 403).
pub const ACCESS_DENIED_STS_XML: &str = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/lab is not authorized to perform: sts:GetCallerIdentity</Message></Error><RequestId>6a3f9b6e-0d3c-4a6b-9c1e-lab000000403</RequestId></ErrorResponse>";

/// An empty body (e.g. a bare HTTP 500 from a load balancer).
pub const EMPTY: &str = "";

/// EC2's answer to a denied call, naming the IAM action as AWS does.
pub fn unauthorized_xml(action: &str) -> String {
    let action = iam_name("ec2", action);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/lab is not authorized to perform: {action} because no identity-based policy allows the {action} action</Message></Error></Errors><RequestID>6a3f9b6e-0d3c-4a6b-9c1e-lab000000403</RequestID></Response>"
    )
}

/// How long a hung request is held at most (the client gives up first).
const HANG_BOUND: Duration = Duration::from_secs(120);
/// How long the proxy waits for a request's bytes or moto's answer.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
enum Fault {
    Respond { status: u16, body: String },
    Delay(Duration),
    Hang,
}

#[derive(Clone, Debug)]
struct Rule {
    action: String,
    fault: Fault,
    /// How many more requests it applies to (`None`: all).
    remaining: Option<usize>,
}

struct State {
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<String>>,
    stop: AtomicBool,
}

pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn iam_name(service: &str, action: &str) -> String {
    if action.contains(':') {
        action.to_string()
    } else {
        format!("{service}:{action}")
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`
    /// (`http://127.0.0.1:PORT`, e.g. [`super::lab_endpoint_url`]).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .strip_prefix("http://")
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("upstream must be http://127.0.0.1:PORT, got {upstream}"));
        assert!(
            upstream.ip().is_loopback(),
            "upstream {upstream} is not loopback"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State {
            upstream,
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                // An answer goes out in two writes (head, body): without
                // this, Nagle's algorithm can hold the body for the client's
                // delayed ACK (~40 ms).
                let _ = conn.set_nodelay(true);
                let st = Arc::clone(&st);
                std::thread::spawn(move || serve(&st, conn));
            }
        });
        FaultProxy { addr, state }
    }

    /// The proxy in front of this test binary's lab.
    pub fn for_lab() -> FaultProxy {
        Self::start(super::lab_endpoint_url())
    }

    /// `http://127.0.0.1:PORT`: the `AWS_ENDPOINT_URL` to give the binary.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn add(&self, action: &str, fault: Fault, remaining: Option<usize>) -> &Self {
        lock(&self.state.rules).push(Rule {
            action: action.to_string(),
            fault,
            remaining,
        });
        self
    }

    /// Answer every `action` request with `status` and `body`.
    pub fn fail(&self, action: &str, status: u16, body: &str) -> &Self {
        self.add(
            action,
            Fault::Respond {
                status,
                body: body.to_string(),
            },
            None,
        )
    }

    /// Answer the next `times` `action` requests with `status` and `body`,
    /// then forward again (a transient fault: throttling that passes).
    pub fn fail_times(&self, action: &str, times: usize, status: u16, body: &str) -> &Self {
        self.add(
            action,
            Fault::Respond {
                status,
                body: body.to_string(),
            },
            Some(times),
        )
    }

    /// Deny `action` as EC2 does: 403 `UnauthorizedOperation` naming it.
    pub fn deny(&self, action: &str) -> &Self {
        self.fail(action, 403, &unauthorized_xml(action))
    }

    /// Forward every `action` request `ms` milliseconds late.
    pub fn delay(&self, action: &str, ms: u64) -> &Self {
        self.add(action, Fault::Delay(Duration::from_millis(ms)), None)
    }

    /// Never answer `action`: hold the connection until the client closes it.
    pub fn hang(&self, action: &str) -> &Self {
        self.add(action, Fault::Hang, None)
    }

    /// Every request seen so far, in order, as IAM names (`ec2:DescribeVpcs`),
    /// answered or not.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state.seen).clone()
    }

    /// How many requests for `action` (with or without its service) were seen.
    pub fn count(&self, action: &str) -> usize {
        self.calls().iter().filter(|c| matches(action, c)).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Whether a rule's `pattern` names the IAM action `call`.
fn matches(pattern: &str, call: &str) -> bool {
    if pattern.contains(':') {
        pattern.eq_ignore_ascii_case(call)
    } else {
        call.rsplit(':')
            .next()
            .is_some_and(|a| a.eq_ignore_ascii_case(pattern))
    }
}

struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn method_and_target(&self) -> (&str, &str) {
        let mut words = self.head.lines().next().unwrap_or_default().split(' ');
        (
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
        )
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The IAM name of the call: `service:Action`.
    fn action(&self) -> String {
        // SigV4: Credential=AKID/20260101/us-east-1/ec2/aws4_request
        let service = self
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unknown")
            .to_string();
        let (method, target) = self.method_and_target();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if let Some(t) = self.header("x-amz-target") {
            return iam_name(&service, t.rsplit('.').next().unwrap_or(t));
        }
        let form = String::from_utf8_lossy(&self.body);
        for params in [form.as_ref(), query] {
            if let Some(a) = params.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
                return iam_name(&service, a);
            }
        }
        iam_name(&service, &route53_action(method, path))
    }
}

/// Route 53's REST API: the operation of a method and path.
fn route53_action(method: &str, path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match parts.as_slice() {
        ["2013-04-01", rest @ ..] => rest,
        _ => return format!("{method} {path}"),
    };
    let name = match (method, rest) {
        ("GET", ["hostedzonesbyvpc"]) => "ListHostedZonesByVPC",
        ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", ["hostedzone"]) => "ListHostedZones",
        ("POST", ["hostedzone"]) => "CreateHostedZone",
        ("GET", ["hostedzone", _]) => "GetHostedZone",
        ("DELETE", ["hostedzone", _]) => "DeleteHostedZone",
        ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("POST", ["hostedzone", _, "associatevpc"]) => "AssociateVPCWithHostedZone",
        ("POST", ["hostedzone", _, "disassociatevpc"]) => "DisassociateVPCFromHostedZone",
        ("GET", ["change", _]) => "GetChange",
        _ => return format!("{method} {path}"),
    };
    name.to_string()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request (head and a `Content-Length` body).
fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut req = Request {
        head,
        body: buf[head_end..].to_vec(),
    };
    let length: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while req.body.len() < length {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        req.body.extend_from_slice(&chunk[..n]);
    }
    Some(req)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn respond(conn: &mut TcpStream, status: u16, body: &str) {
    let ctype = if body.trim_start().starts_with('{') {
        "application/x-amz-json-1.1"
    } else {
        "text/xml;charset=UTF-8"
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nx-amzn-RequestId: 6a3f9b6e-0d3c-4a6b-9c1e-lab00000{status}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
    let _ = conn.flush();
}

/// The request with `Connection: close` in place of the client's choice.
fn close_request(req: &Request) -> Vec<u8> {
    let mut head = String::new();
    for (i, line) in req.head.trim_end().split("\r\n").enumerate() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if i > 0
            && (name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive"))
        {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&req.body);
    out
}

/// moto's answer, with `Connection: close`.
fn forward(state: &State, req: &Request, conn: &mut TcpStream) {
    let answer = (|| -> std::io::Result<Vec<u8>> {
        let mut up = TcpStream::connect_timeout(&state.upstream, IO_TIMEOUT)?;
        up.set_read_timeout(Some(IO_TIMEOUT))?;
        up.write_all(&close_request(req))?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer)?;
        Ok(answer)
    })();
    let Ok(answer) = answer else {
        respond(conn, 502, EMPTY);
        return;
    };
    let Some(head_end) = find(&answer, b"\r\n\r\n") else {
        respond(conn, 502, EMPTY);
        return;
    };
    let head = String::from_utf8_lossy(&answer[..head_end]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let _ = conn.write_all(out.as_bytes());
    let _ = conn.write_all(&answer[head_end + 4..]);
    let _ = conn.flush();
}

/// Holds the connection without answering until the client closes it, the
/// proxy is dropped, or [`HANG_BOUND`] passes.
fn hang(state: &State, conn: &mut TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < HANG_BOUND && !state.stop.load(Ordering::SeqCst) {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

fn serve(state: &State, mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let action = req.action();
    lock(&state.seen).push(action.clone());
    let fault = {
        let mut rules = lock(&state.rules);
        let hit = rules
            .iter_mut()
            .find(|r| matches(&r.action, &action) && r.remaining != Some(0));
        hit.map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        })
    };
    match fault {
        None => forward(state, &req, &mut conn),
        Some(Fault::Respond { status, body }) => respond(&mut conn, status, &body),
        Some(Fault::Delay(by)) => {
            let until = Instant::now() + by;
            while Instant::now() < until && !state.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
            }
            forward(state, &req, &mut conn);
        }
        Some(Fault::Hang) => hang(state, &mut conn),
    }
    let _ = conn.shutdown(Shutdown::Both);
}
