//! A JSON report replays offline with `tidbpe analyze` (redacted or not); the
//! environment around the run (a silent metadata service, no credentials)
//! changes what it should and nothing else.

use std::net::TcpListener;

use crate::common::{assert_valid_report, statuses, tidbpe_isolated, world, Expect, Run};

/// `tidbpe analyze FILE --format json`, with no AWS reachable.
fn analyze(path: &std::path::Path) -> Run {
    let mut cmd = tidbpe_isolated();
    // Nothing listens there: a replay that tried the network would say so.
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    Run::of(cmd.args(["analyze", &path.to_string_lossy(), "--format", "json"]))
}

#[test]
fn a_report_replays_offline_with_the_same_verdicts() {
    let w = world("nacl-endpoint-deny-4000");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.json");
    let mut cmd = w.tidbpe();
    cmd.args([
        "doctor",
        "--service-name",
        &w.service_name,
        "--vpc-id",
        &w.vpc_id,
        "--instance-id",
        &w.instance_id,
        "--timeout",
        "60",
        "--output",
        &path.to_string_lossy(),
    ]);
    let live = Run::of(&mut cmd);
    assert_eq!(live.code, 1);
    assert!(live.stdout.contains("ACL001"), "human output on stdout");

    let replay = analyze(&path);
    let expected = Expect {
        fail: &["ACL001"],
        ..Expect::default()
    };
    replay.expect(expected);
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("report")).expect("JSON");
    assert_eq!(statuses(&original), statuses(&replay.json()));
    assert_valid_report(&replay.stdout);

    std::fs::write(dir.path().join("bad.json"), "{\"schema\": \"other/v9\"}").expect("write");
    let bad = analyze(&dir.path().join("bad.json"));
    assert_eq!(bad.code, 2);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    let missing = analyze(std::path::Path::new("/nonexistent/report.json"));
    assert_eq!(missing.code, 2);
}

#[test]
fn a_silent_metadata_service_is_bounded_and_changes_no_verdict() {
    let w = world("healthy");
    // An IMDS that accepts connections and never answers (off EC2, at worst).
    let imds = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut cmd = w.tidbpe();
    cmd.env_remove("AWS_EC2_METADATA_DISABLED").env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://{}", imds.local_addr().expect("addr")),
    );
    cmd.args([
        "doctor",
        "--format",
        "json",
        "--service-name",
        &w.service_name,
        "--vpc-id",
        &w.vpc_id,
        "--timeout",
        "8",
    ]);
    let run = Run::of(&mut cmd);
    run.expect(Expect {
        warn: &["SG001"],
        skip: &["SG002", "ACL002", "AZ002", "IPV001"],
        ..Expect::default()
    });
    assert!(run.json()["context"]["client"].is_null());
    drop(imds);
}

#[test]
fn a_redacted_report_hides_accounts_and_addresses_and_still_replays() {
    let w = world("sg-cidr-excludes-client");
    let plain = w.doctor_as_client(&[]);
    let redacted = w.doctor_as_client(&["--redact"]);
    let expected = Expect {
        fail: &["SG001"],
        ..Expect::default()
    };
    plain.expect(expected);
    redacted.expect(expected);
    let text = &redacted.stdout;
    let mut secrets = vec![
        w.account.clone(),
        w.client_ip.to_string(),
        w.vpc_cidr.clone(),
    ];
    secrets.extend(w.endpoint_ips.iter().map(|ip| ip.to_string()));
    for secret in &secrets {
        assert!(
            plain.stdout.contains(secret.as_str()),
            "{secret} is in the plain report"
        );
        assert!(
            !text.contains(secret.as_str()),
            "{secret} leaked into the redacted report"
        );
    }
    // The same address maps to the same placeholder everywhere.
    let report = redacted.json();
    let client_ip = report["context"]["client"]["private_ip"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        report["findings"].to_string().contains(&client_ip),
        "{client_ip}"
    );
    // Verdicts are the same, live and replayed.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("redacted.json");
    std::fs::write(&path, text).expect("write");
    let replay = analyze(&path);
    replay.expect(expected);
    assert_eq!(statuses(&replay.json()), statuses(&plain.json()));
    assert_valid_report(text);
}

#[test]
fn missing_credentials_make_aws001_unknown_with_the_credentials_fix() {
    // Issue 8 item 5: not a broken PrivateLink, an AWS side that could not
    // be inspected (tests/e2e/believe.rs has the rest).
    let w = world("healthy");
    let mut cmd = w.tidbpe();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let run = w.doctor_with(&mut cmd, &["--vpc-id", &w.vpc_id]);
    assert_eq!(run.status("AWS001"), "unknown", "{}", run.describe());
    assert!(run
        .fix_commands("AWS001")
        .contains("aws sts get-caller-identity"));
    assert_eq!(run.code, 3);
}
