//! Reading facts the same way in every check: what is missing becomes
//! `skip` (not asked for) or `unknown` (asked for, could not be seen), and
//! the things several families judge — the VPC, the service, the endpoint
//! under test and its addresses, the client, AZ names and IDs — are found
//! in one place. No verdicts here.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::Outcome;
use crate::facts::{
    Client, Endpoint, EndpointService, Fact, FactErrorKind, Facts, PrefixList, Subnet, Zone,
};
use crate::rules::{sg_ingress, Peer};

/// `None` → skip (with `missing`), `Err` → unknown, `Ok` → the value.
pub(crate) fn fact<'a, T>(f: &'a Option<Fact<T>>, missing: &str) -> Result<&'a T, Outcome> {
    match f {
        None => Err(Outcome::skip(missing)),
        Some(Err(e)) => Err(Outcome::unknown(e)),
        Some(Ok(v)) => Ok(v),
    }
}

/// A fact's value, if it was gathered.
pub(crate) fn ok<T>(f: &Option<Fact<T>>) -> Option<&T> {
    f.as_ref().and_then(|f| f.as_ref().ok())
}

pub(crate) const NO_VPC: &str =
    "no VPC to inspect: pass --vpc-id or --instance-id, or run tidbpe on an EC2 instance in the VPC";

/// (Never shown with `--instance-id`: the client is then always looked up.)
pub(crate) const NO_CLIENT: &str =
    "the client is unknown: run tidbpe on the client instance, or pass --instance-id";

pub(crate) const NO_ZONES: &str = "availability zones were not looked up";

/// The VPC under test: `unknown` when the call that would have named it
/// failed (naming that call), `skip` when nothing named one.
pub(crate) fn vpc_id(facts: &Facts) -> Result<&str, Outcome> {
    match (&facts.vpc_choice, &facts.vpc_choice_error) {
        (Some(c), _) => Ok(c.vpc_id.as_str()),
        (None, Some(e)) => {
            let mut unknown = Outcome::unknown(e);
            let alternative = match (e.kind, &facts.inputs.instance_id) {
                // Naming the VPC does not make credentials work.
                (FactErrorKind::Credentials, _) => "",
                (_, Some(_)) => "; pass --vpc-id to name it",
                (_, None) => "; pass --vpc-id or --instance-id to name it",
            };
            let why = unknown.summary.trim_start_matches("could not check: ");
            unknown.summary = format!("could not find the VPC to inspect: {why}{alternative}");
            Err(unknown)
        }
        (None, None) if facts.inputs.instance_id.is_some() => Err(Outcome::skip(
            "no VPC to inspect: pass --vpc-id, or run tidbpe on an EC2 instance in the VPC",
        )),
        (None, None) => Err(Outcome::skip(NO_VPC)),
    }
}

/// ", or pass --instance-id": advice for an unknown client, unless it was
/// passed already.
pub(crate) fn or_pass_instance_id(facts: &Facts) -> &'static str {
    if facts.inputs.instance_id.is_some() {
        ""
    } else {
        ", or pass --instance-id"
    }
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

/// The endpoints' ranking: alive, then private DNS on, then available.
pub(crate) fn best_endpoint<'a>(
    candidates: impl Iterator<Item = &'a Endpoint>,
) -> Option<&'a Endpoint> {
    candidates.max_by_key(|e| {
        (
            !e.is_gone(),
            e.private_dns_enabled,
            e.is_available(),
            std::cmp::Reverse(e.endpoint_id.clone()),
        )
    })
}

/// The endpoint under test: `--endpoint-id`, else the best of the service's
/// endpoints in the VPC (alive, then private DNS on, then available). A
/// `deleted` endpoint is not an endpoint: it is never the one under test.
pub(crate) fn main_endpoint(facts: &Facts) -> Result<&Endpoint, Outcome> {
    let candidates = service_endpoints(facts)?;
    if let Some(id) = &facts.inputs.endpoint_id {
        return match candidates.into_iter().find(|e| &e.endpoint_id == id) {
            Some(e) if e.is_deleted() => {
                Err(Outcome::skip(format!("{id} was deleted (see EP001)")))
            }
            Some(e) => Ok(e),
            None => Err(Outcome::skip(format!(
                "{id} was not found in the VPC (see EP001)"
            ))),
        };
    }
    best_endpoint(candidates.into_iter().filter(|e| !e.is_deleted())).ok_or_else(|| {
        Outcome::skip("there is no endpoint for the service in the VPC yet (see EP001)")
    })
}

/// The ID of the endpoint the checks judge, for the report's context.
pub fn main_endpoint_id(facts: &Facts) -> Option<String> {
    main_endpoint(facts).ok().map(|e| e.endpoint_id.clone())
}

/// One address of an endpoint: a network interface's private IP, with the
/// interface's security groups and subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EndpointAddress<'a> {
    pub ip: IpAddr,
    pub security_group_ids: &'a [String],
    pub subnet_id: &'a str,
}

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
            Some(EndpointAddress {
                ip: n.private_ip?,
                security_group_ids: n.security_group_ids.as_slice(),
                subnet_id: n.subnet_id.as_str(),
            })
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

/// The client as a known machine, if its address is known.
pub(crate) fn known_client(facts: &Facts) -> Option<&Client> {
    ok(&facts.client).filter(|c| c.private_ip.is_some())
}

/// A client that was asked for and could not be read makes a verdict
/// unknown, rather than silently judging "anyone in the VPC".
pub(crate) fn client_error(facts: &Facts) -> Result<(), Outcome> {
    match &facts.client {
        Some(Err(e)) => Err(Outcome::unknown(e)),
        _ => Ok(()),
    }
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

/// Prefix lists (they only matter when a rule names one).
pub(crate) fn prefix_lists(facts: &Facts) -> &[PrefixList] {
    ok(&facts.prefix_lists)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A security group of the VPC that admits the client on the port (or,
/// with the client unknown, the whole VPC), for the pre-flight command.
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

/// The service's AZ IDs, from its AZ names (names differ per account).
pub(crate) fn service_az_ids(service: &EndpointService, zones: &[Zone]) -> Vec<String> {
    service
        .availability_zones
        .iter()
        .map(|name| zone_id_of(zones, name).unwrap_or(name).to_string())
        .collect()
}

/// The AZ IDs where the service is offered, hence where an endpoint may
/// have subnets (from the service's AZ names and the region's zones).
pub(crate) fn offered_az_ids(facts: &Facts) -> Result<Vec<String>, Outcome> {
    let service = service(facts)?;
    let zones = fact(&facts.zones, NO_ZONES)?;
    Ok(service_az_ids(service, zones))
}

/// `--az-id` (the console's "Availability Zone ID": where the cluster runs)
/// split into the AZ IDs the service offers, where the endpoint must have a
/// subnet, and the others (a wrong copy, SVC001 warns), given the offered ones.
pub(crate) fn cluster_az_ids(facts: &Facts, offered: &[String]) -> (Vec<String>, Vec<String>) {
    let mut wanted = Vec::new();
    let mut stray = Vec::new();
    for id in &facts.inputs.az_ids {
        let into = if offered.contains(id) {
            &mut wanted
        } else {
            &mut stray
        };
        if !into.contains(id) {
            into.push(id.clone());
        }
    }
    (wanted, stray)
}

/// A free IPv4 block for a new subnet: the size of the VPC's existing
/// subnets (a /24 when it has none, or the VPC itself when smaller), inside
/// the VPC's first IPv4 CIDR, overlapping no subnet.
pub(crate) fn free_subnet_cidr(facts: &Facts) -> Option<IpNet> {
    let vpc = ok(&facts.vpc)?;
    let subnets = ok(&facts.subnets)?;
    let taken: Vec<IpNet> = subnets.iter().filter_map(|s| s.cidr_block).collect();
    vpc.cidr_blocks
        .iter()
        .filter(|net| matches!(net, IpNet::V4(_)))
        .find_map(|net| {
            let len = taken
                .iter()
                .filter(|t| net.contains(*t))
                .map(|t| t.prefix_len())
                .max()
                .unwrap_or(24)
                .max(net.prefix_len());
            // At most 4096 candidates: a /16 split into /28s.
            net.subnets(len)
                .ok()?
                .take(4096)
                .find(|c| !taken.iter().any(|t| t.contains(c) || c.contains(t)))
        })
}

/// The zone ID of an AZ name.
pub(crate) fn zone_id_of<'a>(zones: &'a [Zone], name: &str) -> Option<&'a str> {
    zones
        .iter()
        .find(|z| z.zone_name == name)
        .map(|z| z.zone_id.as_str())
}

/// The caller's name of an AZ ID.
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

/// How many reasons a one-line summary lists; the rest are in the evidence.
const SUMMARY_REASONS: usize = 2;

/// "a; b (and 3 more, in the evidence)": the first reasons, for a one-line summary.
pub(crate) fn brief(reasons: &[String]) -> String {
    match reasons.len() {
        n if n <= SUMMARY_REASONS => join(reasons),
        n => format!(
            "{} (and {} more, in the evidence)",
            reasons[..SUMMARY_REASONS].join("; "),
            n - SUMMARY_REASONS
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{endpoint, healthy, world};

    #[test]
    fn the_best_endpoint_is_alive_then_private_dns_then_available() {
        let f = world(vec![
            endpoint("vpce-00000003", "deleted", true, &[]),
            endpoint("vpce-00000002", "pending", true, &[]),
            endpoint("vpce-00000001", "available", false, &[]),
        ]);
        assert_eq!(main_endpoint_id(&f).as_deref(), Some("vpce-00000002"));
        let mut f = f;
        f.inputs.endpoint_id = Some("vpce-00000001".into());
        assert_eq!(main_endpoint_id(&f).as_deref(), Some("vpce-00000001"));
        f.inputs.endpoint_id = Some("vpce-0000000f".into());
        assert_eq!(main_endpoint_id(&f), None);
        f.inputs.endpoint_id = Some("vpce-00000003".into());
        assert_eq!(main_endpoint_id(&f), None, "a deleted endpoint is not one");
    }

    #[test]
    fn a_deleted_endpoint_is_never_under_test() {
        let f = world(vec![endpoint("vpce-00000003", "deleted", true, &[])]);
        assert_eq!(main_endpoint_id(&f), None);
        let f = world(vec![
            endpoint("vpce-00000003", "deleted", true, &[]),
            endpoint("vpce-00000004", "rejected", false, &[]),
        ]);
        assert_eq!(main_endpoint_id(&f).as_deref(), Some("vpce-00000004"));
    }

    #[test]
    fn a_free_subnet_cidr_overlaps_no_subnet() {
        let mut f = healthy();
        // healthy: 10.0.0.0/16 with 10.0.10.0/24 (the others have no CIDR).
        assert_eq!(free_subnet_cidr(&f), Some("10.0.0.0/24".parse().unwrap()));
        if let Some(Ok(subnets)) = &mut f.subnets {
            for (s, c) in subnets
                .iter_mut()
                .zip(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])
            {
                s.cidr_block = Some(c.parse().unwrap());
            }
        }
        assert_eq!(free_subnet_cidr(&f), Some("10.0.3.0/24".parse().unwrap()));
        if let Some(Ok(subnets)) = &mut f.subnets {
            subnets[0].cidr_block = Some("10.0.0.0/17".parse().unwrap());
        }
        // Sized like the smallest subnet (/24), past the /17.
        assert_eq!(free_subnet_cidr(&f), Some("10.0.128.0/24".parse().unwrap()));
        f.vpc = None;
        assert_eq!(free_subnet_cidr(&f), None);
    }

    /// A failed call that would have named the VPC makes the VPC's checks
    /// unknown, naming it; `--instance-id` is not suggested once passed.
    #[test]
    fn a_vpc_that_could_not_be_found_is_unknown_naming_the_call() {
        let mut f = healthy();
        f.vpc_choice = None;
        f.vpc_choice_error = Some(crate::testing::denied(crate::Need::Endpoints));
        let unknown = vpc_id(&f).unwrap_err();
        assert_eq!(unknown.status, crate::Status::Unknown);
        assert_eq!(
            unknown.summary,
            "could not find the VPC to inspect: ec2:DescribeVpcEndpoints was denied (UnauthorizedOperation); pass --vpc-id or --instance-id to name it"
        );
        f.inputs.instance_id = Some("i-0000000d".into());
        f.vpc_choice_error = Some(crate::testing::denied(crate::Need::Instance));
        let unknown = vpc_id(&f).unwrap_err();
        assert!(
            unknown.summary.contains("ec2:DescribeInstances"),
            "{}",
            unknown.summary
        );
        assert!(
            !unknown.summary.contains("--instance-id"),
            "{}",
            unknown.summary
        );
        f.vpc_choice_error = None;
        let skip = vpc_id(&f).unwrap_err();
        assert_eq!(skip.status, crate::Status::Skip);
        assert!(!skip.summary.contains("--instance-id"), "{}", skip.summary);
    }

    #[test]
    fn endpoint_addresses_are_the_interfaces_with_an_ip() {
        let f = healthy();
        let ep = main_endpoint(&f).unwrap();
        let found = endpoint_addresses(&f, ep).unwrap();
        assert_eq!(
            found,
            [EndpointAddress {
                ip: "10.0.1.10".parse().unwrap(),
                security_group_ids: &["sg-0000000e".to_string()],
                subnet_id: "subnet-0000000b",
            }]
        );
    }

    #[test]
    fn join_and_brief() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join(&s(&[])), "");
        assert_eq!(join(&s(&["a", "b", "c"])), "a, b and c");
        assert_eq!(brief(&s(&["a", "b"])), "a and b");
        assert_eq!(
            brief(&s(&["a", "b", "c", "d"])),
            "a; b (and 2 more, in the evidence)"
        );
    }
}
