//! The lab itself, seen through the AWS CLI as a user would see AWS: the
//! worlds are what tests/lab/README.md says, and the moto patches make it
//! behave like AWS where the doctor's verdicts or fix commands depend on it.
//! (The doctor's verdicts on the deleted-endpoint worlds belong to the tests
//! of issue 8 item 4; here they only have to build.) The AWS CLI runs in the
//! binary's one CLI process (`World::aws`).

use std::net::Ipv4Addr;

use serde_json::Value;

use crate::common::{world, Expect, World};

/// `aws ARGS… --output json` against the lab: the parsed answer, or stderr.
fn aws(w: &World, args: &[&str]) -> Result<Value, String> {
    let mut words: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    words.extend(["--output".to_string(), "json".to_string()]);
    let out = w.aws(&words);
    if out.code != 0 {
        return Err(out.stderr);
    }
    let text = out.stdout;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

/// The endpoint interfaces in the world's VPC, in creation order.
fn endpoint_interfaces(w: &World) -> Vec<Value> {
    let vpc = format!("Name=vpc-id,Values={}", w.vpc_id);
    aws(
        w,
        &[
            "ec2",
            "describe-network-interfaces",
            "--filters",
            &vpc,
            "Name=interface-type,Values=vpc_endpoint",
        ],
    )
    .expect("interfaces")["NetworkInterfaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn group_ids(eni: &Value) -> Vec<String> {
    eni["Groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["GroupId"].as_str().map(str::to_string))
        .collect()
}

// lab.py checks, as it builds them, that moto lists a deleted endpoint in
// state `deleted` with the IDs of interfaces that no longer exist, and that
// asking for those fails the whole DescribeNetworkInterfaces call
// (`InvalidNetworkInterfaceID.NotFound`): these worlds build only if so.

#[test]
fn a_deleted_endpoint_beside_a_live_one_builds() {
    let w = world("endpoint-deleted-beside-live");
    let live = w.endpoint_id.as_deref().expect("a live endpoint");
    assert_ne!(live, w.deleted_endpoint_id());
    assert_eq!(w.endpoint_ids, [live, w.deleted_endpoint_id()]);
    assert_eq!(w.deleted_endpoint_interface_ids().len(), 2);
    assert_eq!(w.endpoint_ips.len(), 2, "the live endpoint's interfaces");
}

#[test]
fn a_vpc_whose_only_endpoint_is_deleted_builds() {
    let w = world("endpoint-only-deleted");
    assert_eq!(w.endpoint_id, None);
    assert_eq!(w.endpoint_ids, [w.deleted_endpoint_id()]);
    assert_eq!(w.deleted_endpoint_interface_ids().len(), 2);
    assert!(w.endpoint_ips.is_empty());
}

#[test]
fn endpoint_interfaces_look_like_aws() {
    let w = world("healthy");
    let endpoint = w.endpoint_id.as_deref().expect("endpoint");
    let enis = endpoint_interfaces(w);
    assert_eq!(enis.len(), 2, "{enis:?}");
    for (eni, subnet) in enis.iter().zip([&w.subnets.az1, &w.subnets.az2]) {
        assert_eq!(
            eni["Description"],
            format!("VPC Endpoint Interface {endpoint}")
        );
        assert_eq!(eni["RequesterManaged"], true);
        assert_eq!(eni["SubnetId"], *subnet);
        assert_eq!(
            group_ids(eni),
            std::slice::from_ref(&w.groups.endpoint),
            "the endpoint's groups"
        );
    }
    // Addresses from the endpoint's subnets, off AWS's reserved ones, the
    // same in every lab (the first endpoint in a fresh subnet).
    assert_eq!(
        w.endpoint_ips,
        [Ipv4Addr::new(10, 0, 1, 227), Ipv4Addr::new(10, 0, 2, 30)]
    );
}

/// Runs `command` (one printed by the doctor: `aws …`) with the lab's CLI.
fn run_printed(w: &World, command: &str) {
    let words = shlex::split(command).unwrap_or_else(|| panic!("not shell words: {command}"));
    assert_eq!(words.first().map(String::as_str), Some("aws"), "{command}");
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    if let Err(e) = aws(w, &args) {
        panic!("{command}\nfailed: {e}");
    }
}

#[test]
fn the_printed_private_dns_fix_works_against_the_lab() {
    // moto ignores PrivateDnsEnabled in ModifyVpcEndpoint; the lab does not.
    let w = world("private-dns-off#fix");
    let before = w.doctor_as_client(&[]);
    before.expect(Expect {
        fail: &["EP003"],
        ..Expect::default()
    });
    let fix = before.fix_commands("EP003");
    assert!(fix.contains("modify-vpc-endpoint"), "{fix}");
    for command in fix.lines() {
        run_printed(w, command);
    }
    w.doctor_as_client(&[]).expect(Expect::default());
}

#[test]
fn endpoint_interfaces_follow_modify_vpc_endpoint() {
    let w = world("healthy#modify");
    let endpoint = w.endpoint_id.as_deref().expect("endpoint");
    aws(
        w,
        &[
            "ec2",
            "modify-vpc-endpoint",
            "--vpc-endpoint-id",
            endpoint,
            "--remove-subnet-ids",
            &w.subnets.az2,
            "--add-subnet-ids",
            &w.subnets.az6,
            "--add-security-group-ids",
            &w.groups.other,
        ],
    )
    .expect("modify-vpc-endpoint");
    let enis = endpoint_interfaces(w);
    let subnets: Vec<&Value> = enis.iter().map(|n| &n["SubnetId"]).collect();
    assert_eq!(subnets, [&w.subnets.az1, &w.subnets.az6], "{enis:?}");
    for eni in &enis {
        assert_eq!(
            group_ids(eni),
            [w.groups.endpoint.clone(), w.groups.other.clone()]
        );
        assert_eq!(
            eni["Description"],
            format!("VPC Endpoint Interface {endpoint}")
        );
    }
    // The new interface's address is in its subnet (10.0.3.0/24).
    let az6_ip = enis[1]["PrivateIpAddress"].as_str().unwrap_or_default();
    assert!(az6_ip.starts_with("10.0.3."), "{az6_ip}");
}
