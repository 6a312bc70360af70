//! Issue 2's acceptance, end to end: the real binary against moto.

mod common;

use common::Lab;

const HOST_EU: &str = "gateway01-privatelink.eu-central-1.prod.aws.tidbcloud.com";
const UNKNOWN_SERVICE: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

#[test]
fn healthy_vpc_passes_every_implemented_check() {
    let lab = Lab::start("healthy");
    let run = lab.doctor(&[
        "--vpc-id",
        &lab.s("vpc_id"),
        "--instance-id",
        &lab.s("instance_id"),
    ]);
    for id in ["INP001", "AWS001", "SVC001", "VPC001", "VPC002"] {
        assert_eq!(run.status(id), "pass", "{id}\n{}", run.describe());
    }
    assert!(run.with_status("fail").is_empty(), "{}", run.describe());
    assert!(run.with_status("unknown").is_empty(), "{}", run.describe());
    assert!(run.with_status("warn").is_empty(), "{}", run.describe());
    assert_eq!(run.code, 0, "{}", run.describe());
    let report = run.json();
    assert_eq!(report["schema"], "tidbpe.report/v1");
    assert_eq!(report["context"]["account"], lab.s("account"));
    assert_eq!(report["context"]["vpc"]["vpc_id"], lab.s("vpc_id"));
    common::assert_valid_report(&run.stdout);
}

/// `scenario` turns one DNS attribute off: exactly `id` fails, with the
/// `modify-vpc-attribute … <flag>` fix naming the VPC. Returns the run.
fn attribute_off_fails(scenario: &str, id: &str, flag: &str) -> (String, common::Run) {
    let lab = Lab::start(scenario);
    let vpc = lab.s("vpc_id");
    let run = lab.doctor(&["--vpc-id", &vpc, "--instance-id", &lab.s("instance_id")]);
    assert_eq!(run.with_status("fail"), [id], "{}", run.describe());
    assert_eq!(run.code, 1);
    assert!(run.fix_commands(id).contains(&format!(
        "aws ec2 modify-vpc-attribute --vpc-id {vpc} {flag}"
    )));
    (vpc, run)
}

#[test]
fn dns_support_off_fails_vpc001() {
    attribute_off_fails("dns-support-off", "VPC001", "--enable-dns-support");
}

#[test]
fn dns_hostnames_off_fails_vpc002_with_the_fix_naming_the_vpc() {
    let (vpc, run) = attribute_off_fails("dns-hostnames-off", "VPC002", "--enable-dns-hostnames");
    assert_eq!(
        run.finding("VPC002")["summary"],
        format!("{vpc} has enableDnsHostnames = false")
    );
}

#[test]
fn unknown_service_name_fails_svc001() {
    let lab = Lab::start("healthy");
    let run = lab.doctor_for(
        &mut lab.tidbpe(),
        UNKNOWN_SERVICE,
        &["--vpc-id", &lab.s("vpc_id")],
    );
    assert_eq!(run.with_status("fail"), ["SVC001"], "{}", run.describe());
    assert_eq!(run.status("EP001"), "skip");
    assert_eq!(run.code, 1);
    common::assert_valid_report(&run.stdout);
}

/// Against the healthy lab, `host` fails INP001 (only) with `why` in the summary.
fn host_fails_inp001(host: &str, why: &str) {
    let lab = Lab::start("healthy");
    let run = lab.doctor(&[
        "--vpc-id",
        &lab.s("vpc_id"),
        "--instance-id",
        &lab.s("instance_id"),
        "--host",
        host,
    ]);
    assert_eq!(run.with_status("fail"), ["INP001"], "{}", run.describe());
    assert!(
        run.summary("INP001").contains(why),
        "{}",
        run.summary("INP001")
    );
    assert_eq!(run.code, 1);
}

#[test]
fn host_in_another_region_fails_inp001_as_cross_region() {
    host_fails_inp001(
        HOST_EU,
        "cross-region private endpoint connections are not supported",
    );
}

#[test]
fn gcp_host_fails_inp001() {
    host_fails_inp001(
        "gateway01.us-central1.prod.gcp.tidbcloud.com",
        "do not apply to clusters on Google Cloud",
    );
}

#[test]
fn human_output_names_the_failure_and_its_fix() {
    let lab = Lab::start("dns-hostnames-off");
    let vpc = lab.s("vpc_id");
    let service = lab.s("service_name");
    let mut cmd = lab.tidbpe();
    cmd.args([
        "doctor",
        "--timeout",
        "60",
        "--service-name",
        &service,
        "--vpc-id",
        &vpc,
    ]);
    let run = common::Run::of(&mut cmd);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("VPC002"), "{}", run.stdout);
    assert!(run.stdout.contains("fix:"), "{}", run.stdout);
    assert!(run
        .stdout
        .contains(&format!("--vpc-id {vpc} --enable-dns-hostnames")));
    assert!(run.stdout.contains("Broken"), "{}", run.stdout);
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no colour when not a terminal"
    );
}
