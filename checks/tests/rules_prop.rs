//! Property tests: the rule evaluator against brute-force reference models.
//!
//! The models below judge each rule and each (address, port) pair directly,
//! with their own CIDR arithmetic (bit masks), so they share no code with
//! `tidbpe_checks::rules`. Inputs are drawn from a small address space
//! (10.0.0.0/22) and ports around 4000, so that rules overlap, match and
//! miss often.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;
use tidbpe_checks::facts::{AclEntry, NetworkAcl, PrefixList, SecurityGroup, SgPeer, SgRule};
use tidbpe_checks::rules::{nacl_decide, sg_egress, sg_ingress, Peer};

const BASE: u32 = 0x0a00_0000; // 10.0.0.0

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

// --- generators -----------------------------------------------------------

/// A network inside BASE + 0..span, prefix in min_len..=32, or sometimes a
/// much wider or IPv6 one.
fn arb_cidr(span_bits: u8, min_len: u8) -> impl Strategy<Value = IpNet> {
    let span = 1u32 << span_bits;
    prop_oneof![
        8 => (0..span, min_len..=32u8).prop_map(|(off, len)| {
            IpNet::new(IpAddr::V4(Ipv4Addr::from(BASE + off)), len)
                .map(|n| n.trunc())
                .unwrap_or_else(|_| IpNet::from(IpAddr::V4(Ipv4Addr::from(BASE))))
        }),
        1 => prop::sample::select(vec!["0.0.0.0/0", "10.0.0.0/8", "10.0.4.0/22"])
            .prop_map(|s| s.parse::<IpNet>().unwrap_or_else(|_| IpNet::default())),
        1 => prop::sample::select(vec!["::/0", "2001:db8::/64"])
            .prop_map(|s| s.parse::<IpNet>().unwrap_or_else(|_| IpNet::default())),
    ]
}

/// Mostly protocols that carry TCP, so that rules match often.
fn arb_protocol() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec!["-1", "tcp", "TCP", " Tcp ", "6"]),
        1 => prop::sample::select(vec!["udp", "17", "icmp", "1", "58", "50", "all", ""]),
    ]
    .prop_map(String::from)
}

fn arb_sg_port() -> impl Strategy<Value = Option<i32>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(-1)),
        1 => Just(Some(-5)),
        1 => Just(Some(0)),
        1 => Just(Some(65535)),
        1 => Just(Some(70000)),
        6 => (3996..=4004i32).prop_map(Some),
    ]
}

fn arb_sg_peer(span_bits: u8, min_len: u8) -> impl Strategy<Value = SgPeer> {
    prop_oneof![
        5 => arb_cidr(span_bits, min_len).prop_map(SgPeer::Cidr),
        2 => prop::sample::select(vec!["pl-1", "pl-2", "pl-unknown"])
            .prop_map(|s| SgPeer::PrefixList(s.into())),
        2 => prop::sample::select(vec!["sg-1", "sg-2", "sg-3"])
            .prop_map(|s| SgPeer::Group(s.into())),
    ]
}

fn arb_sg_rule(span_bits: u8, min_len: u8) -> impl Strategy<Value = SgRule> {
    (
        arb_protocol(),
        prop_oneof![
            1 => Just((None, None)),
            2 => (3996..=4000i32, 4000..=4004i32).prop_map(|(f, t)| (Some(f), Some(t))),
            3 => (arb_sg_port(), arb_sg_port()),
        ],
        arb_sg_peer(span_bits, min_len),
    )
        .prop_map(|(protocol, (from_port, to_port), peer)| SgRule {
            protocol,
            from_port,
            to_port,
            peer,
            description: None,
        })
}

fn arb_groups(span_bits: u8, min_len: u8) -> impl Strategy<Value = Vec<SecurityGroup>> {
    let rules = move || prop::collection::vec(arb_sg_rule(span_bits, min_len), 0..7);
    prop::collection::vec((rules(), rules()), 0..4).prop_map(|gs| {
        gs.into_iter()
            .enumerate()
            .map(|(i, (ingress, egress))| SecurityGroup {
                group_id: format!("sg-{}", i + 1),
                group_name: String::new(),
                vpc_id: None,
                ingress,
                egress,
            })
            .collect()
    })
}

fn arb_prefix_lists(span_bits: u8, min_len: u8) -> impl Strategy<Value = Vec<PrefixList>> {
    (
        prop::collection::vec(arb_cidr(span_bits, min_len), 0..3),
        prop::collection::vec(arb_cidr(span_bits, min_len), 0..3),
    )
        .prop_map(|(a, b)| {
            vec![
                PrefixList {
                    prefix_list_id: "pl-1".into(),
                    cidrs: a,
                },
                PrefixList {
                    prefix_list_id: "pl-2".into(),
                    cidrs: b,
                },
            ]
        })
}

fn arb_member_of() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(vec!["sg-1", "sg-2", "sg-3"], 0..=3)
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn arb_client_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        9 => (0..1024u32).prop_map(|off| IpAddr::V4(Ipv4Addr::from(BASE + off))),
        1 => Just(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5))),
    ]
}

fn arb_acl_port_range() -> impl Strategy<Value = Option<(u16, u16)>> {
    prop_oneof![
        1 => Just(None),
        4 => (3996..=4004u16, 3996..=4004u16).prop_map(Some),
        1 => (0..=65535u16, 0..=65535u16).prop_map(Some),
    ]
}

fn arb_acl(
    cidr_bits: u8,
    port_range: BoxedStrategy<Option<(u16, u16)>>,
) -> impl Strategy<Value = NetworkAcl> {
    // Rule numbers are unique per direction: draw a set, then a direction
    // for each (unique overall is stricter, and fine).
    prop::collection::btree_set(1..=300i32, 0..12)
        .prop_flat_map(move |numbers| {
            let n = numbers.len();
            let one = (
                any::<bool>(),
                arb_protocol(),
                any::<bool>(),
                arb_cidr(cidr_bits, 32 - cidr_bits),
                port_range.clone(),
            );
            (Just(numbers), prop::collection::vec(one, n))
        })
        .prop_map(|(numbers, fields)| NetworkAcl {
            network_acl_id: "acl-1".into(),
            is_default: false,
            subnet_ids: vec![],
            entries: numbers
                .into_iter()
                .zip(fields)
                .map(
                    |(rule_number, (egress, protocol, allow, cidr, port_range))| AclEntry {
                        rule_number,
                        egress,
                        protocol,
                        allow,
                        cidr,
                        port_range,
                    },
                )
                .collect(),
        })
}

/// A small network peer: /29../32 inside 10.0.0.0/26, where the entries'
/// CIDRs are drawn too.
fn arb_small_net() -> impl Strategy<Value = IpNet> {
    (0..64u32, 29..=32u8).prop_map(|(off, len)| {
        IpNet::new(IpAddr::V4(Ipv4Addr::from(BASE + off)), len)
            .map(|n| n.trunc())
            .unwrap_or_else(|_| IpNet::from(IpAddr::V4(Ipv4Addr::from(BASE))))
    })
}

// --- reference models -------------------------------------------------------

fn model_contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => {
            let len = u32::from(n.prefix_len());
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n.addr()) & mask == u32::from(a) & mask
        }
        (IpNet::V6(n), IpAddr::V6(a)) => {
            let len = u32::from(n.prefix_len());
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n.addr()) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn model_proto(p: &str) -> (bool, bool) {
    // (matches tcp, is all protocols)
    match p.trim().to_ascii_lowercase().as_str() {
        "-1" => (true, true),
        "tcp" | "6" => (true, false),
        _ => (false, false),
    }
}

fn model_sg_ports(rule: &SgRule, port: u16) -> bool {
    let any = |p: Option<i32>| p.is_none() || p == Some(-1);
    if any(rule.from_port) || any(rule.to_port) {
        return true;
    }
    match (rule.from_port, rule.to_port) {
        (Some(f), Some(t)) => f >= 0 && t >= 0 && f <= i32::from(port) && i32::from(port) <= t,
        _ => true,
    }
}

/// Some(true): allows; Some(false): does not; None: cannot be judged.
fn model_sg_rule(
    rule: &SgRule,
    ip: Option<IpAddr>,
    member_of: &[String],
    port: u16,
    pls: &[PrefixList],
) -> Option<bool> {
    let (tcp, all) = model_proto(&rule.protocol);
    if !tcp || !(all || model_sg_ports(rule, port)) {
        return Some(false);
    }
    match &rule.peer {
        SgPeer::Cidr(c) => Some(ip.is_some_and(|ip| model_contains(c, ip))),
        SgPeer::PrefixList(id) => pls
            .iter()
            .find(|pl| &pl.prefix_list_id == id)
            .map(|pl| ip.is_some_and(|ip| pl.cidrs.iter().any(|c| model_contains(c, ip)))),
        SgPeer::Group(id) => ip.map(|_| member_of.contains(id)),
    }
}

fn model_acl(acl: &NetworkAcl, egress: bool, ip: IpAddr, port: u16) -> Option<&AclEntry> {
    let mut entries: Vec<&AclEntry> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.rule_number);
    entries.into_iter().find(|e| {
        let (tcp, all) = model_proto(&e.protocol);
        let port_ok = all
            || match e.port_range {
                None => true,
                Some((a, b)) => a <= port && port <= b,
            };
        tcp && port_ok && model_contains(&e.cidr, ip)
    })
}

fn v4_hosts(net: &IpNet) -> Vec<IpAddr> {
    match net {
        IpNet::V4(n) => (u32::from(n.network())..=u32::from(n.broadcast()))
            .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
            .collect(),
        IpNet::V6(_) => vec![],
    }
}

/// Checks nacl_decide against the model over every pair of `net` × `ports`.
fn check_acl(
    acl: &NetworkAcl,
    egress: bool,
    net: IpNet,
    ports: (u16, u16),
) -> Result<(), TestCaseError> {
    let d = nacl_decide(acl, egress, net, ports);
    let mut first_blocked = None;
    let mut allowed_by = BTreeSet::new();
    'outer: for ip in v4_hosts(&net) {
        for port in ports.0..=ports.1 {
            match model_acl(acl, egress, ip, port) {
                Some(e) if e.allow => {
                    allowed_by.insert(e.rule_number);
                }
                other => {
                    first_blocked = Some((ip, port, other.map(|e| e.rule_number)));
                    break 'outer;
                }
            }
        }
    }
    prop_assert_eq!(d.allowed, first_blocked.is_none(), "{:?}", d);
    match (first_blocked, &d.blocked_by) {
        (None, None) => {
            prop_assert_eq!(d.allowed_by, allowed_by.into_iter().collect::<Vec<_>>());
        }
        (Some((ip, port, rule)), Some(b)) => {
            // The reported pair is really blocked, by the reported rule…
            prop_assert!(b.port >= ports.0 && b.port <= ports.1);
            prop_assert!(model_contains(&net, b.address));
            let decider = model_acl(acl, egress, b.address, b.port);
            prop_assert!(decider.is_none_or(|e| !e.allow));
            prop_assert_eq!(decider.map(|e| e.rule_number), b.rule_number);
            // …and it is the first one in (address, port) order.
            prop_assert_eq!((ip, port, rule), (b.address, b.port, b.rule_number));
            prop_assert!(d.allowed_by.is_empty());
        }
        (model, got) => prop_assert!(false, "model {:?}, got {:?}", model, got),
    }
    Ok(())
}

// --- properties -------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// (a) A known client: the evaluator agrees with judging each rule.
    #[test]
    fn sg_address_peer_matches_model(
        groups in arb_groups(10, 22),
        pls in arb_prefix_lists(10, 22),
        ip in arb_client_ip(),
        member_of in arb_member_of(),
        port in 3998..=4002u16,
        egress in any::<bool>(),
    ) {
        let refs: Vec<&SecurityGroup> = groups.iter().collect();
        let peer = Peer::Address { ip, groups: &member_of };
        let d = if egress {
            sg_egress(&refs, &peer, port, &pls)
        } else {
            sg_ingress(&refs, &peer, port, &pls)
        };
        let (mut allow, mut reject, mut unresolved, mut empty) = (0, 0, 0, 0);
        for g in &groups {
            let rules = if egress { &g.egress } else { &g.ingress };
            if rules.is_empty() {
                empty += 1;
            }
            for r in rules {
                match model_sg_rule(r, Some(ip), &member_of, port, &pls) {
                    Some(true) => allow += 1,
                    Some(false) => reject += 1,
                    None => unresolved += 1,
                }
            }
        }
        if groups.is_empty() {
            empty = 1;
        }
        prop_assert_eq!(d.allowed, allow > 0, "{:?}", d);
        prop_assert!(!d.partial);
        prop_assert_eq!(d.allowed_by.len(), allow);
        prop_assert_eq!(d.rejected.len(), reject + empty);
        prop_assert_eq!(d.unresolved.len(), unresolved);
    }

    /// (b) A small network and a few ports: every pair checked directly.
    #[test]
    fn nacl_small_peer_matches_model(
        acl in arb_acl(6, arb_acl_port_range().boxed()),
        net in arb_small_net(),
        lo in 3994..=4004u16,
        len in 0..8u16,
        egress in any::<bool>(),
    ) {
        check_acl(&acl, egress, net, (lo, lo + len))?;
    }

    /// (b') One address and a wide port range (the ephemeral return path).
    #[test]
    fn nacl_wide_ports_match_model(
        acl in arb_acl(10, prop_oneof![
            1 => Just(None),
            4 => (0..=65535u16, 0..=65535u16).prop_map(Some),
        ].boxed()),
        off in 0..1024u32,
        a in 0..=65535u16,
        b in 0..=65535u16,
        egress in any::<bool>(),
    ) {
        let net = IpNet::from(IpAddr::V4(Ipv4Addr::from(BASE + off)));
        check_acl(&acl, egress, net, (a.min(b), a.max(b)))?;
    }

    /// (c) An unknown client anywhere in a small network: allowed iff every
    /// address is allowed by some judgeable rule, partial iff only some are.
    #[test]
    fn sg_network_peer_matches_model(
        groups in arb_groups(3, 29),
        pls in arb_prefix_lists(3, 29),
        off in 0..8u32,
        len in 29..=32u8,
        port in 3998..=4002u16,
        egress in any::<bool>(),
    ) {
        let net = IpNet::new(IpAddr::V4(Ipv4Addr::from(BASE + off)), len)
            .map(|n| n.trunc())
            .unwrap_or_else(|_| IpNet::from(IpAddr::V4(Ipv4Addr::from(BASE))));
        let refs: Vec<&SecurityGroup> = groups.iter().collect();
        let d = if egress {
            sg_egress(&refs, &Peer::Network(net), port, &pls)
        } else {
            sg_ingress(&refs, &Peer::Network(net), port, &pls)
        };
        let rules: Vec<&SgRule> = groups
            .iter()
            .flat_map(|g| if egress { &g.egress } else { &g.ingress })
            .collect();
        let hosts = v4_hosts(&net);
        let allowed_hosts = hosts
            .iter()
            .filter(|&&ip| {
                rules
                    .iter()
                    .any(|r| model_sg_rule(r, Some(ip), &[], port, &pls) == Some(true)
                        && !matches!(r.peer, SgPeer::Group(_)))
            })
            .count();
        let unresolved = rules
            .iter()
            .filter(|r| model_sg_rule(r, None, &[], port, &pls).is_none())
            .count();
        prop_assert_eq!(d.allowed, allowed_hosts == hosts.len(), "{:?}", d);
        prop_assert_eq!(d.partial, allowed_hosts > 0 && allowed_hosts < hosts.len(), "{:?}", d);
        prop_assert_eq!(d.unresolved.len(), unresolved);
        // Every rule lands in exactly one list (the rest of `rejected` are
        // the "no inbound rules" lines of empty groups).
        let empty = groups
            .iter()
            .filter(|g| if egress { g.egress.is_empty() } else { g.ingress.is_empty() })
            .count()
            + usize::from(groups.is_empty());
        prop_assert_eq!(
            d.allowed_by.len() + d.rejected.len() + d.unresolved.len(),
            rules.len() + empty
        );
    }
}
