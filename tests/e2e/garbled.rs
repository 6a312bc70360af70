//! A garbled live answer costs only its own checks: a fact AWS (or a proxy
//! in front of it, or the instance metadata) answered in a form the doctor
//! does not build on is `unknown`, naming the call and "wrong form"; the
//! rest of the report is judged, the exit code is the verdict's (3 here),
//! no fix command carries the value. A replayed report holding the same
//! value is still refused whole (exit 2): a report is one stranger's
//! document, the user's input to `analyze`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    assert_valid_report, statuses, tidbpe_isolated, world, Expect, FaultProxy, Run, World,
};

/// What the garbled answers try to smuggle into a command.
const SHELL: &str = "sg-12;touch /tmp/x";

/// EC2's DescribeSecurityGroups answer for `w`'s groups, with one more
/// group whose ID is shell code.
fn groups_with_shell_code(w: &World) -> String {
    let vpc = &w.vpc_id;
    let group = |id: &str, name: &str, ingress: &str, egress: &str| {
        format!(
            "<item><ownerId>123456789012</ownerId><groupId>{id}</groupId><groupName>{name}</groupName>\
             <groupDescription>{name}</groupDescription><vpcId>{vpc}</vpcId>\
             <ipPermissions>{ingress}</ipPermissions><ipPermissionsEgress>{egress}</ipPermissionsEgress></item>"
        )
    };
    let all_out = "<item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>";
    let from_client = format!(
        "<item><ipProtocol>tcp</ipProtocol><fromPort>4000</fromPort><toPort>4000</toPort>\
         <groups><item><userId>123456789012</userId><groupId>{}</groupId></item></groups></item>",
        w.groups.client
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>6a3f9b6e-0d3c-4a6b-9c1e-lab000000200</requestId><securityGroupInfo>{}{}{}</securityGroupInfo>\
         </DescribeSecurityGroupsResponse>",
        group(&w.groups.endpoint, "endpoint-sg", &from_client, all_out),
        group(&w.groups.client, "client-sg", "", all_out),
        group(SHELL, "garbled", "", all_out),
    )
}

/// Every fix command of a report.
fn commands(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["fix"]["commands"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

/// `tidbpe analyze` of `report`, written to a private file for the run.
fn analyze(name: &str, report: &Value) -> Run {
    let path =
        std::env::temp_dir().join(format!("tidbpe-garbled-{name}-{}.json", std::process::id()));
    std::fs::write(&path, report.to_string()).expect("write the report");
    let mut cmd = tidbpe_isolated();
    cmd.stdin(Stdio::null())
        .args(["analyze", "--format", "json"])
        .arg(&path);
    let run = Run::of(&mut cmd);
    let _ = std::fs::remove_file(&path);
    run
}

#[test]
fn a_garbled_group_listing_makes_only_the_group_checks_unknown() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    proxy.fail("DescribeSecurityGroups", 200, &groups_with_shell_code(w));
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    let run = w.doctor_with(
        &mut cmd,
        &["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id],
    );
    // Everything else as in the healthy world; exit 3 (incomplete).
    run.expect(Expect {
        unknown: &["SG001", "SG002"],
        ..Expect::default()
    });
    for id in ["SG001", "SG002"] {
        let summary = run.summary(id);
        assert!(
            summary.contains("ec2:DescribeSecurityGroups") && summary.contains("wrong form"),
            "{id}: {summary}"
        );
        let error = &run.finding(id)["evidence"]["error"];
        assert_eq!(error["kind"], "api", "{error}");
        assert_eq!(error["action"], "ec2:DescribeSecurityGroups", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains("facts.security_groups.Ok[2].group_id: not a security group ID"),
            "{error}"
        );
    }
    // The value is nowhere: not in a command, not in the report.
    let report = run.json();
    for c in commands(&report) {
        assert!(!c.contains("touch") && !c.contains(';'), "{c}");
    }
    assert!(!run.stdout.contains("touch"), "{}", run.stdout);
    assert_valid_report(&run.stdout);

    // On a terminal's worth of text too: one "could not check" block that
    // says what to do about a garbled answer.
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url()).args([
        "doctor",
        "--service-name",
        &w.service_name,
        "--vpc-id",
        &w.vpc_id,
        "--instance-id",
        &w.instance_id,
        "--timeout",
        "60",
        "--format",
        "human",
    ]);
    let human = Run::of(&mut cmd);
    assert_eq!(human.code, 3, "{}", human.stdout);
    assert!(
        human.stdout.contains("not of its form") && !human.stdout.contains("touch"),
        "{}",
        human.stdout
    );

    // The report replays as it was judged.
    let replayed = analyze("as-gathered", &report);
    assert_eq!(replayed.code, 3, "{}", replayed.describe());
    assert_eq!(statuses(&replayed.json()), statuses(&report));
}

#[test]
fn a_replayed_report_with_the_same_value_is_refused() {
    let w = world("healthy");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect::default());
    let mut report = run.json();
    let groups = &mut report["facts"]["security_groups"]["Ok"];
    assert!(groups.as_array().is_some_and(|g| !g.is_empty()), "{groups}");
    groups[0]["group_id"] = json!(SHELL);
    let replayed = analyze("tampered", &report);
    assert_eq!(replayed.code, 2, "{}", replayed.describe());
    assert!(replayed.stdout.is_empty(), "{}", replayed.stdout);
    assert_eq!(
        replayed.stderr.trim_end().lines().count(),
        1,
        "{}",
        replayed.stderr
    );
    assert!(
        replayed
            .stderr
            .contains("facts.security_groups.Ok[0].group_id: not a security group ID"),
        "{}",
        replayed.stderr
    );
    assert!(!replayed.stderr.contains("touch"), "{}", replayed.stderr);
}

/// A captive portal's page as the subnet, shell code among the groups:
/// the doctor still runs as the instance, its client read without those
/// two leaves (the subnet is found again by the instance's address).
#[test]
fn a_garbled_instance_metadata_leaf_is_dropped_not_the_run() {
    let w = world("healthy");
    let captive = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>Wi-Fi login</body></html>";
    let values = crate::hostile::imds_leaves(
        w,
        &w.vpc_id,
        captive,
        &format!("{}\nsg-`id`", w.groups.client),
    );
    let imds = crate::hostile::fake_imds(values, Duration::from_secs(90));
    let mut cmd = w.tidbpe();
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds);
    let run = w.doctor_with(&mut cmd, &[]);
    // The groups are not known: SG001 cannot tell a group rule (warn, not
    // fail), SG002 has none to read (skip). Everything else as healthy.
    run.expect(Expect {
        warn: &["SG001"],
        skip: &["SG002"],
        ..Expect::default()
    });
    let report = run.json();
    let client = &report["facts"]["client"]["Ok"];
    assert_eq!(client["source"], "imds", "{client}");
    assert_eq!(client["instance_id"], w.instance_id.as_str(), "{client}");
    assert_eq!(client["vpc_id"], w.vpc_id.as_str(), "{client}");
    assert_eq!(client["subnet_id"], w.subnets.client.as_str(), "{client}");
    assert_eq!(client["security_group_ids"], json!([]), "{client}");
    assert_eq!(report["facts"]["vpc_choice"]["source"], "imds");
    for c in commands(&report) {
        assert!(!c.contains('`') && !c.contains("html"), "{c}");
    }
    assert_valid_report(&run.stdout);
}

/// `--instance-id` answered with a VPC ID of the wrong form: the VPC under
/// test is not found (its checks `unknown`, naming DescribeInstances, as
/// when that call fails), nothing of that ID is judged, and what needs no
/// VPC still is.
#[test]
fn an_instance_answered_in_a_vpc_of_the_wrong_form_finds_no_vpc() {
    let w = world("healthy");
    let proxy = FaultProxy::for_lab();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>6a3f9b6e-0d3c-4a6b-9c1e-lab000000200</requestId><reservationSet><item>\
         <reservationId>r-0123456789abcdef0</reservationId><ownerId>123456789012</ownerId>\
         <instancesSet><item><instanceId>{id}</instanceId>\
         <placement><availabilityZone>us-east-1b</availabilityZone></placement>\
         <subnetId>{subnet}</subnetId><vpcId>{vpc};touch /tmp/x</vpcId>\
         <privateIpAddress>{ip}</privateIpAddress>\
         <groupSet><item><groupId>{sg}</groupId><groupName>client-sg</groupName></item></groupSet>\
         </item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
        id = w.instance_id,
        subnet = w.subnets.client,
        vpc = w.vpc_id,
        ip = w.client_ip,
        sg = w.groups.client,
    );
    proxy.fail("DescribeInstances", 200, &body);
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    let run = w.doctor_with(&mut cmd, &["--instance-id", &w.instance_id]);
    assert_eq!(run.code, 3, "{}", run.describe());
    let report = run.json();
    let error = &report["facts"]["vpc_choice_error"];
    assert_eq!(error["action"], "ec2:DescribeInstances", "{error}");
    assert_eq!(error["kind"], "api", "{error}");
    assert!(report["facts"]["vpc_choice"].is_null(), "{report}");
    let vpc001 = run.summary("VPC001");
    assert!(
        vpc001.starts_with("could not find the VPC to inspect: ec2:DescribeInstances failed: answered a value of the wrong form")
            && vpc001.ends_with("pass --vpc-id to name it"),
        "{vpc001}"
    );
    for id in ["INP001", "AWS001", "SVC001", "SVC002"] {
        assert_eq!(run.status(id), "pass", "{id}\n{}", run.describe());
    }
    assert!(!run.stdout.contains("touch"), "{}", run.stdout);
    for c in commands(&report) {
        assert!(!c.contains(';'), "{c}");
    }
    // What was asked of that ID (gathering runs before the forms are
    // checked) is not kept: nothing of it is judged.
    for fact in [
        "vpc",
        "subnets",
        "security_groups",
        "endpoints",
        "network_acls",
    ] {
        assert!(
            report["facts"][fact].is_null(),
            "{fact}: {}",
            report["facts"][fact]
        );
    }
    assert_valid_report(&run.stdout);
}
