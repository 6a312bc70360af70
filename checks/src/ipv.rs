//! IPV001 ip-family: can the client's IP family reach the service through
//! the endpoint? An IPv6-only client (a subnet with `Ipv6Native`) needs a
//! service that supports IPv6 (`SupportedIpAddressTypes`) and an endpoint
//! that has IPv6 addresses (`IpAddressType` `dualstack` or `ipv6`); an IPv4
//! client needs IPv4 on both. No verdict on facts an older report lacks.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::check::{explain, Check, Fix, Judged, Need, Outcome, Status};
use crate::commands::{describe_vpc_endpoint_services, modify_vpc_endpoint_ip_address_type};
use crate::facts::{Client, Facts};
use crate::read::{client_error, fact, main_endpoint, ok, service, subnet, NO_CLIENT, NO_VPC};

pub(crate) const IP_FAMILY: Check = Check {
    id: "IPV001",
    slug: "ip-family",
    title: "The client's IP family reaches the service and the endpoint",
    needs: &[
        Need::Service,
        Need::Endpoints,
        Need::Subnets,
        Need::Instance,
    ],
    explain: explain!("IPV001"),
    judge: Some(ip_family),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
    fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            // An IPv4-mapped address is IPv4 on the wire.
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

type Families = BTreeSet<Family>;

fn names(families: &Families) -> Vec<&'static str> {
    families.iter().map(|f| f.name()).collect()
}

/// `IPv4 and IPv6`, `IPv4`, `no IP family`.
fn label(families: &Families) -> String {
    match names(families).as_slice() {
        [] => "no IP family".to_string(),
        [one] => one.to_string(),
        [a, b, ..] => format!("{a} and {b}"),
    }
}

/// The client's families, and what says so: its subnet (IPv6-only, dual
/// stack, IPv4) when the VPC's subnets list it, else its address.
fn client_families(facts: &Facts, client: &Client) -> Result<(Families, String), Outcome> {
    let subnets = fact(&facts.subnets, NO_VPC)?;
    if let Some(s) = client
        .subnet_id
        .as_deref()
        .and_then(|id| subnet(subnets, id))
    {
        let families: Families = if s.ipv6_native == Some(true) {
            [Family::V6].into()
        } else if s.ipv6_cidr_blocks.is_empty() {
            [Family::V4].into()
        } else {
            [Family::V4, Family::V6].into()
        };
        let kind = match (s.ipv6_native == Some(true), s.ipv6_cidr_blocks.is_empty()) {
            (true, _) => "an IPv6-only subnet",
            (false, true) => "an IPv4 subnet",
            (false, false) => "a dual-stack subnet",
        };
        return Ok((families, format!("the client's {} is {kind}", s.subnet_id)));
    }
    match client.private_ip {
        Some(ip) => Ok((
            [Family::of(ip)].into(),
            format!("the client's address is {ip}"),
        )),
        None => Err(Outcome::skip(
            "the client's subnet and address are unknown: pass --instance-id or --client-ip",
        )),
    }
}

fn ip_family(facts: &Facts) -> Judged {
    client_error(facts)?;
    let client = ok(&facts.client).ok_or_else(|| Outcome::skip(NO_CLIENT))?;
    let svc = service(facts)?;
    let (client_fams, how) = client_families(facts, client)?;
    let svc_types = svc.supported_ip_address_types.as_ref().ok_or_else(|| {
        Outcome::skip(
            "AWS did not report the service's SupportedIpAddressTypes (a report of an older tidbpe?)",
        )
    })?;
    let svc_fams: Families = svc_types
        .iter()
        .filter_map(|t| match t.to_ascii_lowercase().as_str() {
            "ipv4" => Some(Family::V4),
            "ipv6" => Some(Family::V6),
            _ => None,
        })
        .collect();
    let label_svc = svc.service_id.as_deref().unwrap_or(&svc.service_name);
    // The endpoint, when there is one (pre-flight: the service alone decides).
    let endpoint = match main_endpoint(facts) {
        Ok(e) => Some(e),
        Err(o) if o.status == Status::Unknown => return Err(o),
        Err(_) => None,
    };
    let ep_fams: Option<(Families, &str)> = match endpoint {
        None => None,
        Some(e) => {
            let kind = e.ip_address_type.as_deref().ok_or_else(|| {
                Outcome::skip(format!(
                    "AWS did not report the IpAddressType of {} (a report of an older tidbpe?)",
                    e.endpoint_id
                ))
            })?;
            let fams: Families = match kind.to_ascii_lowercase().as_str() {
                "ipv4" => [Family::V4].into(),
                "ipv6" => [Family::V6].into(),
                "dualstack" => [Family::V4, Family::V6].into(),
                _ => {
                    return Err(Outcome::skip(format!(
                        "{} has IpAddressType {kind}, which this version of tidbpe does not know",
                        e.endpoint_id
                    )))
                }
            };
            Some((fams, kind))
        }
    };
    let path: Families = match &ep_fams {
        Some((fams, _)) => svc_fams.intersection(fams).copied().collect(),
        None => svc_fams.clone(),
    };
    let common: Families = client_fams.intersection(&path).copied().collect();
    let evidence = |o: Outcome| {
        o.with("client_families", names(&client_fams))
            .with("client", &how)
            .with("service_ip_address_types", svc_types)
            .with(
                "endpoint_ip_address_type",
                ep_fams.as_ref().map(|(_, k)| *k),
            )
            .with("families_in_common", names(&common))
    };
    let through = match (endpoint, &ep_fams) {
        (Some(e), Some((_, kind))) => format!(" through {} ({kind})", e.endpoint_id),
        _ => String::new(),
    };
    if !common.is_empty() {
        return Ok(evidence(Outcome::pass(format!(
            "the client ({}) reaches {label_svc} ({}){through} over {}",
            label(&client_fams),
            label(&svc_fams),
            label(&common)
        ))));
    }
    // What is missing: the service's family, or only the endpoint's.
    let service_lacks = client_fams.is_disjoint(&svc_fams);
    let mut commands = Vec::new();
    let text = if service_lacks {
        commands.push(describe_vpc_endpoint_services(facts, &svc.service_name));
        format!(
            "{label_svc} supports {} only, and {how}. Run the client where it has {}: a dual-stack subnet (an IPv4 CIDR beside the IPv6 one) reaches an IPv4-only service; or ask TiDB Cloud whether the service can offer {}.",
            label(&svc_fams),
            label(&svc_fams),
            label(&client_fams)
        )
    } else {
        let id = endpoint
            .map(|e| e.endpoint_id.as_str())
            .unwrap_or("the endpoint");
        commands.push(modify_vpc_endpoint_ip_address_type(facts, id, "dualstack"));
        format!(
            "{label_svc} supports {} but {id} has {} addresses only. Make the endpoint dual stack (its subnets need IPv6 CIDRs first):",
            label(&svc_fams),
            label(ep_fams.as_ref().map(|(f, _)| f).unwrap_or(&Families::new()))
        )
    };
    Ok(evidence(Outcome::fail(format!(
        "{how} ({}), but the way to {label_svc}{through} carries {}: no IP family in common",
        label(&client_fams),
        label(&path)
    )))
    .with_fix(Fix { text, commands }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::facts::Subnet;
    use crate::testing::{
        assert_fail_cases, client_mut, denied, endpoint_mut, healthy, FailCase, CLIENT_SUBNET,
    };

    fn client_subnet(f: &mut Facts) -> &mut Subnet {
        match &mut f.subnets {
            Some(Ok(subnets)) => subnets
                .iter_mut()
                .find(|s| s.subnet_id == CLIENT_SUBNET)
                .expect("the client's subnet"),
            _ => panic!("the fixture has no subnets"),
        }
    }

    fn ipv6_only(f: &mut Facts) {
        let s = client_subnet(f);
        s.ipv6_native = Some(true);
        s.cidr_block = None;
        s.ipv6_cidr_blocks = vec!["2600:1f18:1:a00::/64".parse().unwrap()];
    }

    fn service_types(f: &mut Facts, types: &[&str]) {
        if let Some(Ok(Some(s))) = &mut f.service {
            s.supported_ip_address_types = Some(types.iter().map(|t| t.to_string()).collect());
        }
    }

    /// Changes to the healthy world that make IPV001 fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "IPV001",
            name: "IPv6-only client subnet, IPv4-only service",
            expect: Status::Fail,
            mutate: ipv6_only,
        },
        FailCase {
            id: "IPV001",
            name: "IPv6-only client, dual-stack service, IPv4 endpoint",
            expect: Status::Fail,
            mutate: |f| {
                ipv6_only(f);
                service_types(f, &["ipv4", "ipv6"]);
            },
        },
    ];

    #[test]
    fn ipv001_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn ipv001_ipv6_only_client_against_ipv4_only_service_fails() {
        let mut f = healthy();
        ipv6_only(&mut f);
        let finding = IP_FAMILY.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(finding.summary.contains("IPv6-only"), "{}", finding.summary);
        assert_eq!(
            finding.evidence["client_families"],
            serde_json::json!(["IPv6"])
        );
        let fix = finding.fix.unwrap();
        assert!(fix.text.contains("dual-stack subnet"), "{}", fix.text);
        // The service has IPv6 but the endpoint is IPv4: make it dual stack.
        service_types(&mut f, &["ipv4", "ipv6"]);
        let finding = IP_FAMILY.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert_eq!(
            finding.fix.unwrap().commands,
            ["aws ec2 modify-vpc-endpoint --vpc-endpoint-id vpce-00000001 --ip-address-type dualstack --dns-options DnsRecordIpType=dualstack --region us-east-1"]
        );
        endpoint_mut(&mut f).ip_address_type = Some("dualstack".into());
        let pass = IP_FAMILY.run(&f);
        assert_eq!(pass.status, Status::Pass, "{}", pass.summary);
        assert_eq!(
            pass.evidence["families_in_common"],
            serde_json::json!(["IPv6"])
        );
    }

    #[test]
    fn ipv001_dual_stack_passes_with_the_families_in_the_evidence() {
        let mut f = healthy();
        let pass = IP_FAMILY.run(&f);
        assert_eq!(pass.status, Status::Pass, "{}", pass.summary);
        assert!(pass.summary.contains("over IPv4"), "{}", pass.summary);
        client_subnet(&mut f).ipv6_cidr_blocks = vec!["2600:1f18:1:a00::/64".parse().unwrap()];
        service_types(&mut f, &["ipv4", "ipv6"]);
        endpoint_mut(&mut f).ip_address_type = Some("dualstack".into());
        let pass = IP_FAMILY.run(&f);
        assert_eq!(pass.status, Status::Pass);
        assert_eq!(
            pass.evidence["client_families"],
            serde_json::json!(["IPv4", "IPv6"])
        );
        assert_eq!(
            pass.evidence["families_in_common"],
            serde_json::json!(["IPv4", "IPv6"])
        );
        assert!(
            pass.summary.contains("over IPv4 and IPv6"),
            "{}",
            pass.summary
        );
    }

    #[test]
    fn ipv001_client_ip_family_and_missing_facts() {
        let mut f = healthy();
        // A client elsewhere, known by its address only.
        let c = client_mut(&mut f);
        c.subnet_id = None;
        c.private_ip = Some("2600:1f18::10".parse().unwrap());
        assert_eq!(IP_FAMILY.run(&f).status, Status::Fail);
        client_mut(&mut f).private_ip = Some("192.168.1.5".parse().unwrap());
        assert_eq!(IP_FAMILY.run(&f).status, Status::Pass);
        // Pre-flight: the service alone decides.
        f.endpoints = Some(Ok(vec![]));
        assert_eq!(IP_FAMILY.run(&f).status, Status::Pass);
        // An older report: never a verdict on what it lacks.
        let mut f = healthy();
        service_types(&mut f, &[]);
        if let Some(Ok(Some(s))) = &mut f.service {
            s.supported_ip_address_types = None;
        }
        assert_eq!(IP_FAMILY.run(&f).status, Status::Skip);
        let mut f = healthy();
        endpoint_mut(&mut f).ip_address_type = None;
        assert_eq!(IP_FAMILY.run(&f).status, Status::Skip);
        // Failed calls.
        let mut f = healthy();
        f.client = Some(Err(denied(Need::Instance)));
        assert_eq!(IP_FAMILY.run(&f).status, Status::Unknown);
        let mut f = healthy();
        f.client = None;
        assert_eq!(IP_FAMILY.run(&f).status, Status::Skip);
    }
}
