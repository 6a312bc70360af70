//! Issue 8, items 3, 4, 9, 10, 11 and 12, end to end: verdicts that are
//! right and fix commands that do not break what works. Each test fails on
//! the `main` of before the issue (its doc says how).

use crate::common::{world, Expect, Run, World};

/// The IDs the pre-flight of a world without a live endpoint skips.
const NO_ENDPOINT_SKIPS: &[&str] = &[
    "EP002", "EP003", "EP004", "AZ002", "SG001", "SG002", "ACL001", "ACL002",
];

/// Runs each printed command with the lab's AWS CLI (they must all succeed).
fn apply(w: &World, commands: &str) {
    for command in commands.lines() {
        let words = shlex::split(command).unwrap_or_else(|| panic!("not shell words: {command}"));
        assert_eq!(words.first().map(String::as_str), Some("aws"), "{command}");
        let out = w.aws(&words[1..]);
        assert!(out.code == 0, "{command}\nfailed: {}", out.stderr);
    }
}

/// Every fix command of a report, one a line.
fn all_commands(run: &Run) -> String {
    run.json()["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["fix"]["commands"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- Item 3: --az-id is where the cluster is --------------------------------

/// Before: `--az-id use1-az1` failed AZ001 and printed `--remove-subnet-ids`
/// of the working use1-az2 subnet; an AZ ID the service does not offer
/// removed every subnet.
#[test]
fn az_id_never_removes_a_working_subnet() {
    let w = world("healthy");
    for az in ["use1-az1", "use1-az2"] {
        let run = w.doctor_as_client(&["--az-id", az]);
        run.expect(Expect::default());
    }
    // Not offered by the service: SVC001 warns, AZ001 judges against the
    // service's AZ IDs alone.
    let run = w.doctor_as_client(&["--az-id", "use1-az6"]);
    run.expect(Expect {
        warn: &["SVC001"],
        ..Expect::default()
    });
    assert!(
        run.summary("SVC001").contains("not in --az-id use1-az6"),
        "{}",
        run.summary("SVC001")
    );
    assert!(
        run.fix_text("SVC001").contains("service's AZ IDs alone"),
        "{}",
        run.fix_text("SVC001")
    );
    assert!(!all_commands(&run).contains("--remove-subnet-ids"));
}

/// Before: the endpoint in use1-az2 only, `--az-id use1-az1` printed
/// `--remove-subnet-ids` of the use1-az2 subnet. Now: add one in use1-az1,
/// remove nothing; the printed command works.
#[test]
fn az_id_the_endpoint_lacks_adds_a_subnet_there() {
    let w = world("client-other-az#az-id");
    let endpoint = w.endpoint_id.as_deref().expect("endpoint");
    let run = w.doctor_as_client(&["--az-id", "use1-az1"]);
    run.expect(Expect {
        fail: &["AZ001"],
        warn: &["AZ002"],
        ..Expect::default()
    });
    let fix = run.fix_commands("AZ001");
    assert_eq!(
        fix,
        format!(
            "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint} --add-subnet-ids {} --region us-east-1",
            w.subnets.client
        )
    );
    apply(w, &fix);
    w.doctor_as_client(&["--az-id", "use1-az1"])
        .expect(Expect::default());
}

/// Before: the pre-flight command listed the client's AZ first, whatever
/// `--az-id` said.
#[test]
fn preflight_puts_the_cluster_az_first() {
    let w = world("no-endpoint");
    let run = w.doctor_as_client(&["--az-id", "use1-az2"]);
    run.expect(Expect {
        fail: &["EP001"],
        skip: NO_ENDPOINT_SKIPS,
        ..Expect::default()
    });
    let command = run.fix_commands("EP001");
    assert!(
        command.contains(&format!(
            "--subnet-ids {} {} ",
            w.subnets.az2, w.subnets.client
        )),
        "{command}"
    );
    assert!(
        run.summary("AZ001")
            .contains(&format!("endpoint: {} in use1-az2", w.subnets.az2)),
        "{}",
        run.summary("AZ001")
    );
}

// ---- Item 4: endpoints that are gone -----------------------------------------

/// Before: the deleted endpoint's interface IDs failed the whole
/// DescribeNetworkInterfaces call: SG002 and ACL002 were `unknown`.
#[test]
fn a_deleted_endpoint_beside_a_live_one_changes_nothing() {
    let w = world("endpoint-deleted-beside-live");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect::default());
    assert_eq!(
        run.json()["context"]["endpoint_id"],
        w.endpoint_id.as_deref().unwrap()
    );
    assert!(!run.summary("EP001").contains(w.deleted_endpoint_id()));
    // On the instance too (discovery by IMDS).
    w.doctor_with(&mut w.tidbpe_on_instance(), &[])
        .expect(Expect::default());
}

/// Before: EP001 passed with "vpce-… (deleted)" and SG001 judged the deleted
/// endpoint's groups.
#[test]
fn a_vpc_whose_only_endpoint_is_deleted_is_preflight() {
    let w = world("endpoint-only-deleted");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &["EP001"],
        skip: NO_ENDPOINT_SKIPS,
        ..Expect::default()
    });
    let summary = run.summary("EP001");
    assert!(
        summary.contains(&format!("({} was deleted)", w.deleted_endpoint_id())),
        "{summary}"
    );
    assert!(
        run.fix_commands("EP001").starts_with(&format!(
            "aws ec2 create-vpc-endpoint --vpc-id {} ",
            w.vpc_id
        )),
        "{}",
        run.fix_commands("EP001")
    );
}

// ---- Item 9: words -----------------------------------------------------------

/// Before: VPC002 said both attributes are off by default in the console,
/// SG001 cited a "seed FAQ", SVC001's AZ warning showed a "why" about
/// `InvalidServiceName`.
#[test]
fn the_words_of_vpc002_sg001_and_svc001() {
    let human = |w: &World, args: &[&str]| {
        let mut cmd = w.tidbpe();
        cmd.args([
            "doctor",
            "--timeout",
            "60",
            "--service-name",
            &w.service_name,
            "--vpc-id",
            &w.vpc_id,
            "--instance-id",
            &w.instance_id,
        ])
        .args(args)
        .env("COLUMNS", "200");
        Run::of(&mut cmd).stdout
    };
    let flat = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let out = flat(human(world("dns-hostnames-off"), &[]));
    assert!(
        out.contains("Resolution is on by default in every VPC"),
        "{out}"
    );
    assert!(out.contains("API, CLI, SDKs or IaC"), "{out}");
    assert!(!out.contains("off by default for VPCs created in"), "{out}");
    let out = flat(human(world("sg-3306-only"), &[]));
    assert!(out.contains("(setup guide: "), "{out}");
    assert!(!out.contains("seed"), "{out}");
    let out = flat(human(world("healthy"), &["--az-id", "use1-az6"]));
    let svc = out
        .split("SVC001 endpoint-service:")
        .nth(1)
        .unwrap_or_default();
    let why = svc.split("why:").nth(1).unwrap_or_default();
    let why = why.split("fix:").next().unwrap_or_default();
    assert!(why.contains("Availability Zone ID"), "{out}");
    assert!(!why.contains("InvalidServiceName"), "{why}");
}

// ---- Items 10 and 11: hosted zones judged as Route 53 answers -----------------

/// Before: a `tidbcloud.com` zone failed VPC004 with private DNS on (the
/// endpoint's zone, named exactly the host, is more specific), offering a
/// disassociation Route 53 refuses for a zone's last VPC.
#[test]
fn a_parent_zone_with_private_dns_on_is_a_warning() {
    let w = world("hosted-zone-shadow");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        warn: &["VPC004"],
        ..Expect::default()
    });
    assert!(
        run.summary("VPC004").contains("more specific"),
        "{}",
        run.summary("VPC004")
    );
    assert_eq!(run.fix_commands("VPC004"), "", "the zone's only VPC");
}

/// Private DNS off: the zone answers NXDOMAIN. The printed fix is a CNAME
/// to the endpoint's regional DNS name, and it works; before, the fix was a
/// disassociation that fails with `LastVPCAssociation`.
#[test]
fn a_parent_zone_without_the_record_fails_and_the_printed_record_fixes_it() {
    let w = world("hosted-zone-parent-private-dns-off#record");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &["VPC004", "EP003"],
        ..Expect::default()
    });
    assert!(
        run.summary("VPC004").contains("NXDOMAIN"),
        "{}",
        run.summary("VPC004")
    );
    let fix = run.fix_commands("VPC004");
    assert_eq!(fix.lines().count(), 1, "{fix}");
    assert!(
        fix.starts_with(&format!(
            "aws route53 change-resource-record-sets --hosted-zone-id {} --change-batch '",
            w.hosted_zone_id()
        )),
        "{fix}"
    );
    // The endpoint's regional name, as AWS (and the lab) lists it first.
    let endpoint = w.endpoint_id.as_deref().unwrap();
    let regional = format!("{endpoint}-");
    assert!(fix.contains(&format!("\"Value\":\"{regional}")), "{fix}");
    assert!(
        fix.contains(&format!(".{}.us-east-1.vpce.amazonaws.com\"", w.service_id)),
        "{fix}"
    );
    assert!(!fix.contains("disassociate"), "{fix}");
    apply(w, &fix);
    let after = w.doctor_as_client(&[]);
    after.expect(Expect {
        fail: &["EP003"],
        ..Expect::default()
    });
    assert!(
        after
            .summary("VPC004")
            .contains(&format!("with CNAME {regional}")),
        "{}",
        after.summary("VPC004")
    );
}

/// A zone named exactly the host fails, private DNS or not; its fix (the
/// zone's only VPC: delete it) and EP003's then work together.
#[test]
fn a_zone_named_the_host_fails() {
    let w = world("hosted-zone-exact");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &["VPC004", "EP003"],
        ..Expect::default()
    });
    assert!(
        run.summary("VPC004").contains("conflicting DNS domain"),
        "{}",
        run.summary("VPC004")
    );
    assert_eq!(
        run.fix_commands("VPC004"),
        format!("aws route53 delete-hosted-zone --id {}", w.hosted_zone_id())
    );
}

/// The new calls are in the least-privilege policy.
#[test]
fn the_iam_policy_allows_reading_zone_vpcs_and_records() {
    let mut cmd = crate::common::tidbpe_isolated();
    let run = Run::of(cmd.arg("iam-policy"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    for action in ["route53:GetHostedZone", "route53:ListResourceRecordSets"] {
        assert!(run.stdout.contains(action), "{action}\n{}", run.stdout);
    }
}

// ---- Item 12: return traffic and the client's real ports ----------------------

/// This machine's `ip_local_port_range`, as the doctor reads it on an instance.
fn local_port_range() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut ports = text.split_whitespace().map(|p| p.parse::<u16>().ok());
    Some((ports.next()??, ports.next()??))
}

/// The client subnet's ACL lets replies in on 32768-60999 only (Linux's
/// default). Before: ACL002 failed everywhere.
#[test]
fn a_linux_only_return_range_warns_off_the_instance_and_is_judged_on_it() {
    let w = world("nacl-client-linux-ephemeral");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        warn: &["ACL002"],
        ..Expect::default()
    });
    let summary = run.summary("ACL002");
    assert!(
        summary.contains("Windows clients (49152-65535) would not"),
        "{summary}"
    );
    assert!(
        run.fix_commands("ACL002")
            .contains("--ingress --rule-number 110 --protocol tcp --port-range From=1024,To=65535"),
        "{}",
        run.fix_commands("ACL002")
    );
    // On the instance, its own range is read and judged: this machine's.
    let on = w.doctor_with(&mut w.tidbpe_on_instance(), &[]);
    let range = local_port_range().expect("this machine's port range");
    assert_eq!(
        on.json()["facts"]["client"]["Ok"]["local_port_range"],
        serde_json::json!([range.0, range.1])
    );
    if 32768 <= range.0 && range.1 <= 60999 {
        on.expect(Expect::default());
        assert!(
            on.summary("ACL002").contains(&format!(
                "ports {}-{} (the client's) back in",
                range.0, range.1
            )),
            "{}",
            on.summary("ACL002")
        );
    } else {
        on.expect(Expect {
            fail: &["ACL002"],
            ..Expect::default()
        });
    }
}
