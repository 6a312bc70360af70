//! Every malformed flag value is refused before any network call: one line
//! on stderr naming the flag and the expected form, exit code 2.

use crate::common::{tidbpe_isolated, Run};

const SVC: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

fn doctor(args: &[&str]) -> Run {
    let mut cmd = tidbpe_isolated();
    // Nothing listens there: a run that got past validation would say so.
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    cmd.arg("doctor").args(args);
    Run::of(&mut cmd)
}

fn assert_refused(args: &[&str], flag: &str, expected: &str) {
    let run = doctor(args);
    assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{args:?}: stdout {}", run.stdout);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got {:?}", run.stderr);
    assert!(
        lines[0].contains(flag),
        "{args:?}: {} does not name {flag}",
        lines[0]
    );
    assert!(
        lines[0].contains(expected),
        "{args:?}: {} lacks {expected:?}",
        lines[0]
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn malformed_values_name_the_flag_and_the_form() {
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--service-name", "vpce-svc-0123456789abcdef0"],
            "--service-name",
            "com.amazonaws.vpce.<region>",
        ),
        (
            &[
                "--service-name",
                "com.amazonaws.vpce.us-east-1.vpce-svc-xyz",
            ],
            "--service-name",
            "hex digits",
        ),
        (
            &["--service-name", SVC, "--az-id", "us-east-1a"],
            "--az-id",
            "is an AZ name",
        ),
        (
            &["--service-name", SVC, "--az-id", "az1"],
            "--az-id",
            "use1-az1",
        ),
        (
            &["--service-name", SVC, "--region", "us-east"],
            "--region",
            "us-east-1",
        ),
        (
            &["--service-name", SVC, "--region", "US-EAST-1"],
            "--region",
            "us-east-1",
        ),
        (
            &["--service-name", SVC, "--vpc-id", "vpc-123"],
            "--vpc-id",
            "8 or 17 hex digits",
        ),
        (
            &["--service-name", SVC, "--vpc-id", "subnet-0a1b2c3d"],
            "--vpc-id",
            "vpc-",
        ),
        (
            &["--service-name", SVC, "--endpoint-id", "vpce-zzzzzzzz"],
            "--endpoint-id",
            "vpce-",
        ),
        (
            &["--service-name", SVC, "--instance-id", "i-12"],
            "--instance-id",
            "i-",
        ),
        (
            &["--service-name", SVC, "--host", "bad host!"],
            "--host",
            "host name",
        ),
        (
            &["--service-name", SVC, "--port", "0"],
            "--port",
            "1 to 65535",
        ),
        (
            &["--service-name", SVC, "--port", "70000"],
            "--port",
            "1 to 65535",
        ),
        (
            &["--service-name", SVC, "--timeout", "-1"],
            "--timeout",
            "seconds",
        ),
        (
            &["--service-name", SVC, "--timeout", "soon"],
            "--timeout",
            "seconds",
        ),
        (
            &["--service-name", SVC, "--format", "xml"],
            "--format",
            "human or json",
        ),
        (
            &["--service-name", SVC, "--only", "XYZ999"],
            "--only",
            "check ID",
        ),
        (
            &["--service-name", SVC, "--skip", "nope"],
            "--skip",
            "check ID",
        ),
        (
            &["--service-name", SVC, "--client-ip", "10.0.0.300"],
            "--client-ip",
            "IPv4 or IPv6",
        ),
        (
            &["--service-name", SVC, "--output", "/nonexistent-dir/r.json"],
            "--output",
            "does not exist",
        ),
        // Addresses no client has: a fix built from them (`--cidr
        // 0.0.0.0/32`) would be nonsense.
        (
            &["--service-name", SVC, "--client-ip", "0.0.0.0"],
            "--client-ip",
            "client",
        ),
        (
            &["--service-name", SVC, "--client-ip", "::"],
            "--client-ip",
            "client",
        ),
        (
            &["--service-name", SVC, "--client-ip", "127.0.0.1"],
            "--client-ip",
            "client",
        ),
        (
            &["--service-name", SVC, "--client-ip", "224.0.0.5"],
            "--client-ip",
            "client",
        ),
        (
            &["--service-name", SVC, "--client-ip", "255.255.255.255"],
            "--client-ip",
            "client",
        ),
        // A selection that leaves nothing to run.
        (
            &[
                "--service-name",
                SVC,
                "--only",
                "VPC001",
                "--skip",
                "VPC001",
            ],
            "--skip",
            "no check",
        ),
        // A server to resolve with, and no resolving: one of them is a mistake.
        (
            &[
                "--service-name",
                SVC,
                "--dns-server",
                "10.0.0.2",
                "--no-probe",
            ],
            "--dns-server",
            "cannot be used with",
        ),
        (&["--az-id", "use1-az1"], "--service-name", "required"),
        (
            &["--service-name", SVC, "--profile", "nope"],
            "--profile",
            "no profile nope",
        ),
    ];
    for (args, flag, expected) in cases {
        assert_refused(args, flag, expected);
    }
}

#[test]
fn an_unknown_flag_is_one_line_too() {
    let run = doctor(&["--vpc", "vpc-0a1b2c3d"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("--vpc"));
}

#[test]
fn ids_with_8_or_17_hex_digits_are_accepted() {
    // Valid input gets past validation: the (unreachable) API makes it incomplete, exit 3.
    let run = doctor(&[
        "--service-name",
        "com.amazonaws.vpce.us-east-1.vpce-svc-e3ba4d3b",
        "--vpc-id",
        "vpc-0a1b2c3d4e5f60718",
        "--endpoint-id",
        "vpce-0a1b2c3d",
        "--timeout",
        "5",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn explain_checks_and_iam_policy() {
    let run = Run::of(tidbpe_isolated().args(["explain", "vpc002"]));
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("# VPC002 vpc-dns-hostnames"));
    let run = Run::of(tidbpe_isolated().args(["explain", "XYZ001"]));
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1);
    let run = Run::of(tidbpe_isolated().arg("checks"));
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("INP001") && run.stdout.contains("NET002"));
    let run = Run::of(tidbpe_isolated().args(["completions", "bash"]));
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("tidbpe") && run.stdout.contains("--service-name"));
    let run = Run::of(tidbpe_isolated().args(["completions", "tcsh"]));
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let run = Run::of(tidbpe_isolated().arg("iam-policy"));
    assert_eq!(run.code, 0);
    let policy: serde_json::Value = serde_json::from_str(&run.stdout).expect("policy is JSON");
    let actions = policy["Statement"][0]["Action"]
        .as_array()
        .expect("actions")
        .clone();
    assert!(actions.iter().any(|a| a == "ec2:DescribeVpcAttribute"));
    assert!(actions.iter().all(|a| a
        .as_str()
        .is_some_and(|a| a.contains(":Describe") || a.contains(":Get") || a.contains(":List"))));
}

/// Help, version and the other printing commands fail (exit 2, one line)
/// when standard output cannot take what they print, as on a full disk.
#[test]
fn output_that_cannot_be_written_is_an_error() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["checks"],
        &["iam-policy"],
        &["explain", "SG001"],
    ] {
        let full = std::fs::File::create("/dev/full").expect("/dev/full");
        let run = Run::of(tidbpe_isolated().args(args).stdout(full));
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    }
}
