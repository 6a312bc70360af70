//! Reading facts the same way in every check: what is missing becomes
//! `skip` (not asked for) or `unknown` (asked for, could not be seen), and
//! the things several families judge — the VPC, the service, the endpoint
//! under test and its addresses, the client, AZ names and IDs — are found
//! in one place. No verdicts here.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::{Fix, Outcome};
use crate::facts::{
    Client, ClientSource, Endpoint, EndpointService, Fact, FactErrorKind, Facts, Inputs,
    PrefixList, Subnet, Zone,
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

/// A DNS name as Route 53 compares it: lowercase, without the final dot
/// (the root `.` becomes the empty name).
pub(crate) fn dns_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Does `domain` (a zone, a Resolver rule's domain, a private DNS name)
/// answer for `name`: the same name or a name under it? A wildcard
/// `*.example.com` covers the names under `example.com`; the root covers
/// every name.
pub(crate) fn covers(domain: &str, name: &str) -> bool {
    let name = dns_name(name);
    let domain = dns_name(domain);
    if let Some(parent) = domain.strip_prefix("*.") {
        return name.ends_with(&format!(".{parent}"));
    }
    domain.is_empty() || name == domain || name.ends_with(&format!(".{domain}"))
}

/// The service's private DNS names, as Route 53 compares them.
pub(crate) fn private_dns_names(service: &EndpointService) -> Vec<String> {
    let mut names: Vec<String> = service
        .private_dns_names
        .iter()
        .map(|n| dns_name(n))
        .filter(|n| !n.is_empty())
        .collect();
    names.dedup();
    names
}

/// Why the host is not known, when `--host` was not given.
fn unknown_host(
    inputs: &Inputs,
    service: Option<&Fact<Option<EndpointService>>>,
) -> Result<String, Outcome> {
    if let Some(host) = &inputs.host {
        return Ok(dns_name(host));
    }
    let service = match service {
        None => {
            return Err(Outcome::skip(
                "no --host given, and the endpoint service was not looked up",
            ))
        }
        Some(Err(e)) => return Err(Outcome::unknown(e)),
        Some(Ok(None)) => return Err(Outcome::skip(
            "no --host given, and the endpoint service does not exist in this region (see SVC001)",
        )),
        Some(Ok(Some(s))) => s,
    };
    private_dns_names(service)
        .into_iter()
        .find(|n| !n.starts_with("*."))
        .ok_or_else(|| {
            Outcome::skip(format!(
                "no --host given, and {} has no private DNS name to connect to: pass --host (see SVC002)",
                service.service_id.as_deref().unwrap_or(&service.service_name)
            ))
        })
}

/// The host gather probes: `--host` (or the cluster JSON's host), else the
/// service's private DNS name from the service lookup `service`; `None`
/// when neither names one (the checks then say why, see [`host`]).
pub fn host_of(inputs: &Inputs, service: Option<&Fact<Option<EndpointService>>>) -> Option<String> {
    unknown_host(inputs, service).ok()
}

/// The host the client connects to: `--host` (or the cluster JSON's host)
/// when given, else the endpoint service's private DNS name. Lowercase,
/// without the final dot; `None` when neither is known.
pub fn effective_host(facts: &Facts) -> Option<String> {
    host(facts).ok()
}

/// The host the client connects to, or why it is not known: `skip` when
/// nothing names it, `unknown` when the service lookup failed.
pub(crate) fn host(facts: &Facts) -> Result<String, Outcome> {
    unknown_host(&facts.inputs, facts.service.as_ref())
}

/// The domain the endpoint's private DNS answers for the host (the
/// service's private DNS name that covers it, without a wildcard's `*.`),
/// else the host itself: with private DNS on, AWS answers it from a
/// private zone of that name.
pub(crate) fn private_dns_domain(facts: &Facts, host: &str) -> String {
    ok(&facts.service)
        .and_then(|s| s.as_ref())
        .and_then(|s| {
            private_dns_names(s)
                .into_iter()
                .find(|n| covers(n, host))
                .map(|n| n.trim_start_matches("*.").to_string())
        })
        .unwrap_or_else(|| dns_name(host))
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

/// Where the client stands when it is outside the VPC under test (another
/// VPC, or `--client-ip` outside the VPC's CIDRs): the endpoint's private
/// DNS answers only inside its VPC. `None`: inside, or not known.
pub(crate) fn client_outside_vpc(facts: &Facts) -> Option<String> {
    let client = ok(&facts.client)?;
    let ours = facts.vpc_choice.as_ref()?.vpc_id.as_str();
    if let Some(theirs) = client.vpc_id.as_deref() {
        return (theirs != ours).then(|| format!("the client is in {theirs}, not in {ours}"));
    }
    if client.source != ClientSource::ClientIp {
        return None;
    }
    // Only IPv4: the VPC's facts list its IPv4 CIDRs only.
    let ip @ IpAddr::V4(_) = client.private_ip? else {
        return None;
    };
    let cidrs = &ok(&facts.vpc)?.cidr_blocks;
    let v4: Vec<String> = cidrs
        .iter()
        .filter(|c| matches!(c, IpNet::V4(_)))
        .map(|c| c.to_string())
        .collect();
    (!v4.is_empty() && !cidrs.iter().any(|c| c.contains(&ip)))
        .then(|| format!("the client {ip} is outside {ours} ({})", join(&v4)))
}

/// The three ways a client outside the endpoint's VPC reaches the host
/// (AWS: "Access an AWS service through an interface VPC endpoint" and
/// Route 53 Resolver / Profiles): the fix for a client elsewhere.
pub(crate) fn outside_vpc_fix(facts: &Facts, endpoint: Option<&Endpoint>, host: &str) -> Fix {
    let vpc = facts
        .vpc_choice
        .as_ref()
        .map(|c| c.vpc_id.as_str())
        .unwrap_or("the endpoint's VPC");
    let regional = endpoint
        .and_then(|e| e.regional_dns_name())
        .map(str::to_string)
        .unwrap_or_else(|| {
            "the endpoint's regional DNS name (its first DnsEntries name)".to_string()
        });
    let id = endpoint
        .map(|e| e.endpoint_id.as_str())
        .unwrap_or("the endpoint");
    Fix {
        text: format!(
            "The endpoint's private DNS answers {host} only inside {vpc}. From elsewhere, one of three ways works: \
             (1) a Route 53 Resolver inbound endpoint in {vpc}, and the client's DNS forwarding {host} to its addresses; \
             (2) private DNS off on {id}, and a private hosted zone {host} (associated with the client's VPC) whose alias or CNAME points at {regional}; \
             (3) a Route 53 Profile that carries {id}, associated with the client's VPC."
        ),
        commands: vec![],
    }
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

    #[test]
    fn covers_is_route53s_match() {
        assert!(covers(
            "tidbcloud.com.",
            "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com"
        ));
        assert!(covers(".", "anything.example"));
        assert!(covers("", "anything.example"));
        assert!(covers("A.Example.COM.", "a.example.com"));
        assert!(!covers("example.com", "notexample.com"));
        assert!(!covers("www.example.com", "example.com"));
        assert!(covers("*.example.com", "db.example.com"));
        assert!(!covers("*.example.com", "example.com"));
    }

    #[test]
    fn the_host_is_the_flag_else_the_services_private_dns_name() {
        let mut f = healthy();
        f.inputs.host = Some("Gateway01-PrivateLink.us-east-1.prod.aws.tidbcloud.com.".into());
        assert_eq!(host(&f).unwrap(), crate::testing::HOST);
        f.inputs.host = None;
        assert_eq!(effective_host(&f).as_deref(), Some(crate::testing::HOST));
        if let Some(Ok(Some(s))) = &mut f.service {
            s.private_dns_names = vec!["*.c1.example.com".into()];
        }
        assert_eq!(host(&f).unwrap_err().status, crate::check::Status::Skip);
        assert_eq!(
            private_dns_domain(&f, "db.c1.example.com"),
            "c1.example.com"
        );
        f.service = None;
        assert_eq!(effective_host(&f), None);
    }
}
