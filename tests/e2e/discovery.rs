//! Discovery, end to end: the VPC and the client from the instance metadata
//! (each world's IMDS answers as that world's instance), from
//! `--instance-id`, or from the service's only endpoint.

use crate::common::{assert_valid_report, world, Expect, Run, World};

/// The report names the world's VPC, found by `source`, and its client in use1-az1.
fn assert_discovered(w: &World, run: &Run, source: &str) -> serde_json::Value {
    let report = run.json();
    let context = &report["context"];
    assert_eq!(context["vpc"]["vpc_id"], w.vpc_id, "{}", run.describe());
    assert_eq!(context["vpc"]["source"], source);
    assert_eq!(context["client"]["instance_id"], w.instance_id);
    assert_eq!(context["client"]["az_id"], "use1-az1");
    report
}

#[test]
fn discovers_the_client_and_vpc_from_imds() {
    let w = world("healthy");
    let run = w.doctor_with(&mut w.tidbpe_on_instance(), &[]);
    run.expect(Expect::default());
    let report = assert_discovered(w, &run, "imds");
    assert_eq!(
        report["context"]["client"]["private_ip"],
        w.client_ip.to_string()
    );
    assert_eq!(report["context"]["client"]["source"], "imds");
    assert_valid_report(&run.stdout);
}

#[test]
fn each_world_has_its_own_instance_metadata() {
    // Two worlds of one lab: each IMDS answers as its own instance, so each
    // run judges its own VPC (and finds its own fault).
    let broken = world("dns-hostnames-off");
    let healthy = world("healthy");
    assert_ne!(broken.imds_url, healthy.imds_url);
    assert_ne!(broken.instance_id, healthy.instance_id);
    let run = broken.doctor_with(&mut broken.tidbpe_on_instance(), &[]);
    assert_discovered(broken, &run, "imds");
    run.expect(Expect {
        fail: &["VPC002"],
        ..Expect::default()
    });
    // The same IMDS with the other world's service: still the broken VPC.
    let run = healthy.doctor_with(&mut broken.tidbpe_on_instance(), &[]);
    assert_eq!(run.json()["context"]["vpc"]["vpc_id"], broken.vpc_id);
}

#[test]
fn discovers_the_client_and_vpc_from_instance_id() {
    let w = world("healthy");
    let run = w.doctor(&["--instance-id", &w.instance_id]);
    run.expect(Expect::default());
    let report = assert_discovered(w, &run, "instance");
    assert_eq!(report["context"]["client"]["subnet_id"], w.subnets.client);
}

#[test]
fn discovers_the_vpc_from_the_only_endpoint_of_the_service() {
    let w = world("healthy");
    let run = w.doctor(&[]);
    let report = run.json();
    assert_eq!(
        report["context"]["vpc"]["vpc_id"],
        w.vpc_id,
        "{}",
        run.describe()
    );
    assert_eq!(report["context"]["vpc"]["source"], "unique-endpoint");
    assert!(report["context"]["client"].is_null());
    run.expect(Expect {
        warn: &["SG001"],
        skip: &["SG002", "ACL002", "AZ002", "IPV001"],
        ..Expect::default()
    });
}

#[test]
fn two_endpoints_in_one_vpc_still_name_the_vpc_and_fail_ep004() {
    let w = world("dns-conflict");
    let run = w.doctor(&[]);
    let report = run.json();
    assert_eq!(
        report["context"]["vpc"]["source"],
        "unique-endpoint",
        "{}",
        run.describe()
    );
    assert_eq!(report["context"]["vpc"]["vpc_id"], w.vpc_id);
    run.expect(Expect {
        fail: &["EP004"],
        warn: &["SG001"],
        skip: &["SG002", "ACL002", "AZ002", "IPV001"],
        ..Expect::default()
    });
}

#[test]
fn two_endpoints_in_the_region_require_vpc_id() {
    let w = world("two-endpoints-in-region");
    let run = w.doctor(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("--vpc-id is required"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&w.vpc_id) && run.stderr.contains(w.second_vpc_id()));
}
