//! Issue 2's acceptance, end to end: the healthy world passes every
//! implemented check; a DNS attribute off, an unknown service, a host of
//! another region or cloud fail exactly their check.

use crate::common::{assert_valid_report, world, Expect, Run};

const HOST_EU: &str = "gateway01-privatelink.eu-central-1.prod.aws.tidbcloud.com";
const UNKNOWN_SERVICE: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

#[test]
fn healthy_vpc_passes_every_implemented_check() {
    let w = world("healthy");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect::default());
    let report = run.json();
    assert_eq!(report["schema"], "tidbpe.report/v1");
    assert_eq!(report["context"]["account"], w.account);
    assert_eq!(report["context"]["vpc"]["vpc_id"], w.vpc_id);
    assert_eq!(
        report["context"]["endpoint_id"],
        w.endpoint_id.as_deref().unwrap()
    );
    assert_valid_report(&run.stdout);
}

/// `scenario` turns one DNS attribute off: exactly `id` fails, with the
/// `modify-vpc-attribute … <flag>` fix naming the VPC.
fn attribute_off_fails(scenario: &str, id: &str, flag: &str) -> Run {
    let w = world(scenario);
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &[id],
        ..Expect::default()
    });
    assert!(run.fix_commands(id).contains(&format!(
        "aws ec2 modify-vpc-attribute --vpc-id {} {flag}",
        w.vpc_id
    )));
    run
}

#[test]
fn dns_support_off_fails_vpc001() {
    attribute_off_fails("dns-support-off", "VPC001", "--enable-dns-support");
}

#[test]
fn dns_hostnames_off_fails_vpc002_with_the_fix_naming_the_vpc() {
    let run = attribute_off_fails("dns-hostnames-off", "VPC002", "--enable-dns-hostnames");
    assert_eq!(
        run.finding("VPC002")["summary"],
        format!(
            "{} has enableDnsHostnames = false",
            world("dns-hostnames-off").vpc_id
        )
    );
}

#[test]
fn unknown_service_name_fails_svc001() {
    let w = world("healthy");
    let run = w.doctor_for(&mut w.tidbpe(), UNKNOWN_SERVICE, &["--vpc-id", &w.vpc_id]);
    run.expect(Expect {
        fail: &["SVC001"],
        // Without the service, no host is known either (no --host given).
        skip: &[
            "INP001", "SVC002", "VPC004", "EP001", "EP002", "EP003", "EP004", "AZ001", "AZ002",
            "SG001", "SG002", "ACL001", "ACL002", "IPV001",
        ],
        ..Expect::default()
    });
    assert_valid_report(&run.stdout);
}

/// Against the healthy world, `host` fails INP001 with `why` in the summary,
/// and SVC002 (it is not the service's private DNS name), only them.
fn host_fails_inp001(host: &str, why: &str) {
    let run = world("healthy").doctor_as_client(&["--host", host]);
    run.expect(Expect {
        fail: &["INP001", "SVC002"],
        ..Expect::default()
    });
    assert!(
        run.summary("INP001").contains(why),
        "{}",
        run.summary("INP001")
    );
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
    let w = world("dns-hostnames-off");
    let mut cmd = w.tidbpe();
    cmd.args([
        "doctor",
        "--timeout",
        "60",
        "--service-name",
        &w.service_name,
        "--vpc-id",
        &w.vpc_id,
    ]);
    let run = Run::of(&mut cmd);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("VPC002"), "{}", run.stdout);
    assert!(run.stdout.contains("fix:"), "{}", run.stdout);
    assert!(run
        .stdout
        .contains(&format!("--vpc-id {} --enable-dns-hostnames", w.vpc_id)));
    assert!(run.stdout.contains("Broken"), "{}", run.stdout);
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no colour when not a terminal"
    );
}
