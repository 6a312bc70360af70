//! `--redact`: mask account IDs, IP addresses, people's names and e-mail
//! addresses in the gathered facts, once, before they are judged, so that
//! the findings, the rendered report and `tidbpe analyze` of the redacted
//! report all see the same values (they agree by construction). The report's
//! inputs and context come from the facts, so they follow.
//!
//! What is masked, in every string of the facts (values, object keys, and
//! text from outside: AWS error messages, a failing `credential_process`'s
//! output, an echoed request):
//!
//! - IPv4 addresses wherever they stand: alone, with a port
//!   (`10.0.10.4:4000`), inside a word (`ip:10.0.10.4`, `host10.0.10.4`),
//!   as a CIDR, and in EC2 host names (`ip-10-0-10-4.ec2.internal`,
//!   `ec2-54-1-2-3.compute-1.amazonaws.com`); IPv6 addresses in their forms
//!   (full, compressed, `[…]:port`, `%zone`, IPv4-mapped, CIDR).
//! - Account IDs: a run of exactly 12 digits that is not part of a longer
//!   word, so `arn:aws:iam::123456789012:…` and an owner field are masked
//!   but `vpc-0a123456789012b` is not.
//! - Role-session names (`assumed-role/Dev/jane@example.com`), IAM and
//!   federated user names (`user/jane`), e-mail addresses, access key IDs.
//!
//! What stays: resource IDs (`vpc-`, `subnet-`, `sg-`, `vpce-svc-`, `i-`,
//! Route 53 zone IDs…: support needs them, and they say nothing without the
//! account), role names, host names, regions, AZ IDs, versions.
//!
//! Addresses are mapped so that every check judges the same:
//!
//! - Prefix-preserving (in the manner of Crypto-PAn): bit *i* of an address
//!   is flipped by a keyed function of the bits before it, so two addresses
//!   share exactly as many leading bits after the mapping as before:
//!   "address in CIDR" and "CIDR in CIDR" hold after it exactly when they
//!   held before. The key is random for each run: reports cannot be
//!   correlated.
//! - Classes are kept: the first octet of IPv4 (the first 16 bits of IPv6),
//!   and the whole special-purpose prefix an address is in (172.16/12,
//!   192.168/16, 100.64/10, 198.18/15), so private stays private and public
//!   stays public. Addresses that name no one keep their value: 0/8, 127/8,
//!   169.254/16 (the VPC resolver 169.254.169.253, IMDS), 224/3, `::`, `::1`
//!   and `fd00:ec2::/32` (fd00:ec2::253).
//! - Offsets from a network's base are kept for the first four addresses of
//!   every network (CIDR of /16–/30, or /32–/126 for IPv6) the facts hold: a
//!   VPC's resolver (CIDR base + 2) is still its base + 2 after the mapping.
//! - The first bit the rules above leave free is always flipped, so no
//!   other address keeps its value.
//!
//! The networks are learnt from the facts before anything is mapped
//! ([`Redactor::learning`]); text masked later (with [`Redactor::text`])
//! maps the same value to the same placeholder.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde_json::Value;
use tidbpe_checks::facts::Facts;

/// Redacting failed: the facts did not survive the trip through JSON.
#[derive(Debug, thiserror::Error)]
#[error("cannot redact the facts: {0}")]
pub struct RedactError(#[from] serde_json::Error);

/// The facts with account IDs, addresses, names and e-mails masked, ready
/// to be judged.
pub fn facts(facts: &Facts) -> Result<Facts, RedactError> {
    let mut value = serde_json::to_value(facts)?;
    Redactor::learning(&value).value(&mut value);
    Ok(serde_json::from_value(value)?)
}

pub struct Redactor {
    v4: Tree,
    v6: Tree,
    addresses: HashMap<IpAddr, IpAddr>,
    accounts: HashMap<String, String>,
    names: HashMap<String, String>,
    /// Placeholders handed out for names, never masked again.
    placeholders: HashSet<String>,
    account_placeholders: HashSet<String>,
}

impl Redactor {
    /// A redactor that keeps the offsets of the networks found in `value`.
    pub fn learning(value: &Value) -> Self {
        let mut nets = Vec::new();
        collect_networks(value, &mut nets);
        let key = RandomState::new();
        let mut v4 = Tree::v4(key.clone());
        let mut v6 = Tree::v6(key);
        for net in nets {
            match net {
                IpNet::V4(n) => v4.learn(u128::from(u32::from(n.network())), n.prefix_len()),
                IpNet::V6(n) => v6.learn(u128::from(n.network()), n.prefix_len()),
            }
        }
        Redactor {
            v4,
            v6,
            addresses: HashMap::new(),
            accounts: HashMap::new(),
            names: HashMap::new(),
            placeholders: HashSet::new(),
            account_placeholders: HashSet::new(),
        }
    }

    /// Redact every string (and object key) of a JSON document.
    pub fn value(&mut self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    self.value(&mut v);
                    map.insert(self.text(&k), v);
                }
            }
            _ => {}
        }
    }

    /// Mask the names, addresses and account IDs inside a piece of text.
    pub fn text(&mut self, text: &str) -> String {
        let text = self.names(text);
        let text = self.addresses(&text);
        self.accounts(&text)
    }

    /// E-mail addresses, role-session and user names, access key IDs.
    fn names(&mut self, text: &str) -> String {
        let mut spans = name_spans(text);
        spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for span in spans {
            if span.start < at {
                continue; // inside one already masked
            }
            let original = &text[span.start..span.end];
            out.push_str(&text[at..span.start]);
            if self.placeholders.contains(original) {
                out.push_str(original);
            } else {
                let n = self.names.len() + 1;
                let placeholder = self
                    .names
                    .entry(original.to_string())
                    .or_insert_with(|| match span.kind {
                        NameKind::Email => format!("user-{n}@example.invalid"),
                        NameKind::Name if original.contains('@') => {
                            format!("user-{n}@example.invalid")
                        }
                        NameKind::Name => format!("user-{n}"),
                        NameKind::AccessKey => format!("access-key-{n}"),
                    })
                    .clone();
                self.placeholders.insert(placeholder.clone());
                out.push_str(&placeholder);
            }
            at = span.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// 12-digit runs that stand alone (not glued to a letter or digit) are
    /// account IDs, wherever they stand (`arn:aws:iam::123456789012:user/x`).
    fn accounts(&mut self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let glued = (start > 0 && bytes[start - 1].is_ascii_alphabetic())
                || bytes.get(i).is_some_and(|b| b.is_ascii_alphabetic());
            let digits = &text[start..i];
            let placeholder = self.account_placeholders.contains(digits);
            if i - start == 12 && !glued && !placeholder {
                out.push_str(&text[at..start]);
                let next = format!("1{:011}", self.accounts.len() + 1);
                let masked = self.accounts.entry(digits.to_string()).or_insert(next);
                self.account_placeholders.insert(masked.clone());
                out.push_str(masked);
                at = i;
            }
        }
        out.push_str(&text[at..]);
        out
    }

    fn addresses(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for found in scan_addresses(text) {
            out.push_str(&text[at..found.start]);
            let masked = match found.what {
                Written::Ip(ip) => self.ip(ip).to_string(),
                Written::Net(ip, len) => self.net(ip, len),
                Written::Ec2Host(prefix, ip) => {
                    let mapped = self.ip(IpAddr::V4(ip)).to_string().replace('.', "-");
                    format!("{prefix}{mapped}")
                }
            };
            out.push_str(&masked);
            at = found.end;
        }
        out.push_str(&text[at..]);
        out
    }

    fn net(&mut self, ip: IpAddr, len: u8) -> String {
        let mapped = self.ip(ip);
        match IpNet::new(ip, len) {
            // As written: a network stays a network, an address with its
            // prefix length stays that address.
            Ok(net) if net.network() == ip => IpNet::new(mapped, len)
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| format!("{mapped}/{len}")),
            _ => format!("{mapped}/{len}"),
        }
    }

    pub fn ip(&mut self, ip: IpAddr) -> IpAddr {
        if let Some(mapped) = self.addresses.get(&ip) {
            return *mapped;
        }
        let mapped = match ip {
            IpAddr::V4(v4) => IpAddr::V4(self.v4_addr(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V6(self.v4_addr(v4).to_ipv6_mapped()),
                None => IpAddr::V6(Ipv6Addr::from(self.v6.map(u128::from(v6)))),
            },
        };
        self.addresses.insert(ip, mapped);
        mapped
    }

    fn v4_addr(&self, ip: Ipv4Addr) -> Ipv4Addr {
        let bits = self.v4.map(u128::from(u32::from(ip)));
        Ipv4Addr::from(u32::try_from(bits).unwrap_or(u32::MAX))
    }
}

/// One address family's prefix-preserving permutation: the bit after each
/// prefix is flipped, kept, or flipped by a keyed coin, as a function of
/// that prefix alone (hence a bijection that preserves common prefixes).
struct Tree {
    key: RandomState,
    tag: u8,
    width: u32,
    /// Leading bits every address keeps.
    kept: u32,
    /// (network, length, whole): the path down to the network is kept, so
    /// the network maps onto itself; `whole`: its addresses keep their value.
    anchors: Vec<(u128, u32, bool)>,
    /// Networks (length, prefix value) whose first four addresses keep
    /// their offset from the base.
    networks: HashSet<(u32, u128)>,
    lengths: BTreeSet<u32>,
    /// Lengths of the networks learnt: /16–/30, /32–/126.
    learnable: (u32, u32),
}

impl Tree {
    fn v4(key: RandomState) -> Self {
        let v4 = |a: [u8; 4], len: u32, whole: bool| {
            (u128::from(u32::from(Ipv4Addr::from(a))), len, whole)
        };
        Tree {
            key,
            tag: 4,
            width: 32,
            kept: 8,
            anchors: vec![
                v4([172, 16, 0, 0], 12, false),
                v4([192, 168, 0, 0], 16, false),
                v4([100, 64, 0, 0], 10, false),
                v4([198, 18, 0, 0], 15, false),
                v4([0, 0, 0, 0], 8, true),
                v4([127, 0, 0, 0], 8, true),
                v4([169, 254, 0, 0], 16, true),
                v4([224, 0, 0, 0], 3, true),
            ],
            networks: HashSet::new(),
            lengths: BTreeSet::new(),
            learnable: (16, 30),
        }
    }

    fn v6(key: RandomState) -> Self {
        let v6 = |s: [u16; 8], len: u32| (u128::from(Ipv6Addr::from(s)), len, true);
        Tree {
            key,
            tag: 6,
            width: 128,
            kept: 16,
            anchors: vec![v6([0; 8], 127), v6([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0], 32)],
            networks: HashSet::new(),
            lengths: BTreeSet::new(),
            learnable: (32, 126),
        }
    }

    fn learn(&mut self, network: u128, len: u8) {
        let len = u32::from(len);
        if (self.learnable.0..=self.learnable.1).contains(&len) {
            self.networks.insert((len, network >> (self.width - len)));
            self.lengths.insert(len);
        }
    }

    /// Whether the bit after `prefix` (its first `depth` bits) is kept.
    fn kept(&self, prefix: u128, depth: u32) -> bool {
        if depth < self.kept {
            return true;
        }
        let top = |value: u128, len: u32| value >> (self.width - len);
        for &(net, len, whole) in &self.anchors {
            if depth < len && prefix == top(net, depth) {
                return true; // on the way down to the anchor
            }
            if whole && depth >= len && prefix >> (depth - len) == top(net, len) {
                return true; // inside it
            }
        }
        // Inside a learnt network, on the path of its first four addresses:
        // every bit after the network's length but the last two is zero.
        let last_free = self.width - 2;
        for &len in self.lengths.range(..=depth) {
            let upto = depth.min(last_free);
            let between = upto - len;
            let middle = (prefix >> (depth - upto)) & ((1u128 << between) - 1);
            if middle == 0 && self.networks.contains(&(len, prefix >> (depth - len))) {
                return true;
            }
        }
        false
    }

    fn map(&self, bits: u128) -> u128 {
        let mut out = bits;
        let mut free_seen = false;
        for depth in 0..self.width {
            let prefix = if depth == 0 {
                0
            } else {
                bits >> (self.width - depth)
            };
            let flip = if self.kept(prefix, depth) {
                false
            } else if !free_seen {
                // The first free bit always flips: no address keeps its value.
                free_seen = true;
                true
            } else {
                self.key.hash_one((self.tag, depth, prefix)) & 1 == 1
            };
            if flip {
                out ^= 1u128 << (self.width - 1 - depth);
            }
        }
        out
    }
}

/// Every network (address/length, host bits zero) written in a document.
fn collect_networks(value: &Value, nets: &mut Vec<IpNet>) {
    fn scan(s: &str, nets: &mut Vec<IpNet>) {
        for found in scan_addresses(s) {
            if let Written::Net(ip, len) = found.what {
                if let Ok(net) = IpNet::new(ip, len) {
                    if net.network() == ip {
                        nets.push(net);
                    }
                }
            }
        }
    }
    match value {
        Value::String(s) => scan(s, nets),
        Value::Array(items) => items.iter().for_each(|v| collect_networks(v, nets)),
        Value::Object(map) => {
            for (k, v) in map {
                scan(k, nets);
                collect_networks(v, nets);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Finding addresses in text.

/// An address as it was written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Written {
    Ip(IpAddr),
    Net(IpAddr, u8),
    /// `ip-10-0-10-4`, `ec2-54-1-2-3`.
    Ec2Host(&'static str, Ipv4Addr),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Found {
    start: usize,
    end: usize,
    what: Written,
}

/// Characters of an address run: hex digits, `:` and `.`.
fn run_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

fn word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The addresses in `text`, in order, not overlapping. Linear: each run of
/// address characters is looked at a bounded number of times.
fn scan_addresses(text: &str) -> Vec<Found> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if word_start {
            if let Some(f) = ec2_host(b, i) {
                i = f.end;
                found.push(f);
                continue;
            }
        }
        if run_char(b[i]) {
            let start = i;
            i += 1;
            // A run ends where an EC2 host name begins (`host:ec2-54-1-2-3`).
            while i < b.len()
                && run_char(b[i])
                && !(matches!(b[i - 1], b'.' | b':') && ec2_host(b, i).is_some())
            {
                i += 1;
            }
            i = scan_run(text, start, i, &mut found);
            continue;
        }
        i += 1;
    }
    found
}

/// `ip-A-B-C-D` or `ec2-A-B-C-D` (an EC2 private or public host name).
fn ec2_host(b: &[u8], i: usize) -> Option<Found> {
    let prefix = ["ip-", "ec2-"]
        .into_iter()
        .find(|p| b.len() >= i + p.len() && b[i..i + p.len()].eq_ignore_ascii_case(p.as_bytes()))?;
    let mut at = i + prefix.len();
    let mut octets = [0u8; 4];
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(at) != Some(&b'-') {
                return None;
            }
            at += 1;
        }
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() && at - start < 4 {
            at += 1;
        }
        let digits = std::str::from_utf8(&b[start..at]).ok()?;
        if digits.is_empty() || digits.len() > 3 || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        *octet = digits.parse().ok()?;
    }
    // Not followed by more of the same (`ip-1-2-3-4-5`) or a longer number.
    let more = match b.get(at) {
        Some(c) if c.is_ascii_alphanumeric() => true,
        Some(b'-') => b.get(at + 1).is_some_and(u8::is_ascii_digit),
        _ => false,
    };
    (!more).then_some(Found {
        start: i,
        end: at,
        what: Written::Ec2Host(prefix, Ipv4Addr::from(octets)),
    })
}

/// The addresses in one run of address characters `text[start..end]`;
/// returns where scanning goes on (past a `/len` taken as a prefix length).
fn scan_run(text: &str, start: usize, end: usize, found: &mut Vec<Found>) -> usize {
    let run = &text[start..end];
    if run.bytes().filter(|&c| c == b':').count() >= 2 {
        if let Some((a, z, ip)) = v6_in(text, start, end) {
            v4_in(text, start, a, found);
            let (z, what) = with_prefix(text, z, ip, end);
            found.push(Found {
                start: a,
                end: z,
                what,
            });
            if z > end {
                return z;
            }
            v4_in(text, z, end, found);
            return end;
        }
    }
    v4_in(text, start, end, found)
}

/// An address at `text[..z]` followed, at the end of its run, by `/len`.
fn with_prefix(text: &str, z: usize, ip: IpAddr, run_end: usize) -> (usize, Written) {
    let b = text.as_bytes();
    if z == run_end && b.get(z) == Some(&b'/') {
        let digits = b[z + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if (1..=3).contains(&digits) {
            if let Ok(len) = text[z + 1..z + 1 + digits].parse::<u8>() {
                if len <= max {
                    return (z + 1 + digits, Written::Net(ip, len));
                }
            }
        }
    }
    (z, Written::Ip(ip))
}

/// IPv6 in `text[start..end]`, a run of hex digits, colons and dots:
/// the whole run, or the run less a stray colon in front (`ip:2001:db8::1`)
/// or punctuation behind (`… 2001:db8::1.`).
fn v6_in(text: &str, start: usize, end: usize) -> Option<(usize, usize, IpAddr)> {
    let b = text.as_bytes();
    let mut starts = vec![start];
    if b[start] == b':' && b.get(start + 1) != Some(&b':') {
        starts.push(start + 1);
    }
    let mut ends = vec![end];
    let mut e = end;
    while e > start && b[e - 1] == b'.' {
        e -= 1;
    }
    ends.push(e);
    if e >= start + 2 && b[e - 1] == b':' && b[e - 2] != b':' {
        ends.push(e - 1);
    }
    for &a in &starts {
        for &z in &ends {
            if z <= a {
                continue;
            }
            let candidate = &text[a..z];
            if !candidate.bytes().any(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(ip) = candidate.parse::<Ipv6Addr>() else {
                continue;
            };
            // Glued to a word, `de::Ba` (in `Code::BadRequest`) or `ec2::`
            // (a Rust path) is not an address: ask for three groups then.
            let glued = (a > 0 && word_char(b[a - 1])) || b.get(z).is_some_and(|&c| word_char(c));
            let groups = candidate.split(':').filter(|g| !g.is_empty()).count();
            if glued && groups < 3 {
                continue;
            }
            return Some((a, z, IpAddr::V6(ip)));
        }
    }
    None
}

/// Dotted quads in `text[start..end]`, glued to a word or not; returns `end`
/// or, after a `/len` at the end, past it.
fn v4_in(text: &str, start: usize, end: usize, found: &mut Vec<Found>) -> usize {
    let b = text.as_bytes();
    let mut i = start;
    let mut resume = end;
    while i < end {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let s = i;
        while i < end && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let mut z = i;
        while z > s && b[z - 1] == b'.' {
            z -= 1;
        }
        let candidate = &text[s..z];
        if candidate.bytes().filter(|&c| c == b'.').count() != 3 {
            continue; // a version (1.2.3) or not an address (1.2.3.4.5)
        }
        let Ok(ip) = candidate.parse::<Ipv4Addr>() else {
            continue;
        };
        let (z2, what) = with_prefix(text, z, IpAddr::V4(ip), end);
        if z2 > end {
            resume = z2;
        }
        found.push(Found {
            start: s,
            end: z2,
            what,
        });
    }
    resume
}

// ---------------------------------------------------------------------------
// Finding names in text.

#[derive(Debug, Clone, Copy, PartialEq)]
enum NameKind {
    Email,
    Name,
    AccessKey,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    kind: NameKind,
}

/// Characters IAM allows in user, role and session names.
fn iam_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)
}

/// A resource ID (`i-0a1b2c3d`): an instance role's session name, kept.
fn is_resource_id(s: &str) -> bool {
    let Some((kind, hex)) = s.rsplit_once('-') else {
        return false;
    };
    !kind.is_empty()
        && kind.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
        && (hex.len() == 8 || hex.len() == 17)
        && hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn name_spans(text: &str) -> Vec<Span> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    // E-mail addresses: local@domain.tld.
    for (at, _) in text.match_indices('@') {
        let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
        let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
        let mut s = at;
        while s > 0 && local(b[s - 1]) {
            s -= 1;
        }
        while s < at && b[s] == b'.' {
            s += 1;
        }
        let mut e = at + 1;
        while e < b.len() && domain(b[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        let host = &text[at + 1..e];
        let tld_ok = host
            .rsplit_once('.')
            .is_some_and(|(_, tld)| tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()));
        if s < at && tld_ok {
            spans.push(Span {
                start: s,
                end: e,
                kind: NameKind::Email,
            });
        }
    }
    // Names in ARNs and error text: assumed-role/ROLE/SESSION,
    // federated-user/NAME, user/PATH/NAME. The role name is kept.
    for (pattern, skip_role) in [
        ("assumed-role/", true),
        ("federated-user/", false),
        ("user/", false),
    ] {
        for (p, _) in text.match_indices(pattern) {
            let boundary = p == 0 || !(word_char(b[p - 1]) || b"-/.".contains(&b[p - 1]));
            if !boundary {
                continue;
            }
            let mut at = p + pattern.len();
            if skip_role {
                while at < b.len() && iam_char(b[at]) {
                    at += 1;
                }
                if b.get(at) != Some(&b'/') {
                    continue;
                }
                at += 1;
            }
            // A user's path (`user/division/jane`): the name is the last part.
            let mut e = at;
            while e < b.len() && (iam_char(b[e]) || (!skip_role && b[e] == b'/')) {
                e += 1;
            }
            // (After a trailing `/` there is no name: nothing to mask.)
            let s = text[at..e].rfind('/').map_or(at, |k| at + k + 1);
            while e > s && matches!(b[e - 1], b'.' | b',') {
                e -= 1;
            }
            if s < e && !is_resource_id(&text[s..e]) {
                spans.push(Span {
                    start: s,
                    end: e,
                    kind: NameKind::Name,
                });
            }
        }
    }
    // The session in a role's unique ID: AROA…:jane.
    for (p, _) in text.match_indices("AROA") {
        let mut at = p + 4;
        while at < b.len() && b[at].is_ascii_alphanumeric() {
            at += 1;
        }
        if b.get(at) != Some(&b':') || (p > 0 && b[p - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let s = at + 1;
        let mut e = s;
        while e < b.len() && iam_char(b[e]) {
            e += 1;
        }
        while e > s && matches!(b[e - 1], b'.' | b',') {
            e -= 1;
        }
        if s < e && !is_resource_id(&text[s..e]) {
            spans.push(Span {
                start: s,
                end: e,
                kind: NameKind::Name,
            });
        }
    }
    // Access key IDs (AKIA…, ASIA… and 16 more capitals or digits).
    for prefix in ["AKIA", "ASIA"] {
        for (p, _) in text.match_indices(prefix) {
            let e = p + 20;
            let ok = e <= b.len()
                && b[p + 4..e]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && (p == 0 || !b[p - 1].is_ascii_alphanumeric())
                && !b.get(e).is_some_and(u8::is_ascii_alphanumeric);
            if ok {
                spans.push(Span {
                    start: p,
                    end: e,
                    kind: NameKind::AccessKey,
                });
            }
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain() -> Redactor {
        Redactor::learning(&Value::Null)
    }

    /// A redactor that learnt the lab's networks (VPC 10.0.0.0/16 and subnets).
    fn lab() -> Redactor {
        Redactor::learning(&json!({
            "vpc": {"cidr_blocks": ["10.0.0.0/16", "2600:1f18:1234:5600::/56"]},
            "subnets": [{"cidr_block": "10.0.1.0/24"}, {"cidr_block": "10.0.10.0/24"}],
        }))
    }

    fn ip(r: &mut Redactor, s: &str) -> IpAddr {
        r.ip(s.parse().expect("test address"))
    }

    fn net(r: &mut Redactor, s: &str) -> IpNet {
        r.text(s).parse().expect("a redacted CIDR is a CIDR")
    }

    #[test]
    fn every_written_form_of_an_address_is_masked_consistently() {
        let mut r = lab();
        let m = ip(&mut r, "10.0.10.4").to_string();
        let dashed = m.replace('.', "-");
        let cases = [
            ("10.0.10.4", m.clone()),
            ("10.0.10.4:4000", format!("{m}:4000")),
            ("ip:10.0.10.4", format!("ip:{m}")),
            ("host10.0.10.4", format!("host{m}")),
            ("(10.0.10.4).", format!("({m}).")),
            ("to 10.0.10.4.", format!("to {m}.")),
            (
                "ip-10-0-10-4.ec2.internal",
                format!("ip-{dashed}.ec2.internal"),
            ),
            ("ip-10-0-10-4", format!("ip-{dashed}")),
            (
                "host:ip-10-0-10-4.ec2.internal",
                format!("host:ip-{dashed}.ec2.internal"),
            ),
            ("'10.0.10.4'", format!("'{m}'")),
            ("::ffff:10.0.10.4", format!("::ffff:{m}")),
        ];
        for (original, expected) in cases {
            assert_eq!(r.text(original), expected, "{original}");
        }
        let public = ip(&mut r, "54.1.2.3").to_string().replace('.', "-");
        assert_eq!(
            r.text("ec2-54-1-2-3.compute-1.amazonaws.com"),
            format!("ec2-{public}.compute-1.amazonaws.com")
        );
        // Not EC2 host names: more parts, a longer number, an ID.
        for kept in [
            "ip-10-0-10-4-5",
            "ip-10-0-10-400",
            "ip-1-2-3",
            "vip-10-0-10-4",
        ] {
            assert_eq!(r.text(kept), kept);
        }
    }

    #[test]
    fn ipv6_in_its_forms() {
        let mut r = lab();
        let m = ip(&mut r, "2001:db8::4").to_string();
        let cases = [
            ("2001:db8::4", m.clone()),
            ("2001:0DB8:0000:0000:0000:0000:0000:0004", m.clone()),
            ("[2001:db8::4]:4000", format!("[{m}]:4000")),
            ("ip:2001:db8::4", format!("ip:{m}")),
            ("at 2001:db8::4.", format!("at {m}.")),
            ("2001:db8::4: refused", format!("{m}: refused")),
            ("2001:db8::4%eth0", format!("{m}%eth0")),
        ];
        for (original, expected) in cases {
            assert_eq!(r.text(original), expected, "{original}");
        }
        let cidr = net(&mut r, "2001:db8::/32");
        assert!(cidr.contains(&m.parse::<IpAddr>().unwrap()));
        assert!(!r.text("fe80::1%eth0").contains("fe80::1%"));
        assert!(
            r.text("fe80::1%eth0").starts_with("fe80:"),
            "link-local stays"
        );
        // Kept: AWS's resolver and the unspecified and loopback addresses.
        for kept in ["fd00:ec2::253", "::1", "::/0", "fd00:ec2::254"] {
            assert_eq!(r.text(kept), kept);
        }
        // Not addresses: Rust paths, error codes, times, MAC addresses.
        for kept in [
            "aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError",
            "Code::BadRequest",
            "12:30:45",
            "2026-01-01T12:30:45Z",
            "0a:1b:2c:3d:4e:5f",
            "::",
        ] {
            assert_eq!(r.text(kept), kept);
        }
    }

    #[test]
    fn resource_ids_versions_and_ports_stay_intact() {
        let mut r = lab();
        let text = "vpc-0a123456789012b subnet-0123456789abcdef0 sg-0a1b2c3d vpce-0a1b2c3d4e5f60718 \
                    com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0 vpce-svc-e3ba4d3b \
                    eni-0123456789abcdef0 acl-0a1b2c3d dopt-0a1b2c3d i-0123456789abcdef0 pl-0a1b2c3d \
                    rtb-0a1b2c3d4e5f60718 Z0123456789012ABCDEFG /hostedzone/Z08123456789012ABCDEF \
                    ami-0a1b2c3d4e5f60718 rslvr-rr-0123456789abcdef0 us-east-1a use1-az1 \
                    tidbpe 0.1.0 8.0.11-TiDB-v7.5.2-serverless 4000 1024-65535 \
                    gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com AmazonProvidedDNS \
                    b1a2c3d4-1e2f-4a5b-9c8d-7e6f5a4b3c2d ec2:DescribeVpcs";
        assert_eq!(r.text(text), text);
    }

    #[test]
    fn accounts_are_masked_alone_and_in_arns_never_inside_ids() {
        let mut r = plain();
        assert_eq!(
            r.text("account 123456789012, principal arn:aws:iam::123456789012:role/Dev"),
            "account 100000000001, principal arn:aws:iam::100000000001:role/Dev"
        );
        assert_eq!(r.text("123456789012"), "100000000001");
        assert_eq!(r.text("owner 210987654321"), "owner 100000000002");
        for kept in [
            "vpc-0a123456789012b",
            "1234567890123",
            "12345678901",
            "Z123456789012",
        ] {
            assert_eq!(r.text(kept), kept);
        }
    }

    #[test]
    fn names_and_emails_are_masked_consistently() {
        let mut r = plain();
        let arn = r.text("arn:aws:sts::123456789012:assumed-role/Dev/jane@example.com");
        assert_eq!(
            arn,
            "arn:aws:sts::100000000001:assumed-role/Dev/user-1@example.invalid"
        );
        let error = r.text(
            "User: arn:aws:sts::123456789012:assumed-role/Dev/jane@example.com is not authorized \
             to perform: ec2:DescribeVpcs; mail jane@example.com or bob@corp.example.org.",
        );
        assert_eq!(
            error,
            "User: arn:aws:sts::100000000001:assumed-role/Dev/user-1@example.invalid is not authorized \
             to perform: ec2:DescribeVpcs; mail user-1@example.invalid or user-2@example.invalid."
        );
        assert_eq!(
            r.text("arn:aws:iam::123456789012:user/jane"),
            "arn:aws:iam::100000000001:user/user-3"
        );
        assert_eq!(r.text("user/jane is denied"), "user/user-3 is denied");
        assert_eq!(
            r.text("arn:aws:iam::123456789012:user/ops/oncall/jane."),
            "arn:aws:iam::100000000001:user/ops/oncall/user-3."
        );
        assert_eq!(
            r.text("arn:aws:sts::123456789012:federated-user/bob"),
            "arn:aws:sts::100000000001:federated-user/user-4"
        );
        assert_eq!(
            r.text("AROA1234567890EXAMPLE:carol"),
            "AROA1234567890EXAMPLE:user-5"
        );
        // An instance role's session is the instance ID: kept.
        let instance = "arn:aws:sts::123456789012:assumed-role/ec2-role/i-0123456789abcdef0";
        assert!(r
            .text(instance)
            .ends_with("assumed-role/ec2-role/i-0123456789abcdef0"));
        // Paths that merely contain "user/" are not IAM names.
        for kept in [
            "/home/user/.aws/config",
            "the-user/x",
            "arn:aws:iam::aws:policy/x",
        ] {
            assert_eq!(r.text(kept), kept);
        }
        let key = r.text("Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/ec2/aws4_request");
        assert!(!key.contains("AKIAIOSFODNN7EXAMPLE"), "{key}");
        // Masking masked text again changes nothing.
        assert_eq!(r.text(&error), error);
    }

    #[test]
    fn containment_private_classes_and_the_vpc_resolver_survive() {
        for _ in 0..50 {
            let mut r = lab();
            let vpc = net(&mut r, "10.0.0.0/16");
            let subnet = net(&mut r, "10.0.10.0/24");
            let other = net(&mut r, "10.0.1.0/24");
            let client = ip(&mut r, "10.0.10.4");
            assert!(vpc.contains(&subnet) && subnet.contains(&client) && !other.contains(&client));
            assert_ne!(vpc, "10.0.0.0/16".parse::<IpNet>().unwrap());
            // The VPC resolver is the base + 2 of the redacted VPC CIDR.
            let IpAddr::V4(base) = vpc.network() else {
                panic!("v4")
            };
            let resolver = ip(&mut r, "10.0.0.2");
            assert_eq!(resolver, IpAddr::V4(Ipv4Addr::from(u32::from(base) + 2)));
            let first = ip(&mut r, "10.0.10.0");
            assert_eq!(first, subnet.network());
            // Private stays private, public stays public.
            for (addr, private) in [
                ("10.1.2.3", true),
                ("172.20.1.2", true),
                ("172.32.1.2", false),
                ("192.168.7.8", true),
                ("192.169.7.8", false),
                ("100.64.1.1", true),
                ("100.128.1.1", false),
                ("54.1.2.3", false),
            ] {
                let IpAddr::V4(m) = ip(&mut r, addr) else {
                    panic!("v4")
                };
                let shared = m.octets()[0] == 100 && (64..128).contains(&m.octets()[1]);
                assert_eq!(m.is_private() || shared, private, "{addr} -> {m}");
                assert_ne!(m.to_string(), addr);
            }
            for kept in [
                "169.254.169.253",
                "169.254.169.254",
                "127.0.0.53",
                "0.0.0.0/0",
            ] {
                assert_eq!(r.text(kept), kept);
            }
            let v6 = net(&mut r, "2600:1f18:1234:5600::/56");
            let v6_ip = ip(&mut r, "2600:1f18:1234:5601::2");
            assert!(v6.contains(&v6_ip));
        }
    }

    #[test]
    fn the_mapping_is_a_prefix_preserving_bijection_without_fixed_points() {
        let mut r = lab();
        let mut seen = HashMap::new();
        let mut x: u32 = 0x9e37_79b9;
        let mut sample = vec![
            Ipv4Addr::new(10, 0, 0, 0),
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 3),
            Ipv4Addr::new(10, 0, 10, 4),
        ];
        for _ in 0..2000 {
            // xorshift: a spread of addresses, biased to the lab's VPC.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            sample.push(Ipv4Addr::from(if x.is_multiple_of(2) {
                0x0a00_0000 | (x >> 16)
            } else {
                x
            }));
        }
        for a in &sample {
            let ma = ip(&mut r, &a.to_string());
            if let Some(prev) = seen.insert(ma, *a) {
                assert_eq!(prev, *a, "two addresses map to {ma}");
            }
            let [first, second, ..] = a.octets();
            let keeps = [0, 127].contains(&first) || first >= 224 || (first, second) == (169, 254);
            if !keeps {
                assert_ne!(ma, IpAddr::V4(*a), "{a} kept its value");
            }
        }
        let common = |a: u32, b: u32| (a ^ b).leading_zeros();
        for pair in sample.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (IpAddr::V4(ma), IpAddr::V4(mb)) =
                (ip(&mut r, &a.to_string()), ip(&mut r, &b.to_string()))
            else {
                panic!("v4")
            };
            assert_eq!(
                common(u32::from(a), u32::from(b)),
                common(u32::from(ma), u32::from(mb)),
                "{a} {b} -> {ma} {mb}"
            );
        }
    }

    #[test]
    fn scanning_is_linear() {
        let mut r = lab();
        for unit in [
            "1.",
            "1:",
            "a:",
            "ip-1-",
            "x@",
            "user/",
            "AROA:",
            "1234567890",
        ] {
            let text = unit.repeat(200_000 / unit.len());
            let started = std::time::Instant::now();
            let _ = r.text(&text);
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{unit}: {:?}",
                started.elapsed()
            );
        }
    }
}

#[cfg(test)]
mod facts_tests {
    use serde_json::json;
    use tidbpe_checks::{judge_all, Facts, Finding, Status};

    const ACCOUNT: &str = "123456789012";

    /// A world in the lab's shape, with text from outside holding every form
    /// `--redact` must mask; `dhcp` and `ingress` vary the verdicts.
    fn world(dhcp: &[&str], ingress: serde_json::Value) -> Facts {
        let probe = "ip:10.0.10.4 host10.0.10.4 10.0.10.4:4000 ip-10-0-10-4.ec2.internal \
                     [2001:db8::4]:4000 arn:aws:sts::123456789012:assumed-role/Dev/jane@example.com \
                     user/jane vpc-0a123456789012b";
        let facts = json!({
            "inputs": {
                "service_name": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
                "az_ids": [], "region": "us-east-1",
                "host": "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com", "port": 4000,
                "vpc_id": "vpc-0a123456789012b", "client_ip": "10.0.10.4", "deselected": {}
            },
            "identity": {"Ok": {"account": ACCOUNT,
                "arn": "arn:aws:sts::123456789012:assumed-role/Dev/jane@example.com"}},
            "service": {"Ok": {"service_name": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
                "service_type": ["Interface"], "availability_zones": ["us-east-1b"],
                "private_dns_names": ["gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com"],
                "owner": "210987654321"}},
            "zones": {"Ok": [{"zone_name": "us-east-1b", "zone_id": "use1-az1"}]},
            "vpc_choice": {"vpc_id": "vpc-0a123456789012b", "source": "flag"},
            "client": {"Ok": {"source": "client-ip", "vpc_id": "vpc-0a123456789012b",
                "subnet_id": "subnet-0000000d", "availability_zone": "us-east-1b", "az_id": "use1-az1",
                "private_ip": "10.0.10.4", "security_group_ids": []}},
            "vpc": {"Ok": {"vpc_id": "vpc-0a123456789012b", "cidr_blocks": ["10.0.0.0/16"],
                "dhcp_options_id": "dopt-00000001"}},
            "dns_support": {"Ok": true},
            "dns_hostnames": {"Ok": true},
            "dhcp_options": {"Ok": {"dhcp_options_id": "dopt-00000001", "domain_name_servers": dhcp}},
            "hosted_zones": {"Ok": [{"id": "Z0123456789012ABCDEFG", "name": "ip-10-0-10-4.ec2.internal."}]},
            "endpoints": {"Ok": [{"endpoint_id": "vpce-00000001", "vpc_id": "vpc-0a123456789012b",
                "service_name": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
                "endpoint_type": "Interface", "state": "available", "private_dns_enabled": true,
                "subnet_ids": ["subnet-0000000b"], "security_group_ids": ["sg-0000000e"],
                "network_interface_ids": ["eni-0000000b"]}]},
            "subnets": {"Ok": [
                {"subnet_id": "subnet-0000000b", "vpc_id": "vpc-0a123456789012b",
                 "availability_zone": "us-east-1b", "az_id": "use1-az1", "cidr_block": "10.0.1.0/24"},
                {"subnet_id": "subnet-0000000d", "vpc_id": "vpc-0a123456789012b",
                 "availability_zone": "us-east-1b", "az_id": "use1-az1", "cidr_block": "10.0.10.0/24"}]},
            "endpoint_interfaces": {"Ok": [{"network_interface_id": "eni-0000000b",
                "subnet_id": "subnet-0000000b", "availability_zone": "us-east-1b",
                "private_ip": "10.0.1.10", "security_group_ids": ["sg-0000000e"]}]},
            "security_groups": {"Ok": [{"group_id": "sg-0000000e", "group_name": "ip-10-0-10-4",
                "vpc_id": "vpc-0a123456789012b", "ingress": ingress, "egress": []}]},
            "prefix_lists": {"Ok": []},
            "network_acls": {"Err": {"kind": "access-denied", "action": "ec2:DescribeNetworkAcls",
                "code": "AccessDenied", "message": format!("User: arn:aws:sts::123456789012:assumed-role/Dev/jane@example.com is not authorized; echo: {probe}")}},
            "timings_ms": {}
        });
        serde_json::from_value(facts).expect("the fixture is facts")
    }

    fn rule(cidr: &str) -> serde_json::Value {
        json!([{"protocol": "tcp", "from_port": 4000, "to_port": 4000, "peer": {"cidr": cidr},
                "description": "from ip-10-0-10-4 (10.0.10.4:4000), owner 123456789012, jane@example.com"}])
    }

    fn statuses(findings: &[Finding]) -> Vec<(String, Status)> {
        findings.iter().map(|f| (f.id.clone(), f.status)).collect()
    }

    /// Redacts `plain`, checks the verdicts are `plain_findings`' and that
    /// the redacted facts, read back as `analyze` reads them, judge the
    /// same; the redacted facts and findings as text.
    fn redact_judge_replay(plain: &Facts, plain_findings: &[Finding]) -> String {
        let redacted = super::facts(plain).expect("redacts");
        let findings = judge_all(&redacted);
        assert_eq!(statuses(&findings), statuses(plain_findings));
        let text = serde_json::to_string(&redacted).expect("facts serialize");
        let replayed: Facts = serde_json::from_str(&text).expect("facts parse");
        assert_eq!(judge_all(&replayed), findings);
        format!(
            "{text}{}",
            serde_json::to_string(&findings).expect("findings")
        )
    }

    #[test]
    fn verdicts_survive_and_nothing_original_is_left() {
        let worlds = [
            world(&["AmazonProvidedDNS"], rule("10.0.10.0/24")),
            world(&["10.0.0.2", "10.0.10.53"], rule("10.0.10.4/32")),
            world(&["AmazonProvidedDNS"], rule("10.0.2.0/24")),
            world(&["192.168.0.2"], rule("2001:db8::/32")),
        ];
        for plain in worlds {
            let plain_findings = judge_all(&plain);
            for _ in 0..20 {
                let all = redact_judge_replay(&plain, &plain_findings);
                // The IDs hold 12-digit runs: look for accounts around them.
                let outside_ids = all
                    .replace("vpc-0a123456789012b", "")
                    .replace("Z0123456789012ABCDEFG", "");
                for secret in [
                    ACCOUNT,
                    "210987654321",
                    "jane",
                    "example.com",
                    "10.0.10.4",
                    "10-0-10-4",
                    "10.0.1.10",
                    "10.0.0.0/16",
                    "10.0.10.0/24",
                    "10.0.10.53",
                    "2001:db8:",
                ] {
                    assert!(!outside_ids.contains(secret), "{secret} is left in {all}");
                }
                for id in [
                    "vpc-0a123456789012b",
                    "Z0123456789012ABCDEFG",
                    "vpce-svc-0123456789abcdef0",
                ] {
                    assert!(all.contains(id), "{id} is missing");
                }
            }
        }
    }

    #[test]
    fn the_vpc_resolver_named_by_vpc003_is_the_redacted_dhcp_server() {
        let plain = world(&["10.0.0.2", "10.0.10.53"], rule("10.0.10.0/24"));
        for _ in 0..20 {
            let redacted = super::facts(&plain).expect("redacts");
            let vpc003 = judge_all(&redacted)
                .into_iter()
                .find(|f| f.id == "VPC003")
                .expect("VPC003");
            let Some(Ok(Some(dhcp))) = &redacted.dhcp_options else {
                panic!("dhcp options")
            };
            assert_eq!(
                vpc003.evidence.get("vpc_resolver"),
                Some(&json!(dhcp.domain_name_servers[0])),
                "{}",
                vpc003.summary
            );
        }
    }

    /// The probe facts are redacted like every other fact: addresses in DNS
    /// answers, hosts lines, `--dns-server` and the probed socket addresses
    /// (IPv4 and `[IPv6]:port`), and text from the server; the probe checks
    /// judge the redacted facts as they judged the plain ones.
    #[test]
    fn probe_facts_are_redacted_and_their_verdicts_survive() {
        use tidbpe_checks::probe_facts::{
            AddressProbe, DnsAnswer, FileContent, Greeting, GreetingRead, HostsEntry, TcpConnect,
            TcpOutcome,
        };
        use tidbpe_checks::testing::{healthy, probes_mut, HOST};

        let base = |answer: &str, pin: Option<&str>| {
            let mut f = healthy();
            let p = probes_mut(&mut f);
            let dns = p.dns.as_mut().expect("dns");
            dns.a.answer = DnsAnswer::Addresses {
                addresses: vec![answer.parse().expect("ip")],
                cnames: vec![],
            };
            let path = p.resolver_path.as_mut().expect("path");
            path.dns_server = Some("10.0.0.53:53".parse().expect("addr"));
            if let Some(pin) = pin {
                path.hosts.content = FileContent::Read(vec![HostsEntry {
                    line: 2,
                    address: pin.parse().expect("ip"),
                    names: vec![HOST.into()],
                }]);
            }
            p.addresses.push(AddressProbe {
                address: "[2600:1f18:abcd::5]:4000".parse().expect("addr"),
                connect: TcpConnect {
                    ms: 3,
                    outcome: TcpOutcome::Connected,
                },
                greeting: Some(GreetingRead {
                    ms: 1,
                    greeting: Greeting::Err {
                        code: 1105,
                        sql_state: None,
                        message: "host 10.0.10.4:51234 (ip-10-0-10-4) is not allowed".into(),
                    },
                }),
            });
            f
        };
        let worlds = [
            base("10.0.1.10", None),
            base("10.0.3.99", Some("10.0.99.9")),
            base("52.1.2.3", Some("10.0.1.10")),
        ];
        for plain in worlds {
            let plain_findings = judge_all(&plain);
            for _ in 0..10 {
                let all = redact_judge_replay(&plain, &plain_findings);
                for secret in [
                    "10.0.1.10",
                    "10.0.3.99",
                    "10.0.99.9",
                    "10.0.0.53",
                    "52.1.2.3",
                    "10.0.10.4",
                    "10-0-10-4",
                    "2600:1f18:abcd",
                ] {
                    assert!(!all.contains(secret), "{secret} is left in {all}");
                }
                assert!(all.contains(HOST) && all.contains(":4000"));
            }
        }
    }
}
