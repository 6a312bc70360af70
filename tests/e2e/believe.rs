//! Gathering you can believe (issue 8, items 1, 2, 5, 6, 7 and 8), end to
//! end: the real binary against the suite's one lab, with a fault proxy
//! per test between the binary and moto where a call must fail, hang or be
//! counted. Each test failed on the `main` before the fix.
//!
//! - a failed discovery is a fact: the VPC's checks are `unknown` naming
//!   `ec2:DescribeVpcEndpoints`, never "Healthy";
//! - a VPC, endpoint or instance named on the command line that does not
//!   exist is an input error (exit 2, one line, no report);
//! - no credentials: AWS001 `unknown`, the chain said once, exit 3; an SSO
//!   profile without a token says so; on an instance without a role,
//!   every call ends at once as `credentials`, never `timeout`; a
//!   `credential_process` runs once a run, answered or failed;
//! - `--only` / `--skip` make only the calls the selection needs;
//! - throttling and 5xx are retried, then `unknown` with "run again"; an
//!   empty 500 says "HTTP 500"; the human report lists every failed call,
//!   and many denied calls make one block with one fix;
//! - client flags: an IPv4-mapped address is IPv4, an address outside the
//!   VPC warns, `--client-ip` with `--instance-id` is refused, and "pass
//!   --instance-id" is never said to whoever passed it.
//!
//! The README's fault table names these tests.

use std::time::{Duration, Instant};

use crate::common::{
    tidbpe_isolated, world, Expect, FaultProxy, Run, World, EMPTY, REQUEST_LIMIT_XML,
    THROTTLING_R53_XML,
};
use serde_json::Value;

/// The checks that read the VPC, in a run where no VPC could be found
/// (AZ002 skips first: off an instance, no client is known).
const VPC_CHECKS: &[&str] = &[
    "VPC001", "VPC002", "VPC003", "VPC004", "EP001", "EP002", "EP003", "EP004", "AZ001", "SG001",
    "SG002", "ACL001", "ACL002", "DNS004",
];

/// `tidbpe doctor` for `w`'s service through `proxy`, with `args`, timed.
fn through(w: &World, proxy: &FaultProxy, args: &[&str]) -> (Run, Duration) {
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    let start = Instant::now();
    let run = w.doctor_with(&mut cmd, args);
    (run, start.elapsed())
}

/// The same, in human form (no `--format json`).
fn human_through(w: &World, proxy: &FaultProxy, args: &[&str]) -> Run {
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url())
        .args(["doctor", "--service-name", &w.service_name])
        .args(args);
    Run::of(&mut cmd)
}

/// Each of `ids` is `unknown` and names `action`; returns the error of the last.
fn unknown_naming(run: &Run, ids: &[&str], action: &str) -> Value {
    let mut error = Value::Null;
    for id in ids {
        let f = run.finding(id);
        assert_eq!(f["status"], "unknown", "{id}\n{}", run.describe());
        let summary = f["summary"].as_str().unwrap_or_default();
        assert!(summary.contains(action), "{id}: {summary}");
        error = f["evidence"]["error"].clone();
        assert_eq!(error["action"], action, "{id}: {f}");
    }
    error
}

/// A run that stopped on an input error: exit 2, one line on stderr that
/// says `wanted`, no report.
fn assert_input_error(run: &Run, wanted: &str) {
    assert_eq!(run.code, 2, "{}", run.describe());
    assert!(run.stdout.is_empty(), "a report came out:\n{}", run.stdout);
    let line = run.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains(wanted), "{line}");
}

// ------------------------------------------------------------ 1. discovery

/// Without `--vpc-id`, off an instance, the service's endpoints in the
/// region name the VPC. That listing denied: the VPC's checks are unknown
/// naming the call (was: "Healthy", exit 0).
#[test]
fn a_denied_endpoint_listing_leaves_the_vpc_checks_unknown() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    proxy.deny("DescribeVpcEndpoints");
    let (run, _) = through(w, &proxy, &[]);
    run.expect(Expect {
        unknown: VPC_CHECKS,
        skip: &["AZ002", "IPV001"],
        ..Expect::default()
    });
    let error = unknown_naming(&run, VPC_CHECKS, "ec2:DescribeVpcEndpoints");
    assert_eq!(error["code"], "UnauthorizedOperation");
    let report = run.json();
    assert!(report["context"]["vpc"].is_null());
    assert_eq!(
        report["facts"]["vpc_choice_error"]["action"],
        "ec2:DescribeVpcEndpoints"
    );
    assert!(run.summary("VPC001").contains("pass --vpc-id"));
}

/// Throttled (503 `RequestLimitExceeded`): retried, then unknown naming the
/// call with "run again".
#[test]
fn a_throttled_endpoint_listing_leaves_the_vpc_checks_unknown() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeVpcEndpoints", 503, REQUEST_LIMIT_XML);
    let (run, _) = through(w, &proxy, &[]);
    run.expect(Expect {
        unknown: VPC_CHECKS,
        skip: &["AZ002", "IPV001"],
        ..Expect::default()
    });
    let error = unknown_naming(&run, VPC_CHECKS, "ec2:DescribeVpcEndpoints");
    assert_eq!(error["kind"], "throttled", "{error}");
    assert!(run.fix_text("VPC001").contains("run the doctor again"));
    assert_eq!(
        proxy.count("ec2:DescribeVpcEndpoints"),
        4,
        "{:?}",
        proxy.calls()
    );
}

/// Never answered: cut at `--timeout 2`, unknown naming the call.
#[test]
fn a_hung_endpoint_listing_leaves_the_vpc_checks_unknown_in_time() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    proxy.hang("DescribeVpcEndpoints");
    let (run, took) = through(w, &proxy, &["--timeout", "2"]);
    assert!(took < Duration::from_millis(3500), "took {took:?}");
    run.expect(Expect {
        unknown: VPC_CHECKS,
        skip: &["AZ002", "IPV001"],
        ..Expect::default()
    });
    let error = unknown_naming(&run, VPC_CHECKS, "ec2:DescribeVpcEndpoints");
    assert_eq!(error["kind"], "timeout", "{error}");
}

/// A well-formed `--endpoint-id` that does not exist: exit 2, one line
/// (was: "Healthy", exit 0).
#[test]
fn an_endpoint_id_that_does_not_exist_is_an_input_error() {
    let w = world("healthy");
    let run = w.doctor(&["--endpoint-id", "vpce-12345678"]);
    assert_input_error(&run, "vpce-12345678 was not found in us-east-1");
    // Beside --vpc-id too.
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--endpoint-id", "vpce-12345678"]);
    assert_input_error(&run, "vpce-12345678 was not found in us-east-1");
    // The one that exists still works.
    let live = w
        .endpoint_id
        .as_deref()
        .expect("the healthy world's endpoint");
    let run = w.doctor(&["--endpoint-id", live]);
    assert_eq!(run.json()["context"]["vpc"]["source"], "endpoint");
}

// ------------------------------------------------------------ 2. names

/// `--vpc-id` of a VPC that does not exist: exit 2, one line naming it and
/// the region (was: EP001 fail with `create-vpc-endpoint --vpc-id
/// vpc-12345678`).
#[test]
fn a_vpc_id_that_does_not_exist_is_an_input_error() {
    let w = world("healthy");
    let run = w.doctor(&["--vpc-id", "vpc-12345678"]);
    assert_input_error(&run, "--vpc-id: vpc-12345678 was not found in us-east-1");
    // Whatever the selection: --only reads the VPC's attributes alone.
    let run = w.doctor(&["--vpc-id", "vpc-12345678", "--only", "VPC001"]);
    assert_input_error(&run, "vpc-12345678 was not found in us-east-1");
}

/// `--instance-id` of an instance that does not exist: exit 2, one line.
#[test]
fn an_instance_id_that_does_not_exist_is_an_input_error() {
    let w = world("healthy");
    let run = w.doctor(&["--instance-id", "i-12345678"]);
    assert_input_error(&run, "--instance-id: i-12345678 was not found in us-east-1");
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--instance-id", "i-12345678"]);
    assert_input_error(&run, "i-12345678 was not found in us-east-1");
}

// ------------------------------------------------------------ 5. credentials

/// `tidbpe` for `w` with no credentials anywhere.
fn without_credentials(w: &World) -> std::process::Command {
    let mut cmd = w.tidbpe();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

/// No credentials: AWS001 unknown with the fix and the chain, once; every
/// other AWS-side check unknown citing AWS001; exit 3 (was: "Broken", exit
/// 1, the chain in every row).
#[test]
fn no_credentials_make_aws001_unknown_said_once() {
    let w = world("healthy");
    let args = ["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id];
    let run = w.doctor_with(&mut without_credentials(w), &args);
    // INP001 too: without --host, the host is the service's private DNS name.
    let aws_side: Vec<&str> = [
        "AWS001", "INP001", "SVC001", "SVC002", "VPC001", "VPC002", "VPC003", "VPC004", "EP001",
        "EP002", "EP003", "EP004", "AZ001", "AZ002", "SG001", "SG002", "ACL001", "ACL002",
        "DNS004", "IPV001",
    ]
    .to_vec();
    run.expect(Expect {
        unknown: &aws_side,
        ..Expect::default()
    });
    let aws001 = run.finding("AWS001");
    assert!(
        run.summary("AWS001").contains("could not be inspected"),
        "{aws001}"
    );
    let chain = aws001["evidence"]["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(chain.contains("credential"), "{chain}");
    let fix = run.fix_text("AWS001");
    for way in ["--profile", "aws sso login", "instance role"] {
        assert!(fix.contains(way), "{way}: {fix}");
    }
    let findings = run.json()["findings"].to_string();
    let probe = &chain[..chain.len().min(60)];
    assert_eq!(findings.matches(probe).count(), 1, "{findings}");
    for id in &aws_side[1..] {
        let summary = run.summary(id);
        assert!(summary.contains("see AWS001"), "{id}: {summary}");
        assert!(summary.len() < 140, "{id}: {summary}");
    }
    // The human report says the chain once too.
    let mut cmd = without_credentials(w);
    cmd.args(["doctor", "--service-name", &w.service_name])
        .args(args);
    let human = Run::of(&mut cmd);
    assert_eq!(human.code, 3, "{}", human.stdout);
    assert_eq!(
        human
            .stdout
            .matches("no credentials found in chain")
            .count(),
        1,
        "{}",
        human.stdout
    );
}

/// An SSO profile without a cached token says so, and how to log in (was:
/// "No such file or directory (os error 2)").
#[test]
fn an_sso_profile_without_a_token_says_so() {
    let w = world("healthy");
    let home = tempfile::tempdir().expect("a home");
    let config = home.path().join("config");
    std::fs::write(
        &config,
        "[profile dev-sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\nregion = us-east-1\n",
    )
    .expect("write the config");
    let mut cmd = without_credentials(w);
    cmd.env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"));
    let run = w.doctor_with(&mut cmd, &["--vpc-id", &w.vpc_id, "--profile", "dev-sso"]);
    assert_eq!(run.code, 3, "{}", run.describe());
    assert_eq!(run.status("AWS001"), "unknown");
    let aws001 = run.finding("AWS001");
    assert!(run.summary("AWS001").contains("SSO"), "{aws001}");
    let message = aws001["evidence"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("the SSO profile has no cached token"),
        "{message}"
    );
    assert!(run
        .fix_commands("AWS001")
        .contains("aws sso login --profile dev-sso"));
}

// ------------------------------------------------------------ 6. selection

/// `--only INP001` with `--host` needs no AWS: no request reaches the AWS
/// endpoint (was: every call made). Without `--host`, the host is the
/// service's private DNS name: the service lookup, and only it.
#[test]
fn only_inp001_makes_no_aws_call() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    let (run, _) = through(w, &proxy, &["--only", "INP001", "--host", &w.host]);
    assert_eq!(run.code, 0, "{}", run.describe());
    assert_eq!(run.status("INP001"), "pass");
    assert!(proxy.calls().is_empty(), "{:?}", proxy.calls());
    // With the VPC named, too.
    let (run, _) = through(
        w,
        &proxy,
        &["--only", "INP001", "--host", &w.host, "--vpc-id", &w.vpc_id],
    );
    assert_eq!(run.code, 0, "{}", run.describe());
    assert!(proxy.calls().is_empty(), "{:?}", proxy.calls());
    let (run, _) = through(w, &proxy, &["--only", "INP001"]);
    assert_eq!(run.status("INP001"), "pass", "{}", run.describe());
    assert_eq!(proxy.calls(), ["ec2:DescribeVpcEndpointServices"]);
}

/// `--only VPC001` makes VPC001's call and discovery's, nothing else.
#[test]
fn only_vpc001_makes_its_calls_and_discoverys() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    let (run, _) = through(w, &proxy, &["--only", "VPC001"]);
    assert_eq!(run.code, 0, "{}", run.describe());
    assert_eq!(run.status("VPC001"), "pass");
    let mut calls = proxy.calls();
    calls.sort();
    calls.dedup();
    assert_eq!(
        calls,
        ["ec2:DescribeVpcAttribute", "ec2:DescribeVpcEndpoints"],
        "{:?}",
        proxy.calls()
    );
    // --skip leaves out what only the skipped checks need.
    let proxy = FaultProxy::for_lab();
    let (run, _) = through(
        w,
        &proxy,
        &[
            "--vpc-id",
            &w.vpc_id,
            "--instance-id",
            &w.instance_id,
            // DNS002 reads the hosted zones too (to say whether VPC004
            // explains a public answer).
            "--skip",
            "ACL001,ACL002,VPC004,DNS002,DNS004",
        ],
    );
    run.expect(Expect {
        skip: &["ACL001", "ACL002", "VPC004", "DNS002", "DNS004"],
        ..Expect::default()
    });
    let calls = proxy.calls();
    for absent in [
        "ec2:DescribeNetworkAcls",
        "route53:ListHostedZonesByVPC",
        "route53resolver:ListResolverRuleAssociations",
    ] {
        assert!(!calls.iter().any(|c| c == absent), "{absent}: {calls:?}");
    }
}

// ------------------------------------------------------------ 7. advice

/// Throttled EC2 and Route 53 calls are retried with backoff, then unknown
/// with "AWS is throttling / failing: run again" (was: "correct the ID").
#[test]
fn throttling_is_retried_then_advises_running_again() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeNetworkAcls", 503, REQUEST_LIMIT_XML);
    proxy.fail("ListHostedZonesByVPC", 400, THROTTLING_R53_XML);
    let (run, _) = through(
        w,
        &proxy,
        &["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id],
    );
    run.expect(Expect {
        unknown: &["VPC004", "ACL001", "ACL002"],
        ..Expect::default()
    });
    let acl = unknown_naming(&run, &["ACL001", "ACL002"], "ec2:DescribeNetworkAcls");
    assert_eq!(acl["kind"], "throttled", "{acl}");
    let zones = unknown_naming(&run, &["VPC004"], "route53:ListHostedZonesByVPC");
    assert_eq!(zones["kind"], "throttled", "{zones}");
    for id in ["VPC004", "ACL001"] {
        let fix = run.fix_text(id);
        assert!(fix.contains("AWS is throttling or failing"), "{id}: {fix}");
        assert!(fix.contains("run the doctor again"), "{id}: {fix}");
        assert!(!fix.contains("correct"), "{id}: {fix}");
    }
    assert_eq!(proxy.count("DescribeNetworkAcls"), 4, "{:?}", proxy.calls());
    assert_eq!(
        proxy.count("ListHostedZonesByVPC"),
        4,
        "{:?}",
        proxy.calls()
    );
}

/// An empty 500 says "HTTP 500", not the XML parser's complaint; it is
/// retried, and a 500 that passes leaves no trace.
#[test]
fn an_empty_500_says_http_500() {
    let w = world("healthy");
    let args = ["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id];
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeVpcAttribute", 500, EMPTY);
    let (run, _) = through(w, &proxy, &args);
    run.expect(Expect {
        unknown: &["VPC001", "VPC002"],
        ..Expect::default()
    });
    let error = unknown_naming(&run, &["VPC001", "VPC002"], "ec2:DescribeVpcAttribute");
    assert_eq!(error["kind"], "server-error", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(!message.to_ascii_lowercase().contains("xml"), "{message}");
    assert!(run.summary("VPC001").contains("HTTP 500"));
    assert!(run.fix_text("VPC001").contains("run the doctor again"));
    let proxy = FaultProxy::for_lab();
    proxy.fail_times("DescribeVpcAttribute", 2, 500, EMPTY);
    let (run, _) = through(w, &proxy, &args);
    run.expect(Expect::default());
}

/// Every EC2 call hung: the human "could not check" block lists every call
/// that was made and cut (was: four of them missing).
#[test]
fn a_hung_api_lists_every_call_it_cut() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    for action in [
        "DescribeVpcEndpointServices",
        "DescribeAvailabilityZones",
        "DescribeInstances",
        "DescribeVpcs",
        "DescribeVpcAttribute",
        "DescribeVpcEndpoints",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "DescribeNetworkAcls",
        "ListHostedZonesByVPC",
        "ListResolverRuleAssociations",
        // Asked in the first round too (issue 12): the account's DHCP
        // option sets, the VPC's endpoint interfaces.
        "DescribeDhcpOptions",
        "DescribeNetworkInterfaces",
    ] {
        proxy.hang(action);
    }
    let run = human_through(
        w,
        &proxy,
        &[
            "--vpc-id",
            &w.vpc_id,
            "--instance-id",
            &w.instance_id,
            "--timeout",
            "3",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let block = run
        .stdout
        .split("\n\n")
        .find(|b| b.contains("calls:") && b.contains("longer --timeout"))
        .unwrap_or_else(|| panic!("no timeout block:\n{}", run.stdout));
    let block = block.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut calls = proxy.calls();
    calls.retain(|c| c != "sts:GetCallerIdentity");
    calls.sort();
    calls.dedup();
    assert!(calls.len() >= 9, "{calls:?}");
    for call in &calls {
        assert!(
            block.contains(call.as_str()),
            "{call} missing from:\n{block}"
        );
    }
}

/// Many denied calls: one "could not check" block, one `tidbpe iam-policy`
/// fix naming them all (was: one block per action).
#[test]
fn many_denied_calls_make_one_block_with_one_fix() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    let denied = [
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeSubnets",
        "ec2:DescribeDhcpOptions",
    ];
    for action in denied {
        proxy.deny(action);
    }
    let run = human_through(
        w,
        &proxy,
        &["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert_eq!(
        run.stdout.matches(": could not check").count(),
        1,
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("\n    tidbpe iam-policy").count(),
        1,
        "{}",
        run.stdout
    );
    let text = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    let fix = &text[text.find("fix: Allow").unwrap_or(0)..];
    for action in denied {
        assert!(fix.contains(action), "{action}: {fix}");
    }
}

// ------------------------------------------------------------ 8. client flags

/// `::ffff:10.0.10.4` is 10.0.10.4 (was: a false ACL001 fail with IPv6
/// commands).
#[test]
fn an_ipv4_mapped_client_ip_is_ipv4() {
    let w = world("healthy");
    let mapped = format!("::ffff:{}", w.client_ip);
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--client-ip", &mapped]);
    assert_eq!(run.json()["inputs"]["client_ip"], w.client_ip.to_string());
    assert_eq!(run.status("ACL001"), "pass", "{}", run.describe());
    assert!(!run.stdout.contains("::ffff:"), "{}", run.describe());
    // No IPv6 in any finding (the facts name fields such as ipv6_native).
    let findings = run.json()["findings"].to_string();
    assert!(!findings.contains("ipv6"), "{}", run.describe());
}

/// A client outside the VPC's CIDRs (peered VPC, VPN, on premises): SG001
/// warns that it needs routing and DNS forwarding (was: a silent pass).
#[test]
fn a_client_outside_the_vpc_warns_about_routing_and_dns() {
    let w = world("sg-all-from-anywhere");
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--client-ip", "192.168.50.5"]);
    // EP003 names the three ways DNS reaches a client outside the VPC.
    run.expect(Expect {
        warn: &["SG001", "EP003"],
        skip: &["AZ002", "SG002", "ACL002"],
        ..Expect::default()
    });
    let summary = run.summary("SG001");
    assert!(summary.contains("192.168.50.5 is outside"), "{summary}");
    assert!(summary.contains("routing and DNS forwarding"), "{summary}");
    assert_eq!(run.finding("SG001")["evidence"]["client_outside_vpc"], true);
    // Inside the VPC, the same group passes.
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--client-ip", "10.0.10.9"]);
    assert_eq!(run.status("SG001"), "pass", "{}", run.describe());
}

/// `--client-ip` with `--instance-id`: exit 2, one line, before any call.
#[test]
fn client_ip_with_instance_id_is_an_input_error() {
    let run = Run::of(tidbpe_isolated().args([
        "doctor",
        "--service-name",
        "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        "--vpc-id",
        "vpc-0a1b2c3d",
        "--client-ip",
        "10.0.10.4",
        "--instance-id",
        "i-0a1b2c3d",
    ]));
    assert_input_error(&run, "--client-ip");
    assert!(run.stderr.contains("--instance-id"), "{}", run.stderr);
}

/// With `--instance-id` passed and unreadable, no message says "pass
/// --instance-id": the VPC's checks are unknown naming the call (was: skip,
/// "pass --vpc-id or --instance-id").
#[test]
fn no_message_asks_for_the_instance_id_that_was_passed() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    proxy.deny("DescribeInstances");
    let (run, _) = through(w, &proxy, &["--instance-id", &w.instance_id]);
    assert_eq!(run.code, 3, "{}", run.describe());
    for id in VPC_CHECKS {
        assert_eq!(run.status(id), "unknown", "{id}\n{}", run.describe());
        assert!(run.summary(id).contains("ec2:DescribeInstances"), "{id}");
    }
    let human = human_through(w, &proxy, &["--instance-id", &w.instance_id]);
    for text in [&run.stdout, &human.stdout] {
        assert!(!text.contains("pass --instance-id"), "{text}");
        assert!(!text.contains("or --instance-id"), "{text}");
    }
}

// ------------------------------------------------- 9. credentials, promptly

/// Every finding's error is of kind `credentials`, none a `timeout`; AWS001
/// is unknown naming the chain, the others point to it; exit 3.
fn assert_no_credentials_said_promptly(run: &Run) {
    assert_eq!(run.code, 3, "{}", run.describe());
    assert_eq!(run.status("AWS001"), "unknown", "{}", run.describe());
    let message = run.finding("AWS001")["evidence"]["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("credential"), "{message}");
    let report = run.json();
    for f in report["findings"].as_array().into_iter().flatten() {
        let error = &f["evidence"]["error"];
        if !error.is_null() {
            assert_eq!(error["kind"], "credentials", "{f}\n{}", run.describe());
        }
        if f["status"] == "unknown" && f["id"] != "AWS001" {
            let summary = f["summary"].as_str().unwrap_or_default();
            assert!(summary.contains("see AWS001"), "{f}");
        }
    }
    assert!(
        !run.stdout.contains("before the deadline"),
        "{}",
        run.describe()
    );
}

/// On an instance without a role (its IMDS answers 404 for the role) and no
/// other credentials, every call fails as `credentials` and the run ends at
/// once, every time (was: about 3 runs in 4 waited for the deadline, the
/// calls started after IMDS had named the VPC ending as `timeout`, "check
/// the network path"). A race, hence several runs: bounded, 5 at most.
#[test]
fn no_credentials_on_an_instance_end_promptly_every_time() {
    let w = world("healthy");
    for attempt in 1..=5 {
        let mut cmd = w.tidbpe_on_instance();
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        let start = Instant::now();
        let run = w.doctor_with(&mut cmd, &["--no-probe", "--timeout", "10"]);
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "run {attempt} took {took:?}\n{}",
            run.describe()
        );
        assert_no_credentials_said_promptly(&run);
        // IMDS named the VPC: its checks are judged (unknown), not skipped.
        assert_eq!(run.status("VPC001"), "unknown", "{}", run.describe());
    }
}

/// A profile `counted` whose `credential_process` appends a line to
/// `dir/count` each time it runs, sleeps `sleep` seconds, then answers
/// credentials (`code` 0) or fails with exit `code`.
fn credential_process_profile(dir: &std::path::Path, sleep: u32, code: i32) -> std::path::PathBuf {
    let count = dir.join("count");
    let script = dir.join("credentials.sh");
    let answer = if code == 0 {
        r#"{"Version": 1, "AccessKeyId": "testing", "SecretAccessKey": "testing"}"#
    } else {
        "no such role"
    };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho ran >> '{}'\nsleep {sleep}\necho '{answer}'\nexit {code}\n",
            count.display()
        ),
    )
    .expect("write the script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make it executable");
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile counted]\ncredential_process = {}\nregion = us-east-1\n",
            script.display()
        ),
    )
    .expect("write the config");
    config
}

/// How many times the profile's `credential_process` ran.
fn runs_of(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("count"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// A `credential_process` runs once a run, for the four SDK clients (EC2,
/// STS, Route 53, Route 53 Resolver share one identity cache), whether it
/// answers or fails; one that fails slowly is not run again for every
/// call, one after the other, until the deadline (was: 20 runs of a
/// 1-second failure, 7 calls ending as `timeout` at a 10-second deadline).
#[test]
fn a_credential_process_runs_once_a_run_answered_or_failed() {
    let w = world("healthy");
    let args = [
        "--vpc-id",
        &w.vpc_id,
        "--profile",
        "counted",
        "--timeout",
        "10",
    ];
    // `tidbpe` whose only credentials come from the counted process.
    let counted = |dir: &std::path::Path, delay: u32, fail: i32| {
        let mut cmd = w.tidbpe();
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env(
                "AWS_CONFIG_FILE",
                credential_process_profile(dir, delay, fail),
            );
        cmd
    };
    let answers = tempfile::tempdir().expect("a directory");
    let run = w.doctor_with(&mut counted(answers.path(), 0, 0), &args);
    assert_eq!(run.status("AWS001"), "pass", "{}", run.describe());
    assert_eq!(run.status("VPC002"), "pass", "{}", run.describe());
    assert_eq!(runs_of(answers.path()), 1, "{}", run.describe());

    let fails = tempfile::tempdir().expect("a directory");
    let start = Instant::now();
    let run = w.doctor_with(&mut counted(fails.path(), 1, 1), &args);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{took:?}\n{}",
        run.describe()
    );
    assert_eq!(runs_of(fails.path()), 1, "{}", run.describe());
    assert_no_credentials_said_promptly(&run);

    // One that hangs past the deadline: started once, not once per call
    // that the identity cache cut short (was: three times, each left
    // running). It ends by itself 6 s later.
    let hangs = tempfile::tempdir().expect("a directory");
    let run = w.doctor_with(
        &mut counted(hangs.path(), 6, 0),
        &[
            "--vpc-id",
            &w.vpc_id,
            "--profile",
            "counted",
            "--timeout",
            "3",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.describe());
    assert_eq!(runs_of(hangs.path()), 1, "{}", run.describe());
}
