//! Resolve the host as this machine does, with hickory-resolver: the
//! system's configuration (`/etc/resolv.conf`) by default, or the one server
//! of `--dns-server`. A and AAAA are asked separately and concurrently, with
//! a trailing dot (no search list), and every way a query can end is kept
//! apart: addresses, NXDOMAIN, no records of the type, an error code from the
//! server, no answer in time, anything else.
//!
//! `/etc/hosts` is not consulted here (the resolver path reads it): this is
//! what DNS answers. The run's deadline bounds everything.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use tidbpe_checks::probe_facts::{DnsAnswer, DnsLookup, DnsProbe, DnsResolverUsed, ResolverSource};
use tokio::time::Instant;

use super::elapsed_ms;

/// The shortest per-query timeout worth giving the resolver library.
const MIN_QUERY_TIMEOUT: Duration = Duration::from_millis(100);

/// The name as asked: fully qualified, so no search domain is tried.
pub fn fqdn(host: &str) -> String {
    if host.ends_with('.') {
        host.to_string()
    } else {
        format!("{host}.")
    }
}

/// Resolve `host` (A and AAAA) with the system's resolver, or with
/// `dns_server` when given; never later than `deadline`.
pub async fn resolve(host: &str, dns_server: Option<SocketAddr>, deadline: Instant) -> DnsProbe {
    let name = fqdn(host);
    let (config, mut opts, source) = match dns_server {
        Some(server) => {
            let mut ns = NameServerConfig::udp_and_tcp(server.ip());
            for c in &mut ns.connections {
                c.port = server.port();
            }
            (
                ResolverConfig::from_name_servers(vec![ns]),
                ResolverOpts::default(),
                ResolverSource::DnsServer,
            )
        }
        None => match hickory_resolver::system_conf::read_system_conf() {
            Ok((config, opts)) => (config, opts, ResolverSource::System),
            Err(e) => {
                let message = format!("the system's resolver configuration is unusable: {e}");
                return unusable(name, ResolverSource::System, vec![], message);
            }
        },
    };
    let servers = servers_of(&config);
    // The library's own timeout, per query and attempt, must not outlast
    // the run; the deadline below bounds the whole lookup anyway.
    let remaining = deadline.saturating_duration_since(Instant::now());
    opts.timeout = opts.timeout.min(remaining).max(MIN_QUERY_TIMEOUT);
    opts.use_hosts_file = ResolveHosts::Never;
    opts.preserve_intermediates = true;
    opts.cache_size = 0;
    let resolver: TokioResolver =
        match Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let message = format!("could not set up the resolver: {e}");
                return unusable(name, source, servers, message);
            }
        };
    let (a, aaaa) = tokio::join!(
        lookup(&resolver, &name, false, deadline),
        lookup(&resolver, &name, true, deadline),
    );
    DnsProbe {
        name,
        resolver: DnsResolverUsed {
            source,
            servers,
            config_error: None,
        },
        a,
        aaaa,
    }
}

/// Both lookups fail the same way: the resolver could not be set up.
fn unusable(
    name: String,
    source: ResolverSource,
    servers: Vec<SocketAddr>,
    message: String,
) -> DnsProbe {
    let failed = DnsLookup {
        ms: 0,
        answer: DnsAnswer::Error {
            message: message.clone(),
        },
    };
    DnsProbe {
        name,
        resolver: DnsResolverUsed {
            source,
            servers,
            config_error: Some(message),
        },
        a: failed.clone(),
        aaaa: failed,
    }
}

/// The servers a configuration asks, each address and port once.
fn servers_of(config: &ResolverConfig) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for ns in config.name_servers() {
        for c in &ns.connections {
            let addr = SocketAddr::new(ns.ip, c.port);
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

async fn lookup(resolver: &TokioResolver, name: &str, v6: bool, deadline: Instant) -> DnsLookup {
    let start = Instant::now();
    let query = async {
        if v6 {
            resolver.ipv6_lookup(name).await
        } else {
            resolver.ipv4_lookup(name).await
        }
    };
    let answer = match tokio::time::timeout_at(deadline, query).await {
        Ok(result) => classify(result),
        Err(_) => DnsAnswer::Timeout,
    };
    DnsLookup {
        ms: elapsed_ms(start),
        answer,
    }
}

/// Keep every ending apart: they have different fixes.
fn classify(result: Result<Lookup, NetError>) -> DnsAnswer {
    match result {
        Ok(lookup) => {
            let mut addresses: Vec<IpAddr> = Vec::new();
            let mut cnames = Vec::new();
            for record in lookup.answers() {
                match &record.data {
                    RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => addresses.push(IpAddr::V6(aaaa.0)),
                    RData::CNAME(target) => cnames.push(target.0.to_string()),
                    _ => {}
                }
            }
            if addresses.is_empty() {
                DnsAnswer::NoRecords
            } else {
                DnsAnswer::Addresses { addresses, cnames }
            }
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => match no.response_code {
            ResponseCode::NXDomain => DnsAnswer::NxDomain,
            ResponseCode::NoError => DnsAnswer::NoRecords,
            code => DnsAnswer::ServerError {
                code: code_name(code),
            },
        },
        Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain))) => DnsAnswer::NxDomain,
        Err(NetError::Dns(DnsError::ResponseCode(code))) => DnsAnswer::ServerError {
            code: code_name(code),
        },
        Err(NetError::Timeout) => DnsAnswer::Timeout,
        Err(e) => DnsAnswer::Error {
            message: e.to_string(),
        },
    }
}

/// The mnemonic operators know (`SERVFAIL`, `REFUSED`), else the number.
fn code_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::NotAuth => "NOTAUTH".to_string(),
        other => format!("RCODE {} ({})", u16::from(other), other.to_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_servers::{DnsBehaviour, DnsServer};
    use super::*;

    const HOST: &str = "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com";

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn the_name_is_asked_fully_qualified() {
        assert_eq!(fqdn("a.example"), "a.example.");
        assert_eq!(fqdn("a.example."), "a.example.");
    }

    #[tokio::test]
    async fn addresses_for_a_and_no_records_for_aaaa() {
        let server = DnsServer::start(&[(
            HOST,
            DnsBehaviour::A(vec![
                "10.0.1.5".parse().unwrap(),
                "10.0.1.6".parse().unwrap(),
            ]),
        )])
        .await;
        let probe = resolve(HOST, Some(server.addr), soon(5000)).await;
        assert_eq!(probe.name, format!("{HOST}."));
        assert_eq!(probe.resolver.source, ResolverSource::DnsServer);
        assert_eq!(probe.resolver.servers, vec![server.addr]);
        assert_eq!(
            probe.a.answer,
            DnsAnswer::Addresses {
                addresses: vec!["10.0.1.5".parse().unwrap(), "10.0.1.6".parse().unwrap()],
                cnames: vec![],
            }
        );
        assert_eq!(probe.aaaa.answer, DnsAnswer::NoRecords);
        assert_eq!(probe.addresses().len(), 2);
        // Asked with the trailing dot: no search domain was tried.
        let asked = server.asked();
        assert!(asked.iter().all(|q| q.0 == HOST), "{asked:?}");
        assert!(asked.iter().any(|q| q.1 == 1) && asked.iter().any(|q| q.1 == 28));
    }

    #[tokio::test]
    async fn nxdomain_servfail_and_refused_are_kept_apart() {
        let server = DnsServer::start(&[
            ("nx.example", DnsBehaviour::NxDomain),
            ("fail.example", DnsBehaviour::Rcode(2)),
            ("refused.example", DnsBehaviour::Rcode(5)),
        ])
        .await;
        let nx = resolve("nx.example", Some(server.addr), soon(5000)).await;
        assert_eq!(nx.a.answer, DnsAnswer::NxDomain);
        assert_eq!(nx.aaaa.answer, DnsAnswer::NxDomain);
        let fail = resolve("fail.example", Some(server.addr), soon(5000)).await;
        assert_eq!(
            fail.a.answer,
            DnsAnswer::ServerError {
                code: "SERVFAIL".into()
            }
        );
        let refused = resolve("refused.example", Some(server.addr), soon(5000)).await;
        assert_eq!(
            refused.aaaa.answer,
            DnsAnswer::ServerError {
                code: "REFUSED".into()
            }
        );
    }

    #[tokio::test]
    async fn a_silent_server_times_out_within_the_deadline() {
        let server = DnsServer::start(&[(HOST, DnsBehaviour::Silent)]).await;
        let start = Instant::now();
        let probe = resolve(HOST, Some(server.addr), soon(700)).await;
        let took = start.elapsed();
        assert_eq!(probe.a.answer, DnsAnswer::Timeout);
        assert_eq!(probe.aaaa.answer, DnsAnswer::Timeout);
        assert!(took < Duration::from_millis(1200), "took {took:?}");
        assert!(took >= Duration::from_millis(600), "took {took:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_no_answer_not_an_address() {
        // Bind then drop: nothing listens on the port any more.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let start = Instant::now();
        let probe = resolve(HOST, Some(port), soon(700)).await;
        assert!(start.elapsed() < Duration::from_millis(1200));
        for answer in [&probe.a.answer, &probe.aaaa.answer] {
            assert!(
                matches!(answer, DnsAnswer::Timeout | DnsAnswer::Error { .. }),
                "{answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_cname_chain_is_kept() {
        let server = DnsServer::start(&[
            (HOST, DnsBehaviour::Cname("lb.example".into())),
            (
                "lb.example",
                DnsBehaviour::A(vec!["52.1.2.3".parse().unwrap()]),
            ),
        ])
        .await;
        let probe = resolve(HOST, Some(server.addr), soon(5000)).await;
        assert_eq!(
            probe.a.answer,
            DnsAnswer::Addresses {
                addresses: vec!["52.1.2.3".parse().unwrap()],
                cnames: vec!["lb.example.".into()],
            }
        );
    }
}
