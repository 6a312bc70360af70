//! The run is bounded by --timeout whatever the AWS API does, and an API
//! that cannot be reached is `unknown`, never `fail`. No lab: the AWS API
//! here is a socket that never answers, or nothing at all.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::{assert_valid_report, tidbpe_isolated, Run};

const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

/// `tidbpe doctor` for a made-up VPC against `endpoint`, with `args`.
fn doctor_at(endpoint: &str, timeout: &str, args: &[&str]) -> (Run, Duration) {
    let mut cmd = tidbpe_isolated();
    cmd.env("AWS_ENDPOINT_URL", endpoint).args([
        "doctor",
        "--service-name",
        SVC,
        "--vpc-id",
        "vpc-0a1b2c3d",
        "--timeout",
        timeout,
    ]);
    cmd.args(args);
    let start = Instant::now();
    let run = Run::of(&mut cmd);
    (run, start.elapsed())
}

fn doctor_against(endpoint: &str, timeout: &str) -> (Run, Duration) {
    doctor_at(endpoint, timeout, &["--format", "json"])
}

#[test]
fn a_hung_aws_api_never_makes_the_run_exceed_the_timeout() {
    // Accepts connections (the kernel's backlog) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let (run, took) = doctor_against(&endpoint, "2");
    assert!(took < Duration::from_millis(2900), "took {took:?}");
    assert_eq!(run.code, 3, "{}", run.describe());
    let aws = run.finding("AWS001");
    assert_eq!(aws["status"], "unknown");
    assert!(
        aws["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("deadline"),
        "{aws}"
    );
    assert!(run.with_status("fail").is_empty(), "{}", run.describe());
    assert_valid_report(&run.stdout);
    drop(listener);
}

#[test]
fn an_unreachable_aws_api_is_unknown_not_fail() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener); // now refused
    let (run, _) = doctor_against(&endpoint, "10");
    assert_eq!(run.code, 3, "{}", run.describe());
    let summary = run.summary("VPC002");
    assert!(summary.contains("cannot reach the AWS API"), "{summary}");
    assert!(run.with_status("fail").is_empty());
}

#[test]
fn a_tiny_timeout_still_gives_a_report() {
    let (run, _) = doctor_against("http://127.0.0.1:9", "0.001");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.finding("AWS001")["status"], "unknown");
}

#[test]
fn an_unwritable_output_file_loses_nothing_on_stdout() {
    let (run, _) = doctor_at("http://127.0.0.1:9", "3", &["--output", "/proc/version"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.contains("AWS001"), "the report is still shown");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("/proc/version"), "{}", run.stderr);
}

#[test]
fn unknowns_with_one_cause_are_explained_once() {
    let (run, _) = doctor_at("http://127.0.0.1:9", "5", &[]);
    assert_eq!(run.code, 3);
    assert_eq!(
        run.stdout
            .matches("error: cannot reach the AWS API")
            .count(),
        1,
        "{}",
        run.stdout
    );
    // One block names every call that failed (the service's first: INP001
    // reads the host from it).
    assert!(
        run.stdout
            .contains("calls: ec2:DescribeVpcEndpointServices, sts:GetCallerIdentity"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Incomplete"), "{}", run.stdout);
}
