//! Issues 3 and 4, end to end: each broken world is named by exactly its
//! check ID with the right status, and no other check fails; the good
//! variants pass. The client is the lab's instance (`--instance-id`).

mod common;

use common::{Lab, Run};

fn run_on(scenario: &str) -> (Lab, Run) {
    let lab = Lab::start(scenario);
    let run = lab.doctor(&[
        "--vpc-id",
        &lab.s("vpc_id"),
        "--instance-id",
        &lab.s("instance_id"),
    ]);
    (lab, run)
}

/// `scenario` fails exactly `fails`, warns exactly `warns`, and exits accordingly.
fn expect(scenario: &str, fails: &[&str], warns: &[&str]) -> (Lab, Run) {
    let (lab, run) = run_on(scenario);
    assert_eq!(
        run.with_status("fail"),
        fails,
        "{scenario}: fails\n{}",
        run.describe()
    );
    assert_eq!(
        run.with_status("warn"),
        warns,
        "{scenario}: warns\n{}",
        run.describe()
    );
    assert!(
        run.with_status("unknown").is_empty(),
        "{scenario}\n{}",
        run.describe()
    );
    assert_eq!(run.code, if fails.is_empty() { 0 } else { 1 }, "{scenario}");
    (lab, run)
}

macro_rules! scenario {
    ($name:ident, $scenario:literal, fails: [$($f:literal),*], warns: [$($w:literal),*]) => {
        #[test]
        fn $name() {
            expect($scenario, &[$($f),*], &[$($w),*]);
        }
    };
}

// ---- Issue 3: endpoint, DNS configuration, AZs -----------------------------

scenario!(private_dns_off_fails_ep003, "private-dns-off", fails: ["EP003"], warns: []);
scenario!(client_in_another_az_warns_az002, "client-other-az", fails: [], warns: ["AZ002"]);
scenario!(custom_dhcp_servers_warn_vpc003, "dhcp-custom", fails: [], warns: ["VPC003"]);
scenario!(unrelated_hosted_zone_passes, "hosted-zone-unrelated", fails: [], warns: []);

#[test]
fn every_endpoint_state_but_available_fails_ep002() {
    for state in [
        "pendingAcceptance",
        "pending",
        "rejected",
        "failed",
        "deleting",
        "deleted",
        "expired",
    ] {
        let (_lab, run) = run_on(&format!("state-{state}"));
        assert_eq!(
            run.with_status("fail"),
            ["EP002"],
            "{state}\n{}",
            run.describe()
        );
        let summary = run.summary("EP002");
        assert!(summary.contains(&format!("is {state}")), "{summary}");
        assert!(!run.finding("EP002")["fix"]["text"]
            .as_str()
            .unwrap_or_default()
            .is_empty());
        assert_eq!(run.code, 1);
    }
}

#[test]
fn a_second_endpoint_fails_ep004_and_names_the_redundant_one() {
    let (lab, run) = expect("dns-conflict", &["EP004"], &[]);
    let conflict = lab.s("conflict_endpoint_id");
    assert!(run.fix_commands("EP004").contains(&format!(
        "delete-vpc-endpoints --vpc-endpoint-ids {conflict}"
    )));
    let text = run.finding("EP004")["fix"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains(
        "private-dns-enabled cannot be set because there is already a conflicting DNS domain"
    ));
}

#[test]
fn endpoint_in_an_unsupported_az_fails_az001_by_id() {
    let (lab, run) = expect("endpoint-wrong-az", &["AZ001"], &["AZ002"]);
    let summary = run.summary("AZ001");
    assert!(
        summary.contains("use1-az6 (us-east-1a)"),
        "name and ID side by side: {summary}"
    );
    assert!(run
        .fix_commands("AZ001")
        .contains(&format!("--remove-subnet-ids {}", lab.subnet("az6"))));
}

#[test]
fn shadowing_hosted_zone_fails_vpc004() {
    let (lab, run) = expect("hosted-zone-shadow", &["VPC004"], &[]);
    let summary = run.summary("VPC004");
    assert!(summary.contains("tidbcloud.com"), "{summary}");
    assert!(run
        .fix_commands("VPC004")
        .contains(&lab.s("hosted_zone_id")));
}

#[test]
fn preflight_prints_a_create_command_with_subnets_only_in_supported_azs() {
    let (lab, run) = expect("no-endpoint", &["EP001"], &[]);
    let command = run.fix_commands("EP001");
    assert!(
        command.starts_with(&format!(
            "aws ec2 create-vpc-endpoint --vpc-id {}",
            lab.s("vpc_id")
        )),
        "{command}"
    );
    assert!(command.contains(&format!("--service-name {}", lab.s("service_name"))));
    assert!(command.contains("--vpc-endpoint-type Interface"));
    assert!(command.contains("--private-dns-enabled"));
    assert!(
        command.contains(&format!("--security-group-ids {}", lab.s("endpoint_sg"))),
        "{command}"
    );
    let subnets: Vec<&str> = command
        .split("--subnet-ids ")
        .nth(1)
        .map(|rest| {
            rest.split(" --")
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect()
        })
        .unwrap_or_default();
    // One per supported AZ, the client's own subnet for its AZ.
    assert_eq!(
        subnets,
        [lab.subnet("client"), lab.subnet("az2")],
        "{command}"
    );
    for id in [
        "EP002", "EP003", "EP004", "AZ002", "SG001", "SG002", "ACL001", "ACL002",
    ] {
        assert_eq!(run.status(id), "skip", "{id}");
    }
    assert_eq!(
        run.status("AZ001"),
        "pass",
        "pre-flight lists eligible subnets"
    );
}

// ---- Discovery ---------------------------------------------------------------

/// The report names the lab's VPC, found by `source`, and the client in use1-az1.
fn assert_discovered(lab: &Lab, run: &Run, source: &str) -> serde_json::Value {
    let report = run.json();
    let context = &report["context"];
    assert_eq!(
        context["vpc"]["vpc_id"],
        lab.s("vpc_id"),
        "{}",
        run.describe()
    );
    assert_eq!(context["vpc"]["source"], source);
    assert_eq!(context["client"]["instance_id"], lab.s("instance_id"));
    assert_eq!(context["client"]["az_id"], "use1-az1");
    assert_eq!(run.code, 0, "{}", run.describe());
    report
}

#[test]
fn discovers_the_client_and_vpc_from_imds() {
    let lab = Lab::with_imds("healthy");
    let mut cmd = lab.tidbpe_on_instance();
    let run = lab.doctor_with(&mut cmd, &[]);
    let report = assert_discovered(&lab, &run, "imds");
    assert_eq!(
        report["context"]["client"]["private_ip"],
        lab.s("client_ip")
    );
    assert_eq!(run.status("SG002"), "pass");
    common::assert_valid_report(&run.stdout);
}

#[test]
fn discovers_the_client_and_vpc_from_instance_id() {
    let lab = Lab::start("healthy");
    let run = lab.doctor(&["--instance-id", &lab.s("instance_id")]);
    let report = assert_discovered(&lab, &run, "instance");
    assert_eq!(
        report["context"]["client"]["subnet_id"],
        lab.subnet("client")
    );
}

#[test]
fn discovers_the_vpc_from_the_only_endpoint_of_the_service() {
    let lab = Lab::start("healthy");
    let run = lab.doctor(&[]);
    let report = run.json();
    assert_eq!(
        report["context"]["vpc"]["vpc_id"],
        lab.s("vpc_id"),
        "{}",
        run.describe()
    );
    assert_eq!(report["context"]["vpc"]["source"], "unique-endpoint");
    assert!(run.with_status("fail").is_empty(), "{}", run.describe());
}

#[test]
fn two_endpoints_in_one_vpc_still_name_the_vpc_and_fail_ep004() {
    let lab = Lab::start("dns-conflict");
    let run = lab.doctor(&[]);
    let report = run.json();
    assert_eq!(
        report["context"]["vpc"]["source"],
        "unique-endpoint",
        "{}",
        run.describe()
    );
    assert_eq!(run.with_status("fail"), ["EP004"], "{}", run.describe());
}

#[test]
fn two_endpoints_in_the_region_require_vpc_id() {
    let lab = Lab::start("two-endpoints-in-region");
    let run = lab.doctor(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("--vpc-id is required"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&lab.s("vpc_id")) && run.stderr.contains(&lab.s("second_vpc_id")));
}

// ---- Issue 4: security groups and network ACLs ----------------------------

scenario!(endpoint_sg_with_only_3306_fails_sg001, "sg-3306-only", fails: ["SG001"], warns: []);
scenario!(endpoint_sg_cidr_excluding_the_client_fails_sg001, "sg-cidr-excludes-client", fails: ["SG001"], warns: []);
scenario!(endpoint_sg_from_another_group_fails_sg001, "sg-other-group", fails: ["SG001"], warns: []);
scenario!(endpoint_sg_udp_only_fails_sg001, "sg-udp-only", fails: ["SG001"], warns: []);
scenario!(client_egress_443_only_fails_sg002, "client-egress-443", fails: ["SG002"], warns: []);
scenario!(client_subnet_acl_without_ephemeral_return_fails_acl002, "nacl-client-no-ephemeral", fails: ["ACL002"], warns: []);
scenario!(endpoint_sg_all_traffic_from_anywhere_passes, "sg-all-from-anywhere", fails: [], warns: []);
scenario!(endpoint_sg_range_from_client_subnet_passes, "sg-range-from-client-subnet", fails: [], warns: []);
scenario!(endpoint_sg_from_prefix_list_passes, "sg-prefix-list", fails: [], warns: []);
scenario!(acl_allow_before_deny_passes, "nacl-allow-before-deny", fails: [], warns: []);

#[test]
fn sg001_evidence_says_why_a_rule_did_not_match() {
    let (lab, run) = run_on("sg-3306-only");
    let rejected = run.finding("SG001")["evidence"]["rejected"].to_string();
    assert!(rejected.contains("port 4000 not covered"), "{rejected}");
    let fix = run.fix_commands("SG001");
    assert!(fix.contains(&format!(
        "aws ec2 authorize-security-group-ingress --group-id {} --protocol tcp --port 4000 --source-group {}",
        lab.s("endpoint_sg"),
        lab.s("client_sg")
    )), "{fix}");
}

#[test]
fn endpoint_acl_denying_4000_fails_acl001_with_an_entry_before_the_deny() {
    let (lab, run) = expect("nacl-endpoint-deny-4000", &["ACL001"], &[]);
    let summary = run.summary("ACL001");
    assert!(summary.contains("rule 90"), "{summary}");
    let fix = run.fix_commands("ACL001");
    assert!(
        fix.contains(&format!("--network-acl-id {} --ingress", lab.s("nacl_id"))),
        "{fix}"
    );
    let number: i32 = fix
        .split("--rule-number ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a rule number");
    assert!(number < 90, "{fix}");
}

#[test]
fn client_egress_fix_is_the_egress_twin() {
    let (lab, run) = run_on("client-egress-443");
    let fix = run.fix_commands("SG002");
    assert!(
        fix.contains(&format!(
            "authorize-security-group-egress --group-id {}",
            lab.s("client_sg")
        )),
        "{fix}"
    );
    assert!(fix.contains(&lab.s("endpoint_sg")), "{fix}");
}

#[test]
fn unknown_client_judges_the_vpc_cidr_and_skips_the_client_side() {
    let lab = Lab::start("sg-all-from-anywhere");
    let run = lab.doctor(&["--vpc-id", &lab.s("vpc_id")]);
    assert_eq!(run.status("SG001"), "pass", "{}", run.describe());
    let summary = run.summary("SG001");
    assert!(
        summary.contains("client unknown") && summary.contains("10.0.0.0/16"),
        "{summary}"
    );
    for id in ["SG002", "ACL002", "AZ002"] {
        assert_eq!(run.status(id), "skip", "{id}");
    }
    assert_eq!(run.code, 0, "{}", run.describe());
}

#[test]
fn unknown_client_behind_a_group_reference_is_a_warning_not_a_failure() {
    let lab = Lab::start("healthy");
    let run = lab.doctor(&["--vpc-id", &lab.s("vpc_id")]);
    assert_eq!(run.status("SG001"), "warn", "{}", run.describe());
    assert_eq!(run.code, 0);
}

#[test]
fn client_ip_names_the_client() {
    let lab = Lab::start("sg-cidr-excludes-client");
    let run = lab.doctor(&[
        "--vpc-id",
        &lab.s("vpc_id"),
        "--client-ip",
        &lab.s("client_ip"),
    ]);
    assert_eq!(run.with_status("fail"), ["SG001"], "{}", run.describe());
    let ok = Lab::start("sg-range-from-client-subnet");
    let run = ok.doctor(&[
        "--vpc-id",
        &ok.s("vpc_id"),
        "--client-ip",
        &ok.s("client_ip"),
    ]);
    assert!(run.with_status("fail").is_empty(), "{}", run.describe());
    assert_eq!(run.status("SG001"), "pass");
}
