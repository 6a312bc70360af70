//! Network ACLs on the path: ACL001 endpoint-subnet-acl, ACL002
//! client-subnet-acl. ACLs are stateless and evaluated in rule-number order
//! ([`crate::rules::nacl_decide`]): each leg (the port one way, the
//! ephemeral ports back) is judged on its own.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::create_network_acl_entry;
use crate::facts::{AclEntry, Facts, NetworkAcl};
use crate::read::{
    brief, client_elsewhere, client_error, endpoint_addresses, fact, join, known_client,
    main_endpoint, vpc_id, NO_CLIENT, NO_VPC,
};
use crate::rules::{free_rule_number, nacl_decide, ACL_FINAL_RULE};

/// Ephemeral ports a client's replies come back to when the client is not
/// known (AWS's advice for a mix of clients).
const EPHEMERAL: (u16, u16) = (1024, 65535);
/// Linux's default `ip_local_port_range`.
const LINUX: (u16, u16) = (32768, 60999);
/// Windows' default dynamic port range (Vista / Server 2008 and later).
const WINDOWS: (u16, u16) = (49152, 65535);

/// The ACL that governs a subnet: its association, else the VPC's default.
fn acl_of<'a>(acls: &'a [NetworkAcl], subnet_id: &str) -> Option<&'a NetworkAcl> {
    acls.iter()
        .find(|a| a.subnet_ids.iter().any(|s| s == subnet_id))
        .or_else(|| acls.iter().find(|a| a.is_default))
}

/// The ports replies go back to: the client's own range, read on the
/// instance, or, elsewhere, 1024–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReturnPorts {
    /// The client's `ip_local_port_range`.
    Client((u16, u16)),
    /// Unknown: judged against 1024–65535; a narrower range that still
    /// covers Linux's default only warns.
    Any,
}

impl ReturnPorts {
    fn of(range: Option<(u16, u16)>) -> Self {
        range.map_or(ReturnPorts::Any, ReturnPorts::Client)
    }

    fn ports(self) -> (u16, u16) {
        match self {
            ReturnPorts::Client(range) => range,
            ReturnPorts::Any => EPHEMERAL,
        }
    }

    /// "ports 1024-65535", "ports 32768-60999 (the client's)".
    fn label(self) -> String {
        let (lo, hi) = self.ports();
        match self {
            ReturnPorts::Client(_) => format!("ports {lo}-{hi} (the client's)"),
            ReturnPorts::Any => format!("ports {lo}-{hi}"),
        }
    }
}

/// One leg of the path through one ACL.
struct Leg {
    egress: bool,
    peer: IpNet,
    ports: (u16, u16),
    /// The return leg of an unknown client: Linux's range passing is a
    /// warning, not a failure.
    lenient: bool,
}

/// What blocks one leg: a summary, the command that opens it, and whether
/// it only breaks some clients (a warning).
struct Problem {
    summary: String,
    command: String,
    warn: bool,
}

/// Judge the legs of each ACL once: the problems and the ACLs that passed.
/// Rule numbers handed out are not handed out again.
fn judge_acls(
    acls: &[(&NetworkAcl, Vec<String>)],
    legs: &[Leg],
    facts: &Facts,
) -> (Vec<Problem>, Vec<String>) {
    let mut problems = Vec::new();
    let mut passed = Vec::new();
    for (acl, subnets) in acls {
        let mut taken: BTreeSet<(bool, i32)> = BTreeSet::new();
        let before = problems.len();
        for leg in legs {
            let decision = nacl_decide(acl, leg.egress, leg.peer, leg.ports);
            let Some(block) = decision.blocked_by else {
                continue;
            };
            let allows = |range| nacl_decide(acl, leg.egress, leg.peer, range).allowed;
            // Which clients the narrower range breaks, when Linux's passes.
            let warn = leg.lenient && allows(LINUX);
            let mut summary = format!("{}: {}", acl.network_acl_id, block.description);
            if warn {
                let broken = if allows(WINDOWS) {
                    "clients whose ports lie elsewhere in 1024-65535 (NAT, older or tuned systems)"
                        .to_string()
                } else {
                    format!("Windows clients ({}-{})", WINDOWS.0, WINDOWS.1)
                };
                summary.push_str(&format!(
                    " (Linux clients, {}-{}, get their replies; {broken} would not)",
                    LINUX.0, LINUX.1
                ));
            }
            let mut candidate: NetworkAcl = (*acl).clone();
            // Keep numbers suggested for earlier legs out of the next pick.
            for (egress, n) in &taken {
                candidate.entries.push(AclEntry {
                    rule_number: *n,
                    egress: *egress,
                    protocol: "6".into(),
                    allow: true,
                    cidr: leg.peer,
                    port_range: Some((0, 0)),
                });
            }
            // The final `*` deny (32767, listed by AWS) blocks what nothing
            // allows: any free number does, the usual 100, 110, … read best.
            let before = block.rule_number.filter(|&n| n < ACL_FINAL_RULE);
            let number = free_rule_number(&candidate, leg.egress, before);
            if let Some(n) = number {
                taken.insert((leg.egress, n));
            }
            // A return leg is opened for 1024-65535 whatever was judged: it
            // covers every client and undoes nothing.
            let ports = if leg.ports.0 == leg.ports.1 {
                leg.ports
            } else {
                EPHEMERAL
            };
            let command = create_network_acl_entry(
                facts,
                &acl.network_acl_id,
                leg.egress,
                number,
                ports,
                leg.peer,
            );
            problems.push(Problem {
                summary,
                command,
                warn,
            });
        }
        if problems.len() == before {
            passed.push(format!("{} ({})", acl.network_acl_id, subnets.join(", ")));
        }
    }
    (problems, passed)
}

/// Group subnets by the ACL that governs them, in first-seen order.
fn acls_of<'a>(
    acls: &'a [NetworkAcl],
    subnets: impl Iterator<Item = &'a str>,
) -> Vec<(&'a NetworkAcl, Vec<String>)> {
    let mut out: Vec<(&NetworkAcl, Vec<String>)> = Vec::new();
    for subnet in subnets {
        let Some(acl) = acl_of(acls, subnet) else {
            continue;
        };
        match out
            .iter_mut()
            .find(|(a, _)| a.network_acl_id == acl.network_acl_id)
        {
            Some((_, list)) => {
                if !list.iter().any(|s| s == subnet) {
                    list.push(subnet.to_string());
                }
            }
            None => out.push((acl, vec![subnet.to_string()])),
        }
    }
    out
}

fn acl_outcome(problems: Vec<Problem>, passed: Vec<String>, what: &str) -> Outcome {
    if problems.is_empty() {
        return Outcome::pass(format!("{what}: {}", join(&passed)));
    }
    let warn_only = problems.iter().all(|p| p.warn);
    let (summaries, commands): (Vec<String>, Vec<String>) =
        problems.into_iter().map(|p| (p.summary, p.command)).unzip();
    let outcome = if warn_only {
        Outcome::warn(brief(&summaries)).with_fix(Fix {
            text: "Replies go back to the client's ephemeral port, and network ACLs are stateless: allow 1024-65535 back (AWS's advice when clients differ) with a number below the blocking one. Linux clients with the default range work as it is.".into(),
            commands,
        })
    } else {
        Outcome::fail(brief(&summaries)).with_fix(Fix {
            text: "Network ACLs are stateless and evaluated in rule-number order: add an allow entry with a number below the blocking one.".into(),
            commands,
        })
    };
    outcome.with("blocked", &summaries)
}

pub(crate) const ENDPOINT_SUBNET_ACL: Check = Check {
    id: "ACL001",
    slug: "endpoint-subnet-acl",
    title: "Network ACLs of the endpoint's subnets pass the traffic both ways",
    needs: &[
        Need::Endpoints,
        Need::NetworkAcls,
        Need::Instance,
        Need::Vpc,
    ],
    explain: explain!("ACL001"),
    judge: Some(endpoint_subnet_acl),
};

fn endpoint_subnet_acl(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    client_error(facts)?;
    let endpoint = main_endpoint(facts)?;
    let acls = fact(&facts.network_acls, NO_VPC)?;
    let port = facts.inputs.port;
    let client = known_client(facts);
    let peers: Vec<IpNet> = match client.and_then(|c| c.private_ip) {
        Some(ip) => vec![IpNet::from(ip)],
        None => fact(&facts.vpc, NO_VPC)?.cidr_blocks.clone(),
    };
    // Traffic inside one subnet never crosses its network ACL.
    let client_subnet = client.and_then(|c| c.subnet_id.as_deref());
    let governed = acls_of(
        acls,
        endpoint
            .subnet_ids
            .iter()
            .map(String::as_str)
            .filter(|s| Some(*s) != client_subnet),
    );
    if governed.is_empty() {
        return Err(Outcome::skip(format!(
            "no network ACL lies between the client and {}",
            endpoint.endpoint_id
        )));
    }
    let back = ReturnPorts::of(client.and_then(|c| c.local_port_range));
    let legs: Vec<Leg> = peers
        .iter()
        .flat_map(|peer| {
            [
                Leg {
                    egress: false,
                    peer: *peer,
                    ports: (port, port),
                    lenient: false,
                },
                Leg {
                    egress: true,
                    peer: *peer,
                    ports: back.ports(),
                    lenient: back == ReturnPorts::Any,
                },
            ]
        })
        .collect();
    let (problems, passed) = judge_acls(&governed, &legs, facts);
    let whom = match client.and_then(|c| c.private_ip) {
        Some(ip) => ip.to_string(),
        None => format!("anywhere in {vpc} (client unknown)"),
    };
    Ok(acl_outcome(
        problems,
        passed,
        &format!(
            "TCP {port} in from {whom} and {} back out are allowed by",
            back.label()
        ),
    )
    .with("endpoint_subnets", &endpoint.subnet_ids)
    .with("client", whom))
}

pub(crate) const CLIENT_SUBNET_ACL: Check = Check {
    id: "ACL002",
    slug: "client-subnet-acl",
    title: "The network ACL of the client's subnet passes the traffic both ways",
    needs: &[Need::Instance, Need::NetworkAcls, Need::NetworkInterfaces],
    explain: explain!("ACL002"),
    judge: Some(client_subnet_acl),
};

fn client_subnet_acl(facts: &Facts) -> Judged {
    vpc_id(facts)?;
    let client = fact(&facts.client, NO_CLIENT)?;
    client_elsewhere(facts)?;
    let Some(subnet) = &client.subnet_id else {
        return Err(Outcome::skip(
            "the client's subnet is unknown: run tidbpe on the client instance, or pass --instance-id",
        ));
    };
    let endpoint = main_endpoint(facts)?;
    let acls = fact(&facts.network_acls, NO_VPC)?;
    let addresses = endpoint_addresses(facts, endpoint)?;
    let port = facts.inputs.port;
    let governed = acls_of(acls, std::iter::once(subnet.as_str()));
    let Some((acl, _)) = governed.first() else {
        return Err(Outcome::skip(format!("no network ACL governs {subnet}")));
    };
    // Interfaces in the client's own subnet are reached without crossing the ACL.
    let targets: Vec<IpAddr> = addresses
        .iter()
        .filter(|a| a.subnet_id != subnet)
        .map(|a| a.ip)
        .collect();
    if targets.is_empty() {
        return Err(Outcome::skip(format!(
            "every interface of {} is in the client's subnet {subnet}: no network ACL between them",
            endpoint.endpoint_id
        )));
    }
    let back = ReturnPorts::of(client.local_port_range);
    let legs: Vec<Leg> = targets
        .iter()
        .flat_map(|ip| {
            [
                Leg {
                    egress: true,
                    peer: IpNet::from(*ip),
                    ports: (port, port),
                    lenient: false,
                },
                Leg {
                    egress: false,
                    peer: IpNet::from(*ip),
                    ports: back.ports(),
                    lenient: back == ReturnPorts::Any,
                },
            ]
        })
        .collect();
    let (problems, passed) = judge_acls(&governed, &legs, facts);
    let labels: Vec<String> = targets.iter().map(|ip| ip.to_string()).collect();
    Ok(acl_outcome(
        problems,
        passed,
        &format!(
            "TCP {port} out to {} and {} back in are allowed by",
            join(&labels),
            back.label()
        ),
    )
    .with("client_subnet", subnet)
    .with("network_acl_id", &acl.network_acl_id)
    .with("endpoint_ips", labels))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{
        acl, acl_entry, allow_all, assert_fail_cases, client_mut, deny, healthy, FailCase,
        CLIENT_SUBNET, ENDPOINT_SUBNET,
    };

    /// The endpoint's subnet gets its own ACL with `entries`.
    fn endpoint_subnet_acl(f: &mut Facts, entries: Vec<AclEntry>) {
        f.network_acls = Some(Ok(vec![
            acl("acl-00000001", &[], allow_all()),
            acl("acl-0000000b", &[ENDPOINT_SUBNET], entries),
        ]));
    }

    /// The client's subnet gets its own ACL with `entries`.
    fn client_subnet_acl(f: &mut Facts, entries: Vec<AclEntry>) {
        f.network_acls = Some(Ok(vec![
            acl("acl-00000001", &[], allow_all()),
            acl("acl-0000000d", &[CLIENT_SUBNET], entries),
        ]));
    }

    /// Changes to the healthy world that make an ACL check fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "ACL001",
            name: "the endpoint subnet denies 4000 in before allowing all",
            expect: Status::Fail,
            mutate: |f| {
                endpoint_subnet_acl(
                    f,
                    vec![
                        acl_entry(90, false, false, "6", Some((4000, 4000))),
                        acl_entry(100, false, true, "-1", None),
                        acl_entry(100, true, true, "-1", None),
                    ],
                )
            },
        },
        FailCase {
            id: "ACL001",
            name: "the endpoint subnet lets no reply out",
            expect: Status::Fail,
            mutate: |f| {
                endpoint_subnet_acl(
                    f,
                    vec![
                        acl_entry(100, false, true, "-1", None),
                        acl_entry(100, true, true, "6", Some((443, 443))),
                    ],
                )
            },
        },
        FailCase {
            id: "ACL002",
            name: "the client subnet lets no reply in",
            expect: Status::Fail,
            mutate: |f| {
                client_subnet_acl(
                    f,
                    vec![
                        acl_entry(100, true, true, "-1", None),
                        acl_entry(100, false, true, "6", Some((22, 22))),
                    ],
                )
            },
        },
        FailCase {
            id: "ACL002",
            name: "the client subnet denies everything out",
            expect: Status::Fail,
            mutate: |f| {
                client_subnet_acl(
                    f,
                    vec![
                        acl_entry(100, true, false, "-1", None),
                        acl_entry(100, false, true, "-1", None),
                    ],
                )
            },
        },
    ];

    #[test]
    fn acl_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn acl001_fail_unknown_and_same_subnet() {
        let mut f = healthy();
        endpoint_subnet_acl(
            &mut f,
            vec![
                acl_entry(90, false, false, "6", Some((4000, 4000))),
                acl_entry(100, false, true, "-1", None),
                acl_entry(100, true, true, "-1", None),
            ],
        );
        let finding = ENDPOINT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.summary.contains("rule 90"), "{}", finding.summary);
        let cmd = &finding.fix.unwrap().commands[0];
        assert!(
            cmd.contains("--network-acl-id acl-0000000b --ingress --rule-number 80 --protocol tcp --port-range From=4000,To=4000 --cidr-block 10.0.10.4/32 --rule-action allow"),
            "{cmd}"
        );
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Pass);

        // The client in the endpoint's subnet: no ACL between them.
        client_mut(&mut f).subnet_id = Some(ENDPOINT_SUBNET.into());
        assert_eq!(ENDPOINT_SUBNET_ACL.run(&f).status, Status::Skip);

        let mut f = healthy();
        deny(&mut f, Need::NetworkAcls);
        assert_eq!(ENDPOINT_SUBNET_ACL.run(&f).status, Status::Unknown);
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Unknown);
    }

    /// Blocked by the final `*` rule as AWS lists it (32767): the numbers
    /// suggested are the usual ones, not 32757.
    #[test]
    fn acl002_a_block_by_the_listed_final_rule_gets_a_usual_number() {
        let mut f = healthy();
        client_subnet_acl(
            &mut f,
            vec![
                acl_entry(100, true, true, "-1", None),
                acl_entry(100, false, true, "6", Some((22, 22))),
                acl_entry(32767, false, false, "-1", None),
                acl_entry(32767, true, false, "-1", None),
            ],
        );
        let commands = CLIENT_SUBNET_ACL.run(&f).fix.unwrap().commands;
        assert!(commands[0].contains("--rule-number 110 "), "{commands:?}");
    }

    /// Two legs blocked in one ACL get two distinct free rule numbers.
    #[test]
    fn acl001_suggested_rule_numbers_do_not_collide() {
        let mut f = healthy();
        endpoint_subnet_acl(
            &mut f,
            vec![
                acl_entry(100, false, false, "-1", None),
                acl_entry(100, true, false, "-1", None),
            ],
        );
        let commands = ENDPOINT_SUBNET_ACL.run(&f).fix.unwrap().commands;
        assert_eq!(commands.len(), 2, "{commands:?}");
        assert!(
            commands[0].contains("--ingress --rule-number"),
            "{commands:?}"
        );
        assert!(
            commands[1].contains("--egress --rule-number"),
            "{commands:?}"
        );
    }

    #[test]
    fn acl002_needs_the_ephemeral_return_range() {
        let mut f = healthy();
        client_subnet_acl(
            &mut f,
            vec![
                acl_entry(100, true, true, "-1", None),
                acl_entry(100, false, true, "6", Some((22, 22))),
            ],
        );
        let finding = CLIENT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.fix.unwrap().commands[0].contains("--ingress --rule-number"));
        assert_eq!(ENDPOINT_SUBNET_ACL.run(&f).status, Status::Pass);
        f.client = None;
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Skip);
    }

    /// An ACL that lets replies back only to Linux's default range: the
    /// client's own range is judged on the instance; elsewhere it is a
    /// warning naming the clients it breaks (issue 8, item 12).
    #[test]
    fn acl002_return_ports_are_the_clients_real_ones() {
        let linux_only = |f: &mut Facts, ports: (u16, u16)| {
            client_subnet_acl(
                f,
                vec![
                    acl_entry(100, true, true, "-1", None),
                    acl_entry(100, false, true, "6", Some(ports)),
                ],
            )
        };
        let mut f = healthy();
        linux_only(&mut f, (32768, 60999));
        let finding = CLIENT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding
                .summary
                .contains("Windows clients (49152-65535) would not"),
            "{}",
            finding.summary
        );
        let fix = finding.fix.unwrap();
        assert!(
            fix.commands[0].contains("--ingress --rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.0.1.10/32"),
            "{:?}",
            fix.commands
        );
        // Linux's and Windows' ranges, not the rest: others would break.
        linux_only(&mut f, (32768, 65535));
        let finding = CLIENT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Warn);
        assert!(
            finding.summary.contains("elsewhere in 1024-65535"),
            "{}",
            finding.summary
        );
        // Windows' range only: Linux clients break, a failure.
        linux_only(&mut f, (49152, 65535));
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Fail);
        // On the instance its own range is judged.
        linux_only(&mut f, (32768, 60999));
        client_mut(&mut f).local_port_range = Some((32768, 60999));
        let finding = CLIENT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(
            finding
                .summary
                .contains("ports 32768-60999 (the client's) back in"),
            "{}",
            finding.summary
        );
        client_mut(&mut f).local_port_range = Some((1024, 65535));
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Fail);
    }

    #[test]
    fn acl001_return_ports_are_the_clients_real_ones() {
        let mut f = healthy();
        endpoint_subnet_acl(
            &mut f,
            vec![
                acl_entry(100, false, true, "-1", None),
                acl_entry(100, true, true, "6", Some((32768, 60999))),
            ],
        );
        let finding = ENDPOINT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding.summary.contains("Windows clients"),
            "{}",
            finding.summary
        );
        assert!(finding.fix.unwrap().commands[0].contains("--egress --rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block 10.0.10.4/32"));
        client_mut(&mut f).local_port_range = Some((32768, 60999));
        assert_eq!(ENDPOINT_SUBNET_ACL.run(&f).status, Status::Pass);
        // A port blocked on the way in still fails, whatever comes back.
        endpoint_subnet_acl(
            &mut f,
            vec![
                acl_entry(100, false, true, "6", Some((22, 22))),
                acl_entry(100, true, true, "6", Some((32768, 60999))),
            ],
        );
        client_mut(&mut f).local_port_range = None;
        let finding = ENDPOINT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert_eq!(finding.fix.unwrap().commands.len(), 2);
    }

    #[test]
    fn acl002_skips_when_the_endpoint_shares_the_client_subnet() {
        let mut f = healthy();
        client_mut(&mut f).subnet_id = Some(ENDPOINT_SUBNET.into());
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Skip);
    }

    #[test]
    fn acl002_client_in_another_vpc_skips() {
        let mut f = healthy();
        client_mut(&mut f).vpc_id = Some("vpc-0e0e0e0e".into());
        let finding = CLIENT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Skip);
        assert!(
            finding.summary.contains("vpc-0e0e0e0e"),
            "{}",
            finding.summary
        );
    }
}
