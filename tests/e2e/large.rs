//! The large world (tests/lab/lab.py `Lab.enlarge`): the healthy world in a
//! VPC of real size — 200 security groups whose rules name each other and
//! prefix lists, 100 subnets over every AZ, 20 network ACLs of 40 entries,
//! 50 endpoints of other services, 5 private hosted zones. The diagnosis is
//! judged like the small worlds', every listing follows its pages (asked
//! for in small pages, `TIDBPE_PAGE_SIZE`, so that pages are really
//! crossed), and each kind of resource is one call per page, never one per
//! group or subnet.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{world, Expect, FaultProxy, Run, World};

/// The page size the tests ask for: EC2's listings take 5 at the least
/// (gather keeps within each call's range), Route 53 and prefix list entries 4.
const PAGE: &str = "4";
const EC2_PAGE: usize = 5;
const SMALL_PAGE: usize = 4;

/// What lab.py counted in the world, by moto's own filters.
fn large(w: &World, key: &str) -> usize {
    w.raw["large"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("world {} has no large.{key}: {}", w.name, w.raw))
        .try_into()
        .expect("a count")
}

/// `doctor --vpc-id --instance-id` in small pages, through a proxy that
/// counts every call.
fn doctor_in_pages(w: &World, extra: &[&str]) -> (Run, FaultProxy) {
    let proxy = FaultProxy::for_lab();
    let mut cmd = w.tidbpe();
    cmd.env("AWS_ENDPOINT_URL", proxy.url())
        .env("TIDBPE_PAGE_SIZE", PAGE);
    let mut args = vec!["--vpc-id", &w.vpc_id, "--instance-id", &w.instance_id];
    args.extend_from_slice(extra);
    let run = w.doctor_with(&mut cmd, &args);
    (run, proxy)
}

/// The items of a gathered fact (`{"Ok": [...]}`) in the report.
fn fact_len(run: &Run, fact: &str) -> usize {
    let report = run.json();
    match &report["facts"][fact]["Ok"] {
        Value::Array(items) => items.len(),
        other => panic!(
            "facts.{fact} is not a gathered list: {other}\n{}",
            run.describe()
        ),
    }
}

fn pages(items: usize, page: usize) -> usize {
    items.div_ceil(page).max(1)
}

#[test]
fn the_large_healthy_world_passes_and_every_listing_follows_its_pages() {
    let w = world("large");
    let (run, proxy) = doctor_in_pages(w, &[]);
    run.expect(Expect::default());

    // Every page was followed: the report holds every resource.
    for (fact, key) in [
        ("security_groups", "security_groups"),
        ("subnets", "subnets"),
        ("network_acls", "network_acls"),
        ("endpoints", "endpoints"),
        ("hosted_zones", "hosted_zones"),
    ] {
        assert_eq!(fact_len(&run, fact), large(w, key), "facts.{fact}");
    }
    assert_eq!(
        fact_len(&run, "endpoint_interfaces"),
        2,
        "the TiDB endpoint's two"
    );
    let report = run.json();
    let lists = report["facts"]["prefix_lists"]["Ok"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(lists.len(), 3, "every prefix list the groups name");
    for list in &lists {
        assert_eq!(
            list["cidrs"].as_array().map(Vec::len),
            Some(large(w, "prefix_list_entries")),
            "{list}"
        );
    }

    // One call per page per kind of resource: never per group or subnet.
    let calls: BTreeMap<String, usize> =
        proxy.calls().into_iter().fold(BTreeMap::new(), |mut m, c| {
            *m.entry(c).or_default() += 1;
            m
        });
    let expected = [
        (
            "ec2:DescribeSecurityGroups",
            pages(large(w, "security_groups"), EC2_PAGE),
        ),
        ("ec2:DescribeSubnets", pages(large(w, "subnets"), EC2_PAGE)),
        (
            "ec2:DescribeNetworkAcls",
            pages(large(w, "network_acls"), EC2_PAGE),
        ),
        (
            "ec2:DescribeVpcEndpoints",
            pages(large(w, "endpoints"), SMALL_PAGE),
        ),
        (
            "ec2:DescribeNetworkInterfaces",
            pages(large(w, "endpoint_interfaces"), EC2_PAGE),
        ),
        (
            "route53:ListHostedZonesByVPC",
            pages(large(w, "hosted_zones"), SMALL_PAGE),
        ),
        (
            "ec2:GetManagedPrefixListEntries",
            3 * pages(large(w, "prefix_list_entries"), SMALL_PAGE),
        ),
        ("ec2:DescribeVpcAttribute", 2),
        ("ec2:DescribeVpcs", 1),
        ("ec2:DescribeInstances", 1),
    ];
    for (action, want) in expected {
        assert_eq!(
            calls.get(action).copied().unwrap_or(0),
            want,
            "{action} calls (pages of {PAGE}); all calls: {calls:?}"
        );
    }
    // The account's DHCP option sets (one per world of the lab): pages, at
    // least one.
    assert!(
        calls.get("ec2:DescribeDhcpOptions").copied().unwrap_or(0) >= 1,
        "{calls:?}"
    );
    // Any other call is made once or twice, whatever the size of the VPC.
    for (action, n) in &calls {
        let listed =
            expected.iter().any(|(a, _)| a == action) || action == "ec2:DescribeDhcpOptions";
        assert!(listed || *n <= 2, "{action} called {n} times: {calls:?}");
    }
}

#[test]
fn one_broken_rule_among_200_groups_is_found() {
    // The one rule that admitted the client on 4000 now says 3306; the
    // endpoint's group still admits 4000 from a prefix list, another group
    // and a CIDR, none of which holds the client.
    let w = world("large-sg-3306");
    let (run, _proxy) = doctor_in_pages(w, &[]);
    run.expect(Expect {
        fail: &["SG001"],
        ..Expect::default()
    });
    let summary = run.summary("SG001");
    assert!(summary.contains(&w.groups.endpoint), "{summary}");
}

#[test]
fn the_large_world_on_its_instance_passes() {
    // Discovery by IMDS, default page size: the same verdicts.
    let w = world("large");
    let mut cmd = w.tidbpe_on_instance();
    w.doctor_with(&mut cmd, &[]).expect(Expect::default());
}
