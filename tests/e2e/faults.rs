//! The fault proxy between the binary and moto, one smoke test per fault
//! kind: a call denied (EC2 403 `UnauthorizedOperation`, STS 403
//! `AccessDenied`), throttled (EC2 503 `RequestLimitExceeded`, Route 53 400
//! `Throttling`), failing with an empty 500, answered late, never answered,
//! failing once then passing. Each fault makes exactly the checks that need
//! the call `unknown`, naming the IAM action, and nothing else changes.

use std::time::{Duration, Instant};

use crate::common::{
    tidbpe_isolated, world, Expect, FaultProxy, Run, ACCESS_DENIED_STS_XML, EMPTY,
    REQUEST_LIMIT_XML, THROTTLING_R53_XML, UNAUTHORIZED_XML,
};

/// The healthy world judged through `proxy` (`--vpc-id`, `--instance-id`,
/// then `args`), and how long the run took.
fn through(proxy: &FaultProxy, args: &[&str]) -> (Run, Duration) {
    let w = world("healthy");
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    let mut all = vec!["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id];
    all.extend_from_slice(args);
    let start = Instant::now();
    let run = w.doctor_with(&mut cmd, &all);
    (run, start.elapsed())
}

/// Each of `ids` is `unknown`, its summary names `action` and its evidence
/// carries the error of that call.
fn assert_unknown_naming(run: &Run, ids: &[&str], action: &str) -> serde_json::Value {
    let mut error = serde_json::Value::Null;
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

#[test]
fn a_denied_call_makes_its_checks_unknown_naming_the_iam_action() {
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeSecurityGroups", 403, UNAUTHORIZED_XML);
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect {
        unknown: &["SG001", "SG002"],
        ..Expect::default()
    });
    let error = assert_unknown_naming(&run, &["SG001", "SG002"], "ec2:DescribeSecurityGroups");
    assert_eq!(error["code"], "UnauthorizedOperation", "{error}");
    assert!(proxy.count("ec2:DescribeSecurityGroups") >= 1);
}

#[test]
fn a_denied_identity_call_makes_aws001_unknown() {
    let proxy = FaultProxy::for_lab();
    proxy.fail("sts:GetCallerIdentity", 403, ACCESS_DENIED_STS_XML);
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect {
        unknown: &["AWS001"],
        ..Expect::default()
    });
    assert_unknown_naming(&run, &["AWS001"], "sts:GetCallerIdentity");
}

#[test]
fn a_throttled_ec2_call_makes_its_checks_unknown() {
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeNetworkAcls", 503, REQUEST_LIMIT_XML);
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect {
        unknown: &["ACL001", "ACL002"],
        ..Expect::default()
    });
    let error = assert_unknown_naming(&run, &["ACL001", "ACL002"], "ec2:DescribeNetworkAcls");
    assert_eq!(error["code"], "RequestLimitExceeded", "{error}");
}

#[test]
fn a_throttled_route53_call_makes_vpc004_unknown() {
    let proxy = FaultProxy::for_lab();
    proxy.fail("ListHostedZonesByVPC", 400, THROTTLING_R53_XML);
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect {
        unknown: &["VPC004"],
        ..Expect::default()
    });
    let error = assert_unknown_naming(&run, &["VPC004"], "route53:ListHostedZonesByVPC");
    assert_eq!(error["code"], "Throttling", "{error}");
}

#[test]
fn an_empty_500_makes_its_checks_unknown() {
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeVpcAttribute", 500, EMPTY);
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect {
        unknown: &["VPC001", "VPC002"],
        ..Expect::default()
    });
    assert_unknown_naming(&run, &["VPC001", "VPC002"], "ec2:DescribeVpcAttribute");
}

#[test]
fn a_fault_that_passes_is_retried() {
    let proxy = FaultProxy::for_lab();
    proxy.fail_times("DescribeSecurityGroups", 1, 503, REQUEST_LIMIT_XML);
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect::default());
    assert_eq!(
        proxy.count("DescribeSecurityGroups"),
        2,
        "{:?}",
        proxy.calls()
    );
}

#[test]
fn a_late_answer_only_slows_the_run() {
    let proxy = FaultProxy::for_lab();
    proxy.delay("DescribeSubnets", 1500);
    let (run, took) = through(&proxy, &[]);
    run.expect(Expect::default());
    assert!(took >= Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn a_hung_call_is_cut_at_the_deadline() {
    let proxy = FaultProxy::for_lab();
    proxy.hang("DescribeNetworkAcls");
    let (run, took) = through(&proxy, &["--timeout", "3"]);
    // The deadline, plus the process's own start and exit on a busy machine.
    assert!(took < Duration::from_millis(4500), "took {took:?}");
    run.expect(Expect {
        unknown: &["ACL001", "ACL002"],
        ..Expect::default()
    });
    let error = assert_unknown_naming(&run, &["ACL001", "ACL002"], "ec2:DescribeNetworkAcls");
    assert_eq!(error["kind"], "timeout", "{error}");
}

#[test]
fn every_call_the_doctor_makes_is_in_its_iam_policy() {
    let proxy = FaultProxy::for_lab();
    let (run, _) = through(&proxy, &[]);
    run.expect(Expect::default());
    let calls = proxy.calls();
    for core in [
        "sts:GetCallerIdentity",
        "ec2:DescribeVpcEndpointServices",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcAttribute",
        "route53:ListHostedZonesByVPC",
    ] {
        assert!(calls.iter().any(|c| c == core), "{core} not in {calls:?}");
    }
    let policy = Run::of(tidbpe_isolated().arg("iam-policy"));
    let policy: serde_json::Value = serde_json::from_str(&policy.stdout).expect("policy");
    let allowed = policy["Statement"][0]["Action"].to_string();
    for call in &calls {
        assert!(
            allowed.contains(&format!("\"{call}\"")),
            "{call} is not in the IAM policy {allowed}"
        );
    }
}
