//! The run is bounded by --timeout whatever the AWS API does, and a JSON
//! report replays offline with `tidbpe analyze`.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{tidbpe_isolated, Lab, Run};

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
    common::assert_valid_report(&run.stdout);
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
fn a_report_replays_offline_with_the_same_verdicts() {
    let lab = Lab::start("nacl-endpoint-deny-4000");
    let dir = std::env::temp_dir().join(format!("tidbpe-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("report.json");
    let path_s = path.to_string_lossy().to_string();
    let mut cmd = lab.tidbpe();
    cmd.args([
        "doctor",
        "--service-name",
        &lab.s("service_name"),
        "--vpc-id",
        &lab.s("vpc_id"),
        "--instance-id",
        &lab.s("instance_id"),
        "--timeout",
        "60",
        "--output",
        &path_s,
    ]);
    let live = Run::of(&mut cmd);
    assert_eq!(live.code, 1);
    assert!(live.stdout.contains("ACL001"), "human output on stdout");
    drop(lab); // offline from here on

    let replay = Run::of(tidbpe_isolated().args(["analyze", &path_s, "--format", "json"]));
    assert_eq!(replay.code, 1, "{}", replay.stderr);
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("report")).expect("JSON");
    let statuses = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (f["id"].to_string(), f["status"].to_string()))
            .collect()
    };
    assert_eq!(statuses(&original), statuses(&replay.json()));
    assert_eq!(replay.with_status("fail"), ["ACL001"]);
    common::assert_valid_report(&replay.stdout);

    std::fs::write(dir.join("bad.json"), "{\"schema\": \"other/v9\"}").expect("write");
    let bad = Run::of(tidbpe_isolated().args(["analyze", &dir.join("bad.json").to_string_lossy()]));
    assert_eq!(bad.code, 2);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    let missing = Run::of(tidbpe_isolated().args(["analyze", "/nonexistent/report.json"]));
    assert_eq!(missing.code, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_silent_metadata_service_is_bounded_and_changes_no_verdict() {
    let lab = Lab::start("healthy");
    // An IMDS that accepts connections and never answers (off EC2, at worst).
    let imds = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut cmd = lab.tidbpe();
    cmd.env_remove("AWS_EC2_METADATA_DISABLED").env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://{}", imds.local_addr().expect("addr")),
    );
    cmd.args([
        "doctor",
        "--format",
        "json",
        "--service-name",
        &lab.s("service_name"),
        "--vpc-id",
        &lab.s("vpc_id"),
        "--timeout",
        "8",
    ]);
    let run = Run::of(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.describe());
    assert!(run.with_status("unknown").is_empty(), "{}", run.describe());
    assert!(run.json()["context"]["client"].is_null());
    drop(imds);
}

#[test]
fn a_redacted_report_hides_accounts_and_addresses_and_still_replays() {
    let lab = Lab::start("sg-cidr-excludes-client");
    let base = [
        "--vpc-id",
        &lab.s("vpc_id"),
        "--instance-id",
        &lab.s("instance_id"),
    ];
    let plain = lab.doctor(&base);
    let mut args = base.to_vec();
    args.push("--redact");
    let redacted = lab.doctor(&args);
    assert_eq!(redacted.code, plain.code);
    let text = &redacted.stdout;
    let mut secrets = vec![lab.s("account"), lab.s("client_ip"), lab.s("vpc_cidr")];
    secrets.extend(
        lab.info["endpoint_ips"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.as_str().map(str::to_string)),
    );
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
    assert_eq!(redacted.with_status("fail"), ["SG001"]);
    assert_eq!(plain.with_status("pass"), redacted.with_status("pass"));
    let dir = std::env::temp_dir().join(format!("tidbpe-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("redacted.json");
    std::fs::write(&path, text).expect("write");
    let replay =
        Run::of(tidbpe_isolated().args(["analyze", &path.to_string_lossy(), "--format", "json"]));
    assert_eq!(replay.with_status("fail"), ["SG001"], "{}", replay.stderr);
    assert_eq!(replay.with_status("pass"), plain.with_status("pass"));
    common::assert_valid_report(text);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tiny_timeout_still_gives_a_report() {
    let (run, _) = doctor_against("http://127.0.0.1:9", "0.001");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.finding("AWS001")["status"], "unknown");
}

#[test]
fn missing_credentials_fail_aws001_with_the_credentials_fix() {
    let lab = Lab::start("healthy");
    let mut cmd = lab.tidbpe();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let run = lab.doctor_with(&mut cmd, &["--vpc-id", &lab.s("vpc_id")]);
    assert_eq!(run.status("AWS001"), "fail", "{}", run.describe());
    assert!(run
        .fix_commands("AWS001")
        .contains("aws sts get-caller-identity"));
    assert_eq!(run.code, 1);
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
    assert!(
        run.stdout.contains("calls: sts:GetCallerIdentity"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Incomplete"), "{}", run.stdout);
}
