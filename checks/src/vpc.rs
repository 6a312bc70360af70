//! The VPC's DNS configuration: VPC001 vpc-dns-support, VPC002
//! vpc-dns-hostnames, VPC003 vpc-dhcp-resolver, VPC004 hosted-zone-shadow.
//! Private DNS of an interface endpoint only answers inside a VPC whose
//! resolver is the Amazon one and where nothing shadows the name.

use std::net::IpAddr;

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{
    describe_vpc_attribute, disassociate_vpc_from_hosted_zone, modify_vpc_attribute,
};
use crate::facts::{Fact, Facts};
use crate::read::{effective_host, fact, host, join, vpc_id, NO_VPC};

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
    needs: &[Need::HostedZones],
    explain: explain!("VPC004"),
    judge: Some(hosted_zone_shadow),
};

fn hosted_zone_shadow(facts: &Facts) -> Judged {
    let vpc_id = vpc_id(facts)?;
    let zones = fact(&facts.hosted_zones, NO_VPC)?;
    let host = host(facts)?;
    let names: Vec<String> = zones.iter().map(|z| z.name.clone()).collect();
    let shadowing: Vec<_> = zones
        .iter()
        .filter(|z| {
            let zone = z.name.trim_end_matches('.').to_ascii_lowercase();
            host == zone || host.ends_with(&format!(".{zone}"))
        })
        .collect();
    let outcome = if shadowing.is_empty() {
        match zones.len() {
            0 => Outcome::pass(format!(
                "no private hosted zone is associated with {vpc_id}"
            )),
            n => Outcome::pass(format!(
                "none of the {n} private hosted zone(s) associated with {vpc_id} covers {host}"
            )),
        }
    } else {
        let labels: Vec<String> = shadowing
            .iter()
            .map(|z| format!("{} ({})", z.name.trim_end_matches('.'), z.id))
            .collect();
        let commands = shadowing
            .iter()
            .filter(|z| z.owning_service.is_none())
            .map(|z| disassociate_vpc_from_hosted_zone(facts, &z.id, vpc_id))
            .collect();
        let owned: Vec<String> = shadowing
            .iter()
            .filter_map(|z| {
                z.owning_service.as_ref().map(|s| {
                    format!(
                        "{} is owned by {s}: change it through that service",
                        z.name.trim_end_matches('.')
                    )
                })
            })
            .collect();
        Outcome::fail(format!(
            "private hosted zone {} is associated with {vpc_id} and covers {host}: it shadows the endpoint's private DNS name",
            join(&labels)
        ))
        .with_fix(Fix {
            text: format!(
                "Route 53 answers {host} from the private zone instead of the endpoint's private DNS. Disassociate the zone from the VPC (if this VPC is its only one, Route 53 refuses with LastVPCAssociation: delete the zone instead, or replace it by a zone narrower than the TiDB Cloud domain).{}",
                if owned.is_empty() { String::new() } else { format!(" {}.", join(&owned)) }
            ),
            commands,
        })
    };
    Ok(outcome
        .with("vpc_id", vpc_id)
        .with("host", host)
        .with("hosted_zones", names))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Status;
    use crate::facts::{DhcpOptions, HostedZone};
    use crate::testing::{assert_fail_cases, denied, healthy, FailCase};

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
            name: "a zone for tidbcloud.com",
            expect: Status::Fail,
            mutate: |f| f.hosted_zones = Some(Ok(vec![zone("tidbcloud.com.")])),
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
        for shadow in [
            "tidbcloud.com.",
            "prod.aws.tidbcloud.com",
            "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com.",
        ] {
            f.hosted_zones = Some(Ok(vec![zone("example.internal."), zone(shadow)]));
            let finding = HOSTED_ZONE_SHADOW.run(&f);
            assert_eq!(finding.status, Status::Fail, "{shadow}");
            assert!(finding.fix.unwrap().commands[0].contains("--hosted-zone-id Z1 "));
        }
        f.hosted_zones = Some(Ok(vec![zone("othertidbcloud.com.")]));
        assert_eq!(HOSTED_ZONE_SHADOW.run(&f).status, Status::Pass);
        f.hosted_zones = Some(Err(denied(Need::HostedZones)));
        assert_eq!(HOSTED_ZONE_SHADOW.run(&f).status, Status::Unknown);
    }
}
