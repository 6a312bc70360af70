//! The DNS probes: DNS001 dns-resolves, DNS002 dns-private-answer. Not
//! implemented yet (reported as `skip`); the probes land here. DNS004
//! resolver-rules (its own section at the end) judges the Route 53 Resolver
//! rules associated with the VPC.

use crate::check::{explain, Check, Fix, Judged, Need, Outcome};
use crate::commands::{disassociate_resolver_rule, enable_private_dns};
use crate::facts::{Facts, ResolverRule};
use crate::read::{
    covers, dns_name, fact, host, main_endpoint, private_dns_domain, vpc_id, NO_VPC,
};

pub(crate) const DNS_RESOLVES: Check = Check {
    id: "DNS001",
    slug: "dns-resolves",
    title: "The host resolves from this machine",
    needs: &[],
    explain: explain!("DNS001"),
    judge: None,
};

pub(crate) const DNS_PRIVATE_ANSWER: Check = Check {
    id: "DNS002",
    slug: "dns-private-answer",
    title: "The host resolves to the endpoint's private IPs",
    needs: &[Need::NetworkInterfaces],
    explain: explain!("DNS002"),
    judge: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::healthy;

    #[test]
    fn dns001_is_not_implemented_yet_so_it_skips() {
        assert!(DNS_RESOLVES.judge.is_none());
        assert_eq!(DNS_RESOLVES.run(&healthy()).status, Status::Skip);
    }

    #[test]
    fn dns002_is_not_implemented_yet_so_it_skips() {
        assert!(DNS_PRIVATE_ANSWER.judge.is_none());
        assert_eq!(DNS_PRIVATE_ANSWER.run(&healthy()).status, Status::Skip);
    }
}

// ------------------------------------------------------------------ DNS004
// Route 53 Resolver rules associated with the VPC. Resolver answers a name
// from the rule or zone with the most specific domain; a rule wins over a
// zone of the same name. With private DNS on, the endpoint's private DNS
// name is such a zone (AWS-managed): a forwarding rule for it, or for a name
// under it, takes the host elsewhere; a rule for a parent matters only when
// private DNS is off.

pub(crate) const RESOLVER_RULES: Check = Check {
    id: "DNS004",
    slug: "resolver-rules",
    title: "No Resolver rule forwards the host elsewhere",
    // Endpoints and hosted zones decide only a parent rule's case; the
    // service names the private DNS name (else the host is used).
    needs: &[
        Need::ResolverRuleAssociations,
        Need::ResolverRules,
        Need::Endpoints,
        Need::HostedZones,
        Need::Service,
    ],
    explain: explain!("DNS004"),
    judge: Some(resolver_rules),
};

/// Rule types that send a query to servers outside the VPC resolver.
fn forwards(rule: &ResolverRule) -> bool {
    ["FORWARD", "DELEGATE"]
        .iter()
        .any(|t| rule.rule_type.eq_ignore_ascii_case(t))
}

/// Is the rule's association in effect? A failed one is not; one that a
/// Route 53 Profile overrides is not either.
fn in_effect(rule: &ResolverRule) -> bool {
    !rule
        .association_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("FAILED") || s.eq_ignore_ascii_case("OVERRIDDEN"))
}

/// How specific a domain is: its number of labels (the root has none).
fn depth(domain: &str) -> usize {
    let d = dns_name(domain);
    let d = d.trim_start_matches("*.");
    if d.is_empty() {
        0
    } else {
        d.split('.').count()
    }
}

/// "rslvr-rr-1 (FORWARD tidbcloud.com → 10.9.0.2:53, 10.9.0.3:53)".
fn describe(rule: &ResolverRule) -> String {
    let domain = match dns_name(&rule.domain_name) {
        d if d.is_empty() => ".".to_string(),
        d => d,
    };
    let targets: Vec<String> = rule.target_ips.iter().map(|t| t.to_string()).collect();
    let to = if targets.is_empty() {
        rule.resolver_endpoint_id
            .as_deref()
            .map(|e| format!(" via {e}"))
            .unwrap_or_default()
    } else {
        format!(" → {}", targets.join(", "))
    };
    format!("{} ({} {domain}{to})", rule.rule_id, rule.rule_type)
}

fn resolver_rules(facts: &Facts) -> Judged {
    let vpc = vpc_id(facts)?;
    let rules = fact(
        &facts.resolver_rules,
        "the Resolver rules were not looked up (a report of an older tidbpe?)",
    )?;
    // No rule in effect: nothing can take the host away, whatever it is.
    if !rules.iter().any(in_effect) {
        return Ok(Outcome::pass(match rules.len() {
            0 => format!("no Resolver rule is associated with {vpc}"),
            n => format!("none of the {n} Resolver rule(s) associated with {vpc} is in effect"),
        })
        .with("rules_associated", rules.len()));
    }
    let host = host(facts)?;
    let covering: Vec<&ResolverRule> = rules
        .iter()
        .filter(|r| in_effect(r) && covers(&r.domain_name, &host))
        .collect();
    let evidence = |o: Outcome| {
        o.with("host", &host)
            .with("rules_associated", rules.len())
            .with(
                "rules_covering_host",
                covering.iter().map(|r| describe(r)).collect::<Vec<_>>(),
            )
    };
    // The most specific rule is the one Resolver uses.
    let Some(rule) = covering
        .iter()
        .copied()
        .max_by_key(|r| depth(&r.domain_name))
    else {
        return Ok(evidence(Outcome::pass(format!(
            "none of the {} Resolver rule(s) associated with {vpc} covers {host}",
            rules.len()
        ))));
    };
    if !forwards(rule) {
        return Ok(evidence(Outcome::pass(format!(
            "the most specific Resolver rule for {host} is {}: the VPC resolver answers it",
            describe(rule)
        ))));
    }
    let private = private_dns_domain(facts, &host);
    if depth(&rule.domain_name) >= depth(&private) {
        return Ok(evidence(Outcome::fail(format!(
            "Resolver rule {} takes {host} away from the endpoint's private DNS ({private}): a rule as specific as the name wins",
            describe(rule)
        )))
        .with_fix(Fix {
            text: format!(
                "Disassociate the rule from {vpc} (or delete it), so the VPC resolver answers {host} with the endpoint's private addresses; or make its target servers answer {host} with those addresses. Other VPCs associated with the rule keep it."
            ),
            commands: vec![disassociate_resolver_rule(facts, &rule.rule_id, vpc)],
        }));
    }
    // A rule for a parent (tidbcloud.com, `.`): the endpoint's private DNS
    // name is more specific, so it matters only with private DNS off.
    // Whether private DNS is on decides: a failed endpoint listing is unknown.
    fact(&facts.endpoints, NO_VPC)?;
    let endpoint = main_endpoint(facts).ok();
    let private_dns_on = endpoint.is_none_or(|e| e.private_dns_enabled);
    if private_dns_on {
        let when = if endpoint.is_some() {
            "answers it"
        } else {
            "will answer it once the endpoint exists with private DNS on"
        };
        return Ok(evidence(Outcome::pass(format!(
            "Resolver rule {} covers {host}, but the endpoint's private DNS name {private} is more specific and {when}",
            describe(rule)
        ))));
    }
    let endpoint_id = endpoint
        .map(|e| e.endpoint_id.as_str())
        .unwrap_or("the endpoint");
    let zones = fact(&facts.hosted_zones, NO_VPC)?;
    let zone = zones
        .iter()
        .filter(|z| covers(&z.name, &host))
        .max_by_key(|z| depth(&z.name))
        .filter(|z| depth(&z.name) > depth(&rule.domain_name));
    if let Some(zone) = zone {
        return Ok(evidence(Outcome::pass(format!(
            "private DNS is off on {endpoint_id}; private zone {} ({}) is more specific than rule {} and answers {host} (see VPC004)",
            dns_name(&zone.name),
            zone.id,
            rule.rule_id
        ))));
    }
    Ok(evidence(Outcome::warn(format!(
        "private DNS is off on {endpoint_id}, so Resolver forwards {host} by rule {}: those servers answer it, not the endpoint",
        describe(rule)
    )))
    .with_fix(Fix {
        text: format!(
            "Enable private DNS on {endpoint_id} (EP003): its name {private} is more specific than the rule and wins. Or make the rule's target servers answer {host} with the endpoint's private addresses."
        ),
        commands: endpoint
            .map(|e| vec![enable_private_dns(facts, &e.endpoint_id)])
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
pub(crate) mod dns004_tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::{assert_fail_cases, denied, endpoint_mut, healthy, FailCase, HOST};

    fn rule(id: &str, kind: &str, domain: &str) -> ResolverRule {
        ResolverRule {
            rule_id: id.into(),
            domain_name: domain.into(),
            rule_type: kind.into(),
            name: None,
            target_ips: if kind == "FORWARD" {
                vec!["10.9.0.2:53".parse().unwrap()]
            } else {
                vec![]
            },
            resolver_endpoint_id: Some("rslvr-out-00000001".into()),
            owner_id: None,
            association_id: Some(format!("rslvr-rrassoc-{id}")),
            association_status: Some("COMPLETE".into()),
        }
    }

    fn with_rules(rules: Vec<ResolverRule>) -> Facts {
        let mut f = healthy();
        f.resolver_rules = Some(Ok(rules));
        f
    }

    /// Changes to the healthy world that make DNS004 fail.
    pub(crate) const FAIL_CASES: &[FailCase] = &[
        FailCase {
            id: "DNS004",
            name: "a FORWARD rule for the host",
            expect: Status::Fail,
            mutate: |f| {
                f.resolver_rules =
                    Some(Ok(vec![rule("rslvr-rr-1", "FORWARD", &format!("{HOST}."))]))
            },
        },
        FailCase {
            id: "DNS004",
            name: "a FORWARD rule for the private DNS name (host given in capitals)",
            expect: Status::Fail,
            mutate: |f| {
                f.inputs.host = Some(HOST.to_uppercase());
                f.resolver_rules = Some(Ok(vec![rule("rslvr-rr-1", "FORWARD", HOST)]));
            },
        },
    ];

    #[test]
    fn dns004_fail_cases_fail() {
        assert_fail_cases(FAIL_CASES);
    }

    #[test]
    fn dns004_a_rule_for_the_host_fails_naming_rule_and_targets() {
        let f = with_rules(vec![rule("rslvr-rr-1", "FORWARD", &format!("{HOST}."))]);
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Fail);
        assert!(
            finding.summary.contains("rslvr-rr-1"),
            "{}",
            finding.summary
        );
        assert!(
            finding.summary.contains("10.9.0.2:53"),
            "{}",
            finding.summary
        );
        let fix = finding.fix.unwrap();
        assert_eq!(
            fix.commands,
            ["aws route53resolver disassociate-resolver-rule --resolver-rule-id rslvr-rr-1 --vpc-id vpc-0a1b2c3d --region us-east-1"]
        );
    }

    #[test]
    fn dns004_a_parent_rule_matters_only_with_private_dns_off() {
        for parent in ["tidbcloud.com.", ".", "aws.tidbcloud.com"] {
            let mut f = with_rules(vec![rule("rslvr-rr-2", "FORWARD", parent)]);
            let on = RESOLVER_RULES.run(&f);
            assert_eq!(on.status, Status::Pass, "{parent}: {}", on.summary);
            assert!(on.summary.contains("more specific"), "{}", on.summary);
            endpoint_mut(&mut f).private_dns_enabled = false;
            let off = RESOLVER_RULES.run(&f);
            assert_eq!(off.status, Status::Warn, "{parent}: {}", off.summary);
            assert!(off.summary.contains("10.9.0.2:53"), "{}", off.summary);
            assert!(off.fix.unwrap().commands[0].contains("--private-dns-enabled"));
            // A private zone more specific than the rule answers instead.
            f.hosted_zones = Some(Ok(vec![crate::facts::HostedZone {
                id: "/hostedzone/Z1".into(),
                name: format!("{HOST}."),
                owning_service: None,
            }]));
            let zone = RESOLVER_RULES.run(&f);
            assert_eq!(zone.status, Status::Pass, "{}", zone.summary);
            assert!(zone.summary.contains("VPC004"), "{}", zone.summary);
            f.hosted_zones = Some(Err(denied(Need::HostedZones)));
            assert_eq!(RESOLVER_RULES.run(&f).status, Status::Unknown);
        }
    }

    #[test]
    fn dns004_the_most_specific_rule_wins() {
        // A SYSTEM rule for the host under a FORWARD rule for a parent: the
        // VPC resolver answers, even with private DNS off.
        let mut f = with_rules(vec![
            rule("rslvr-rr-3", "FORWARD", "."),
            rule("rslvr-rr-4", "SYSTEM", HOST),
        ]);
        endpoint_mut(&mut f).private_dns_enabled = false;
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(finding.summary.contains("rslvr-rr-4"));
        // A rule for another name, a failed association: not in effect.
        let mut other = rule("rslvr-rr-5", "FORWARD", "example.internal");
        let mut failed = rule("rslvr-rr-6", "FORWARD", HOST);
        failed.association_status = Some("FAILED".into());
        other.association_status = None;
        let f = with_rules(vec![other, failed]);
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        assert!(
            finding.summary.contains("none of the 2"),
            "{}",
            finding.summary
        );
    }

    #[test]
    fn dns004_without_rules_the_host_does_not_matter() {
        let mut f = healthy();
        f.inputs.host = None;
        f.service = Some(Err(denied(Need::Service)));
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Pass, "{}", finding.summary);
        f.resolver_rules = Some(Ok(vec![rule("rslvr-rr-1", "FORWARD", ".")]));
        let finding = RESOLVER_RULES.run(&f);
        assert_eq!(finding.status, Status::Unknown, "{}", finding.summary);
        assert!(finding.summary.contains("ec2:DescribeVpcEndpointServices"));
    }

    #[test]
    fn dns004_unknown_when_a_call_failed_and_skip_without_a_vpc() {
        for need in [Need::ResolverRuleAssociations, Need::ResolverRules] {
            let mut f = healthy();
            f.resolver_rules = Some(Err(denied(need)));
            let finding = RESOLVER_RULES.run(&f);
            assert_eq!(finding.status, Status::Unknown);
            assert!(
                finding.summary.contains(need.action()),
                "{}",
                finding.summary
            );
        }
        let mut f = healthy();
        f.vpc_choice = None;
        assert_eq!(RESOLVER_RULES.run(&f).status, Status::Skip);
        let mut f = healthy();
        f.resolver_rules = None;
        assert_eq!(RESOLVER_RULES.run(&f).status, Status::Skip);
    }
}
