//! The catalog: every check in report order, finding one by ID or slug,
//! judging them all, the IAM policy the doctor needs, and the overall
//! verdict. The meta-tests that keep the catalog and the layout honest live
//! here too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::check::{Check, Finding, Need, Status};
use crate::facts::{Facts, Inputs};
use crate::{acl, aws, az, dns, ep, inp, ipv, net, sg, svc, tdb, vpc};

/// Every check, in report order.
pub static CATALOG: &[Check] = &[
    inp::TARGET_HOST,
    aws::AWS_IDENTITY,
    svc::ENDPOINT_SERVICE,
    svc::SERVICE_PRIVATE_DNS,
    vpc::VPC_DNS_SUPPORT,
    vpc::VPC_DNS_HOSTNAMES,
    vpc::VPC_DHCP_RESOLVER,
    vpc::HOSTED_ZONE_SHADOW,
    ep::ENDPOINT_EXISTS,
    ep::ENDPOINT_STATE,
    ep::ENDPOINT_PRIVATE_DNS,
    ep::PRIVATE_DNS_CONFLICT,
    az::ENDPOINT_AZ,
    az::CLIENT_AZ,
    sg::ENDPOINT_SG_INGRESS,
    sg::CLIENT_SG_EGRESS,
    acl::ENDPOINT_SUBNET_ACL,
    acl::CLIENT_SUBNET_ACL,
    dns::DNS_RESOLVES,
    dns::DNS_PRIVATE_ANSWER,
    dns::DNS_RESOLVER_PATH,
    dns::RESOLVER_RULES,
    ipv::IP_FAMILY,
    net::TCP_CONNECT,
    net::MYSQL_HANDSHAKE,
    tdb::CLUSTER_STATE,
    tdb::TIDB_AUTHORIZATION,
];

/// Find a check by ID (any case) or slug.
pub fn find(id_or_slug: &str) -> Option<&'static Check> {
    CATALOG
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(id_or_slug) || c.slug == id_or_slug)
}

/// Judge every check of the catalog.
pub fn judge_all(facts: &Facts) -> Vec<Finding> {
    CATALOG.iter().map(|c| c.run(facts)).collect()
}

/// Checks whose verdict depends on the host the client connects to (the
/// live probes resolve and connect to it too). Without `--host` the host is
/// the service's private DNS name (`read::host`), so selecting one of them
/// gathers the service; the others only word a fix with it.
pub const JUDGE_THE_HOST: &[&str] = &[
    "INP001", "VPC004", "DNS001", "DNS002", "DNS003", "NET001", "NET002", "TDB002",
];

/// The calls the checks `inputs` selects need (`--only`, `--skip`), with
/// the calls they take their input from ([`Need::requires`]): what gather
/// makes, and nothing else. (Choosing the VPC and completing the client
/// may add calls of their own: gather knows those.)
pub fn selected_needs(inputs: &Inputs) -> BTreeSet<Need> {
    let selected = || {
        CATALOG
            .iter()
            .filter(|c| !inputs.deselected.contains_key(c.id))
    };
    let mut needs: BTreeSet<Need> = selected().flat_map(|c| c.needs.iter().copied()).collect();
    // Without --host, the host is the service's private DNS name: a check
    // that judges the host reads the service too.
    if inputs.host.is_none() && selected().any(|c| JUDGE_THE_HOST.contains(&c.id)) {
        needs.insert(Need::Service);
    }
    // `requires` is one level deep today; loop so a deeper one stays right.
    loop {
        let more: Vec<Need> = needs
            .iter()
            .flat_map(|n| n.requires().iter().copied())
            .filter(|n| !needs.contains(n))
            .collect();
        if more.is_empty() {
            return needs;
        }
        needs.extend(more);
    }
}

/// Every IAM action the catalog needs, sorted and deduplicated.
pub fn iam_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = CATALOG
        .iter()
        .flat_map(|c| c.needs.iter())
        .map(|n| n.action())
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// The overall verdict of a set of findings, and the exit code it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No fail and no unknown.
    Healthy,
    /// At least one fail.
    Broken,
    /// No fail, but at least one unknown.
    Incomplete,
}

impl Verdict {
    /// A run in which every check was skipped (deselected, or not
    /// applicable here) looked at nothing: incomplete, never healthy.
    pub fn of(findings: &[Finding]) -> Self {
        if findings.iter().any(|f| f.status == Status::Fail) {
            Verdict::Broken
        } else if findings.iter().any(|f| f.status == Status::Unknown)
            || findings.iter().all(|f| f.status == Status::Skip)
        {
            Verdict::Incomplete
        } else {
            Verdict::Healthy
        }
    }
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Healthy => 0,
            Verdict::Broken => 1,
            Verdict::Incomplete => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;
    use crate::check::Need;
    use crate::testing::{deny, forget_need, healthy, FailCase};

    /// Every family's table of fail cases.
    fn all_fail_cases() -> Vec<&'static FailCase> {
        [
            inp::tests::FAIL_CASES,
            aws::tests::FAIL_CASES,
            svc::tests::FAIL_CASES,
            vpc::tests::FAIL_CASES,
            ep::tests::FAIL_CASES,
            az::tests::FAIL_CASES,
            sg::tests::FAIL_CASES,
            acl::tests::FAIL_CASES,
            dns::tests::FAIL_CASES,
            dns::dns004_tests::FAIL_CASES,
            ipv::tests::FAIL_CASES,
            net::tests::FAIL_CASES,
            tdb::tests::FAIL_CASES,
            tdb::tdb002_tests::FAIL_CASES,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn a_run_where_every_check_skipped_is_incomplete() {
        let finding = |status| Finding {
            id: String::new(),
            slug: String::new(),
            title: String::new(),
            status,
            summary: String::new(),
            evidence: Default::default(),
            fix: None,
            why: None,
            duration_ms: 0,
        };
        let (skip, pass, unknown) = (
            finding(Status::Skip),
            finding(Status::Pass),
            finding(Status::Unknown),
        );
        assert_eq!(
            Verdict::of(&[skip.clone(), skip.clone()]),
            Verdict::Incomplete
        );
        assert_eq!(Verdict::of(&[skip.clone(), pass.clone()]), Verdict::Healthy);
        assert_eq!(Verdict::of(&[pass, unknown, skip]), Verdict::Incomplete);
    }

    /// Checks whose worst verdict is a warning (it works, but badly): their
    /// "fail case" is a `warn` case.
    const WARN_AT_WORST: &[&str] = &["VPC003", "AZ002", "TDB002"];

    /// Checks whose worst verdict is `unknown`: AWS001 reports whether the
    /// AWS side could be inspected; broken credentials are not a broken
    /// PrivateLink.
    const UNKNOWN_AT_WORST: &[&str] = &["AWS001"];

    /// Checks that read no AWS fact, so no call can leave them unknown (the
    /// probe checks among them show `unknown` by a row of their FAIL_CASES;
    /// TDB001's unknown case, a state it does not know, is in its tests).
    const NO_AWS_FACTS: &[&str] = &["INP001", "DNS001", "NET001", "NET002", "TDB001"];

    /// Checks that read only the inputs (the flags, `--cluster-json`): no
    /// failed call can leave them unknown.
    const NEVER_UNKNOWN: &[&str] = &["INP001", "TDB001"];

    /// Facts a check reads only for its wording or for a case the healthy
    /// world does not reach: it may still pass without them.
    const NOT_DECISIVE: &[(&str, Need)] = &[
        ("SVC001", Need::Zones),         // AZ names shown instead of IDs
        ("EP001", Need::Subnets),        // only for the pre-flight command
        ("EP001", Need::SecurityGroups), // only for the pre-flight command
        ("EP001", Need::Service),        // only to skip when the service does not exist
        ("SG001", Need::PrefixLists),    // no rule names a prefix list
        ("SG002", Need::PrefixLists),
        ("SG001", Need::Vpc), // read when the client is unknown, or to warn it is outside the VPC
        ("ACL001", Need::Vpc), // only read when the client is unknown
        ("EP002", Need::Service), // words pendingAcceptance (AcceptanceRequired)
        ("DNS004", Need::Endpoints), // decides only a parent rule's case
        ("DNS004", Need::HostedZones), // decides only a parent rule with private DNS off
        ("DNS004", Need::Service), // the private DNS name; the host stands in for it
        ("EP003", Need::Instance), // only tells whether the client is outside the VPC
        ("EP003", Need::Vpc), // only tells whether the client is outside the VPC
        ("EP004", Need::Service), // the private DNS name (else the host) and the model's words
        ("TDB002", Need::Endpoints), // only the endpoint ID to add
        ("AZ001", Need::Vpc), // only for a free CIDR in a create-subnet command
        // Only read for a zone that covers the host (none in the healthy world).
        ("VPC004", Need::HostedZoneVpcs),
        ("VPC004", Need::HostedZoneRecords),
        ("VPC004", Need::Endpoints),
        // Only to name whose an address is and which check explains a
        // public answer.
        ("DNS002", Need::Vpc),
        ("DNS002", Need::Subnets),
        ("DNS002", Need::VpcAttributes),
        ("DNS002", Need::DhcpOptions),
        ("DNS002", Need::HostedZones),
        // Only read when /etc/hosts pins the host.
        ("DNS003", Need::Endpoints),
        ("DNS003", Need::NetworkInterfaces),
    ];

    fn implemented() -> impl Iterator<Item = &'static Check> {
        CATALOG.iter().filter(|c| c.judge.is_some())
    }

    #[test]
    fn the_healthy_world_passes_every_implemented_check() {
        for check in implemented() {
            let f = check.run(&healthy());
            assert_eq!(f.status, Status::Pass, "{}: {}", check.id, f.summary);
        }
    }

    /// A denied call makes the checks that need it `unknown` (naming the
    /// action), never `pass` and never `fail`.
    #[test]
    fn a_denied_need_is_unknown_never_pass_or_fail() {
        for check in implemented() {
            for &need in check.needs {
                let mut facts = healthy();
                deny(&mut facts, need);
                let f = check.run(&facts);
                assert_ne!(
                    f.status,
                    Status::Fail,
                    "{} with {need:?} denied: {}",
                    check.id,
                    f.summary
                );
                if NOT_DECISIVE.contains(&(check.id, need)) {
                    continue;
                }
                assert_eq!(
                    f.status,
                    Status::Unknown,
                    "{} with {need:?} denied: {}",
                    check.id,
                    f.summary
                );
                assert!(
                    f.summary.contains(need.action()),
                    "{}: {}",
                    check.id,
                    f.summary
                );
            }
        }
    }

    /// Every implemented check has a pass case (the healthy world), a fail
    /// case (a row of its family's table; `warn` for the checks that never
    /// fail) and an unknown case (a denied need).
    #[test]
    fn every_implemented_check_has_a_pass_a_fail_and_an_unknown_case() {
        let cases = all_fail_cases();
        for case in &cases {
            let finding = case.run();
            assert_eq!(
                finding.status, case.expect,
                "{} {}: {}",
                case.id, case.name, finding.summary
            );
        }
        for check in implemented() {
            assert_eq!(check.run(&healthy()).status, Status::Pass, "{}", check.id);
            let worst = if WARN_AT_WORST.contains(&check.id) {
                Status::Warn
            } else if UNKNOWN_AT_WORST.contains(&check.id) {
                Status::Unknown
            } else {
                Status::Fail
            };
            assert!(
                cases.iter().any(|c| c.id == check.id && c.expect == worst),
                "{} has no {worst:?} case in its family's FAIL_CASES",
                check.id
            );
            let unknown = check.needs.iter().any(|&need| {
                let mut facts = healthy();
                deny(&mut facts, need);
                check.run(&facts).status == Status::Unknown
            }) || cases
                .iter()
                .any(|c| c.id == check.id && c.expect == Status::Unknown);
            if NO_AWS_FACTS.contains(&check.id) {
                assert!(check.needs.is_empty(), "{} reads AWS facts", check.id);
            }
            if !NEVER_UNKNOWN.contains(&check.id) {
                assert!(unknown, "{} has no unknown case", check.id);
            }
        }
        for id in WARN_AT_WORST
            .iter()
            .chain(UNKNOWN_AT_WORST)
            .chain(NO_AWS_FACTS)
        {
            assert!(find(id).is_some_and(|c| c.judge.is_some()), "{id}");
        }
    }

    /// `PROBE_CHECKS` (what gather probes for) lists exactly the checks
    /// whose verdict depends on the probe facts.
    #[test]
    fn probe_checks_are_exactly_the_checks_that_read_the_probes() {
        use crate::probe_facts::PROBE_CHECKS;
        for check in CATALOG {
            let with = check.run(&healthy());
            let mut facts = healthy();
            facts.probes = None;
            let without = check.run(&facts);
            let reads = with.status != without.status || with.summary != without.summary;
            assert_eq!(
                reads,
                PROBE_CHECKS.contains(&check.id),
                "{} reads the probe facts: {reads}",
                check.id
            );
        }
        for id in PROBE_CHECKS {
            assert!(find(id).is_some(), "{id}");
        }
    }

    /// `--only ID` gathers only what the check's needs (and the calls they
    /// take input from) cover: the check must judge the same on those facts
    /// alone as on every fact, in the healthy world and in every fail case.
    /// A check reading a fact it does not declare fails here.
    #[test]
    fn a_check_judges_the_same_on_the_facts_its_selection_gathers() {
        let mut worlds: Vec<(&str, Facts)> = vec![("healthy", healthy())];
        worlds.extend(all_fail_cases().iter().map(|c| (c.name, c.facts())));
        let mut wrong = Vec::new();
        for check in implemented() {
            let mut inputs = healthy().inputs;
            for other in CATALOG.iter().filter(|c| c.id != check.id) {
                inputs
                    .deselected
                    .insert(other.id.to_string(), "deselected (--only)".into());
            }
            let gathered = selected_needs(&inputs);
            for (name, facts) in &worlds {
                let mut only = facts.clone();
                for &need in Need::ALL.iter().filter(|n| !gathered.contains(n)) {
                    forget_need(&mut only, need);
                }
                let (all, alone) = (check.run(facts), check.run(&only));
                if (all.status, &all.summary) != (alone.status, &alone.summary) {
                    wrong.push(format!(
                        "{} in {name}: {:?} {:?} on every fact, {:?} {:?} on {gathered:?}",
                        check.id, all.status, all.summary, alone.status, alone.summary
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Without --host, a check that judges the host reads the service's
    /// private DNS name: `--only INP001` gathers the service then, and
    /// nothing with --host.
    #[test]
    fn inp001_without_host_selects_the_service() {
        let mut inputs = healthy().inputs;
        for c in CATALOG.iter().filter(|c| c.id != "INP001") {
            inputs
                .deselected
                .insert(c.id.to_string(), "deselected (--only)".into());
        }
        assert!(selected_needs(&inputs).is_empty());
        inputs.host = None;
        assert_eq!(selected_needs(&inputs), BTreeSet::from([Need::Service]));
        inputs.deselected.insert("INP001".into(), "x".into());
        inputs.deselected.remove("VPC001");
        assert!(!selected_needs(&inputs).contains(&Need::Service));
    }

    #[test]
    fn the_selection_needs_what_its_checks_need_and_their_inputs() {
        let mut inputs = healthy().inputs;
        assert_eq!(
            selected_needs(&inputs),
            Need::ALL.iter().copied().collect::<BTreeSet<_>>()
        );
        for c in CATALOG.iter().filter(|c| c.id != "INP001") {
            inputs
                .deselected
                .insert(c.id.to_string(), "deselected (--only)".into());
        }
        assert!(selected_needs(&inputs).is_empty());
        inputs.deselected.insert("INP001".into(), "x".into());
        inputs.deselected.remove("SG002");
        let sg002 = selected_needs(&inputs);
        assert!(sg002.contains(&Need::Endpoints), "{sg002:?}");
        assert!(sg002.contains(&Need::SecurityGroups), "{sg002:?}");
    }

    /// A need no check declares would be in no policy and judged by nothing.
    #[test]
    fn every_need_is_declared_by_a_check() {
        let declared: BTreeSet<Need> = CATALOG.iter().flat_map(|c| c.needs).copied().collect();
        let all: BTreeSet<Need> = Need::ALL.iter().copied().collect();
        assert_eq!(declared, all);
        let policy: BTreeSet<&str> = iam_actions().into_iter().collect();
        let actions: BTreeSet<&str> = Need::ALL.iter().map(|n| n.action()).collect();
        assert_eq!(policy, actions);
    }

    /// `tidbpe explain ID` names exactly the calls the check needs: the page
    /// holds the prose only, the calls are generated.
    #[test]
    fn explain_pages_name_exactly_the_calls_of_needs() {
        for check in CATALOG {
            assert!(
                !check.explain.contains("**AWS calls.**"),
                "checks/explain/{}.md lists its AWS calls by hand: they come from `needs`",
                check.id
            );
            let page = check.explain_page();
            assert!(page.starts_with(check.explain.trim_end()), "{}", check.id);
            let line = page
                .lines()
                .find(|l| l.starts_with("**AWS calls.**"))
                .unwrap_or_default();
            let named: BTreeSet<&str> = line.split('`').skip(1).step_by(2).collect();
            let needed: BTreeSet<&str> = check.needs.iter().map(|n| n.action()).collect();
            assert_eq!(named, needed, "{}: {line}", check.id);
        }
        let sg001 = find("SG001").unwrap().explain_page();
        assert!(sg001.ends_with("**AWS calls.** `ec2:DescribeVpcEndpoints`, `ec2:DescribeSecurityGroups`, `ec2:GetManagedPrefixListEntries`, `ec2:DescribeInstances`, `ec2:DescribeVpcs`.\n"), "{sg001}");
        assert!(find("INP001")
            .unwrap()
            .explain_page()
            .ends_with("**AWS calls.** None.\n"));
    }

    fn src(file: &str) -> (PathBuf, String) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        (path, text)
    }

    /// The ID prefixes of the catalog, lowercase: one module each.
    fn prefixes() -> BTreeSet<String> {
        CATALOG
            .iter()
            .map(|c| {
                c.id.trim_end_matches(|ch: char| ch.is_ascii_digit())
                    .to_ascii_lowercase()
            })
            .collect()
    }

    /// The names of the unit tests in a source file.
    fn test_names(text: &str) -> impl Iterator<Item = &str> {
        text.split("#[test]").skip(1).filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix("fn ")?;
            rest.split('(').next()
        })
    }

    /// The IDs a test name starts with: `ep003_ep004_conflicts` → ep003, ep004.
    fn named_ids(test: &str) -> impl Iterator<Item = &str> {
        test.split('_').take_while(|part| {
            let digits = part.trim_start_matches(|c: char| c.is_ascii_lowercase());
            part.len() > digits.len()
                && digits.len() == 3
                && digits.bytes().all(|b| b.is_ascii_digit())
        })
    }

    #[test]
    fn test_names_name_their_ids() {
        let text = "#[test]\n    fn ep003_ep004_private_dns() {}\n#[test]\nfn helper_sg001() {}";
        let names: Vec<&str> = test_names(text).collect();
        assert_eq!(names, ["ep003_ep004_private_dns", "helper_sg001"]);
        assert_eq!(named_ids(names[0]).collect::<Vec<_>>(), ["ep003", "ep004"]);
        assert_eq!(named_ids(names[1]).count(), 0);
    }

    /// A newcomer's rule: ID `SG001` → code in `checks/src/sg.rs`, page in
    /// `checks/explain/SG001.md`, unit tests named `sg001_…` in that file.
    #[test]
    fn every_id_lives_in_the_module_of_its_prefix() {
        let prefixes = prefixes();
        let others: Vec<(String, String)> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .map(|p| {
                    let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap_or_default())
                })
                .collect();
        for check in CATALOG {
            let prefix = check
                .id
                .trim_end_matches(|ch: char| ch.is_ascii_digit())
                .to_ascii_lowercase();
            assert!(prefixes.contains(&prefix));
            let (path, text) = src(&format!("src/{prefix}.rs"));
            let defines = format!("id: \"{}\"", check.id);
            assert!(
                text.contains(&defines),
                "{} is not defined in {}",
                check.id,
                path.display()
            );
            for (name, other) in &others {
                if *name != prefix && name != "testing" {
                    assert!(
                        !other.contains(&defines),
                        "{} is defined in src/{name}.rs",
                        check.id
                    );
                }
            }
            let id = check.id.to_ascii_lowercase();
            assert!(
                test_names(&text).any(|name| named_ids(name).any(|n| n == id)),
                "{} has no unit test named {id}_… in {}",
                check.id,
                path.display()
            );
            let (page, _) = src(&format!("explain/{}.md", check.id));
            assert!(page.is_file(), "{} is missing", page.display());
        }
    }

    /// No check module imports another: what two families share lives in
    /// `read.rs`, `rules.rs` or `commands.rs`.
    #[test]
    fn no_check_module_uses_another() {
        let prefixes = prefixes();
        for prefix in &prefixes {
            let (path, text) = src(&format!("src/{prefix}.rs"));
            for other in prefixes.iter().filter(|o| *o != prefix) {
                for path_form in [format!("crate::{other}"), format!("super::{other}")] {
                    let used = text.match_indices(&path_form).any(|(i, _)| {
                        !text[i + path_form.len()..]
                            .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                    assert!(!used, "{} uses {path_form}", path.display());
                }
                // `use crate::{…, other, …}`
                for group in text.split("use crate::{").skip(1) {
                    let inside = group.split('}').next().unwrap_or_default();
                    let named = inside
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|w| w == other);
                    assert!(!named, "{} imports {other}", path.display());
                }
            }
        }
    }
}
