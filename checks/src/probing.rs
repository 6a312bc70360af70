//! Reading the probe facts the same way in every probe check (DNS001–DNS003,
//! NET001, NET002): did the probes run from where the client stands, did a
//! prerequisite fail, which addresses are the endpoint's, is an address
//! public, and the commands a probe finding prints. Those commands run on
//! the client, not against AWS (`dig`, `nc`, `getent`, `tidbpe doctor
//! --probe`), which is why they are not in `commands.rs`. No verdicts here.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::check::{Fix, Outcome, Status};
use crate::facts::Facts;
use crate::probe_facts::{DnsProbe, ProbeFacts, ResolverSource, VantageReason, VPC_RESOLVER_V4};
use crate::read::{endpoint_addresses, join, main_endpoint, ok};

/// The probe facts, when the probes ran; else `skip` with the reason and,
/// when the doctor ran away from the client, the command to run where the
/// client stands.
pub(crate) fn probes(facts: &Facts) -> Result<&ProbeFacts, Outcome> {
    let Some(p) = &facts.probes else {
        // No host to probe (no --host, and the service named none): why.
        crate::read::host(facts)?;
        return Err(Outcome::skip(
            "the live probes did not run: this report carries no probe facts",
        ));
    };
    if p.vantage.probed {
        return Ok(p);
    }
    let why = p.vantage.summary();
    let outcome = match &p.vantage.reason {
        VantageReason::NoProbeFlag => Outcome::skip(why),
        _ => {
            let vpc = facts
                .vpc_choice
                .as_ref()
                .map(|c| c.vpc_id.as_str())
                .unwrap_or("the client's VPC");
            Outcome::skip(format!(
                "{why}; the DNS and TCP probes mean something only from where the client stands: run the doctor on an instance in {vpc}, or pass --probe where the client is"
            ))
            .with_fix(Fix {
                text: format!(
                    "Run the doctor on the client (an instance in {vpc}, or with --probe from a peered VPC, a VPN or a container):"
                ),
                commands: vec![doctor_with_probe(facts)],
            })
        }
    };
    Err(outcome.with("vantage", &p.vantage))
}

/// `skip` when the check `id` (a prerequisite) failed: e.g. no TCP probe
/// means anything when the host does not resolve.
pub(crate) fn prerequisite(facts: &Facts, id: &str) -> Result<(), Outcome> {
    match crate::catalog::find(id).map(|c| c.run(facts)) {
        Some(f) if f.status == Status::Fail => Err(Outcome::skip(format!(
            "prerequisite {id} failed: {}",
            f.summary
        ))),
        _ => Ok(()),
    }
}

/// What other checks of the catalog say, for a finding that names the
/// checks that explain it: `(id, status, summary)`. Judged even when they
/// are deselected (`--only DNS002` gathers their facts too: they are among
/// its needs).
pub(crate) fn verdicts_of(facts: &Facts, ids: &[&str]) -> Vec<(String, Status, String)> {
    ids.iter()
        .filter_map(|id| crate::catalog::find(id))
        .filter_map(|c| {
            let o = c.judge?(facts).unwrap_or_else(|early| early);
            Some((c.id.to_string(), o.status, o.summary))
        })
        .collect()
}

/// The endpoint under test and its interfaces' private addresses; `Err`
/// with the reason they are not known (`unknown` for a failed call, `skip`
/// for what was never there).
pub(crate) fn endpoint_ips(facts: &Facts) -> Result<(String, Vec<IpAddr>), Outcome> {
    let endpoint = main_endpoint(facts)?;
    let ips = endpoint_addresses(facts, endpoint)?
        .into_iter()
        .map(|a| a.ip)
        .collect();
    Ok((endpoint.endpoint_id.clone(), ips))
}

/// The VPC's CIDRs, when known.
pub(crate) fn vpc_cidrs(facts: &Facts) -> Vec<IpNet> {
    ok(&facts.vpc)
        .map(|v| v.cidr_blocks.clone())
        .unwrap_or_default()
}

/// Whose an address is, as far as the facts know: another endpoint's
/// interface, the client, a subnet or the VPC.
pub(crate) fn owner_of(facts: &Facts, ip: IpAddr, main: Option<&str>) -> Option<String> {
    let interfaces = ok(&facts.endpoint_interfaces)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if let Some(endpoints) = ok(&facts.endpoints) {
        for e in endpoints
            .iter()
            .filter(|e| Some(e.endpoint_id.as_str()) != main)
        {
            let has = interfaces.iter().any(|n| {
                n.private_ip == Some(ip)
                    && e.network_interface_ids.contains(&n.network_interface_id)
            });
            if has {
                return Some(format!(
                    "{ip} is an interface of {} (another endpoint for the service, {})",
                    e.endpoint_id, e.state
                ));
            }
        }
    }
    if ok(&facts.client).and_then(|c| c.private_ip) == Some(ip) {
        return Some(format!("{ip} is the client's own address"));
    }
    if let Some(s) = ok(&facts.subnets).and_then(|subnets| {
        subnets
            .iter()
            .find(|s| s.cidr_block.is_some_and(|n| n.contains(&ip)))
    }) {
        return Some(format!(
            "{ip} is in {} of {}, but no interface of the endpoint has it (a stale record?)",
            s.subnet_id, s.vpc_id
        ));
    }
    let vpc = ok(&facts.vpc)?;
    if vpc.cidr_blocks.iter().any(|n| n.contains(&ip)) {
        Some(format!(
            "{ip} is inside {}, but is not the endpoint's",
            vpc.vpc_id
        ))
    } else {
        Some(format!(
            "{ip} is outside {} ({})",
            vpc.vpc_id,
            join(
                &vpc.cidr_blocks
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
            )
        ))
    }
}

/// A globally routable address: not private (RFC 1918, shared 100.64/10,
/// unique-local fc00::/7), loopback, link-local, documentation, multicast,
/// or otherwise reserved. A DNS answer that is public is not an interface
/// endpoint's.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (first & 0xffc0) == 0xfe80 // fe80::/10 link local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

/// "the system resolver (10.0.0.2:53)" or "--dns-server 10.0.0.53:53".
pub(crate) fn resolver_label(dns: &DnsProbe) -> String {
    let servers: Vec<String> = dns.resolver.servers.iter().map(|s| s.to_string()).collect();
    match dns.resolver.source {
        ResolverSource::DnsServer => format!("--dns-server {}", join(&servers)),
        ResolverSource::System if servers.is_empty() => "the system resolver".to_string(),
        ResolverSource::System => format!("the system resolver ({})", join(&servers)),
    }
}

/// `a, b and c` of addresses.
pub(crate) fn list<T: ToString>(items: &[T]) -> String {
    join(&items.iter().map(ToString::to_string).collect::<Vec<_>>())
}

/// An outcome for what the probe could not see (a socket error, an
/// unreadable file): `unknown`, never a verdict on the path.
pub(crate) fn unknown(summary: impl Into<String>, fix: Fix) -> Outcome {
    Outcome {
        status: Status::Unknown,
        summary: summary.into(),
        evidence: BTreeMap::new(),
        fix: Some(fix),
        why: None,
    }
}

/// The doctor again, where the client stands, with the same target.
pub(crate) fn doctor_with_probe(facts: &Facts) -> String {
    let service = facts
        .inputs
        .service_name
        .as_deref()
        .unwrap_or("SERVICE_NAME");
    let host = crate::read::effective_host(facts).unwrap_or_else(|| "HOST".into());
    format!(
        "tidbpe doctor --service-name {service} --host {host} --port {} --probe",
        facts.inputs.port
    )
}

/// Ask the VPC resolver directly (from inside the VPC), to compare.
pub(crate) fn dig_vpc_resolver(host: &str) -> String {
    format!("dig +short {host} @{VPC_RESOLVER_V4}")
}

/// Ask the way this machine does.
pub(crate) fn dig(host: &str) -> String {
    format!("dig +short {host}")
}

/// What applications get (the C library: /etc/hosts, then DNS).
pub(crate) fn getent(host: &str) -> String {
    format!("getent ahosts {host}")
}

/// A TCP connect to one address, as a person would try it.
pub(crate) fn nc(address: std::net::SocketAddr) -> String {
    format!("nc -vz -w 3 {} {}", address.ip(), address.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_private_addresses() {
        for private in [
            "10.0.1.5",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.253",
            "0.0.0.0",
            "fd00:ec2::253",
            "fe80::1",
            "::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "3.5.1.2",
            "54.1.2.3",
            "172.32.0.1",
            "2600:1f18::1",
            "::ffff:54.1.2.3",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
