//! Security groups on the path: SG001 endpoint-sg-ingress, SG002
//! client-sg-egress, judged with the evaluator of [`crate::rules`] the way
//! AWS evaluates rules (protocol, port ranges, CIDRs, prefix lists, group
//! references).

use std::net::IpAddr;

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{authorize_sg_egress, authorize_sg_ingress, SgPeerArg};
use crate::facts::{Facts, SecurityGroup, SgPeer};
use crate::read::{
    brief, client_elsewhere, client_error, endpoint_addresses, fact, join, known_client,
    main_endpoint, ok, or_pass_instance_id, prefix_lists, vpc_id, NO_CLIENT, NO_VPC,
};
use crate::rules::{describe_sg_rule, sg_egress, sg_ingress, Peer, SgDecision};

/// When a verdict hangs on prefix lists that could not be read, it is unknown.
fn prefix_list_error(facts: &Facts, decision: &SgDecision) -> Option<Outcome> {
    match &facts.prefix_lists {
        Some(Err(e)) if !decision.allowed && !decision.unresolved.is_empty() => {
            Some(Outcome::unknown(e))
        }
        _ => None,
    }
}

/// The groups named by `ids`, in that order (unknown IDs left out).
fn groups<'a>(all: &'a [SecurityGroup], ids: &[String]) -> Vec<&'a SecurityGroup> {
    ids.iter()
        .filter_map(|id| all.iter().find(|g| &g.group_id == id))
        .collect()
}

pub(crate) const ENDPOINT_SG_INGRESS: Check = Check {
    id: "SG001",
    slug: "endpoint-sg-ingress",
    title: "The endpoint's security groups admit the client on the port",
    needs: &[
        Need::Endpoints,
        Need::SecurityGroups,
        Need::PrefixLists,
        Need::Instance,
        Need::Vpc,
    ],
    explain: explain!("SG001"),
    judge: Some(endpoint_sg_ingress),
};

fn endpoint_sg_ingress(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    client_error(facts)?;
    let endpoint = main_endpoint(facts)?;
    let all = fact(&facts.security_groups, NO_VPC)?;
    let port = facts.inputs.port;
    let attached = groups(all, &endpoint.security_group_ids);
    let group_ids = &endpoint.security_group_ids;
    let first_group = group_ids
        .first()
        .cloned()
        .unwrap_or_else(|| "ENDPOINT_SG_ID".into());
    let lists = prefix_lists(facts);

    // Whom to admit: the known client, or anyone in the VPC's CIDRs.
    let (decision, whom, source, groups_known) = match known_client(facts) {
        Some(c) => {
            let ip = c.private_ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let peer = Peer::Address {
                ip,
                groups: &c.security_group_ids,
            };
            let decision = sg_ingress(&attached, &peer, port, lists);
            let who = match &c.instance_id {
                Some(id) => format!("{id} ({ip})"),
                None => ip.to_string(),
            };
            let source = match c.security_group_ids.first() {
                Some(g) => SgPeerArg::Group(g),
                None => SgPeerArg::from(ip),
            };
            // --client-ip names an address, not its security groups; an
            // instance has at least one, so none means they were not read
            // (the instance metadata did not answer them in their form).
            let groups_known = c.source.knows_groups() && !c.security_group_ids.is_empty();
            (decision, who, source, groups_known)
        }
        None => {
            let nets = &fact(&facts.vpc, NO_VPC)?.cidr_blocks;
            let each: Vec<SgDecision> = nets
                .iter()
                .map(|net| sg_ingress(&attached, &Peer::Network(*net), port, lists))
                .collect();
            let allowed = !each.is_empty() && each.iter().all(|d| d.allowed);
            let decision = SgDecision {
                allowed,
                partial: !allowed && each.iter().any(|d| d.allowed || d.partial),
                allowed_by: each.iter().flat_map(|d| d.allowed_by.clone()).collect(),
                rejected: each.iter().flat_map(|d| d.rejected.clone()).collect(),
                unresolved: each.iter().flat_map(|d| d.unresolved.clone()).collect(),
            };
            let labels: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
            let source = nets
                .first()
                .map_or(SgPeerArg::Placeholder, |n| SgPeerArg::Net(*n));
            let whom = format!("anywhere in {vpc} ({}; client unknown)", join(&labels));
            (decision, whom, source, false)
        }
    };
    if let Some(unknown) = prefix_list_error(facts, &decision) {
        return Ok(unknown);
    }
    let evidence = |o: Outcome| {
        o.with("endpoint_id", &endpoint.endpoint_id)
            .with("security_groups", group_ids)
            .with("allowed_by", &decision.allowed_by)
            .with("rejected", &decision.rejected)
            .with("unresolved", &decision.unresolved)
    };
    let fix = Fix {
        text: format!(
            "Allow inbound TCP {port} from the client on the endpoint's security group (setup guide: \"the security group of your VPC endpoint is not properly set\"):"
        ),
        commands: vec![authorize_sg_ingress(facts, &first_group, port, source)],
    };
    // A client outside the VPC's CIDRs (a peered VPC, a VPN, on premises)
    // passes the group, but its packets and its DNS questions must also
    // reach the VPC: say so rather than pass in silence.
    let outside = known_client(facts)
        .and_then(|c| c.private_ip)
        .zip(ok(&facts.vpc))
        .filter(|(ip, v)| {
            !v.cidr_blocks.is_empty() && !v.cidr_blocks.iter().any(|n| n.contains(ip))
        })
        .map(|(ip, v)| {
            let cidrs: Vec<String> = v.cidr_blocks.iter().map(|n| n.to_string()).collect();
            (ip, cidrs)
        });
    let evidence = |o: Outcome| match &outside {
        Some((_, cidrs)) => evidence(o)
            .with("client_outside_vpc", true)
            .with("vpc_cidrs", cidrs),
        None => evidence(o),
    };
    if decision.allowed {
        if let Some((ip, cidrs)) = &outside {
            return Ok(evidence(Outcome::warn(format!(
                "TCP {port} from {whom} is allowed ({}), but {ip} is outside {vpc} ({}): a client in a peered VPC, over a VPN or on premises also needs routing and DNS forwarding",
                brief(&decision.allowed_by),
                join(cidrs)
            )))
            .with_fix(Fix {
                text: format!(
                    "The security group admits the client, but the path from outside {vpc} needs two more things: routes both ways between the client's network and {} (VPC peering, Transit Gateway or VPN route tables), and DNS: the endpoint's private DNS name answers only inside {vpc}, so the client's resolver must forward the host to a Route 53 Resolver inbound endpoint in {vpc} (or the client must use the endpoint's regional DNS name). If the client is really inside {vpc}, give its own address with --client-ip.",
                    join(cidrs)
                ),
                commands: vec![],
            }));
        }
        return Ok(evidence(Outcome::pass(format!(
            "TCP {port} from {whom} is allowed: {}",
            brief(&decision.allowed_by)
        ))));
    }
    // Rules that name security groups cannot be judged without the client's.
    let group_rules: Vec<String> = attached
        .iter()
        .flat_map(|g| g.ingress.iter().map(move |r| (g, r)))
        .filter_map(|(g, r)| match &r.peer {
            SgPeer::Group(_) => Some(format!("{}: {}", g.group_id, describe_sg_rule(r, false))),
            _ => None,
        })
        .collect();
    let undecidable = decision.partial
        || !decision.unresolved.is_empty()
        || (!groups_known && !group_rules.is_empty());
    if undecidable {
        let why = if decision.partial {
            format!(
                "only part of it is allowed ({})",
                brief(&decision.allowed_by)
            )
        } else if !decision.unresolved.is_empty() {
            brief(&decision.unresolved)
        } else {
            format!(
                "allowed only to members of security groups ({}), and the client's groups are unknown",
                brief(&group_rules)
            )
        };
        return Ok(evidence(Outcome::warn(format!(
            "TCP {port} from {whom}: {why}; run on the client{} to be sure",
            or_pass_instance_id(facts)
        )))
        .with_fix(fix));
    }
    Ok(evidence(Outcome::fail(format!(
        "no rule of {} allows TCP {port} from {whom}: {}",
        join(group_ids),
        brief(&decision.rejected)
    )))
    .with_fix(fix))
}

pub(crate) const CLIENT_SG_EGRESS: Check = Check {
    id: "SG002",
    slug: "client-sg-egress",
    title: "The client's security groups let it out to the endpoint",
    needs: &[
        Need::Instance,
        Need::SecurityGroups,
        Need::PrefixLists,
        Need::NetworkInterfaces,
    ],
    explain: explain!("SG002"),
    judge: Some(client_sg_egress),
};

fn client_sg_egress(facts: &Facts) -> Judged {
    vpc_id(facts)?;
    let client = fact(&facts.client, NO_CLIENT)?;
    client_elsewhere(facts)?;
    if client.security_group_ids.is_empty() {
        return Err(Outcome::skip(format!(
            "the client's security groups are unknown: run tidbpe on the client instance{}",
            or_pass_instance_id(facts)
        )));
    }
    let endpoint = main_endpoint(facts)?;
    let all = fact(&facts.security_groups, NO_VPC)?;
    let targets = endpoint_addresses(facts, endpoint)?;
    let port = facts.inputs.port;
    let attached = groups(all, &client.security_group_ids);
    let lists = prefix_lists(facts);
    let mut blocked = Vec::new();
    let mut allowed_by = Vec::new();
    for target in &targets {
        let ip = target.ip;
        let peer = Peer::Address {
            ip,
            groups: target.security_group_ids,
        };
        let d = sg_egress(&attached, &peer, port, lists);
        if let Some(unknown) = prefix_list_error(facts, &d) {
            return Ok(unknown);
        }
        if d.allowed {
            allowed_by.extend(d.allowed_by);
        } else {
            let mut reasons = d.rejected;
            reasons.extend(d.unresolved);
            blocked.push(format!("{ip}: {}", brief(&reasons)));
        }
    }
    allowed_by.sort();
    allowed_by.dedup();
    let ips: Vec<String> = targets.iter().map(|t| t.ip.to_string()).collect();
    let client_groups = &client.security_group_ids;
    let outcome = if blocked.is_empty() {
        Outcome::pass(format!(
            "outbound TCP {port} to {} is allowed: {}",
            join(&ips),
            brief(&allowed_by)
        ))
    } else {
        let peer = match (endpoint.security_group_ids.first(), targets.first()) {
            (Some(g), _) => SgPeerArg::Group(g),
            (None, Some(t)) => SgPeerArg::from(t.ip),
            (None, None) => SgPeerArg::Placeholder,
        };
        Outcome::fail(format!(
            "no rule of {} allows outbound TCP {port} to {}",
            join(client_groups),
            blocked.join("; ")
        ))
        .with_fix(Fix {
            text: format!(
                "Allow outbound TCP {port} from the client's security group to the endpoint:"
            ),
            commands: vec![authorize_sg_egress(facts, &client_groups[0], port, peer)],
        })
    };
    Ok(outcome
        .with("client_security_groups", client_groups)
        .with("endpoint_ips", ips)
        .with("blocked", blocked))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::{Finding, Status};
    use crate::facts::{Client, ClientSource, Vpc};
    use crate::testing::{
        assert_fail_cases, cidr, client_mut, deny, healthy, set_group, sg_rule, FailCase,
        CLIENT_SG, ENDPOINT_SG,
    };

    /// Changes to the healthy world that make an SG check fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "SG001",
            name: "the endpoint's group admits the client on 3306 only",
            expect: Status::Fail,
            mutate: |f| {
                let rule = sg_rule("tcp", Some((3306, 3306)), SgPeer::Group(CLIENT_SG.into()));
                set_group(f, ENDPOINT_SG, Some(vec![rule]), None)
            },
        },
        FailCase {
            id: "SG001",
            name: "the endpoint's group admits a CIDR without the client",
            expect: Status::Fail,
            mutate: |f| {
                let rule = sg_rule("tcp", Some((4000, 4000)), cidr("10.0.1.0/24"));
                set_group(f, ENDPOINT_SG, Some(vec![rule]), None)
            },
        },
        FailCase {
            id: "SG001",
            name: "the endpoint's group admits UDP only",
            expect: Status::Fail,
            mutate: |f| {
                let rule = sg_rule("udp", Some((4000, 4000)), SgPeer::Group(CLIENT_SG.into()));
                set_group(f, ENDPOINT_SG, Some(vec![rule]), None)
            },
        },
        FailCase {
            id: "SG001",
            name: "the client is in a peered VPC, outside the VPC's CIDRs",
            expect: Status::Warn,
            mutate: |f| {
                let c = client_mut(f);
                c.vpc_id = Some("vpc-0e0e0e0e".into());
                c.private_ip = Some("172.31.0.5".parse().unwrap());
            },
        },
        FailCase {
            id: "SG002",
            name: "the client's group lets out 443 only",
            expect: Status::Fail,
            mutate: |f| {
                let rule = sg_rule("tcp", Some((443, 443)), cidr("0.0.0.0/0"));
                set_group(f, CLIENT_SG, None, Some(vec![rule]))
            },
        },
    ];

    #[test]
    fn sg_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    fn run(check: &Check, f: &Facts) -> Finding {
        check.run(f)
    }

    #[test]
    fn sg001_fail_warn_unknown() {
        let mut f = healthy();
        set_group(
            &mut f,
            ENDPOINT_SG,
            Some(vec![sg_rule(
                "tcp",
                Some((3306, 3306)),
                SgPeer::Group(CLIENT_SG.into()),
            )]),
            None,
        );
        let finding = run(&ENDPOINT_SG_INGRESS, &f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("port 4000 not covered"),
            "{}",
            finding.summary
        );
        let fix = finding.fix.unwrap();
        assert!(fix.commands[0]
            .contains("authorize-security-group-ingress --group-id sg-0000000e --protocol tcp --port 4000 --source-group sg-0000000c"));
        // It cites the setup guide, not a "seed FAQ" (issue 8, item 9).
        assert!(fix.text.contains("(setup guide: "), "{}", fix.text);
        assert!(!fix.text.contains("seed"), "{}", fix.text);

        // Client unknown: a group reference cannot be judged → warn, not fail.
        let mut f = healthy();
        f.client = None;
        assert_eq!(run(&ENDPOINT_SG_INGRESS, &f).status, Status::Warn);
        set_group(
            &mut f,
            ENDPOINT_SG,
            Some(vec![sg_rule(
                "tcp",
                Some((4000, 4000)),
                cidr("10.0.0.0/16"),
            )]),
            None,
        );
        assert_eq!(run(&ENDPOINT_SG_INGRESS, &f).status, Status::Pass);
        set_group(
            &mut f,
            ENDPOINT_SG,
            Some(vec![sg_rule(
                "tcp",
                Some((4000, 4000)),
                cidr("10.0.0.0/17"),
            )]),
            None,
        );
        assert_eq!(
            run(&ENDPOINT_SG_INGRESS, &f).status,
            Status::Warn,
            "part of the VPC"
        );
        set_group(&mut f, ENDPOINT_SG, Some(vec![]), None);
        let none = run(&ENDPOINT_SG_INGRESS, &f);
        assert_eq!(none.status, Status::Fail);
        assert!(none.fix.unwrap().commands[0]
            .contains("--group-id sg-0000000e --protocol tcp --port 4000 --cidr 10.0.0.0/16 "));

        let mut f = healthy();
        deny(&mut f, Need::SecurityGroups);
        assert_eq!(run(&ENDPOINT_SG_INGRESS, &f).status, Status::Unknown);

        // A prefix list that could not be read leaves the verdict unknown.
        let mut f = healthy();
        set_group(
            &mut f,
            ENDPOINT_SG,
            Some(vec![sg_rule(
                "tcp",
                Some((4000, 4000)),
                SgPeer::PrefixList("pl-00000001".into()),
            )]),
            None,
        );
        deny(&mut f, Need::PrefixLists);
        assert_eq!(run(&ENDPOINT_SG_INGRESS, &f).status, Status::Unknown);
    }

    #[test]
    fn sg001_client_ip_behind_a_group_rule_warns() {
        let mut f = healthy();
        f.client = Some(Ok(Client {
            source: ClientSource::ClientIp,
            private_ip: Some("10.0.10.4".parse().unwrap()),
            ..Client::default()
        }));
        let finding = run(&ENDPOINT_SG_INGRESS, &f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding.summary.contains("client's groups are unknown"),
            "{}",
            finding.summary
        );
        // Its fix names the address, not a group.
        assert!(finding.fix.unwrap().commands[0].contains("--cidr 10.0.10.4/32 "));

        // An instance whose groups were not read (IMDS answered them in no
        // form the doctor accepts) is no better known.
        let mut f = healthy();
        crate::testing::client_mut(&mut f)
            .security_group_ids
            .clear();
        let finding = run(&ENDPOINT_SG_INGRESS, &f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
    }

    /// A client address outside the VPC's CIDRs is a warning that names
    /// routing and DNS forwarding, not a silent pass; denied by the group,
    /// it still fails.
    #[test]
    fn sg001_client_outside_the_vpc_warns_about_routing_and_dns() {
        let mut f = healthy();
        f.client = Some(Ok(Client {
            source: ClientSource::ClientIp,
            private_ip: Some("192.168.7.9".parse().unwrap()),
            ..Client::default()
        }));
        set_group(
            &mut f,
            ENDPOINT_SG,
            Some(vec![sg_rule("tcp", Some((4000, 4000)), cidr("0.0.0.0/0"))]),
            None,
        );
        let finding = run(&ENDPOINT_SG_INGRESS, &f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding
                .summary
                .contains("192.168.7.9 is outside vpc-0a1b2c3d (10.0.0.0/16)")
                && finding.summary.contains("routing and DNS forwarding"),
            "{}",
            finding.summary
        );
        assert_eq!(finding.evidence["client_outside_vpc"], true);
        assert!(finding
            .fix
            .unwrap()
            .text
            .contains("Resolver inbound endpoint"));
        // Inside the VPC: a pass, as before.
        client_mut(&mut f).private_ip = Some("10.0.10.4".parse().unwrap());
        assert_eq!(run(&ENDPOINT_SG_INGRESS, &f).status, Status::Pass);
        // Outside and not admitted: a fail, with the evidence.
        client_mut(&mut f).private_ip = Some("192.168.7.9".parse().unwrap());
        set_group(&mut f, ENDPOINT_SG, Some(vec![]), None);
        let finding = run(&ENDPOINT_SG_INGRESS, &f);
        assert_eq!(finding.status, Status::Fail);
        assert_eq!(finding.evidence["client_outside_vpc"], true);
        // The VPC's CIDRs unknown: the group's verdict stands.
        let mut f = healthy();
        client_mut(&mut f).private_ip = Some("192.168.7.9".parse().unwrap());
        deny(&mut f, Need::Vpc);
        assert_eq!(run(&ENDPOINT_SG_INGRESS, &f).status, Status::Pass);
    }

    #[test]
    fn sg001_unknown_client_with_several_vpc_cidrs_is_partial_in_any_order() {
        for cidrs in [
            ["10.0.0.0/16", "10.1.0.0/16"],
            ["10.1.0.0/16", "10.0.0.0/16"],
        ] {
            let mut f = healthy();
            f.client = None;
            f.vpc = Some(Ok(Vpc {
                vpc_id: "vpc-0a1b2c3d".into(),
                cidr_blocks: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
                dhcp_options_id: None,
            }));
            set_group(
                &mut f,
                ENDPOINT_SG,
                Some(vec![sg_rule(
                    "tcp",
                    Some((4000, 4000)),
                    cidr("10.0.0.0/16"),
                )]),
                None,
            );
            assert_eq!(
                run(&ENDPOINT_SG_INGRESS, &f).status,
                Status::Warn,
                "{cidrs:?}"
            );
        }
    }

    #[test]
    fn sg002_fail_skip_unknown() {
        let mut f = healthy();
        set_group(
            &mut f,
            CLIENT_SG,
            None,
            Some(vec![sg_rule("tcp", Some((443, 443)), cidr("0.0.0.0/0"))]),
        );
        let finding = run(&CLIENT_SG_EGRESS, &f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.fix.unwrap().commands[0].contains(
            "authorize-security-group-egress --group-id sg-0000000c --ip-permissions 'IpProtocol=tcp,FromPort=4000,ToPort=4000,UserIdGroupPairs=[{GroupId=sg-0000000e}]'"
        ));
        let mut f = healthy();
        f.client = Some(Ok(Client {
            source: ClientSource::ClientIp,
            private_ip: Some("10.0.10.4".parse().unwrap()),
            ..Client::default()
        }));
        assert_eq!(run(&CLIENT_SG_EGRESS, &f).status, Status::Skip);
        let mut f = healthy();
        deny(&mut f, Need::NetworkInterfaces);
        assert_eq!(run(&CLIENT_SG_EGRESS, &f).status, Status::Unknown);
    }

    #[test]
    fn sg002_client_in_another_vpc_skips() {
        let mut f = healthy();
        client_mut(&mut f).vpc_id = Some("vpc-0e0e0e0e".into());
        let finding = run(&CLIENT_SG_EGRESS, &f);
        assert_eq!(finding.status, Status::Skip);
        assert!(
            finding.summary.contains("vpc-0e0e0e0e"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn sg002_an_endpoint_without_groups_gets_an_address_rule() {
        let mut f = healthy();
        crate::testing::endpoint_mut(&mut f).security_group_ids = vec![];
        set_group(&mut f, CLIENT_SG, None, Some(vec![]));
        let finding = run(&CLIENT_SG_EGRESS, &f);
        assert!(finding.fix.unwrap().commands[0]
            .contains("ToPort=4000,IpRanges=[{CidrIp=10.0.1.10/32}]'"));
    }
}
