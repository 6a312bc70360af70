//! tidbpe's check catalog: pure judgement of gathered [`Facts`].
//!
//! Every check is a [`Check`]: a permanent ID, a slug, a title, the facts it
//! needs (hence the IAM actions the doctor needs), an `explain` page, and a
//! `judge` function from [`Facts`] to an [`Outcome`]. Nothing here does I/O
//! or knows an SDK type, so a report's facts can be judged again offline and
//! a check can be tested with a small fixture.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod facts;
pub mod rules;
pub mod text;
pub mod validate;

mod aws;
mod dns_config;
mod endpoint;
mod input;
pub mod names;
mod network;
mod placement;
mod support;

pub use facts::{Fact, FactError, FactErrorKind, Facts};

/// A check's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// Could not be checked (a missing permission, an API or network error).
    Unknown,
    /// Not applicable here, with the reason.
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::Skip => "skip",
        }
    }
}

/// How to repair what a finding reports: a sentence, then commands to paste.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fix {
    pub text: String,
    #[serde(default)]
    pub commands: Vec<String>,
}

/// What a check concluded, before the catalog adds its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub evidence: BTreeMap<String, Value>,
    pub fix: Option<Fix>,
}

impl Outcome {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Outcome {
            status,
            summary: summary.into(),
            evidence: BTreeMap::new(),
            fix: None,
        }
    }
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(Status::Pass, summary)
    }
    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(Status::Fail, summary)
    }
    pub fn warn(summary: impl Into<String>) -> Self {
        Self::new(Status::Warn, summary)
    }
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::new(Status::Skip, reason)
    }
    /// A fact could not be gathered: name the call and how to fix *that*.
    pub fn unknown(err: &FactError) -> Self {
        let summary = match err.kind {
            FactErrorKind::AccessDenied => format!(
                "could not check: {} was denied ({})",
                err.action,
                err.code.as_deref().unwrap_or("access denied")
            ),
            FactErrorKind::Timeout => {
                format!(
                    "could not check: {} did not answer before the deadline",
                    err.action
                )
            }
            _ => format!("could not check: {} failed: {}", err.action, err.message),
        };
        let fix = match err.kind {
            FactErrorKind::AccessDenied => Fix {
                text: format!(
                    "Allow {} to the identity running tidbpe (`tidbpe iam-policy` prints the whole read-only policy), then run the doctor again.",
                    err.action
                ),
                commands: vec!["tidbpe iam-policy".to_string()],
            },
            FactErrorKind::Credentials => Fix {
                text: "Configure AWS credentials (environment, --profile, SSO or an instance role), then run again.".to_string(),
                commands: vec!["aws sts get-caller-identity".to_string()],
            },
            FactErrorKind::Timeout => Fix {
                text: "Run again with a longer --timeout, or check the network path to the AWS API.".to_string(),
                commands: vec![],
            },
            FactErrorKind::Network => Fix {
                text: "Check that this machine reaches the AWS API (proxy settings, a VPC endpoint for EC2/STS, AWS_ENDPOINT_URL), then run the doctor again.".to_string(),
                commands: vec![],
            },
            FactErrorKind::Api => Fix {
                text: "AWS answered with the error above; correct what it names (an ID that does not exist, a wrong region), then run the doctor again.".to_string(),
                commands: vec![],
            },
        };
        Self::new(Status::Unknown, summary)
            .with("error", serde_json::to_value(err).unwrap_or(Value::Null))
            .with_fix(fix)
    }
    /// Add one piece of evidence.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.evidence.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }
}

/// Judging stops early with an outcome (`unknown`, `skip`) when a fact is missing.
pub type Judged = Result<Outcome, Outcome>;

/// A group of facts a check reads, hence the calls the doctor makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    Identity,
    Service,
    Zones,
    Instance,
    Vpc,
    VpcAttributes,
    DhcpOptions,
    HostedZones,
    Endpoints,
    Subnets,
    NetworkInterfaces,
    SecurityGroups,
    PrefixLists,
    NetworkAcls,
}

impl Need {
    /// The IAM actions that gather this fact (read-only).
    pub fn iam_actions(self) -> &'static [&'static str] {
        match self {
            Need::Identity => &["sts:GetCallerIdentity"],
            Need::Service => &["ec2:DescribeVpcEndpointServices"],
            Need::Zones => &["ec2:DescribeAvailabilityZones"],
            Need::Instance => &["ec2:DescribeInstances"],
            Need::Vpc => &["ec2:DescribeVpcs"],
            Need::VpcAttributes => &["ec2:DescribeVpcAttribute"],
            Need::DhcpOptions => &["ec2:DescribeDhcpOptions"],
            Need::HostedZones => &["route53:ListHostedZonesByVPC"],
            Need::Endpoints => &["ec2:DescribeVpcEndpoints"],
            Need::Subnets => &["ec2:DescribeSubnets"],
            Need::NetworkInterfaces => &["ec2:DescribeNetworkInterfaces"],
            Need::SecurityGroups => &["ec2:DescribeSecurityGroups"],
            Need::PrefixLists => &["ec2:GetManagedPrefixListEntries"],
            Need::NetworkAcls => &["ec2:DescribeNetworkAcls"],
        }
    }
}

/// One entry of the catalog.
pub struct Check {
    /// Permanent: support tickets cite it. Never renumber or reuse.
    pub id: &'static str,
    pub slug: &'static str,
    pub title: &'static str,
    pub needs: &'static [Need],
    /// The `tidbpe explain` page.
    pub explain: &'static str,
    /// `None`: not implemented yet (reported as `skip`, never `pass`).
    pub judge: Option<fn(&Facts) -> Judged>,
}

/// A check's result as the report carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub status: Status,
    pub summary: String,
    #[serde(default)]
    pub evidence: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// Time spent gathering the facts this check reads (the slowest call).
    #[serde(default)]
    pub duration_ms: u64,
}

macro_rules! explain {
    ($id:literal) => {
        include_str!(concat!("../explain/", $id, ".md"))
    };
}
pub(crate) use explain;

/// Every check, in report order.
pub static CATALOG: &[Check] = &[
    input::TARGET_HOST,
    aws::AWS_IDENTITY,
    endpoint::ENDPOINT_SERVICE,
    dns_config::VPC_DNS_SUPPORT,
    dns_config::VPC_DNS_HOSTNAMES,
    dns_config::VPC_DHCP_RESOLVER,
    dns_config::HOSTED_ZONE_SHADOW,
    endpoint::ENDPOINT_EXISTS,
    endpoint::ENDPOINT_STATE,
    endpoint::ENDPOINT_PRIVATE_DNS,
    endpoint::PRIVATE_DNS_CONFLICT,
    placement::ENDPOINT_AZ,
    placement::CLIENT_AZ,
    network::ENDPOINT_SG_INGRESS,
    network::CLIENT_SG_EGRESS,
    network::ENDPOINT_SUBNET_ACL,
    network::CLIENT_SUBNET_ACL,
    network::DNS_RESOLVES,
    network::DNS_PRIVATE_ANSWER,
    network::TCP_CONNECT,
    network::MYSQL_HANDSHAKE,
];

/// Find a check by ID (any case) or slug.
pub fn find(id_or_slug: &str) -> Option<&'static Check> {
    CATALOG
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(id_or_slug) || c.slug == id_or_slug)
}

impl Check {
    /// Judge the facts; deselected and unimplemented checks are `skip`.
    pub fn run(&self, facts: &Facts) -> Finding {
        let outcome = if let Some(reason) = facts.inputs.deselected.get(self.id) {
            Outcome::skip(reason.clone())
        } else {
            match self.judge {
                Some(judge) => judge(facts).unwrap_or_else(|early| early),
                None => Outcome::skip("not implemented yet in this version of tidbpe"),
            }
        };
        let duration_ms = self
            .needs
            .iter()
            .flat_map(|n| n.iam_actions())
            .filter_map(|a| facts.timings_ms.get(*a))
            .max()
            .copied()
            .unwrap_or(0);
        Finding {
            id: self.id.to_string(),
            slug: self.slug.to_string(),
            title: self.title.to_string(),
            status: outcome.status,
            summary: outcome.summary,
            evidence: outcome.evidence,
            fix: outcome.fix,
            duration_ms,
        }
    }
}

/// Judge every check of the catalog.
pub fn judge_all(facts: &Facts) -> Vec<Finding> {
    CATALOG.iter().map(|c| c.run(facts)).collect()
}

/// The endpoint the checks judge: `--endpoint-id`, else the best of the
/// service's endpoints in the VPC.
pub fn main_endpoint_id(facts: &Facts) -> Option<String> {
    support::main_endpoint(facts)
        .ok()
        .map(|e| e.endpoint_id.clone())
}

/// Is an endpoint in a state it will never carry traffic from again?
pub fn is_gone(state: &str) -> bool {
    support::is_gone(state)
}

/// Every IAM action the catalog needs, sorted and deduplicated.
pub fn iam_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = CATALOG
        .iter()
        .flat_map(|c| c.needs.iter())
        .flat_map(|n| n.iam_actions().iter().copied())
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
    pub fn of(findings: &[Finding]) -> Self {
        if findings.iter().any(|f| f.status == Status::Fail) {
            Verdict::Broken
        } else if findings.iter().any(|f| f.status == Status::Unknown) {
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
    use super::*;
    use crate::support::fixtures::healthy;

    fn denied(action: &str) -> FactError {
        FactError::new(FactErrorKind::AccessDenied, action, "denied")
    }

    /// Deny the call behind one need in `facts`.
    fn deny(facts: &mut Facts, need: Need) {
        let e = denied(need.iam_actions()[0]);
        match need {
            Need::Identity => facts.identity = Some(Err(e)),
            Need::Service => facts.service = Some(Err(e)),
            Need::Zones => facts.zones = Some(Err(e)),
            Need::Instance => facts.client = Some(Err(e)),
            Need::Vpc => facts.vpc = Some(Err(e)),
            Need::VpcAttributes => {
                facts.dns_support = Some(Err(e.clone()));
                facts.dns_hostnames = Some(Err(e));
            }
            Need::DhcpOptions => facts.dhcp_options = Some(Err(e)),
            Need::HostedZones => facts.hosted_zones = Some(Err(e)),
            Need::Endpoints => facts.endpoints = Some(Err(e)),
            Need::Subnets => facts.subnets = Some(Err(e)),
            Need::NetworkInterfaces => facts.endpoint_interfaces = Some(Err(e)),
            Need::SecurityGroups => facts.security_groups = Some(Err(e)),
            Need::PrefixLists => facts.prefix_lists = Some(Err(e)),
            Need::NetworkAcls => facts.network_acls = Some(Err(e)),
        }
    }

    /// Facts a check reads only for its wording or for a case the healthy
    /// world does not reach: it may still pass without them.
    const NOT_DECISIVE: &[(&str, Need)] = &[
        ("SVC001", Need::Zones),         // AZ names shown instead of IDs
        ("EP001", Need::Subnets),        // only for the pre-flight command
        ("EP001", Need::SecurityGroups), // only for the pre-flight command
        ("SG001", Need::PrefixLists),    // no rule names a prefix list
        ("SG002", Need::PrefixLists),
        ("SG001", Need::Vpc),  // only read when the client is unknown
        ("ACL001", Need::Vpc), // only read when the client is unknown
    ];

    #[test]
    fn the_healthy_world_passes_every_implemented_check() {
        for check in CATALOG.iter().filter(|c| c.judge.is_some()) {
            let f = check.run(&healthy());
            assert_eq!(f.status, Status::Pass, "{}: {}", check.id, f.summary);
        }
    }

    /// A denied call makes the checks that need it `unknown` (naming the
    /// action), never `pass` and never `fail`.
    #[test]
    fn a_denied_need_is_unknown_never_pass_or_fail() {
        for check in CATALOG.iter().filter(|c| c.judge.is_some()) {
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
                    f.summary.contains(need.iam_actions()[0]),
                    "{}: {}",
                    check.id,
                    f.summary
                );
            }
        }
    }
}
