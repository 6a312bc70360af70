//! DNS as the client sees it: DNS001 dns-resolves, DNS002
//! dns-private-answer, DNS003 dns-resolver-path. They judge the live probe
//! facts (`probe_facts`), gathered only from where the client stands; the
//! AWS facts serve to compare (the endpoint's addresses, the VPC resolver)
//! and to name which AWS-side check explains a bad answer. DNS004
//! resolver-rules (its own section at the end) judges the Route 53 Resolver
//! rules associated with the VPC, from the AWS facts alone.

use std::net::IpAddr;

use crate::check::{explain, Check, Fix, Judged, Need, Outcome, Status};
use crate::commands::{disassociate_resolver_rule, enable_private_dns};
use crate::facts::{Fact, Facts, ResolverRule};
use crate::probe_facts::{
    vpc_resolver_addresses, DnsAnswer, DnsLookup, DnsProbe, FileContent, HostsEntry, ResolverPath,
    VPC_RESOLVER_V4,
};
use crate::probing::{
    dig, dig_vpc_resolver, endpoint_ips, getent, is_public, list, owner_of, probes, resolver_label,
    unknown, verdicts_of, vpc_cidrs,
};
use crate::read::{
    brief, covers, dns_name, fact, host, join, main_endpoint, outside_vpc_fix, private_dns_domain,
    vpc_id, NO_VPC,
};

// ------------------------------------------------------------------ DNS001

pub(crate) const DNS_RESOLVES: Check = Check {
    id: "DNS001",
    slug: "dns-resolves",
    title: "The host resolves from this machine",
    needs: &[],
    explain: explain!("DNS001"),
    judge: Some(dns_resolves),
};

/// How telling a failed lookup is, most telling first: NXDOMAIN is an
/// answer about the name, "no records" only about one type.
fn failure_rank(answer: &DnsAnswer) -> u8 {
    match answer {
        DnsAnswer::NxDomain => 0,
        DnsAnswer::ServerError { .. } => 1,
        DnsAnswer::Timeout => 2,
        DnsAnswer::Error { .. } => 3,
        DnsAnswer::NoRecords => 4,
        DnsAnswer::Addresses { .. } => 5,
    }
}

fn dns_resolves(facts: &Facts) -> Judged {
    let p = probes(facts)?;
    let host = &crate::read::host(facts)?;
    let Some(dns) = &p.dns else {
        return Err(Outcome::skip(format!(
            "{host} is an IP address: nothing to resolve"
        )));
    };
    let via = resolver_label(dns);
    let evidence = |o: Outcome| {
        o.with("name", &dns.name)
            .with("resolver", &dns.resolver)
            .with("a", &dns.a)
            .with("aaaa", &dns.aaaa)
    };
    let addresses = dns.addresses();
    if !addresses.is_empty() {
        let slow = [("A", &dns.a), ("AAAA", &dns.aaaa)]
            .iter()
            .filter_map(|(family, l)| match &l.answer {
                DnsAnswer::Timeout => Some(format!("{family} timed out")),
                DnsAnswer::ServerError { code } => Some(format!("{family}: {code}")),
                DnsAnswer::Error { message } => Some(format!("{family}: {message}")),
                _ => None,
            })
            .collect::<Vec<_>>();
        let note = if slow.is_empty() {
            String::new()
        } else {
            format!(" ({})", join(&slow))
        };
        let ms = dns.a.ms.max(dns.aaaa.ms);
        return Ok(evidence(Outcome::pass(format!(
            "{host} resolves to {} via {via} in {ms} ms{note}",
            list(&addresses)
        ))));
    }
    if let Some(error) = &dns.resolver.config_error {
        return Ok(evidence(unknown(
            format!("could not resolve {host}: {error}"),
            Fix {
                text: "Repair /etc/resolv.conf (a `nameserver` line: the VPC resolver is 169.254.169.253), or name the resolver to ask with --dns-server, then run the doctor again.".into(),
                commands: vec!["cat /etc/resolv.conf".to_string(), getent(host)],
            },
        )));
    }
    let worst: &DnsLookup = if failure_rank(&dns.a.answer) <= failure_rank(&dns.aaaa.answer) {
        &dns.a
    } else {
        &dns.aaaa
    };
    let check_aws = "Check the AWS side (EP003 private DNS on the endpoint, VPC001/VPC002 the VPC's DNS attributes, VPC004 a private zone covering the name) and DNS003 (which resolver this machine asks: another resolver must forward tidbcloud.com to the VPC resolver, VPC003). From inside the VPC, compare with the VPC resolver's answer:";
    let outcome = match &worst.answer {
        DnsAnswer::NxDomain => Outcome::fail(format!(
            "{via} answers NXDOMAIN for {host}: the name does not exist for this resolver (MySQL clients say ERROR 2005 Unknown MySQL server host)"
        ))
        .with_fix(Fix {
            text: format!("The endpoint's private DNS name exists only for the VPC resolver of a VPC whose endpoint has private DNS on. {check_aws}"),
            commands: vec![dig_vpc_resolver(host), dig(host)],
        }),
        DnsAnswer::ServerError { code } => {
            let meaning = if code.eq_ignore_ascii_case("REFUSED") {
                "the server will not answer this client (recursion not allowed, or an access list): ask the VPC resolver, or allow this client on that server"
            } else {
                "the server could not get an answer (a broken forwarder, an unreachable upstream, a DNSSEC failure): fix its forwarding of tidbcloud.com to the VPC resolver, or ask the VPC resolver"
            };
            Outcome::fail(format!("{via} answers {code} for {host}"))
                .with_fix(Fix {
                    text: format!("{code}: {meaning}. Compare with the VPC resolver's answer (from inside the VPC):"),
                    commands: vec![dig_vpc_resolver(host), dig(host)],
                })
        }
        DnsAnswer::Timeout => Outcome::fail(format!(
            "no answer from {via} for {host} within {} ms (timed out)",
            worst.ms
        ))
        .with_fix(Fix {
            text: "The resolver does not answer: check that this machine reaches it on UDP and TCP port 53 (security groups, network ACLs, a host firewall) and that it runs, or ask one that answers (--dns-server; the VPC resolver is 169.254.169.253). Then:".into(),
            commands: vec![dig(host), dig_vpc_resolver(host)],
        }),
        DnsAnswer::NoRecords => Outcome::fail(format!(
            "{via} knows {host} but has no A or AAAA record for it"
        ))
        .with_fix(Fix {
            text: format!("The name exists without an address: a private hosted zone or a DNS server holds it without the endpoint's records (VPC004). {check_aws}"),
            commands: vec![dig_vpc_resolver(host), dig(host)],
        }),
        DnsAnswer::Error { message } => unknown(
            format!("could not resolve {host} with {via}: {message}"),
            Fix {
                text: "The query itself failed on this machine (no usable server, a socket error): check /etc/resolv.conf or pass --dns-server, then run the doctor again.".into(),
                commands: vec![getent(host)],
            },
        ),
        // Unreachable: no addresses at all were answered.
        DnsAnswer::Addresses { .. } => Outcome::fail(format!("{via} answered no address for {host}")),
    };
    Ok(evidence(outcome))
}

// ------------------------------------------------------------------ DNS002

pub(crate) const DNS_PRIVATE_ANSWER: Check = Check {
    id: "DNS002",
    slug: "dns-private-answer",
    title: "The host resolves to the endpoint's private IPs",
    // Endpoints and interfaces decide; the others only name whose an
    // address is, and which AWS-side check explains a public answer.
    needs: &[
        Need::Endpoints,
        Need::NetworkInterfaces,
        Need::Vpc,
        Need::Subnets,
        Need::VpcAttributes,
        Need::DhcpOptions,
        Need::HostedZones,
    ],
    explain: explain!("DNS002"),
    judge: Some(dns_private_answer),
};

/// The AWS-side checks that make the endpoint's private DNS answer here.
const PRIVATE_DNS_CHECKS: &[&str] = &[
    "EP001", "EP002", "EP003", "VPC001", "VPC002", "VPC003", "VPC004",
];

fn dns_private_answer(facts: &Facts) -> Judged {
    let p = probes(facts)?;
    let host = &crate::read::host(facts)?;
    let Some(dns) = &p.dns else {
        return Err(Outcome::skip(format!(
            "{host} is an IP address: no DNS answer to judge"
        )));
    };
    let answers = dns.addresses();
    if answers.is_empty() {
        return Err(Outcome::skip(
            "no address was answered to judge (see DNS001)",
        ));
    }
    let via = resolver_label(dns);
    let public: Vec<IpAddr> = answers
        .iter()
        .copied()
        .filter(|ip| is_public(*ip))
        .collect();
    if !public.is_empty() {
        return Ok(public_answer(facts, dns, &public, &via));
    }
    let (endpoint_id, ips) = match endpoint_ips(facts) {
        Ok(found) => found,
        Err(why) => {
            let summary = format!(
                "{host} resolves to private {} via {via}, but they could not be compared with the endpoint's addresses: {}",
                list(&answers),
                why.summary
            );
            let fix = why.fix.clone().unwrap_or_else(|| Fix {
                text: "Run the doctor where it can read the VPC and its endpoint (AWS credentials, --vpc-id), to compare the answers with the endpoint's addresses.".into(),
                commands: vec![],
            });
            // The failed call's error, as every unknown carries it: the
            // report groups unknowns by their cause.
            let mut outcome = unknown(summary, fix);
            outcome.evidence.extend(why.evidence);
            return Ok(outcome.with("answers", &answers).with("compared", false));
        }
    };
    // Interfaces' IPv6 addresses are not gathered: an IPv6 answer inside
    // the VPC's IPv6 CIDR is taken as the VPC's own.
    let v6_nets: Vec<_> = vpc_cidrs(facts)
        .into_iter()
        .filter(|n| matches!(n, ipnet::IpNet::V6(_)))
        .collect();
    let foreign: Vec<IpAddr> = answers
        .iter()
        .copied()
        .filter(|ip| !ips.contains(ip) && !v6_nets.iter().any(|n| n.contains(ip)))
        .collect();
    let evidence = |o: Outcome| {
        o.with("answers", &answers)
            .with("endpoint_id", &endpoint_id)
            .with("endpoint_addresses", &ips)
    };
    if foreign.is_empty() {
        return Ok(evidence(Outcome::pass(format!(
            "every answer ({}) is a private address of {endpoint_id}'s network interfaces",
            list(&answers)
        ))));
    }
    let whose: Vec<String> = foreign
        .iter()
        .map(|ip| {
            owner_of(facts, *ip, Some(&endpoint_id))
                .unwrap_or_else(|| format!("{ip} belongs to nothing the doctor can see"))
        })
        .collect();
    Ok(evidence(Outcome::fail(format!(
        "{host} resolves via {via} to {}, not an address of {endpoint_id} ({}): {}",
        list(&foreign),
        list(&ips),
        brief(&whose)
    )))
    .with("whose", &whose)
    .with_fix(Fix {
        text: format!(
            "Something answers {host} with addresses that are not the endpoint's: a stale record in a private hosted zone (VPC004), a resolver rule or DNS server pointing elsewhere (DNS003), or another endpoint's private DNS. The endpoint's addresses are {}. Find which server answers and correct or remove its record:",
            list(&ips)
        ),
        commands: vec![dig(host), dig_vpc_resolver(host)],
    }))
}

/// A public answer: private DNS is not in effect here. Name the AWS-side
/// checks that explain it; when they all pass, this machine is not asking
/// the VPC's resolver, or is outside the VPC.
fn public_answer(facts: &Facts, dns: &DnsProbe, public: &[IpAddr], via: &str) -> Outcome {
    let host = &crate::read::effective_host(facts).unwrap_or_else(|| "the host".into());
    let verdicts = verdicts_of(facts, PRIVATE_DNS_CHECKS);
    let explaining: Vec<String> = verdicts
        .iter()
        .filter(|(_, s, _)| matches!(s, Status::Fail | Status::Warn))
        .map(|(id, _, summary)| format!("{id} ({summary})"))
        .collect();
    let unseen: Vec<String> = verdicts
        .iter()
        .filter(|(_, s, _)| matches!(s, Status::Unknown | Status::Skip))
        .map(|(id, _, _)| id.clone())
        .collect();
    let elsewhere =
        "this machine does not ask the VPC's resolver (see DNS003), or it is outside the VPC";
    let why = if !explaining.is_empty() {
        format!("explained by {}", brief(&explaining))
    } else if unseen.is_empty() {
        format!(
            "the AWS side is right ({} pass), so {elsewhere}",
            join(
                &PRIVATE_DNS_CHECKS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
            )
        )
    } else {
        format!(
            "the AWS side could not be fully inspected ({} not judged); if it is right, {elsewhere}",
            join(&unseen)
        )
    };
    let ids: Vec<String> = explaining
        .iter()
        .filter_map(|e| e.split(' ').next().map(str::to_string))
        .collect();
    Outcome::fail(format!(
        "{host} resolves via {via} to public {}: the endpoint's private DNS is not in effect here; {why}",
        list(public)
    ))
    .with("answers", dns.addresses())
    .with("public", public)
    .with("explained_by", &ids)
    .with_fix(Fix {
        text: if ids.is_empty() {
            // Outside the VPC: the three ways that work (issue 13, item 5).
            let outside = outside_vpc_fix(facts, main_endpoint(facts).ok(), host).text;
            format!("Make this machine ask the VPC resolver ({VPC_RESOLVER_V4}, or the VPC CIDR base + 2), or forward tidbcloud.com to it from the resolver it asks. {outside} Then compare:")
        } else {
            format!(
                "Fix {} first (their findings give the commands); private DNS then answers the endpoint's private addresses. Then compare:",
                join(&ids)
            )
        },
        commands: vec![dig(host), dig_vpc_resolver(host)],
    })
}

// ------------------------------------------------------------------ DNS003

pub(crate) const DNS_RESOLVER_PATH: Check = Check {
    id: "DNS003",
    slug: "dns-resolver-path",
    title: "This machine asks the VPC resolver, and /etc/hosts does not pin the host",
    // The VPC decides which address is its resolver (CIDR base + 2); the
    // endpoint's addresses matter only when /etc/hosts pins the host.
    needs: &[Need::Vpc, Need::Endpoints, Need::NetworkInterfaces],
    explain: explain!("DNS003"),
    judge: Some(dns_resolver_path),
};

fn dns_resolver_path(facts: &Facts) -> Judged {
    let p = probes(facts)?;
    let Some(path) = &p.resolver_path else {
        return Err(Outcome::skip("the resolver path was not read"));
    };
    let pins = match &path.hosts.content {
        FileContent::Read(entries) => entries.as_slice(),
        _ => &[],
    };
    let parts = [pinned(facts, path, pins), resolver(facts, path)];
    // The worst part decides.
    let status = Status::worst(parts.iter().flatten().map(|o| o.status));
    let summary = parts
        .iter()
        .flatten()
        .filter(|o| status == Status::Pass || o.status != Status::Pass)
        .map(|o| o.summary.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let mut commands = Vec::new();
    let mut texts = Vec::new();
    for fix in parts.iter().flatten().filter_map(|o| o.fix.as_ref()) {
        texts.push(fix.text.clone());
        commands.extend(fix.commands.iter().cloned());
    }
    let mut outcome = Outcome {
        status,
        summary,
        evidence: Default::default(),
        fix: None,
        why: None,
    }
    .with("system_servers", path.system_servers())
    .with("resolv_conf", &path.resolv_conf)
    .with("dns_server", path.dns_server)
    .with("hosts_entries", pins)
    .with("vpc_resolvers", vpc_resolver_addresses(&vpc_cidrs(facts)));
    if let Some(s) = &path.systemd_resolved {
        outcome = outcome.with("systemd_resolved", s);
    }
    // An unknown part's failed call, as every unknown carries it.
    if let Some(error) = parts
        .iter()
        .flatten()
        .filter(|o| o.status == Status::Unknown)
        .find_map(|o| o.evidence.get("error"))
    {
        outcome = outcome.with("error", error);
    }
    if status != Status::Pass && !texts.is_empty() {
        outcome = outcome.with_fix(Fix {
            text: texts.join(" "),
            commands,
        });
    }
    Ok(outcome)
}

/// `/etc/hosts` lines naming the host: the C library answers from there
/// before DNS, so an application connects where they say.
fn pinned(facts: &Facts, path: &ResolverPath, pins: &[HostsEntry]) -> Option<Outcome> {
    if pins.is_empty() {
        return None;
    }
    let host = &crate::read::effective_host(facts).unwrap_or_else(|| "the host".into());
    let file = &path.hosts.path;
    let line = |e: &HostsEntry| format!("{file} line {} pins {host} to {}", e.line, e.address);
    let remove = |wrong: &[&HostsEntry]| {
        let script: Vec<String> = wrong.iter().map(|e| format!("-e '{}d'", e.line)).collect();
        Fix {
            text: "Remove the line(s) from /etc/hosts (applications read it before DNS; a line may name other hosts too: keep those), then check what applications get:".into(),
            commands: vec![
                format!("sudo sed -i.bak {} /etc/hosts", script.join(" ")),
                getent(host),
            ],
        }
    };
    match endpoint_ips(facts) {
        Ok((endpoint_id, ips)) => {
            let wrong: Vec<&HostsEntry> =
                pins.iter().filter(|e| !ips.contains(&e.address)).collect();
            if wrong.is_empty() {
                Some(Outcome::warn(format!(
                    "{} ({endpoint_id}'s address): it works until the endpoint's interfaces change; DNS would give the same",
                    pins.iter().map(line).collect::<Vec<_>>().join(", ")
                )).with_fix(Fix {
                    text: "Prefer DNS: remove the line(s) from /etc/hosts so a recreated endpoint is followed:".into(),
                    commands: remove(&pins.iter().collect::<Vec<_>>()).commands,
                }))
            } else {
                let lines: Vec<String> = wrong.iter().map(|e| line(e)).collect();
                Some(Outcome::fail(format!(
                    "{}, not an address of {endpoint_id} ({}): applications connect there, whatever DNS says",
                    brief(&lines),
                    list(&ips)
                )).with_fix(remove(&wrong)))
            }
        }
        Err(why) => {
            let public: Vec<&HostsEntry> = pins.iter().filter(|e| is_public(e.address)).collect();
            if !public.is_empty() {
                let lines: Vec<String> = public.iter().map(|e| line(e)).collect();
                return Some(Outcome::fail(format!(
                    "{}, a public address: never an interface endpoint's; applications connect there, whatever DNS says",
                    brief(&lines)
                )).with_fix(remove(&public)));
            }
            let lines: Vec<String> = pins.iter().map(line).collect();
            let mut outcome = unknown(
                format!(
                    "{}: could not compare with the endpoint's addresses: {}",
                    brief(&lines),
                    why.summary
                ),
                why.fix
                    .clone()
                    .unwrap_or_else(|| remove(&pins.iter().collect::<Vec<_>>())),
            );
            outcome.evidence.extend(why.evidence);
            Some(outcome)
        }
    }
}

/// Which resolver this machine asks.
fn resolver(facts: &Facts, path: &ResolverPath) -> Option<Outcome> {
    let host = &crate::read::effective_host(facts).unwrap_or_else(|| "the host".into());
    if let Some(server) = path.dns_server {
        return Some(Outcome::pass(format!(
            "the probes asked --dns-server {server}"
        )));
    }
    let conf = match &path.resolv_conf.content {
        FileContent::Read(conf) => conf,
        FileContent::Missing => {
            return Some(other_resolver(
                host,
                format!("there is no {}: the C library asks 127.0.0.1", path.resolv_conf.path),
            ))
        }
        FileContent::Unreadable { error } => {
            return Some(unknown(
                format!("could not read {}: {error}", path.resolv_conf.path),
                Fix {
                    text: "Run the doctor as a user who can read it, or pass --dns-server with the resolver applications use.".into(),
                    commands: vec![],
                },
            ))
        }
    };
    let servers = path.system_servers();
    if conf.nameservers.is_empty() {
        return Some(other_resolver(
            host,
            format!(
                "{} names no nameserver: the C library asks 127.0.0.1",
                path.resolv_conf.path
            ),
        ));
    }
    let source = match &path.systemd_resolved {
        Some(s) if servers != conf.nameservers => {
            format!("systemd-resolved's upstreams, {}", s.path)
        }
        _ => path.resolv_conf.path.clone(),
    };
    let vpc: Option<&Fact<_>> = facts.vpc.as_ref();
    let resolvers = vpc_resolver_addresses(&vpc_cidrs(facts));
    let others: Vec<IpAddr> = servers
        .iter()
        .copied()
        .filter(|s| !resolvers.contains(s))
        .collect();
    if others.is_empty() {
        return Some(Outcome::pass(format!(
            "this machine asks the VPC resolver {} ({source})",
            list(&servers)
        )));
    }
    // The VPC's CIDR base + 2 can only be told with the VPC's CIDRs.
    let maybe_base_plus_two = others.iter().any(|ip| {
        matches!(ip, IpAddr::V4(v4) if !is_public(*ip) && !v4.is_loopback() && !v4.is_link_local())
    });
    match vpc {
        Some(Err(e)) if maybe_base_plus_two => {
            let cause = Outcome::unknown(e);
            let error = cause.evidence.get("error").cloned();
            return Some(unknown(
                format!(
                    "this machine asks {} ({source}); whether that is the VPC resolver (CIDR base + 2) is unknown: {}",
                    list(&others),
                    cause.summary
                ),
                cause.fix.unwrap_or_default(),
            )
            .with("error", error));
        }
        None if maybe_base_plus_two => {
            return Some(unknown(
                format!(
                    "this machine asks {} ({source}); whether that is the VPC resolver (CIDR base + 2) is unknown: the VPC was not inspected",
                    list(&others)
                ),
                Fix {
                    text: "Run the doctor with AWS credentials (and --vpc-id when not on an instance of the VPC), so the VPC's CIDR is known.".into(),
                    commands: vec![],
                },
            ));
        }
        _ => {}
    }
    let vpc_list = list(&resolvers);
    Some(other_resolver(
        host,
        format!(
            "this machine asks {} ({source}), not the VPC resolver ({vpc_list}): it must forward tidbcloud.com to the VPC resolver",
            list(&others)
        ),
    ))
}

/// Another resolver: it works only if it forwards the domain.
fn other_resolver(host: &str, summary: String) -> Outcome {
    Outcome::warn(summary).with_fix(Fix {
        text: format!("The endpoint's private DNS name is answered by the VPC resolver only. Forward tidbcloud.com from the resolver this machine asks to the VPC resolver ({VPC_RESOLVER_V4}, or the VPC CIDR base + 2), or point this machine at it (systemd-resolved: DNS={VPC_RESOLVER_V4} with Domains=~tidbcloud.com). Compare the two answers:"),
        commands: vec![dig(host), dig_vpc_resolver(host)],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::facts::NetworkInterface;
    use crate::probe_facts::{FileFact, ResolvConf, Vantage, VantageReason, SYSTEMD_RESOLVED_STUB};
    use crate::testing::{
        assert_fail_cases, denied, endpoint_mut, healthy, probes_mut, FailCase, HOST,
    };

    fn answer(addresses: &[&str]) -> DnsAnswer {
        DnsAnswer::Addresses {
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            cnames: vec![],
        }
    }

    fn set_dns(f: &mut Facts, a: DnsAnswer, aaaa: DnsAnswer) {
        let dns = probes_mut(f).dns.as_mut().unwrap();
        dns.a.answer = a;
        dns.aaaa.answer = aaaa;
    }

    fn set_nameservers(f: &mut Facts, servers: &[&str]) {
        let path = probes_mut(f).resolver_path.as_mut().unwrap();
        path.resolv_conf.content = FileContent::Read(ResolvConf {
            nameservers: servers.iter().map(|s| s.parse().unwrap()).collect(),
            ..ResolvConf::default()
        });
    }

    fn pin(f: &mut Facts, address: &str) {
        let path = probes_mut(f).resolver_path.as_mut().unwrap();
        path.hosts.content = FileContent::Read(vec![HostsEntry {
            line: 3,
            address: address.parse().unwrap(),
            names: vec![HOST.into()],
        }]);
    }

    /// Changes to the healthy world that give a DNS check its worst verdict,
    /// or `unknown` for a probe that could not see.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "DNS001",
            name: "NXDOMAIN",
            expect: Status::Fail,
            mutate: |f| set_dns(f, DnsAnswer::NxDomain, DnsAnswer::NxDomain),
        },
        FailCase {
            id: "DNS001",
            name: "the resolver timed out",
            expect: Status::Fail,
            mutate: |f| set_dns(f, DnsAnswer::Timeout, DnsAnswer::Timeout),
        },
        FailCase {
            id: "DNS001",
            name: "a socket error (unknown, not a verdict)",
            expect: Status::Unknown,
            mutate: |f| {
                let e = DnsAnswer::Error {
                    message: "no connections available".into(),
                };
                set_dns(f, e.clone(), e)
            },
        },
        FailCase {
            id: "DNS002",
            name: "a public answer",
            expect: Status::Fail,
            mutate: |f| set_dns(f, answer(&["52.1.2.3"]), DnsAnswer::NoRecords),
        },
        FailCase {
            id: "DNS002",
            name: "a private answer that is not the endpoint's",
            expect: Status::Fail,
            mutate: |f| set_dns(f, answer(&["10.0.3.99"]), DnsAnswer::NoRecords),
        },
        FailCase {
            id: "DNS003",
            name: "/etc/hosts pins the host elsewhere",
            expect: Status::Fail,
            mutate: |f| pin(f, "10.0.99.9"),
        },
        FailCase {
            id: "DNS003",
            name: "another resolver (a warning)",
            expect: Status::Warn,
            mutate: |f| set_nameservers(f, &["8.8.8.8"]),
        },
    ];

    #[test]
    fn dns_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn dns001_resolves_names_the_addresses_and_the_resolver() {
        let f = healthy();
        let finding = DNS_RESOLVES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(
            finding
                .summary
                .contains("resolves to 10.0.1.10 via the system resolver (10.0.0.2:53)"),
            "{}",
            finding.summary
        );
        assert_eq!(finding.evidence["a"]["answer"]["outcome"], "addresses");
    }

    #[test]
    fn dns001_each_failure_has_its_own_finding_and_fix() {
        let cases = [
            (
                DnsAnswer::NxDomain,
                DnsAnswer::NxDomain,
                "NXDOMAIN",
                "EP003",
            ),
            (
                DnsAnswer::ServerError {
                    code: "SERVFAIL".into(),
                },
                DnsAnswer::NoRecords,
                "answers SERVFAIL",
                "forwarder",
            ),
            (
                DnsAnswer::ServerError {
                    code: "REFUSED".into(),
                },
                DnsAnswer::ServerError {
                    code: "REFUSED".into(),
                },
                "answers REFUSED",
                "recursion",
            ),
            (
                DnsAnswer::Timeout,
                DnsAnswer::NoRecords,
                "timed out",
                "port 53",
            ),
            (
                DnsAnswer::NoRecords,
                DnsAnswer::NoRecords,
                "no A or AAAA",
                "VPC004",
            ),
        ];
        let mut summaries = std::collections::BTreeSet::new();
        for (a, aaaa, said, fix) in cases {
            let mut f = healthy();
            set_dns(&mut f, a, aaaa);
            let finding = DNS_RESOLVES.run(&f);
            assert_eq!(finding.status, Status::Fail, "{}", finding.summary);
            assert!(
                finding.summary.contains(said),
                "{said}: {}",
                finding.summary
            );
            let text = finding.fix.unwrap().text;
            assert!(text.contains(fix), "{fix}: {text}");
            summaries.insert(finding.summary);
        }
        assert_eq!(summaries.len(), 5);
        // NXDOMAIN for one family beats a timeout of the other.
        let mut f = healthy();
        set_dns(&mut f, DnsAnswer::Timeout, DnsAnswer::NxDomain);
        assert!(DNS_RESOLVES.run(&f).summary.contains("NXDOMAIN"));
        // An answer for one family is enough; the other's timeout is noted.
        let mut f = healthy();
        set_dns(&mut f, answer(&["10.0.1.10"]), DnsAnswer::Timeout);
        let finding = DNS_RESOLVES.run(&f);
        assert_eq!(finding.status, Status::Pass);
        assert!(
            finding.summary.contains("AAAA timed out"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn dns001_an_unusable_configuration_is_unknown() {
        let mut f = healthy();
        let dns = probes_mut(&mut f).dns.as_mut().unwrap();
        dns.resolver.config_error = Some("no nameserver in /etc/resolv.conf".into());
        let e = DnsAnswer::Error {
            message: "no nameserver".into(),
        };
        dns.a.answer = e.clone();
        dns.aaaa.answer = e;
        let finding = DNS_RESOLVES.run(&f);
        assert_eq!(finding.status, Status::Unknown);
        assert!(
            finding.summary.contains("no nameserver"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn dns001_dns002_dns003_skip_away_from_the_client_with_the_command() {
        let mut f = healthy();
        probes_mut(&mut f).vantage =
            Vantage::decide(None, Err("IMDS did not answer"), Some("vpc-0a1b2c3d"));
        for check in [DNS_RESOLVES, DNS_PRIVATE_ANSWER, DNS_RESOLVER_PATH] {
            let finding = check.run(&f);
            assert_eq!(finding.status, Status::Skip, "{}", check.id);
            assert!(
                finding
                    .summary
                    .starts_with("not running inside vpc-0a1b2c3d"),
                "{}",
                finding.summary
            );
            let fix = finding.fix.unwrap();
            assert_eq!(
                fix.commands,
                [format!(
                    "tidbpe doctor --service-name {} --host {HOST} --port 4000 --probe",
                    crate::testing::SVC
                )]
            );
        }
        probes_mut(&mut f).vantage = Vantage {
            probed: false,
            reason: VantageReason::NoProbeFlag,
        };
        let finding = DNS_RESOLVES.run(&f);
        assert_eq!(finding.summary, "probes turned off (--no-probe)");
        assert!(finding.fix.is_none());
        f.probes = None;
        assert_eq!(DNS_RESOLVES.run(&f).status, Status::Skip);
    }

    #[test]
    fn dns001_an_address_literal_is_not_resolved() {
        let mut f = healthy();
        probes_mut(&mut f).dns = None;
        f.inputs.host = Some("10.0.1.10".into());
        let finding = DNS_RESOLVES.run(&f);
        assert_eq!(finding.status, Status::Skip);
        assert!(finding.summary.contains("IP address"));
        assert_eq!(DNS_PRIVATE_ANSWER.run(&f).status, Status::Skip);
    }

    #[test]
    fn dns002_a_public_answer_names_the_aws_checks_that_explain_it() {
        let mut f = healthy();
        set_dns(&mut f, answer(&["52.1.2.3"]), DnsAnswer::NoRecords);
        let finding = DNS_PRIVATE_ANSWER.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("the AWS side is right") && finding.summary.contains("DNS003"),
            "{}",
            finding.summary
        );
        // From outside the VPC: the three ways that work (issue 13).
        let fix = finding.fix.clone().unwrap().text;
        for way in [
            "Resolver inbound endpoint",
            "private hosted zone",
            "Route 53 Profile",
        ] {
            assert!(fix.contains(way), "{way}: {fix}");
        }
        // Private DNS off on the endpoint: EP003 explains it.
        endpoint_mut(&mut f).private_dns_enabled = false;
        f.dns_hostnames = Some(Ok(false));
        let finding = DNS_PRIVATE_ANSWER.run(&f);
        assert!(
            finding.summary.contains("explained by EP003") && finding.summary.contains("VPC002"),
            "{}",
            finding.summary
        );
        assert_eq!(
            finding.evidence["explained_by"],
            serde_json::json!(["EP003", "VPC002"])
        );
        assert!(finding
            .fix
            .unwrap()
            .text
            .starts_with("Fix EP003 and VPC002"));
        // Nothing known of the AWS side: public is still public.
        let mut f = healthy();
        set_dns(&mut f, answer(&["52.1.2.3"]), DnsAnswer::NoRecords);
        f.vpc_choice = None;
        let finding = DNS_PRIVATE_ANSWER.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("could not be fully inspected"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn dns002_a_private_answer_not_the_endpoints_names_whose_it_is() {
        let mut f = healthy();
        // A second endpoint for the service, with its own interface.
        let mut other = endpoint_mut(&mut f).clone();
        other.endpoint_id = "vpce-00000002".into();
        other.private_dns_enabled = false;
        other.network_interface_ids = vec!["eni-00000002".into()];
        if let Some(Ok(eps)) = &mut f.endpoints {
            eps.push(other);
        }
        if let Some(Ok(nis)) = &mut f.endpoint_interfaces {
            nis.push(NetworkInterface {
                network_interface_id: "eni-00000002".into(),
                subnet_id: "subnet-0000000c".into(),
                availability_zone: None,
                private_ip: Some("10.0.2.20".parse().unwrap()),
                security_group_ids: vec![],
            });
        }
        set_dns(&mut f, answer(&["10.0.2.20"]), DnsAnswer::NoRecords);
        let finding = DNS_PRIVATE_ANSWER.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding
                .summary
                .contains("10.0.2.20 is an interface of vpce-00000002"),
            "{}",
            finding.summary
        );
        set_dns(&mut f, answer(&["192.168.7.7"]), DnsAnswer::NoRecords);
        let finding = DNS_PRIVATE_ANSWER.run(&f);
        assert!(
            finding.summary.contains("outside vpc-0a1b2c3d"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn dns002_without_aws_facts_judges_private_or_public_only() {
        let mut f = healthy();
        f.endpoint_interfaces = Some(Err(denied(Need::NetworkInterfaces)));
        let finding = DNS_PRIVATE_ANSWER.run(&f);
        assert_eq!(finding.status, Status::Unknown);
        assert!(
            finding.summary.contains("could not be compared")
                && finding.summary.contains("ec2:DescribeNetworkInterfaces"),
            "{}",
            finding.summary
        );
        assert_eq!(finding.evidence["compared"], false);
        // No AWS side at all (no credentials): still compared to nothing.
        let mut f = healthy();
        f.vpc_choice = None;
        assert_eq!(DNS_PRIVATE_ANSWER.run(&f).status, Status::Unknown);
        // DNS001 failed: nothing to judge.
        let mut f = healthy();
        set_dns(&mut f, DnsAnswer::NxDomain, DnsAnswer::NxDomain);
        assert_eq!(DNS_PRIVATE_ANSWER.run(&f).status, Status::Skip);
    }

    #[test]
    fn dns003_the_vpc_resolver_passes_in_every_form() {
        for servers in [
            &["169.254.169.253"][..],
            &["fd00:ec2::253"],
            &["10.0.0.2", "169.254.169.253"],
        ] {
            let mut f = healthy();
            set_nameservers(&mut f, servers);
            let finding = DNS_RESOLVER_PATH.run(&f);
            assert_eq!(
                finding.status,
                Status::Pass,
                "{servers:?}: {}",
                finding.summary
            );
        }
        // systemd-resolved's stub: its upstreams are judged.
        let mut f = healthy();
        set_nameservers(&mut f, &["127.0.0.53"]);
        let path = probes_mut(&mut f).resolver_path.as_mut().unwrap();
        path.systemd_resolved = Some(FileFact {
            path: "/run/systemd/resolve/resolv.conf".into(),
            content: FileContent::Read(ResolvConf {
                nameservers: vec!["10.0.0.2".parse().unwrap()],
                ..ResolvConf::default()
            }),
        });
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(
            finding.summary.contains("systemd-resolved"),
            "{}",
            finding.summary
        );
        let path = probes_mut(&mut f).resolver_path.as_mut().unwrap();
        path.systemd_resolved = None;
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Warn);
        assert!(finding.summary.contains(&SYSTEMD_RESOLVED_STUB.to_string()));
    }

    #[test]
    fn dns003_another_resolver_warns_and_dns_server_passes() {
        let mut f = healthy();
        set_nameservers(&mut f, &["10.0.0.53"]);
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Warn, "{}", finding.summary);
        assert!(
            finding.summary.contains("must forward tidbcloud.com"),
            "{}",
            finding.summary
        );
        assert!(finding
            .fix
            .unwrap()
            .commands
            .contains(&dig_vpc_resolver(HOST)));
        // The VPC's CIDR is unknown: 10.0.0.53 might be its base + 2.
        f.vpc = Some(Err(denied(Need::Vpc)));
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Unknown);
        assert!(
            finding.summary.contains("ec2:DescribeVpcs"),
            "{}",
            finding.summary
        );
        // A public resolver is never the VPC's.
        set_nameservers(&mut f, &["1.1.1.1"]);
        assert_eq!(DNS_RESOLVER_PATH.run(&f).status, Status::Warn);
        // --dns-server: the probes asked it.
        let path = probes_mut(&mut f).resolver_path.as_mut().unwrap();
        path.dns_server = Some("10.0.0.53:53".parse::<SocketAddr>().unwrap());
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        // No resolv.conf: the C library asks 127.0.0.1.
        let mut f = healthy();
        probes_mut(&mut f)
            .resolver_path
            .as_mut()
            .unwrap()
            .resolv_conf
            .content = FileContent::Missing;
        assert_eq!(DNS_RESOLVER_PATH.run(&f).status, Status::Warn);
    }

    #[test]
    fn dns003_hosts_pins_fail_unless_the_endpoints() {
        let mut f = healthy();
        pin(&mut f, "10.0.99.9");
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.starts_with("/etc/hosts line 3 pins gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com to 10.0.99.9, not an address of vpce-00000001 (10.0.1.10)"),
            "{}",
            finding.summary
        );
        let fix = finding.fix.unwrap();
        assert_eq!(fix.commands[0], "sudo sed -i.bak -e '3d' /etc/hosts");
        // Pinned to the endpoint's own address: works, but a warning.
        pin(&mut f, "10.0.1.10");
        assert_eq!(DNS_RESOLVER_PATH.run(&f).status, Status::Warn);
        // The endpoint's addresses unknown: a private pin is unknown, a
        // public one fails anyway.
        f.endpoint_interfaces = Some(Err(denied(Need::NetworkInterfaces)));
        let finding = DNS_RESOLVER_PATH.run(&f);
        assert_eq!(finding.status, Status::Unknown, "{}", finding.summary);
        pin(&mut f, "52.1.2.3");
        assert_eq!(DNS_RESOLVER_PATH.run(&f).status, Status::Fail);
        // --dns-server does not hide a pin: applications still read it.
        let mut f = healthy();
        pin(&mut f, "10.0.99.9");
        probes_mut(&mut f)
            .resolver_path
            .as_mut()
            .unwrap()
            .dns_server = Some("10.0.0.2:53".parse().unwrap());
        assert_eq!(DNS_RESOLVER_PATH.run(&f).status, Status::Fail);
    }
}

// ------------------------------------------------------------------ DNS004
// Route 53 Resolver rules associated with the VPC. Resolver answers a name
// from the rule or zone with the most specific domain; a rule wins over a
// zone of the same name. With private DNS on, the endpoint's private DNS
// name is such a zone (AWS-managed): a forwarding rule for it, or for a name
// under it, takes the host elsewhere; a rule for a parent matters only when
// private DNS is off.

pub(crate) const RESOLVER_RULES: Check = Check {
    id: "DNS004",
    slug: "resolver-rules",
    title: "No Resolver rule forwards the host elsewhere",
    // Endpoints and hosted zones decide only a parent rule's case; the
    // service names the private DNS name (else the host is used).
    needs: &[
        Need::ResolverRuleAssociations,
        Need::ResolverRules,
        Need::Endpoints,
        Need::HostedZones,
        Need::Service,
    ],
    explain: explain!("DNS004"),
    judge: Some(resolver_rules),
};

/// Rule types that send a query to servers outside the VPC resolver.
fn forwards(rule: &ResolverRule) -> bool {
    ["FORWARD", "DELEGATE"]
        .iter()
        .any(|t| rule.rule_type.eq_ignore_ascii_case(t))
}

/// Is the rule's association in effect? A failed one is not; one that a
/// Route 53 Profile overrides is not either.
fn in_effect(rule: &ResolverRule) -> bool {
    !rule
        .association_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("FAILED") || s.eq_ignore_ascii_case("OVERRIDDEN"))
}

/// How specific a domain is: its number of labels (the root has none).
fn depth(domain: &str) -> usize {
    let d = dns_name(domain);
    let d = d.trim_start_matches("*.");
    if d.is_empty() {
        0
    } else {
        d.split('.').count()
    }
}

/// "rslvr-rr-1 (FORWARD tidbcloud.com → 10.9.0.2:53, 10.9.0.3:53)".
fn describe(rule: &ResolverRule) -> String {
    let domain = match dns_name(&rule.domain_name) {
        d if d.is_empty() => ".".to_string(),
        d => d,
    };
    let targets: Vec<String> = rule.target_ips.iter().map(|t| t.to_string()).collect();
    let to = if targets.is_empty() {
        rule.resolver_endpoint_id
            .as_deref()
            .map(|e| format!(" via {e}"))
            .unwrap_or_default()
    } else {
        format!(" → {}", targets.join(", "))
    };
    format!("{} ({} {domain}{to})", rule.rule_id, rule.rule_type)
}

fn resolver_rules(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let rules = fact(
        &facts.resolver_rules,
        "the Resolver rules were not looked up (a report of an older tidbpe?)",
    )?;
    // No rule in effect: nothing can take the host away, whatever it is.
    if !rules.iter().any(in_effect) {
        return Ok(Outcome::pass(match rules.len() {
            0 => format!("no Resolver rule is associated with {vpc}"),
            n => format!("none of the {n} Resolver rule(s) associated with {vpc} is in effect"),
        })
        .with("rules_associated", rules.len()));
    }
    let host = host(facts)?;
    let covering: Vec<&ResolverRule> = rules
        .iter()
        .filter(|r| in_effect(r) && covers(&r.domain_name, &host))
        .collect();
    let evidence = |o: Outcome| {
        o.with("host", &host)
            .with("rules_associated", rules.len())
            .with(
                "rules_covering_host",
                covering.iter().map(|r| describe(r)).collect::<Vec<_>>(),
            )
    };
    // The most specific rule is the one Resolver uses.
    let Some(rule) = covering
        .iter()
        .copied()
        .max_by_key(|r| depth(&r.domain_name))
    else {
        return Ok(evidence(Outcome::pass(format!(
            "none of the {} Resolver rule(s) associated with {vpc} covers {host}",
            rules.len()
        ))));
    };
    if !forwards(rule) {
        return Ok(evidence(Outcome::pass(format!(
            "the most specific Resolver rule for {host} is {}: the VPC resolver answers it",
            describe(rule)
        ))));
    }
    let private = private_dns_domain(facts, &host);
    if depth(&rule.domain_name) >= depth(&private) {
        return Ok(evidence(Outcome::fail(format!(
            "Resolver rule {} takes {host} away from the endpoint's private DNS ({private}): a rule as specific as the name wins",
            describe(rule)
        )))
        .with_fix(Fix {
            text: format!(
                "Disassociate the rule from {vpc} (or delete it), so the VPC resolver answers {host} with the endpoint's private addresses; or make its target servers answer {host} with those addresses. Other VPCs associated with the rule keep it."
            ),
            commands: vec![disassociate_resolver_rule(facts, &rule.rule_id, vpc)],
        }));
    }
    // A rule for a parent (tidbcloud.com, `.`): the endpoint's private DNS
    // name is more specific, so it matters only with private DNS off.
    // Whether private DNS is on decides: a failed endpoint listing is unknown.
    fact(&facts.endpoints, NO_VPC)?;
    let endpoint = main_endpoint(facts).ok();
    let private_dns_on = endpoint.is_none_or(|e| e.private_dns_enabled);
    if private_dns_on {
        let when = if endpoint.is_some() {
            "answers it"
        } else {
            "will answer it once the endpoint exists with private DNS on"
        };
        return Ok(evidence(Outcome::pass(format!(
            "Resolver rule {} covers {host}, but the endpoint's private DNS name {private} is more specific and {when}",
            describe(rule)
        ))));
    }
    let endpoint_id = endpoint
        .map(|e| e.endpoint_id.as_str())
        .unwrap_or("the endpoint");
    let zones = fact(&facts.hosted_zones, NO_VPC)?;
    let zone = zones
        .iter()
        .filter(|z| covers(&z.name, &host))
        .max_by_key(|z| depth(&z.name))
        .filter(|z| depth(&z.name) > depth(&rule.domain_name));
    if let Some(zone) = zone {
        return Ok(evidence(Outcome::pass(format!(
            "private DNS is off on {endpoint_id}; private zone {} ({}) is more specific than rule {} and answers {host} (see VPC004)",
            dns_name(&zone.name),
            zone.id,
            rule.rule_id
        ))));
    }
    Ok(evidence(Outcome::warn(format!(
        "private DNS is off on {endpoint_id}, so Resolver forwards {host} by rule {}: those servers answer it, not the endpoint",
        describe(rule)
    )))
    .with_fix(Fix {
        text: format!(
            "Enable private DNS on {endpoint_id} (EP003): its name {private} is more specific than the rule and wins. Or make the rule's target servers answer {host} with the endpoint's private addresses."
        ),
        commands: endpoint
            .map(|e| vec![enable_private_dns(facts, &e.endpoint_id)])
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
pub(crate) mod dns004_tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{assert_fail_cases, denied, endpoint_mut, healthy, FailCase, HOST};

    fn rule(id: &str, kind: &str, domain: &str) -> ResolverRule {
        ResolverRule {
            rule_id: id.into(),
            domain_name: domain.into(),
            rule_type: kind.into(),
            name: None,
            target_ips: if kind == "FORWARD" {
                vec!["10.9.0.2:53".parse().unwrap()]
            } else {
                vec![]
            },
            resolver_endpoint_id: Some("rslvr-out-00000001".into()),
            owner_id: None,
            association_id: Some(format!("rslvr-rrassoc-{id}")),
            association_status: Some("COMPLETE".into()),
        }
    }

    fn with_rules(rules: Vec<ResolverRule>) -> Facts {
        let mut f = healthy();
        f.resolver_rules = Some(Ok(rules));
        f
    }

    /// Changes to the healthy world that make DNS004 fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "DNS004",
            name: "a FORWARD rule for the host",
            expect: Status::Fail,
            mutate: |f| {
                f.resolver_rules =
                    Some(Ok(vec![rule("rslvr-rr-1", "FORWARD", &format!("{HOST}."))]))
            },
        },
        FailCase {
            id: "DNS004",
            name: "a FORWARD rule for the private DNS name (host given in capitals)",
            expect: Status::Fail,
            mutate: |f| {
                f.inputs.host = Some(HOST.to_uppercase());
                f.resolver_rules = Some(Ok(vec![rule("rslvr-rr-1", "FORWARD", HOST)]));
            },
        },
    ];

    #[test]
    fn dns004_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn dns004_a_rule_for_the_host_fails_naming_rule_and_targets() {
        let f = with_rules(vec![rule("rslvr-rr-1", "FORWARD", &format!("{HOST}."))]);
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("rslvr-rr-1"),
            "{}",
            finding.summary
        );
        assert!(
            finding.summary.contains("10.9.0.2:53"),
            "{}",
            finding.summary
        );
        let fix = finding.fix.unwrap();
        assert_eq!(
            fix.commands,
            ["aws route53resolver disassociate-resolver-rule --resolver-rule-id rslvr-rr-1 --vpc-id vpc-0a1b2c3d --region us-east-1"]
        );
    }

    #[test]
    fn dns004_a_parent_rule_matters_only_with_private_dns_off() {
        for parent in ["tidbcloud.com.", ".", "aws.tidbcloud.com"] {
            let mut f = with_rules(vec![rule("rslvr-rr-2", "FORWARD", parent)]);
            let on = RESOLVER_RULES.run(&f);
            assert_eq!(on.status, Status::Pass, "{parent}: {}", on.summary);
            assert!(on.summary.contains("more specific"), "{}", on.summary);
            endpoint_mut(&mut f).private_dns_enabled = false;
            let off = RESOLVER_RULES.run(&f);
            assert_eq!(off.status, Status::Warn, "{parent}: {}", off.summary);
            assert!(off.summary.contains("10.9.0.2:53"), "{}", off.summary);
            assert!(off.fix.unwrap().commands[0].contains("--private-dns-enabled"));
            // A private zone more specific than the rule answers instead.
            f.hosted_zones = Some(Ok(vec![crate::facts::HostedZone {
                id: "/hostedzone/Z1".into(),
                name: format!("{HOST}."),
                owning_service: None,
            }]));
            let zone = RESOLVER_RULES.run(&f);
            assert_eq!(zone.status, Status::Pass, "{}", zone.summary);
            assert!(zone.summary.contains("VPC004"), "{}", zone.summary);
            f.hosted_zones = Some(Err(denied(Need::HostedZones)));
            assert_eq!(RESOLVER_RULES.run(&f).status, Status::Unknown);
        }
    }

    #[test]
    fn dns004_the_most_specific_rule_wins() {
        // A SYSTEM rule for the host under a FORWARD rule for a parent: the
        // VPC resolver answers, even with private DNS off.
        let mut f = with_rules(vec![
            rule("rslvr-rr-3", "FORWARD", "."),
            rule("rslvr-rr-4", "SYSTEM", HOST),
        ]);
        endpoint_mut(&mut f).private_dns_enabled = false;
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(finding.summary.contains("rslvr-rr-4"));
        // A rule for another name, a failed association: not in effect.
        let mut other = rule("rslvr-rr-5", "FORWARD", "example.internal");
        let mut failed = rule("rslvr-rr-6", "FORWARD", HOST);
        failed.association_status = Some("FAILED".into());
        other.association_status = None;
        let f = with_rules(vec![other, failed]);
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(
            finding.summary.contains("none of the 2"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn dns004_without_rules_the_host_does_not_matter() {
        let mut f = healthy();
        f.inputs.host = None;
        f.service = Some(Err(denied(Need::Service)));
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        f.resolver_rules = Some(Ok(vec![rule("rslvr-rr-1", "FORWARD", ".")]));
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Unknown, "{}", finding.summary);
        assert!(finding.summary.contains("ec2:DescribeVpcEndpointServices"));
    }

    #[test]
    fn dns004_unknown_when_a_call_failed_and_skip_without_a_vpc() {
        for need in [Need::ResolverRuleAssociations, Need::ResolverRules] {
            let mut f = healthy();
            f.resolver_rules = Some(Err(denied(need)));
            let finding = RESOLVER_RULES.run(&f);
            assert_eq!(finding.status, Status::Unknown);
            assert!(
                finding.summary.contains(need.action()),
                "{}",
                finding.summary
            );
        }
        let mut f = healthy();
        f.vpc_choice = None;
        assert_eq!(RESOLVER_RULES.run(&f).status, Status::Skip);
        let mut f = healthy();
        f.resolver_rules = None;
        assert_eq!(RESOLVER_RULES.run(&f).status, Status::Skip);
    }
}
