//! The network path as the client sees it: NET001 tcp-connect, NET002
//! mysql-handshake. They judge the live probe facts: a TCP connect to the
//! port on every address the host resolved to, then the server's first
//! packet, read without logging in. Both are skipped when the host did not
//! resolve (DNS001 failed): there is nothing to connect to.

use std::net::SocketAddr;

use crate::check::{explain, Check, Fix, Judged, Outcome, Status};
use crate::facts::Facts;
use crate::probe_facts::{AddressProbe, Greeting, Handshake, TcpOutcome};
use crate::probing::{nc, prerequisite, probes, unknown, verdicts_of};
use crate::read::{brief, join, main_endpoint_id};

// ------------------------------------------------------------------ NET001

pub(crate) const TCP_CONNECT: Check = Check {
    id: "NET001",
    slug: "tcp-connect",
    title: "TCP connects to the port on every resolved address",
    needs: &[],
    explain: explain!("NET001"),
    judge: Some(tcp_connect),
};

/// How a connect failed, for the summary and the fix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    Dropped,
    Refused,
    Unreachable,
    LocalFirewall,
}

fn tcp_connect(facts: &Facts) -> Judged {
    let p = probes(facts)?;
    prerequisite(facts, "DNS001")?;
    if p.addresses.is_empty() {
        return Err(Outcome::skip("no address to connect to (see DNS001)"));
    }
    let mut connected = Vec::new();
    // Per failed address: how, how long, and the error text if any.
    let mut failed: Vec<(SocketAddr, Failure, u64, String)> = Vec::new();
    let mut errors = Vec::new();
    for a in &p.addresses {
        let (ms, addr) = (a.connect.ms, a.address);
        let mut fail = |kind, error: &str| failed.push((addr, kind, ms, error.to_string()));
        match &a.connect.outcome {
            TcpOutcome::Connected => connected.push(format!("{addr} ({ms} ms)")),
            TcpOutcome::NoAnswer => fail(Failure::Dropped, ""),
            TcpOutcome::Refused => fail(Failure::Refused, ""),
            TcpOutcome::Unreachable { error } => fail(Failure::Unreachable, error),
            TcpOutcome::LocalFirewall { error } => fail(Failure::LocalFirewall, error),
            TcpOutcome::Error { error } => errors.push(format!("{addr}: {error}")),
        }
    }
    let evidence = |o: Outcome| o.with("addresses", &p.addresses);
    if !failed.is_empty() {
        let dropped = failed.iter().any(|f| f.1 == Failure::Dropped);
        // One reason per way of failing, naming its addresses.
        let mut reasons: Vec<String> = Vec::new();
        for kind in [
            Failure::Dropped,
            Failure::Refused,
            Failure::Unreachable,
            Failure::LocalFirewall,
        ] {
            let these: Vec<_> = failed.iter().filter(|f| f.1 == kind).collect();
            let Some(first) = these.first() else {
                continue;
            };
            let addrs = join(&these.iter().map(|f| f.0.to_string()).collect::<Vec<_>>());
            let ms = these.iter().map(|f| f.2).max().unwrap_or(0);
            let error = &first.3;
            reasons.push(match kind {
                Failure::Dropped => format!(
                    "{addrs} dropped (no answer in {ms} ms): a security group, network ACL or host firewall (see SG001, ACL001)"
                ),
                Failure::Refused => format!(
                    "{addrs} refused (a reset came back: nothing listens on the port there, or a firewall rejects it)"
                ),
                Failure::Unreachable => {
                    format!("{addrs} unreachable ({error}): no route from this machine")
                }
                Failure::LocalFirewall => {
                    format!("{addrs}: this machine's own firewall refused to send ({error})")
                }
            });
        }
        reasons.extend(errors.iter().cloned());
        let ok = if connected.is_empty() {
            String::new()
        } else {
            format!(
                "; {} connect{}",
                join(&connected),
                if connected.len() == 1 { "s" } else { "" }
            )
        };
        let mut kinds: Vec<Failure> = failed.iter().map(|f| f.1).collect();
        kinds.sort();
        kinds.dedup();
        let port = facts.inputs.port;
        let texts: Vec<&str> = kinds
            .iter()
            .map(|k| match k {
                Failure::Dropped => "Dropped packets (MySQL's ERROR 2003 … (110)): allow inbound TCP to the port from this client on the endpoint's security group (SG001) and through the network ACLs of both subnets, both ways (ACL001, ACL002), and check this machine's firewall (iptables -S; nft list ruleset).",
                Failure::Refused => "Refused (ERROR 2003 … (111)): check the port (TiDB Cloud listens on 4000), that the address is the endpoint's (DNS002, DNS003), the endpoint's state (EP002), and REJECT rules on the path.",
                Failure::Unreachable => "Unreachable: this machine has no route to the address: run from inside the VPC or a network routed to it (peering, VPN, Transit Gateway), and check the route tables and firewalls that answer with ICMP errors.",
                Failure::LocalFirewall => "This machine's own firewall refused the packet: allow outbound TCP to the port (iptables -S OUTPUT; nft list ruleset).",
            })
            .collect();
        let commands = failed.iter().take(3).map(|f| nc(f.0)).collect();
        let mut outcome = Outcome::fail(format!("TCP {port}: {}{ok}", brief(&reasons)));
        if dropped {
            outcome = outcome.with("aws_side", cross_reference(facts));
        }
        return Ok(evidence(outcome.with_fix(Fix {
            text: format!("{} Then try again:", texts.join(" ")),
            commands,
        })));
    }
    if !errors.is_empty() {
        return Ok(evidence(unknown(
            format!("could not connect: {}", brief(&errors)),
            Fix {
                text: "The connect failed on this machine in a way that says nothing of the path; run the doctor again, or try by hand:".into(),
                commands: p.addresses.iter().take(3).map(|a| nc(a.address)).collect(),
            },
        )));
    }
    Ok(evidence(Outcome::pass(format!(
        "TCP connects to {}",
        join(&connected)
    ))))
}

/// What the AWS-side checks of the path say (SG001, ACL001), for the
/// evidence of dropped packets: when both pass, a host firewall is left.
fn cross_reference(facts: &Facts) -> std::collections::BTreeMap<String, &'static str> {
    verdicts_of(facts, &["SG001", "ACL001"])
        .into_iter()
        .map(|(id, status, _)| (id, status.as_str()))
        .collect()
}

// ------------------------------------------------------------------ NET002

pub(crate) const MYSQL_HANDSHAKE: Check = Check {
    id: "NET002",
    slug: "mysql-handshake",
    title: "The server greets with the MySQL protocol as TiDB",
    needs: &[],
    explain: explain!("NET002"),
    judge: Some(mysql_handshake),
};

/// One address's greeting, judged.
fn greeting_verdict(a: &AddressProbe, g: &Greeting, ms: u64) -> (Status, String) {
    let addr = a.address;
    match g {
        Greeting::Handshake(h) if h.is_tidb() => (Status::Pass, format!("{addr} greets as TiDB {}", version(h))),
        Greeting::Handshake(h) => (
            Status::Warn,
            format!("{addr} greets as {}, not TiDB: another MySQL server answers there", version(h)),
        ),
        Greeting::Err { code, sql_state, message } => (
            Status::Fail,
            format!(
                "{addr} answers ERROR {code}{}: {message}",
                sql_state.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
            ),
        ),
        Greeting::Garbage { reason, first_bytes_hex } => (
            Status::Fail,
            format!("{addr} sends no MySQL greeting: {reason} (first bytes {first_bytes_hex})"),
        ),
        Greeting::Closed { received, reset } => (
            Status::Fail,
            format!(
                "{addr} {} the connection after {received} byte(s), before a whole greeting (ERROR 2013 … 'reading initial communication packet')",
                if *reset { "reset" } else { "closed" }
            ),
        ),
        Greeting::Silent => (
            Status::Fail,
            format!("{addr} accepted the connection but sent nothing in {ms} ms (ERROR 2013 … 'reading initial communication packet')"),
        ),
        Greeting::ReadError { error } => (Status::Unknown, format!("{addr}: reading the greeting failed: {error}")),
    }
}

/// "8.0.11-TiDB-v7.5.2-serverless (protocol 10, TLS offered)".
fn version(h: &Handshake) -> String {
    format!(
        "{} (protocol {}, {})",
        h.server_version,
        h.protocol,
        if h.tls_offered {
            "TLS offered"
        } else {
            "no TLS offered"
        }
    )
}

fn mysql_handshake(facts: &Facts) -> Judged {
    let p = probes(facts)?;
    prerequisite(facts, "DNS001")?;
    let read: Vec<(&AddressProbe, &Greeting, u64)> = p
        .addresses
        .iter()
        .filter_map(|a| a.greeting.as_ref().map(|g| (a, &g.greeting, g.ms)))
        .collect();
    if read.is_empty() {
        return Err(Outcome::skip(
            "no address accepted a connection, so no greeting was read (see NET001)",
        ));
    }
    let judged: Vec<(Status, String)> = read
        .iter()
        .map(|(a, g, ms)| greeting_verdict(a, g, *ms))
        .collect();
    let status = Status::worst(judged.iter().map(|(s, _)| *s));
    let shown: Vec<String> = judged
        .iter()
        .filter(|(s, _)| status == Status::Pass || *s != Status::Pass)
        .map(|(_, text)| text.clone())
        .collect();
    let not_connected = p.addresses.len() - read.len();
    let note = if not_connected > 0 {
        format!(" ({not_connected} address(es) did not connect: NET001)")
    } else {
        String::new()
    };
    let summary = format!("{}{note}", brief(&shown));
    let tls: Vec<bool> = read
        .iter()
        .filter_map(|(_, g, _)| match g {
            Greeting::Handshake(h) => Some(h.tls_offered),
            _ => None,
        })
        .collect();
    let endpoint = main_endpoint_id(facts).unwrap_or_else(|| "your endpoint's ID (vpce-…)".into());
    let fix = match status {
        Status::Warn => Some(Fix {
            text: "Something other than TiDB Cloud answers at this address: the host resolves to the wrong place (DNS002, DNS003) or the port is wrong (TiDB Cloud listens on 4000).".into(),
            commands: vec![],
        }),
        Status::Fail => {
            let err = read.iter().any(|(_, g, _)| matches!(g, Greeting::Err { .. } | Greeting::Closed { .. }));
            let text = if err {
                format!("The server turned this connection away. If it says the endpoint is not allowed, or hangs up at once, add {endpoint} to the cluster's Authorized Networks in the TiDB Cloud console (Settings → Networking); check the cluster is active.")
            } else {
                "The address accepts connections but does not speak MySQL as TiDB Cloud does: another service listens there (check --port and DNS002), or something in between (a proxy, a load balancer without a healthy target) holds the connection; check the endpoint's state (EP002) and the cluster's in the TiDB Cloud console.".into()
            };
            Some(Fix { text, commands: vec![] })
        }
        _ => None,
    };
    let mut outcome = Outcome {
        status,
        summary,
        evidence: Default::default(),
        fix,
        why: None,
    }
    .with(
        "greetings",
        read.iter()
            .map(|(a, g, _)| (a.address.to_string(), *g))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .with("tls_offered", tls);
    if status == Status::Unknown {
        outcome.fix = Some(Fix {
            text: "Reading the greeting failed on this machine; run the doctor again.".into(),
            commands: vec![],
        });
    }
    Ok(outcome)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe_facts::{AfterGreeting, DnsAnswer, GreetingRead, TcpConnect};
    use crate::testing::{
        assert_fail_cases, healthy, probes_mut, set_group, FailCase, ENDPOINT_SG,
    };

    fn set_connect(f: &mut Facts, outcome: TcpOutcome) {
        let a = &mut probes_mut(f).addresses[0];
        a.connect = TcpConnect { ms: 5000, outcome };
        a.greeting = None;
    }

    fn set_greeting(f: &mut Facts, greeting: Greeting) {
        probes_mut(f).addresses[0].greeting = Some(GreetingRead { ms: 3, greeting });
    }

    fn handshake_mut(f: &mut Facts) -> &mut Handshake {
        match &mut probes_mut(f).addresses[0].greeting {
            Some(GreetingRead {
                greeting: Greeting::Handshake(h),
                ..
            }) => h,
            _ => panic!("no handshake"),
        }
    }

    /// Changes to the healthy world that give a NET check its worst verdict,
    /// or `unknown` for a probe that could not see.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "NET001",
            name: "dropped",
            expect: Status::Fail,
            mutate: |f| set_connect(f, TcpOutcome::NoAnswer),
        },
        FailCase {
            id: "NET001",
            name: "refused",
            expect: Status::Fail,
            mutate: |f| set_connect(f, TcpOutcome::Refused),
        },
        FailCase {
            id: "NET001",
            name: "a socket error (unknown)",
            expect: Status::Unknown,
            mutate: |f| {
                set_connect(
                    f,
                    TcpOutcome::Error {
                        error: "Address family not supported".into(),
                    },
                )
            },
        },
        FailCase {
            id: "NET002",
            name: "an ERR packet",
            expect: Status::Fail,
            mutate: |f| {
                set_greeting(
                    f,
                    Greeting::Err {
                        code: 1105,
                        sql_state: Some("HY000".into()),
                        message: "not allowed".into(),
                    },
                )
            },
        },
        FailCase {
            id: "NET002",
            name: "a read error (unknown)",
            expect: Status::Unknown,
            mutate: |f| {
                set_greeting(
                    f,
                    Greeting::ReadError {
                        error: "Connection reset by peer".into(),
                    },
                )
            },
        },
    ];

    #[test]
    fn net_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn net001_every_address_must_connect() {
        let f = healthy();
        let finding = TCP_CONNECT.run(&f);
        assert_eq!(finding.status, Status::Pass);
        assert_eq!(finding.summary, "TCP connects to 10.0.1.10:4000 (1 ms)");
        // Two addresses, one dropped: fail naming it, the other still said.
        let mut f = healthy();
        let mut second = probes_mut(&mut f).addresses[0].clone();
        second.address = "10.0.2.10:4000".parse().unwrap();
        second.connect = TcpConnect {
            ms: 4800,
            outcome: TcpOutcome::NoAnswer,
        };
        second.greeting = None;
        probes_mut(&mut f).addresses.push(second);
        set_group(&mut f, ENDPOINT_SG, Some(vec![]), None);
        let finding = TCP_CONNECT.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert_eq!(
            finding.summary,
            "TCP 4000: 10.0.2.10:4000 dropped (no answer in 4800 ms): a security group, network ACL or host firewall (see SG001, ACL001); 10.0.1.10:4000 (1 ms) connects"
        );
        assert_eq!(
            finding.evidence["aws_side"],
            serde_json::json!({"ACL001": "pass", "SG001": "fail"})
        );
        let fix = finding.fix.unwrap();
        assert_eq!(fix.commands, ["nc -vz -w 3 10.0.2.10 4000"]);
        assert!(fix.text.contains("SG001"));
    }

    #[test]
    fn net001_refused_and_unreachable_are_told_apart() {
        let mut f = healthy();
        set_connect(&mut f, TcpOutcome::Refused);
        let finding = TCP_CONNECT.run(&f);
        assert!(finding.summary.contains("refused"), "{}", finding.summary);
        assert!(finding.fix.unwrap().text.contains("(111)"));
        set_connect(
            &mut f,
            TcpOutcome::Unreachable {
                error: "No route to host (os error 113)".into(),
            },
        );
        let finding = TCP_CONNECT.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("unreachable"),
            "{}",
            finding.summary
        );
        set_connect(
            &mut f,
            TcpOutcome::LocalFirewall {
                error: "Operation not permitted".into(),
            },
        );
        assert!(TCP_CONNECT.run(&f).summary.contains("own firewall"));
    }

    #[test]
    fn net001_net002_skip_when_dns001_failed() {
        let mut f = healthy();
        let dns = probes_mut(&mut f).dns.as_mut().unwrap();
        dns.a.answer = DnsAnswer::NxDomain;
        dns.aaaa.answer = DnsAnswer::NxDomain;
        for check in [TCP_CONNECT, MYSQL_HANDSHAKE] {
            let finding = check.run(&f);
            assert_eq!(finding.status, Status::Skip, "{}", check.id);
            assert!(
                finding.summary.starts_with("prerequisite DNS001 failed: "),
                "{}",
                finding.summary
            );
        }
        // DNS001 deselected: the addresses probed are judged anyway.
        f.inputs
            .deselected
            .insert("DNS001".into(), "deselected (--only)".into());
        assert_eq!(TCP_CONNECT.run(&f).status, Status::Pass);
    }

    #[test]
    fn net002_tidb_passes_with_tls_as_evidence() {
        let mut f = healthy();
        let finding = MYSQL_HANDSHAKE.run(&f);
        assert_eq!(finding.status, Status::Pass);
        assert_eq!(
            finding.summary,
            "10.0.1.10:4000 greets as TiDB 8.0.11-TiDB-v7.5.2-serverless (protocol 10, TLS offered)"
        );
        assert_eq!(finding.evidence["tls_offered"], serde_json::json!([true]));
        let h = handshake_mut(&mut f);
        h.server_version = "8.0.11-TiDB-CLOUD.202603.9".into();
        h.tls_offered = false;
        h.after = AfterGreeting::Closed;
        let finding = MYSQL_HANDSHAKE.run(&f);
        assert_eq!(
            finding.status,
            Status::Pass,
            "no TLS is evidence, not a failure"
        );
        assert!(finding.summary.contains("no TLS offered"));
    }

    #[test]
    fn net002_other_mysql_warns_err_garbage_and_silence_fail() {
        let mut f = healthy();
        handshake_mut(&mut f).server_version = "5.5.5-10.11.6-MariaDB-0+deb12u1".into();
        let finding = MYSQL_HANDSHAKE.run(&f);
        assert_eq!(finding.status, Status::Warn);
        assert!(finding.summary.contains("MariaDB") && finding.summary.contains("not TiDB"));
        set_greeting(
            &mut f,
            Greeting::Err {
                code: 1105,
                sql_state: Some("HY000".into()),
                message: "this endpoint is not allowed to connect to the cluster".into(),
            },
        );
        let finding = MYSQL_HANDSHAKE.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert_eq!(
            finding.summary,
            "10.0.1.10:4000 answers ERROR 1105 (HY000): this endpoint is not allowed to connect to the cluster"
        );
        assert!(finding.fix.unwrap().text.contains("vpce-00000001"));
        set_greeting(
            &mut f,
            Greeting::Garbage {
                reason: "not a MySQL packet".into(),
                first_bytes_hex: "5353482d".into(),
            },
        );
        assert_eq!(MYSQL_HANDSHAKE.run(&f).status, Status::Fail);
        set_greeting(&mut f, Greeting::Silent);
        let finding = MYSQL_HANDSHAKE.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("sent nothing"),
            "{}",
            finding.summary
        );
        set_greeting(
            &mut f,
            Greeting::Closed {
                received: 0,
                reset: false,
            },
        );
        assert_eq!(MYSQL_HANDSHAKE.run(&f).status, Status::Fail);
        // Not connected: NET001's to judge.
        set_connect(&mut f, TcpOutcome::Refused);
        assert_eq!(MYSQL_HANDSHAKE.run(&f).status, Status::Skip);
    }
}
