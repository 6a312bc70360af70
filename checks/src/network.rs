//! The network path: SG001 endpoint-sg-ingress, SG002 client-sg-egress,
//! ACL001 endpoint-subnet-acl, ACL002 client-subnet-acl, judged with the
//! evaluator of [`crate::rules`]; and the probes DNS001, DNS002, NET001,
//! NET002 (not implemented yet).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::facts::{Client, Endpoint, Facts, NetworkAcl, PrefixList, SecurityGroup};
use crate::placement::NO_CLIENT;
use crate::rules::{free_rule_number, nacl_decide, sg_egress, sg_ingress, Peer, SgDecision};
use crate::support::{fact, join, main_endpoint, region_flag, vpc_id, NO_VPC};
use crate::{explain, Check, Fix, Judged, Need, Outcome};

/// Ephemeral ports a client's replies come back to (AWS's recommendation).
const EPHEMERAL: (u16, u16) = (1024, 65535);

/// The client as a known machine, if its address is known.
fn known_client(facts: &Facts) -> Option<&Client> {
    facts
        .client
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .filter(|c| c.private_ip.is_some())
}

fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// Prefix lists, or the reason they are not known (only matters when a rule names one).
fn prefix_lists(facts: &Facts) -> &[PrefixList] {
    facts
        .prefix_lists
        .as_ref()
        .and_then(|p| p.as_ref().ok())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// When a verdict hangs on prefix lists that could not be read, it is unknown.
fn prefix_list_error(facts: &Facts, decision: &SgDecision) -> Option<Outcome> {
    match &facts.prefix_lists {
        Some(Err(e)) if !decision.allowed && !decision.unresolved.is_empty() => {
            Some(Outcome::unknown(e))
        }
        _ => None,
    }
}

fn groups<'a>(all: &'a [SecurityGroup], ids: &[String]) -> Vec<&'a SecurityGroup> {
    ids.iter()
        .filter_map(|id| all.iter().find(|g| &g.group_id == id))
        .collect()
}

/// A security group of the VPC that admits the client on the port, for the
/// pre-flight create command.
pub(crate) fn group_admitting_client(facts: &Facts) -> Option<String> {
    let all = facts.security_groups.as_ref()?.as_ref().ok()?;
    let port = facts.inputs.port;
    let lists = prefix_lists(facts);
    let vpc_nets: Vec<IpNet> = facts
        .vpc
        .as_ref()
        .and_then(|v| v.as_ref().ok())
        .map(|v| v.cidr_blocks.clone())
        .unwrap_or_default();
    let client = known_client(facts);
    all.iter()
        .find(|g| match client {
            Some(c) => c.private_ip.is_some_and(|ip| {
                sg_ingress(
                    &[g],
                    &Peer::Address {
                        ip,
                        groups: &c.security_group_ids,
                    },
                    port,
                    lists,
                )
                .allowed
            }),
            None => {
                !vpc_nets.is_empty()
                    && vpc_nets
                        .iter()
                        .all(|net| sg_ingress(&[g], &Peer::Network(*net), port, lists).allowed)
            }
        })
        .map(|g| g.group_id.clone())
}

pub(crate) const ENDPOINT_SG_INGRESS: Check = Check {
    id: "SG001",
    slug: "endpoint-sg-ingress",
    title: "The endpoint's security groups admit the client on the port",
    needs: &[Need::Endpoints, Need::SecurityGroups, Need::PrefixLists],
    explain: explain!("SG001"),
    judge: Some(endpoint_sg_ingress),
};

fn endpoint_sg_ingress(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let endpoint = main_endpoint(facts)?;
    let all = fact(&facts.security_groups, NO_VPC)?;
    let port = facts.inputs.port;
    let attached = groups(all, &endpoint.security_group_ids);
    let group_ids = &endpoint.security_group_ids;
    let first_group = group_ids
        .first()
        .cloned()
        .unwrap_or_else(|| "<endpoint-sg>".into());
    let lists = prefix_lists(facts);

    let (decision, whom, source_flag) = match known_client(facts) {
        Some(c) => {
            let ip = c.private_ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let decision = sg_ingress(
                &attached,
                &Peer::Address {
                    ip,
                    groups: &c.security_group_ids,
                },
                port,
                lists,
            );
            let who = match &c.instance_id {
                Some(id) => format!("{id} ({ip})"),
                None => ip.to_string(),
            };
            let flag = match c.security_group_ids.first() {
                Some(g) => format!("--source-group {g}"),
                None => format!("--cidr {}", host_net(ip)),
            };
            (decision, who, flag)
        }
        None => {
            let v = fact(&facts.vpc, NO_VPC)?;
            let nets = &v.cidr_blocks;
            let mut decision = SgDecision {
                allowed: !nets.is_empty(),
                ..SgDecision::default()
            };
            for net in nets {
                let d = sg_ingress(&attached, &Peer::Network(*net), port, lists);
                decision.allowed &= d.allowed;
                decision.partial |= d.partial || (d.allowed != decision.allowed);
                decision.allowed_by.extend(d.allowed_by);
                decision.rejected.extend(d.rejected);
                decision.unresolved.extend(d.unresolved);
            }
            let labels: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
            let flag = format!("--cidr {}", labels.first().cloned().unwrap_or_default());
            (
                decision,
                format!("anywhere in {vpc} ({}; client unknown)", join(&labels)),
                flag,
            )
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
            "Allow inbound TCP {port} from the client on the endpoint's security group (seed FAQ: \"the security group of your VPC endpoint is not properly set\"):"
        ),
        commands: vec![format!(
            "aws ec2 authorize-security-group-ingress --group-id {first_group} --protocol tcp --port {port} {source_flag} {}",
            region_flag(facts)
        )],
    };
    if decision.allowed {
        return Ok(evidence(Outcome::pass(format!(
            "TCP {port} from {whom} is allowed: {}",
            join(&decision.allowed_by)
        ))));
    }
    let known = known_client(facts).is_some();
    if !known && (decision.partial || !decision.unresolved.is_empty()) {
        let why = if decision.partial {
            format!(
                "only part of it is allowed ({})",
                join(&decision.allowed_by)
            )
        } else {
            join(&decision.unresolved)
        };
        return Ok(evidence(Outcome::warn(format!(
            "TCP {port} from {whom}: {why}; run on the client or pass --instance-id to be sure"
        )))
        .with_fix(fix));
    }
    let mut reasons = decision.rejected.clone();
    reasons.extend(decision.unresolved.iter().cloned());
    Ok(evidence(Outcome::fail(format!(
        "no rule of {} allows TCP {port} from {whom}: {}",
        join(group_ids),
        join(&reasons)
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
    if client.security_group_ids.is_empty() {
        return Err(Outcome::skip(
            "the client's security groups are unknown: run tidbpe on the client instance, or pass --instance-id",
        ));
    }
    let endpoint = main_endpoint(facts)?;
    let all = fact(&facts.security_groups, NO_VPC)?;
    let interfaces = fact(
        &facts.endpoint_interfaces,
        "the endpoint's network interfaces were not looked up",
    )?;
    let port = facts.inputs.port;
    let attached = groups(all, &client.security_group_ids);
    let lists = prefix_lists(facts);
    let targets: Vec<(IpAddr, &[String])> = interfaces
        .iter()
        .filter(|n| {
            endpoint
                .network_interface_ids
                .contains(&n.network_interface_id)
        })
        .filter_map(|n| Some((n.private_ip?, n.security_group_ids.as_slice())))
        .collect();
    if targets.is_empty() {
        return Err(Outcome::skip(format!(
            "{} has no network interface with an address yet",
            endpoint.endpoint_id
        )));
    }
    let mut blocked = Vec::new();
    let mut allowed_by = Vec::new();
    for (ip, groups) in &targets {
        let d = sg_egress(&attached, &Peer::Address { ip: *ip, groups }, port, lists);
        if let Some(unknown) = prefix_list_error(facts, &d) {
            return Ok(unknown);
        }
        if d.allowed {
            allowed_by.extend(d.allowed_by);
        } else {
            let mut reasons = d.rejected;
            reasons.extend(d.unresolved);
            blocked.push(format!("{ip}: {}", join(&reasons)));
        }
    }
    allowed_by.sort();
    allowed_by.dedup();
    let ips: Vec<String> = targets.iter().map(|(ip, _)| ip.to_string()).collect();
    let client_groups = &client.security_group_ids;
    let outcome = if blocked.is_empty() {
        Outcome::pass(format!(
            "outbound TCP {port} to {} is allowed: {}",
            join(&ips),
            join(&allowed_by)
        ))
    } else {
        let peer = endpoint
            .security_group_ids
            .first()
            .map(|g| format!("UserIdGroupPairs=[{{GroupId={g}}}]"))
            .unwrap_or_else(|| format!("IpRanges=[{{CidrIp={}}}]", host_net(targets[0].0)));
        Outcome::fail(format!(
            "no rule of {} allows outbound TCP {port} to {}",
            join(client_groups),
            join(&blocked)
        ))
        .with_fix(Fix {
            text: format!("Allow outbound TCP {port} from the client's security group to the endpoint:"),
            commands: vec![format!(
                "aws ec2 authorize-security-group-egress --group-id {} --ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},{peer}' {}",
                client_groups[0],
                region_flag(facts)
            )],
        })
    };
    Ok(outcome
        .with("client_security_groups", client_groups)
        .with("endpoint_ips", ips)
        .with("blocked", blocked))
}

/// The ACL that governs a subnet: its association, else the VPC's default.
fn acl_of<'a>(acls: &'a [NetworkAcl], subnet_id: &str) -> Option<&'a NetworkAcl> {
    acls.iter()
        .find(|a| a.subnet_ids.iter().any(|s| s == subnet_id))
        .or_else(|| acls.iter().find(|a| a.is_default))
}

/// One direction of one ACL: `None` if it passes, else (summary, fix command).
fn acl_leg(
    acl: &NetworkAcl,
    egress: bool,
    peer: IpNet,
    ports: (u16, u16),
    facts: &Facts,
) -> Option<(String, String)> {
    let decision = nacl_decide(acl, egress, peer, ports);
    let block = decision.blocked_by?;
    let number = free_rule_number(acl, egress, block.rule_number)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "<free rule number>".into());
    let direction = if egress { "--egress" } else { "--ingress" };
    let command = format!(
        "aws ec2 create-network-acl-entry --network-acl-id {} {direction} --rule-number {number} --protocol tcp --port-range From={},To={} --cidr-block {peer} --rule-action allow {}",
        acl.network_acl_id,
        ports.0,
        ports.1,
        region_flag(facts)
    );
    Some((
        format!("{}: {}", acl.network_acl_id, block.description),
        command,
    ))
}

fn acl_outcome(problems: Vec<(String, String)>, passed: Vec<String>, what: &str) -> Outcome {
    if problems.is_empty() {
        Outcome::pass(format!("{what}: {}", join(&passed)))
    } else {
        let (summaries, commands): (Vec<String>, Vec<String>) = problems.into_iter().unzip();
        Outcome::fail(join(&summaries)).with_fix(Fix {
            text: "Network ACLs are stateless and evaluated in rule-number order: add an allow entry with a number below the blocking one.".into(),
            commands,
        })
    }
}

pub(crate) const ENDPOINT_SUBNET_ACL: Check = Check {
    id: "ACL001",
    slug: "endpoint-subnet-acl",
    title: "Network ACLs of the endpoint's subnets pass the traffic both ways",
    needs: &[Need::Endpoints, Need::NetworkAcls],
    explain: explain!("ACL001"),
    judge: Some(endpoint_subnet_acl),
};

fn endpoint_subnet_acl(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let endpoint = main_endpoint(facts)?;
    let acls = fact(&facts.network_acls, NO_VPC)?;
    let port = facts.inputs.port;
    let client = known_client(facts);
    let peers: Vec<IpNet> = match client.and_then(|c| c.private_ip) {
        Some(ip) => vec![host_net(ip)],
        None => fact(&facts.vpc, NO_VPC)?.cidr_blocks.clone(),
    };
    let client_subnet = client.and_then(|c| c.subnet_id.as_deref());
    let mut problems = Vec::new();
    let mut passed: Vec<(String, Vec<String>)> = Vec::new();
    for subnet in &endpoint.subnet_ids {
        if Some(subnet.as_str()) == client_subnet {
            // Traffic inside one subnet never crosses its network ACL.
            continue;
        }
        let Some(acl) = acl_of(acls, subnet) else {
            continue;
        };
        for peer in &peers {
            problems.extend(acl_leg(acl, false, *peer, (port, port), facts));
            problems.extend(acl_leg(acl, true, *peer, EPHEMERAL, facts));
        }
        match passed.iter_mut().find(|(id, _)| id == &acl.network_acl_id) {
            Some((_, subnets)) => subnets.push(subnet.clone()),
            None => passed.push((acl.network_acl_id.clone(), vec![subnet.clone()])),
        }
    }
    problems.dedup();
    let passed: Vec<String> = passed
        .into_iter()
        .map(|(acl, subnets)| format!("{acl} ({})", subnets.join(", ")))
        .collect();
    let whom = match client.and_then(|c| c.private_ip) {
        Some(ip) => ip.to_string(),
        None => format!("anywhere in {vpc} (client unknown)"),
    };
    Ok(acl_outcome(
        problems,
        passed,
        &format!("TCP {port} in from {whom} and ports 1024-65535 back out are allowed by"),
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
    let Some(subnet) = &client.subnet_id else {
        return Err(Outcome::skip("the client's subnet is unknown: run tidbpe on the client instance, or pass --instance-id"));
    };
    let endpoint: &Endpoint = main_endpoint(facts)?;
    let acls = fact(&facts.network_acls, NO_VPC)?;
    let interfaces = fact(
        &facts.endpoint_interfaces,
        "the endpoint's network interfaces were not looked up",
    )?;
    let port = facts.inputs.port;
    let Some(acl) = acl_of(acls, subnet) else {
        return Ok(Outcome::skip(format!("no network ACL governs {subnet}")));
    };
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    for n in interfaces.iter().filter(|n| {
        endpoint
            .network_interface_ids
            .contains(&n.network_interface_id)
    }) {
        let Some(ip) = n.private_ip else { continue };
        if &n.subnet_id == subnet {
            continue;
        }
        targets.push(ip.to_string());
        problems.extend(acl_leg(acl, true, host_net(ip), (port, port), facts));
        problems.extend(acl_leg(acl, false, host_net(ip), EPHEMERAL, facts));
    }
    problems.dedup();
    Ok(acl_outcome(
        problems,
        vec![format!("{} ({subnet})", acl.network_acl_id)],
        &format!(
            "TCP {port} out to {} and ports 1024-65535 back in are allowed by",
            join(&targets)
        ),
    )
    .with("client_subnet", subnet)
    .with("network_acl_id", &acl.network_acl_id)
    .with("endpoint_ips", targets))
}

pub(crate) const DNS_RESOLVES: Check = Check {
    id: "DNS001",
    slug: "dns-resolves",
    title: "The host resolves from this machine",
    needs: &[],
    explain: explain!("DNS001"),
    judge: None,
};

pub(crate) const DNS_PRIVATE_ANSWER: Check = Check {
    id: "DNS002",
    slug: "dns-private-answer",
    title: "The host resolves to the endpoint's private IPs",
    needs: &[Need::NetworkInterfaces],
    explain: explain!("DNS002"),
    judge: None,
};

pub(crate) const TCP_CONNECT: Check = Check {
    id: "NET001",
    slug: "tcp-connect",
    title: "TCP connects to the port on every resolved address",
    needs: &[],
    explain: explain!("NET001"),
    judge: None,
};

pub(crate) const MYSQL_HANDSHAKE: Check = Check {
    id: "NET002",
    slug: "mysql-handshake",
    title: "The server greets with the MySQL protocol as TiDB",
    needs: &[],
    explain: explain!("NET002"),
    judge: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{
        AclEntry, Client, FactError, FactErrorKind, NetworkInterface, SgPeer, SgRule, Vpc,
    };
    use crate::Status;

    use crate::support::fixtures::SVC;

    fn rule(protocol: &str, ports: Option<(i32, i32)>, peer: SgPeer) -> SgRule {
        SgRule {
            protocol: protocol.into(),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
            peer,
            description: None,
        }
    }

    fn cidr(s: &str) -> SgPeer {
        SgPeer::Cidr(s.parse().unwrap())
    }

    fn acl(id: &str, subnets: &[&str], entries: Vec<AclEntry>) -> NetworkAcl {
        NetworkAcl {
            network_acl_id: id.into(),
            is_default: subnets.is_empty(),
            subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
            entries,
        }
    }

    fn entry(
        number: i32,
        egress: bool,
        allow: bool,
        protocol: &str,
        ports: Option<(u16, u16)>,
    ) -> AclEntry {
        AclEntry {
            rule_number: number,
            egress,
            protocol: protocol.into(),
            allow,
            cidr: "0.0.0.0/0".parse().unwrap(),
            port_range: ports,
        }
    }

    fn allow_all() -> Vec<AclEntry> {
        vec![
            entry(100, false, true, "-1", None),
            entry(100, true, true, "-1", None),
        ]
    }

    /// A healthy world: the endpoint admits the client's group, default ACL allows all.
    fn world() -> Facts {
        Facts {
            vpc: Some(Ok(Vpc {
                vpc_id: "vpc-0a1b2c3d".into(),
                cidr_blocks: vec!["10.0.0.0/16".parse().unwrap()],
                dhcp_options_id: None,
            })),
            client: Some(Ok(Client {
                source: "instance-id".into(),
                instance_id: Some("i-0000000c".into()),
                subnet_id: Some("subnet-0000000c".into()),
                private_ip: Some("10.0.10.4".parse().unwrap()),
                security_group_ids: vec!["sg-0000000c".into()],
                ..Client::default()
            })),
            endpoints: Some(Ok(vec![Endpoint {
                endpoint_id: "vpce-00000001".into(),
                vpc_id: "vpc-0a1b2c3d".into(),
                service_name: SVC.into(),
                endpoint_type: "Interface".into(),
                state: "available".into(),
                private_dns_enabled: true,
                subnet_ids: vec!["subnet-0000000a".into()],
                security_group_ids: vec!["sg-0000000e".into()],
                network_interface_ids: vec!["eni-0000000a".into()],
            }])),
            endpoint_interfaces: Some(Ok(vec![NetworkInterface {
                network_interface_id: "eni-0000000a".into(),
                subnet_id: "subnet-0000000a".into(),
                availability_zone: None,
                private_ip: Some("10.0.1.10".parse().unwrap()),
                security_group_ids: vec!["sg-0000000e".into()],
            }])),
            security_groups: Some(Ok(vec![
                SecurityGroup {
                    group_id: "sg-0000000e".into(),
                    group_name: "endpoint".into(),
                    vpc_id: None,
                    ingress: vec![rule(
                        "tcp",
                        Some((4000, 4000)),
                        SgPeer::Group("sg-0000000c".into()),
                    )],
                    egress: vec![],
                },
                SecurityGroup {
                    group_id: "sg-0000000c".into(),
                    group_name: "client".into(),
                    vpc_id: None,
                    ingress: vec![],
                    egress: vec![rule("-1", None, cidr("0.0.0.0/0"))],
                },
            ])),
            prefix_lists: Some(Ok(vec![])),
            network_acls: Some(Ok(vec![acl("acl-00000001", &[], allow_all())])),
            ..crate::support::fixtures::world(vec![])
        }
    }

    fn set_group(
        f: &mut Facts,
        id: &str,
        ingress: Option<Vec<SgRule>>,
        egress: Option<Vec<SgRule>>,
    ) {
        if let Some(Ok(groups)) = &mut f.security_groups {
            let g = groups.iter_mut().find(|g| g.group_id == id).unwrap();
            if let Some(i) = ingress {
                g.ingress = i;
            }
            if let Some(e) = egress {
                g.egress = e;
            }
        }
    }

    fn denied(action: &str) -> FactError {
        FactError::new(FactErrorKind::AccessDenied, action, "denied")
    }

    #[test]
    fn healthy_world_passes_all_four() {
        let f = world();
        for check in [
            &ENDPOINT_SG_INGRESS,
            &CLIENT_SG_EGRESS,
            &ENDPOINT_SUBNET_ACL,
            &CLIENT_SUBNET_ACL,
        ] {
            assert_eq!(
                check.run(&f).status,
                Status::Pass,
                "{}: {}",
                check.id,
                check.run(&f).summary
            );
        }
    }

    #[test]
    fn sg001_fail_warn_unknown() {
        let mut f = world();
        set_group(
            &mut f,
            "sg-0000000e",
            Some(vec![rule(
                "tcp",
                Some((3306, 3306)),
                SgPeer::Group("sg-0000000c".into()),
            )]),
            None,
        );
        let finding = ENDPOINT_SG_INGRESS.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("port 4000 not covered"),
            "{}",
            finding.summary
        );
        assert!(finding.fix.unwrap().commands[0]
            .contains("authorize-security-group-ingress --group-id sg-0000000e --protocol tcp --port 4000 --source-group sg-0000000c"));

        // Client unknown: a group reference cannot be judged → warn, not fail.
        let mut f = world();
        f.client = None;
        assert_eq!(ENDPOINT_SG_INGRESS.run(&f).status, Status::Warn);
        set_group(
            &mut f,
            "sg-0000000e",
            Some(vec![rule("tcp", Some((4000, 4000)), cidr("10.0.0.0/16"))]),
            None,
        );
        assert_eq!(ENDPOINT_SG_INGRESS.run(&f).status, Status::Pass);
        set_group(
            &mut f,
            "sg-0000000e",
            Some(vec![rule("tcp", Some((4000, 4000)), cidr("10.0.0.0/17"))]),
            None,
        );
        assert_eq!(
            ENDPOINT_SG_INGRESS.run(&f).status,
            Status::Warn,
            "part of the VPC"
        );
        set_group(&mut f, "sg-0000000e", Some(vec![]), None);
        assert_eq!(ENDPOINT_SG_INGRESS.run(&f).status, Status::Fail);

        let mut f = world();
        f.security_groups = Some(Err(denied("ec2:DescribeSecurityGroups")));
        assert_eq!(ENDPOINT_SG_INGRESS.run(&f).status, Status::Unknown);

        // A prefix list that could not be read leaves the verdict unknown.
        let mut f = world();
        set_group(
            &mut f,
            "sg-0000000e",
            Some(vec![rule(
                "tcp",
                Some((4000, 4000)),
                SgPeer::PrefixList("pl-00000001".into()),
            )]),
            None,
        );
        f.prefix_lists = Some(Err(denied("ec2:GetManagedPrefixListEntries")));
        assert_eq!(ENDPOINT_SG_INGRESS.run(&f).status, Status::Unknown);
    }

    #[test]
    fn sg002_fail_skip_unknown() {
        let mut f = world();
        set_group(
            &mut f,
            "sg-0000000c",
            None,
            Some(vec![rule("tcp", Some((443, 443)), cidr("0.0.0.0/0"))]),
        );
        let finding = CLIENT_SG_EGRESS.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.fix.unwrap().commands[0]
            .contains("authorize-security-group-egress --group-id sg-0000000c"));
        let mut f = world();
        f.client = Some(Ok(Client {
            source: "client-ip".into(),
            private_ip: Some("10.0.10.4".parse().unwrap()),
            ..Client::default()
        }));
        assert_eq!(CLIENT_SG_EGRESS.run(&f).status, Status::Skip);
        let mut f = world();
        f.endpoint_interfaces = Some(Err(denied("ec2:DescribeNetworkInterfaces")));
        assert_eq!(CLIENT_SG_EGRESS.run(&f).status, Status::Unknown);
    }

    #[test]
    fn acl001_fail_unknown_and_same_subnet() {
        let mut f = world();
        f.network_acls = Some(Ok(vec![
            acl("acl-00000001", &[], allow_all()),
            acl(
                "acl-0000000a",
                &["subnet-0000000a"],
                vec![
                    entry(90, false, false, "6", Some((4000, 4000))),
                    entry(100, false, true, "-1", None),
                    entry(100, true, true, "-1", None),
                ],
            ),
        ]));
        let finding = endpoint_acl(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.summary.contains("rule 90"), "{}", finding.summary);
        let cmd = &finding.fix.unwrap().commands[0];
        assert!(
            cmd.contains("--network-acl-id acl-0000000a --ingress --rule-number 80"),
            "{cmd}"
        );
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Pass);

        // The client in the endpoint's subnet: no ACL between them.
        if let Some(Ok(c)) = &mut f.client {
            c.subnet_id = Some("subnet-0000000a".into());
        }
        assert_eq!(endpoint_acl(&f).status, Status::Pass);

        let mut f = world();
        f.network_acls = Some(Err(denied("ec2:DescribeNetworkAcls")));
        assert_eq!(endpoint_acl(&f).status, Status::Unknown);
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Unknown);
    }

    fn endpoint_acl(f: &Facts) -> crate::Finding {
        ENDPOINT_SUBNET_ACL.run(f)
    }

    #[test]
    fn acl002_needs_the_ephemeral_return_range() {
        let mut f = world();
        f.network_acls = Some(Ok(vec![
            acl("acl-00000001", &[], allow_all()),
            acl(
                "acl-0000000c",
                &["subnet-0000000c"],
                vec![
                    entry(100, true, true, "-1", None),
                    entry(100, false, true, "6", Some((22, 22))),
                ],
            ),
        ]));
        let finding = CLIENT_SUBNET_ACL.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.fix.unwrap().commands[0].contains("--ingress --rule-number"));
        assert_eq!(endpoint_acl(&f).status, Status::Pass);
        f.client = None;
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Skip);
    }
}
