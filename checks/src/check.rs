//! The vocabulary of a check: its verdict ([`Status`]), what it concluded
//! ([`Outcome`], [`Fix`]), the facts it reads ([`Need`], one per AWS call),
//! the catalog entry ([`Check`]) and the report's [`Finding`].
//!
//! A [`Need`] owns its call's name: gather bounds and times each call by its
//! `Need`, the IAM policy and the "AWS calls" part of `tidbpe explain` come
//! from it. No check logic lives here.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::facts::{FactError, FactErrorKind, Facts};

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
    /// The worst of several parts' statuses: fail, then unknown, then
    /// warn; pass when there are none.
    pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
        let rank = |s: &Status| match s {
            Status::Fail => 0,
            Status::Unknown => 1,
            Status::Warn => 2,
            _ => 3,
        };
        statuses
            .into_iter()
            .min_by_key(rank)
            .unwrap_or(Status::Pass)
    }

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
    /// Why this finding matters, when the explain page's "Why it matters"
    /// paragraph is about another of the check's verdicts (a constant: it
    /// keeps `Outcome` small).
    pub why: Option<&'static str>,
}

impl Outcome {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Outcome {
            status,
            summary: summary.into(),
            evidence: BTreeMap::new(),
            fix: None,
            why: None,
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
    ///
    /// Missing or broken credentials are said once, by AWS001: every other
    /// check cites it in a few words, without the credential chain.
    pub fn unknown(err: &FactError) -> Self {
        let action = &err.action;
        let code = |default: &'static str| err.code.clone().unwrap_or(default.to_string());
        let summary = match err.kind {
            FactErrorKind::AccessDenied => format!(
                "could not check: {action} was denied ({})",
                code("access denied")
            ),
            FactErrorKind::Timeout => {
                format!("could not check: {action} did not answer before the deadline")
            }
            FactErrorKind::Credentials => {
                format!("could not check: no working AWS credentials for {action} (see AWS001)")
            }
            FactErrorKind::Throttled => format!(
                "could not check: AWS throttled {action} ({})",
                code("throttled")
            ),
            FactErrorKind::ServerError => {
                format!(
                    "could not check: {action} failed on AWS's side ({})",
                    err.message
                )
            }
            FactErrorKind::Network | FactErrorKind::Api => {
                format!("could not check: {action} failed: {}", err.message)
            }
        };
        let fix = match err.kind {
            FactErrorKind::AccessDenied => Fix {
                text: format!(
                    "Allow {action} to the identity running tidbpe (`tidbpe iam-policy` prints the whole read-only policy), then run the doctor again."
                ),
                commands: vec!["tidbpe iam-policy".to_string()],
            },
            FactErrorKind::Credentials => Fix {
                text: "Make the AWS credentials work first (see AWS001), then run the doctor again.".to_string(),
                commands: vec![],
            },
            FactErrorKind::Timeout => Fix {
                text: "Run again with a longer --timeout, or check the network path to the AWS API.".to_string(),
                commands: vec![],
            },
            FactErrorKind::Network => Fix {
                text: "Check that this machine reaches the AWS API (proxy settings, a VPC endpoint for EC2/STS, AWS_ENDPOINT_URL), then run the doctor again.".to_string(),
                commands: vec![],
            },
            FactErrorKind::Throttled | FactErrorKind::ServerError => Fix {
                text: "AWS is throttling or failing these calls (they were retried until the deadline): run the doctor again in a minute.".to_string(),
                commands: vec![],
            },
            // Not AWS's error: a value the doctor would not build on
            // (`validate::gathered`).
            FactErrorKind::Api if err.message.starts_with(crate::validate::WRONG_FORM) => Fix {
                text: "The call answered a value that is not of its form, as AWS never gives it (garbled by a proxy, a spoofed instance metadata service, another server behind AWS_ENDPOINT_URL); nothing was built from it. Check what answers for AWS and the instance metadata on this machine, then run the doctor again.".to_string(),
                commands: vec![],
            },
            FactErrorKind::Api => Fix {
                text: "AWS answered with the error above; correct what it names (an ID that does not exist, a wrong region), then run the doctor again.".to_string(),
                commands: vec![],
            },
        };
        // The credential chain runs to hundreds of characters: AWS001
        // carries it, the others only say which call it stopped.
        let evidence =
            if err.kind == FactErrorKind::Credentials && err.need() != Some(Need::Identity) {
                FactError {
                    message: "no working AWS credentials (see AWS001)".to_string(),
                    ..err.clone()
                }
            } else {
                err.clone()
            };
        Self::new(Status::Unknown, summary)
            .with(
                "error",
                serde_json::to_value(evidence).unwrap_or(Value::Null),
            )
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
    /// Add a list as evidence, only when it has items (reports stay as they
    /// were where there is nothing to say).
    pub fn with_items<T: Serialize>(self, key: &str, items: &[T]) -> Self {
        if items.is_empty() {
            self
        } else {
            self.with(key, items)
        }
    }
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }
    /// Say why this finding matters, in place of the explain page's paragraph.
    pub fn with_why(mut self, why: &'static str) -> Self {
        self.why = Some(why);
        self
    }
}

/// Judging stops early with an outcome (`unknown`, `skip`) when a fact is missing.
pub type Judged = Result<Outcome, Outcome>;

/// One read-only AWS call the doctor makes, hence one fact group the checks
/// read. Serialized as its IAM action (`ec2:DescribeVpcs`), the name timings
/// and errors carry in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    Identity,
    Service,
    Zones,
    Instance,
    Vpc,
    VpcAttributes,
    DhcpOptions,
    HostedZones,
    /// The VPCs a covering hosted zone is associated with.
    HostedZoneVpcs,
    /// The records of a covering hosted zone that answer the host.
    HostedZoneRecords,
    Endpoints,
    Subnets,
    NetworkInterfaces,
    SecurityGroups,
    PrefixLists,
    NetworkAcls,
    ResolverRuleAssociations,
    ResolverRules,
}

impl Need {
    /// Every need, in declaration order.
    pub const ALL: &'static [Need] = &[
        Need::Identity,
        Need::Service,
        Need::Zones,
        Need::Instance,
        Need::Vpc,
        Need::VpcAttributes,
        Need::DhcpOptions,
        Need::HostedZones,
        Need::HostedZoneVpcs,
        Need::HostedZoneRecords,
        Need::Endpoints,
        Need::Subnets,
        Need::NetworkInterfaces,
        Need::SecurityGroups,
        Need::PrefixLists,
        Need::NetworkAcls,
        Need::ResolverRuleAssociations,
        Need::ResolverRules,
    ];

    /// The call's name: the read-only IAM action that allows it.
    pub fn action(self) -> &'static str {
        match self {
            Need::Identity => "sts:GetCallerIdentity",
            Need::Service => "ec2:DescribeVpcEndpointServices",
            Need::Zones => "ec2:DescribeAvailabilityZones",
            Need::Instance => "ec2:DescribeInstances",
            Need::Vpc => "ec2:DescribeVpcs",
            Need::VpcAttributes => "ec2:DescribeVpcAttribute",
            Need::DhcpOptions => "ec2:DescribeDhcpOptions",
            Need::HostedZones => "route53:ListHostedZonesByVPC",
            Need::HostedZoneVpcs => "route53:GetHostedZone",
            Need::HostedZoneRecords => "route53:ListResourceRecordSets",
            Need::Endpoints => "ec2:DescribeVpcEndpoints",
            Need::Subnets => "ec2:DescribeSubnets",
            Need::NetworkInterfaces => "ec2:DescribeNetworkInterfaces",
            Need::SecurityGroups => "ec2:DescribeSecurityGroups",
            Need::PrefixLists => "ec2:GetManagedPrefixListEntries",
            Need::NetworkAcls => "ec2:DescribeNetworkAcls",
            Need::ResolverRuleAssociations => "route53resolver:ListResolverRuleAssociations",
            Need::ResolverRules => "route53resolver:GetResolverRule",
        }
    }

    /// The calls whose answer this call takes its input from: the
    /// endpoints' interface IDs come from the endpoint listing, the prefix
    /// list IDs from the security groups' rules, the DHCP option set's ID
    /// from the VPC, the Resolver rules' IDs from their associations. Gathering a need gathers these first.
    pub fn requires(self) -> &'static [Need] {
        match self {
            Need::NetworkInterfaces => &[Need::Endpoints],
            Need::PrefixLists => &[Need::SecurityGroups],
            Need::DhcpOptions => &[Need::Vpc],
            Need::HostedZoneVpcs | Need::HostedZoneRecords => &[Need::HostedZones],
            Need::ResolverRules => &[Need::ResolverRuleAssociations],
            _ => &[],
        }
    }

    /// Is the call about the region as a whole (the caller, the service,
    /// the zones), asked without knowing the VPC or the client?
    pub fn is_regional(self) -> bool {
        matches!(self, Need::Identity | Need::Service | Need::Zones)
    }

    /// The need whose call is `action` (as a report names it).
    pub fn from_action(action: &str) -> Option<Need> {
        Need::ALL.iter().copied().find(|n| n.action() == action)
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action())
    }
}

impl Serialize for Need {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.action())
    }
}

impl<'de> Deserialize<'de> for Need {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let action = String::deserialize(d)?;
        Need::from_action(&action).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown AWS call {action}: expected an IAM action such as ec2:DescribeVpcs"
            ))
        })
    }
}

/// One entry of the catalog.
pub struct Check {
    /// Permanent: support tickets cite it. Never renumber or reuse.
    pub id: &'static str,
    pub slug: &'static str,
    pub title: &'static str,
    pub needs: &'static [Need],
    /// The prose of the `tidbpe explain` page (the calls are generated from
    /// `needs`, see [`Check::explain_page`]).
    pub explain: &'static str,
    /// `None`: not implemented yet (reported as `skip`, never `pass`).
    pub judge: Option<fn(&Facts) -> Judged>,
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
            .filter_map(|n| facts.timings_ms.get(n))
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
            why: outcome.why.map(str::to_string),
            duration_ms,
        }
    }

    /// The whole `tidbpe explain` page: the prose, then the AWS calls the
    /// check needs, generated from `needs` so the two cannot disagree.
    pub fn explain_page(&self) -> String {
        let calls: Vec<String> = self
            .needs
            .iter()
            .map(|n| format!("`{}`", n.action()))
            .collect();
        let calls = if calls.is_empty() {
            "None.".to_string()
        } else {
            format!("{}.", calls.join(", "))
        };
        format!("{}\n\n**AWS calls.** {calls}\n", self.explain.trim_end())
    }
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
    /// Why this finding matters, when it is not what the explain page's
    /// "Why it matters" paragraph says (a check's warning about something else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Time spent gathering the facts this check reads (the slowest call).
    #[serde(default)]
    pub duration_ms: u64,
}

/// The prose of `checks/explain/<ID>.md`.
macro_rules! explain {
    ($id:literal) => {
        include_str!(concat!("../explain/", $id, ".md"))
    };
}
pub(crate) use explain;

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL` lists every variant once: a new variant missing from it would
    /// be neither gathered nor in the policy.
    #[test]
    fn all_lists_every_need_once() {
        let ordinal = |n: Need| match n {
            Need::Identity => 0,
            Need::Service => 1,
            Need::Zones => 2,
            Need::Instance => 3,
            Need::Vpc => 4,
            Need::VpcAttributes => 5,
            Need::DhcpOptions => 6,
            Need::HostedZones => 7,
            Need::HostedZoneVpcs => 8,
            Need::HostedZoneRecords => 9,
            Need::Endpoints => 10,
            Need::Subnets => 11,
            Need::NetworkInterfaces => 12,
            Need::SecurityGroups => 13,
            Need::PrefixLists => 14,
            Need::NetworkAcls => 15,
            Need::ResolverRuleAssociations => 16,
            Need::ResolverRules => 17,
        };
        let ordinals: Vec<usize> = Need::ALL.iter().map(|n| ordinal(*n)).collect();
        assert_eq!(ordinals, (0..=17).collect::<Vec<_>>());
    }

    /// Throttling and AWS's own failures say "run again", not "correct the
    /// ID"; an empty 5xx shows its status.
    #[test]
    fn throttled_and_failing_calls_advise_running_again() {
        let mut throttled = FactError::of_call(
            Need::Endpoints,
            FactErrorKind::Throttled,
            "Request limit exceeded.",
        );
        throttled.code = Some("RequestLimitExceeded".into());
        let o = Outcome::unknown(&throttled);
        assert_eq!(
            o.summary,
            "could not check: AWS throttled ec2:DescribeVpcEndpoints (RequestLimitExceeded)"
        );
        let fix = o.fix.unwrap();
        assert!(fix.text.contains("run the doctor again"), "{}", fix.text);
        assert!(!fix.text.contains("correct"), "{}", fix.text);
        let failing = FactError::of_call(Need::Vpc, FactErrorKind::ServerError, "HTTP 500");
        let o = Outcome::unknown(&failing);
        assert_eq!(
            o.summary,
            "could not check: ec2:DescribeVpcs failed on AWS's side (HTTP 500)"
        );
        assert_eq!(o.fix.unwrap().text, fix.text);
    }

    #[test]
    fn a_need_round_trips_as_its_action() {
        for &need in Need::ALL {
            let text = serde_json::to_string(&need).unwrap();
            assert_eq!(text, format!("\"{}\"", need.action()));
            assert_eq!(serde_json::from_str::<Need>(&text).unwrap(), need);
            let verb = need.action().split(':').nth(1).unwrap_or_default();
            assert!(
                ["Describe", "Get", "List"]
                    .iter()
                    .any(|p| verb.starts_with(p)),
                "{need} is not read-only"
            );
        }
        assert!(serde_json::from_str::<Need>("\"ec2:DeleteVpc\"").is_err());
    }
}
