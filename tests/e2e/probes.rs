//! The live probes end to end: the real binary runs inside the client
//! namespace of a network-namespace lab (`tests/lab/netns.py`), as the
//! world's instance: its IMDS and the lab's moto are reached through
//! `--forward`, the endpoint's addresses in the "VPC" namespace are the ones
//! moto assigned to the world's endpoint, `/etc/resolv.conf` and
//! `/etc/hosts` are the namespace's own. Every address other than loopback
//! exists only in these namespaces; each test's lab is torn down when the
//! test ends.
//!
//! One namespace lab per test (built in ~0.4 s; a test with many runs is
//! split so that its parts run side by side); the tests that wait for a
//! deadline use `--timeout 5` (3 for the deadline test itself). Needs root: see `common::netns`.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::netns::{netns_available, NetLab};
use crate::common::{assert_valid_report, world, Expect, Run, World};

/// `--timeout` of the runs that wait for a dropped connection: the AWS side
/// (moto through the namespace's forwarder, on a busy 2-core machine) must
/// still answer within it.
const SHORT: &str = "5";
/// `--timeout` of the deadline test, and what the whole run may add to it.
const DEADLINE: &str = "3";
const SLACK: Duration = Duration::from_millis(500);
/// What the lab's `public` resolver answers (tests/lab/netns.py).
const PUBLIC_ANSWER: &str = "3.5.140.10";

fn port_of(url: &str) -> String {
    url.rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .unwrap_or_else(|| panic!("no port in {url}"))
        .to_string()
}

/// A namespace lab for `w`: the client at the world's instance address, the
/// endpoint's addresses with `modes` (in `SubnetIds` order), moto and the
/// world's IMDS forwarded, and `extra` arguments of netns.py.
fn lab_for(w: &World, modes: &[&str], extra: &[&str]) -> NetLab {
    assert_eq!(w.endpoint_ips.len(), modes.len(), "{:?}", w.endpoint_ips);
    let mut args: Vec<String> = vec!["--client-ip".into(), w.client_ip.to_string()];
    for (ip, mode) in w.endpoint_ips.iter().zip(modes) {
        args.extend(["--endpoint".into(), format!("{ip}:{mode}")]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    for url in [&w.endpoint_url, &w.imds_url] {
        args.extend(["--forward".into(), port_of(url)]);
    }
    NetLab::up(&w.host, &args)
}

/// `tidbpe doctor --format json --service-name <w's> ARGS` inside the client
/// namespace, with the environment of `base`; how long it took.
fn doctor_in(lab: &NetLab, w: &World, base: &Command, args: &[&str]) -> (Run, Duration) {
    let mut cmd = lab.command(Path::new(env!("CARGO_BIN_EXE_tidbpe")), base);
    cmd.args([
        "doctor",
        "--format",
        "json",
        "--service-name",
        &w.service_name,
    ]);
    if !args.contains(&"--timeout") {
        cmd.args(["--timeout", "20"]);
    }
    cmd.args(args);
    let start = Instant::now();
    let run = Run::of(&mut cmd);
    (run, start.elapsed())
}

fn endpoint(w: &World, i: usize) -> String {
    format!("{}:4000", w.endpoint_ips[i])
}

/// The probe facts of a report.
fn probes(run: &Run) -> Value {
    run.json()["facts"]["probes"].clone()
}

/// The namespace lab of the tests below: both endpoint addresses greet as
/// TiDB; the VPC resolver (and its base + 2 address) answers them,
/// 10.0.0.53 says NXDOMAIN, 10.0.0.55 answers a public address.
fn instance_lab(w: &World) -> NetLab {
    lab_for(
        w,
        &["tidb", "tidb"],
        &[
            "--resolver",
            "169.254.169.253:answer",
            "--resolver",
            "10.0.0.2:answer",
            "--resolver",
            "10.0.0.53:nxdomain",
            "--resolver",
            "10.0.0.55:public",
        ],
    )
}

#[test]
fn probes_from_the_instance_judge_dns_tcp_and_the_greeting() {
    if !netns_available("probes_from_the_instance") {
        return;
    }
    let w = world("healthy");
    let lab = instance_lab(w);

    // On the instance, the system resolver (169.254.169.253): all pass.
    let (run, _) = doctor_in(&lab, w, &w.tidbpe_on_instance(), &[]);
    run.expect(Expect::default());
    assert_valid_report(&run.stdout);
    let p = probes(&run);
    assert_eq!(p["vantage"]["reason"]["kind"], "inside-vpc");
    let probed: Vec<String> = p["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|a| a["address"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(probed, [endpoint(w, 0), endpoint(w, 1)], "moto's addresses");
    let dns001 = run.summary("DNS001");
    assert!(
        dns001.contains(&w.endpoint_ips[0].to_string())
            && dns001.contains("via the system resolver (169.254.169.253:53)"),
        "{dns001}"
    );
    assert!(run
        .summary("DNS002")
        .contains(w.endpoint_id.as_deref().unwrap_or("vpce-")));
    assert_eq!(
        run.summary("DNS003"),
        "this machine asks the VPC resolver 169.254.169.253 (/etc/resolv.conf)"
    );
    assert!(run.summary("NET001").contains(&endpoint(w, 1)));
    let net002 = run.summary("NET002");
    assert!(
        net002.contains("greets as TiDB 8.0.11-TiDB-v7.5.2-serverless")
            && net002.contains("TLS offered"),
        "{net002}"
    );

    // --dns-server: the VPC CIDR base + 2 is asked instead, and trusted.
    let (run, _) = doctor_in(
        &lab,
        w,
        &w.tidbpe_on_instance(),
        &["--dns-server", "10.0.0.2"],
    );
    run.expect(Expect::default());
    assert_eq!(
        run.summary("DNS003"),
        "the probes asked --dns-server 10.0.0.2:53"
    );
}

/// A resolver that answers the public address: DNS002 fails, and the AWS
/// side being right, it says this machine is not using the VPC resolver.
#[test]
fn a_resolver_answering_the_public_address_fails_dns002() {
    if !netns_available("a_resolver_answering_the_public_address") {
        return;
    }
    let w = world("healthy");
    let lab = instance_lab(w);
    let (run, took) = doctor_in(
        &lab,
        w,
        &w.tidbpe_on_instance(),
        &["--dns-server", "10.0.0.55", "--timeout", SHORT],
    );
    run.expect(Expect {
        fail: &["DNS002", "NET001"],
        skip: &["NET002", "TDB002"],
        ..Expect::default()
    });
    let dns002 = run.summary("DNS002");
    assert!(
        dns002.contains(&format!("public {PUBLIC_ANSWER}"))
            && dns002.contains("the AWS side is right")
            && dns002.contains("does not ask the VPC's resolver"),
        "{dns002}"
    );
    assert!(run
        .summary("NET001")
        .contains(&format!("{PUBLIC_ANSWER}:4000 dropped")));
    assert!(took <= Duration::from_secs(5) + SLACK, "took {took:?}");
}

/// NXDOMAIN: DNS001 fails, the TCP checks have nothing to connect to; off
/// the instance the probes run only with --probe; --no-probe and --skip
/// probe nothing.
#[test]
fn nxdomain_and_where_the_probes_run() {
    if !netns_available("nxdomain_and_where_the_probes_run") {
        return;
    }
    let w = world("healthy");
    let lab = instance_lab(w);
    let (run, _) = doctor_in(
        &lab,
        w,
        &w.tidbpe_on_instance(),
        &["--dns-server", "10.0.0.53"],
    );
    run.expect(Expect {
        fail: &["DNS001"],
        skip: &["DNS002", "NET001", "NET002", "TDB002"],
        ..Expect::default()
    });
    assert!(run.summary("DNS001").contains("answers NXDOMAIN"));
    assert!(run
        .summary("NET001")
        .starts_with("prerequisite DNS001 failed"));
    assert!(run.fix_text("DNS001").contains("EP003"));

    // Not an instance (no IMDS) and no --probe: every probe check skips,
    // saying where to run; nothing was probed.
    let client = ["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id];
    let (run, _) = doctor_in(&lab, w, &w.tidbpe(), &client);
    run.expect(Expect::default());
    assert!(run
        .summary("DNS001")
        .starts_with(&format!("not running inside {}", w.vpc_id)));
    assert!(run.fix_commands("NET002").contains("--probe"));
    assert!(probes(&run)["addresses"]
        .as_array()
        .is_some_and(|a| a.is_empty()));
    // With --probe (a peered VPC, a VPN, a container): judged.
    let mut args = client.to_vec();
    args.push("--probe");
    let (run, _) = doctor_in(&lab, w, &w.tidbpe(), &args);
    run.expect(Expect::default());
    assert_eq!(probes(&run)["vantage"]["reason"]["kind"], "probe-flag");
    // --no-probe on the instance: nothing probed.
    let (run, _) = doctor_in(&lab, w, &w.tidbpe_on_instance(), &["--no-probe"]);
    run.expect(Expect::default());
    assert_eq!(run.summary("NET001"), "probes turned off (--no-probe)");

    // Every probe check deselected: nothing is probed at all.
    let (run, _) = doctor_in(
        &lab,
        w,
        &w.tidbpe_on_instance(),
        &["--skip", "DNS001,DNS002,DNS003,NET001,NET002,TDB002"],
    );
    run.expect(Expect::default());
    assert!(probes(&run).is_null(), "{}", run.stdout);
}

/// No AWS credentials on the instance: the AWS side is unknown, the probes
/// are still judged (DNS002 could not compare), exit 3. The host comes from
/// --host then: without it, the service's private DNS name (issue 13)
/// cannot be read, and the probes say so.
#[test]
fn without_credentials_the_probes_are_still_judged() {
    if !netns_available("without_credentials_the_probes") {
        return;
    }
    let w = world("healthy");
    let lab = instance_lab(w);
    let mut bare = w.tidbpe_on_instance();
    bare.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let (run, _) = doctor_in(&lab, w, &bare, &["--timeout", "4", "--host", &w.host]);
    // Missing credentials are not a broken PrivateLink: AWS001 unknown.
    assert_eq!(run.code, 3, "{}", run.describe());
    assert!(run.with_status("fail").is_empty(), "{}", run.describe());
    assert_eq!(run.status("AWS001"), "unknown");
    assert!(run.summary("AWS001").contains("credentials"));
    for (id, status) in [
        ("DNS001", "pass"),
        ("DNS002", "unknown"),
        ("DNS003", "pass"),
        ("NET001", "pass"),
        ("NET002", "pass"),
    ] {
        assert_eq!(run.status(id), status, "{id}\n{}", run.describe());
    }
    assert!(run.summary("DNS002").contains("could not be compared"));
    let (run, _) = doctor_in(&lab, w, &bare, &["--timeout", "4"]);
    assert_eq!(run.code, 3, "{}", run.describe());
    for id in ["DNS001", "NET001", "TDB002"] {
        assert_eq!(run.status(id), "unknown", "{id}\n{}", run.describe());
        assert!(
            run.summary(id).contains("ec2:DescribeVpcEndpointServices"),
            "{id}: {}",
            run.summary(id)
        );
    }
}

/// Issue 10, item 7: a DNS server that never answers, a black-holed port
/// (pinned in /etc/hosts, so it is probed anyway) and an AWS API that never
/// answers, together: the full report within --timeout + 0.5 s.
#[test]
fn the_deadline_holds_with_a_silent_resolver_a_black_hole_and_a_silent_aws_api() {
    if !netns_available("the_deadline_holds") {
        return;
    }
    let w = world("healthy");
    // Accepts connections (the kernel's backlog) but never answers.
    let silent_aws = TcpListener::bind("127.0.0.1:0").expect("bind");
    let aws_port = silent_aws.local_addr().expect("addr").port().to_string();
    let pin = w.endpoint_ips[0].to_string();
    let lab = lab_for(
        w,
        &["drop", "drop"],
        &[
            "--resolver",
            "169.254.169.253:silent",
            "--pin",
            &pin,
            "--forward",
            &aws_port,
        ],
    );
    let mut cmd = w.tidbpe_on_instance();
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{aws_port}"));
    // AWS is silent: only --host names the host to probe (issue 13).
    let (run, took) = doctor_in(&lab, w, &cmd, &["--timeout", DEADLINE, "--host", &w.host]);
    assert!(took <= Duration::from_secs(3) + SLACK, "took {took:?}");
    assert_valid_report(&run.stdout);
    assert_eq!(run.code, 1, "{}", run.describe());
    let dns001 = run.summary("DNS001");
    assert_eq!(run.status("DNS001"), "fail");
    assert!(dns001.contains("timed out"), "{dns001}");
    assert_eq!(run.status("AWS001"), "unknown");
    assert!(
        run.summary("AWS001").contains("deadline"),
        "{}",
        run.describe()
    );
    assert_eq!(run.status("NET001"), "skip");
    let probed = &probes(&run)["addresses"][0];
    assert_eq!(probed["address"], format!("{pin}:4000"));
    assert_eq!(probed["connect"]["outcome"]["outcome"], "no-answer");
    drop(lab);
    drop(silent_aws);
}

#[test]
fn a_hosts_line_pinning_another_address_fails_dns003() {
    if !netns_available("a_hosts_line") {
        return;
    }
    let w = world("healthy");
    let lab = lab_for(w, &["tidb", "tidb"], &["--pin", "10.0.99.9"]);
    let (run, _) = doctor_in(&lab, w, &w.tidbpe_on_instance(), &["--timeout", SHORT]);
    run.expect(Expect {
        fail: &["DNS003", "NET001"],
        ..Expect::default()
    });
    let dns003 = run.summary("DNS003");
    assert!(
        dns003.starts_with(&format!(
            "/etc/hosts line 3 pins {} to 10.0.99.9, not an address of",
            w.host
        )),
        "{dns003}"
    );
    assert!(run
        .fix_commands("DNS003")
        .contains("sudo sed -i.bak -e '3d' /etc/hosts"));
    // Applications connect to the pin first: it is probed, and dropped.
    assert!(run.summary("NET001").contains("10.0.99.9:4000 dropped"));
    assert!(run
        .summary("NET002")
        .contains("1 address(es) did not connect"));
}

#[test]
fn dropped_and_refused_ports_fail_net001_each_named() {
    if !netns_available("dropped_and_refused") {
        return;
    }
    let w = world("healthy");
    let lab = lab_for(w, &["drop", "reject"], &[]);
    let (run, _) = doctor_in(&lab, w, &w.tidbpe_on_instance(), &["--timeout", SHORT]);
    run.expect(Expect {
        fail: &["NET001"],
        skip: &["NET002", "TDB002"],
        ..Expect::default()
    });
    let net001 = run.summary("NET001");
    assert!(
        net001.contains(&format!("{} dropped", endpoint(w, 0)))
            && net001.contains("security group, network ACL or host firewall (see SG001, ACL001)")
            && net001.contains(&format!("{} refused", endpoint(w, 1))),
        "{net001}"
    );
    assert!(run.fix_text("NET001").contains("(110)") && run.fix_text("NET001").contains("(111)"));
}

#[test]
fn another_mysql_server_warns_net002() {
    if !netns_available("another_mysql_server") {
        return;
    }
    let w = world("healthy");
    let lab = lab_for(w, &["mariadb", "tidb"], &[]);
    let (run, _) = doctor_in(&lab, w, &w.tidbpe_on_instance(), &[]);
    run.expect(Expect {
        warn: &["NET002"],
        ..Expect::default()
    });
    let net002 = run.summary("NET002");
    assert!(
        net002.starts_with(&format!("{} greets as", endpoint(w, 0)))
            && net002.contains("MariaDB")
            && net002.contains("not TiDB"),
        "{net002}"
    );
}

#[test]
fn garbage_and_an_err_packet_fail_net002() {
    if !netns_available("garbage_and_an_err_packet") {
        return;
    }
    let w = world("healthy");
    let lab = lab_for(w, &["garbage", "err"], &[]);
    let (run, _) = doctor_in(&lab, w, &w.tidbpe_on_instance(), &[]);
    // An ERR packet instead of a greeting: TDB002 names the endpoint ID
    // TiDB Cloud's Authorized Networks may lack (issue 13).
    run.expect(Expect {
        fail: &["NET002"],
        warn: &["TDB002"],
        ..Expect::default()
    });
    let endpoint_id = w.endpoint_id.as_deref().unwrap_or("vpce-");
    assert!(
        run.summary("TDB002")
            .ends_with(&format!("Authorized Networks may not list {endpoint_id}")),
        "{}",
        run.summary("TDB002")
    );
    let net002 = run.summary("NET002");
    assert!(
        net002.contains(&format!("{} sends no MySQL greeting", endpoint(w, 0)))
            && net002.contains(&format!(
                "{} answers ERROR 1105 (HY000): this endpoint is not allowed to connect to the cluster",
                endpoint(w, 1)
            )),
        "{net002}"
    );
    assert!(run
        .fix_text("NET002")
        .contains(w.endpoint_id.as_deref().unwrap_or("vpce-")));
}

/// The flags are validated before anything runs: one line, exit 2.
#[test]
fn probe_flags_are_validated() {
    for (args, says) in [
        (&["--dns-server", "resolver.example"][..], "--dns-server"),
        (
            &["--dns-server", "10.0.0.2:0"],
            "expected a DNS server address",
        ),
        (&["--probe", "--no-probe"], "--no-probe"),
    ] {
        let mut cmd = crate::common::tidbpe_isolated();
        cmd.args([
            "doctor",
            "--service-name",
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        ])
        .args(args);
        let run = Run::of(&mut cmd);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}
