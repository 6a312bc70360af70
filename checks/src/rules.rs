//! Rule evaluation: does TCP from a client reach an address and port, and
//! which security-group rule or network-ACL entry decides?
//!
//! This module answers the question the way AWS enforces it:
//!
//! * **Security groups** ([`sg_ingress`], [`sg_egress`]) are stateful
//!   allow-lists: a flow is allowed when any rule of any attached group
//!   matches it, and denied when none does. Rules naming a prefix list are
//!   resolved through the gathered [`PrefixList`]s; rules naming a security
//!   group match when the peer is a member of it. A rule that cannot be
//!   judged (unknown prefix list, group membership of an unknown client) is
//!   reported as unresolved and never allows.
//! * **Network ACLs** ([`nacl_decide`]) are stateless and ordered: for each
//!   direction the entries are taken by ascending rule number, the first one
//!   that matches decides, and the implicit final `*` rule (32767) denies
//!   whatever no entry matched, even when the API omits it. A question about
//!   a whole network or port range is answered by splitting it into
//!   intervals on which the decision is constant, never by iterating every
//!   address and port.
//!
//! Everything here is pure: it reads the [`crate::facts`] types and returns
//! plain values. Keep it that way — no I/O, no clock, no environment, and no
//! panics on any input (inverted or negative ports, unknown protocols, mixed
//! IPv4/IPv6 data simply do not match).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::facts::{AclEntry, NetworkAcl, PrefixList, SecurityGroup, SgPeer, SgRule};

/// The other end of a flow: the source for ingress, the destination for
/// egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer<'a> {
    /// A known machine: its address and the security groups of its network interface.
    Address { ip: IpAddr, groups: &'a [String] },
    /// Anyone in this network (client unknown: judged "from anywhere in the VPC's CIDRs").
    Network(IpNet),
}

/// The security groups' verdict on one flow.
///
/// Every rule examined lands in exactly one of `allowed_by`, `rejected` and
/// `unresolved`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgDecision {
    /// Every address of the peer is allowed.
    pub allowed: bool,
    /// Network peer: some but not all addresses are allowed.
    pub partial: bool,
    /// The rule(s) that allowed, e.g. `sg-0ab: tcp 4000 from sg-0cd`. For a
    /// network peer a rule that covers only part of it says so
    /// (`… — covers only 10.0.2.0/24 of 10.0.0.0/16`).
    pub allowed_by: Vec<String>,
    /// One line per rule that did not match, with why, e.g.
    /// `sg-0ab: tcp 3306 from 10.0.0.0/16 — port 4000 not covered`; and
    /// `sg-0ab: no inbound rules` for a group without rules.
    pub rejected: Vec<String>,
    /// Rules that could not be judged (unknown prefix list, group
    /// membership of an unknown client).
    pub unresolved: Vec<String>,
}

/// A network ACL's verdict on every (address, port) pair of a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclDecision {
    /// Every (address, port) pair is allowed.
    pub allowed: bool,
    /// When not allowed: the first blocked pair's deciding rule (None = the
    /// implicit `*` deny) and the blocked example.
    pub blocked_by: Option<AclBlock>,
    /// When allowed: the rule numbers that allowed (sorted, deduplicated).
    pub allowed_by: Vec<i32>,
}

/// The first blocked (address, port) pair and the entry that blocks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBlock {
    /// The deny entry's rule number; `None`: the implicit final `*` rule.
    pub rule_number: Option<i32>,
    pub port: u16,
    pub address: IpAddr,
    /// e.g. `rule 90 denies tcp 4000 from 0.0.0.0/0`, or `no rule allows
    /// tcp 1024-65535 to 10.0.1.5: the final * rule denies`.
    pub description: String,
}

/// The number of the implicit final rule of every network ACL direction.
pub const ACL_FINAL_RULE: i32 = 32767;
/// The highest rule number an entry may have.
const ACL_MAX_RULE: i32 = 32766;

// ---------------------------------------------------------------------------
// Shared helpers: protocols and address arithmetic.

/// A protocol as far as TCP is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Proto {
    /// `-1`: every protocol, every port.
    All,
    /// `tcp` / `6`.
    Tcp,
    /// Anything else, by its display name (`udp`, `icmp`, `protocol 50`).
    Other(String),
}

impl Proto {
    fn parse(raw: &str) -> Proto {
        let s = raw.trim().to_ascii_lowercase();
        if let Ok(n) = s.parse::<i64>() {
            return match n {
                -1 => Proto::All,
                6 => Proto::Tcp,
                17 => Proto::Other("udp".into()),
                1 => Proto::Other("icmp".into()),
                58 => Proto::Other("icmpv6".into()),
                n => Proto::Other(n.to_string()),
            };
        }
        match s.as_str() {
            "tcp" => Proto::Tcp,
            "" => Proto::Other("(none)".into()),
            _ => Proto::Other(s),
        }
    }

    /// `tcp`, `udp`, `icmp`, `icmpv6`, `protocol 50`.
    fn name(&self) -> String {
        match self {
            Proto::All => "all traffic".into(),
            Proto::Tcp => "tcp".into(),
            Proto::Other(n) if matches!(n.as_str(), "udp" | "icmp" | "icmpv6") => n.clone(),
            Proto::Other(n) => format!("protocol {n}"),
        }
    }

    /// Whether from/to ports mean ports for this protocol.
    fn has_ports(&self) -> bool {
        match self {
            Proto::Tcp => true,
            Proto::Other(n) => n == "udp",
            Proto::All => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// An inclusive range of addresses of one family, as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    family: Family,
    lo: u128,
    hi: u128,
}

impl Span {
    fn of_net(net: &IpNet) -> Span {
        match net {
            IpNet::V4(n) => Span {
                family: Family::V4,
                lo: u128::from(u32::from(n.network())),
                hi: u128::from(u32::from(n.broadcast())),
            },
            IpNet::V6(n) => Span {
                family: Family::V6,
                lo: u128::from(n.network()),
                hi: u128::from(n.broadcast()),
            },
        }
    }

    /// The part of `self` inside `other`, if any.
    fn clip(&self, other: &Span) -> Option<Span> {
        if self.family != other.family {
            return None;
        }
        let lo = self.lo.max(other.lo);
        let hi = self.hi.min(other.hi);
        (lo <= hi).then_some(Span {
            family: self.family,
            lo,
            hi,
        })
    }

    fn address(&self, v: u128) -> IpAddr {
        match self.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX))),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
        }
    }
}

fn family_of_net(net: &IpNet) -> Family {
    match net {
        IpNet::V4(_) => Family::V4,
        IpNet::V6(_) => Family::V6,
    }
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// Whether the union of `spans` covers `lo..=hi`.
fn union_covers(spans: &[(u128, u128)], lo: u128, hi: u128) -> bool {
    let mut sorted = spans.to_vec();
    sorted.sort_unstable();
    let mut next = lo;
    for (a, b) in sorted {
        if a > next {
            return false;
        }
        if b >= next {
            if b >= hi {
                return true;
            }
            next = b + 1;
        }
    }
    false
}

// ---------------------------------------------------------------------------
// Security groups.

/// A security-group rule's ports as they apply to TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SgPorts {
    /// None or -1 on either side: all ports.
    All,
    Range(i32, i32),
    /// from > to: matches nothing.
    Inverted(i32, i32),
    /// A negative port other than -1: matches nothing.
    Invalid(i32, i32),
}

fn sg_ports(rule: &SgRule) -> SgPorts {
    match (rule.from_port, rule.to_port) {
        (None, _) | (_, None) | (Some(-1), _) | (_, Some(-1)) => SgPorts::All,
        (Some(f), Some(t)) if f < 0 || t < 0 => SgPorts::Invalid(f, t),
        (Some(f), Some(t)) if f > t => SgPorts::Inverted(f, t),
        (Some(f), Some(t)) => SgPorts::Range(f, t),
    }
}

fn ports_text(from: i32, to: i32) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// `tcp 3306 from 10.0.0.0/16` / `all traffic to 0.0.0.0/0` /
/// `tcp 3000-5000 from pl-123` — used in evidence.
pub fn describe_sg_rule(rule: &SgRule, egress: bool) -> String {
    let proto = Proto::parse(&rule.protocol);
    let what = if proto.has_ports() {
        match sg_ports(rule) {
            SgPorts::All => format!("{} all ports", proto.name()),
            SgPorts::Range(f, t) | SgPorts::Inverted(f, t) | SgPorts::Invalid(f, t) => {
                format!("{} {}", proto.name(), ports_text(f, t))
            }
        }
    } else {
        proto.name()
    };
    let dir = if egress { "to" } else { "from" };
    let peer = match &rule.peer {
        SgPeer::Cidr(net) => net.to_string(),
        SgPeer::PrefixList(id) | SgPeer::Group(id) => id.clone(),
    };
    format!("{what} {dir} {peer}")
}

/// Why a rule does not match TCP to `port`, if it does not.
fn sg_proto_port_mismatch(rule: &SgRule, port: u16) -> Option<String> {
    match Proto::parse(&rule.protocol) {
        Proto::All => None,
        Proto::Other(n) => Some(format!("protocol {n} is not tcp")),
        Proto::Tcp => match sg_ports(rule) {
            SgPorts::All => None,
            SgPorts::Range(f, t) => {
                let p = i32::from(port);
                if f <= p && p <= t {
                    None
                } else {
                    Some(format!("port {port} not covered"))
                }
            }
            SgPorts::Inverted(f, t) => Some(format!(
                "port range {f}-{t} is inverted and matches nothing"
            )),
            SgPorts::Invalid(f, t) => Some(format!(
                "port range {f}..{t} is invalid and matches nothing"
            )),
        },
    }
}

/// How one rule matches the peer (not a check's verdict: see [`crate::Verdict`]).
enum RuleMatch {
    /// The rule allows the whole peer.
    Allow,
    /// The rule allows these parts of a network peer (clipped spans), and
    /// the note says which.
    Part(Vec<(u128, u128)>, String),
    Reject(String),
    Unresolved(String),
}

fn sg_rule_match(
    rule: &SgRule,
    peer: &Peer,
    port: u16,
    prefix_lists: &[PrefixList],
    who: &str,
) -> RuleMatch {
    if let Some(why) = sg_proto_port_mismatch(rule, port) {
        return RuleMatch::Reject(why);
    }
    match peer {
        Peer::Address { ip, groups } => match &rule.peer {
            SgPeer::Cidr(net) => {
                if net.contains(ip) {
                    RuleMatch::Allow
                } else if ip.is_ipv4() != matches!(net, IpNet::V4(_)) {
                    RuleMatch::Reject(format!(
                        "{ip} is {}, {net} is {}",
                        if ip.is_ipv4() { "IPv4" } else { "IPv6" },
                        family_name(family_of_net(net))
                    ))
                } else {
                    RuleMatch::Reject(format!("{ip} is outside {net}"))
                }
            }
            SgPeer::PrefixList(id) => {
                match prefix_lists.iter().find(|pl| &pl.prefix_list_id == id) {
                    None => RuleMatch::Unresolved(format!(
                        "prefix list {id} was not gathered, its entries are unknown"
                    )),
                    Some(pl) => {
                        if pl.cidrs.iter().any(|c| c.contains(ip)) {
                            RuleMatch::Allow
                        } else {
                            RuleMatch::Reject(format!("{ip} is in no entry of {id}"))
                        }
                    }
                }
            }
            SgPeer::Group(id) => {
                if groups.iter().any(|g| g == id) {
                    RuleMatch::Allow
                } else {
                    RuleMatch::Reject(format!("the {who} is not a member of {id}"))
                }
            }
        },
        Peer::Network(net) => {
            let net = net.trunc();
            let want = Span::of_net(&net);
            let (cidrs, none_reason): (&[IpNet], String) = match &rule.peer {
                SgPeer::Cidr(c) if family_of_net(c) != want.family => (
                    std::slice::from_ref(c),
                    format!(
                        "{net} is {}, {c} is {}",
                        family_name(want.family),
                        family_name(family_of_net(c))
                    ),
                ),
                SgPeer::Cidr(c) => (std::slice::from_ref(c), format!("{net} is outside {c}")),
                SgPeer::PrefixList(id) => {
                    match prefix_lists.iter().find(|pl| &pl.prefix_list_id == id) {
                        None => {
                            return RuleMatch::Unresolved(format!(
                                "prefix list {id} was not gathered, its entries are unknown"
                            ))
                        }
                        Some(pl) => (&pl.cidrs, format!("no entry of {id} overlaps {net}")),
                    }
                }
                SgPeer::Group(_) => {
                    return RuleMatch::Unresolved(format!("membership of the {who} unknown"))
                }
            };
            let mut parts = Vec::new();
            let mut shown = Vec::new();
            for c in cidrs {
                if let Some(s) = Span::of_net(c).clip(&want) {
                    parts.push((s.lo, s.hi));
                    shown.push(c.trunc().to_string());
                }
            }
            if parts.is_empty() {
                return RuleMatch::Reject(none_reason);
            }
            if union_covers(&parts, want.lo, want.hi) {
                RuleMatch::Allow
            } else {
                shown.sort();
                shown.dedup();
                let note = format!("covers only {} of {net}", shown.join(", "));
                RuleMatch::Part(parts, note)
            }
        }
    }
}

fn sg_evaluate(
    groups: &[&SecurityGroup],
    peer: &Peer,
    port: u16,
    prefix_lists: &[PrefixList],
    egress: bool,
) -> SgDecision {
    let who = if egress { "destination" } else { "client" };
    let mut d = SgDecision::default();
    let mut whole = false;
    let mut parts: Vec<(u128, u128)> = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    if groups.is_empty() {
        d.rejected.push("no security groups attached".to_string());
    }
    for group in groups {
        if !seen.insert(group.group_id.as_str()) {
            continue;
        }
        let rules = if egress {
            &group.egress
        } else {
            &group.ingress
        };
        if rules.is_empty() {
            d.rejected.push(format!(
                "{}: no {} rules",
                group.group_id,
                if egress { "outbound" } else { "inbound" }
            ));
            continue;
        }
        for rule in rules {
            let line = format!("{}: {}", group.group_id, describe_sg_rule(rule, egress));
            match sg_rule_match(rule, peer, port, prefix_lists, who) {
                RuleMatch::Allow => {
                    whole = true;
                    d.allowed_by.push(line);
                }
                RuleMatch::Part(p, note) => {
                    parts.extend(p);
                    d.allowed_by.push(format!("{line} — {note}"));
                }
                RuleMatch::Reject(why) => d.rejected.push(format!("{line} — {why}")),
                RuleMatch::Unresolved(why) => d.unresolved.push(format!("{line} — {why}")),
            }
        }
    }
    d.allowed = whole
        || match peer {
            Peer::Network(net) => {
                let want = Span::of_net(&net.trunc());
                !parts.is_empty() && union_covers(&parts, want.lo, want.hi)
            }
            Peer::Address { .. } => false,
        };
    d.partial = !d.allowed && !parts.is_empty();
    d
}

/// Do the `groups` (attached to the receiving interface) let TCP in from
/// `source` to `port`?
pub fn sg_ingress(
    groups: &[&SecurityGroup],
    source: &Peer,
    port: u16,
    prefix_lists: &[PrefixList],
) -> SgDecision {
    sg_evaluate(groups, source, port, prefix_lists, false)
}

/// Do the `groups` (attached to the sending interface) let TCP out to
/// `destination` on `port`?
pub fn sg_egress(
    groups: &[&SecurityGroup],
    destination: &Peer,
    port: u16,
    prefix_lists: &[PrefixList],
) -> SgDecision {
    sg_evaluate(groups, destination, port, prefix_lists, true)
}

// ---------------------------------------------------------------------------
// Network ACLs.

/// `rule 90 denies tcp 4000 from 0.0.0.0/0` / `rule 100 allows all traffic
/// to 0.0.0.0/0` — used in evidence.
pub fn describe_acl_entry(entry: &AclEntry) -> String {
    let proto = Proto::parse(&entry.protocol);
    let what = match entry.port_range {
        Some((a, b)) if proto.has_ports() => {
            format!(
                "{} {}",
                proto.name(),
                ports_text(i32::from(a), i32::from(b))
            )
        }
        None if proto.has_ports() => format!("{} all ports", proto.name()),
        _ => proto.name(),
    };
    format!(
        "rule {} {} {what} {} {}",
        entry.rule_number,
        if entry.allow { "allows" } else { "denies" },
        if entry.egress { "to" } else { "from" },
        entry.cidr
    )
}

/// An entry that matches some TCP pairs of the question, clipped to it.
struct Relevant<'a> {
    entry: &'a AclEntry,
    lo: u128,
    hi: u128,
    plo: u32,
    phi: u32,
}

impl Relevant<'_> {
    fn matches(&self, a: u128, p: u32) -> bool {
        self.lo <= a && a <= self.hi && self.plo <= p && p <= self.phi
    }
}

/// Are all TCP (address, port) pairs of `peer` × `ports` allowed by `acl`
/// in one direction? For ingress the peer is the source and the ports the
/// destination ports; for egress the peer is the destination. `ports` is
/// inclusive (a reversed pair is read as the same range).
pub fn nacl_decide(acl: &NetworkAcl, egress: bool, peer: IpNet, ports: (u16, u16)) -> AclDecision {
    let peer = peer.trunc();
    let want = Span::of_net(&peer);
    let (port_lo, port_hi) = if ports.0 <= ports.1 {
        (u32::from(ports.0), u32::from(ports.1))
    } else {
        (u32::from(ports.1), u32::from(ports.0))
    };

    let mut entries: Vec<&AclEntry> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.rule_number);

    let mut relevant = Vec::new();
    for e in entries {
        let (plo, phi) = match Proto::parse(&e.protocol) {
            Proto::All => (0, 65535),
            Proto::Tcp => match e.port_range {
                None => (0, 65535),
                Some((a, b)) => (u32::from(a), u32::from(b)),
            },
            Proto::Other(_) => continue,
        };
        let (plo, phi) = (plo.max(port_lo), phi.min(port_hi));
        if plo > phi {
            continue;
        }
        let Some(s) = Span::of_net(&e.cidr).clip(&want) else {
            continue;
        };
        relevant.push(Relevant {
            entry: e,
            lo: s.lo,
            hi: s.hi,
            plo,
            phi,
        });
    }

    // Cells on which the decision is constant.
    let mut addr_bounds: Vec<u128> = vec![want.lo];
    let mut port_bounds: Vec<u32> = vec![port_lo];
    for r in &relevant {
        addr_bounds.push(r.lo);
        if r.hi < want.hi {
            addr_bounds.push(r.hi + 1);
        }
        port_bounds.push(r.plo);
        if r.phi < port_hi {
            port_bounds.push(r.phi + 1);
        }
    }
    addr_bounds.sort_unstable();
    addr_bounds.dedup();
    port_bounds.sort_unstable();
    port_bounds.dedup();

    let decide = |a: u128, p: u32| relevant.iter().find(|r| r.matches(a, p)).map(|r| r.entry);

    let mut allowed_by = BTreeSet::new();
    for (ai, &a) in addr_bounds.iter().enumerate() {
        let a_end = addr_bounds.get(ai + 1).map_or(want.hi, |n| n - 1);
        for (pi, &p) in port_bounds.iter().enumerate() {
            let decider = decide(a, p);
            match decider {
                Some(e) if e.allow => {
                    allowed_by.insert(e.rule_number);
                }
                _ => {
                    // Extend the blocked run over the following port cells
                    // with the same decider, for the description.
                    let mut run_end = port_hi;
                    for &q in &port_bounds[pi + 1..] {
                        let same = match (decide(a, q), decider) {
                            (None, None) => true,
                            (Some(x), Some(y)) => std::ptr::eq(x, y),
                            _ => false,
                        };
                        if !same {
                            run_end = q - 1;
                            break;
                        }
                    }
                    let address = want.address(a);
                    let port = u16::try_from(p).unwrap_or(u16::MAX);
                    let description = match decider {
                        Some(e) => describe_acl_entry(e),
                        None => {
                            let target = if a == want.lo && a_end == want.hi {
                                if peer.prefix_len() == peer.max_prefix_len() {
                                    address.to_string()
                                } else {
                                    peer.to_string()
                                }
                            } else {
                                format!("{address} (in {peer})")
                            };
                            let run = if p == run_end {
                                p.to_string()
                            } else {
                                format!("{p}-{run_end}")
                            };
                            format!(
                                "no rule allows tcp {run} {} {target}: the final * rule denies",
                                if egress { "to" } else { "from" }
                            )
                        }
                    };
                    return AclDecision {
                        allowed: false,
                        blocked_by: Some(AclBlock {
                            rule_number: decider.map(|e| e.rule_number),
                            port,
                            address,
                            description,
                        }),
                        allowed_by: Vec::new(),
                    };
                }
            }
        }
    }
    AclDecision {
        allowed: true,
        blocked_by: None,
        allowed_by: allowed_by.into_iter().collect(),
    }
}

/// A free rule number below `before` (prefer `before - 10`, then walk down
/// from `before - 1`), for the fix `create-network-acl-entry --rule-number
/// N`; None if none is free. `before` None means the implicit `*` rule: then
/// pick a free number like 100, 110, … that is not used in that direction
/// (any free number if none of those is).
pub fn free_rule_number(acl: &NetworkAcl, egress: bool, before: Option<i32>) -> Option<i32> {
    let used: BTreeSet<i32> = acl
        .entries
        .iter()
        .filter(|e| e.egress == egress)
        .map(|e| e.rule_number)
        .collect();
    let free = |n: i32| (1..=ACL_MAX_RULE).contains(&n) && !used.contains(&n);
    match before {
        Some(b) => {
            let b = b.min(ACL_FINAL_RULE);
            let preferred = b.checked_sub(10).filter(|&n| free(n));
            preferred.or_else(|| (1..b).rev().find(|&n| free(n)))
        }
        None => (100..=ACL_MAX_RULE)
            .step_by(10)
            .find(|&n| free(n))
            .or_else(|| (1..=ACL_MAX_RULE).find(|&n| free(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn rule(proto: &str, from: Option<i32>, to: Option<i32>, peer: SgPeer) -> SgRule {
        SgRule {
            protocol: proto.into(),
            from_port: from,
            to_port: to,
            peer,
            description: None,
        }
    }

    fn tcp(from: i32, to: i32, peer: SgPeer) -> SgRule {
        rule("tcp", Some(from), Some(to), peer)
    }

    fn cidr(s: &str) -> SgPeer {
        SgPeer::Cidr(net(s))
    }

    fn sg(id: &str, ingress: Vec<SgRule>, egress: Vec<SgRule>) -> SecurityGroup {
        SecurityGroup {
            group_id: id.into(),
            group_name: String::new(),
            vpc_id: None,
            ingress,
            egress,
        }
    }

    const CLIENT_GROUPS: &[String] = &[];

    fn client(groups: &[String]) -> Peer<'_> {
        Peer::Address {
            ip: ip("10.0.1.5"),
            groups,
        }
    }

    fn ingress(rules: Vec<SgRule>) -> SgDecision {
        let g = sg("sg-0ab", rules, vec![]);
        let groups = vec!["sg-0cd".to_string()];
        sg_ingress(&[&g], &client(&groups), 4000, &[])
    }

    #[test]
    fn only_3306_is_denied_port_not_covered() {
        let d = ingress(vec![tcp(3306, 3306, cidr("10.0.0.0/16"))]);
        assert!(!d.allowed);
        assert!(!d.partial);
        assert!(d.allowed_by.is_empty());
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 3306 from 10.0.0.0/16 — port 4000 not covered"]
        );
    }

    #[test]
    fn cidr_excluding_client_is_denied() {
        let d = ingress(vec![tcp(4000, 4000, cidr("10.0.2.0/24"))]);
        assert!(!d.allowed);
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 4000 from 10.0.2.0/24 — 10.0.1.5 is outside 10.0.2.0/24"]
        );
    }

    #[test]
    fn other_group_is_denied() {
        let d = ingress(vec![tcp(4000, 4000, SgPeer::Group("sg-0ee".into()))]);
        assert!(!d.allowed);
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 4000 from sg-0ee — the client is not a member of sg-0ee"]
        );
    }

    #[test]
    fn udp_only_is_denied() {
        for proto in ["udp", "17", "UDP"] {
            let d = ingress(vec![rule(proto, Some(4000), Some(4000), cidr("0.0.0.0/0"))]);
            assert!(!d.allowed, "{proto}");
            assert_eq!(
                d.rejected,
                vec!["sg-0ab: udp 4000 from 0.0.0.0/0 — protocol udp is not tcp"]
            );
        }
        for proto in ["icmp", "1", "icmpv6", "58", "50", "sctp"] {
            let d = ingress(vec![rule(proto, None, None, cidr("0.0.0.0/0"))]);
            assert!(!d.allowed, "{proto}");
        }
    }

    #[test]
    fn egress_limited_to_443_is_denied() {
        let g = sg("sg-0ab", vec![], vec![tcp(443, 443, cidr("0.0.0.0/0"))]);
        let endpoint_groups = vec!["sg-0ep".to_string()];
        let dest = Peer::Address {
            ip: ip("10.0.3.7"),
            groups: &endpoint_groups,
        };
        let d = sg_egress(&[&g], &dest, 4000, &[]);
        assert!(!d.allowed);
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 443 to 0.0.0.0/0 — port 4000 not covered"]
        );
    }

    #[test]
    fn client_group_is_allowed() {
        let d = ingress(vec![
            tcp(4000, 4000, SgPeer::Group("sg-0cd".into())),
            tcp(3306, 3306, cidr("10.0.0.0/16")),
        ]);
        assert!(d.allowed);
        assert_eq!(d.allowed_by, vec!["sg-0ab: tcp 4000 from sg-0cd"]);
        assert_eq!(d.rejected.len(), 1);
    }

    #[test]
    fn all_traffic_from_anywhere_is_allowed() {
        for (from, to) in [(None, None), (Some(-1), Some(-1)), (Some(0), Some(0))] {
            let d = ingress(vec![rule("-1", from, to, cidr("0.0.0.0/0"))]);
            assert!(d.allowed);
            assert_eq!(d.allowed_by, vec!["sg-0ab: all traffic from 0.0.0.0/0"]);
        }
        let g = sg(
            "sg-0ab",
            vec![],
            vec![rule("-1", None, None, cidr("0.0.0.0/0"))],
        );
        let d = sg_egress(&[&g], &client(CLIENT_GROUPS), 4000, &[]);
        assert_eq!(d.allowed_by, vec!["sg-0ab: all traffic to 0.0.0.0/0"]);
    }

    #[test]
    fn tcp_range_from_subnet_is_allowed() {
        let d = ingress(vec![tcp(3000, 5000, cidr("10.0.1.0/24"))]);
        assert!(d.allowed);
        assert_eq!(d.allowed_by, vec!["sg-0ab: tcp 3000-5000 from 10.0.1.0/24"]);
        // "TCP" and "6" are tcp too; None/-1 ports are all ports.
        assert!(ingress(vec![rule("TCP", None, None, cidr("10.0.1.0/24"))]).allowed);
        assert!(ingress(vec![rule("6", Some(-1), Some(-1), cidr("10.0.1.0/24"))]).allowed);
    }

    #[test]
    fn odd_ports_never_match_nor_panic() {
        for (f, t) in [(5000, 3000), (-5, 5000), (-7, -3), (i32::MIN, i32::MAX)] {
            let d = ingress(vec![tcp(f, t, cidr("0.0.0.0/0"))]);
            assert!(!d.allowed, "{f}..{t}");
            assert_eq!(d.rejected.len(), 1);
        }
        assert!(ingress(vec![tcp(0, 70000, cidr("0.0.0.0/0"))]).allowed);
    }

    #[test]
    fn prefix_list_containing_client_is_allowed() {
        let g = sg(
            "sg-0ab",
            vec![tcp(4000, 4000, SgPeer::PrefixList("pl-123".into()))],
            vec![],
        );
        let pls = vec![PrefixList {
            prefix_list_id: "pl-123".into(),
            cidrs: vec![net("192.168.0.0/16"), net("10.0.1.0/28")],
        }];
        let d = sg_ingress(&[&g], &client(CLIENT_GROUPS), 4000, &pls);
        assert!(d.allowed);
        assert_eq!(d.allowed_by, vec!["sg-0ab: tcp 4000 from pl-123"]);

        let other = Peer::Address {
            ip: ip("10.0.9.9"),
            groups: CLIENT_GROUPS,
        };
        let d = sg_ingress(&[&g], &other, 4000, &pls);
        assert!(!d.allowed);
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 4000 from pl-123 — 10.0.9.9 is in no entry of pl-123"]
        );
    }

    #[test]
    fn unknown_prefix_list_is_unresolved() {
        let g = sg(
            "sg-0ab",
            vec![
                tcp(4000, 4000, SgPeer::PrefixList("pl-999".into())),
                // Wrong port: rejected, not unresolved.
                tcp(22, 22, SgPeer::PrefixList("pl-999".into())),
            ],
            vec![],
        );
        let d = sg_ingress(&[&g], &client(CLIENT_GROUPS), 4000, &[]);
        assert!(!d.allowed);
        assert_eq!(d.unresolved.len(), 1);
        assert!(d.unresolved[0].starts_with("sg-0ab: tcp 4000 from pl-999 — "));
        assert!(d.unresolved[0].contains("pl-999 was not gathered"));
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 22 from pl-999 — port 4000 not covered"]
        );
    }

    #[test]
    fn ipv6_cidr_never_matches_ipv4() {
        let d = ingress(vec![rule("-1", None, None, cidr("::/0"))]);
        assert!(!d.allowed);
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: all traffic from ::/0 — 10.0.1.5 is IPv4, ::/0 is IPv6"]
        );
        let g = sg(
            "sg-0ab",
            vec![rule("-1", None, None, cidr("0.0.0.0/0"))],
            vec![],
        );
        let v6 = Peer::Address {
            ip: ip("2001:db8::5"),
            groups: CLIENT_GROUPS,
        };
        assert!(!sg_ingress(&[&g], &v6, 4000, &[]).allowed);
        let d = sg_ingress(&[&g], &Peer::Network(net("2001:db8::/64")), 4000, &[]);
        assert!(!d.allowed && !d.partial);
    }

    #[test]
    fn network_peer_two_adjacent_cidrs_allowed() {
        let g = sg(
            "sg-0ab",
            vec![
                tcp(4000, 4000, cidr("10.0.0.0/17")),
                tcp(4000, 4000, cidr("10.0.128.0/17")),
            ],
            vec![],
        );
        let d = sg_ingress(&[&g], &Peer::Network(net("10.0.0.0/16")), 4000, &[]);
        assert!(d.allowed);
        assert!(!d.partial);
        assert_eq!(d.allowed_by.len(), 2);
    }

    #[test]
    fn network_peer_partially_covered_is_partial() {
        let g = sg(
            "sg-0ab",
            vec![
                tcp(4000, 4000, cidr("10.0.0.0/17")),
                tcp(4000, 4000, SgPeer::Group("sg-0cd".into())),
                tcp(4000, 4000, cidr("10.1.0.0/16")),
            ],
            vec![],
        );
        let d = sg_ingress(&[&g], &Peer::Network(net("10.0.0.0/16")), 4000, &[]);
        assert!(!d.allowed);
        assert!(d.partial);
        assert_eq!(
            d.allowed_by,
            vec!["sg-0ab: tcp 4000 from 10.0.0.0/17 — covers only 10.0.0.0/17 of 10.0.0.0/16"]
        );
        assert_eq!(
            d.unresolved,
            vec!["sg-0ab: tcp 4000 from sg-0cd — membership of the client unknown"]
        );
        assert_eq!(
            d.rejected,
            vec!["sg-0ab: tcp 4000 from 10.1.0.0/16 — 10.0.0.0/16 is outside 10.1.0.0/16"]
        );
    }

    #[test]
    fn network_peer_covered_by_prefix_list_entries_and_across_groups() {
        let a = sg(
            "sg-a",
            vec![tcp(4000, 4000, SgPeer::PrefixList("pl-1".into()))],
            vec![],
        );
        let b = sg("sg-b", vec![tcp(4000, 4000, cidr("10.0.2.0/23"))], vec![]);
        let pls = vec![PrefixList {
            prefix_list_id: "pl-1".into(),
            cidrs: vec![net("10.0.0.0/24"), net("10.0.1.0/24")],
        }];
        let d = sg_ingress(&[&a, &b], &Peer::Network(net("10.0.0.0/22")), 4000, &pls);
        assert!(d.allowed, "{d:?}");
        assert!(!d.partial);
    }

    #[test]
    fn empty_group_and_no_groups() {
        let g = sg("sg-0ab", vec![], vec![]);
        let d = sg_ingress(&[&g], &client(CLIENT_GROUPS), 4000, &[]);
        assert!(!d.allowed);
        assert_eq!(d.rejected, vec!["sg-0ab: no inbound rules"]);
        let d = sg_egress(&[&g], &client(CLIENT_GROUPS), 4000, &[]);
        assert_eq!(d.rejected, vec!["sg-0ab: no outbound rules"]);
        let d = sg_ingress(&[], &client(CLIENT_GROUPS), 4000, &[]);
        assert!(!d.allowed);
        assert_eq!(d.rejected.len(), 1);
    }

    #[test]
    fn describe_rules() {
        assert_eq!(
            describe_sg_rule(&tcp(3306, 3306, cidr("10.0.0.0/16")), false),
            "tcp 3306 from 10.0.0.0/16"
        );
        assert_eq!(
            describe_sg_rule(&rule("-1", None, None, cidr("0.0.0.0/0")), true),
            "all traffic to 0.0.0.0/0"
        );
        assert_eq!(
            describe_sg_rule(&tcp(3000, 5000, SgPeer::PrefixList("pl-123".into())), false),
            "tcp 3000-5000 from pl-123"
        );
        assert_eq!(
            describe_sg_rule(&rule("icmp", Some(8), Some(-1), cidr("0.0.0.0/0")), false),
            "icmp from 0.0.0.0/0"
        );
        assert_eq!(
            describe_sg_rule(&rule("50", None, None, cidr("0.0.0.0/0")), false),
            "protocol 50 from 0.0.0.0/0"
        );
    }

    // --- network ACLs ---------------------------------------------------

    fn entry(
        n: i32,
        egress: bool,
        proto: &str,
        allow: bool,
        c: &str,
        ports: Option<(u16, u16)>,
    ) -> AclEntry {
        AclEntry {
            rule_number: n,
            egress,
            protocol: proto.into(),
            allow,
            cidr: net(c),
            port_range: ports,
        }
    }

    fn acl(entries: Vec<AclEntry>) -> NetworkAcl {
        NetworkAcl {
            network_acl_id: "acl-1".into(),
            is_default: false,
            subnet_ids: vec![],
            entries,
        }
    }

    #[test]
    fn nacl_deny_90_before_allow_100() {
        let a = acl(vec![
            entry(100, false, "-1", true, "0.0.0.0/0", None),
            entry(90, false, "6", false, "0.0.0.0/0", Some((4000, 4000))),
        ]);
        let d = nacl_decide(&a, false, net("10.0.1.5/32"), (4000, 4000));
        assert!(!d.allowed);
        assert_eq!(
            d.blocked_by,
            Some(AclBlock {
                rule_number: Some(90),
                port: 4000,
                address: ip("10.0.1.5"),
                description: "rule 90 denies tcp 4000 from 0.0.0.0/0".into(),
            })
        );
        assert!(d.allowed_by.is_empty());
        // Other ports pass rule 100.
        let d = nacl_decide(&a, false, net("10.0.1.5/32"), (3306, 3306));
        assert!(d.allowed);
        assert_eq!(d.allowed_by, vec![100]);
    }

    #[test]
    fn nacl_allow_100_before_deny_all_200() {
        let a = acl(vec![
            entry(200, false, "-1", false, "0.0.0.0/0", None),
            entry(100, false, "tcp", true, "10.0.0.0/16", Some((4000, 4000))),
        ]);
        let d = nacl_decide(&a, false, net("10.0.0.0/16"), (4000, 4000));
        assert!(d.allowed);
        assert_eq!(d.blocked_by, None);
        assert_eq!(d.allowed_by, vec![100]);
        // Egress entries are a different direction.
        let d = nacl_decide(&a, true, net("10.0.0.0/16"), (4000, 4000));
        assert_eq!(d.blocked_by.and_then(|b| b.rule_number), None);
    }

    #[test]
    fn nacl_without_entries_is_implicit_deny() {
        let d = nacl_decide(&acl(vec![]), true, net("10.0.1.5/32"), (1024, 65535));
        assert!(!d.allowed);
        assert_eq!(
            d.blocked_by,
            Some(AclBlock {
                rule_number: None,
                port: 1024,
                address: ip("10.0.1.5"),
                description: "no rule allows tcp 1024-65535 to 10.0.1.5: the final * rule denies"
                    .into(),
            })
        );
    }

    #[test]
    fn nacl_udp_and_ipv6_entries_do_not_match_tcp_v4() {
        let a = acl(vec![
            entry(100, false, "17", true, "0.0.0.0/0", None),
            entry(110, false, "-1", true, "::/0", None),
            entry(120, false, "6", true, "0.0.0.0/0", Some((5000, 4000))),
        ]);
        let d = nacl_decide(&a, false, net("10.0.1.5/32"), (4000, 4000));
        assert_eq!(d.blocked_by.map(|b| b.rule_number), Some(None));
    }

    #[test]
    fn nacl_ephemeral_partly_allowed() {
        let a = acl(vec![entry(
            100,
            true,
            "6",
            true,
            "10.0.0.0/16",
            Some((32768, 65535)),
        )]);
        let d = nacl_decide(&a, true, net("10.0.1.5/32"), (1024, 65535));
        assert!(!d.allowed);
        let b = d.blocked_by.expect("blocked");
        assert_eq!(b.rule_number, None);
        assert!((1024..=32767).contains(&b.port));
        assert_eq!(
            b.description,
            "no rule allows tcp 1024-32767 to 10.0.1.5: the final * rule denies"
        );
        let d = nacl_decide(&a, true, net("10.0.1.5/32"), (32768, 65535));
        assert!(d.allowed);
        assert_eq!(d.allowed_by, vec![100]);
    }

    #[test]
    fn nacl_network_peer_partly_covered() {
        let a = acl(vec![
            entry(100, false, "-1", true, "10.0.0.0/17", None),
            entry(110, false, "6", false, "10.0.0.0/16", Some((4000, 4000))),
        ]);
        let d = nacl_decide(&a, false, net("10.0.0.0/16"), (4000, 4000));
        let b = d.blocked_by.expect("blocked");
        assert_eq!(b.rule_number, Some(110));
        assert_eq!(b.address, ip("10.0.128.0"));
        let d = nacl_decide(&acl(vec![]), false, net("10.0.0.0/16"), (4000, 4000));
        assert_eq!(
            d.blocked_by.map(|b| b.description),
            Some("no rule allows tcp 4000 from 10.0.0.0/16: the final * rule denies".into())
        );
    }

    #[test]
    fn nacl_full_ranges_do_not_overflow() {
        let a = acl(vec![entry(100, false, "-1", true, "::/0", None)]);
        let d = nacl_decide(&a, false, net("::/0"), (0, 65535));
        assert!(d.allowed);
        let a = acl(vec![entry(
            100,
            false,
            "6",
            true,
            "0.0.0.0/0",
            Some((0, 65534)),
        )]);
        let d = nacl_decide(&a, false, net("0.0.0.0/0"), (65535, 0));
        let b = d.blocked_by.expect("blocked");
        assert_eq!((b.port, b.address), (65535, ip("0.0.0.0")));
    }

    #[test]
    fn describe_entries() {
        assert_eq!(
            describe_acl_entry(&entry(100, true, "-1", true, "0.0.0.0/0", None)),
            "rule 100 allows all traffic to 0.0.0.0/0"
        );
        assert_eq!(
            describe_acl_entry(&entry(
                7,
                false,
                "6",
                false,
                "10.0.0.0/8",
                Some((1024, 65535))
            )),
            "rule 7 denies tcp 1024-65535 from 10.0.0.0/8"
        );
    }

    #[test]
    fn free_rule_numbers() {
        let a = acl(vec![
            entry(90, false, "-1", true, "0.0.0.0/0", None),
            entry(100, false, "-1", false, "0.0.0.0/0", None),
            entry(100, true, "-1", true, "0.0.0.0/0", None),
        ]);
        // 90 is taken: walk down from 99.
        assert_eq!(free_rule_number(&a, false, Some(100)), Some(99));
        assert_eq!(free_rule_number(&a, false, Some(90)), Some(80));
        assert_eq!(free_rule_number(&a, false, Some(5)), Some(4));
        assert_eq!(free_rule_number(&a, false, Some(1)), None);
        assert_eq!(free_rule_number(&a, false, Some(-3)), None);
        // Before the implicit *: 100 is used inbound but not outbound.
        assert_eq!(free_rule_number(&a, false, None), Some(110));
        assert_eq!(free_rule_number(&a, true, None), Some(110));
        assert_eq!(free_rule_number(&acl(vec![]), true, None), Some(100));
        let crowded = acl(vec![
            entry(1, false, "-1", true, "0.0.0.0/0", None),
            entry(2, false, "-1", true, "0.0.0.0/0", None),
        ]);
        assert_eq!(free_rule_number(&crowded, false, Some(2)), None);
        assert_eq!(free_rule_number(&crowded, false, Some(3)), None);
        assert_eq!(free_rule_number(&crowded, false, Some(12)), Some(11));
        assert_eq!(free_rule_number(&crowded, false, Some(40000)), Some(32757));
    }
}
