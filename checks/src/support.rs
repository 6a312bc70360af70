//! Shared reading of facts: what is missing becomes `skip` or `unknown`
//! the same way in every check.

use crate::facts::{Endpoint, EndpointService, Fact, Facts, Subnet, Zone};
use crate::Outcome;

/// `None` → skip (with `missing`), `Err` → unknown, `Ok` → the value.
pub(crate) fn fact<'a, T>(f: &'a Option<Fact<T>>, missing: &str) -> Result<&'a T, Outcome> {
    match f {
        None => Err(Outcome::skip(missing)),
        Some(Err(e)) => Err(Outcome::unknown(e)),
        Some(Ok(v)) => Ok(v),
    }
}

pub(crate) const NO_VPC: &str =
    "no VPC to inspect: pass --vpc-id or --instance-id, or run tidbpe on an EC2 instance in the VPC";

/// The VPC under test.
pub(crate) fn vpc_id(facts: &Facts) -> Result<&str, Outcome> {
    facts
        .vpc_choice
        .as_ref()
        .map(|c| c.vpc_id.as_str())
        .ok_or_else(|| Outcome::skip(NO_VPC))
}

/// The endpoint service, when it exists.
pub(crate) fn service(facts: &Facts) -> Result<&EndpointService, Outcome> {
    match fact(&facts.service, "the endpoint service was not looked up")? {
        Some(s) => Ok(s),
        None => Err(Outcome::skip(
            "the endpoint service does not exist in this region (see SVC001)",
        )),
    }
}

/// Does `state` mean the endpoint is gone (or going) for good?
pub(crate) fn is_gone(state: &str) -> bool {
    ["deleted", "deleting", "rejected", "failed", "expired"]
        .iter()
        .any(|s| state.eq_ignore_ascii_case(s))
}

/// The endpoints in the VPC that are for the service (or the one `--endpoint-id` names).
pub(crate) fn service_endpoints(facts: &Facts) -> Result<Vec<&Endpoint>, Outcome> {
    vpc_id(facts)?;
    let all = fact(&facts.endpoints, NO_VPC)?;
    Ok(all
        .iter()
        .filter(|e| match &facts.inputs.service_name {
            Some(name) => e.service_name == *name,
            None => facts.inputs.endpoint_id.as_ref() == Some(&e.endpoint_id),
        })
        .collect())
}

/// A fact's value, if it was gathered.
pub(crate) fn ok<T>(f: &Option<Fact<T>>) -> Option<&T> {
    f.as_ref().and_then(|f| f.as_ref().ok())
}

/// `skip` when the client is in another VPC than the one inspected: its
/// side (security groups, subnet ACL, AZ) is not this VPC's to judge.
pub(crate) fn client_elsewhere(facts: &Facts) -> Result<(), Outcome> {
    let client = ok(&facts.client);
    let inspected = facts.vpc_choice.as_ref().map(|c| c.vpc_id.as_str());
    match (client.and_then(|c| c.vpc_id.as_deref()), inspected) {
        (Some(theirs), Some(ours)) if theirs != ours => Err(Outcome::skip(format!(
            "the client is in {theirs}, not in {ours}: its side is judged in its own VPC"
        ))),
        _ => Ok(()),
    }
}

/// One address of an endpoint: the IP, its interface's security groups and subnet.
pub(crate) type EndpointAddress<'a> = (std::net::IpAddr, &'a [String], &'a str);

/// The private addresses of an endpoint's network interfaces.
pub(crate) fn endpoint_addresses<'a>(
    facts: &'a Facts,
    endpoint: &Endpoint,
) -> Result<Vec<EndpointAddress<'a>>, Outcome> {
    let interfaces = fact(
        &facts.endpoint_interfaces,
        "the endpoint's network interfaces were not looked up",
    )?;
    let found: Vec<_> = interfaces
        .iter()
        .filter(|n| {
            endpoint
                .network_interface_ids
                .contains(&n.network_interface_id)
        })
        .filter_map(|n| {
            Some((
                n.private_ip?,
                n.security_group_ids.as_slice(),
                n.subnet_id.as_str(),
            ))
        })
        .collect();
    if found.is_empty() {
        return Err(Outcome::skip(format!(
            "{} has no network interface with an address yet",
            endpoint.endpoint_id
        )));
    }
    Ok(found)
}

/// The service's AZ IDs, from its AZ names (names differ per account).
pub(crate) fn service_az_ids(service: &EndpointService, zones: &[Zone]) -> Vec<String> {
    service
        .availability_zones
        .iter()
        .map(|name| zone_id_of(zones, name).unwrap_or(name).to_string())
        .collect()
}

/// The `create-vpc-endpoint` command, with only the flags that have values.
pub(crate) fn create_endpoint_command(
    facts: &Facts,
    vpc: &str,
    service_name: &str,
    subnets: &[&str],
    groups: &[&str],
) -> String {
    let mut command = format!(
        "aws ec2 create-vpc-endpoint --vpc-id {vpc} {} --service-name {service_name} --vpc-endpoint-type Interface --subnet-ids {}",
        region_flag(facts),
        if subnets.is_empty() { "SUBNET_ID".to_string() } else { subnets.join(" ") }
    );
    if !groups.is_empty() {
        command.push_str(&format!(" --security-group-ids {}", groups.join(" ")));
    }
    command.push_str(" --private-dns-enabled");
    command
}

/// The endpoints' ranking: alive, then private DNS on, then available.
pub(crate) fn best_endpoint<'a>(
    candidates: impl Iterator<Item = &'a Endpoint>,
) -> Option<&'a Endpoint> {
    candidates.max_by_key(|e| {
        (
            !is_gone(&e.state),
            e.private_dns_enabled,
            e.state.eq_ignore_ascii_case("available"),
            std::cmp::Reverse(e.endpoint_id.clone()),
        )
    })
}

/// The endpoint under test: `--endpoint-id`, else the best of the service's
/// endpoints in the VPC (alive, then private DNS on, then available).
pub(crate) fn main_endpoint(facts: &Facts) -> Result<&Endpoint, Outcome> {
    let candidates = service_endpoints(facts)?;
    if let Some(id) = &facts.inputs.endpoint_id {
        return candidates
            .into_iter()
            .find(|e| &e.endpoint_id == id)
            .ok_or_else(|| Outcome::skip(format!("{id} was not found in the VPC (see EP001)")));
    }
    best_endpoint(candidates.into_iter()).ok_or_else(|| {
        Outcome::skip("there is no endpoint for the service in the VPC yet (see EP001)")
    })
}

/// The zone a name or ID refers to.
pub(crate) fn zone_id_of<'a>(zones: &'a [Zone], name: &str) -> Option<&'a str> {
    zones
        .iter()
        .find(|z| z.zone_name == name)
        .map(|z| z.zone_id.as_str())
}

pub(crate) fn zone_name_of<'a>(zones: &'a [Zone], id: &str) -> Option<&'a str> {
    zones
        .iter()
        .find(|z| z.zone_id == id)
        .map(|z| z.zone_name.as_str())
}

/// "use1-az1 (us-east-1b)": an AZ ID with the caller's name for it.
pub(crate) fn az_label(zones: &[Zone], az_id: &str) -> String {
    match zone_name_of(zones, az_id) {
        Some(name) => format!("{az_id} ({name})"),
        None => az_id.to_string(),
    }
}

/// The AZ IDs the endpoint may use: `--az-id`, else the service's own.
pub(crate) fn target_az_ids(facts: &Facts) -> Result<Vec<String>, Outcome> {
    if !facts.inputs.az_ids.is_empty() {
        return Ok(facts.inputs.az_ids.clone());
    }
    let service = service(facts)?;
    let zones = fact(&facts.zones, "availability zones were not looked up")?;
    Ok(service_az_ids(service, zones))
}

pub(crate) fn subnet<'a>(subnets: &'a [Subnet], id: &str) -> Option<&'a Subnet> {
    subnets.iter().find(|s| s.subnet_id == id)
}

/// `a, b and c`.
pub(crate) fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

/// `--region R` when the command needs it spelled out.
pub(crate) fn region_flag(facts: &Facts) -> String {
    format!("--region {}", facts.inputs.region)
}

/// A small world for the checks' unit tests: vpc-0a1b2c3d in us-east-1 with
/// subnets in use1-az6 (a), use1-az1 (b) and use1-az2 (c); the service is
/// offered in use1-az1 and use1-az2; no endpoint yet.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::facts::{
        AclEntry, Client, DhcpOptions, Endpoint, EndpointService, Facts, Identity, Inputs,
        NetworkAcl, NetworkInterface, SecurityGroup, SgPeer, SgRule, Subnet, Vpc, VpcChoice, Zone,
    };

    pub const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

    pub fn endpoint(id: &str, state: &str, private_dns: bool, subnets: &[&str]) -> Endpoint {
        Endpoint {
            endpoint_id: id.into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            service_name: SVC.into(),
            endpoint_type: "Interface".into(),
            state: state.into(),
            private_dns_enabled: private_dns,
            subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
            security_group_ids: vec!["sg-00000001".into()],
            network_interface_ids: vec![],
        }
    }

    fn subnet(id: &str, az_name: &str, az_id: &str) -> Subnet {
        Subnet {
            subnet_id: id.into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            availability_zone: az_name.into(),
            az_id: az_id.into(),
            cidr_block: None,
        }
    }

    fn zone(name: &str, id: &str) -> Zone {
        Zone {
            zone_name: name.into(),
            zone_id: id.into(),
        }
    }

    pub fn world(endpoints: Vec<Endpoint>) -> Facts {
        Facts {
            inputs: Inputs {
                service_name: Some(SVC.into()),
                host: "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com".into(),
                region: "us-east-1".into(),
                port: 4000,
                ..Inputs::default()
            },
            vpc_choice: Some(VpcChoice {
                vpc_id: "vpc-0a1b2c3d".into(),
                source: "flag".into(),
            }),
            service: Some(Ok(Some(EndpointService {
                service_name: SVC.into(),
                service_id: None,
                service_type: vec!["Interface".into()],
                availability_zones: vec!["us-east-1b".into(), "us-east-1c".into()],
                private_dns_names: vec![],
                owner: None,
            }))),
            zones: Some(Ok(vec![
                zone("us-east-1a", "use1-az6"),
                zone("us-east-1b", "use1-az1"),
                zone("us-east-1c", "use1-az2"),
            ])),
            endpoints: Some(Ok(endpoints)),
            subnets: Some(Ok(vec![
                subnet("subnet-0000000a", "us-east-1a", "use1-az6"),
                subnet("subnet-0000000b", "us-east-1b", "use1-az1"),
                subnet("subnet-0000000c", "us-east-1c", "use1-az2"),
            ])),
            ..Facts::default()
        }
    }

    /// Every fact gathered and healthy: the endpoint (in use1-az1) admits the
    /// client's group, the client (10.0.10.4 in use1-az1, its own subnet)
    /// may go out anywhere, the default ACL allows all.
    pub fn healthy() -> Facts {
        let rule = |protocol: &str, ports: Option<i32>, peer: SgPeer| SgRule {
            protocol: protocol.into(),
            from_port: ports,
            to_port: ports,
            peer,
            description: None,
        };
        let all = |egress: bool| AclEntry {
            rule_number: 100,
            egress,
            protocol: "-1".into(),
            allow: true,
            cidr: "0.0.0.0/0".parse().unwrap(),
            port_range: None,
        };
        let mut endpoint = endpoint("vpce-00000001", "available", true, &["subnet-0000000b"]);
        endpoint.security_group_ids = vec!["sg-0000000e".into()];
        endpoint.network_interface_ids = vec!["eni-0000000b".into()];
        let mut facts = world(vec![endpoint]);
        if let Some(Ok(subnets)) = &mut facts.subnets {
            let mut client = subnet("subnet-0000000d", "us-east-1b", "use1-az1");
            client.cidr_block = Some("10.0.10.0/24".parse().unwrap());
            subnets.push(client);
        }
        Facts {
            identity: Some(Ok(Identity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/me".into(),
            })),
            vpc: Some(Ok(Vpc {
                vpc_id: "vpc-0a1b2c3d".into(),
                cidr_blocks: vec!["10.0.0.0/16".parse().unwrap()],
                dhcp_options_id: Some("dopt-00000001".into()),
            })),
            dns_support: Some(Ok(true)),
            dns_hostnames: Some(Ok(true)),
            dhcp_options: Some(Ok(Some(DhcpOptions {
                dhcp_options_id: "dopt-00000001".into(),
                domain_name_servers: vec!["AmazonProvidedDNS".into()],
            }))),
            hosted_zones: Some(Ok(vec![])),
            client: Some(Ok(Client {
                source: "instance-id".into(),
                instance_id: Some("i-0000000d".into()),
                vpc_id: Some("vpc-0a1b2c3d".into()),
                subnet_id: Some("subnet-0000000d".into()),
                availability_zone: Some("us-east-1b".into()),
                az_id: Some("use1-az1".into()),
                private_ip: Some("10.0.10.4".parse().unwrap()),
                security_group_ids: vec!["sg-0000000c".into()],
            })),
            endpoint_interfaces: Some(Ok(vec![NetworkInterface {
                network_interface_id: "eni-0000000b".into(),
                subnet_id: "subnet-0000000b".into(),
                availability_zone: Some("us-east-1b".into()),
                private_ip: Some("10.0.1.10".parse().unwrap()),
                security_group_ids: vec!["sg-0000000e".into()],
            }])),
            security_groups: Some(Ok(vec![
                SecurityGroup {
                    group_id: "sg-0000000e".into(),
                    group_name: "endpoint".into(),
                    vpc_id: Some("vpc-0a1b2c3d".into()),
                    ingress: vec![rule("tcp", Some(4000), SgPeer::Group("sg-0000000c".into()))],
                    egress: vec![],
                },
                SecurityGroup {
                    group_id: "sg-0000000c".into(),
                    group_name: "client".into(),
                    vpc_id: Some("vpc-0a1b2c3d".into()),
                    ingress: vec![],
                    egress: vec![rule("-1", None, SgPeer::Cidr("0.0.0.0/0".parse().unwrap()))],
                },
            ])),
            prefix_lists: Some(Ok(vec![])),
            network_acls: Some(Ok(vec![NetworkAcl {
                network_acl_id: "acl-00000001".into(),
                is_default: true,
                subnet_ids: vec![],
                entries: vec![all(false), all(true)],
            }])),
            ..facts
        }
    }
}
