//! The network path: SG001 endpoint-sg-ingress, SG002 client-sg-egress,
//! ACL001 endpoint-subnet-acl, ACL002 client-subnet-acl, judged with the
//! evaluator of [`crate::rules`]; and the probes DNS001, DNS002, NET001,
//! NET002 (not implemented yet).

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::facts::{Client, Facts, NetworkAcl, PrefixList, SecurityGroup, SgPeer};
use crate::placement::NO_CLIENT;
use crate::rules::{free_rule_number, nacl_decide, sg_egress, sg_ingress, Peer, SgDecision};
use crate::support::{
    client_elsewhere, endpoint_addresses, fact, join, main_endpoint, ok, region_flag, vpc_id,
    NO_VPC,
};
use crate::{explain, Check, Fix, Judged, Need, Outcome};

/// Ephemeral ports a client's replies come back to (AWS's recommendation).
const EPHEMERAL: (u16, u16) = (1024, 65535);

/// How many reasons a one-line summary lists; the rest are in the evidence.
const SUMMARY_REASONS: usize = 2;

/// The client as a known machine, if its address is known.
fn known_client(facts: &Facts) -> Option<&Client> {
    ok(&facts.client).filter(|c| c.private_ip.is_some())
}

fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// Prefix lists (they only matter when a rule names one).
fn prefix_lists(facts: &Facts) -> &[PrefixList] {
    ok(&facts.prefix_lists)
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

/// "a, b (and 3 more)": the first reasons, for a one-line summary.
fn brief(reasons: &[String]) -> String {
    match reasons.len() {
        n if n <= SUMMARY_REASONS => join(reasons),
        n => format!(
            "{} (and {} more, in the evidence)",
            reasons[..SUMMARY_REASONS].join("; "),
            n - SUMMARY_REASONS
        ),
    }
}

/// `--cidr A` or the IPv6 form of the same rule, for `authorize-security-group-*`.
fn sg_peer_flag(net: IpNet, port: u16) -> String {
    match net {
        IpNet::V4(_) => format!("--protocol tcp --port {port} --cidr {net}"),
        IpNet::V6(_) => format!(
            "--ip-permissions 'IpProtocol=tcp,FromPort={port},ToPort={port},Ipv6Ranges=[{{CidrIpv6={net}}}]'"
        ),
    }
}

/// A security group of the VPC that admits the client on the port, for the
/// pre-flight create command.
pub(crate) fn group_admitting_client(facts: &Facts) -> Option<String> {
    let all = ok(&facts.security_groups)?;
    let port = facts.inputs.port;
    let lists = prefix_lists(facts);
    let vpc_nets: Vec<IpNet> = ok(&facts.vpc)
        .map(|v| v.cidr_blocks.clone())
        .unwrap_or_default();
    let client = known_client(facts);
    all.iter()
        .find(
            |g| match client.and_then(|c| c.private_ip.map(|ip| (c, ip))) {
                Some((c, ip)) => {
                    let peer = Peer::Address {
                        ip,
                        groups: &c.security_group_ids,
                    };
                    sg_ingress(&[g], &peer, port, lists).allowed
                }
                None => {
                    !vpc_nets.is_empty()
                        && vpc_nets
                            .iter()
                            .all(|net| sg_ingress(&[g], &Peer::Network(*net), port, lists).allowed)
                }
            },
        )
        .map(|g| g.group_id.clone())
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

/// A client that was asked for and could not be read makes the verdict
/// unknown, rather than silently judging "anyone in the VPC".
fn client_error(facts: &Facts) -> Result<(), Outcome> {
    match &facts.client {
        Some(Err(e)) => Err(Outcome::unknown(e)),
        _ => Ok(()),
    }
}

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
    let (decision, whom, source_flag, groups_known) = match known_client(facts) {
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
            let flag = match c.security_group_ids.first() {
                Some(g) => format!("--protocol tcp --port {port} --source-group {g}"),
                None => sg_peer_flag(host_net(ip), port),
            };
            // --client-ip names an address, not its security groups.
            (decision, who, flag, c.source != "client-ip")
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
            let flag = nets
                .first()
                .map(|n| sg_peer_flag(*n, port))
                .unwrap_or_else(|| format!("--protocol tcp --port {port} --cidr VPC_CIDR"));
            let whom = format!("anywhere in {vpc} ({}; client unknown)", join(&labels));
            (decision, whom, flag, false)
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
            "aws ec2 authorize-security-group-ingress --group-id {first_group} {source_flag} {}",
            region_flag(facts)
        )],
    };
    if decision.allowed {
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
            SgPeer::Group(_) => Some(format!(
                "{}: {}",
                g.group_id,
                crate::rules::describe_sg_rule(r, false)
            )),
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
            "TCP {port} from {whom}: {why}; run on the client or pass --instance-id to be sure"
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
        return Err(Outcome::skip(
            "the client's security groups are unknown: run tidbpe on the client instance, or pass --instance-id",
        ));
    }
    let endpoint = main_endpoint(facts)?;
    let all = fact(&facts.security_groups, NO_VPC)?;
    let targets = endpoint_addresses(facts, endpoint)?;
    let port = facts.inputs.port;
    let attached = groups(all, &client.security_group_ids);
    let lists = prefix_lists(facts);
    let mut blocked = Vec::new();
    let mut allowed_by = Vec::new();
    for (ip, groups, _) in &targets {
        let d = sg_egress(&attached, &Peer::Address { ip: *ip, groups }, port, lists);
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
    let ips: Vec<String> = targets.iter().map(|(ip, _, _)| ip.to_string()).collect();
    let client_groups = &client.security_group_ids;
    let outcome = if blocked.is_empty() {
        Outcome::pass(format!(
            "outbound TCP {port} to {} is allowed: {}",
            join(&ips),
            brief(&allowed_by)
        ))
    } else {
        let peer = match (endpoint.security_group_ids.first(), targets.first()) {
            (Some(g), _) => format!("UserIdGroupPairs=[{{GroupId={g}}}]"),
            (None, Some((IpAddr::V6(ip), _, _))) => format!("Ipv6Ranges=[{{CidrIpv6={ip}/128}}]"),
            (None, Some((ip, _, _))) => format!("IpRanges=[{{CidrIp={}}}]", host_net(*ip)),
            (None, None) => "IpRanges=[{CidrIp=ENDPOINT_IP/32}]".to_string(),
        };
        Outcome::fail(format!(
            "no rule of {} allows outbound TCP {port} to {}",
            join(client_groups),
            blocked.join("; ")
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

/// One leg of the path through one ACL.
struct Leg {
    egress: bool,
    peer: IpNet,
    ports: (u16, u16),
}

/// Judge the legs of each ACL once: the problems (summary, fix command) and
/// the ACLs that passed. Rule numbers handed out are not handed out again.
fn judge_acls(
    acls: &[(&NetworkAcl, Vec<String>)],
    legs: &[Leg],
    facts: &Facts,
) -> (Vec<(String, String)>, Vec<String>) {
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
            let mut candidate: NetworkAcl = (*acl).clone();
            // Keep numbers suggested for earlier legs out of the next pick.
            for (egress, n) in &taken {
                candidate.entries.push(crate::facts::AclEntry {
                    rule_number: *n,
                    egress: *egress,
                    protocol: "6".into(),
                    allow: true,
                    cidr: leg.peer,
                    port_range: Some((0, 0)),
                });
            }
            let number = free_rule_number(&candidate, leg.egress, block.rule_number);
            if let Some(n) = number {
                taken.insert((leg.egress, n));
            }
            let number = number
                .map(|n| n.to_string())
                .unwrap_or_else(|| "RULE_NUMBER".into());
            let direction = if leg.egress { "--egress" } else { "--ingress" };
            let cidr_flag = match leg.peer {
                IpNet::V4(_) => "--cidr-block",
                IpNet::V6(_) => "--ipv6-cidr-block",
            };
            let command = format!(
                "aws ec2 create-network-acl-entry --network-acl-id {} {direction} --rule-number {number} --protocol tcp --port-range From={},To={} {cidr_flag} {} --rule-action allow {}",
                acl.network_acl_id,
                leg.ports.0,
                leg.ports.1,
                leg.peer,
                region_flag(facts)
            );
            problems.push((
                format!("{}: {}", acl.network_acl_id, block.description),
                command,
            ));
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

fn acl_outcome(problems: Vec<(String, String)>, passed: Vec<String>, what: &str) -> Outcome {
    if problems.is_empty() {
        Outcome::pass(format!("{what}: {}", join(&passed)))
    } else {
        let (summaries, commands): (Vec<String>, Vec<String>) = problems.into_iter().unzip();
        Outcome::fail(brief(&summaries))
            .with("blocked", &summaries)
            .with_fix(Fix {
                text: "Network ACLs are stateless and evaluated in rule-number order: add an allow entry with a number below the blocking one.".into(),
                commands,
            })
    }
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
        Some(ip) => vec![host_net(ip)],
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
    let legs: Vec<Leg> = peers
        .iter()
        .flat_map(|peer| {
            [
                Leg {
                    egress: false,
                    peer: *peer,
                    ports: (port, port),
                },
                Leg {
                    egress: true,
                    peer: *peer,
                    ports: EPHEMERAL,
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
        .filter(|(_, _, s)| s != subnet)
        .map(|(ip, _, _)| *ip)
        .collect();
    if targets.is_empty() {
        return Err(Outcome::skip(format!(
            "every interface of {} is in the client's subnet {subnet}: no network ACL between them",
            endpoint.endpoint_id
        )));
    }
    let legs: Vec<Leg> = targets
        .iter()
        .flat_map(|ip| {
            [
                Leg {
                    egress: true,
                    peer: host_net(*ip),
                    ports: (port, port),
                },
                Leg {
                    egress: false,
                    peer: host_net(*ip),
                    ports: EPHEMERAL,
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
            "TCP {port} out to {} and ports 1024-65535 back in are allowed by",
            join(&labels)
        ),
    )
    .with("client_subnet", subnet)
    .with("network_acl_id", &acl.network_acl_id)
    .with("endpoint_ips", labels))
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
        AclEntry, Client, Endpoint, FactError, FactErrorKind, NetworkInterface, SgPeer, SgRule, Vpc,
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
        assert_eq!(endpoint_acl(&f).status, Status::Skip);

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

    #[test]
    fn client_ip_behind_a_group_rule_warns_and_other_vpc_skips() {
        let mut f = world();
        f.client = Some(Ok(Client {
            source: "client-ip".into(),
            private_ip: Some("10.0.10.4".parse().unwrap()),
            ..Client::default()
        }));
        let finding = ENDPOINT_SG_INGRESS.run(&f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding.summary.contains("client's groups are unknown"),
            "{}",
            finding.summary
        );

        let mut f = world();
        if let Some(Ok(c)) = &mut f.client {
            c.vpc_id = Some("vpc-0e0e0e0e".into());
        }
        for check in [&CLIENT_SG_EGRESS, &CLIENT_SUBNET_ACL] {
            let finding = check.run(&f);
            assert_eq!(finding.status, Status::Skip, "{}", check.id);
            assert!(
                finding.summary.contains("vpc-0e0e0e0e"),
                "{}",
                finding.summary
            );
        }
    }

    #[test]
    fn unknown_client_with_several_vpc_cidrs_is_partial_in_any_order() {
        for cidrs in [
            ["10.0.0.0/16", "10.1.0.0/16"],
            ["10.1.0.0/16", "10.0.0.0/16"],
        ] {
            let mut f = world();
            f.client = None;
            f.vpc = Some(Ok(Vpc {
                vpc_id: "vpc-0a1b2c3d".into(),
                cidr_blocks: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
                dhcp_options_id: None,
            }));
            set_group(
                &mut f,
                "sg-0000000e",
                Some(vec![rule("tcp", Some((4000, 4000)), cidr("10.0.0.0/16"))]),
                None,
            );
            assert_eq!(
                ENDPOINT_SG_INGRESS.run(&f).status,
                Status::Warn,
                "{cidrs:?}"
            );
        }
    }

    #[test]
    fn acl002_skips_when_the_endpoint_shares_the_client_subnet() {
        let mut f = world();
        if let Some(Ok(c)) = &mut f.client {
            c.subnet_id = Some("subnet-0000000a".into());
        }
        assert_eq!(CLIENT_SUBNET_ACL.run(&f).status, Status::Skip);
    }
}
