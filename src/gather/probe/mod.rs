//! The live probes: what this machine sees when it resolves the host,
//! connects to its addresses and reads the server's greeting. They need no
//! AWS credentials and start at once (the host and port are known up front).
//!
//! Every engine is given the run's deadline (`tokio::time::Instant`) and
//! returns the facts of `tidbpe_checks::probe_facts` by then, whatever the
//! network does: a silent DNS server is `timeout`, a black-holed port
//! `no-answer`, a mute server `silent`. Nothing here judges; the checks do.
//!
//! - [`resolv`]: the resolver path (resolv.conf, systemd-resolved, hosts);
//! - [`dns`]: A and AAAA through hickory-resolver;
//! - [`tcp`]: connect to one address;
//! - [`mysql`]: read and parse the first packet.

// Some engine entry points serve only the tests (tests/e2e/probe_engines.rs runs them alone).
#![allow(dead_code)]

pub mod dns;
pub mod mysql;
pub mod resolv;
pub mod tcp;

#[cfg(test)]
pub(crate) mod test_servers;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tidbpe_checks::probe_facts::{AddressProbe, ProbeFacts, TcpOutcome, Vantage};
use tokio::time::Instant;

use self::resolv::ResolverFiles;

/// How long to watch a connection after the greeting for the server
/// hanging up on its own.
pub const GREETING_LINGER: Duration = Duration::from_millis(250);

/// Counts the probes in flight (the progress line) without this module
/// knowing the terminal: `start` returns a guard held while one probe runs.
pub trait Track: Sync {
    type Guard: Send;
    fn start(&self) -> Self::Guard;
}

/// No counting (tests).
impl Track for () {
    type Guard = ();
    fn start(&self) {}
}

/// Milliseconds since `start`.
pub(crate) fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Run every probe that `vantage` allows: the resolver path and DNS
/// concurrently, then every address concurrently (connect, then the
/// greeting on the same connection).
///
/// The addresses probed: with `dns_server`, its answers; without, the
/// `/etc/hosts` pins first (the C library answers from there before DNS,
/// so that is where an application connects), then the DNS answers. A host
/// that is an IP address literal is not resolved, only probed.
pub async fn probe(
    host: &str,
    port: u16,
    dns_server: Option<SocketAddr>,
    files: &ResolverFiles,
    vantage: Vantage,
    deadline: Instant,
    track: &impl Track,
) -> ProbeFacts {
    if !vantage.probed {
        return ProbeFacts {
            vantage,
            resolver_path: None,
            dns: None,
            addresses: vec![],
        };
    }
    let literal: Option<IpAddr> = host.parse().ok();
    let resolve = async {
        match literal {
            Some(_) => None,
            None => {
                let _probe = track.start();
                Some(dns::resolve(host, dns_server, deadline).await)
            }
        }
    };
    let (resolver_path, dns) = tokio::join!(
        resolv::resolver_path(files, host, dns_server, deadline),
        resolve
    );
    let mut ips: Vec<IpAddr> = literal.into_iter().collect();
    if dns_server.is_none() {
        ips.extend(resolver_path.pinned());
    }
    if let Some(dns) = &dns {
        ips.extend(dns.addresses());
    }
    let mut targets: Vec<SocketAddr> = Vec::new();
    for ip in ips {
        let target = SocketAddr::new(ip, port);
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    let addresses = futures::future::join_all(targets.iter().map(|&addr| async move {
        let _probe = track.start();
        probe_address(addr, deadline, GREETING_LINGER).await
    }))
    .await;
    ProbeFacts {
        vantage,
        resolver_path: Some(resolver_path),
        dns,
        addresses,
    }
}

/// Connect to every address concurrently, and read each server's greeting.
pub async fn probe_addresses(
    addresses: &[SocketAddr],
    deadline: Instant,
    linger: Duration,
) -> Vec<AddressProbe> {
    futures::future::join_all(
        addresses
            .iter()
            .map(|&addr| probe_address(addr, deadline, linger)),
    )
    .await
}

/// Connect to one address; when connected, read its greeting.
pub async fn probe_address(
    address: SocketAddr,
    deadline: Instant,
    linger: Duration,
) -> AddressProbe {
    let (connect, stream) = tcp::connect(address, deadline).await;
    let greeting = match (stream, &connect.outcome) {
        (Some(mut stream), TcpOutcome::Connected) => {
            Some(mysql::read_greeting(&mut stream, deadline, linger).await)
        }
        _ => None,
    };
    AddressProbe {
        address,
        connect,
        greeting,
    }
}

#[cfg(test)]
mod tests {
    use tidbpe_checks::probe_facts::{DnsAnswer, Greeting, VantageReason};

    use super::test_servers::{tidb_greeting, DnsBehaviour, DnsServer, Listener, Serve};
    use super::*;

    const HOST: &str = "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com";

    fn no_files(dir: &std::path::Path) -> ResolverFiles {
        ResolverFiles {
            resolv_conf: dir.join("resolv.conf"),
            systemd_resolved: dir.join("upstream.conf"),
            hosts: dir.join("hosts"),
        }
    }

    #[tokio::test]
    async fn no_probe_from_outside_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let vantage = Vantage::decide(None, Ok("vpc-2"), Some("vpc-1"));
        let facts = probe(
            HOST,
            4000,
            None,
            &no_files(dir.path()),
            vantage,
            Instant::now() + Duration::from_secs(1),
            &(),
        )
        .await;
        assert!(!facts.vantage.probed);
        assert!(matches!(
            facts.vantage.reason,
            VantageReason::OtherVpc { .. }
        ));
        assert!(facts.dns.is_none() && facts.resolver_path.is_none());
        assert!(facts.addresses.is_empty());
    }

    /// The whole chain on loopback: DNS answers two addresses, one greets
    /// as TiDB, the other refuses; all of it within the deadline.
    #[tokio::test]
    async fn resolve_connect_and_greet_every_address() {
        let listener =
            Listener::start(Serve::Send(tidb_greeting("8.0.11-TiDB-v7.5.2-serverless"))).await;
        let port = listener.addr.port();
        let dns = DnsServer::start(&[(
            HOST,
            DnsBehaviour::A(vec![
                "127.0.0.1".parse().unwrap(),
                "127.0.0.2".parse().unwrap(),
            ]),
        )])
        .await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hosts"), format!("127.0.0.3 {HOST}\n")).unwrap();
        let start = Instant::now();
        let facts = probe(
            HOST,
            port,
            Some(dns.addr),
            &no_files(dir.path()),
            Vantage::decide(Some(true), Err("no IMDS"), None),
            Instant::now() + Duration::from_secs(3),
            &(),
        )
        .await;
        assert!(start.elapsed() < Duration::from_secs(2));
        let dns_facts = facts.dns.as_ref().unwrap();
        assert!(matches!(dns_facts.a.answer, DnsAnswer::Addresses { .. }));
        // With --dns-server the pin is reported, not probed.
        let path = facts.resolver_path.as_ref().unwrap();
        assert_eq!(path.pinned(), vec!["127.0.0.3".parse::<IpAddr>().unwrap()]);
        assert_eq!(facts.addresses.len(), 2, "{:?}", facts.addresses);
        let first = &facts.addresses[0];
        assert_eq!(
            first.address,
            SocketAddr::new("127.0.0.1".parse().unwrap(), port)
        );
        assert_eq!(first.connect.outcome, TcpOutcome::Connected);
        assert!(matches!(
            first.greeting.as_ref().map(|g| &g.greeting),
            Some(Greeting::Handshake(h)) if h.is_tidb()
        ));
        let second = &facts.addresses[1];
        assert_eq!(second.connect.outcome, TcpOutcome::Refused);
        assert!(second.greeting.is_none());
    }

    #[tokio::test]
    async fn an_address_literal_is_probed_without_dns() {
        let listener = Listener::start(Serve::Nothing).await;
        let dir = tempfile::tempdir().unwrap();
        let facts = probe(
            "127.0.0.1",
            listener.addr.port(),
            None,
            &no_files(dir.path()),
            Vantage::decide(Some(true), Err("no IMDS"), None),
            Instant::now() + Duration::from_millis(400),
            &(),
        )
        .await;
        assert!(facts.dns.is_none());
        assert_eq!(facts.addresses.len(), 1);
        assert_eq!(
            facts.addresses[0].greeting.as_ref().map(|g| &g.greeting),
            Some(&Greeting::Silent)
        );
    }
}
