//! Issue 8: every printed fix command must do what it says. For each broken
//! world of the lab, the fix commands the report prints for its failures
//! are run, in report order, with the real AWS CLI of the lab's venv
//! (`.venv/bin/aws`, pinned in tests/lab/requirements.txt) against the same
//! moto; then the doctor runs again and must find the failures gone and
//! nothing new (no failure, no unknown, no warning that was not there).
//!
//! Each world is a copy (`WORLD#apply`), so the other tests' worlds stay as
//! they were. Every world of the lab is classified below: a world added to
//! the lab without a place here fails [`every_world_of_the_lab_is_classified`].
//!
//! Placeholders: the doctor fills in what it can (a free CIDR for a new
//! subnet). `SUBNET_ID` stands for a subnet the fix itself creates: the
//! `create-subnet` command prints its ID (`--query Subnet.SubnetId --output
//! text`), and this test substitutes it in the commands that follow, as a
//! user would paste it. Any other placeholder left in a command fails.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{python, repo, world, Run, World};

/// Broken worlds whose fix is AWS commands: they are applied here.
const FIXABLE: &[&str] = &[
    "dns-support-off",
    "dns-hostnames-off",
    "no-endpoint",
    "state-rejected",
    "state-failed",
    "state-deleted",
    "state-expired",
    "private-dns-off",
    "dns-conflict",
    "endpoint-wrong-az",
    "hosted-zone-parent-private-dns-off",
    "hosted-zone-exact",
    "sg-3306-only",
    "sg-cidr-excludes-client",
    "sg-other-group",
    "sg-udp-only",
    "client-egress-443",
    "nacl-endpoint-deny-4000",
    "nacl-client-no-ephemeral",
    "endpoint-only-deleted",
    "resolver-rule-host",
    "large-sg-3306",
];

/// Broken worlds whose fix is not an AWS command, and why.
const NOT_AN_AWS_FIX: &[(&str, &str)] = &[
    (
        "state-pendingAcceptance",
        "the service owner accepts the endpoint (TiDB Cloud does, or its support)",
    ),
    (
        "state-pending",
        "AWS is still creating the endpoint: the fix is to wait",
    ),
    (
        "state-deleting",
        "AWS is deleting the endpoint: wait until it is gone, then EP001's command",
    ),
    (
        "private-dns-unverified",
        "only the service owner (TiDB Cloud) can verify its private DNS name",
    ),
    (
        "exclusive-pending",
        "the endpoint ID is registered in the TiDB Cloud console, which then accepts it",
    ),
];

/// Worlds where nothing fails: nothing to fix (warnings are not fixed here).
const NOT_BROKEN: &[&str] = &[
    "healthy",
    "client-other-az",
    "dhcp-custom",
    "hosted-zone-shadow",
    "hosted-zone-unrelated",
    "sg-all-from-anywhere",
    "sg-range-from-client-subnet",
    "sg-prefix-list",
    "nacl-allow-before-deny",
    "two-endpoints-in-region",
    "endpoint-deleted-beside-live",
    "nacl-client-linux-ephemeral",
    "service-own-host",
    "resolver-rule-parent",
    // The world's own instance is in the IPv4 client subnet; the IPv6-only one is judged in
    // tests/doctor_beyond.rs.
    "client-ipv6-only",
    "large",
];

/// A failure that rightly becomes a warning once fixed: (world, ID, why).
const FAIL_THEN_WARN: &[(&str, &str, &str)] = &[(
    "hosted-zone-parent-private-dns-off",
    "VPC004",
    "the tidbcloud.com zone stays (only private DNS and a record were fixed): it still answers other names under it",
)];

/// The placeholders fix commands may hold when the doctor cannot know the value.
const PLACEHOLDERS: &[&str] = &[
    "SUBNET_ID",
    "FREE_CIDR",
    "RULE_NUMBER",
    "ENDPOINT_SG_ID",
    "VPC_CIDR",
    "ENDPOINT_IP",
    "ENDPOINT_DNS_NAME",
];

fn ids(run: &Run, status: &str) -> BTreeSet<String> {
    run.with_status(status).into_iter().collect()
}

/// Runs one printed command with the lab's AWS CLI; its standard output.
fn run_printed(w: &World, command: &str) -> String {
    let words = shlex::split(command).unwrap_or_else(|| panic!("not shell words: {command}"));
    assert_eq!(words.first().map(String::as_str), Some("aws"), "{command}");
    let out = w.aws(&words[1..]);
    assert!(
        out.code == 0,
        "world {}: the printed command\n  {command}\nfailed: {}",
        w.name,
        out.stderr
    );
    out.stdout.trim().to_string()
}

/// Applies the fixes of every failing finding of `run`, in report order;
/// the commands as run.
fn apply_fixes(w: &World, run: &Run) -> Vec<String> {
    let mut subnet_id: Option<String> = None;
    let mut applied = Vec::new();
    for id in run.with_status("fail") {
        for printed in run.fix_commands(&id).lines() {
            let mut command = printed.to_string();
            if let Some(subnet) = &subnet_id {
                command = command.replace("SUBNET_ID", subnet);
            }
            for p in PLACEHOLDERS {
                assert!(
                    !command.contains(p),
                    "world {}: {id}'s command holds the placeholder {p}: {command}",
                    w.name
                );
            }
            let out = run_printed(w, &command);
            if command.contains("create-subnet") {
                assert!(out.starts_with("subnet-"), "{command} printed {out:?}");
                subnet_id = Some(out);
            }
            applied.push(command);
        }
    }
    applied
}

/// The world's failures, fixed by the printed commands: after them nothing
/// fails, nothing is unknown, and no warning is new.
fn fixes_apply(scenario: &str) {
    let w = world(&format!("{scenario}#apply"));
    let before = w.doctor_as_client(&[]);
    let failed = ids(&before, "fail");
    assert!(
        !failed.is_empty(),
        "{scenario} is not broken\n{}",
        before.describe()
    );
    let applied = apply_fixes(w, &before);
    assert!(!applied.is_empty(), "{scenario}: no command to apply");
    let after = w.doctor_as_client(&[]);
    let context = || {
        format!(
            "world {scenario}\nbefore:\n{}applied:\n  {}\nafter:\n{}",
            before.describe(),
            applied.join("\n  "),
            after.describe()
        )
    };
    assert!(
        ids(&after, "fail").is_empty(),
        "failures left\n{}",
        context()
    );
    assert!(ids(&after, "unknown").is_empty(), "unknowns\n{}", context());
    let allowed: BTreeSet<String> = ids(&before, "warn")
        .into_iter()
        .chain(
            FAIL_THEN_WARN
                .iter()
                .filter(|(s, _, _)| *s == scenario)
                .map(|(_, id, _)| id.to_string()),
        )
        .collect();
    let new: Vec<String> = ids(&after, "warn").difference(&allowed).cloned().collect();
    assert!(new.is_empty(), "new warnings {new:?}\n{}", context());
    assert_eq!(after.code, 0, "{}", context());
}

macro_rules! fix_applies {
    ($($name:ident: $scenario:literal,)*) => {
        $(
            #[test]
            fn $name() {
                fixes_apply($scenario);
            }
        )*

        /// The tests above, by world.
        const TESTED: &[&str] = &[$($scenario),*];
    };
}

fix_applies! {
    fix_dns_support_off: "dns-support-off",
    fix_dns_hostnames_off: "dns-hostnames-off",
    fix_no_endpoint: "no-endpoint",
    fix_state_rejected: "state-rejected",
    fix_state_failed: "state-failed",
    fix_state_deleted: "state-deleted",
    fix_state_expired: "state-expired",
    fix_private_dns_off: "private-dns-off",
    fix_dns_conflict: "dns-conflict",
    fix_endpoint_wrong_az: "endpoint-wrong-az",
    fix_hosted_zone_parent_private_dns_off: "hosted-zone-parent-private-dns-off",
    fix_hosted_zone_exact: "hosted-zone-exact",
    fix_sg_3306_only: "sg-3306-only",
    fix_sg_cidr_excludes_client: "sg-cidr-excludes-client",
    fix_sg_other_group: "sg-other-group",
    fix_sg_udp_only: "sg-udp-only",
    fix_client_egress_443: "client-egress-443",
    fix_nacl_endpoint_deny_4000: "nacl-endpoint-deny-4000",
    fix_nacl_client_no_ephemeral: "nacl-client-no-ephemeral",
    fix_endpoint_only_deleted: "endpoint-only-deleted",
    fix_resolver_rule_host: "resolver-rule-host",
    fix_large_sg_3306: "large-sg-3306",
}

/// Every world of the lab is fixed above, skipped with a reason, or not
/// broken, and each list says the truth about its worlds.
#[test]
fn every_world_of_the_lab_is_classified() {
    let out = Command::new(python())
        .arg(repo().join("tests/lab/lab.py"))
        .arg("--list")
        .output()
        .expect("lab.py --list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let fixable: BTreeSet<String> = FIXABLE.iter().map(|s| s.to_string()).collect();
    let tested: BTreeSet<String> = TESTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(fixable, tested, "FIXABLE and the tests differ");
    let mut classified: BTreeSet<String> = fixable;
    classified.extend(NOT_AN_AWS_FIX.iter().map(|(s, _)| s.to_string()));
    classified.extend(NOT_BROKEN.iter().map(|s| s.to_string()));
    assert_eq!(
        classified.len(),
        FIXABLE.len() + NOT_AN_AWS_FIX.len() + NOT_BROKEN.len(),
        "a world is in two lists"
    );
    assert_eq!(listed, classified, "classify every world of lab.py --list");
}

/// The worlds said not to be broken are not; the ones skipped are broken.
#[test]
fn unfixed_worlds_are_what_their_list_says() {
    for scenario in NOT_BROKEN {
        let run = world(scenario).doctor_as_client(&[]);
        assert!(
            run.with_status("fail").is_empty(),
            "{scenario} is broken: add it to FIXABLE\n{}",
            run.describe()
        );
    }
    for (scenario, why) in NOT_AN_AWS_FIX {
        assert!(!why.is_empty());
        let run = world(scenario).doctor_as_client(&[]);
        assert!(
            !run.with_status("fail").is_empty(),
            "{scenario} is not broken\n{}",
            run.describe()
        );
    }
}
