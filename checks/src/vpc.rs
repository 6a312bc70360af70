//! The VPC's DNS configuration: VPC001 vpc-dns-support, VPC002
//! vpc-dns-hostnames, VPC003 vpc-dhcp-resolver, VPC004 hosted-zone-shadow.
//! Private DNS of an interface endpoint only answers inside a VPC whose
//! resolver is the Amazon one and where nothing shadows the name.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{
    change_resource_record_sets, delete_hosted_zone, describe_vpc_attribute,
    describe_vpc_endpoint_dns_names, disassociate_vpc_from_hosted_zone, list_resource_record_sets,
    modify_vpc_attribute,
};
use crate::facts::{DnsRecord, Endpoint, Fact, Facts, HostedZone};
use crate::read::{
    effective_host, endpoint_addresses, fact, host, join, main_endpoint, ok, vpc_id, NO_VPC,
};

pub(crate) const VPC_DNS_SUPPORT: Check = Check {
    id: "VPC001",
    slug: "vpc-dns-support",
    title: "VPC DNS resolution (enableDnsSupport) is on",
    needs: &[Need::VpcAttributes],
    explain: explain!("VPC001"),
    judge: Some(|facts| {
        vpc_attribute(
            facts,
            &facts.dns_support,
            "enableDnsSupport",
            "--enable-dns-support",
        )
    }),
};

pub(crate) const VPC_DNS_HOSTNAMES: Check = Check {
    id: "VPC002",
    slug: "vpc-dns-hostnames",
    title: "VPC DNS hostnames (enableDnsHostnames) is on",
    needs: &[Need::VpcAttributes],
    explain: explain!("VPC002"),
    judge: Some(|facts| {
        vpc_attribute(
            facts,
            &facts.dns_hostnames,
            "enableDnsHostnames",
            "--enable-dns-hostnames",
        )
    }),
};

fn vpc_attribute(facts: &Facts, value: &Option<Fact<bool>>, attribute: &str, flag: &str) -> Judged {
    let vpc = vpc_id(facts)?;
    let on = *fact(value, NO_VPC)?;
    let outcome = if on {
        Outcome::pass(format!("{vpc} has {attribute} = true"))
    } else {
        Outcome::fail(format!("{vpc} has {attribute} = false")).with_fix(Fix {
            text: format!(
                "Turn {attribute} on (both DNS resolution and DNS hostnames must be on for the endpoint's private DNS name to resolve), then check it:"
            ),
            commands: vec![
                modify_vpc_attribute(facts, vpc, flag),
                describe_vpc_attribute(facts, vpc, attribute),
            ],
        })
    };
    Ok(outcome.with("vpc_id", vpc).with(attribute, on))
}

pub(crate) const VPC_DHCP_RESOLVER: Check = Check {
    id: "VPC003",
    slug: "vpc-dhcp-resolver",
    title: "The VPC resolves names with the Amazon-provided DNS",
    needs: &[Need::Vpc, Need::DhcpOptions],
    explain: explain!("VPC003"),
    judge: Some(vpc_dhcp_resolver),
};

fn vpc_dhcp_resolver(facts: &Facts) -> Judged {
    let vpc_id = vpc_id(facts)?;
    let vpc = fact(&facts.vpc, NO_VPC)?;
    let Some(options) = fact(&facts.dhcp_options, NO_VPC)? else {
        return Ok(Outcome::pass(format!(
            "{vpc_id} has no DHCP option set: instances use the Amazon-provided DNS"
        ))
        .with("vpc_id", vpc_id));
    };
    let servers = &options.domain_name_servers;
    let custom: Vec<String> = servers
        .iter()
        .filter(|s| !s.eq_ignore_ascii_case("AmazonProvidedDNS"))
        .cloned()
        .collect();
    let outcome = if custom.is_empty() {
        Outcome::pass(format!(
            "{vpc_id} uses {} with AmazonProvidedDNS",
            options.dhcp_options_id
        ))
    } else {
        let resolver = vpc
            .cidr_blocks
            .iter()
            .find_map(|net| match net.network() {
                IpAddr::V4(base) => Some(std::net::Ipv4Addr::from(u32::from(base).wrapping_add(2))),
                IpAddr::V6(_) => None,
            })
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "the VPC CIDR base + 2".to_string());
        Outcome::warn(format!(
            "{vpc_id} uses {} with custom DNS servers {}: they must forward *.tidbcloud.com to the VPC resolver {resolver}",
            options.dhcp_options_id,
            join(&custom)
        ))
        .with("vpc_resolver", &resolver)
        .with_fix(Fix {
            text: format!(
                "On your DNS servers ({}), add a conditional forwarder for tidbcloud.com to the Amazon VPC resolver {resolver} (or use a Route 53 Resolver inbound endpoint). Then, on an instance, check that the host resolves to the endpoint's private IPs:",
                join(&custom)
            ),
            commands: vec![format!(
                "dig +short {}",
                effective_host(facts).unwrap_or_else(|| "HOST".into())
            )],
        })
    };
    Ok(outcome
        .with("vpc_id", vpc_id)
        .with("dhcp_options_id", &options.dhcp_options_id)
        .with("domain_name_servers", servers))
}

pub(crate) const HOSTED_ZONE_SHADOW: Check = Check {
    id: "VPC004",
    slug: "hosted-zone-shadow",
    title: "No private hosted zone shadows the endpoint's DNS name",
    needs: &[
        Need::HostedZones,
        Need::HostedZoneRecords,
        Need::HostedZoneVpcs,
        Need::Endpoints,
    ],
    explain: explain!("VPC004"),
    judge: Some(hosted_zone_shadow),
};

/// "tidbcloud.com (Z0123)".
fn zone_label(z: &HostedZone) -> String {
    format!("{} ({})", z.domain(), z.bare_id())
}

/// Is the zone associated with a VPC other than `vpc` (so it can be taken
/// off this one)? `None`: not known.
fn shared_zone(facts: &Facts, zone: &HostedZone, vpc: &str) -> Option<bool> {
    ok(&facts.hosted_zone_vpcs)?
        .iter()
        .find(|z| z.zone_id == zone.bare_id())
        .map(|z| z.vpcs.iter().any(|v| v.vpc_id != vpc))
}

/// The records gathered for a zone; `Err` when they could not be read.
fn zone_records<'a>(facts: &'a Facts, zone: &HostedZone) -> Result<&'a [DnsRecord], Outcome> {
    let all = fact(
        &facts.hosted_zone_records,
        "the records of the hosted zones were not looked up",
    )?;
    all.iter()
        .find(|z| z.zone_id == zone.bare_id())
        .map(|z| z.records.as_slice())
        .ok_or_else(|| {
            Outcome::skip(format!(
                "the records of {} were not looked up",
                zone_label(zone)
            ))
        })
}

/// The record Route 53 answers an address query for `host` with: a record
/// named the host, else the most specific wildcard over it.
fn answering_record<'a>(records: &'a [DnsRecord], host: &str) -> Option<&'a DnsRecord> {
    let address = |r: &&DnsRecord| ["A", "AAAA", "CNAME"].contains(&r.record_type.as_str());
    let mut candidates: Vec<&DnsRecord> = records
        .iter()
        .filter(|r| r.answers(host))
        .filter(address)
        .collect();
    candidates.sort_by_key(|r| {
        (
            r.domain().starts_with("*."),
            std::cmp::Reverse(r.domain().len()),
        )
    });
    candidates.first().copied()
}

/// "CNAME vpce-….amazonaws.com", "A 10.0.1.5, 10.0.2.6", "alias A dualstack.…".
fn describe_record(r: &DnsRecord) -> String {
    match &r.alias_target {
        Some(a) => format!(
            "alias {} {}",
            r.record_type,
            a.dns_name.trim_end_matches('.')
        ),
        None => format!("{} {}", r.record_type, r.values.join(", ")),
    }
}

/// Where a record leads: the names and addresses it gives.
fn record_targets(r: &DnsRecord) -> Vec<String> {
    r.values
        .iter()
        .map(String::as_str)
        .chain(r.alias_target.as_ref().map(|a| a.dns_name.as_str()))
        .map(|v| v.trim_end_matches('.').to_ascii_lowercase())
        .collect()
}

/// Does the record lead to this endpoint: one of its DNS names, or only its
/// interfaces' addresses?
fn points_at(facts: &Facts, r: &DnsRecord, endpoint: &Endpoint) -> bool {
    let targets = record_targets(r);
    let names: Vec<String> = endpoint
        .dns_entries
        .iter()
        .map(|e| e.dns_name.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    if targets.iter().any(|t| names.contains(t)) {
        return true;
    }
    let ips: Vec<String> = endpoint_addresses(facts, endpoint)
        .map(|a| a.iter().map(|a| a.ip.to_string()).collect())
        .unwrap_or_default();
    r.alias_target.is_none() && !targets.is_empty() && targets.iter().all(|t| ips.contains(t))
}

/// The change batch of a record set to DELETE (as Route 53 needs it: every
/// field as it is); `None` for routing-policy records, which need more.
fn delete_change(r: &DnsRecord) -> Option<Value> {
    if r.set_identifier.is_some() {
        return None;
    }
    let mut set = json!({"Name": r.name, "Type": r.record_type});
    if let Some(ttl) = r.ttl {
        set["TTL"] = json!(ttl);
    }
    if !r.values.is_empty() {
        set["ResourceRecords"] = r.values.iter().map(|v| json!({"Value": v})).collect();
    }
    if let Some(a) = &r.alias_target {
        set["AliasTarget"] = json!({
            "HostedZoneId": a.hosted_zone_id,
            "DNSName": a.dns_name,
            "EvaluateTargetHealth": a.evaluate_target_health,
        });
    }
    Some(json!({"Action": "DELETE", "ResourceRecordSet": set}))
}

/// The command that makes `zone` answer `host` with a CNAME to the
/// endpoint's regional DNS name, replacing the address records named the
/// host (a CNAME cannot sit beside them). `None` when a record in the way
/// uses a routing policy.
fn cname_to_endpoint(
    zone: &HostedZone,
    records: &[DnsRecord],
    host: &str,
    endpoint: &Endpoint,
) -> Option<String> {
    let target = endpoint
        .regional_dns_name()
        .unwrap_or("ENDPOINT_DNS_NAME")
        .to_string();
    let mut changes = Vec::new();
    for r in records.iter().filter(|r| r.domain() == host) {
        let plain_cname = r.record_type == "CNAME" && r.alias_target.is_none();
        if ["A", "AAAA", "CNAME"].contains(&r.record_type.as_str()) && !plain_cname {
            changes.push(delete_change(r)?);
        } else if plain_cname && r.set_identifier.is_some() {
            return None;
        }
    }
    changes.push(json!({
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": host,
            "Type": "CNAME",
            "TTL": 300,
            "ResourceRecords": [{"Value": target}],
        }
    }));
    let batch = json!({
        "Comment": format!("tidbpe: {host} to {}", endpoint.endpoint_id),
        "Changes": changes,
    });
    Some(change_resource_record_sets(zone.bare_id(), &batch))
}

/// Private DNS of the endpoint under test, as VPC004 needs it.
enum PrivateDns<'a> {
    /// On: the endpoint's zone, named exactly the host, answers it.
    On,
    /// No endpoint yet: the pre-flight command turns it on.
    PreFlight,
    Off(&'a Endpoint),
}

fn hosted_zone_shadow(facts: &Facts) -> Judged {
    let vpc_id = vpc_id(facts)?;
    let zones = fact(&facts.hosted_zones, NO_VPC)?;
    let host = host(facts)?;
    let names: Vec<String> = zones.iter().map(|z| z.name.clone()).collect();
    let covering: Vec<&HostedZone> = zones.iter().filter(|z| z.covers(&host)).collect();
    if covering.is_empty() {
        let outcome = match zones.len() {
            0 => Outcome::pass(format!(
                "no private hosted zone is associated with {vpc_id}"
            )),
            n => Outcome::pass(format!(
                "none of the {n} private hosted zone(s) associated with {vpc_id} covers {host}"
            )),
        };
        return Ok(outcome
            .with("vpc_id", vpc_id)
            .with("host", host)
            .with("hosted_zones", names));
    }
    let evidence = |o: Outcome| {
        o.with("vpc_id", vpc_id)
            .with("host", &host)
            .with("hosted_zones", &names)
            .with(
                "covering_zones",
                covering.iter().map(|z| zone_label(z)).collect::<Vec<_>>(),
            )
    };
    let owned_note = |z: &HostedZone| {
        z.owning_service
            .as_ref()
            .map(|s| {
                format!(
                    " {} is owned by {s}: change it through that service.",
                    z.domain()
                )
            })
            .unwrap_or_default()
    };

    let (exact, mut parents): (Vec<&HostedZone>, Vec<&HostedZone>) =
        covering.iter().partition(|z| z.domain() == host);
    if !exact.is_empty() {
        let mut commands = Vec::new();
        let mut notes = String::new();
        for z in &exact {
            if z.owning_service.is_some() {
                notes.push_str(&owned_note(z));
                continue;
            }
            if shared_zone(facts, z, vpc_id) == Some(true) {
                commands.push(disassociate_vpc_from_hosted_zone(
                    facts,
                    z.bare_id(),
                    vpc_id,
                ));
                continue;
            }
            // This VPC is its only one (or that is unknown): Route 53
            // refuses to disassociate it, so the zone goes, its records first.
            let extra: Option<Vec<&DnsRecord>> = zone_records(facts, z).ok().map(|rs| {
                rs.iter()
                    .filter(|r| {
                        !(r.domain() == host && ["SOA", "NS"].contains(&r.record_type.as_str()))
                    })
                    .collect()
            });
            let deletes: Option<Vec<Value>> = extra
                .as_ref()
                .and_then(|rs| rs.iter().map(|r| delete_change(r)).collect());
            match deletes {
                Some(d) if d.is_empty() => {}
                Some(d) => commands.push(change_resource_record_sets(
                    z.bare_id(),
                    &json!({"Comment": "tidbpe: empty the zone before deleting it", "Changes": d}),
                )),
                None => {
                    notes.push_str(&format!(
                        " Delete the records of {} other than its SOA and NS first (Route 53 deletes only an empty zone):",
                        z.domain()
                    ));
                    commands.push(list_resource_record_sets(z.bare_id()));
                }
            }
            commands.push(delete_hosted_zone(z.bare_id()));
        }
        let labels: Vec<String> = exact.iter().map(|z| zone_label(z)).collect();
        return Ok(evidence(Outcome::fail(format!(
            "private hosted zone {} is named exactly the host and associated with {vpc_id}: Route 53 answers the host from it, and enabling private DNS on the endpoint fails with \"conflicting DNS domain\"",
            join(&labels)
        )))
        .with_fix(Fix {
            text: format!(
                "Take the zone off {vpc_id}: disassociate it when other VPCs use it, else delete it (this VPC is its only one, so Route 53 refuses to disassociate it with LastVPCAssociation).{notes} Then the endpoint's own private DNS answers {host} (EP003 turns it on where it is off)."
            ),
            commands,
        }));
    }

    // Only parents: the most specific one answers, unless private DNS (a
    // zone named exactly the host) is on.
    parents.sort_by_key(|z| std::cmp::Reverse(z.domain().len()));
    let answering = parents[0];
    let state = match main_endpoint(facts) {
        Ok(ep) if ep.private_dns_enabled => PrivateDns::On,
        Ok(ep) => PrivateDns::Off(ep),
        Err(_) => match &facts.endpoints {
            Some(Err(e)) => return Ok(Outcome::unknown(e)),
            _ => PrivateDns::PreFlight,
        },
    };
    let disassociate: Vec<String> = parents
        .iter()
        .filter(|z| z.owning_service.is_none() && shared_zone(facts, z, vpc_id) == Some(true))
        .map(|z| disassociate_vpc_from_hosted_zone(facts, z.bare_id(), vpc_id))
        .collect();
    let labels: Vec<String> = parents.iter().map(|z| zone_label(z)).collect();
    let endpoint = match state {
        PrivateDns::On | PrivateDns::PreFlight => {
            let whose = if matches!(state, PrivateDns::On) {
                "the endpoint's private DNS"
            } else {
                "the endpoint's private DNS (once the endpoint exists, see EP001)"
            };
            return Ok(evidence(Outcome::warn(format!(
                "private hosted zone {} covers {host} in {vpc_id}; {whose}, a zone named exactly the host, is more specific and answers it, but {} answers every other name under it with NXDOMAIN unless it holds a record",
                join(&labels),
                answering.domain()
            )))
            .with_fix(Fix {
                text: format!(
                    "Nothing to change for the private endpoint. Other names under {} (another TiDB Cloud host, a public endpoint) resolve in {vpc_id} only if the zone holds records for them; if the zone is not meant for this VPC, take it off.{}",
                    answering.domain(),
                    owned_note(answering)
                ),
                commands: disassociate,
            }));
        }
        PrivateDns::Off(ep) => ep,
    };
    let records = zone_records(facts, answering)?;
    let answer = answering_record(records, &host);
    let cname = if answering.owning_service.is_some() {
        None
    } else {
        cname_to_endpoint(answering, records, &host, endpoint)
    };
    let id = &endpoint.endpoint_id;
    let dns_name_note = if endpoint.regional_dns_name().is_some() {
        String::new()
    } else {
        format!(
            " (ENDPOINT_DNS_NAME: the first of `{}`)",
            describe_vpc_endpoint_dns_names(facts, id)
        )
    };
    let mut commands: Vec<String> = cname.into_iter().collect();
    commands.extend(disassociate);
    let outcome = match answer {
        None => Outcome::fail(format!(
            "private hosted zone {} answers {host} in {vpc_id} with NXDOMAIN: it holds no record for it, and private DNS of {id} is off",
            zone_label(answering)
        ))
        .with_fix(Fix {
            text: format!(
                "Either enable private DNS on {id} (EP003): its zone, named exactly the host, is then more specific than {}; or, if private DNS stays off on purpose, add a record for {host} in {} pointing at the endpoint's regional DNS name{dns_name_note}.{}",
                answering.domain(),
                answering.domain(),
                owned_note(answering)
            ),
            commands,
        }),
        Some(r) if points_at(facts, r, endpoint) => Outcome::pass(format!(
            "private hosted zone {} answers {host} in {vpc_id} with {}: {id}",
            zone_label(answering),
            describe_record(r)
        )),
        Some(r) => Outcome::warn(format!(
            "private hosted zone {} answers {host} in {vpc_id} with {}, not with {id} (private DNS off): a shared endpoint elsewhere? DNS002 checks the live answer",
            zone_label(answering),
            describe_record(r)
        ))
        .with_fix(Fix {
            text: format!(
                "If the record is not a deliberate setup (a shared endpoint in another VPC), enable private DNS on {id} (EP003), or point the record at this endpoint's regional DNS name{dns_name_note}.{}",
                owned_note(answering)
            ),
            commands,
        }),
    };
    Ok(evidence(outcome)
        .with("answering_zone", zone_label(answering))
        .with("answer", answer.map(describe_record)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::facts::{DhcpOptions, HostedZone, ZoneRecords, ZoneVpc, ZoneVpcs};
    use crate::testing::{assert_fail_cases, denied, endpoint_mut, healthy, FailCase, HOST, VPC};

    fn zone(name: &str) -> HostedZone {
        HostedZone {
            id: "/hostedzone/Z1".into(),
            name: name.into(),
            owning_service: None,
        }
    }

    /// Changes to the healthy world that make a VPC check fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "VPC001",
            name: "DNS resolution off",
            expect: Status::Fail,
            mutate: |f| f.dns_support = Some(Ok(false)),
        },
        FailCase {
            id: "VPC002",
            name: "DNS hostnames off",
            expect: Status::Fail,
            mutate: |f| f.dns_hostnames = Some(Ok(false)),
        },
        FailCase {
            id: "VPC003",
            name: "custom DNS servers (a warning at worst)",
            expect: Status::Warn,
            mutate: |f| {
                f.dhcp_options = Some(Ok(Some(DhcpOptions {
                    dhcp_options_id: "dopt-00000001".into(),
                    domain_name_servers: vec!["10.0.0.53".into()],
                })))
            },
        },
        FailCase {
            id: "VPC004",
            name: "a zone for tidbcloud.com without the record, private DNS off",
            expect: Status::Fail,
            mutate: |f| {
                f.hosted_zones = Some(Ok(vec![zone("tidbcloud.com.")]));
                f.hosted_zone_records = Some(Ok(vec![ZoneRecords {
                    zone_id: "Z1".into(),
                    records: vec![],
                }]));
                endpoint_mut(f).private_dns_enabled = false;
            },
        },
        FailCase {
            id: "VPC004",
            name: "a zone named exactly the host",
            expect: Status::Fail,
            mutate: |f| {
                f.hosted_zones = Some(Ok(vec![zone(
                    "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com.",
                )]))
            },
        },
    ];

    #[test]
    fn vpc_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn vpc001_vpc002_dns_attributes() {
        let mut f = healthy();
        f.dns_hostnames = Some(Ok(false));
        assert_eq!(VPC_DNS_SUPPORT.run(&f).status, Status::Pass);
        let hostnames = VPC_DNS_HOSTNAMES.run(&f);
        assert_eq!(hostnames.status, Status::Fail);
        assert_eq!(
            hostnames.summary,
            "vpc-0a1b2c3d has enableDnsHostnames = false"
        );
        let fix = hostnames.fix.unwrap();
        assert!(fix.commands[0]
            .contains("modify-vpc-attribute --vpc-id vpc-0a1b2c3d --enable-dns-hostnames"));
        f.dns_support = Some(Err(denied(Need::VpcAttributes)));
        let support = VPC_DNS_SUPPORT.run(&f);
        assert_eq!(support.status, Status::Unknown);
        assert!(support.summary.contains("ec2:DescribeVpcAttribute"));
        f.vpc_choice = None;
        assert_eq!(VPC_DNS_SUPPORT.run(&f).status, Status::Skip);
    }

    /// VPC002's "why": DNS resolution is on by default everywhere; DNS
    /// hostnames is off for VPCs made through the API, CLI, SDKs or IaC
    /// (issue 8, item 9).
    #[test]
    fn vpc002_why_says_which_vpcs_start_with_hostnames_off() {
        let page = VPC_DNS_HOSTNAMES.explain;
        let why = page
            .split("**Why it matters.**")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .unwrap_or_default();
        for words in [
            "on by default in every VPC",
            "API",
            "CLI",
            "SDKs",
            "IaC",
            "VPC and more",
        ] {
            assert!(why.contains(words), "{words}: {why}");
        }
        assert!(!why.contains("off by default for VPCs created in"), "{why}");
    }

    #[test]
    fn vpc003_dhcp_resolver() {
        let mut f = healthy();
        f.dhcp_options = Some(Ok(None));
        assert_eq!(VPC_DHCP_RESOLVER.run(&f).status, Status::Pass);
        f.dhcp_options = Some(Ok(Some(DhcpOptions {
            dhcp_options_id: "dopt-1".into(),
            domain_name_servers: vec!["AmazonProvidedDNS".into()],
        })));
        assert_eq!(VPC_DHCP_RESOLVER.run(&f).status, Status::Pass);
        f.dhcp_options = Some(Ok(Some(DhcpOptions {
            dhcp_options_id: "dopt-1".into(),
            domain_name_servers: vec!["10.0.0.53".into()],
        })));
        let finding = VPC_DHCP_RESOLVER.run(&f);
        assert_eq!(finding.status, Status::Warn);
        assert!(finding.summary.contains("10.0.0.2"), "{}", finding.summary);
        f.dhcp_options = Some(Err(denied(Need::DhcpOptions)));
        assert_eq!(VPC_DHCP_RESOLVER.run(&f).status, Status::Unknown);
    }

    #[test]
    fn vpc004_hosted_zones() {
        let mut f = healthy();
        f.hosted_zones = Some(Ok(vec![zone("example.internal.")]));
        assert_eq!(HOSTED_ZONE_SHADOW.run(&f).status, Status::Pass);
        f.hosted_zones = Some(Ok(vec![zone("othertidbcloud.com.")]));
        assert_eq!(HOSTED_ZONE_SHADOW.run(&f).status, Status::Pass);
        f.hosted_zones = Some(Err(denied(Need::HostedZones)));
        assert_eq!(HOSTED_ZONE_SHADOW.run(&f).status, Status::Unknown);
    }

    const REGIONAL: &str =
        "vpce-00000001-a1b2c3d4.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com";

    fn zone_id(id: &str, name: &str) -> HostedZone {
        HostedZone {
            id: format!("/hostedzone/{id}"),
            name: name.into(),
            owning_service: None,
        }
    }

    fn record(name: &str, kind: &str, values: &[&str]) -> DnsRecord {
        DnsRecord {
            name: name.into(),
            record_type: kind.into(),
            ttl: Some(300),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias_target: None,
            set_identifier: None,
        }
    }

    /// The apex records every zone has.
    fn apex(name: &str) -> Vec<DnsRecord> {
        vec![
            record(name, "NS", &["ns-1.awsdns-00.com."]),
            record(
                name,
                "SOA",
                &["ns-1.awsdns-00.com. hostmaster 1 7200 900 1209600 86400"],
            ),
        ]
    }

    /// `healthy` with zones (ID, name, records) associated with the VPC;
    /// `shared`: the IDs of zones also associated with another VPC.
    fn zoned(zones: &[(&str, &str, Vec<DnsRecord>)], shared: &[&str]) -> Facts {
        let mut f = healthy();
        f.hosted_zones = Some(Ok(zones.iter().map(|(id, n, _)| zone_id(id, n)).collect()));
        f.hosted_zone_records = Some(Ok(zones
            .iter()
            .map(|(id, _, rs)| ZoneRecords {
                zone_id: id.to_string(),
                records: rs.clone(),
            })
            .collect()));
        f.hosted_zone_vpcs = Some(Ok(zones
            .iter()
            .map(|(id, _, _)| {
                let mut vpcs = vec![ZoneVpc {
                    vpc_id: VPC.into(),
                    region: "us-east-1".into(),
                }];
                if shared.contains(id) {
                    vpcs.push(ZoneVpc {
                        vpc_id: "vpc-0e0e0e0e".into(),
                        region: "us-east-1".into(),
                    });
                }
                ZoneVpcs {
                    zone_id: id.to_string(),
                    vpcs,
                }
            })
            .collect()));
        f
    }

    fn commands(finding: &crate::check::Finding) -> Vec<String> {
        finding
            .fix
            .as_ref()
            .map(|x| x.commands.clone())
            .unwrap_or_default()
    }

    /// Private DNS on: the endpoint's zone (named the host) is more specific
    /// than a parent zone, which is a warning at most (issue 8, item 11).
    #[test]
    fn vpc004_a_parent_zone_with_private_dns_on_warns() {
        let f = zoned(&[("Z1", "tidbcloud.com.", apex("tidbcloud.com."))], &[]);
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(commands(&finding).is_empty(), "{:?}", commands(&finding));
        // Pre-flight: the create command turns private DNS on.
        let mut pre = f.clone();
        pre.endpoints = Some(Ok(vec![]));
        assert_eq!(HOSTED_ZONE_SHADOW.run(&pre).status, Status::Warn);
        // Shared with another VPC: taking it off this one is offered.
        let f = zoned(&[("Z1", "tidbcloud.com.", apex("tidbcloud.com."))], &["Z1"]);
        let c = commands(&HOSTED_ZONE_SHADOW.run(&f));
        assert_eq!(c, ["aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z1 --vpc VPCRegion=us-east-1,VPCId=vpc-0a1b2c3d"]);
        // The endpoints could not be read: whether private DNS answers is unknown.
        let mut f = f;
        f.endpoints = Some(Err(denied(Need::Endpoints)));
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert_eq!(finding.status, Status::Unknown);
        assert!(finding.summary.contains("ec2:DescribeVpcEndpoints"));
    }

    /// Private DNS off: the most specific covering zone answers; without a
    /// record it answers NXDOMAIN. The fix is a record AWS accepts (a CNAME
    /// to the endpoint's regional name), never a disassociation Route 53
    /// refuses for the zone's last VPC (items 10 and 11).
    #[test]
    fn vpc004_private_dns_off_and_a_parent_zone_without_the_record_fails() {
        let mut f = zoned(&[("Z1", "tidbcloud.com.", apex("tidbcloud.com."))], &[]);
        endpoint_mut(&mut f).private_dns_enabled = false;
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert_eq!(finding.status, Status::Fail, "{}", finding.summary);
        assert!(finding.summary.contains("NXDOMAIN"), "{}", finding.summary);
        let c = commands(&finding);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            c[0],
            format!(
                r#"aws route53 change-resource-record-sets --hosted-zone-id Z1 --change-batch '{{"Changes":[{{"Action":"UPSERT","ResourceRecordSet":{{"Name":"{HOST}","ResourceRecords":[{{"Value":"{REGIONAL}"}}],"TTL":300,"Type":"CNAME"}}}}],"Comment":"tidbpe: {HOST} to vpce-00000001"}}'"#
            )
        );
        assert!(!c[0].contains("disassociate"));
        // Shared: the disassociation is offered too.
        let mut f = zoned(&[("Z1", "tidbcloud.com.", apex("tidbcloud.com."))], &["Z1"]);
        endpoint_mut(&mut f).private_dns_enabled = false;
        let c = commands(&HOSTED_ZONE_SHADOW.run(&f));
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(
            c[1].starts_with("aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z1 ")
        );
        // The most specific zone answers, even when a wider one has the record.
        let mut f = zoned(
            &[
                (
                    "Z1",
                    "tidbcloud.com.",
                    vec![record(&format!("{HOST}."), "CNAME", &[REGIONAL])],
                ),
                (
                    "Z2",
                    "prod.aws.tidbcloud.com.",
                    apex("prod.aws.tidbcloud.com."),
                ),
            ],
            &[],
        );
        endpoint_mut(&mut f).private_dns_enabled = false;
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("prod.aws.tidbcloud.com (Z2)"),
            "{}",
            finding.summary
        );
        assert!(commands(&finding)[0].contains("--hosted-zone-id Z2 "));
        // The records could not be read: unknown, naming the call.
        let mut f = zoned(&[("Z1", "tidbcloud.com.", vec![])], &[]);
        endpoint_mut(&mut f).private_dns_enabled = false;
        f.hosted_zone_records = Some(Err(denied(Need::HostedZoneRecords)));
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert_eq!(finding.status, Status::Unknown);
        assert!(
            finding.summary.contains("route53:ListResourceRecordSets"),
            "{}",
            finding.summary
        );
    }

    /// Private DNS off and a record for the host: say where it points.
    #[test]
    fn vpc004_private_dns_off_and_a_record_says_where_it_points() {
        let host = format!("{HOST}.");
        for (records, expect) in [
            (
                vec![record(&host, "CNAME", &[&format!("{REGIONAL}.")])],
                Status::Pass,
            ),
            (vec![record(&host, "A", &["10.0.1.10"])], Status::Pass),
            (vec![record(&host, "A", &["10.9.9.9"])], Status::Warn),
            (
                vec![record(
                    "\\052.us-east-1.prod.aws.tidbcloud.com.",
                    "A",
                    &["10.9.9.9"],
                )],
                Status::Warn,
            ),
            (vec![record(&host, "TXT", &["\"hello\""])], Status::Fail),
            (
                vec![record("other.tidbcloud.com.", "A", &["10.9.9.9"])],
                Status::Fail,
            ),
        ] {
            let mut f = zoned(&[("Z1", "tidbcloud.com.", records.clone())], &[]);
            endpoint_mut(&mut f).private_dns_enabled = false;
            let finding = HOSTED_ZONE_SHADOW.run(&f);
            assert_eq!(finding.status, expect, "{records:?}: {}", finding.summary);
        }
        // An A record elsewhere: the fix replaces it (a CNAME cannot sit beside it).
        let mut f = zoned(
            &[(
                "Z1",
                "tidbcloud.com.",
                vec![record(&host, "A", &["10.9.9.9"])],
            )],
            &[],
        );
        endpoint_mut(&mut f).private_dns_enabled = false;
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert!(
            finding
                .summary
                .contains("with A 10.9.9.9, not with vpce-00000001"),
            "{}",
            finding.summary
        );
        let c = commands(&finding);
        assert!(
            c[0].contains(&format!(r#"{{"Action":"DELETE","ResourceRecordSet":{{"Name":"{host}","ResourceRecords":[{{"Value":"10.9.9.9"}}],"TTL":300,"Type":"A"}}}},{{"Action":"UPSERT""#)),
            "{c:?}"
        );
    }

    /// A zone named exactly the host fails, whatever private DNS says:
    /// enabling private DNS fails beside it ("conflicting DNS domain").
    #[test]
    fn vpc004_a_zone_named_the_host_fails() {
        let host = format!("{HOST}.");
        let f = zoned(&[("Z9", &host, apex(&host))], &[]);
        let finding = HOSTED_ZONE_SHADOW.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("conflicting DNS domain"),
            "{}",
            finding.summary
        );
        // The VPC is its only one: delete it (disassociating is refused).
        assert_eq!(
            commands(&finding),
            ["aws route53 delete-hosted-zone --id Z9"]
        );
        // With a record: emptied first.
        let f = zoned(
            &[(
                "Z9",
                &host,
                [apex(&host), vec![record(&host, "A", &["10.0.1.10"])]].concat(),
            )],
            &[],
        );
        let c = commands(&HOSTED_ZONE_SHADOW.run(&f));
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(
            c[0].contains(r#""Action":"DELETE""#) && c[0].contains("--hosted-zone-id Z9 "),
            "{c:?}"
        );
        assert_eq!(c[1], "aws route53 delete-hosted-zone --id Z9");
        // Records unknown: list them, then delete.
        let mut f = zoned(&[("Z9", &host, vec![])], &[]);
        f.hosted_zone_records = Some(Err(denied(Need::HostedZoneRecords)));
        let c = commands(&HOSTED_ZONE_SHADOW.run(&f));
        assert_eq!(
            c,
            [
                "aws route53 list-resource-record-sets --hosted-zone-id Z9",
                "aws route53 delete-hosted-zone --id Z9"
            ]
        );
        // Shared with another VPC: disassociate it from this one.
        let f = zoned(&[("Z9", &host, apex(&host))], &["Z9"]);
        let c = commands(&HOSTED_ZONE_SHADOW.run(&f));
        assert_eq!(c.len(), 1);
        assert!(
            c[0].starts_with("aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z9 ")
        );
    }
}
