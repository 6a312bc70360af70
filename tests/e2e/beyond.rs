//! What AWS and TiDB Cloud know beyond the setup guide (issue 13), end to
//! end: the real `tidbpe` against one shared lab (its own worlds:
//! `service-own-host`, `private-dns-unverified`, `exclusive-pending`,
//! `resolver-rule-host`, `resolver-rule-parent`, `client-ipv6-only`, and the
//! healthy one), read through its JSON report.
//!
//! - SVC002: the host is the service's verified private DNS name (the default
//!   host when `--host` is not given);
//! - EP002: a pending endpoint of a service that requires acceptance names
//!   the registration step in TiDB Cloud;
//! - DNS004: a Resolver FORWARD rule for the host takes it elsewhere, one for
//!   a parent does not while private DNS is on;
//! - IPV001: an IPv6-only client cannot reach an IPv4-only service;
//! - EP003: a client outside the VPC is told the three ways that work.

use crate::common::{assert_valid_report, world, Expect, FaultProxy, Run, World};
use serde_json::Value;

const GUIDE_HOST: &str = "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com";
const OWN_HOST: &str = "tidb-0a1b2c3d-privatelink.us-east-1.prod.aws.tidbcloud.com";

fn raw<'a>(w: &'a World, key: &str) -> &'a Value {
    let v = &w.raw[key];
    assert!(!v.is_null(), "world {} has no {key}", w.name);
    v
}

fn evidence(run: &Run, id: &str, key: &str) -> Value {
    run.finding(id)["evidence"][key].clone()
}

// ------------------------------------------------------------ lab-free

#[test]
fn aa_the_catalog_policy_and_pages_carry_the_new_checks() {
    let run = Run::of(crate::common::tidbpe_isolated().arg("iam-policy"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    for action in [
        "route53resolver:ListResolverRuleAssociations",
        "route53resolver:GetResolverRule",
    ] {
        assert!(run.stdout.contains(action), "{action}:\n{}", run.stdout);
    }
    let run = Run::of(crate::common::tidbpe_isolated().arg("checks"));
    for id in ["SVC002", "DNS004", "IPV001"] {
        assert!(run.stdout.contains(id), "{id}:\n{}", run.stdout);
    }
    let run = Run::of(crate::common::tidbpe_isolated().args(["explain", "DNS004"]));
    assert!(
        run.stdout.contains(
            "`route53resolver:ListResolverRuleAssociations`, `route53resolver:GetResolverRule`"
        ),
        "{}",
        run.stdout
    );
}

// --------------------------------------------------------------- SVC002

#[test]
fn healthy_world_passes_every_new_check() {
    let w = world("healthy");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect::default());
    for id in ["SVC002", "DNS004", "IPV001"] {
        assert_eq!(run.status(id), "pass", "{id}: {}", run.summary(id));
    }
    assert_eq!(evidence(&run, "SVC002", "verification_state"), "verified");
    assert_eq!(
        evidence(&run, "IPV001", "families_in_common"),
        serde_json::json!(["IPv4"])
    );
    // No host is assumed: the report keeps what the user gave (nothing).
    assert!(run.json()["inputs"].get("host").is_none());
    assert_eq!(evidence(&run, "INP001", "host"), GUIDE_HOST);
    assert_valid_report(&run.stdout);

    // On the instance itself (IMDS), the same.
    let on_instance = w.doctor_with(&mut w.tidbpe_on_instance(), &[]);
    on_instance.expect(Expect::default());
}

#[test]
fn the_host_defaults_to_the_services_private_dns_name() {
    let w = world("service-own-host");
    assert_eq!(w.host, OWN_HOST);
    let run = w.doctor_as_client(&[]);
    run.expect(Expect::default());
    assert_eq!(evidence(&run, "INP001", "host"), OWN_HOST);
    assert!(
        run.summary("SVC002")
            .starts_with(&format!("{OWN_HOST} is the private DNS name")),
        "{}",
        run.summary("SVC002")
    );
}

#[test]
fn a_host_that_is_not_the_services_private_dns_name_fails_svc002() {
    // The guide's host against a cluster that has its own service and host.
    let w = world("service-own-host");
    let run = w.doctor_as_client(&["--host", GUIDE_HOST]);
    run.expect(Expect {
        fail: &["SVC002"],
        ..Expect::default()
    });
    let summary = run.summary("SVC002");
    assert!(
        summary.contains(GUIDE_HOST) && summary.contains(OWN_HOST),
        "names both: {summary}"
    );
    assert!(
        run.fix_text("SVC002")
            .contains(&format!("Connect to {OWN_HOST}")),
        "{}",
        run.fix_text("SVC002")
    );
}

#[test]
fn an_unverified_private_dns_name_fails_svc002() {
    let w = world("private-dns-unverified");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &["SVC002"],
        ..Expect::default()
    });
    assert!(
        run.summary("SVC002").contains("pendingVerification"),
        "{}",
        run.summary("SVC002")
    );
    assert!(run.fix_text("SVC002").contains("TiDB Cloud support"));
}

// ---------------------------------------------------------------- EP002

#[test]
fn a_pending_endpoint_of_an_acceptance_required_service_names_the_registration_step() {
    let w = world("exclusive-pending");
    let endpoint = w.endpoint_id.as_deref().expect("an endpoint");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &["EP002"],
        ..Expect::default()
    });
    let fix = run.fix_text("EP002");
    assert!(
        fix.starts_with(&format!(
            "Register {endpoint} in TiDB Cloud (the cluster's Networking → Private endpoint connections), then enable private DNS"
        )),
        "{fix}"
    );
    assert!(
        run.fix_commands("EP002").contains(&format!(
            "modify-vpc-endpoint --vpc-endpoint-id {endpoint} --private-dns-enabled"
        )),
        "{}",
        run.fix_commands("EP002")
    );
    // The shared service accepts by itself: no registration step there.
    let shared = world("state-pendingAcceptance");
    let run = shared.doctor_as_client(&[]);
    assert_eq!(run.status("EP002"), "fail");
    assert!(
        !run.fix_text("EP002").contains("Register"),
        "{}",
        run.fix_text("EP002")
    );
}

// ---------------------------------------------------------------- DNS004

#[test]
fn a_forward_rule_for_the_host_fails_dns004_and_its_fix_works() {
    let w = world("resolver-rule-host#fix");
    let rule = raw(w, "resolver_rule_ids")[0]
        .as_str()
        .expect("a rule ID")
        .to_string();
    let run = w.doctor_as_client(&[]);
    run.expect(Expect {
        fail: &["DNS004"],
        ..Expect::default()
    });
    let summary = run.summary("DNS004");
    assert!(
        summary.contains(&rule) && summary.contains("192.168.100.2:53"),
        "names the rule and its targets: {summary}"
    );
    // The printed command, run with the AWS CLI, takes the rule off the VPC.
    let command = run.fix_commands("DNS004");
    assert_eq!(
        command.trim(),
        format!(
            "aws route53resolver disassociate-resolver-rule --resolver-rule-id {rule} --vpc-id {} --region us-east-1",
            w.vpc_id
        )
    );
    let words = shlex::split(command.trim()).expect("one command line");
    let out = w.aws(&words[1..]);
    assert!(out.code == 0, "{}", out.stderr);
    let after = w.doctor_as_client(&[]);
    after.expect(Expect::default());
    assert!(
        after
            .summary("DNS004")
            .starts_with("no Resolver rule is associated"),
        "{}",
        after.summary("DNS004")
    );
}

#[test]
fn a_forward_rule_for_a_parent_passes_dns004_with_private_dns_on() {
    let w = world("resolver-rule-parent");
    let run = w.doctor_as_client(&[]);
    run.expect(Expect::default());
    let summary = run.summary("DNS004");
    assert!(
        summary.contains("tidbcloud.com") && summary.contains("more specific"),
        "{summary}"
    );
}

#[test]
fn denied_resolver_calls_make_dns004_unknown_naming_the_call() {
    let w = world("resolver-rule-host");
    for action in [
        "route53resolver:ListResolverRuleAssociations",
        "route53resolver:GetResolverRule",
    ] {
        let proxy = FaultProxy::for_lab();
        proxy.deny(action);
        let mut cmd = w.tidbpe();
        cmd.env("AWS_ENDPOINT_URL", proxy.url());
        let run = w.doctor_with(
            &mut cmd,
            &["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id],
        );
        run.expect(Expect {
            unknown: &["DNS004"],
            ..Expect::default()
        });
        assert!(
            run.summary("DNS004").contains(action),
            "{action}: {}",
            run.summary("DNS004")
        );
    }
}

// ---------------------------------------------------------------- IPV001

#[test]
fn an_ipv6_only_client_against_an_ipv4_only_service_fails_ipv001() {
    let w = world("client-ipv6-only");
    let instance = raw(w, "ipv6_instance_id").as_str().expect("an instance");
    let subnet = raw(w, "ipv6_subnet_id").as_str().expect("a subnet");
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--instance-id", instance]);
    run.expect(Expect {
        fail: &["IPV001"],
        // The VPC facts hold its IPv4 CIDRs only, so SG001 takes the IPv6
        // client for one outside the VPC (a known limit, not this issue's).
        warn: &["SG001"],
        ..Expect::default()
    });
    let summary = run.summary("IPV001");
    assert!(
        summary.contains(subnet) && summary.contains("IPv6-only"),
        "{summary}"
    );
    assert_eq!(
        evidence(&run, "IPV001", "service_ip_address_types"),
        serde_json::json!(["ipv4"])
    );
    // The world's IPv4 instance, in the same VPC, reaches the service.
    let ok = w.doctor_as_client(&[]);
    ok.expect(Expect::default());
}

// ---------------------------------------------------------------- EP003

#[test]
fn a_client_outside_the_vpc_is_told_the_three_ways() {
    let w = world("healthy");
    let run = w.doctor(&["--vpc-id", &w.vpc_id, "--client-ip", "192.168.7.9"]);
    assert_eq!(run.status("EP003"), "warn", "{}", run.describe());
    assert!(
        run.summary("EP003").contains(&format!(
            "192.168.7.9 is outside {} (10.0.0.0/16)",
            w.vpc_id
        )),
        "{}",
        run.summary("EP003")
    );
    let fix = run.fix_text("EP003");
    for way in [
        "Route 53 Resolver inbound endpoint",
        "private hosted zone",
        "Route 53 Profile",
    ] {
        assert!(fix.contains(way), "{way}: {fix}");
    }
    // Inside the VPC, the plain pass.
    let inside = w.doctor(&["--vpc-id", &w.vpc_id, "--client-ip", "10.0.10.4"]);
    assert_eq!(inside.status("EP003"), "pass", "{}", inside.describe());
}
