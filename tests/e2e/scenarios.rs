//! Issues 3 and 4, end to end: each broken world is named by exactly its
//! check ID with the right status, and no other check fails, warns or is
//! skipped; the good variants pass. The client is the world's instance
//! (`--vpc-id` and `--instance-id`).

use crate::common::{world, Expect, Run, World};

/// The world `scenario`, judged with its VPC and instance named.
fn run_on(scenario: &str) -> (&'static World, Run) {
    let w = world(scenario);
    (w, w.doctor_as_client(&[]))
}

/// `scenario` fails exactly `fails`, warns exactly `warns`, everything else
/// passes (but the checks not implemented yet), and exits accordingly.
fn expect(scenario: &str, fails: &[&str], warns: &[&str]) -> (&'static World, Run) {
    let (w, run) = run_on(scenario);
    run.expect(Expect {
        fail: fails,
        warn: warns,
        ..Expect::default()
    });
    (w, run)
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
    // An endpoint that is gone or going leaves no live one to conflict with.
    let gone: &[&str] = &["EP004"];
    for (state, skip) in [
        ("pendingAcceptance", &[][..]),
        ("pending", &[]),
        ("rejected", gone),
        ("failed", gone),
        ("deleting", gone),
        ("expired", gone),
    ] {
        let (_, run) = run_on(&format!("state-{state}"));
        run.expect(Expect {
            fail: &["EP002"],
            skip,
            ..Expect::default()
        });
        let summary = run.summary("EP002");
        assert!(summary.contains(&format!("is {state}")), "{summary}");
        assert!(!run.fix_text("EP002").is_empty(), "{state}");
    }
    // A deleted endpoint is no endpoint (issue 8, item 4): pre-flight.
    let (_, run) = run_on("state-deleted");
    run.expect(Expect {
        fail: &["EP001"],
        skip: &[
            "EP002", "EP003", "EP004", "AZ002", "SG001", "SG002", "ACL001", "ACL002",
        ],
        ..Expect::default()
    });
    assert!(run.summary("EP001").contains("was deleted"));
}

#[test]
fn a_second_endpoint_fails_ep004_and_names_the_redundant_one() {
    let (w, run) = expect("dns-conflict", &["EP004"], &[]);
    assert!(run.fix_commands("EP004").contains(&format!(
        "delete-vpc-endpoints --vpc-endpoint-ids {}",
        w.conflict_endpoint_id()
    )));
    assert!(run.fix_text("EP004").contains(
        "private-dns-enabled cannot be set because there is already a conflicting DNS domain"
    ));
}

#[test]
fn endpoint_in_an_unsupported_az_fails_az001_by_id() {
    let (w, run) = expect("endpoint-wrong-az", &["AZ001"], &["AZ002"]);
    let summary = run.summary("AZ001");
    assert!(
        summary.contains("use1-az6 (us-east-1a)"),
        "name and ID side by side: {summary}"
    );
    assert!(run
        .fix_commands("AZ001")
        .contains(&format!("--remove-subnet-ids {}", w.subnets.az6)));
}

/// With private DNS on, the endpoint's zone (named the host) is more
/// specific than `tidbcloud.com`: a warning at most (issue 8, item 11).
#[test]
fn shadowing_hosted_zone_warns_vpc004_with_private_dns_on() {
    let (w, run) = expect("hosted-zone-shadow", &[], &["VPC004"]);
    let summary = run.summary("VPC004");
    assert!(summary.contains("tidbcloud.com"), "{summary}");
    assert!(summary.contains(w.hosted_zone_id()), "{summary}");
}

#[test]
fn preflight_prints_a_create_command_with_subnets_only_in_supported_azs() {
    let (w, run) = run_on("no-endpoint");
    run.expect(Expect {
        fail: &["EP001"],
        skip: &[
            "EP002", "EP003", "EP004", "AZ002", "SG001", "SG002", "ACL001", "ACL002",
        ],
        ..Expect::default()
    });
    assert!(
        run.summary("AZ001").contains(&w.subnets.client),
        "pre-flight lists eligible subnets: {}",
        run.summary("AZ001")
    );
    let command = run.fix_commands("EP001");
    assert!(
        command.starts_with(&format!(
            "aws ec2 create-vpc-endpoint --vpc-id {}",
            w.vpc_id
        )),
        "{command}"
    );
    assert!(command.contains(&format!("--service-name {}", w.service_name)));
    assert!(command.contains("--vpc-endpoint-type Interface"));
    assert!(command.contains("--private-dns-enabled"));
    assert!(
        command.contains(&format!("--security-group-ids {}", w.groups.endpoint)),
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
    assert_eq!(subnets, [&w.subnets.client, &w.subnets.az2], "{command}");
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
    let (w, run) = run_on("sg-3306-only");
    let rejected = run.finding("SG001")["evidence"]["rejected"].to_string();
    assert!(rejected.contains("port 4000 not covered"), "{rejected}");
    let fix = run.fix_commands("SG001");
    assert!(fix.contains(&format!(
        "aws ec2 authorize-security-group-ingress --group-id {} --protocol tcp --port 4000 --source-group {}",
        w.groups.endpoint, w.groups.client
    )), "{fix}");
}

#[test]
fn endpoint_acl_denying_4000_fails_acl001_with_an_entry_before_the_deny() {
    let (w, run) = expect("nacl-endpoint-deny-4000", &["ACL001"], &[]);
    let summary = run.summary("ACL001");
    assert!(summary.contains("rule 90"), "{summary}");
    let fix = run.fix_commands("ACL001");
    assert!(
        fix.contains(&format!("--network-acl-id {} --ingress", w.nacl_id())),
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
    let (w, run) = run_on("client-egress-443");
    let fix = run.fix_commands("SG002");
    assert!(
        fix.contains(&format!(
            "authorize-security-group-egress --group-id {}",
            w.groups.client
        )),
        "{fix}"
    );
    assert!(fix.contains(&w.groups.endpoint), "{fix}");
}

#[test]
fn unknown_client_judges_the_vpc_cidr_and_skips_the_client_side() {
    let w = world("sg-all-from-anywhere");
    let run = w.doctor(&["--vpc-id", &w.vpc_id]);
    run.expect(Expect {
        skip: &["SG002", "ACL002", "AZ002", "IPV001"],
        ..Expect::default()
    });
    let summary = run.summary("SG001");
    assert!(
        summary.contains("client unknown") && summary.contains(&w.vpc_cidr),
        "{summary}"
    );
}

#[test]
fn unknown_client_behind_a_group_reference_is_a_warning_not_a_failure() {
    let w = world("healthy");
    let run = w.doctor(&["--vpc-id", &w.vpc_id]);
    run.expect(Expect {
        warn: &["SG001"],
        skip: &["SG002", "ACL002", "AZ002", "IPV001"],
        ..Expect::default()
    });
}

#[test]
fn client_ip_names_the_client() {
    let w = world("sg-cidr-excludes-client");
    let ip = w.client_ip.to_string();
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--client-ip", &ip]);
    assert_eq!(run.with_status("fail"), ["SG001"], "{}", run.describe());
    assert!(
        run.summary("SG001").contains(&ip),
        "{}",
        run.summary("SG001")
    );
    let ok = world("sg-range-from-client-subnet");
    let run = ok.doctor(&["--vpc-id", &ok.vpc_id, "--client-ip", &ip]);
    assert!(run.with_status("fail").is_empty(), "{}", run.describe());
    assert_eq!(run.status("SG001"), "pass");
}
