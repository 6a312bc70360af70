//! The probe engines from inside a network namespace, against real servers:
//! `tests/lab/netns.py` builds a client namespace (its own resolv.conf and
//! hosts file) and a "VPC" namespace holding the endpoint's addresses, with
//! dnsmasq, MariaDB, small listeners and iptables rules; this test binary
//! then runs itself inside the client namespace (`ip netns exec`), where the
//! `probe_engines::helper` test runs the engines and prints their facts as
//! JSON.
//!
//! Needs root (namespaces, iptables) and iproute2, iptables, dnsmasq-base,
//! mariadb-server (`.ci/run` installs them). Not root: a notice and an early
//! return, except in CI, which runs as root.

// The engines are compiled into this test from the binary's sources: the
// binary has no library to link against. (Their unit tests come along and
// run here too, beside the rest of the suite.)
#[path = "../../src/gather/probe/mod.rs"]
mod probe;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::netns::{self, NetLab};
use serde_json::{json, Value};
use tidbpe_checks::probe_facts::{
    AfterGreeting, DnsAnswer, FileContent, Greeting, ProbeFacts, ResolverSource, TcpOutcome,
    Vantage,
};

const HOST: &str = "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com";
const HELPER_ENV: &str = "TIDBPE_PROBE_LAB_HELPER";
/// The engines must be done within their deadline plus this.
const SLACK: Duration = Duration::from_millis(500);

/// Run inside the namespace by the test below; a no-op otherwise.
#[test]
fn helper() {
    let Ok(spec) = std::env::var(HELPER_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let host = spec["host"].as_str().unwrap().to_string();
    let port = u16::try_from(spec["port"].as_u64().unwrap()).unwrap();
    let dns_server: Option<SocketAddr> = spec["dns_server"].as_str().map(|s| s.parse().unwrap());
    let timeout = Duration::from_millis(spec["timeout_ms"].as_u64().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let facts = rt.block_on(probe::probe(
        &host,
        port,
        dns_server,
        &probe::resolv::ResolverFiles::default(),
        Vantage::decide(Some(true), Err("no IMDS in the lab"), None),
        tokio::time::Instant::now() + timeout,
        &(),
    ));
    let elapsed = start.elapsed().as_millis();
    println!("PROBE_ELAPSED_MS {elapsed}");
    println!("PROBE_FACTS {}", serde_json::to_string(&facts).unwrap());
}

/// Run the engines inside the client namespace.
fn probe_in(
    lab: &NetLab,
    host: &str,
    port: u16,
    dns_server: Option<&str>,
    timeout_ms: u64,
) -> (ProbeFacts, Duration) {
    let exe = std::env::current_exe().unwrap();
    let spec =
        json!({"host": host, "port": port, "dns_server": dns_server, "timeout_ms": timeout_ms});
    let mut helper = Command::new(&exe);
    helper.env(HELPER_ENV, spec.to_string());
    let out = lab
        .command(&exe, &helper)
        .args([
            "--exact",
            "probe_engines::helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run the helper inside the namespace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helper failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.find(prefix).map(|at| &l[at + prefix.len()..]))
            .unwrap_or_else(|| panic!("no {prefix} in: {stdout}"))
            .to_string()
    };
    let facts = serde_json::from_str(&field("PROBE_FACTS ")).unwrap();
    let ms: u64 = field("PROBE_ELAPSED_MS ").trim().parse().unwrap();
    (facts, Duration::from_millis(ms))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn probes_from_inside_a_namespace() {
    if !netns::netns_available("probe_engines") {
        return;
    }
    let endpoints = [
        ("10.0.1.5", "tidb"),
        ("10.0.2.5", "mariadb"),
        ("10.0.3.5", "drop"),
        ("10.0.4.5", "reject"),
        ("10.0.5.5", "unreachable"),
        ("10.0.6.5", "garbage"),
        ("10.0.7.5", "err"),
        ("10.0.8.5", "silent"),
        ("10.0.9.5", "none"),
        ("10.0.11.5", "greet-close"),
    ];
    let mut args: Vec<String> = vec!["--client-ip".into(), "10.0.10.5".into()];
    for (addr, mode) in endpoints {
        args.extend(["--endpoint".into(), format!("{addr}:{mode}")]);
    }
    for r in [
        "169.254.169.253:answer",
        "10.0.0.2:answer",
        "10.0.0.53:servfail",
        "10.0.0.54:silent",
        "10.0.0.55:refused",
    ] {
        args.extend(["--resolver".into(), r.into()]);
    }
    args.extend(["--pin".into(), "10.0.99.9".into()]);
    // A server on the host's loopback (as moto and IMDS are), forwarded
    // into the client namespace.
    let host_server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        for mut conn in host_server.incoming().flatten().take(4) {
            let _ = conn.write_all(b"SSH-2.0-host-side\r\n");
        }
    });
    args.extend(["--forward".into(), host_port.to_string()]);
    let lab = NetLab::up(HOST, &args);
    let client_ns = lab.client_ns();

    // The system resolver and hosts file of the namespace, every address.
    let timeout = Duration::from_millis(2500);
    let (facts, took) = probe_in(&lab, HOST, 4000, None, 2500);
    assert!(took <= timeout + SLACK, "took {took:?}");
    let path = facts.resolver_path.as_ref().unwrap();
    assert_eq!(path.system_servers(), vec![ip("169.254.169.253")]);
    assert!(matches!(&path.hosts.content, FileContent::Read(e) if e.len() == 1));
    assert_eq!(path.pinned(), vec![ip("10.0.99.9")]);
    let dns = facts.dns.as_ref().unwrap();
    assert_eq!(dns.resolver.source, ResolverSource::System);
    assert_eq!(
        dns.resolver.servers,
        vec!["169.254.169.253:53".parse().unwrap()]
    );
    let DnsAnswer::Addresses { addresses, .. } = &dns.a.answer else {
        panic!("{:?}", dns.a)
    };
    assert_eq!(addresses.len(), endpoints.len());
    assert_eq!(dns.aaaa.answer, DnsAnswer::NoRecords);
    // The pin first (where an application connects), then the answers.
    assert_eq!(facts.addresses.len(), endpoints.len() + 1);
    assert_eq!(facts.addresses[0].address.ip(), ip("10.0.99.9"));
    let by_ip = |a: &str| {
        facts
            .addresses
            .iter()
            .find(|p| p.address.ip() == ip(a))
            .unwrap_or_else(|| panic!("{a} not probed"))
    };
    let handshake = |a: &str| match by_ip(a).greeting.as_ref().map(|g| &g.greeting) {
        Some(Greeting::Handshake(h)) => h.clone(),
        other => panic!("{a}: {other:?}"),
    };
    // A pinned address nobody owns: the packets die in the VPC namespace.
    assert_eq!(by_ip("10.0.99.9").connect.outcome, TcpOutcome::NoAnswer);
    let tidb = handshake("10.0.1.5");
    assert!(tidb.is_tidb() && tidb.tls_offered, "{tidb:?}");
    assert_eq!(tidb.after, AfterGreeting::Waited);
    let mariadb = handshake("10.0.2.5");
    assert!(
        !mariadb.is_tidb() && mariadb.server_version.contains("MariaDB"),
        "{mariadb:?}"
    );
    let dropped = &by_ip("10.0.3.5").connect;
    assert_eq!(dropped.outcome, TcpOutcome::NoAnswer);
    assert!(dropped.ms >= 2000, "{dropped:?}");
    assert_eq!(by_ip("10.0.4.5").connect.outcome, TcpOutcome::Refused);
    assert!(
        matches!(
            by_ip("10.0.5.5").connect.outcome,
            TcpOutcome::Unreachable { .. }
        ),
        "{:?}",
        by_ip("10.0.5.5")
    );
    let greeting = |a: &str| by_ip(a).greeting.as_ref().map(|g| g.greeting.clone());
    assert!(matches!(
        greeting("10.0.6.5"),
        Some(Greeting::Garbage { .. })
    ));
    assert!(matches!(
        greeting("10.0.7.5"),
        Some(Greeting::Err { code: 1105, .. })
    ));
    assert_eq!(greeting("10.0.8.5"), Some(Greeting::Silent));
    assert_eq!(by_ip("10.0.9.5").connect.outcome, TcpOutcome::Refused);
    assert_eq!(handshake("10.0.11.5").after, AfterGreeting::Closed);

    // --dns-server: NXDOMAIN for a name of the domain that does not exist.
    let (facts, _) = probe_in(
        &lab,
        "gateway99-privatelink.us-east-1.prod.aws.tidbcloud.com",
        4000,
        Some("10.0.0.2:53"),
        2500,
    );
    let dns = facts.dns.as_ref().unwrap();
    assert_eq!(dns.resolver.source, ResolverSource::DnsServer);
    assert_eq!(
        (&dns.a.answer, &dns.aaaa.answer),
        (&DnsAnswer::NxDomain, &DnsAnswer::NxDomain)
    );
    assert!(
        facts.addresses.is_empty(),
        "with --dns-server the pin is not probed"
    );

    for (server, code) in [("10.0.0.53:53", "SERVFAIL"), ("10.0.0.55:53", "REFUSED")] {
        let (facts, _) = probe_in(&lab, HOST, 4000, Some(server), 2500);
        let want = DnsAnswer::ServerError { code: code.into() };
        assert_eq!(facts.dns.as_ref().unwrap().a.answer, want, "{server}");
    }

    // A silent server: both lookups time out, within the deadline.
    let (facts, took) = probe_in(&lab, HOST, 4000, Some("10.0.0.54:53"), 1500);
    assert!(took <= Duration::from_millis(1500) + SLACK, "took {took:?}");
    let dns = facts.dns.as_ref().unwrap();
    assert_eq!(
        (&dns.a.answer, &dns.aaaa.answer),
        (&DnsAnswer::Timeout, &DnsAnswer::Timeout)
    );

    // --forward: 127.0.0.1 inside the client reaches the host's server.
    let (facts, _) = probe_in(&lab, "127.0.0.1", host_port, None, 1500);
    let forwarded = &facts.addresses[0];
    assert_eq!(forwarded.connect.outcome, TcpOutcome::Connected);
    assert!(
        matches!(&forwarded.greeting, Some(g) if matches!(&g.greeting, Greeting::Garbage { first_bytes_hex, .. } if first_bytes_hex.starts_with("5353482d"))),
        "{forwarded:?}"
    );

    drop(lab);
    for ns in [client_ns.clone(), client_ns.replace("-c", "-v")] {
        assert!(
            !Path::new("/run/netns").join(&ns).exists(),
            "{ns} left behind"
        );
    }
    assert!(!Path::new("/etc/netns").join(&client_ns).exists());
}
